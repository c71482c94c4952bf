//! The Weft guest SDK for Zig (0.17): the host's imports (schema/ABI.md),
//! the value encoding (schema/ENCODING.md) derived from Zig types at
//! comptime, each task's signature record for the `weft_tasks` section,
//! and a panic handler that ends the task with a *panic* error.
//!
//! A module lists its tasks once and hands the list to `exportTasks` and
//! `section`:
//!
//!     const weft = @import("weft");
//!     pub const panic = weft.panic;
//!     fn add(a: i64, b: i64) i64 { return a +% b; }
//!     const tasks = .{ weft.task(add, "add", .{ "a", "b" }) };
//!     comptime { weft.exportTasks(tasks); }
//!     comptime { asm (weft.section(tasks)); }
//!
//! (Zig cannot reflect parameter names, so each task names its
//! parameters.) Types: bool, i8..i64, u8..u64, f32, f64; `[]const u8` is
//! `string`, `weft.Bytes` is `list<u8>`, any other slice `[]const T` is
//! `list<T>` (numbers are copied in one go); `?T` is `option<T>`; a tuple is
//! `tuple<..>`; a struct is `struct NAME{..}`; an enum or a `union(enum)` is
//! `enum NAME{..}` (a `void` payload is a unit variant, a struct payload a
//! struct variant, a tuple payload a tuple variant, any other a newtype);
//! `weft.Map(K, V)` is `map<K, V>`; `void` as a result is `unit`. A task
//! may return an error union: `weft.fail("message")` (or any error, by its
//! name) ends it with a *failed* error.

const std = @import("std");

extern "weft" fn output(ptr: [*]const u8, len: usize) void;
extern "weft" fn abort(ptr: [*]const u8, len: usize) noreturn;
extern "weft" fn log(level: i32, ptr: [*]const u8, len: usize) void;

/// The allocator tasks use: a bump allocator over a static 256 KiB buffer
/// (memory is fresh for every call, so nothing needs freeing, and a small
/// call never grows memory, which costs the host more than the call),
/// then `std.heap.wasm_allocator` for what does not fit.
pub const allocator: std.mem.Allocator = .{
    .ptr = @ptrCast(&bump_buffer),
    .vtable = &.{ .alloc = bumpAlloc, .resize = bumpResize, .remap = bumpRemap, .free = bumpFree },
};

var bump_buffer: [256 << 10]u8 align(16) = undefined;
var bump_used: usize = 0;
const fallback = std.heap.wasm_allocator;

fn inBuffer(memory: []u8) bool {
    const base = @intFromPtr(&bump_buffer);
    const at = @intFromPtr(memory.ptr);
    return at >= base and at < base + bump_buffer.len;
}

fn bumpAlloc(_: *anyopaque, len: usize, alignment: std.mem.Alignment, ret_addr: usize) ?[*]u8 {
    const base = @intFromPtr(&bump_buffer);
    const start = alignment.forward(base + bump_used);
    if (start - base <= bump_buffer.len and len <= bump_buffer.len - (start - base)) {
        bump_used = start - base + len;
        return @ptrFromInt(start);
    }
    return fallback.rawAlloc(len, alignment, ret_addr);
}

fn bumpResize(_: *anyopaque, memory: []u8, alignment: std.mem.Alignment, new_len: usize, ret_addr: usize) bool {
    if (!inBuffer(memory)) return fallback.rawResize(memory, alignment, new_len, ret_addr);
    const offset = @intFromPtr(memory.ptr) - @intFromPtr(&bump_buffer);
    const is_last = offset + memory.len == bump_used;
    if (new_len <= memory.len) {
        if (is_last) bump_used = offset + new_len;
        return true;
    }
    if (is_last and new_len <= bump_buffer.len - offset) {
        bump_used = offset + new_len;
        return true;
    }
    return false;
}

