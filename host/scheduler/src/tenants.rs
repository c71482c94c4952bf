//! Tenants and their tokens: the tenants file an operator edits (with
//! `weft tenant` or by hand), the registry the scheduler checks presented
//! tokens against, and the watcher that reloads it when the file changes.
//!
//! A token is `weft_<id>_<secret>`: `id` is 12 lowercase hex characters,
//! public (shown by `weft tenant list` and in audit logs); `secret` is 64
//! lowercase hex characters (256 bits from the OS's CSPRNG). The file holds
//! only `blake3:<hex>`, the BLAKE3 hash of the secret part's text, so a
//! copy of the file proves nothing. A token belongs either to a tenant
//! (with the role `admin`, `write` or `read`) or is a worker token (in
//! `[[worker_token]]`), which can act only as a worker.
//!
//! ```toml
//! # Weft tenants file: written by `weft tenant`; tokens are stored as hashes.
//! [limits]                # every tenant's limits, unless its own differ
//! tasks_queued_max = 1000000
//! stored_bytes_max = "8 GiB"
//!
//! [[tenant]]
//! name = "alice"
//! weight = 1
//!
//! [tenant.limits]         # alice's own (see `limits.rs` for every field)
//! stored_bytes_max = "2 GiB"
//!
//! [[tenant.token]]
//! id = "3f9a0c1d2e4b"
//! role = "write"
//! hash = "blake3:..."
//! created = "2026-12-01T07:00:00Z"
//!
//! [[worker_token]]
//! id = "..."
//! hash = "blake3:..."
//! created = "..."
//! ```
//!
//! - [`TenantsFile`] reads the file (`file.rs`), checks it (`check.rs`),
//!   edits it in memory (`edit.rs`) and writes it back atomically
//!   (`write.rs`).
//! - [`TokenRegistry`] is built from one and turns a presented token into a
//!   [`Principal`](weft_proto::auth::Principal).
//! - [`watch`](fn@watch) publishes a fresh registry whenever the file changes or the
//!   process gets SIGHUP.
//!
//! Tenant names are 1 to [`TENANT_NAME_CHARS_MAX`] characters of
//! `[a-z0-9_-]`, starting with a letter or a digit ([`check_tenant_name`]).

mod check;
mod edit;
mod file;
mod limits;
mod registry;
mod token;
mod watch;
mod write;

pub use check::{FileProblem, TENANT_WEIGHT_MAX, TokenPlace};
pub use edit::{
    AddTokenError, RemoveTenantError, RemovedTenant, RevokeError, RevokedToken, SetError,
};
pub use file::{TENANTS_FILE_BYTES_MAX, TenantInfo, TenantsFile, TenantsFileError, TokenSummary};
pub use limits::{LimitProblem, LimitsPlace, SetLimitError};
pub use registry::{GeneratedRegistry, TokenRefusal, TokenRegistry};
pub use watch::{DEFAULT_POLL, watch};
pub use write::TenantsWriteError;

/// The longest tenant name, in characters.
pub const TENANT_NAME_CHARS_MAX: usize = 64;

/// Why a tenant name is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantNameError {
    /// The name is empty.
    #[error("a tenant name cannot be empty")]
    Empty,
    /// The name is longer than [`TENANT_NAME_CHARS_MAX`].
    #[error("a tenant name has at most {TENANT_NAME_CHARS_MAX} characters, this one has {chars}")]
    TooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// The name starts with `_` or `-`.
    #[error("a tenant name starts with a letter or a digit, not {0:?}")]
    BadStart(char),
    /// The name has a character outside `[a-z0-9_-]`.
    #[error("a tenant name has only the characters a-z, 0-9, _ and -, not {0:?}")]
    BadChar(char),
}

/// Whether `name` is a valid tenant name: 1 to [`TENANT_NAME_CHARS_MAX`]
/// characters of `[a-z0-9_-]`, starting with a letter or a digit (so never
/// a `/`: shared datasets are shown as `OWNER/NAME`).
pub fn check_tenant_name(name: &str) -> Result<(), TenantNameError> {
    let chars = name.chars().count();
    let Some(first) = name.chars().next() else {
        return Err(TenantNameError::Empty);
    };
    if chars > TENANT_NAME_CHARS_MAX {
        return Err(TenantNameError::TooLong { chars });
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
    {
        return Err(TenantNameError::BadChar(bad));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(TenantNameError::BadStart(first));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names() {
        assert_eq!(check_tenant_name("alice"), Ok(()));
        assert_eq!(check_tenant_name("0-team_b"), Ok(()));
        assert_eq!(check_tenant_name(&"a".repeat(64)), Ok(()));
        assert_eq!(check_tenant_name(""), Err(TenantNameError::Empty));
        assert_eq!(
            check_tenant_name(&"a".repeat(65)),
            Err(TenantNameError::TooLong { chars: 65 })
        );
        assert_eq!(check_tenant_name("-x"), Err(TenantNameError::BadStart('-')));
        assert_eq!(
            check_tenant_name("alice/data"),
            Err(TenantNameError::BadChar('/'))
        );
        assert_eq!(
            check_tenant_name("Alice"),
            Err(TenantNameError::BadChar('A'))
        );
    }
}
