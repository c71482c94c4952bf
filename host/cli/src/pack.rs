//! `weft pack MODULE --signatures FILE`: appends a `weft_tasks` custom
//! section holding FILE's signature records to a core module, for
//! toolchains that cannot emit custom sections (Go). The result is loaded
//! as a worker would load it before anything is written, so that a record
//! without its export (or an export without its record) is an error here,
//! not on the cluster, and a failed pack leaves the module as it was.

use crate::Failure;
use crate::limits::LimitArgs;
use crate::local_run;
use anyhow::Context;
use std::path::{Path, PathBuf};
use weft_runtime::Runtime;
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
    if has_custom_section(&bytes, SIGNATURE_SECTION) {
        return Err(Failure::usage(anyhow::anyhow!(
            "{} already has a {SIGNATURE_SECTION} section (packed before?): pack the module as the toolchain built it",
            module.display()
        )));
    }
    append_custom_section(&mut bytes, SIGNATURE_SECTION, &records);
    let runtime = Runtime::new(limits.runtime_config()).map_err(Failure::usage)?;
    let loaded = runtime
        .load(&bytes)
        .with_context(|| {
            format!(
                "{} with the records of {} is not a valid task module",
                module.display(),
                signatures.display()
            )
        })
        .map_err(Failure::usage)?;
    let output = output.map_or(module, PathBuf::as_path);
    let partial = output.with_extension("wasm.partial");
    std::fs::write(&partial, &bytes)
        .and_then(|()| std::fs::rename(&partial, output))
        .with_context(|| format!("cannot write {}", output.display()))
        .map_err(Failure::task)?;
    local_run::print_tasks(output, &loaded);
    Ok(())
}

/// Whether the module has a custom section called `name`. The bytes are
/// not trusted: a malformed section table just ends the search (loading
/// the packed module reports it).
fn has_custom_section(module: &[u8], name: &str) -> bool {
    let mut at = CORE_MODULE_HEADER.len();
    while at < module.len() {
        let id = module[at];
        let Some((size, body)) = read_leb128(module, at + 1) else {
            return false;
        };
        let Some(end) = usize::try_from(size).ok().and_then(|s| body.checked_add(s)) else {
            return false;
        };
        if id == 0
            && let Some((len, start)) = read_leb128(module, body)
            && let Some(found) = module.get(start..start.saturating_add(len as usize))
            && found == name.as_bytes()
        {
            return true;
        }
        at = end;
    }
    false
}

/// An unsigned LEB128 number at `at`: its value and where it ends.
fn read_leb128(bytes: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(at)?;
        at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value, at));
        }
    }
    None
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
        for value in [0, 127, 128, 624_485, u64::from(u32::MAX)] {
            let spelled = spell(value);
            assert_eq!(read_leb128(&spelled, 0), Some((value, spelled.len())));
        }
    }

    #[test]
    fn a_packed_module_is_seen_as_packed() {
        let mut module = CORE_MODULE_HEADER.to_vec();
        append_custom_section(&mut module, "other", b"x");
        assert!(!has_custom_section(&module, SIGNATURE_SECTION));
        append_custom_section(&mut module, SIGNATURE_SECTION, b"task x() -> unit;");
        assert!(has_custom_section(&module, SIGNATURE_SECTION));
        module.push(0x80); // a section id with a cut size
        assert!(has_custom_section(&module, SIGNATURE_SECTION));
        assert!(!has_custom_section(&module[..9], SIGNATURE_SECTION));
    }
}
