//! The tenants file in memory: what it holds, reading it (a missing file
//! is an error, never an empty set of tenants), the load error that names
//! the file, and what it lists. What a valid file is lives in `check.rs`,
//! the edits `weft tenant` makes in `edit.rs`, writing it back in
//! `write.rs`.

use super::check::{self, FileProblem, Refusal};
use super::token::TokenHash;
use std::io::Read;
use std::path::{Path, PathBuf};
use weft_proto::auth::Access;
use weft_schema::quota::TenantLimits;

/// The largest tenants file read or written, in bytes (4 MiB, some 20 000
/// tokens). It bounds the number of tenants and tokens too.
pub const TENANTS_FILE_BYTES_MAX: u64 = 4 << 20;

/// One token as the file keeps it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoredToken {
    /// Its public id (12 lowercase hex characters).
    pub(super) id: String,
    /// What it may do; `Worker` exactly for worker tokens.
    pub(super) access: Access,
    /// BLAKE3 of its secret part.
    pub(super) hash: TokenHash,
    /// When it was made, RFC 3339 UTC.
    pub(super) created: String,
}

/// One tenant and its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tenant {
    pub(super) name: String,
    pub(super) weight: u32,
    /// Its own limits (`[tenant.limits]`), over the file's defaults.
    pub(super) limits: TenantLimits,
    pub(super) tokens: Vec<StoredToken>,
}

/// The tenants file, checked: valid names, ids and hashes, no duplicates.
/// Holds hashes only, so its `Debug` shows no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantsFile {
    /// Every tenant's limits unless its own say otherwise (`[limits]`).
    pub(super) defaults: TenantLimits,
    pub(super) tenants: Vec<Tenant>,
    pub(super) worker_tokens: Vec<StoredToken>,
}

/// The tenants file could not be loaded. A missing file is an error too,
/// never an empty set of tenants.
#[derive(Debug, thiserror::Error)]
pub enum TenantsFileError {
    /// The file could not be opened or read (or is not UTF-8).
    #[error("cannot read the tenants file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The file is larger than [`TENANTS_FILE_BYTES_MAX`].
    #[error(
        "the tenants file {} is larger than {TENANTS_FILE_BYTES_MAX} bytes",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not TOML, or a table has a missing, mistyped or unknown
    /// field.
    #[error("the tenants file {} is not valid: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where (line and column) and what.
        message: String,
    },
    /// The file is TOML of the right shape but a value is wrong.
    #[error("the tenants file {} is not valid: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: FileProblem,
    },
}

impl TenantsFileError {
    /// Whether the file does not exist (`weft tenant add` then creates it).
    pub fn is_not_found(&self) -> bool {
        match self {
            TenantsFileError::Read { error, .. } => error.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// A token as `weft tenant list` shows it: never its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSummary {
    /// Its tenant; `None` for a worker token.
    pub tenant: Option<String>,
    /// Its public id.
    pub id: String,
    /// What it may do.
    pub access: Access,
    /// When it was made, RFC 3339 UTC.
    pub created: String,
}

/// A tenant's name, weight and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantInfo {
    /// Its name.
    pub name: String,
    /// Its weight for fair sharing (1 to [`TENANT_WEIGHT_MAX`](super::TENANT_WEIGHT_MAX)).
    pub weight: u32,
    /// Its limits: its own, and the file's defaults for the others.
    pub limits: TenantLimits,
}

impl TenantsFile {
    /// A file with no tenants and no tokens.
    pub fn new() -> TenantsFile {
        TenantsFile::default()
    }

    /// Reads and checks the file at `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<TenantsFile, TenantsFileError> {
        let path = path.as_ref();
        let read = |error| TenantsFileError::Read {
            path: path.to_owned(),
            error,
        };
        let file = std::fs::File::open(path).map_err(read)?;
        let mut text = String::new();
        file.take(TENANTS_FILE_BYTES_MAX + 1)
            .read_to_string(&mut text)
            .map_err(read)?;
        if text.len() as u64 > TENANTS_FILE_BYTES_MAX {
            return Err(TenantsFileError::TooLarge {
                path: path.to_owned(),
            });
        }
        TenantsFile::parse(&text, path)
    }

    /// Parses and checks the text of a tenants file; `path` is only for
    /// error messages.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<TenantsFile, TenantsFileError> {
        let path = path.as_ref();
        check::checked(text).map_err(|refusal| match refusal {
            Refusal::Syntax(error) => TenantsFileError::Syntax {
                path: path.to_owned(),
                message: syntax_message(text, &error),
            },
            Refusal::Problem(problem) => TenantsFileError::Invalid {
                path: path.to_owned(),
                problem,
            },
        })
    }

    /// Every token, tenants' first in file order, then worker tokens.
    pub fn list(&self) -> Vec<TokenSummary> {
        self.tenants
            .iter()
            .flat_map(|tenant| tenant.tokens.iter().map(|t| summary(Some(&tenant.name), t)))
            .chain(self.worker_tokens.iter().map(|t| summary(None, t)))
            .collect()
    }

    /// The tenants' names, weights and limits (their own over the
    /// defaults), in file order.
    pub fn tenants(&self) -> Vec<TenantInfo> {
        self.tenants
            .iter()
            .map(|t| TenantInfo {
                name: t.name.clone(),
                weight: t.weight,
                limits: t.limits.over(&self.defaults),
            })
            .collect()
    }

    /// The cluster-wide defaults of the limits (`[limits]`).
    pub fn default_limits(&self) -> &TenantLimits {
        &self.defaults
    }

    /// How many tokens there are, worker tokens included.
    pub fn token_count(&self) -> usize {
        self.worker_tokens.len() + self.tenants.iter().map(|t| t.tokens.len()).sum::<usize>()
    }
}

pub(super) fn summary(tenant: Option<&str>, token: &StoredToken) -> TokenSummary {
    TokenSummary {
        tenant: tenant.map(str::to_owned),
        id: token.id.clone(),
        access: token.access,
        created: token.created.clone(),
    }
}

/// A TOML error as `line L, column C: what`, without quoting the line
/// (it might hold a token pasted in the wrong place).
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    let Some(before) = error.span().and_then(|span| text.get(..span.start)) else {
        return message.to_owned();
    };
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {message}")
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_error() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("absent.toml");
        let error = TenantsFile::read(&path).expect_err("no file, no tenants");
        assert!(error.is_not_found());
        assert!(error.to_string().contains("absent.toml"));
        std::fs::write(&path, vec![b'#'; TENANTS_FILE_BYTES_MAX as usize + 1]).expect("written");
        let error = TenantsFile::read(&path).expect_err("too large");
        assert!(matches!(error, TenantsFileError::TooLarge { .. }));
    }
}
