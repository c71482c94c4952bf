// The Weft guest SDK for AssemblyScript: the host's imports (schema/ABI.md),
// the value encoding (schema/ENCODING.md) as a Reader and a Writer, task
// failures, logging, and the helper types a signature needs that
// AssemblyScript lacks (`Some<T>` for an option of a number, `Tuple2`..
// `Tuple4`). Task modules import it as "weft" (build with
// `--path guest-sdk/assemblyscript`); the transform beside it
// (`transform.mjs`) writes each task's wrapper and its signature record.
// Built with `--runtime stub`: one fresh instance per call, so a bump
// allocator is all a task needs.

@external("weft", "output")
declare function hostOutput(ptr: usize, len: usize): void;
@external("weft", "abort")
declare function hostAbort(ptr: usize, len: usize): void;
@external("weft", "log")
declare function hostLog(level: i32, ptr: usize, len: usize): void;

/// The ABI's allocator: the host writes a call's arguments here.
export function weft_alloc(len: i32): i32 {
  return <i32>heap.alloc(<usize>len);
}

/// Where `abort` (assertions, failed casts, out-of-range indexes) goes: the
/// transform aliases AssemblyScript's `abort` to this, so the task ends
/// with a panic error carrying the message and its place.
export function weftAbort(
  message: string | null = null,
  file: string | null = null,
  line: u32 = 0,
  column: u32 = 0,
): void {
  let text = message !== null ? message : "abort";
  if (file !== null) {
    text += " at " + file + ":" + line.toString() + ":" + column.toString();
  }
  const bytes = String.UTF8.encode(text);
  hostAbort(changetype<usize>(bytes), <usize>bytes.byteLength);
  unreachable();
}

// ---- failures ----------------------------------------------------------

let failure: string | null = null;

/// Ends the task with a *failed* error (status 1) carrying `message`: call
/// it as `return fail<T>("...")` from a task returning `T`; the value it
/// returns is a placeholder that is never encoded.
export function fail<T>(message: string): T {
  failure = message;
  if (isReference<T>()) return changetype<T>(0);
  // @ts-ignore: a number type here
  return <T>0;
}

/// For the generated wrappers: whether the task called `fail`; if so its
/// message is the call's output.
export function taskFailed(): bool {
  const message = failure;
  if (message === null) return false;
  sendText(message);
  return true;
}

function sendText(text: string): void {
  const bytes = String.UTF8.encode(text);
  hostOutput(changetype<usize>(bytes), <usize>bytes.byteLength);
}

// ---- logging -----------------------------------------------------------

/// Emits a log record through the host (levels: 1 error .. 5 trace).
export function log(level: i32, message: string): void {
  const bytes = String.UTF8.encode(message);
  hostLog(level, changetype<usize>(bytes), <usize>bytes.byteLength);
}
export function error(message: string): void { log(1, message); }
export function warn(message: string): void { log(2, message); }
export function info(message: string): void { log(3, message); }
export function debug(message: string): void { log(4, message); }

// ---- the types a signature needs ---------------------------------------

/// `Some<T> | null` is `option<T>` for a number `T` (AssemblyScript has no
/// nullable numbers); a nullable reference type (`string | null`) is an
/// option by itself.
export class Some<T> {
  constructor(public value: T) {}
}

/// `tuple<A, B>`.
export class Tuple2<A, B> {
  constructor(public t0: A, public t1: B) {}
}
/// `tuple<A, B, C>`.
export class Tuple3<A, B, C> {
  constructor(public t0: A, public t1: B, public t2: C) {}
}
/// `tuple<A, B, C, D>`.
export class Tuple4<A, B, C, D> {
  constructor(public t0: A, public t1: B, public t2: C, public t3: D) {}
}

// ---- decoding ----------------------------------------------------------

/// Reads the encoding of values from `len` bytes at `ptr`. A problem (too
/// few bytes, a bad bool or option tag, invalid UTF-8) is kept in `error`
/// and every later read returns zero, so a wrapper checks once at the end.
export class Reader {
  pos: usize;
  end: usize;
  error: string | null = null;

  constructor(ptr: usize, len: usize) {
    this.pos = ptr;
    this.end = ptr + len;
  }

  fail(message: string): void {
    if (this.error === null) this.error = message;
  }

