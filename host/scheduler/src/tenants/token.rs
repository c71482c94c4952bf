//! The token format and its pieces: generating `weft_<id>_<secret>` from
//! the OS's CSPRNG, splitting a presented token, the `blake3:<hex>` hash
//! the file stores and its constant-time comparison, and the RFC 3339 UTC
//! timestamps of the `created` field (formatted and checked with std only).

use std::time::{SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;
use weft_proto::auth::Secret;
use zeroize::Zeroizing;

/// What every token starts with.
const TOKEN_PREFIX: &str = "weft_";
/// Characters of a token's id (6 random bytes).
const ID_HEX_CHARS: usize = 12;
/// Characters of a token's secret (32 random bytes, 256 bits).
const SECRET_HEX_CHARS: usize = 64;
/// What a stored hash starts with.
const HASH_PREFIX: &str = "blake3:";

/// Whether `text` is `len` lowercase hex characters.
fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `id` is a token id: 12 lowercase hex characters.
pub(super) fn is_token_id(id: &str) -> bool {
    is_lower_hex(id, ID_HEX_CHARS)
}

/// Appends the lowercase hex of `bytes` to `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

/// The value of one lowercase hex digit.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// The stored form of a token: BLAKE3 of its secret part's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of a secret part (the 64 hex characters after the id).
    pub(super) fn of_secret(secret: &str) -> TokenHash {
        TokenHash(*blake3::hash(secret.as_bytes()).as_bytes())
    }

    /// Parses `blake3:<64 lowercase hex>`.
    pub(super) fn parse(text: &str) -> Option<TokenHash> {
        let hex = text.strip_prefix(HASH_PREFIX)?;
        if !is_lower_hex(hex, 64) {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Some(TokenHash(bytes))
    }

    /// The `blake3:<hex>` text written to the file.
    pub(super) fn to_text(self) -> String {
        let mut text = String::with_capacity(HASH_PREFIX.len() + 64);
        text.push_str(HASH_PREFIX);
        push_hex(&mut text, &self.0);
        text
    }

    /// Whether the two hashes are equal, in time that does not depend on
    /// where they differ.
    pub(super) fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A presented token split into its parts (both borrowed from it).
#[derive(Clone, Copy)]
pub(super) struct TokenParts<'a> {
    /// The public id.
    pub(super) id: &'a str,
    /// The secret part; never logged.
    pub(super) secret: &'a str,
}

/// Splits `weft_<12 hex>_<64 hex>`; `None` if the token has any other
/// shape (surrounding whitespace included: callers trim what they read).
pub(super) fn split_token(token: &str) -> Option<TokenParts<'_>> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if !is_lower_hex(id, ID_HEX_CHARS) || !is_lower_hex(secret, SECRET_HEX_CHARS) {
        return None;
    }
    Some(TokenParts { id, secret })
}

/// A freshly generated token: the whole token (shown once) and what the
/// file keeps of it.
pub(super) struct NewToken {
    /// `weft_<id>_<secret>`.
    pub(super) token: Secret,
    /// Its id.
    pub(super) id: String,
    /// The hash of its secret part.
    pub(super) hash: TokenHash,
}

/// How many times a new id is drawn when it collides with an existing one
/// (with 48 random bits, a second draw is already astronomically rare).
const ID_DRAWS_MAX: usize = 16;

/// Why a token could not be generated.
pub(super) enum GenerateFailure {
    /// The OS's random number generator failed.
    Random(getrandom::Error),
    /// Every drawn id was already taken.
    IdsTaken,
}

/// Generates a token whose id `taken` says is free.
pub(super) fn generate(taken: impl Fn(&str) -> bool) -> Result<NewToken, GenerateFailure> {
    let mut id = None;
    for _ in 0..ID_DRAWS_MAX {
        let mut bytes = [0u8; ID_HEX_CHARS / 2];
        getrandom::fill(&mut bytes).map_err(GenerateFailure::Random)?;
        let mut candidate = String::with_capacity(ID_HEX_CHARS);
        push_hex(&mut candidate, &bytes);
        if !taken(&candidate) {
            id = Some(candidate);
            break;
        }
    }
    let id = id.ok_or(GenerateFailure::IdsTaken)?;
    let mut secret_bytes = Zeroizing::new([0u8; SECRET_HEX_CHARS / 2]);
    getrandom::fill(secret_bytes.as_mut()).map_err(GenerateFailure::Random)?;
    let mut secret = Zeroizing::new(String::with_capacity(SECRET_HEX_CHARS));
    push_hex(&mut secret, secret_bytes.as_ref());
    let hash = TokenHash::of_secret(&secret);
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + ID_HEX_CHARS + 1 + SECRET_HEX_CHARS);
    token.push_str(TOKEN_PREFIX);
    token.push_str(&id);
    token.push('_');
    token.push_str(&secret);
    Ok(NewToken {
        token: Secret::new(token),
        id,
        hash,
    })
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar, counting in 400-year eras of 146 097 days whose years start
/// on March 1st (so the leap day is the last day of a year).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days from 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097); // 0..=146_096
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // 0 = March .. 11 = February
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=12 and 1..=31).
    (year, month as u32, day as u32)
}

