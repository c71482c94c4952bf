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

use crate::abi::check_import;
use crate::config::{CompileLimits, RuntimeConfig};
use crate::error::{LoadError, ModuleLimit};
use crate::module::{ModuleHash, SIGNATURE_SECTION, TASK_EXPORT_PREFIX};
use wasmtime::wasmparser::{
    CompositeInnerType, Encoding, ExternalKind, FunctionBody, MemoryType, Operator, Parser,
    Payload, TableType, TypeRef, ValType,
};

/// The most value types of a function type kept to describe it; a larger
/// one is kept as its counts only (no ABI type is that large).
const FUNC_SIG_TYPES_KEPT: usize = 16;
/// The most imports a module may have: the ABI has three, which a module may
/// repeat.
pub(crate) const IMPORTS_MAX: u32 = 64;

/// A function type, as the ABI check needs it: its counts, and its value
/// types when there are at most [`FUNC_SIG_TYPES_KEPT`] (else empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FuncSig {
    pub(crate) param_count: usize,
    pub(crate) result_count: usize,
    pub(crate) params: Vec<ValType>,
    pub(crate) results: Vec<ValType>,
}

impl FuncSig {
    fn of(f: &wasmtime::wasmparser::FuncType) -> FuncSig {
        let small = f.params().len() + f.results().len() <= FUNC_SIG_TYPES_KEPT;
        FuncSig {
            param_count: f.params().len(),
            result_count: f.results().len(),
            params: if small {
                f.params().to_vec()
            } else {
                Vec::new()
            },
            results: if small {
                f.results().to_vec()
            } else {
                Vec::new()
            },
        }
    }

    /// Whether the value types are all kept.
    pub(crate) fn is_complete(&self) -> bool {
        self.params.len() == self.param_count && self.results.len() == self.result_count
    }
}

/// What the pass learned about a module that is within the limits.
#[derive(Debug, Default)]
pub(crate) struct ModuleFacts {
    /// Types by index; `None` for a type that is not a function type.
    pub(crate) types: Vec<Option<FuncSig>>,
    /// The type index of every function, imported ones first.
    pub(crate) functions: Vec<u32>,
    /// Every memory, imported ones first.
    pub(crate) memories: Vec<MemoryType>,
    /// The exports the ABI names (`memory`, `weft_alloc`, `weft_task.*`,
    /// a reactor's `_initialize`):
    /// name, kind, index. Others are not kept.
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

/// Walks `bytes`, enforcing `config`'s structural limits and the ABI's
/// imports.
pub(crate) fn precheck(
    hash: ModuleHash,
    bytes: &[u8],
    config: &RuntimeConfig,
) -> Result<ModuleFacts, LoadError> {
    walk(hash, bytes, config, Role::TaskModule)
}

/// Walks each core module nested in the component `bytes`, enforcing
/// `config`'s structural limits on each (not the core ABI: a component's
/// own modules import one another, and the component's imports are checked
/// from its type). Returns the bytes of their data segments.
pub(crate) fn precheck_component(
    hash: ModuleHash,
    bytes: &[u8],
    config: &RuntimeConfig,
) -> Result<u64, LoadError> {
    let mut data_bytes = 0u64;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| LoadError::Invalid {
            module: hash,
            reason: e.to_string(),
        })?;
        if let Payload::ModuleSection {
            unchecked_range, ..
        } = payload
        {
            let nested = bytes
                .get(unchecked_range)
                .ok_or_else(|| LoadError::Invalid {
                    module: hash,
                    reason: "a nested module's range is outside the component".into(),
                })?;
            data_bytes += walk(hash, nested, config, Role::InComponent)?.data_bytes;
        }
    }
    Ok(data_bytes)
}

/// What a core module is to Weft.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A task module under the core ABI.
    TaskModule,
    /// One of a component's own modules.
    InComponent,
}

fn walk(
    hash: ModuleHash,
    bytes: &[u8],
    config: &RuntimeConfig,
    role: Role,
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
                        if facts.types.len() as u64 >= u64::from(limits.types_max) {
                            return Err(over(
                                ModuleLimit::Types,
                                facts.types.len() as u64 + 1,
                                limits.types_max.into(),
                                None,
                            ));
                        }
                        facts.types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(FuncSig::of(f)),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) if role == Role::InComponent => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| invalid(e.to_string()))?;
                    if let TypeRef::Func(ty) | TypeRef::FuncExact(ty) = import.ty {
                        facts.functions.push(ty);
                        imported_functions += 1;
                    }
                }
            }
            Payload::ImportSection(reader) => {
                if reader.count() > IMPORTS_MAX {
                    return Err(over(
                        ModuleLimit::Imports,
                        reader.count().into(),
                        IMPORTS_MAX.into(),
                        None,
                    ));
                }
                for import in reader.into_imports() {
                    let import = import.map_err(|e| invalid(e.to_string()))?;
                    check_import(
                        hash,
                        &facts.types,
                        config.wasi_preview1,
                        (import.module, import.name, &import.ty),
                    )?;
                    if let TypeRef::Func(ty) | TypeRef::FuncExact(ty) = import.ty {
                        facts.functions.push(ty);
                        imported_functions += 1;
                    }
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
                    check_pool_limits(&facts.memories, &tables, config)
                        .map_err(|(limit, found, allowed)| over(limit, found, allowed, None))?;
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    facts
                        .memories
                        .push(memory.map_err(|e| invalid(e.to_string()))?);
                    check_pool_limits(&facts.memories, &tables, config)
                        .map_err(|(limit, found, allowed)| over(limit, found, allowed, None))?;
                }
            }
            Payload::ExportSection(reader) => {
                if reader.count() > limits.exports_max {
                    return Err(over(
                        ModuleLimit::Exports,
                        reader.count().into(),
                        limits.exports_max.into(),
                        None,
                    ));
                }
                for export in reader {
                    let export = export.map_err(|e| invalid(e.to_string()))?;
                    if matches!(export.name, "memory" | "weft_alloc" | "_initialize")
                        || export.name.starts_with(TASK_EXPORT_PREFIX)
                    {
                        facts
                            .exports
                            .push((export.name.into(), export.kind, export.index));
                    }
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
/// at the start than a task may ever have. Checked as each is read (so a
/// module of a million memories is refused at the second) and at the end
/// (imported ones are counted too).
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
