// The AssemblyScript compiler transform of Weft's SDK (`asc --transform`).
//
// After parsing, it finds every function marked `@task` (which must be
// exported, as must the classes its signature uses), removes the
// decorator, and adds one generated entry file per source with, for each
// task, a wrapper `weft_task__NAME(ptr, len): i32` that decodes the
// arguments by the declared types, calls the task and encodes its result
// (schema/ABI.md, schema/ENCODING.md). It also routes `abort` to the SDK's
// `weftAbort`. After compiling, it renames the wrappers' exports to
// `weft_task.NAME` (AssemblyScript cannot export a dotted name), removes
// the other function exports but `weft_alloc`, and adds the `weft_tasks`
// custom section with each task's signature record.
//
// Types: bool, i8..i64, u8..u64, f32, f64, string; Array<T> (list<T>; a list
// of numbers is copied in one go); Uint8Array (list<u8>); Map<K, V> (map);
// Some<N> | null (option of a number) and R | null for a reference type R
// (option); Tuple2..Tuple4 (tuple); an exported class of fields (struct);
// void as a result (unit).

const TASK_PREFIX = "weft_task__";
const SDK = "weft";
// NodeKind values of AssemblyScript 0.28's AST (checked by the SDK's tests).
const KIND_NAMED_TYPE = 1;
const KIND_CLASS = 52;
const KIND_FIELD = 55;
const KIND_FUNCTION = 56;
const SOURCE_USER_ENTRY = 1;
const SOURCE_USER = 0;
const FLAG_EXPORT = 2;
const FLAG_STATIC = 32;

const INTEGERS = { i8: 1, i16: 2, i32: 4, i64: 8, u8: 1, u16: 2, u32: 4, u64: 8, f32: 4, f64: 8 };

class TaskError extends Error {}

function typeText(node) {
  if (node.kind !== KIND_NAMED_TYPE) throw new TaskError("only named types are supported");
  let name = node.name.identifier.text;
  for (let next = node.name.next; next; next = next.next) name += "." + next.identifier.text;
  return name;
}