/// `time` as RFC 3339 UTC with whole seconds, `2026-12-01T07:00:00Z`
/// (times before 1970 are written as 1970-01-01T00:00:00Z).
pub(super) fn rfc3339_utc(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX / 2);
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Whether `text` is an RFC 3339 UTC timestamp of the form
/// `YYYY-MM-DDTHH:MM:SSZ`, with a real date.
pub(super) fn is_rfc3339_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 20 {
        return false;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        let digits = bytes.get(from..to)?;
        digits.iter().try_fold(0u32, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'Z'),
    ];
    if separators.iter().any(|&(at, byte)| bytes[at] != byte) {
        return false;
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        number(0, 4),
        number(5, 7),
        number(8, 10),
        number(11, 13),
        number(14, 16),
        number(17, 19),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=month_days).contains(&day) && hour < 24 && minute < 60 && second <= 60
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        let new = generate(|_| false).ok().expect("the OS RNG works");
        let token = new.token.expose();
        assert_eq!(token.len(), 5 + 12 + 1 + 64);
        let parts = split_token(token).expect("a generated token splits");
        assert_eq!(parts.id, new.id);
        assert!(is_token_id(&new.id));
        assert!(TokenHash::of_secret(parts.secret).matches(&new.hash));
        assert_eq!(TokenHash::parse(&new.hash.to_text()), Some(new.hash));
        let other = generate(|_| false).ok().expect("the OS RNG works");
        assert_ne!(other.token, new.token);
    }

    #[test]
    fn an_id_that_is_taken_is_drawn_again() {
        let first = generate(|_| false).ok().expect("the OS RNG works");
        let second = generate(|id| id == first.id).ok().expect("a free id");
        assert_ne!(second.id, first.id);
        assert!(matches!(generate(|_| true), Err(GenerateFailure::IdsTaken)));
    }

    #[test]
    fn malformed_tokens_do_not_split() {
        let secret = "a".repeat(64);
        assert!(split_token(&format!("weft_0123456789ab_{secret}")).is_some());
        for bad in [
            String::new(),
            format!("weft_0123456789ab_{secret}\n"),
            format!("WEFT_0123456789ab_{secret}"),
            format!("weft_0123456789AB_{secret}"),
            format!("weft_0123456789a_{secret}"),
            format!("weft_0123456789ab_{secret}0"),
            format!("weft_0123456789ab{secret}"),
            format!("weft_0123456789ab_{}", "g".repeat(64)),
            format!("weft_0123456789ab__{}", "a".repeat(63)),
        ] {
            assert!(split_token(&bad).is_none(), "{bad:?} split");
        }
    }

    #[test]
    fn hashes_parse_strictly() {
        let hex = "0f".repeat(32);
        assert!(TokenHash::parse(&format!("blake3:{hex}")).is_some());
        assert!(TokenHash::parse(&hex).is_none());
        assert!(TokenHash::parse(&format!("blake3:{}", "0F".repeat(32))).is_none());
        assert!(TokenHash::parse(&format!("blake3:{}", "0f".repeat(31))).is_none());
        assert!(TokenHash::parse(&format!("sha256:{hex}")).is_none());
        let a = TokenHash::of_secret("a");
        assert!(a.matches(&a));
        assert!(!a.matches(&TokenHash::of_secret("b")));
    }

    #[test]
    fn timestamps() {
        let at = |seconds: u64| rfc3339_utc(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_798_786_800), "2027-01-01T07:00:00Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
        for seconds in (0..5_000_000_000u64).step_by(9_999_991) {
            let text = at(seconds);
            assert!(is_rfc3339_utc(&text), "{text}");
        }
        assert!(is_rfc3339_utc("2024-02-29T23:59:60Z"));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-00T00:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01 07:00:00Z",
            "2026-12-01T07:00:00+01:00",
            "2026-12-01T07:00:00",
            "2026-12-01t07:00:00z",
        ] {
            assert!(!is_rfc3339_utc(bad), "{bad}");
        }
    }
}
