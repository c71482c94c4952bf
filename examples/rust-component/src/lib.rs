//! Weft tasks in Rust as a component: the Rust test kit's tasks
//! (tests/guests/testkit) written against the `weft:task` world with
//! wit-bindgen, so that the tests compare a component's tasks with the same
//! tasks as a core module, byte for byte. A panic goes to the host's
//! `abort` (as an uncaught exception does in Python or JavaScript), so it
//! is a panic error with its message, not a bare trap.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

wit_bindgen::generate!({ path: "wit", world: "task" });

use exports::weft::task::tasks::{Account, Guest};
use weft::task::host;

struct Tasks;

impl Guest for Tasks {
    fn inc(x: i64) -> i64 {
        x.wrapping_add(1)
    }
    fn add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    fn scale(x: f64, k: f64) -> f64 {
        x * k
    }
    fn not(b: bool) -> bool {
        !b
    }
    fn greet(name: String) -> String {
        format!("hello, {name}")
    }
    fn reverse_bytes(mut data: Vec<u8>) -> Vec<u8> {
        data.reverse();
        data
    }
    fn keep_multiples_of_3(xs: Vec<i64>) -> Vec<i64> {
        xs.into_iter().filter(|x| x % 3 == 0).collect()
    }
    fn sort_words(mut words: Vec<String>) -> Vec<String> {
        words.sort();
        words
    }
    fn first_positive(xs: Vec<i64>) -> Option<i64> {
        xs.into_iter().find(|&x| x > 0)
    }
    fn swap(pair: (i64, String)) -> (String, i64) {
        (pair.1, pair.0)
    }
    fn negative_accounts(rows: Vec<Account>) -> Vec<Account> {
        rows.into_iter().filter(|row| row.balance < 0).collect()
    }
    fn divide(a: i64, b: i64) -> Result<i64, String> {
        if b == 0 {
            return Err(format!("cannot divide {a} by zero"));
        }
        match a.checked_div(b) {
            Some(quotient) => Ok(quotient),
            None => panic!("attempt to divide with overflow"),
        }
    }
    fn nothing() {}
    fn chatty(message: String) -> u64 {
        host::log(3, &format!("chatty says {message}"));
        host::log(2, "and warns too");
        message.len() as u64
    }
}

export!(Tasks);

/// A panic ends the task through the host, with its message.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let message = info.message().to_string();
    host::abort(&message, "");
    core::arch::wasm32::unreachable()
}

/// The allocator a `no_std` component needs: a bump allocator over memory
/// grown on demand (a task's instance lives for one call).
mod allocator {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::Cell;

    struct Bump {
        next: Cell<usize>,
        end: Cell<usize>,
    }

    // SAFETY: a wasm32 task runs on one thread.
    unsafe impl Sync for Bump {}

    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let start = (self.next.get() + layout.align() - 1) & !(layout.align() - 1);
            let end = start + layout.size();
            if end > self.end.get() {
                let pages = (end - self.end.get()).div_ceil(65536).max(16);
                let old = core::arch::wasm32::memory_grow(0, pages);
                if old == usize::MAX {
                    return core::ptr::null_mut();
                }
                if self.end.get() == 0 {
                    let base = old * 65536;
                    self.next.set(base);
                    self.end.set(base + pages * 65536);
                    // SAFETY: the same layout, now with room.
                    return unsafe { self.alloc(layout) };
                }
                self.end.set(self.end.get() + pages * 65536);
            }
            self.next.set(end);
            start as *mut u8
        }

        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
    }

    #[global_allocator]
    static ALLOCATOR: Bump = Bump {
        next: Cell::new(0),
        end: Cell::new(0),
    };
}
