//! Guest-controlled text made safe to show: escaping for log lines
//! ([`escape_for_log`]), terminals ([`escape_for_terminal`]) and JSON printed
//! on a terminal ([`escape_json_for_terminal`]), and the cap on task messages
//! ([`cap_message`], [`truncate_message`]).
//!
//! Escaped are every control character (C0 including `\n`, `\r`, `\t`, NUL
//! and ESC; DEL; C1, U+0080–U+009F, which some terminals read as ESC
//! sequences: U+009B is a CSI), the Unicode bidi overrides and isolates
//! (U+202A–U+202E, U+2066–U+2069), which reorder what a reader sees, and the
//! line and paragraph separators U+2028 and U+2029, which some viewers break
//! lines at. The escapes are Rust's: `\n`, `\r`, `\t`, `\0`, `\x1b` for the
//! other C0 characters and DEL, `\u{9b}` for the rest. A backslash is
//! escaped too, as `\\`, so that every backslash in the output starts an
//! escape and a guest cannot write text that reads as one (`\n` typed as two
//! characters shows as `\\n`).

use crate::config::TASK_MESSAGE_BYTES_MAX;
use std::borrow::Cow;
use std::fmt::Write;

/// What is appended to a message cut at [`TASK_MESSAGE_BYTES_MAX`].
pub const TRUNCATED_SUFFIX: &str = " [truncated]";

