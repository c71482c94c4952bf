//! Generators of hostile task modules: "compile bombs" that are small,
//! valid WebAssembly and follow the Weft ABI (a memory, `weft_alloc`, one
//! task `boom() -> i64` recorded in `weft_tasks`), but whose extra functions
//! make Cranelift spend minutes of CPU or gigabytes of memory. Each shape is
//! one the sandbox red-team measured; the sizes are parameters so that tests
//! can build a bomb just over (or under) one limit.
//!
//! Nothing here is committed as a binary: tests generate the bytes.

use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, CustomSection, ElementSection, Elements, ExportKind,
    ExportSection, Function, FunctionSection, MemArg, MemoryType, Module, RefType, TableSection,
    TableType, TypeSection, ValType,
};

/// The `weft_tasks` record of every bomb's one task.
pub const BOMB_SIGNATURE: &str = "task boom() -> i64;";
/// The task every bomb declares.
pub const BOMB_TASK: &str = "boom";

const TASK_TYPE: u32 = 0;
const ALLOC_TYPE: u32 = 1;
const VOID_TYPE: u32 = 2;

/// The shapes of bomb, with the sizes the red-team measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One function with `locals` i64 locals, all live to the end, and
    /// `loops` loops each with a back edge (measured: 49,000 and 20,000,
    /// 586 KB, over 6 GB of RSS after 80 s).
    LocalsAndLoops {
        /// Locals in the function.
        locals: u32,
        /// Loops, each with one back edge.
        loops: u32,
    },
    /// `depth` nested loops around `live` locals updated each turn and a
    /// `br_table` of `targets` entries into the loops (measured: 10, 1,000
    /// and about 10,000: a 19 KB module, 130 s of CPU).
    BrTableLoops {
        /// Nested loops.
        depth: u32,
        /// Live locals.
        live: u32,
        /// Entries of the `br_table`.
        targets: u32,
    },
    /// `depth` nested blocks in one function (measured: 1,000,000, 3 MB,
    /// over 115 s).
    NestedBlocks {
        /// Nesting depth.
        depth: u32,
    },
    /// `count` trivial functions (measured: 990,000, 7.9 MB, 66 s and
    /// 5.4 GB).
    ManyFunctions {
        /// Functions.
        count: u32,
    },
    /// One function of `calls` `call_indirect` instructions, whose compiled
    /// code is many times the module's size.
    CallIndirectDense {
        /// `call_indirect` instructions.
        calls: u32,
    },
}

impl Shape {
    /// Every shape at the size the red-team measured.
    pub fn measured() -> Vec<(&'static str, Shape)> {
        vec![
            (
                "locals-and-loops",
                Shape::LocalsAndLoops {
                    locals: 49_000,
                    loops: 20_000,
                },
            ),
            (
                "br-table-loops",
                Shape::BrTableLoops {
                    depth: 10,
                    live: 1_000,
                    targets: 10_000,
                },
            ),
            ("nested-blocks", Shape::NestedBlocks { depth: 1_000_000 }),
            ("many-functions", Shape::ManyFunctions { count: 990_000 }),
            (
                "call-indirect-dense",
                Shape::CallIndirectDense { calls: 1_000_000 },
            ),
        ]
    }

    /// The module's bytes.
    pub fn build(self) -> Vec<u8> {
        let bodies = match self {
            Shape::LocalsAndLoops { locals, loops } => vec![locals_and_loops(locals, loops)],
            Shape::BrTableLoops {
                depth,
                live,
                targets,
            } => vec![br_table_loops(depth, live, targets)],
            Shape::NestedBlocks { depth } => vec![nested_blocks(depth)],
            Shape::ManyFunctions { count } => (0..count).map(|_| trivial()).collect(),
            Shape::CallIndirectDense { calls } => vec![call_indirect_dense(calls)],
        };
        let table = matches!(self, Shape::CallIndirectDense { .. });
        abi_module(bodies, table, &[])
    }
}

/// A harmless module following the ABI whose memory starts with `data`
/// (an active data segment at address 0): large modules for cache tests.
/// The memory is as large as the data needs.
pub fn with_data(data: &[u8]) -> Vec<u8> {
    abi_module(Vec::new(), false, data)
}

