//! Weft tasks in Zig: the same tasks as the Rust test kit
//! (tests/guests/testkit), one per kind of value, so that the tests can
//! check both give the same bytes. Build (see guest-sdk/zig/README.md):
//!   python -m ziglang build-exe -target wasm32-freestanding -fno-entry -rdynamic -O ReleaseSmall \
//!     --dep weft -Mroot=examples/zig/tasks.zig -Mweft=guest-sdk/zig/weft.zig

const std = @import("std");
const weft = @import("weft");

pub const panic = weft.panic;

/// A row of the accounts example.
pub const Account = struct { name: []const u8, balance: i64 };

/// A shape, for enum round trips.
pub const Shape = union(enum) {
    Circle: f64,
    Rect: struct { w: f64, h: f64 },
    Empty,
};

fn inc(x: i64) i64 {
    return x +% 1;
}

fn add(a: i64, b: i64) i64 {
    return a +% b;
}

fn scale(x: f64, k: f64) f64 {
    return x * k;
}

fn not(b: bool) bool {
    return !b;
}

fn greet(name: []const u8) ![]const u8 {
    return std.mem.concat(weft.allocator, u8, &.{ "hello, ", name });
}

fn reverse_bytes(data: weft.Bytes) !weft.Bytes {
    const out = try weft.allocator.alloc(u8, data.data.len);
    for (data.data, 0..) |b, i| out[out.len - 1 - i] = b;
    return .{ .data = out };
}

fn keep_multiples_of_3(xs: []const i64) ![]const i64 {
    const out = try weft.allocator.alloc(i64, xs.len);
    var n: usize = 0;
    for (xs) |x| {
        if (@rem(x, 3) == 0) {
            out[n] = x;
            n += 1;
        }
    }
    return out[0..n];
}

fn bytesLess(_: void, a: []const u8, b: []const u8) bool {
    return std.mem.order(u8, a, b) == .lt;
}

fn sort_words(words: []const []const u8) ![]const []const u8 {
    const out = try weft.allocator.dupe([]const u8, words);
    std.mem.sort([]const u8, out, {}, bytesLess);
    return out;
}

fn first_positive(xs: []const i64) ?i64 {
    for (xs) |x| if (x > 0) return x;
    return null;
}

fn swap(pair: struct { i64, []const u8 }) struct { []const u8, i64 } {
    return .{ pair[1], pair[0] };
}

fn negative_accounts(rows: []const Account) ![]const Account {
    const out = try weft.allocator.alloc(Account, rows.len);
    var n: usize = 0;
    for (rows) |row| {
        if (row.balance < 0) {
            out[n] = row;
            n += 1;
        }
    }
    return out[0..n];
}

fn area(shape: Shape) f64 {
    return switch (shape) {
        .Circle => |r| std.math.pi * r * r,
        .Rect => |rect| rect.w * rect.h,
        .Empty => 0.0,
    };
}

fn divide(a: i64, b: i64) !i64 {
    if (b == 0) return weft.failFmt("cannot divide {d} by zero", .{a});
    if (a == std.math.minInt(i64) and b == -1) @panic("attempt to divide with overflow");
    return @divTrunc(a, b);
}

fn nothing() void {}

const tasks = .{
    weft.task(inc, "inc", .{"x"}),
    weft.task(add, "add", .{ "a", "b" }),
    weft.task(scale, "scale", .{ "x", "k" }),
    weft.task(not, "not", .{"b"}),
    weft.task(greet, "greet", .{"name"}),
    weft.task(reverse_bytes, "reverse_bytes", .{"data"}),
    weft.task(keep_multiples_of_3, "keep_multiples_of_3", .{"xs"}),
    weft.task(sort_words, "sort_words", .{"words"}),
    weft.task(first_positive, "first_positive", .{"xs"}),
    weft.task(swap, "swap", .{"pair"}),
    weft.task(negative_accounts, "negative_accounts", .{"rows"}),
    weft.task(area, "area", .{"shape"}),
    weft.task(divide, "divide", .{ "a", "b" }),
    weft.task(nothing, "nothing", .{}),
};

comptime {
    weft.exportTasks(tasks);
}

comptime {
    asm (weft.section(tasks));
}
