//! `weft pack MODULE --signatures FILE`: appends a `weft_tasks` custom
//! section holding FILE's signature records to a core module, for
//! toolchains that cannot emit custom sections (Go), then loads the result
//! as a worker would and lists its tasks, so that a record without its
//! export (or an export without its record) is an error here, not on the
//! cluster.

use crate::Failure;
use crate::limits::LimitArgs;
use crate::local_run;
use anyhow::Context;
use std::path::{Path, PathBuf};
use weft_runtime::module::SIGNATURE_SECTION;

/// The first eight bytes of a core module: the magic and version 1.
const CORE_MODULE_HEADER: &[u8] = b"\0asm\x01\0\0\0";

/// Packs `module` with the records of `signatures` into `output` (default:
/// `module`, in place).
pub(crate) fn pack(
    module: &Path,
    signatures: &Path,
    output: Option<&PathBuf>,
    limits: &LimitArgs,
) -> Result<(), Failure> {
    let mut bytes = std::fs::read(module)
        .with_context(|| format!("cannot read {}", module.display()))
        .map_err(Failure::usage)?;
    if !bytes.starts_with(CORE_MODULE_HEADER) {
        return Err(Failure::usage(anyhow::anyhow!(
            "{} is not a core WebAssembly module (components carry their signatures in their type)",
            module.display()
        )));
    }
    let records = std::fs::read(signatures)
        .with_context(|| format!("cannot read {}", signatures.display()))
        .map_err(Failure::usage)?;
    weft_schema::signature::parse_section(&records)
        .with_context(|| format!("{} holds no valid signature records", signatures.display()))
        .map_err(Failure::usage)?;
    append_custom_section(&mut bytes, SIGNATURE_SECTION, &records);
    let output = output.map_or(module, PathBuf::as_path);
    std::fs::write(output, &bytes)
        .with_context(|| format!("cannot write {}", output.display()))
        .map_err(Failure::task)?;
    local_run::tasks(output, limits)
}

/// Appends custom section `name` with `payload`: id 0, the LEB128 size,
/// then the name (LEB128 length and bytes) and the payload.
fn append_custom_section(module: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut body = Vec::with_capacity(name.len() + payload.len() + 5);
    leb128(&mut body, name.len() as u64);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    module.push(0);
    leb128(module, body.len() as u64);
    module.extend_from_slice(&body);
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_spells_sizes_as_the_format_does() {
        let spell = |value| {
            let mut out = Vec::new();
            leb128(&mut out, value);
            out
        };
        assert_eq!(spell(0), [0]);
        assert_eq!(spell(127), [0x7f]);
        assert_eq!(spell(128), [0x80, 0x01]);
        assert_eq!(spell(624_485), [0xe5, 0x8e, 0x26]);
    }
}
