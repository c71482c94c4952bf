//! Fuzz target: guest text made safe to show (`weft_runtime::text`,
//! `host/runtime/src/text.rs`): a guest's message bytes capped and decoded
//! (`cap_message`), then escaped for a log line, a terminal, and JSON on a
//! terminal.
//!
//! Input: `flags: u8`, then the guest's bytes; `flags & 7 == 7` repeats them past
//! `TASK_MESSAGE_BYTES_MAX` (64 KiB), so that the cut is reached.
//!
//! Checked, as the module documentation promises: a capped message is at
//! most 64 KiB plus the suffix, and a short valid message is unchanged;
//! text escaped for a log holds no control character (C0, DEL, C1), no bidi
//! control and no line or paragraph separator, and for a terminal the same
//! except `\n` and `\t`; JSON escaped for a terminal holds none of those
//! either (outside `\n`) and is the same JSON value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_fuzz::Input;
use weft_runtime::config::TASK_MESSAGE_BYTES_MAX;
use weft_runtime::text::{
    TRUNCATED_SUFFIX, cap_message, escape_for_log, escape_for_terminal, escape_json_for_terminal,
    truncate_message,
};

/// The longest text escaped per input.
const SHORT_BYTES_MAX: usize = 4096;

/// What the escapes must never leave raw (the module documentation).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || c == '\u{2028}'
        || c == '\u{2029}'
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let repeat = input.u8() & 7 == 7;
    let guest = input.rest();
    let long;
    let bytes = if repeat && !guest.is_empty() {
        long = guest.repeat(TASK_MESSAGE_BYTES_MAX / guest.len() + 2);
        &long[..]
    } else {
        guest
    };

    let message = cap_message(bytes);
    assert!(message.len() <= TASK_MESSAGE_BYTES_MAX + TRUNCATED_SUFFIX.len());
    if bytes.len() <= TASK_MESSAGE_BYTES_MAX
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        assert_eq!(message, text, "a short message was changed");
    }
    let lossy = String::from_utf8_lossy(bytes).into_owned();
    assert!(truncate_message(lossy).len() <= TASK_MESSAGE_BYTES_MAX + TRUNCATED_SUFFIX.len());

    // Escaping 64 KiB is slow under the sanitizer: a long message's cut is
    // checked above, its start escaped below.
    let text = if message.len() > SHORT_BYTES_MAX {
        let mut end = SHORT_BYTES_MAX;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message[..end].to_owned()
    } else {
        message
    };
    let log = escape_for_log(&text);
    if let Some(c) = log.chars().find(|&c| unsafe_char(c)) {
        panic!("escape_for_log left {c:?}");
    }
    let terminal = escape_for_terminal(&text);
    if let Some(c) = terminal
        .chars()
        .find(|&c| c != '\n' && c != '\t' && unsafe_char(c))
    {
        panic!("escape_for_terminal left {c:?}");
    }
    let value = serde_json::Value::String(text);
    let json = serde_json::to_string(&value).expect("a JSON string serializes");
    let shown = escape_json_for_terminal(&json);
    if let Some(c) = shown.chars().find(|&c| c != '\n' && unsafe_char(c)) {
        panic!("escape_json_for_terminal left {c:?}");
    }
    let parsed: serde_json::Value = serde_json::from_str(&shown).expect("escaped JSON parses");
    assert!(parsed == value, "escaped JSON is another value");
});
