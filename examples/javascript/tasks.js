// Weft tasks in JavaScript: the Rust test kit's tasks (tests/guests/testkit)
// that JavaScript has types for, so that the tests can check that both give
// the same bytes, `names` for the polyglot example, and four that show how a
// JavaScript task fails. Build it
// (see guest-sdk/javascript/README.md):
//
//   node guest-sdk/javascript/build.mjs examples/javascript/tasks.js -o tasks-javascript.wasm

import {
  Failure, bool, bytes, f64, i64, list, option, record, string, task, tuple, u64, unit,
} from "../../guest-sdk/javascript/weft.js";

const Account = record("Account", { name: string, balance: i64 });

// The Rust test kit's release build wraps on overflow; BigInt never does.
const wrapping = (x) => BigInt.asIntN(64, x);

task("inc", { x: i64 }, i64, (x) => wrapping(x + 1n));
task("add", { a: i64, b: i64 }, i64, (a, b) => wrapping(a + b));
task("scale", { x: f64, k: f64 }, f64, (x, k) => x * k);
task("not", { b: bool }, bool, (b) => !b);
task("greet", { name: string }, string, (name) => "hello, " + name);
task("reverse_bytes", { data: bytes }, bytes, (data) => data.slice().reverse());
task("keep_multiples_of_3", { xs: list(i64) }, list(i64), (xs) => xs.filter((x) => x % 3n === 0n));
// Rust sorts strings by their UTF-8 bytes: compare code points, not UTF-16 units.
task("sort_words", { words: list(string) }, list(string), (words) =>
  [...words].sort((a, b) => {
    const x = [...a].map((c) => c.codePointAt(0));
    const y = [...b].map((c) => c.codePointAt(0));
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  }),
);
task("first_positive", { xs: list(i64) }, option(i64), (xs) => xs.find((x) => x > 0n));
task("swap", { pair: tuple(i64, string) }, tuple(string, i64), ([n, s]) => [s, n]);
task("negative_accounts", { rows: list(Account) }, list(Account), (rows) =>
  rows.filter((row) => row.balance < 0n),
);
task("divide", { a: i64, b: i64 }, i64, (a, b) => {
  if (b === 0n) throw new Failure(`cannot divide ${a} by zero`);
  // BigInt division does not overflow: i64::MIN / -1 gives 2**63, which the
  // result check refuses as a panic, as Rust's overflow panics.
  return a / b;
});
task("nothing", {}, unit, () => {});
task("chatty", { message: string }, u64, (message) => {
  console.log("chatty says", message);
  console.warn("and warns too");
  return BigInt(new TextEncoder().encode(message).length);
});

// For the polyglot example (examples/src/polyglot.rs).
task("names", { rows: list(Account) }, list(string), (rows) => rows.map((row) => row.name));

// How a task fails.
task("raises", { message: string }, i64, (message) => {
  throw new Error(message);
});
task("spin", {}, i64, () => {
  for (;;) {}
});
task("hoard", { mib: i64 }, i64, (mib) => BigInt(new Uint8Array(Number(mib) << 20).length));
task("big", { n: i64 }, string, (n) => "x".repeat(Number(n)));