fn bumpRemap(context: *anyopaque, memory: []u8, alignment: std.mem.Alignment, new_len: usize, ret_addr: usize) ?[*]u8 {
    if (!inBuffer(memory)) return fallback.rawRemap(memory, alignment, new_len, ret_addr);
    return if (bumpResize(context, memory, alignment, new_len, ret_addr)) memory.ptr else null;
}

fn bumpFree(_: *anyopaque, memory: []u8, alignment: std.mem.Alignment, ret_addr: usize) void {
    if (!inBuffer(memory)) fallback.rawFree(memory, alignment, ret_addr);
}

/// The ABI's allocator: the host writes a call's arguments here.
export fn weft_alloc(len: i32) i32 {
    const bytes = allocator.alloc(u8, @intCast(len)) catch @trap();
    return @intCast(@intFromPtr(bytes.ptr));
}

/// The panic handler: `pub const panic = weft.panic;` in the root file.
pub const panic = std.debug.FullPanic(panicFn);

fn panicFn(message: []const u8, first_trace_addr: ?usize) noreturn {
    _ = first_trace_addr;
    abort(message.ptr, message.len);
}

// ---- logging and failures ----------------------------------------------

/// Emits a log record through the host (levels: 1 error .. 5 trace).
pub fn logText(level: i32, text: []const u8) void {
    log(level, text.ptr, text.len);
}
pub fn info(text: []const u8) void {
    logText(3, text);
}
pub fn warn(text: []const u8) void {
    logText(2, text);
}

var failure: ?[]const u8 = null;

/// Ends the task with a *failed* error carrying `message`:
/// `return weft.fail("...")` from a task returning an error union.
pub fn fail(message: []const u8) error{TaskFailed} {
    failure = message;
    return error.TaskFailed;
}

/// `fail` with a formatted message.
pub fn failFmt(comptime format: []const u8, args: anytype) error{TaskFailed} {
    const message = std.fmt.allocPrint(allocator, format, args) catch "out of memory formatting a failure";
    return fail(message);
}

// ---- the types a signature needs ---------------------------------------

/// `list<u8>` (a `[]const u8` is a string).
pub const Bytes = struct {
    pub const weft_bytes = true;
    data: []const u8,
};

/// `map<K, V>`: its entries, in order.
pub fn Map(comptime K: type, comptime V: type) type {
    return struct {
        pub const weft_map = true;
        pub const Key = K;
        pub const Value = V;
        pub const Entry = struct { key: K, value: V };
        entries: []const Entry,
    };
}

// ---- signatures ----------------------------------------------------------

fn shortName(comptime T: type) []const u8 {
    const full = @typeName(T);
    const at = std.mem.lastIndexOfScalar(u8, full, '.') orelse return full;
    return full[at + 1 ..];
}

fn isNumber(comptime T: type) bool {
    return switch (@typeInfo(T)) {
        .int => |i| i.bits == 8 or i.bits == 16 or i.bits == 32 or i.bits == 64,
        .float => |f| f.bits == 32 or f.bits == 64,
        else => false,
    };
}

fn isString(comptime T: type) bool {
    return switch (@typeInfo(T)) {
        .pointer => |p| p.size == .slice and p.child == u8,
        else => false,
    };
}

fn fieldList(comptime names: []const [:0]const u8, comptime types: []const type) []const u8 {
    comptime var text: []const u8 = "";
    inline for (names, types, 0..) |name, T, i| {
        text = text ++ (if (i > 0) ", " else "") ++ name ++ ": " ++ sig(T);
    }
    return text;
}

fn typeList(comptime types: []const type) []const u8 {
    comptime var text: []const u8 = "";
    inline for (types, 0..) |T, i| text = text ++ (if (i > 0) ", " else "") ++ sig(T);
    return text;
}

