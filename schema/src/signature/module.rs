//! Reading the signatures straight out of a module's bytes: a minimal walk
//! over the WebAssembly binary's sections that collects the `weft_tasks`
//! custom sections, for tools that have the module but no wasm runtime (the
//! client). It checks only the section framing, not the module. A
//! component's signatures come from its type instead (`component.rs`).

use super::{SECTION_BYTES_MAX, TaskSignature, parse_section};

/// Why a module's signatures could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleSignaturesError {
    /// The bytes do not start like a WebAssembly module.
    #[error("not a WebAssembly module (it does not start with \\0asm version 1)")]
    NotAModule,
    /// A section runs past the end, or a length is malformed.
    #[error("malformed WebAssembly section at byte {offset}")]
    Malformed {
        /// Where.
        offset: usize,
    },
    /// The recorded signatures are malformed.
    #[error(transparent)]
    Signatures(#[from] super::SignatureError),
    /// A component whose tasks could not be read from its type.
    #[error(transparent)]
    Component(#[from] super::component::ComponentSignaturesError),
}

/// The task signatures recorded in a module's `weft_tasks` sections.
/// For a component, the signatures its type gives
/// ([`component_signatures`](super::component::component_signatures)).
pub fn module_signatures(module: &[u8]) -> Result<Vec<TaskSignature>, ModuleSignaturesError> {
    if wasmparser::Parser::is_component(module) {
        return Ok(super::component::component_signatures(module)?);
    }
    let Some(mut rest) = module.strip_prefix(b"\0asm\x01\0\0\0") else {
        return Err(ModuleSignaturesError::NotAModule);
    };
    let mut section = Vec::new();
    while !rest.is_empty() {
        let offset = module.len() - rest.len();
        let malformed = ModuleSignaturesError::Malformed { offset };
        let id = rest[0];
        rest = &rest[1..];
        let size = read_leb_u32(&mut rest).ok_or(malformed.clone())? as usize;
        if size > rest.len() {
            return Err(malformed);
        }
        let (body, after) = rest.split_at(size);
        rest = after;
        if id != 0 {
            continue;
        }
        let mut body = body;
        let name_len = read_leb_u32(&mut body).ok_or(malformed.clone())? as usize;
        if name_len > body.len() {
            return Err(malformed);
        }
        if &body[..name_len] == b"weft_tasks" {
            let data = &body[name_len..];
            if section.len() + data.len() > SECTION_BYTES_MAX {
                return Err(super::SignatureError::SectionTooLarge {
                    len: section.len() + data.len(),
                    max: SECTION_BYTES_MAX,
                }
                .into());
            }
            section.extend_from_slice(data);
        }
    }
    Ok(parse_section(&section)?)
}

/// An unsigned LEB128 of at most 5 bytes.
fn read_leb_u32(bytes: &mut &[u8]) -> Option<u32> {
    let mut value: u64 = 0;
    for i in 0..5 {
        let byte = *bytes.get(i)?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return u32::try_from(value).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(name: &str, data: &[u8]) -> Vec<u8> {
        let mut body = vec![name.len() as u8];
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(data);
        let mut section = vec![0u8, body.len() as u8];
        section.extend(body);
        section
    }

    #[test]
    fn reads_and_concatenates_weft_tasks_sections() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(custom("weft_tasks", b"task a() -> unit;"));
        module.extend(custom("other", b"ignored"));
        module.extend(custom("weft_tasks", b"task b(x: i64) -> i64;"));
        let sigs = module_signatures(&module).unwrap();
        assert_eq!(
            sigs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn refuses_garbage_and_truncation() {
        assert_eq!(
            module_signatures(b"hello"),
            Err(ModuleSignaturesError::NotAModule)
        );
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(custom("weft_tasks", b"task a() -> unit;"));
        module.truncate(module.len() - 3);
        assert!(matches!(
            module_signatures(&module),
            Err(ModuleSignaturesError::Malformed { .. })
        ));
        let mut endless = b"\0asm\x01\0\0\0\0".to_vec();
        endless.extend([0xff; 6]);
        assert!(matches!(
            module_signatures(&endless),
            Err(ModuleSignaturesError::Malformed { .. })
        ));
    }
}
