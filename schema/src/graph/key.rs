//! Task keys: the hex form of [`TaskKey`], and the two derivations
//! (`GRAPH.md`, "Keys"). Both hash an unambiguous encoding with BLAKE3 and
//! keep the first 16 bytes of the digest; their inputs start with different
//! fixed prefixes, so a deterministic key never equals a unique key except by
//! a 128-bit collision.

use super::{GraphArg, KeyHexError, TASK_KEY_BYTES, TaskKey};
use std::fmt;
use std::str::FromStr;

/// Prefix of the hashed input of [`deterministic_key`].
pub(crate) const DETERMINISTIC_PREFIX: &[u8] = b"weft/task-key/deterministic/v1\0";
/// Prefix of the hashed input of [`unique_key`].
pub(crate) const UNIQUE_PREFIX: &[u8] = b"weft/task-key/unique/v1\0";

/// Tag of a literal value argument in the [`deterministic_key`] input.
const TAG_VALUE: u8 = 0;
/// Tag of a key argument in the [`deterministic_key`] input.
const TAG_KEY: u8 = 1;

/// The key of a pure task: the same module, function and arguments always
/// give the same key, and any difference gives a different key.
///
/// BLAKE3 over, in order: the prefix `weft/task-key/deterministic/v1` and a
/// zero byte; the 32 module bytes; the function name's length as a u64
/// little-endian, then its bytes; the number of arguments as a u64
/// little-endian; for each argument a tag byte, then for a literal value
/// (tag 0) its length as a u64 little-endian and its bytes, for a key
/// (tag 1) its 16 bytes. The key is the first 16 bytes of the digest.
///
/// Arguments are hashed separately, so `[1, 2] + [3]` and `[1] + [2, 3]`
/// (the same bytes at run time) give different keys, as do a literal value
/// and a key with the same bytes.
pub fn deterministic_key(module: &[u8; 32], function: &str, args: &[GraphArg]) -> TaskKey {
    let mut hasher = blake3::Hasher::new();
    hasher.update(DETERMINISTIC_PREFIX);
    hasher.update(module);
    hasher.update(&len_le(function.len()));
    hasher.update(function.as_bytes());
    hasher.update(&len_le(args.len()));
    for arg in args {
        match arg {
            GraphArg::Value(bytes) => {
                hasher.update(&[TAG_VALUE]);
                hasher.update(&len_le(bytes.len()));
                hasher.update(bytes);
            }
            GraphArg::Key(key) => {
                hasher.update(&[TAG_KEY]);
                hasher.update(&key.0);
            }
        }
    }
    truncate(hasher.finalize())
}

/// A key for a task that is not pure: BLAKE3 over the prefix
/// `weft/task-key/unique/v1` and a zero byte, then `seed` and `counter` as
/// u64 little-endian, truncated to 16 bytes.
///
/// `seed` should be random (drawn once per client session) and `counter`
/// should count the keys made with that seed, so that no two tasks of any
/// client share a key.
pub fn unique_key(seed: u64, counter: u64) -> TaskKey {
    let mut hasher = blake3::Hasher::new();
    hasher.update(UNIQUE_PREFIX);
    hasher.update(&seed.to_le_bytes());
    hasher.update(&counter.to_le_bytes());
    truncate(hasher.finalize())
}

/// The key of data a client scatters: the hash of its encoded bytes, so
/// scattering the same value twice gives the same key.
pub fn scatter_key(bytes: &[u8]) -> TaskKey {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"weft/task-key/scatter/v1\0");
    hasher.update(&len_le(bytes.len()));
    hasher.update(bytes);
    truncate(hasher.finalize())
}

fn len_le(len: usize) -> [u8; 8] {
    // usize is at most 64 bits on every supported target.
    (len as u64).to_le_bytes()
}

fn truncate(hash: blake3::Hash) -> TaskKey {
    let mut key = [0; TASK_KEY_BYTES];
    key.copy_from_slice(&hash.as_bytes()[..TASK_KEY_BYTES]);
    TaskKey(key)
}

impl TaskKey {
    /// Parses 32 hex digits (either case), the form [`Display`](fmt::Display)
    /// writes.
    pub fn from_hex(text: &str) -> Result<Self, KeyHexError> {
        let bytes = text.as_bytes();
        if bytes.len() != 2 * TASK_KEY_BYTES {
            return Err(KeyHexError::Length { len: bytes.len() });
        }
        let mut key = [0; TASK_KEY_BYTES];
        for (index, pair) in bytes.chunks_exact(2).enumerate() {
            let digit = |offset: usize| {
                let byte = pair[offset];
                char::from(byte)
                    .to_digit(16)
                    .map(|d| d as u8)
                    .ok_or_else(|| {
                        // Report the whole character holding the byte.
                        let at = 2 * index + offset;
                        let (offset, found) = text
                            .char_indices()
                            .find(|&(start, c)| at < start + c.len_utf8())
                            .unwrap_or((at, '\u{fffd}'));
                        KeyHexError::Digit { offset, found }
                    })
            };
            key[index] = digit(0)? << 4 | digit(1)?;
        }
        Ok(Self(key))
    }
}

impl FromStr for TaskKey {
    type Err = KeyHexError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hex(text)
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskKey({self})")
    }
}
