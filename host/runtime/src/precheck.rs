//! The pass over a module's bytes that runs before anything is compiled.
//! One walk with wasmparser reads every section and every instruction,
//! refuses a module over a structural limit ([`CompileLimits`], the pool's
//! one memory and one table) with [`LoadError::OverLimit`], and collects the
//! [`ModuleFacts`] that the ABI check (`abi.rs`) needs, so a module that
//! would be refused anyway is refused in milliseconds, before Cranelift
//! spends seconds or gigabytes on it.
//!
//! The pass does not validate: wasmtime's validator still runs at compile
//! time. Whatever it cannot parse is refused as [`LoadError::Invalid`].

use crate::config::{CompileLimits, RuntimeConfig};
use crate::error::{LoadError, ModuleLimit};
use crate::module::{ModuleHash, SIGNATURE_SECTION};
use wasmtime::wasmparser::{
    CompositeInnerType, Encoding, ExternalKind, FunctionBody, MemoryType, Operator, Parser,
    Payload, TableType, TypeRef, ValType,
};

/// A function type, as the ABI check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FuncSig {
    pub(crate) params: Vec<ValType>,
    pub(crate) results: Vec<ValType>,
}

/// What the pass learned about a module that is within the limits.
#[derive(Debug, Default)]
pub(crate) struct ModuleFacts {
    /// Types by index; `None` for a type that is not a function type.
    pub(crate) types: Vec<Option<FuncSig>>,
    /// Imports in order: module, name and what is imported.
    pub(crate) imports: Vec<(String, String, TypeRef)>,
    /// The type index of every function, imported ones first.
    pub(crate) functions: Vec<u32>,
    /// Every memory, imported ones first.
    pub(crate) memories: Vec<MemoryType>,
    /// Exports: name, kind, index.
    pub(crate) exports: Vec<(String, ExternalKind, u32)>,
    /// The concatenated `weft_tasks` sections.
    pub(crate) section: Vec<u8>,
    /// Bytes of data segments: the most the memory image can hold.
    pub(crate) data_bytes: u64,
}

impl ModuleFacts {
    /// The type of function `index`, if it is a function type.
    pub(crate) fn function_type(&self, index: u32) -> Option<&FuncSig> {
        let ty = *self.functions.get(index as usize)?;
        self.types.get(ty as usize)?.as_ref()
    }
}

/// Walks `bytes`, enforcing `config`'s structural limits.
pub(crate) fn precheck(
    hash: ModuleHash,
    bytes: &[u8],
    config: &RuntimeConfig,
) -> Result<ModuleFacts, LoadError> {
    let limits = &config.compile;
    let invalid = |reason: String| LoadError::Invalid {
        module: hash,
        reason,
    };
    let over = |limit: ModuleLimit, found: u64, allowed: u64, function: Option<u32>| {
        LoadError::OverLimit {
            module: hash,
            limit,
            found,
            allowed,
            function,
        }
    };
    let mut facts = ModuleFacts::default();
    let mut tables: Vec<TableType> = Vec::new();
    let mut imported_functions = 0u32;
    let mut next_body = 0u32;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| invalid(e.to_string()))?;
        match payload {
            Payload::Version { encoding, .. } if encoding != Encoding::Module => {
                return Err(invalid(
                    "this is a WebAssembly component; Weft runs core modules".into(),
                ));
            }
            Payload::TypeSection(reader) => {
                for group in reader {
                    let group = group.map_err(|e| invalid(e.to_string()))?;
                    for sub in group.into_types() {
                        facts.types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(FuncSig {
                                params: f.params().to_vec(),
                                results: f.results().to_vec(),
                            }),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| invalid(e.to_string()))?;
                    match import.ty {
                        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                            facts.functions.push(ty);
                            imported_functions += 1;
                        }
                        TypeRef::Memory(memory) => facts.memories.push(memory),
                        TypeRef::Table(table) => tables.push(table),
                        TypeRef::Global(_) | TypeRef::Tag(_) => {}
                    }
                    facts
                        .imports
                        .push((import.module.into(), import.name.into(), import.ty));
                }
            }
            Payload::FunctionSection(reader) => {
                let defined = reader.count();
                if defined > limits.functions_max {
                    return Err(over(
                        ModuleLimit::Functions,
                        defined.into(),
                        limits.functions_max.into(),
                        None,
                    ));
                }
                for ty in reader {
                    facts
                        .functions
                        .push(ty.map_err(|e| invalid(e.to_string()))?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    tables.push(table.map_err(|e| invalid(e.to_string()))?.ty);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    facts
                        .memories
                        .push(memory.map_err(|e| invalid(e.to_string()))?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| invalid(e.to_string()))?;
                    facts
                        .exports
                        .push((export.name.into(), export.kind, export.index));
                }
            }
            Payload::CodeSectionStart { size, .. } if u64::from(size) > limits.code_bytes_max => {
                return Err(over(
                    ModuleLimit::CodeBytes,
                    size.into(),
                    limits.code_bytes_max,
                    None,
                ));
            }
            Payload::CodeSectionEntry(body) => {
                let index = imported_functions + next_body;
                next_body += 1;
                check_body(&body, limits).map_err(|error| match error {
                    BodyError::Over(limit, found, allowed) => {
                        over(limit, found, allowed, Some(index))
                    }
                    BodyError::Malformed(reason) => invalid(reason),
                })?;
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(|e| invalid(e.to_string()))?;
                    facts.data_bytes += data.data.len() as u64;
                }
            }
            Payload::CustomSection(reader) if reader.name() == SIGNATURE_SECTION => {
                let limit = weft_schema::signature::SECTION_BYTES_MAX;
                if facts.section.len() + reader.data().len() > limit {
                    return Err(LoadError::TaskMismatch {
                        module: hash,
                        problem: format!("the weft_tasks sections exceed {limit} bytes"),
                    });
                }
                facts.section.extend_from_slice(reader.data());
            }
            _ => {}
        }
    }
    check_pool_limits(&facts.memories, &tables, config)
        .map_err(|(limit, found, allowed)| over(limit, found, allowed, None))?;
    Ok(facts)
}

