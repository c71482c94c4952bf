//! A cluster's TLS directory, as `weft cert init DIR` makes it: a new CA,
//! a scheduler certificate and a worker certificate, each with its key.
//! Keys are written owner-only (0600) through a temporary file and a
//! rename, so a key file is never seen half written; an existing CA key is
//! never overwritten.

use super::CertRole;
use super::error::TlsError;
use super::issue::{CertificateAuthority, Validity};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The CA certificate, trusted by every process (`--tls-ca`).
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key: keep it off the cluster's machines.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// The scheduler's certificate.
pub const SCHEDULER_CERT_FILE: &str = "scheduler.pem";
/// The scheduler's private key.
pub const SCHEDULER_KEY_FILE: &str = "scheduler-key.pem";
/// The workers' certificate (all workers share it).
pub const WORKER_CERT_FILE: &str = "worker.pem";
/// The workers' private key.
pub const WORKER_KEY_FILE: &str = "worker-key.pem";

/// The hosts certificates name when none are given.
pub const DEFAULT_HOSTS: &[&str] = &["localhost", "127.0.0.1"];

/// The common name of a CA made by [`init_cluster_dir`], before its
/// random suffix.
const CA_COMMON_NAME: &str = "weft cluster CA";

/// Mode of a private key file.
const KEY_FILE_MODE: u32 = 0o600;
/// Mode of a certificate file.
const CERT_FILE_MODE: u32 = 0o644;
/// Mode of a directory `init_cluster_dir` creates.
const DIR_MODE: u32 = 0o700;

/// Makes a cluster's TLS files in `dir` (created owner-only if missing):
/// [`CA_CERT_FILE`], [`CA_KEY_FILE`], [`SCHEDULER_CERT_FILE`],
/// [`SCHEDULER_KEY_FILE`], [`WORKER_CERT_FILE`], [`WORKER_KEY_FILE`]. The
/// scheduler's and workers' certificates name `hosts` (IP addresses or DNS
/// names; [`DEFAULT_HOSTS`] if empty) and are valid for a year; the CA for
/// ten.
///
/// Refuses, before writing anything, if `dir` holds a CA key already or a
/// host is not usable. Returns the paths written, in the order above.
pub fn init_cluster_dir(dir: &Path, hosts: &[String]) -> Result<Vec<PathBuf>, TlsError> {
    let hosts: Vec<String> = if hosts.is_empty() {
        DEFAULT_HOSTS.iter().map(|host| host.to_string()).collect()
    } else {
        hosts.to_vec()
    };
    let ca_key_path = dir.join(CA_KEY_FILE);
    if ca_key_path.symlink_metadata().is_ok() {
        return Err(TlsError::CaKeyExists { path: ca_key_path });
    }
    // Everything is made before anything is written: a bad host leaves no
    // half-made directory behind.
    let ca = CertificateAuthority::generate(&ca_common_name())?;
    let scheduler = ca.issue(CertRole::Scheduler, &hosts, Validity::default())?;
    let worker = ca.issue(CertRole::Worker, &hosts, Validity::default())?;
    let ca_key = zeroize::Zeroizing::new(ca.key_pem());
    let files: [(&str, &str, u32); 6] = [
        (CA_CERT_FILE, ca.cert_pem(), CERT_FILE_MODE),
        (CA_KEY_FILE, &ca_key, KEY_FILE_MODE),
        (SCHEDULER_CERT_FILE, &scheduler.cert_pem, CERT_FILE_MODE),
        (SCHEDULER_KEY_FILE, &scheduler.key_pem, KEY_FILE_MODE),
        (WORKER_CERT_FILE, &worker.cert_pem, CERT_FILE_MODE),
        (WORKER_KEY_FILE, &worker.key_pem, KEY_FILE_MODE),
    ];

    create_private_dir(dir)?;
    let mut written = Vec::with_capacity(files.len());
    for (name, contents, mode) in files {
        written.push(write_replacing(dir, name, contents.as_bytes(), mode)?);
    }
    sync_dir(dir)?;
    Ok(written)
}

/// [`CA_COMMON_NAME`] and a random suffix, so that the CAs of two clusters
/// have different names and a certificate of one presented to the other is
/// refused as of an unknown issuer (the same name would still be refused,
/// for its signature). Without randomness, the bare name.
fn ca_common_name() -> String {
    let mut suffix = [0u8; 4];
    match getrandom::fill(&mut suffix) {
        Ok(()) => {
            let hex: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
            format!("{CA_COMMON_NAME} {hex}")
        }
        Err(_) => CA_COMMON_NAME.to_string(),
    }
}

