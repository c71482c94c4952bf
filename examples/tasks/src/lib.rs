//! The example task module the README's demo runs: small numeric tasks and
//! the accounts filter of Dask's "Publish Datasets" page.

use serde::{Deserialize, Serialize};
use weft_sdk::{Schema, task};

/// One row of an accounts table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Account {
    /// The holder's name.
    pub name: String,
    /// The balance.
    pub balance: i64,
}

/// Adds one.
#[task]
pub fn inc(x: i64) -> i64 {
    x + 1
}

/// Adds two numbers.
#[task]
pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Sums a list.
#[task]
pub fn sum(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// The n-th Fibonacci number, computed the slow way (a CPU-bound task).
#[task]
pub fn fib(n: u32) -> u64 {
    fn go(n: u32) -> u64 {
        if n < 2 {
            n as u64
        } else {
            go(n - 1) + go(n - 2)
        }
    }
    go(n)
}

/// The sum of the entries of A·B for two `n`×`n` matrices of f64 made
/// from `seed` (a compute-bound task: `n`^3 multiply-adds; the runtime's
/// benchmark runs it in wasm and natively).
#[task]
pub fn matmul(n: u32, seed: u64) -> f64 {
    let n = n as usize;
    let mut state = seed | 1;
    let mut next = move || {
        // xorshift64: the same numbers on every platform.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let a: Vec<f64> = (0..n * n).map(|_| next()).collect();
    let b: Vec<f64> = (0..n * n).map(|_| next()).collect();
    let mut c = vec![0.0f64; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            let row = &b[k * n..(k + 1) * n];
            for (cij, bkj) in c[i * n..(i + 1) * n].iter_mut().zip(row) {
                *cij += aik * bkj;
            }
        }
    }
    c.iter().sum()
}

/// A partition of `len` values `p * len + j`, for the bulk-data benchmark.
#[task]
pub fn gen_partition(p: i64, len: i64) -> Vec<i64> {
    (0..len).map(|j| p * len + j).collect()
}

/// Keeps the values divisible by 3.
#[task]
pub fn keep_multiples_of_3(xs: Vec<i64>) -> Vec<i64> {
    xs.into_iter().filter(|x| x % 3 == 0).collect()
}

/// Parses `name,balance` CSV text (with a header line) into accounts.
#[task]
pub fn parse_accounts(csv: String) -> Result<Vec<Account>, String> {
    let mut rows = Vec::new();
    for (number, line) in csv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (name, balance) = line
            .split_once(',')
            .ok_or_else(|| format!("line {}: expected `name,balance`, got {line:?}", number + 1))?;
        let balance = balance
            .trim()
            .parse()
            .map_err(|e| format!("line {}: bad balance {balance:?}: {e}", number + 1))?;
        rows.push(Account {
            name: name.trim().to_string(),
            balance,
        });
    }
    Ok(rows)
}

/// Keeps the accounts with a negative balance.
#[task]
pub fn negative_accounts(rows: Vec<Account>) -> Vec<Account> {
    rows.into_iter().filter(|r| r.balance < 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_filters() {
        let rows = parse_accounts("name,balance\nAlice,-100\nBob,5\n".to_string()).unwrap();
        assert_eq!(negative_accounts(rows).len(), 1);
        assert!(parse_accounts("name,balance\nbroken\n".to_string()).is_err());
    }
}