/// The pooling allocator's limits: one memory and one table, each no larger
/// at the start than a task may ever have.
fn check_pool_limits(
    memories: &[MemoryType],
    tables: &[TableType],
    config: &RuntimeConfig,
) -> Result<(), (ModuleLimit, u64, u64)> {
    if memories.len() > 1 {
        return Err((ModuleLimit::Memories, memories.len() as u64, 1));
    }
    if tables.len() > 1 {
        return Err((ModuleLimit::Tables, tables.len() as u64, 1));
    }
    for memory in memories {
        let page = 1u64 << memory.page_size_log2.unwrap_or(16);
        let initial = memory.initial.saturating_mul(page);
        if initial > config.memory_bytes_ceiling {
            return Err((
                ModuleLimit::InitialMemory,
                initial,
                config.memory_bytes_ceiling,
            ));
        }
    }
    for table in tables {
        if table.initial > config.table_elements_max as u64 {
            return Err((
                ModuleLimit::InitialTable,
                table.initial,
                config.table_elements_max as u64,
            ));
        }
    }
    Ok(())
}

enum BodyError {
    Over(ModuleLimit, u64, u64),
    Malformed(String),
}

/// One function body against the per-function limits: its size, its locals,
/// its nesting depth and its `br_table` targets, read without validating.
fn check_body(body: &FunctionBody<'_>, limits: &CompileLimits) -> Result<(), BodyError> {
    let malformed =
        |e: wasmtime::wasmparser::BinaryReaderError| BodyError::Malformed(e.to_string());
    let size = body.range().len() as u64;
    if size > u64::from(limits.function_bytes_max) {
        return Err(BodyError::Over(
            ModuleLimit::FunctionBytes,
            size,
            limits.function_bytes_max.into(),
        ));
    }
    let mut locals = 0u64;
    for group in body.get_locals_reader().map_err(malformed)? {
        let (count, _) = group.map_err(malformed)?;
        locals += u64::from(count);
        if locals > u64::from(limits.locals_max) {
            return Err(BodyError::Over(
                ModuleLimit::Locals,
                locals,
                limits.locals_max.into(),
            ));
        }
    }
    let mut depth = 0u64;
    let mut targets = 0u64;
    let mut operators = body.get_operators_reader().map_err(malformed)?;
    while !operators.eof() {
        match operators.read().map_err(malformed)? {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => {
                depth += 1;
                if depth > u64::from(limits.nesting_max) {
                    return Err(BodyError::Over(
                        ModuleLimit::Nesting,
                        depth,
                        limits.nesting_max.into(),
                    ));
                }
            }
            Operator::End => depth = depth.saturating_sub(1),
            Operator::BrTable { targets: table } => {
                targets += u64::from(table.len()) + 1;
                if targets > u64::from(limits.br_table_targets_max) {
                    return Err(BodyError::Over(
                        ModuleLimit::BrTableTargets,
                        targets,
                        limits.br_table_targets_max.into(),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
