//! Fuzz target: signature records, the `weft_tasks` custom section of an
//! uploaded module (`weft_schema::signature::parse_section`,
//! `schema/src/signature/parse.rs`), and the walk that finds those
//! sections in a module's bytes without a wasm runtime
//! (`module_signatures`, `schema/src/signature/module.rs`, used by the
//! client).
//!
//! Input: the section's content. It is also read as a whole module, and as
//! the sections of a module (after the 8-byte wasm header).
//!
//! Checked: no panic; the signatures parsed never exceed the documented
//! limits; each one's canonical record (`to_record`) parses back to it,
//! alone and all records together; the display forms
//! (`Display`, `Type::definition`, `named_types`) do not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_schema::parse_section;
use weft_schema::signature::{NAME_BYTES_MAX, TASKS_MAX, TaskSignature, module_signatures};

/// The first eight bytes of every core module.
const WASM_HEADER: &[u8; 8] = b"\0asm\x01\0\0\0";

fn check_signatures(signatures: &[TaskSignature]) {
    assert!(signatures.len() <= TASKS_MAX);
    let mut records = String::new();
    for signature in signatures {
        assert!(signature.name.len() <= NAME_BYTES_MAX);
        let record = signature.to_record();
        match parse_section(record.as_bytes()) {
            Ok(parsed) => assert!(
                parsed.len() == 1 && parsed[0] == *signature,
                "the record {record:?} parses as another signature"
            ),
            Err(error) => panic!("the record {record:?} does not parse: {error}"),
        }
        records.push_str(&record);
        let _ = signature.to_string();
        for param in &signature.params {
            let _ = param.ty.to_string();
        }
        for named in signature.named_types() {
            assert!(
                named.definition().is_some(),
                "a named type without a definition"
            );
        }
    }
    match parse_section(records.as_bytes()) {
        Ok(parsed) => assert!(
            parsed == signatures,
            "the records parse as other signatures"
        ),
        Err(error) => panic!("the records {records:?} do not parse: {error}"),
    }
}

fuzz_target!(|data: &[u8]| {
    match parse_section(data) {
        Ok(signatures) => check_signatures(&signatures),
        Err(error) => {
            let _ = error.to_string();
            let _ = error.location();
        }
    }
    let mut module = WASM_HEADER.to_vec();
    module.extend_from_slice(data);
    for bytes in [data, &module[..]] {
        match module_signatures(bytes) {
            Ok(signatures) => check_signatures(&signatures),
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
});
