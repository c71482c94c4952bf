// Weft tasks in AssemblyScript: the same tasks as the Rust test kit
// (tests/guests/testkit), one per kind of value, so that the tests can
// check both give the same bytes. Build (see guest-sdk/assemblyscript):
//   asc examples/assemblyscript/tasks.ts --path guest-sdk/assemblyscript \
//     --transform guest-sdk/assemblyscript/transform.mjs --runtime stub -O3 -o tasks.wasm

import { Some, Tuple2, fail, info, warn } from "weft";

/// A row of the accounts example.
export class Account {
  name: string = "";
  balance: i64 = 0;
}

/// Aggregates over accounts.
export class Summary {
  count: u64 = 0;
  total: i64 = 0;
  by_name: Map<string, i64> = new Map<string, i64>();
  largest: Account | null = null;
}

@task
export function inc(x: i64): i64 {
  return x + 1;
}

@task
export function add(a: i64, b: i64): i64 {
  return a + b;
}

@task
export function scale(x: f64, k: f64): f64 {
  return x * k;
}

@task
export function not(b: bool): bool {
  return !b;
}

@task
export function greet(name: string): string {
  return "hello, " + name;
}

@task
export function reverse_bytes(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[data.length - 1 - i];
  return out;
}

@task
export function keep_multiples_of_3(xs: Array<i64>): Array<i64> {
  return xs.filter((x: i64) => x % 3 == 0);
}

@task
export function sort_words(words: Array<string>): Array<string> {
  return words.sort();
}

@task
export function first_positive(xs: Array<i64>): Some<i64> | null {
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] > 0) return new Some<i64>(xs[i]);
  }
  return null;
}

@task
export function swap(pair: Tuple2<i64, string>): Tuple2<string, i64> {
  return new Tuple2<string, i64>(pair.t1, pair.t0);
}

@task
export function negative_accounts(rows: Array<Account>): Array<Account> {
  return rows.filter((r: Account) => r.balance < 0);
}

@task
export function summarize(rows: Array<Account>): Summary {
  const out = new Summary();
  const names = new Array<string>(0);
  const sums = new Map<string, i64>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (!sums.has(row.name)) {
      names.push(row.name);
      sums.set(row.name, 0);
    }
    sums.set(row.name, sums.get(row.name) + row.balance);
    out.total += row.balance;
    // The last of equal balances, as Rust's max_by_key.
    const largest = out.largest;
    if (largest === null || row.balance >= largest.balance) out.largest = row;
  }
  names.sort();
  for (let i = 0; i < names.length; i++) out.by_name.set(names[i], sums.get(names[i]));
  out.count = <u64>rows.length;
  return out;
}

@task
export function divide(a: i64, b: i64): i64 {
  if (b == 0) return fail<i64>("cannot divide " + a.toString() + " by zero");
  if (a == i64.MIN_VALUE && b == -1) abort("attempt to divide with overflow");
  return a / b;
}

@task
export function nothing(): void {}

@task
export function chatty(message: string): u64 {
  info("chatty says " + message);
  warn("and warns too");
  return <u64>String.UTF8.byteLength(message);
}