/// The signature language's text for `T`.
pub fn sig(comptime T: type) []const u8 {
    if (T == void) return "unit";
    if (T == bool) return "bool";
    if (comptime isNumber(T)) return @typeName(T);
    if (comptime isString(T)) return "string";
    return switch (@typeInfo(T)) {
        .pointer => |p| if (p.size == .slice) "list<" ++ sig(p.child) ++ ">" else @compileError("weft: a pointer is not a value: " ++ @typeName(T)),
        .optional => |o| "option<" ++ sig(o.child) ++ ">",
        .@"struct" => |s| if (@hasDecl(T, "weft_bytes"))
            "list<u8>"
        else if (@hasDecl(T, "weft_map"))
            "map<" ++ sig(T.Key) ++ ", " ++ sig(T.Value) ++ ">"
        else if (s.is_tuple)
            "tuple<" ++ typeList(s.field_types) ++ ">"
        else
            "struct " ++ shortName(T) ++ "{" ++ fieldList(s.field_names, s.field_types) ++ "}",
        .@"enum" => |e| blk: {
            comptime var text: []const u8 = "enum " ++ shortName(T) ++ "{";
            inline for (e.field_names, 0..) |name, i| text = text ++ (if (i > 0) ", " else "") ++ name;
            break :blk text ++ "}";
        },
        .@"union" => |u| blk: {
            if (u.tag_type == null) @compileError("weft: a union needs a tag (union(enum)): " ++ @typeName(T));
            comptime var text: []const u8 = "enum " ++ shortName(T) ++ "{";
            inline for (u.field_names, u.field_types, 0..) |name, P, i| {
                text = text ++ (if (i > 0) ", " else "") ++ name ++ variantSig(P);
            }
            break :blk text ++ "}";
        },
        else => @compileError("weft: no signature type for " ++ @typeName(T)),
    };
}

fn variantSig(comptime P: type) []const u8 {
    if (P == void) return "";
    return switch (@typeInfo(P)) {
        .@"struct" => |s| if (s.is_tuple)
            "(" ++ typeList(s.field_types) ++ ")"
        else if (@hasDecl(P, "weft_bytes") or @hasDecl(P, "weft_map"))
            "(" ++ sig(P) ++ ")"
        else
            "{" ++ fieldList(s.field_names, s.field_types) ++ "}",
        else => "(" ++ sig(P) ++ ")",
    };
}

// ---- decoding ------------------------------------------------------------

