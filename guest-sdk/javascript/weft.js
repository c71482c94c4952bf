// Weft tasks in JavaScript: declare each task with its Weft signature, in
// types built from the constructors below, and `node build.mjs` turns the
// module into a component of Weft's `weft:task` world with componentize-js
// (see README.md). 64-bit integers are BigInt, so they stay exact;
// `bytes` is a Uint8Array; an absent option is `undefined`; a record is a
// plain object with camelCase fields. Inside a task, `console.log` goes to
// the task's log, `throw new Failure(message)` fails the task with that
// message, and any other uncaught exception ends it as a panic carrying the
// exception and its stack.

const int = (wit, bits, signed) => {
  const lo = signed ? -(2n ** BigInt(bits - 1)) : 0n;
  const hi = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
  return { wit, kind: "int", lo, hi, bits, signed, big: bits === 64 };
};

export const i8 = int("s8", 8, true);
export const i16 = int("s16", 16, true);
export const i32 = int("s32", 32, true);
export const i64 = int("s64", 64, true);
export const u8 = int("u8", 8, false);
export const u16 = int("u16", 16, false);
export const u32 = int("u32", 32, false);
export const u64 = int("u64", 64, false);
export const f32 = { wit: "f32", kind: "float" };
export const f64 = { wit: "f64", kind: "float" };
export const bool = { wit: "bool", kind: "bool" };
export const string = { wit: "string", kind: "string" };
/** `list<u8>`, as a Uint8Array. */
export const bytes = { wit: "list<u8>", kind: "bytes" };
/** No result. */
export const unit = { wit: null, kind: "unit" };
export const list = (t) => ({ wit: `list<${t.wit}>`, kind: "list", items: [t] });
export const option = (t) => ({ wit: `option<${t.wit}>`, kind: "option", items: [t] });
export const tuple = (...ts) => ({
  wit: `tuple<${ts.map((t) => t.wit).join(", ")}>`,
  kind: "tuple",
  items: ts,
});
/** A record (a Weft struct) called `name` (CamelCase), with `fields` in order. */
export const record = (name, fields) => ({
  wit: `%${witTypeName(name)}`,
  kind: "record",
  name,
  fields: Object.entries(fields),
});

/** Thrown by a task to fail with `message` (as a Rust task's `Err`). */
export class Failure extends Error {}

/** The tasks declared so far, in order. */
export const registry = [];

/**
 * Declares task `name` (Weft's snake_case name), with `params` an object of
 * parameter names to types (in order), `result` its type (or `unit`), and
 * `fn` its function. Returns `fn`.
 */
export function task(name, params, result, fn) {
  registry.push({ name, params: Object.entries(params), result, fn });
  return fn;
}

/** `negative_accounts` or `negativeAccounts` -> `negative-accounts`. */
export function witName(name) {
  return checkedWords(
    name,
    name
      .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
      .split("_")
      .map((w) => w.toLowerCase()),
  );
}

/**
 * A type's name, `AccountSummary` -> `account-summary`, split before each
 * capital as Weft joins it back (`HTTPServer` is `h-t-t-p-server`, which
 * Weft names `HTTPServer` again).
 */
export function witTypeName(name) {
  if (!/^[A-Z][A-Za-z0-9]*$/.test(name)) throw new TypeError(`type \`${name}\` must be CamelCase`);
  return checkedWords(name, name.match(/[A-Z][a-z0-9]*/g).map((w) => w.toLowerCase()));
}

function checkedWords(name, words) {
  const [first, ...rest] = words;
  if (!/^[a-z][a-z0-9]*$/.test(first ?? "") || !rest.every((w) => /^[a-z0-9]+$/.test(w))) {
    throw new TypeError(
      `\`${name}\` cannot be a WIT name: use words of letters and digits, the first starting with a letter`,
    );
  }
  return words.join("-");
}