/// Describes a type node as { sig, min, dec(r) -> expression code, enc }
/// with helper functions added to `gen`.
function describe(node, gen) {
  const name = typeText(node);
  const args = node.typeArguments || [];
  const asText = (n) => gen.source.text.substring(n.range.start, n.range.end);
  const full = asText(node);
  if (gen.cache.has(full)) return gen.cache.get(full);
  let d;
  if (node.isNullable) {
    const some = name === "Some" && args.length === 1;
    const t = some ? describe(args[0], gen) : describeNonNull(node, gen);
    if (!some && t.number) throw new TaskError(`${full}: a number cannot be null; use Some<${name}> | null`);
    if (some && !t.number) throw new TaskError(`${full}: Some<T> is for numbers; use ${asText(args[0])} | null`);
    const ts = `${some ? `Some<${t.ts}>` : t.ts} | null`;
    d = helper(gen, ts, `option<${t.sig}>`, 1,
      `const tag = r.number<u8>(); if (tag == 0) return null; if (tag != 1) { r.fail("an option's tag is " + tag.toString() + ", not 0 or 1"); return null; } return ${some ? `new Some<${t.ts}>(${t.dec("r")})` : t.dec("r")};`,
      `if (v === null) { w.number<u8>(0); } else { w.number<u8>(1); ${t.enc("w", some ? "v.value" : "v")}; }`);
  } else {
    d = describeNonNull(node, gen);
  }
  gen.cache.set(full, d);
  return d;
  function describeNonNull(node, gen) {
    if (name in INTEGERS && args.length === 0) {
      return { sig: name, ts: name, min: INTEGERS[name], number: true,
        dec: (r) => `${r}.number<${name}>()`, enc: (w, v) => `${w}.number<${name}>(${v})` };
    }
    if (name === "bool") return { sig: "bool", ts: "bool", min: 1, number: false,
      dec: (r) => `${r}.bool()`, enc: (w, v) => `${w}.bool(${v})` };
    if (name === "string") return { sig: "string", ts: "string", min: 8,
      dec: (r) => `${r}.string()`, enc: (w, v) => `${w}.string(${v})` };
    if (name === "Uint8Array") return { sig: "list<u8>", ts: "Uint8Array", min: 8,
      dec: (r) => `${r}.bytes()`, enc: (w, v) => `${w}.bytes(${v})` };
    if (name === "Array" && args.length === 1) {
      const e = describe(args[0], gen);
      const ts = `Array<${e.ts}>`;
      if (e.number) return { sig: `list<${e.sig}>`, ts, min: 8,
        dec: (r) => `${r}.numbers<${e.ts}>()`, enc: (w, v) => `${w}.numbers<${e.ts}>(${v})` };
      return helper(gen, ts, `list<${e.sig}>`, 8,
        `const n = r.count(${e.min}); const out = new Array<${e.ts}>(0); for (let i = 0; i < n && r.error === null; i++) out.push(${e.dec("r")}); return out;`,
        `w.count(v.length); for (let i = 0; i < v.length; i++) ${e.enc("w", "unchecked(v[i])")};`);
    }
    if (name === "Map" && args.length === 2) {
      const k = describe(args[0], gen), val = describe(args[1], gen);
      const ts = `Map<${k.ts}, ${val.ts}>`;
      return helper(gen, ts, `map<${k.sig}, ${val.sig}>`, 8,
        `const n = r.count(${k.min + val.min}); const out = new Map<${k.ts}, ${val.ts}>(); for (let i = 0; i < n && r.error === null; i++) { const key = ${k.dec("r")}; out.set(key, ${val.dec("r")}); } return out;`,
        `const keys = v.keys(); w.count(keys.length); for (let i = 0; i < keys.length; i++) { const key = unchecked(keys[i]); ${k.enc("w", "key")}; ${val.enc("w", "v.get(key)")}; }`);
    }
    const tuple = /^Tuple([234])$/.exec(name);
    if (tuple && args.length === Number(tuple[1])) {
      const es = args.map((a) => describe(a, gen));
      const ts = `${name}<${es.map((e) => e.ts).join(", ")}>`;
      return helper(gen, ts, `tuple<${es.map((e) => e.sig).join(", ")}>`, es.reduce((s, e) => s + e.min, 0),
        es.map((e, i) => `const f${i} = ${e.dec("r")};`).join(" ") + ` return new ${ts}(${es.map((_, i) => `f${i}`).join(", ")});`,
        es.map((e, i) => e.enc("w", `v.t${i}`) + ";").join(" "));
    }
    const cls = gen.classes.get(name);
    if (cls && args.length === 0) {
      if (!(cls.flags & FLAG_EXPORT)) throw new TaskError(`class ${name} is used by a task, so it must be exported`);
      gen.imports.add(name);
      const fields = cls.members.filter((m) => m.kind === KIND_FIELD && !(m.flags & FLAG_STATIC));
      if (fields.length === 0) throw new TaskError(`class ${name} has no fields`);
      const fs = fields.map((f) => {
        if (!f.type) throw new TaskError(`field ${name}.${f.name.text} needs a declared type`);
        return { name: f.name.text, d: describe(f.type, gen) };
      });
      return helper(gen, name, `struct ${name}{${fs.map((f) => `${f.name}: ${f.d.sig}`).join(", ")}}`,
        fs.reduce((s, f) => s + f.d.min, 0),
        fs.map((f, i) => `const f${i} = ${f.d.dec("r")};`).join(" ") +
          ` const out = changetype<${name}>(__new(offsetof<${name}>(), idof<${name}>()));` +
          fs.map((f, i) => ` out.${f.name} = f${i};`).join("") + " return out;",
        fs.map((f) => f.d.enc("w", `v.${f.name}`) + ";").join(" "));
    }
    throw new TaskError(`the type ${full} has no Weft signature type (see guest-sdk/assemblyscript/README.md)`);
  }
}

/// A pair of generated functions decoding and encoding the type `ts`.
function helper(gen, ts, sig, min, decBody, encBody) {
  const id = gen.helpers.length;
  gen.helpers.push(
    `function __weft_dec${id}(r: Reader): ${ts} { ${decBody} }\n` +
    `function __weft_enc${id}(w: Writer, v: ${ts}): void { ${encBody} }\n`);
  return { sig, ts, min, dec: (r) => `__weft_dec${id}(${r})`, enc: (w, v) => `__weft_enc${id}(${w}, ${v})` };
}

