// Builds a JavaScript module of Weft tasks into a task component:
//
//   node guest-sdk/javascript/build.mjs tasks.js -o tasks.wasm
//
// Imports tasks.js here (in node) to read its declared signatures, writes
// the WIT of its `tasks` interface beside Weft's world
// (schema/wit/weft-task.wit) and a small entry module beside tasks.js, and
// runs componentize-js ($COMPONENTIZE_JS, the path of its cli.js, or the
// copy tools/setup-polyglot installs) with every WASI feature disabled: the
// component imports nothing but Weft's host interface.

import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { registry, witName } from "./weft.js";

const sdk = dirname(fileURLToPath(import.meta.url));
const world = join(sdk, "..", "..", "schema", "wit", "weft-task.wit");

function fail(message) {
  console.error(`weft build: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { module: null, output: null, witOnly: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "-o") args.output = argv[++i];
    else if (argv[i] === "--wit-only") args.witOnly = argv[++i];
    else args.module = argv[i];
  }
  if (!args.module) fail("usage: node build.mjs TASKS.js -o OUT.wasm [--wit-only DIR]");
  return args;
}

function records(types, found = []) {
  for (const t of types) {
    records(t.items ?? [], found);
    if (t.kind === "record") {
      records(t.fields.map(([, ft]) => ft), found);
      if (!found.includes(t)) found.push(t);
    }
  }
  return found;
}

function tasksInterface() {
  const lines = ["package weft:task@0.1.0;", "", "interface tasks {"];
  const all = registry.flatMap((t) => [...t.params.map(([, ty]) => ty), t.result]);
  for (const r of records(all)) {
    const fields = r.fields.map(([name, ty]) => `%${witName(name)}: ${ty.wit}`).join(", ");
    lines.push(`  record ${r.wit} { ${fields} }`);
  }
  const seen = new Set();
  for (const t of registry) {
    const name = witName(t.name);
    if (seen.has(name)) fail(`two tasks are named ${t.name}`);
    seen.add(name);
    const params = t.params.map(([p, ty]) => `%${witName(p)}: ${ty.wit}`).join(", ");
    const ok = t.result.kind === "unit" ? "_" : t.result.wit;
    lines.push(`  %${name}: func(${params}) -> result<${ok}, string>;`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

const args = parseArgs(process.argv.slice(2));
const module = resolve(args.module);
try {
  await import(pathToFileURL(module).href);
} catch (error) {
  fail(`could not import ${module}: ${error.stack ?? error}`);
}
if (registry.length === 0) fail(`${module} declares no tasks`);
let wit;
try {
  wit = tasksInterface();
} catch (error) {
  fail(error.message);
}

const scratch = mkdtempSync(join(tmpdir(), "weft-js-"));
const entry = join(dirname(module), `.weft-entry-${process.pid}.js`);
let problem = null;
try {
  const witDir = args.witOnly ? resolve(args.witOnly) : join(scratch, "wit");
  mkdirSync(witDir, { recursive: true });
  copyFileSync(world, join(witDir, "weft-task.wit"));
  writeFileSync(join(witDir, "tasks.wit"), wit);
  if (!args.witOnly && !args.output) problem = "give -o OUTPUT";
  if (!args.witOnly && args.output) problem = componentize(witDir);
} finally {
  rmSync(entry, { force: true });
  rmSync(scratch, { recursive: true, force: true });
}
if (problem) fail(problem);

/** Runs componentize-js on an entry module; an error message, or null. */
function componentize(witDir) {
  let sdkPath = relative(dirname(module), join(sdk, "weft.js"));
  if (!sdkPath.startsWith(".")) sdkPath = `./${sdkPath}`;
  writeFileSync(
    entry,
    [
      "// Written by weft's build: the component's entry point.",
      'import * as host from "weft:task/host@0.1.0";',
      `import { exportTasks } from ${JSON.stringify(sdkPath)};`,
      `import ${JSON.stringify(`./${basename(module)}`)};`,
      "export const tasks = exportTasks(host);",
      "",
    ].join("\n"),
  );
  const toolchains = process.env.WEFT_TOOLCHAINS ?? join(homedir(), ".cache", "weft", "toolchains");
  const cli =
    process.env.COMPONENTIZE_JS ??
    join(toolchains, "javascript", "node_modules", "@bytecodealliance", "componentize-js", "src", "cli.js");
  const done = spawnSync(
    process.execPath,
    [cli, entry, "--wit", witDir, "-n", "task", "-d", "stdio", "random", "clocks", "http", "fetch-event",
      "-o", resolve(args.output)],
    { encoding: "utf8" },
  );
  if (done.status === 0) return null;
  process.stderr.write((done.stdout ?? "") + (done.stderr ?? "") + (done.error ? String(done.error) : ""));
  return `componentize-js failed (${done.status})`;
}