/// A module following the ABI, with `extra` functions of type `() -> ()`
/// after `weft_alloc` (function 0) and the task (function 1). With `table`,
/// a table holding the task's helper (function 2) for `call_indirect`;
/// `data` is written at address 0 of the memory.
pub fn abi_module(extra: Vec<Function>, table: bool, data: &[u8]) -> Vec<u8> {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types
        .ty()
        .function([ValType::I32, ValType::I32], [ValType::I32]);
    types.ty().function([ValType::I32], [ValType::I32]);
    types.ty().function([], []);
    module.section(&types);

    let mut functions = FunctionSection::new();
    functions.function(ALLOC_TYPE);
    functions.function(TASK_TYPE);
    for _ in &extra {
        functions.function(VOID_TYPE);
    }
    module.section(&functions);

    if table {
        let mut tables = TableSection::new();
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: 1,
            maximum: Some(1),
            shared: false,
        });
        module.section(&tables);
    }

    let mut memories = wasm_encoder::MemorySection::new();
    memories.memory(MemoryType {
        minimum: (data.len() as u64).div_ceil(65_536).max(1),
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);

    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("weft_alloc", ExportKind::Func, 0);
    exports.export("weft_task.boom", ExportKind::Func, 1);
    module.section(&exports);

    if table {
        let mut elements = ElementSection::new();
        elements.active(
            Some(0),
            &ConstExpr::i32_const(0),
            Elements::Functions([2u32].as_slice().into()),
        );
        module.section(&elements);
    }

    let mut code = CodeSection::new();
    let mut alloc = Function::new([]);
    alloc.instructions().i32_const(1024).end();
    code.function(&alloc);
    // Status 1 (failed) with no output: the task is never meant to run.
    let mut task = Function::new([]);
    task.instructions().i32_const(1).end();
    code.function(&task);
    for body in &extra {
        code.function(body);
    }
    module.section(&code);

    if !data.is_empty() {
        let mut segments = wasm_encoder::DataSection::new();
        segments.active(0, &ConstExpr::i32_const(0), data.iter().copied());
        module.section(&segments);
    }

    module.section(&CustomSection {
        name: "weft_tasks".into(),
        data: BOMB_SIGNATURE.as_bytes().into(),
    });
    module.finish()
}

fn store_i64_at_zero(f: &mut Function) {
    // The value is on the stack; store needs the address below it, so keep
    // it in local 0 first.
    f.instructions()
        .local_set(0)
        .i32_const(0)
        .local_get(0)
        .i64_store(MemArg {
            offset: 0,
            align: 3,
            memory_index: 0,
        });
}

/// Sums locals `0..n` onto the stack.
fn sum_locals(f: &mut Function, n: u32) {
    f.instructions().local_get(0);
    for j in 1..n {
        f.instructions().local_get(j).i64_add();
    }
}

fn locals_and_loops(locals: u32, loops: u32) -> Function {
    let locals = locals.max(2);
    let mut f = Function::new([(locals, ValType::I64)]);
    for i in 0..loops {
        let a = i % locals;
        let b = (i.wrapping_mul(31).wrapping_add(7)) % locals;
        f.instructions()
            .loop_(BlockType::Empty)
            .local_get(a)
            .local_get(b)
            .i64_add()
            .local_tee(a)
            .i64_eqz()
            .br_if(0)
            .end();
    }
    sum_locals(&mut f, locals);
    store_i64_at_zero(&mut f);
    f.instructions().end();
    f
}

fn br_table_loops(depth: u32, live: u32, targets: u32) -> Function {
    let (depth, live) = (depth.max(1), live.max(1));
    let mut f = Function::new([(live, ValType::I64)]);
    for _ in 0..depth {
        f.instructions().loop_(BlockType::Empty);
    }
    for j in 0..live {
        f.instructions()
            .local_get(j)
            .i64_const(1)
            .i64_add()
            .local_set(j);
    }
    let table: Vec<u32> = (0..targets).map(|t| t % depth).collect();
    f.instructions()
        .local_get(0)
        .i32_wrap_i64()
        .br_table(table, depth - 1);
    for _ in 0..depth {
        f.instructions().end();
    }
    sum_locals(&mut f, live);
    store_i64_at_zero(&mut f);
    f.instructions().end();
    f
}

fn nested_blocks(depth: u32) -> Function {
    let mut f = Function::new([]);
    for _ in 0..depth {
        f.instructions().block(BlockType::Empty);
    }
    for _ in 0..depth {
        f.instructions().end();
    }
    f.instructions().end();
    f
}

fn trivial() -> Function {
    let mut f = Function::new([]);
    f.instructions().end();
    f
}

fn call_indirect_dense(calls: u32) -> Function {
    let mut f = Function::new([]);
    for _ in 0..calls {
        f.instructions().i32_const(0).call_indirect(0, VOID_TYPE);
    }
    f.instructions().end();
    f
}

/// A harmless module of exactly `size` bytes (a custom section pads it),
/// for testing the largest module that may be uploaded. Its task reports
/// failure with an empty message when run.
pub fn padded_to(size: usize) -> Vec<u8> {
    let mut bytes = abi_module(Vec::new(), false, &[]);
    // Section id, the payload's LEB128 length, the name `pad`, the data.
    let name = b"pad";
    let fixed = 1 + 1 + name.len();
    for leb in 1..=5 {
        let Some(data) = size.checked_sub(bytes.len() + fixed + leb) else {
            break;
        };
        let payload = 1 + name.len() + data;
        if leb128_len(payload) == leb {
            bytes.push(0);
            let mut n = payload;
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    bytes.push(byte);
                    break;
                }
                bytes.push(byte | 0x80);
            }
            bytes.push(name.len() as u8);
            bytes.extend_from_slice(name);
            bytes.resize(size, 0);
            return bytes;
        }
    }
    panic!("cannot pad a module to {size} bytes");
}

fn leb128_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}