/// `text` with every control character, bidi control and backslash escaped
/// (see the module documentation), fit for one log line: the result holds
/// no character below U+0020, no DEL and no C1 character.
pub fn escape_for_log(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// Like [`escape_for_log`], but `\n` and `\t` are kept, so that multi-line
/// messages (a Rust `assert_eq!` panic, a backtrace) stay readable on a
/// terminal. Nothing else that moves the cursor or starts an escape
/// sequence is kept: no `\r`, no ESC, no C1.
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// JSON text as `serde_json` writes it, with the characters it leaves raw
/// but a terminal may act on (DEL, C1, bidi controls, U+2028 and U+2029)
/// written as `\uXXXX` escapes. The result is the same JSON value: those
/// characters only ever occur inside strings, where the escape is valid.
/// `\n` is kept (it separates the lines of indented JSON); a backslash is
/// left alone, since in JSON it already starts an escape.
pub fn escape_json_for_terminal(json: &str) -> Cow<'_, str> {
    if !json.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c != '\n' && needs_escape(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The message in `bytes` (UTF-8, invalid sequences replaced) cut to at
/// most [`TASK_MESSAGE_BYTES_MAX`] bytes at a character boundary, with
/// [`TRUNCATED_SUFFIX`] when cut. Only that many bytes of `bytes` are read,
/// so a guest's 256 MiB message costs the host 64 KiB.
pub fn cap_message(bytes: &[u8]) -> String {
    let mut end = bytes.len().min(TASK_MESSAGE_BYTES_MAX);
    // Do not cut a multi-byte character in two (which would end the message
    // with a replacement character): back off over its continuation bytes.
    for _ in 0..3 {
        if end > 0 && end < bytes.len() && bytes[end] & 0xC0 == 0x80 {
            end -= 1;
        }
    }
    let text = String::from_utf8_lossy(&bytes[..end]).into_owned();
    if end < bytes.len() {
        cut(text)
    } else {
        truncate_message(text)
    }
}

/// `message` cut to at most [`TASK_MESSAGE_BYTES_MAX`] bytes at a character
/// boundary, with [`TRUNCATED_SUFFIX`] when cut.
pub fn truncate_message(message: String) -> String {
    if message.len() > TASK_MESSAGE_BYTES_MAX {
        cut(message)
    } else {
        message
    }
}

fn cut(mut message: String) -> String {
    let mut end = message.len().min(TASK_MESSAGE_BYTES_MAX);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(TRUNCATED_SUFFIX);
    message
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let kept = |c: char| keep_newlines && (c == '\n' || c == '\t');
    let escaped = |c: char| c == '\\' || (needs_escape(c) && !kept(c));
    let Some(first) = text.find(escaped) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !escaped(c) {
            out.push(c);
            continue;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// Whether `c` is a character no guest may put raw on a log line or a
/// terminal (backslash aside): C0, DEL, C1, bidi overrides and isolates,
/// line and paragraph separators.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{2028}'
        | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters that must never appear raw in escaped output.
    fn forbidden(c: char, keep_newlines: bool) -> bool {
        needs_escape(c) && !(keep_newlines && (c == '\n' || c == '\t'))
    }

    #[test]
    fn log_escapes_newlines_and_escape_sequences() {
        assert_eq!(
            escape_for_log("a\nERROR fake\r\t\0\x1b]0;t\x07"),
            "a\\nERROR fake\\r\\t\\0\\x1b]0;t\\x07"
        );
        assert_eq!(escape_for_log("\u{7f}\u{9b}31m"), "\\x7f\\u{9b}31m");
        assert_eq!(
            escape_for_log("\u{202e}evil\u{2066}\u{2028}"),
            "\\u{202e}evil\\u{2066}\\u{2028}"
        );
        assert_eq!(
            escape_for_log(r"a\nb"),
            r"a\\nb",
            "a typed escape is not faked"
        );
    }

    #[test]
    fn terminal_keeps_newlines_and_tabs_only() {
        assert_eq!(
            escape_for_terminal("left:\n\t1\r\x1b[2J\\"),
            "left:\n\t1\\r\\x1b[2J\\\\"
        );
    }

    #[test]
    fn safe_text_is_borrowed_unchanged() {
        for text in ["", "plain text", "wörld ✓ 日本", "tabs\tand\nlines"] {
            assert!(matches!(escape_for_terminal(text), Cow::Borrowed(t) if t == text));
        }
        assert!(matches!(escape_for_log("wörld ✓"), Cow::Borrowed(_)));
        assert!(matches!(
            escape_json_for_terminal("{\"a\":\n1}"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn no_character_passes_raw_unless_it_is_safe() {
        // Every Unicode scalar value, one chunk at a time.
        let all: Vec<char> = (0..=0x10FFFFu32).filter_map(char::from_u32).collect();
        for chunk in all.chunks(4096) {
            let text: String = chunk.iter().collect();
            for keep_newlines in [false, true] {
                let out = escape(&text, keep_newlines);
                if let Some(bad) = out.chars().find(|&c| forbidden(c, keep_newlines)) {
                    panic!(
                        "U+{:04X} passed raw (keep_newlines {keep_newlines})",
                        bad as u32
                    );
                }
                // Bytes too: nothing below 0x20 but the kept ones, no 0x7f,
                // and no C1 (0xC2 0x80..=0x9F in UTF-8).
                let bytes = out.as_bytes();
                for (i, &b) in bytes.iter().enumerate() {
                    let kept = keep_newlines && (b == b'\n' || b == b'\t');
                    assert!(b >= 0x20 || kept, "byte {b:#x} passed raw");
                    assert_ne!(b, 0x7f);
                    if b == 0xC2 {
                        assert!(!(0x80..=0x9F).contains(&bytes[i + 1]), "C1 passed raw");
                    }
                }
            }
            let json = escape_json_for_terminal(&text);
            assert!(!json.chars().any(|c| c != '\n' && needs_escape(c)));
        }
    }

    #[test]
    fn json_escapes_stay_the_same_json_value() {
        // serde_json leaves DEL, C1 and bidi controls raw inside strings.
        let json = "{\"k\u{9b}\":\n  \"\u{7f}\u{202e}x\\\\\"}";
        assert_eq!(
            escape_json_for_terminal(json),
            "{\"k\\u009b\":\n  \"\\u007f\\u202ex\\\\\"}"
        );
    }

    #[test]
    fn messages_are_capped_at_a_character_boundary() {
        let short = "short ✓".as_bytes();
        assert_eq!(cap_message(short), "short ✓");
        // 'é' is two bytes, so a cut at the (even) limit after one 'a'
        // would split one.
        let long = format!("a{}", "é".repeat(TASK_MESSAGE_BYTES_MAX));
        let capped = cap_message(long.as_bytes());
        assert!(capped.ends_with(TRUNCATED_SUFFIX));
        let body = capped.strip_suffix(TRUNCATED_SUFFIX).unwrap();
        assert_eq!(body.len(), TASK_MESSAGE_BYTES_MAX - 1);
        assert!(!body.contains('\u{fffd}'), "no replacement character");
        let three = "€".repeat(TASK_MESSAGE_BYTES_MAX);
        let capped = cap_message(&three.as_bytes()[1..]);
        assert!(capped.len() <= TASK_MESSAGE_BYTES_MAX + TRUNCATED_SUFFIX.len());
        assert_eq!(truncate_message(long.clone()), cap_message(long.as_bytes()));
        // Invalid bytes grow when replaced; the result is still capped.
        let invalid = vec![0xFFu8; TASK_MESSAGE_BYTES_MAX];
        let capped = cap_message(&invalid);
        assert!(capped.len() <= TASK_MESSAGE_BYTES_MAX + TRUNCATED_SUFFIX.len());
        assert!(capped.ends_with(TRUNCATED_SUFFIX));
        let exact = "a".repeat(TASK_MESSAGE_BYTES_MAX);
        assert_eq!(
            cap_message(exact.as_bytes()),
            exact,
            "at the limit is not cut"
        );
    }
}