/// Reads values from a call's argument bytes. The first problem is kept
/// in `problem` and every later read gives a zero value, so a wrapper
/// checks once at the end.
pub const Reader = struct {
    bytes: []const u8,
    pos: usize = 0,
    problem: ?[]const u8 = null,

    fn fail(r: *Reader, message: []const u8) void {
        if (r.problem == null) r.problem = message;
    }

    fn take(r: *Reader, n: usize) ?[]const u8 {
        if (r.problem != null) return null;
        if (r.bytes.len - r.pos < n) {
            r.fail("the arguments end early");
            return null;
        }
        const out = r.bytes[r.pos .. r.pos + n];
        r.pos += n;
        return out;
    }

    fn number(r: *Reader, comptime T: type) T {
        const raw = r.take(@sizeOf(T)) orelse return 0;
        return @bitCast(raw[0..@sizeOf(T)].*);
    }

    /// A length prefix, checked against what is left (each element takes
    /// at least `min` bytes), so a lying prefix allocates nothing.
    fn count(r: *Reader, min: usize) usize {
        const n = r.number(u64);
        const left = r.bytes.len - r.pos;
        if (n > left / @max(min, 1) and !(min == 0 and n <= 1 << 20)) {
            r.fail("a length prefix is longer than the bytes left");
            return 0;
        }
        return @intCast(n);
    }

    /// Decodes one `T`.
    pub fn read(r: *Reader, comptime T: type) T {
        if (T == void) return {};
        if (T == bool) {
            const b = r.number(u8);
            if (b > 1) r.fail("a bool is neither 0 nor 1");
            return b == 1;
        }
        if (comptime isNumber(T)) return r.number(T);
        if (comptime isString(T)) {
            const n = r.count(1);
            const raw = r.take(n) orelse return "";
            if (!std.unicode.utf8ValidateSlice(raw)) {
                r.fail("a string is not valid UTF-8");
                return "";
            }
            return raw;
        }
        switch (@typeInfo(T)) {
            .pointer => |p| {
                const E = p.child;
                const n = r.count(comptime minBytes(E));
                const out = allocator.alloc(E, n) catch @panic("out of memory decoding a list");
                if (comptime isNumber(E)) {
                    const raw = r.take(n * @sizeOf(E)) orelse return out[0..0];
                    @memcpy(std.mem.sliceAsBytes(out), raw);
                } else {
                    for (out) |*slot| slot.* = r.read(E);
                }
                return out;
            },
            .optional => |o| {
                const tag = r.number(u8);
                if (tag == 0) return null;
                if (tag != 1) r.fail("an option's tag is neither 0 nor 1");
                return r.read(o.child);
            },
            .@"struct" => |s| {
                if (@hasDecl(T, "weft_bytes")) {
                    const n = r.count(1);
                    return .{ .data = r.take(n) orelse "" };
                }
                if (@hasDecl(T, "weft_map")) return .{ .entries = r.read([]const T.Entry) };
                var out: T = undefined;
                inline for (s.field_names) |name| @field(out, name) = r.read(@FieldType(T, name));
                return out;
            },
            .@"enum" => |e| {
                const index = r.number(u32);
                inline for (e.field_names, 0..) |name, i| {
                    if (index == i) return @field(T, name);
                }
                r.fail("an enum's variant index is out of range");
                return @enumFromInt(e.field_values[0]);
            },
            .@"union" => |u| {
                const index = r.number(u32);
                inline for (u.field_names, u.field_types, 0..) |name, P, i| {
                    if (index == i) return @unionInit(T, name, r.read(P));
                }
                r.fail("an enum's variant index is out of range");
                return @unionInit(T, u.field_names[0], zero(u.field_types[0]));
            },
            else => @compileError("weft: cannot decode " ++ @typeName(T)),
        }
    }
};

fn zero(comptime T: type) T {
    return std.mem.zeroes(T);
}

fn minBytes(comptime T: type) usize {
    if (T == void) return 0;
    if (T == bool) return 1;
    if (comptime isNumber(T)) return @sizeOf(T);
    return switch (@typeInfo(T)) {
        .pointer => 8,
        .optional => 1,
        .@"enum", .@"union" => 4,
        .@"struct" => |s| blk: {
            if (@hasDecl(T, "weft_bytes") or @hasDecl(T, "weft_map")) break :blk 8;
            comptime var total: usize = 0;
            inline for (s.field_types) |F| total += comptime minBytes(F);
            break :blk total;
        },
        else => 0,
    };
}

// ---- encoding --------------------------------------------------------------

/// Builds an encoded value in a growing buffer.
pub const Writer = struct {
    buf: []u8 = &.{},
    len: usize = 0,

    fn reserve(w: *Writer, n: usize) []u8 {
        if (w.buf.len - w.len < n) {
            const cap = @max(w.buf.len * 2, w.len + n, 64);
            const grown = allocator.alloc(u8, cap) catch @panic("out of memory encoding the result");
            @memcpy(grown[0..w.len], w.buf[0..w.len]);
            w.buf = grown;
        }
        const out = w.buf[w.len .. w.len + n];
        w.len += n;
        return out;
    }

    fn number(w: *Writer, comptime T: type, v: T) void {
        const raw: [@sizeOf(T)]u8 = @bitCast(v);
        @memcpy(w.reserve(@sizeOf(T)), &raw);
    }

    /// Encodes one `T`.
    pub fn write(w: *Writer, comptime T: type, v: T) void {
        if (T == void) return;
        if (T == bool) return w.number(u8, @intFromBool(v));
        if (comptime isNumber(T)) return w.number(T, v);
        if (comptime isString(T)) {
            w.number(u64, v.len);
            @memcpy(w.reserve(v.len), v);
            return;
        }
        switch (@typeInfo(T)) {
            .pointer => |p| {
                w.number(u64, v.len);
                if (comptime isNumber(p.child)) {
                    @memcpy(w.reserve(v.len * @sizeOf(p.child)), std.mem.sliceAsBytes(v));
                } else {
                    for (v) |item| w.write(p.child, item);
                }
            },
            .optional => |o| if (v) |some| {
                w.number(u8, 1);
                w.write(o.child, some);
            } else w.number(u8, 0),
            .@"struct" => |s| {
                if (@hasDecl(T, "weft_bytes")) return w.write([]const u8, v.data);
                if (@hasDecl(T, "weft_map")) return w.write([]const T.Entry, v.entries);
                inline for (s.field_names) |name| w.write(@FieldType(T, name), @field(v, name));
            },
            .@"enum" => |e| {
                inline for (e.field_names, 0..) |name, i| {
                    if (v == @field(T, name)) w.number(u32, i);
                }
            },
            .@"union" => |u| {
                inline for (u.field_names, u.field_types, 0..) |name, P, i| {
                    if (v == @field(u.tag_type.?, name)) {
                        w.number(u32, i);
                        w.write(P, @field(v, name));
                    }
                }
            },
            else => @compileError("weft: cannot encode " ++ @typeName(T)),
        }
    }
};