/// Creates `dir` and its missing parents, owner-only; an existing
/// directory is kept as it is.
fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    #[cfg(not(unix))]
    let _ = DIR_MODE;
    builder.create(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    if !dir.is_dir() {
        return Err(TlsError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Tells temporary files of one process apart.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `dir/name` whole: a new temporary file in `dir` with `mode`
/// (unix), flushed to disk, then renamed over the name.
fn write_replacing(
    dir: &Path,
    name: &str,
    contents: &[u8],
    mode: u32,
) -> Result<PathBuf, TlsError> {
    let path = dir.join(name);
    let temp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let write = || -> io::Result<()> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temp, &path)
    };
    write().map_err(|source| {
        // Best effort: the temporary file may not exist.
        let _ = fs::remove_file(&temp);
        TlsError::Write {
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}

/// Makes the renames in `dir` durable (unix; elsewhere nothing to do).
fn sync_dir(dir: &Path) -> Result<(), TlsError> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|source| TlsError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::issue::san_strings;
    use super::super::{TlsFiles, TrustRoots, certificate_role};
    use super::*;

    const ALL_FILES: [&str; 6] = [
        CA_CERT_FILE,
        CA_KEY_FILE,
        SCHEDULER_CERT_FILE,
        SCHEDULER_KEY_FILE,
        WORKER_CERT_FILE,
        WORKER_KEY_FILE,
    ];

    #[test]
    fn init_writes_loadable_files_with_private_keys() {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let dir = temp.path().join("cluster");
        let written = init_cluster_dir(&dir, &[]).expect("init");
        let expected: Vec<PathBuf> = ALL_FILES.iter().map(|name| dir.join(name)).collect();
        assert_eq!(written, expected);

        let roots = TrustRoots::from_file(dir.join(CA_CERT_FILE)).expect("the CA");
        assert_eq!(roots.certificates().len(), 1);
        CertificateAuthority::from_files(dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE))
            .expect("the CA and its key");
        for (cert, key, role) in [
            (SCHEDULER_CERT_FILE, SCHEDULER_KEY_FILE, CertRole::Scheduler),
            (WORKER_CERT_FILE, WORKER_KEY_FILE, CertRole::Worker),
        ] {
            let files = TlsFiles {
                ca: dir.join(CA_CERT_FILE),
                cert: Some(dir.join(cert)),
                key: Some(dir.join(key)),
            };
            let (_, identity) = files.load().expect("loadable");
            let identity = identity.expect("an identity");
            assert_eq!(identity.role(), Some(role));
            assert_eq!(certificate_role(&identity.chain()[0]), Some(role));
            // The default hosts are named.
            let names = san_strings(&identity.chain()[0]);
            assert!(names.iter().any(|n| n == "localhost"), "{names:?}");
            assert!(names.iter().any(|n| n == "127.0.0.1"), "{names:?}");
        }
        // No temporary file is left behind.
        let mut present: Vec<String> = fs::read_dir(&dir)
            .expect("a directory")
            .map(|entry| {
                entry
                    .expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        present.sort();
        let mut all: Vec<String> = ALL_FILES.iter().map(|name| name.to_string()).collect();
        all.sort();
        assert_eq!(present, all);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                |path: &Path| fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            for key in [CA_KEY_FILE, SCHEDULER_KEY_FILE, WORKER_KEY_FILE] {
                assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
            }
            for cert in [CA_CERT_FILE, SCHEDULER_CERT_FILE, WORKER_CERT_FILE] {
                assert_eq!(mode(&dir.join(cert)) & 0o022, 0, "{cert}");
            }
        }
    }

    #[test]
    fn a_second_init_is_refused_and_changes_nothing() {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let dir = temp.path();
        init_cluster_dir(dir, &["10.0.0.1".to_string()]).expect("init");
        let before = fs::read(dir.join(CA_KEY_FILE)).expect("the key");
        let error = init_cluster_dir(dir, &[]).expect_err("a second init");
        assert!(matches!(&error, TlsError::CaKeyExists { path } if path == &dir.join(CA_KEY_FILE)));
        let text = error.to_string();
        assert!(
            text.contains("ca-key.pem") && text.contains("refusing to overwrite"),
            "{text}"
        );
        assert_eq!(fs::read(dir.join(CA_KEY_FILE)).expect("the key"), before);
    }

    #[test]
    fn a_bad_host_writes_nothing() {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let dir = temp.path().join("cluster");
        let error = init_cluster_dir(&dir, &["not a host".to_string()]).expect_err("a bad host");
        assert!(matches!(error, TlsError::InvalidHost { .. }), "{error}");
        assert!(error.to_string().contains("not a host"), "{error}");
        assert!(!dir.exists());
    }

    #[test]
    fn a_file_in_the_way_is_not_a_directory() {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let path = temp.path().join("file");
        fs::write(&path, b"").expect("a file");
        let error = init_cluster_dir(&path, &[]).expect_err("a file");
        assert!(
            matches!(
                error,
                TlsError::Write { .. } | TlsError::NotADirectory { .. }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("file"), "{error}");
    }
}
