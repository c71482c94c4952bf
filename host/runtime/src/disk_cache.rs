//! Compiled modules on disk between runs, bounded by bytes
//! (`disk_cache_bytes_max`): after each store the least recently used files
//! under the cache root (by modification time, which a load refreshes) are
//! deleted until the total is within the budget, including files left by
//! other engine versions. The cache only ever loads files this runtime
//! wrote: each starts with a magic string and the BLAKE3 hash of the
//! compiled code, checked before wasmtime sees it, and lives under a folder
//! named for the engine's compatibility fingerprint.

use crate::compiler::Compiled;
use crate::module::ModuleHash;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use wasmtime::Engine;

const MAGIC: &[u8; 12] = b"WEFT-CWASM-1";
const EXTENSION: &str = "cwasm";

/// Compiled code on disk.
#[derive(Debug)]
pub(crate) struct DiskCache {
    root: PathBuf,
    dir: PathBuf,
    bytes_max: u64,
}

impl DiskCache {
    pub(crate) fn new(root: &Path, engine: &Engine, bytes_max: u64) -> DiskCache {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        DiskCache {
            root: root.to_path_buf(),
            dir: root.join(format!("engine-{:016x}", hasher.finish())),
            bytes_max,
        }
    }

    fn path(&self, hash: &ModuleHash) -> PathBuf {
        self.dir.join(format!("{}.{EXTENSION}", hash.to_hex()))
    }

    /// The bytes of compiled modules under the cache root.
    pub(crate) fn bytes(&self) -> u64 {
        cached_files(&self.root).iter().map(|f| f.size).sum()
    }

    /// Deletes the least recently used files until the total is within
    /// `bytes_max`, never `keep` (the file just stored, which a coarse
    /// clock could make look as old as others); ties go to the path.
    /// Temporary files left by a crash are swept first.
    fn evict(&self, keep: &Path) {
        sweep_stale_temporaries(&self.dir);
        let mut files = cached_files(&self.root);
        let mut total: u64 = files.iter().map(|f| f.size).sum();
        if total <= self.bytes_max {
            return;
        }
        files.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
        for file in files {
            if total <= self.bytes_max {
                break;
            }
            if file.path == keep {
                continue;
            }
            match std::fs::remove_file(&file.path) {
                Ok(()) => total -= file.size,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => total -= file.size,
                Err(e) => {
                    tracing::warn!(path = %file.path.display(), error = %e, "could not evict a cached module");
                }
            }
        }
    }

    /// The module (or component) compiled earlier, if a sound copy is on
    /// disk.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        hash: &ModuleHash,
        component: bool,
    ) -> Option<Compiled> {
        let path = self.path(hash);
        let bytes = std::fs::read(&path).ok()?;
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .and_then(|rest| rest.split_at_checked(32))
            .filter(|(sum, body)| blake3::hash(body).as_bytes() == *sum)
            .map(|(_, body)| body);
        let Some(body) = body else {
            tracing::warn!(path = %path.display(), "discarding a corrupt compiled module in the cache");
            let _ = std::fs::remove_file(&path);
            return None;
        };
        // A load makes the file the most recently used.
        if let Ok(file) = std::fs::File::options().append(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        // SAFETY: the bytes are a file this runtime serialized itself (the
        // magic string and checksum above), for an engine with the same
        // compatibility fingerprint; wasmtime also checks its own header.
        match unsafe { Compiled::deserialize(engine, body, component) } {
            Ok(module) => Some(module),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "discarding an unusable cached module");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Saves a compiled module; failures are logged, never fatal.
    pub(crate) fn store(&self, hash: &ModuleHash, module: &Compiled) {
        if let Err(e) = self.try_store(hash, module) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not write the module cache");
        }
    }

    fn try_store(&self, hash: &ModuleHash, module: &Compiled) -> std::io::Result<()> {
        let body = module
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        create_private_dir(&self.dir)?;
        let (temporary, mut file) = tempfile_in(&self.dir)?;
        let written = file
            .write_all(MAGIC)
            .and_then(|()| file.write_all(blake3::hash(&body).as_bytes()))
            .and_then(|()| file.write_all(&body))
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&temporary, self.path(hash)));
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(error);
        }
        self.evict(&self.path(hash));
        Ok(())
    }
}

/// How old a temporary file must be before a sweep deletes it (a store in
/// progress takes far less).
const STALE_TEMPORARY_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes temporary files in `dir` older than [`STALE_TEMPORARY_AGE`]:
/// left by a process that died while storing.
fn sweep_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(".tmp-")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TEMPORARY_AGE);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// One compiled module file: where, how large, when last used.
struct CachedFile {
    path: PathBuf,
    size: u64,
    used: SystemTime,
}

/// Every compiled module file under `root`, in any engine's folder.
fn cached_files(root: &Path) -> Vec<CachedFile> {
    let mut files = Vec::new();
    let Ok(engines) = std::fs::read_dir(root) else {
        return files;
    };
    for engine in engines.flatten() {
        let Ok(entries) = std::fs::read_dir(engine.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != EXTENSION) {
                continue;
            }
            if let Ok(meta) = entry.metadata()
                && meta.is_file()
            {
                files.push(CachedFile {
                    path,
                    size: meta.len(),
                    used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
    }
    files
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A uniquely named new file in `dir`, for write-then-rename.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}
