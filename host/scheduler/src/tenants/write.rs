//! Writing a [`TenantsFile`] back: its TOML text (a fixed layout under a
//! header comment) and the atomic replacement of the file on disk (a
//! temporary file with mode 0600 in the same directory, synced, then
//! renamed over the old one), so a reader never sees half a file.

use super::file::{StoredToken, TENANTS_FILE_BYTES_MAX, TenantsFile};
use super::limits::limits_toml;
use std::fs::{self, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The first lines of every file written.
const HEADER: &str = "\
# Weft tenants file: written by `weft tenant`; tokens are stored as hashes.
# Rewriting it keeps the tenants and tokens but not comments other than these.
";

/// The file's mode: read and written by its owner only.
const FILE_MODE: u32 = 0o600;

/// How many temporary names are tried before giving up (a name is only
/// taken if an earlier process with the same pid left it behind).
const TEMP_NAMES_MAX: u64 = 64;

/// The tenants file could not be written. The old file, if any, is then
/// unchanged.
#[derive(Debug, thiserror::Error)]
pub enum TenantsWriteError {
    /// The path does not name a file (it ends in `..` or is a root).
    #[error("{} is not a file path", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The text would be larger than [`TENANTS_FILE_BYTES_MAX`], so it
    /// could not be read back.
    #[error(
        "the tenants file {} would be {bytes} bytes, more than {TENANTS_FILE_BYTES_MAX}",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: usize,
    },
    /// The temporary file could not be created, written or synced.
    #[error("cannot write {}: {error}", path.display())]
    Temporary {
        /// The temporary file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The temporary file could not be renamed over the file.
    #[error("cannot replace {} with {}: {error}", path.display(), temporary.display())]
    Rename {
        /// The temporary file (removed again).
        temporary: PathBuf,
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
}

/// `text` as a TOML basic string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn push_token(out: &mut String, table: &str, token: &StoredToken, with_role: bool) {
    out.push_str(&format!("\n[[{table}]]\nid = {}\n", quoted(&token.id)));
    if with_role {
        out.push_str(&format!("role = {}\n", quoted(token.access.name())));
    }
    out.push_str(&format!(
        "hash = {}\ncreated = {}\n",
        quoted(&token.hash.to_text()),
        quoted(&token.created)
    ));
}

impl TenantsFile {
    /// The file's text, as [`write`](Self::write) writes it.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(HEADER);
        let defaults = limits_toml(&self.defaults);
        if !defaults.is_empty() {
            out.push_str(&format!("\n[limits]\n{defaults}"));
        }
        for tenant in &self.tenants {
            out.push_str(&format!(
                "\n[[tenant]]\nname = {}\nweight = {}\n",
                quoted(&tenant.name),
                tenant.weight
            ));
            let own = limits_toml(&tenant.limits);
            if !own.is_empty() {
                out.push_str(&format!("\n[tenant.limits]\n{own}"));
            }
            for token in &tenant.tokens {
                push_token(&mut out, "tenant.token", token, true);
            }
        }
        for token in &self.worker_tokens {
            push_token(&mut out, "worker_token", token, false);
        }
        out
    }

    /// Writes the file to `path` atomically (creating it if absent), with
    /// mode 0600.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), TenantsWriteError> {
        let path = path.as_ref();
        let text = self.to_toml();
        if text.len() as u64 > TENANTS_FILE_BYTES_MAX {
            return Err(TenantsWriteError::TooLarge {
                path: path.to_owned(),
                bytes: text.len(),
            });
        }
        let Some(name) = path.file_name() else {
            return Err(TenantsWriteError::NotAFile {
                path: path.to_owned(),
            });
        };
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let (temporary, mut file) = create_temporary(directory, &name.to_string_lossy())?;
        let written = file
            .set_permissions(Permissions::from_mode(FILE_MODE))
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_all());
        drop(file);
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            return Err(TenantsWriteError::Temporary {
                path: temporary,
                error,
            });
        }
        if let Err(error) = fs::rename(&temporary, path) {
            let _ = fs::remove_file(&temporary);
            return Err(TenantsWriteError::Rename {
                temporary,
                path: path.to_owned(),
                error,
            });
        }
        // Make the rename itself durable. The file is already in place, so
        // a failure here (some file systems cannot sync a directory) is no
        // reason to report the write as failed.
        if let Ok(directory) = fs::File::open(directory) {
            let _ = directory.sync_all();
        }
        Ok(())
    }
}