function taskWrapper(fn, gen) {
  const name = fn.name.text;
  if (!(fn.flags & FLAG_EXPORT)) throw new TaskError(`task ${name} must be exported`);
  if (fn.typeParameters && fn.typeParameters.length) throw new TaskError(`task ${name} cannot be generic`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TaskError(`task ${name}: a task's name is letters, digits and _`);
  gen.imports.add(name);
  const params = fn.signature.parameters.map((p) => {
    if (!p.type) throw new TaskError(`task ${name}: parameter ${p.name.text} needs a declared type`);
    return { name: p.name.text, d: describe(p.type, gen) };
  });
  const ret = fn.signature.returnType;
  const isVoid = !ret || (ret.kind === KIND_NAMED_TYPE && typeText(ret) === "void");
  const result = isVoid ? null : describe(ret, gen);
  gen.records.push(`task ${name}(${params.map((p) => `${p.name}: ${p.d.sig}`).join(", ")}) -> ${result ? result.sig : "unit"};`);
  const decode = params.map((p, i) => `  const a${i} = ${p.d.dec("r")};\n`).join("");
  const call = `${name}(${params.map((_, i) => `a${i}`).join(", ")})`;
  return `export function ${TASK_PREFIX}${name}(ptr: usize, len: usize): i32 {\n` +
    `  const r = new Reader(ptr, len);\n${decode}  r.finish();\n` +
    `  if (r.error !== null) return invalidArguments(r, "${name}");\n` +
    (result
      ? `  const out = ${call};\n  if (taskFailed()) return 1;\n  const w = new Writer();\n  ${result.enc("w", "out")};\n  w.send();\n`
      : `  ${call};\n  if (taskFailed()) return 1;\n`) +
    `  return 0;\n}\n`;
}

export default class WeftTransform {
  afterParse(parser) {
    this.records = [];
    const errors = [];
    const generated = [];
    for (const source of parser.sources) {
      if (source.sourceKind !== SOURCE_USER_ENTRY && source.sourceKind !== SOURCE_USER) continue;
      const classes = new Map();
      for (const s of source.statements) if (s.kind === KIND_CLASS) classes.set(s.name.text, s);
      const gen = { source, classes, cache: new Map(), helpers: [], imports: new Set(), records: [] };
      const wrappers = [];
      for (const s of source.statements) {
        if (s.kind !== KIND_FUNCTION || !s.decorators) continue;
        const at = s.decorators.findIndex((d) => d.name && d.name.text === "task");
        if (at < 0) continue;
        s.decorators.splice(at, 1);
        if (!s.decorators.length) s.decorators = null;
        try {
          wrappers.push(taskWrapper(s, gen));
        } catch (e) {
          if (!(e instanceof TaskError)) throw e;
          errors.push(`${source.normalizedPath}: ${e.message}`);
        }
      }
      if (!wrappers.length) continue;
      this.records.push(...gen.records);
      // The generated file is the entry: the task source's own exports
      // (the tasks as AssemblyScript functions, the record classes) are
      // then not exports of the module.
      source.sourceKind = SOURCE_USER;
      const path = source.normalizedPath.replace(/\.ts$/, "");
      const base = path.substring(path.lastIndexOf("/") + 1);
      generated.push({
        path: `${path}__weft_tasks.ts`,
        text: `// Generated by Weft's AssemblyScript transform.\n` +
          `import { Reader, Writer, Some, Tuple2, Tuple3, Tuple4, taskFailed, invalidArguments } from "${SDK}";\n` +
          `export { weft_alloc } from "${SDK}";\n` +
          `import { ${[...gen.imports].join(", ")} } from "./${base}";\n\n` +
          gen.helpers.join("") + "\n" + wrappers.join("\n"),
      });
    }
    if (errors.length) throw new Error("weft: " + errors.join("\nweft: "));
    if (!generated.length) throw new Error("weft: no function is marked @task");
    for (const g of generated) parser.parseFile(g.text, g.path, true);
    const options = this.program.options;
    if (!options.globalAliases) options.globalAliases = new Map();
    options.globalAliases.set("abort", `~lib/${SDK}/index/weftAbort`);
  }

  afterCompile(module) {
    const binaryen = this.binaryen;
    const exports = [];
    for (let i = 0; i < module.getNumExports(); i++) {
      exports.push(binaryen.getExportInfo(module.getExportByIndex(i)));
    }
    for (const e of exports) {
      if (e.kind !== binaryen.ExternalFunction) continue;
      if (e.name.startsWith(TASK_PREFIX)) {
        module.removeExport(e.name);
        module.addFunctionExport(e.value, "weft_task." + e.name.substring(TASK_PREFIX.length));
      } else if (e.name !== "weft_alloc") {
        module.removeExport(e.name);
      }
    }
    module.addCustomSection("weft_tasks", new TextEncoder().encode(this.records.join("\n")));
  }
}