// ---- tasks -----------------------------------------------------------------

/// One task: the function, its name and its parameters' names.
pub fn task(comptime f: anytype, comptime name: []const u8, comptime params: anytype) type {
    const fn_info = @typeInfo(@TypeOf(f)).@"fn";
    if (params.len != fn_info.param_types.len) @compileError("weft: task " ++ name ++ " names the wrong number of parameters");
    return struct {
        pub const task_name = name;
        pub const record = blk: {
            var text: []const u8 = "task " ++ name ++ "(";
            for (params, fn_info.param_types, 0..) |p, T, i| text = text ++ (if (i > 0) ", " else "") ++ p ++ ": " ++ sig(T.?);
            break :blk text ++ ") -> " ++ sig(Result) ++ ";";
        };
        const Return = fn_info.return_type.?;
        const Result = switch (@typeInfo(Return)) {
            .error_union => |e| e.payload,
            else => Return,
        };

        fn call(ptr: [*]const u8, len: usize) callconv(.c) i32 {
            var r = Reader{ .bytes = if (len == 0) &.{} else ptr[0..len] };
            var args: std.meta.ArgsTuple(@TypeOf(f)) = undefined;
            inline for (fn_info.param_types, 0..) |T, i| args[i] = r.read(T.?);
            if (r.problem == null and r.pos != r.bytes.len) r.fail("bytes are left over after the arguments");
            if (r.problem) |problem| {
                const message = std.fmt.allocPrint(allocator, "invalid arguments for `{s}`: {s}", .{ name, problem }) catch problem;
                output(message.ptr, message.len);
                return 2;
            }
            const returned = @call(.auto, f, args);
            const result: Result = switch (@typeInfo(Return)) {
                .error_union => returned catch |e| {
                    const message = failure orelse @errorName(e);
                    output(message.ptr, message.len);
                    return 1;
                },
                else => returned,
            };
            var w = Writer{};
            w.write(Result, result);
            output(w.buf.ptr, w.len);
            return 0;
        }
    };
}

/// Exports `weft_task.NAME` for each task of `tasks` (a tuple of `task`s).
pub fn exportTasks(comptime tasks: anytype) void {
    inline for (tasks) |T| @export(&T.call, .{ .name = "weft_task." ++ T.task_name });
}

/// The global assembly that records `tasks`' signatures in the
/// `weft_tasks` custom section: `comptime { asm (weft.section(tasks)); }`.
pub fn section(comptime tasks: anytype) []const u8 {
    comptime var text: []const u8 = "";
    inline for (tasks) |T| text = text ++ T.record ++ " ";
    return ".section .custom_section.weft_tasks,\"\",@\n.ascii \"" ++ text ++ "\"\n.text";
}