/// Creates a new temporary file beside the target, readable by its owner
/// only from the start.
fn create_temporary(
    directory: &Path,
    name: &str,
) -> Result<(PathBuf, fs::File), TenantsWriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut attempt = 0;
    loop {
        let serial = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temporary = directory.join(format!(".{name}.{}-{serial}.tmp", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&temporary)
        {
            Ok(file) => return Ok((temporary, file)),
            Err(error)
                if error.kind() == std::io::ErrorKind::AlreadyExists
                    && attempt + 1 < TEMP_NAMES_MAX =>
            {
                attempt += 1;
            }
            Err(error) => {
                return Err(TenantsWriteError::Temporary {
                    path: temporary,
                    error,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::auth::Access;

    fn sample() -> (TenantsFile, Vec<String>) {
        let mut file = TenantsFile::new();
        let mut tokens = Vec::new();
        for (tenant, access) in [
            ("alice", Access::Write),
            ("alice", Access::Admin),
            ("bob-2", Access::Read),
            ("", Access::Worker),
        ] {
            let (token, _) = file.add_token(tenant, access).expect("added");
            tokens.push(token.expose().to_owned());
        }
        // Limits survive a rewrite by `weft tenant`.
        file.defaults.clients_max = Some(8);
        file.defaults.stored_bytes_max = Some(3 << 30);
        file.tenants[0].limits.stored_bytes_max = Some(1_000_001);
        file.tenants[0].limits.submit_tasks_per_s = Some(100);
        (file, tokens)
    }

    #[test]
    fn write_then_read_gives_the_same_file() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("tenants.toml");
        let (file, _) = sample();
        file.write(&path).expect("written");
        assert_eq!(TenantsFile::read(&path).expect("read back"), file);
        let empty = TenantsFile::new();
        empty.write(&path).expect("rewritten");
        assert_eq!(TenantsFile::read(&path).expect("read back"), empty);
    }

    #[test]
    fn the_file_is_private_and_holds_no_secret() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("tenants.toml");
        std::fs::write(&path, "").expect("an old file");
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).expect("chmod");
        let (file, tokens) = sample();
        file.write(&path).expect("written");
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with(HEADER));
        for token in &tokens {
            let secret = token.rsplit('_').next().expect("a secret part");
            assert!(!text.contains(secret), "the file holds a secret");
        }
        let entries: Vec<_> = std::fs::read_dir(directory.path())
            .expect("listed")
            .map(|entry| entry.expect("an entry").file_name())
            .collect();
        assert_eq!(entries, ["tenants.toml"], "no temporary file is left");
    }

    #[test]
    fn a_write_that_fails_leaves_the_old_file() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let missing = directory
            .path()
            .join("no-such-directory")
            .join("tenants.toml");
        let error = TenantsFile::new()
            .write(&missing)
            .expect_err("no directory");
        assert!(
            matches!(error, TenantsWriteError::Temporary { .. }),
            "{error}"
        );
        let error = TenantsFile::new().write("/").expect_err("not a file");
        assert!(
            matches!(error, TenantsWriteError::NotAFile { .. }),
            "{error}"
        );
        // A directory in the way of the rename.
        let blocked = directory.path().join("blocked");
        std::fs::create_dir(blocked.join("")).expect("a directory");
        std::fs::write(blocked.join("inside"), "x").expect("a file in it");
        let error = TenantsFile::new().write(&blocked).expect_err("a directory");
        assert!(matches!(error, TenantsWriteError::Rename { .. }), "{error}");
        assert!(blocked.join("inside").exists());
        let entries = std::fs::read_dir(directory.path()).expect("listed").count();
        assert_eq!(entries, 1, "no temporary file is left");
    }
}