  /// The address of the next `n` bytes, or 0 (and an error) if fewer are left.
  take(n: usize): usize {
    if (this.error !== null) return 0;
    if (this.end - this.pos < n) {
      this.fail("the arguments end early: " + n.toString() + " more bytes needed, " +
        (this.end - this.pos).toString() + " left");
      return 0;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  number<T>(): T {
    const at = this.take(sizeof<T>());
    // @ts-ignore: a number type here
    return at != 0 ? load<T>(at) : <T>0;
  }

  bool(): bool {
    const b = this.number<u8>();
    if (b > 1) this.fail("a bool is " + b.toString() + ", not 0 or 1");
    return b == 1;
  }

  /// A length prefix, checked against what is left (each element takes
  /// at least `elementBytes`), so a lying prefix allocates nothing.
  count(elementBytes: usize): i32 {
    const n = this.number<u64>();
    const left = <u64>(this.end - this.pos);
    if (n > 0x7fffffff || (elementBytes > 0 && n > left / <u64>elementBytes)) {
      this.fail("a length of " + n.toString() + " is longer than the " +
        left.toString() + " bytes left");
      return 0;
    }
    return <i32>n;
  }

  string(): string {
    const n = this.count(1);
    const at = this.take(<usize>n);
    if (at == 0) return "";
    if (!validUtf8(at, <usize>n)) {
      this.fail("a string is not valid UTF-8");
      return "";
    }
    return String.UTF8.decodeUnsafe(at, <usize>n);
  }

  bytes(): Uint8Array {
    const n = this.count(1);
    const out = new Uint8Array(n);
    const at = this.take(<usize>n);
    if (at != 0) memory.copy(out.dataStart, at, <usize>n);
    return out;
  }

  /// A list of numbers in one copy (their encoding is their memory layout).
  numbers<T>(): Array<T> {
    const n = this.count(sizeof<T>());
    const out = new Array<T>(n);
    const at = this.take(<usize>n * sizeof<T>());
    if (at != 0) memory.copy(out.dataStart, at, <usize>n * sizeof<T>());
    return out;
  }

  /// Every byte must be used.
  finish(): void {
    if (this.error === null && this.pos != this.end) {
      this.fail((this.end - this.pos).toString() + " bytes are left over after the arguments");
    }
  }
}

/// For the generated wrappers: reports the reader's error as the output
/// of an *invalid arguments* call (status 2).
export function invalidArguments(r: Reader, task: string): i32 {
  sendText("invalid arguments for `" + task + "`: " + (r.error !== null ? <string>r.error : "unknown"));
  return 2;
}

function validUtf8(at: usize, n: usize): bool {
  let i: usize = 0;
  while (i < n) {
    const b0 = <u32>load<u8>(at + i);
    if (b0 < 0x80) { i++; continue; }
    let len: usize;
    let min: u32;
    let cp: u32;
    if ((b0 & 0xe0) == 0xc0) { len = 2; min = 0x80; cp = b0 & 0x1f; }
    else if ((b0 & 0xf0) == 0xe0) { len = 3; min = 0x800; cp = b0 & 0x0f; }
    else if ((b0 & 0xf8) == 0xf0) { len = 4; min = 0x10000; cp = b0 & 0x07; }
    else return false;
    if (n - i < len) return false;
    for (let k: usize = 1; k < len; k++) {
      const b = <u32>load<u8>(at + i + k);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

// ---- encoding ----------------------------------------------------------

/// Builds an encoded value in a growing buffer; `send` makes it the
/// call's output.
export class Writer {
  buf: usize;
  len: usize = 0;
  cap: usize;

  constructor() {
    this.cap = 64;
    this.buf = heap.alloc(64);
  }

  reserve(n: usize): usize {
    if (this.cap - this.len < n) {
      let cap = this.cap * 2;
      if (cap < this.len + n) cap = this.len + n;
      this.buf = heap.realloc(this.buf, cap);
      this.cap = cap;
    }
    const at = this.buf + this.len;
    this.len += n;
    return at;
  }

  number<T>(v: T): void {
    store<T>(this.reserve(sizeof<T>()), v);
  }

  bool(v: bool): void {
    this.number<u8>(v ? 1 : 0);
  }

  count(n: i32): void {
    this.number<u64>(<u64>n);
  }

  string(s: string): void {
    const n = <usize>String.UTF8.byteLength(s);
    this.number<u64>(<u64>n);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.reserve(n));
  }

  bytes(b: Uint8Array): void {
    const n = <usize>b.length;
    this.number<u64>(<u64>n);
    memory.copy(this.reserve(n), b.dataStart, n);
  }

  numbers<T>(xs: Array<T>): void {
    const n = <usize>xs.length * sizeof<T>();
    this.number<u64>(<u64>xs.length);
    memory.copy(this.reserve(n), xs.dataStart, n);
  }

  send(): void {
    hostOutput(this.buf, this.len);
  }
}
