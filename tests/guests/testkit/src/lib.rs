//! Well-behaved tasks covering every kind of value that crosses the task
//! boundary, a fallible task, logging, and global state (for the isolation
//! test). Used by the runtime and CLI tests.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use weft_sdk::{Schema, task};

/// A row of the accounts example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Account {
    /// The holder's name.
    pub name: String,
    /// The balance, in cents.
    pub balance: i64,
}

/// Aggregates over accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Summary {
    /// How many rows.
    pub count: u64,
    /// The sum of balances.
    pub total: i64,
    /// Balance by name.
    pub by_name: BTreeMap<String, i64>,
    /// The largest balance, if any rows.
    pub largest: Option<Account>,
}

/// A shape, for enum round trips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub enum Shape {
    /// A circle with a radius.
    Circle(f64),
    /// A rectangle.
    Rect {
        /// Width.
        w: f64,
        /// Height.
        h: f64,
    },
    /// Nothing.
    Empty,
}

#[task]
pub fn inc(x: i64) -> i64 {
    x + 1
}

#[task]
pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[task]
pub fn scale(x: f64, k: f64) -> f64 {
    x * k
}

#[task]
pub fn not(b: bool) -> bool {
    !b
}

#[task]
pub fn greet(name: String) -> String {
    format!("hello, {name}")
}

#[task]
pub fn reverse_bytes(data: Vec<u8>) -> Vec<u8> {
    data.into_iter().rev().collect()
}

/// The values divisible by 3, in order (a bulk `list<i64>` both ways; the
/// C SDK's version is in examples/c/tasks.c).
#[task]
pub fn keep_multiples_of_3(xs: Vec<i64>) -> Vec<i64> {
    xs.into_iter().filter(|x| x % 3 == 0).collect()
}

#[task]
pub fn sort_words(words: Vec<String>) -> Vec<String> {
    let mut words = words;
    words.sort();
    words
}

#[task]
pub fn first_positive(xs: Vec<i64>) -> Option<i64> {
    xs.into_iter().find(|x| *x > 0)
}

#[task]
pub fn swap(pair: (i64, String)) -> (String, i64) {
    (pair.1, pair.0)
}

#[task]
pub fn negative_accounts(rows: Vec<Account>) -> Vec<Account> {
    rows.into_iter().filter(|r| r.balance < 0).collect()
}

#[task]
pub fn summarize(rows: Vec<Account>) -> Summary {
    let mut by_name = BTreeMap::new();
    for row in &rows {
        *by_name.entry(row.name.clone()).or_insert(0) += row.balance;
    }
    Summary {
        count: rows.len() as u64,
        total: rows.iter().map(|r| r.balance).sum(),
        by_name,
        largest: rows.iter().max_by_key(|r| r.balance).cloned(),
    }
}

#[task]
pub fn area(shape: Shape) -> f64 {
    match shape {
        Shape::Circle(r) => std::f64::consts::PI * r * r,
        Shape::Rect { w, h } => w * h,
        Shape::Empty => 0.0,
    }
}

#[task]
pub fn divide(a: i64, b: i64) -> Result<i64, String> {
    if b == 0 {
        Err(format!("cannot divide {a} by zero"))
    } else {
        Ok(a / b)
    }
}

#[task]
pub fn nothing() {}

static CALLS: AtomicU64 = AtomicU64::new(0);

/// Counts its own calls in a global: a fresh instance per call means it
/// always returns 1.
#[task]
pub fn count_calls() -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst) + 1
}

#[task]
pub fn chatty(message: String) -> u64 {
    weft_sdk::info!("chatty says {message}");
    weft_sdk::warn!("and warns too");
    message.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_plain_functions_natively() {
        assert_eq!(inc(1), 2);
        assert_eq!(divide(1, 0), Err("cannot divide 1 by zero".to_string()));
        assert_eq!(count_calls(), 1);
    }
}