/** The method name jco gives a WIT function or field: camelCase. */
export function jsName(wit) {
  return wit.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function check(value, ty, where) {
  switch (ty.kind) {
    case "int": {
      let v = value;
      if (typeof v === "number" && Number.isSafeInteger(v)) v = BigInt(v);
      if (typeof v !== "bigint") throw new TypeError(`${where} must be an integer, not ${typeof value}`);
      if (v < ty.lo || v > ty.hi) {
        throw new RangeError(`${where} is ${v}: integer overflow, it does not fit ${ty.wit}`);
      }
      return ty.big ? v : Number(v);
    }
    case "float":
      if (typeof value !== "number") throw new TypeError(`${where} must be a number, not ${typeof value}`);
      return value;
    case "bool":
      if (typeof value !== "boolean") throw new TypeError(`${where} must be a boolean, not ${typeof value}`);
      return value;
    case "string":
      if (typeof value !== "string") throw new TypeError(`${where} must be a string, not ${typeof value}`);
      return value;
    case "bytes":
      if (value instanceof Uint8Array) return value;
      if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      if (value instanceof ArrayBuffer) return new Uint8Array(value);
      if (Array.isArray(value)) {
        value.forEach((b, i) => {
          if (!Number.isInteger(b) || b < 0 || b > 255) throw new RangeError(`${where}[${i}] is not a byte`);
        });
        return Uint8Array.from(value);
      }
      throw new TypeError(`${where} must be a Uint8Array, not ${Object.prototype.toString.call(value)}`);
    case "unit":
      return undefined;
    case "option":
      return value === undefined || value === null ? undefined : check(value, ty.items[0], where);
    case "list":
      if (!Array.isArray(value) && !ArrayBuffer.isView(value)) throw new TypeError(`${where} must be an array`);
      return Array.from(value, (v, i) => check(v, ty.items[0], `${where}[${i}]`));
    case "tuple":
      if (!Array.isArray(value) || value.length !== ty.items.length) {
        throw new TypeError(`${where} must be an array of ${ty.items.length}`);
      }
      return value.map((v, i) => check(v, ty.items[i], `${where}[${i}]`));
    case "record": {
      if (value === null || typeof value !== "object") throw new TypeError(`${where} must be an object`);
      const out = {};
      for (const [field, ft] of ty.fields) {
        const key = jsName(witName(field));
        out[key] = check(value[key], ft, `${where}.${key}`);
      }
      return out;
    }
    default:
      throw new TypeError(`${where}: unknown type ${ty.kind}`);
  }
}

/**
 * An argument as its declared type says, whatever form the bindings gave:
 * componentize-js 0.23 hands a negative s64 parameter over as its unsigned
 * two's complement (-1 as 2**64 - 1), so every integer is reinterpreted in
 * its type's width and signedness.
 */
function normalize(value, ty) {
  switch (ty.kind) {
    case "int": {
      const wide = (ty.signed ? BigInt.asIntN : BigInt.asUintN)(ty.bits, BigInt(value));
      return ty.big ? wide : Number(wide);
    }
    case "option":
      return value === undefined || value === null ? undefined : normalize(value, ty.items[0]);
    case "list":
      return ty.items[0].kind === "string" || ty.items[0].kind === "float" || ty.items[0].kind === "bool"
        ? value
        : Array.from(value, (v) => normalize(v, ty.items[0]));
    case "tuple":
      return value.map((v, i) => normalize(v, ty.items[i]));
    case "record": {
      const out = {};
      for (const [field, ft] of ty.fields) {
        const key = jsName(witName(field));
        out[key] = normalize(value[key], ft);
      }
      return out;
    }
    default:
      return value;
  }
}

const LEVELS = { error: 1, warn: 2, info: 3, log: 3, debug: 4, trace: 5 };

function describe(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `uncaught ${typeof error}: ${String(error)}`;
}

/**
 * The `tasks` export for componentize-js, given the host interface: one
 * method per declared task, and `console` sent to the task's log.
 */
export function exportTasks(host) {
  const format = (args) => args.map((a) => (typeof a === "string" ? a : String(a))).join(" ");
  globalThis.console = Object.fromEntries(
    Object.entries(LEVELS).map(([name, level]) => [name, (...args) => host.log(level, format(args))]),
  );
  const tasks = {};
  for (const t of registry) {
    tasks[jsName(witName(t.name))] = (...args) => {
      try {
        const values = args.map((a, i) => normalize(a, t.params[i][1]));
        return check(t.fn(...values), t.result, `the result of ${t.name}`);
      } catch (error) {
        if (error instanceof Failure) throw error.message;
        host.abort(describe(error), error instanceof Error && error.stack ? String(error.stack) : "");
        throw error;
      }
    };
  }
  return tasks;
}

/** Emits a log record at `level` (1 error .. 5 trace) through `console`. */
export function log(level, message) {
  const name = Object.keys(LEVELS).find((k) => LEVELS[k] === level) ?? "info";
  console[name](message);
}
