//! Compiled modules, kept in memory (least recently used dropped past
//! `modules_in_memory_max`) and on disk between runs. The disk cache only
//! ever loads files this runtime wrote: each starts with a magic string and
//! the BLAKE3 hash of the compiled code, checked before wasmtime sees it, and
//! lives under a folder named for the engine's compatibility fingerprint.

use crate::module::{ModuleHash, TaskModule};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 12] = b"WEFT-CWASM-1";

/// Compiled modules in memory, by hash.
#[derive(Debug)]
pub(crate) struct MemoryCache {
    inner: Mutex<MemoryCacheInner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct MemoryCacheInner {
    modules: HashMap<ModuleHash, (Arc<TaskModule>, u64)>,
    clock: u64,
}

impl MemoryCache {
    pub(crate) fn new(capacity: usize) -> Self {
        MemoryCache {
            inner: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, hash: &ModuleHash) -> Option<Arc<TaskModule>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.clock += 1;
        let now = inner.clock;
        inner.modules.get_mut(hash).map(|(module, used)| {
            *used = now;
            module.clone()
        })
    }

    pub(crate) fn insert(&self, module: Arc<TaskModule>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.clock += 1;
        let now = inner.clock;
        if inner.modules.len() >= self.capacity
            && !inner.modules.contains_key(&module.hash)
            && let Some(oldest) = inner
                .modules
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(h, _)| *h)
        {
            inner.modules.remove(&oldest);
        }
        inner.modules.insert(module.hash, (module, now));
    }

    pub(crate) fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .modules
            .len()
    }
}

/// Compiled code on disk.
#[derive(Debug)]
pub(crate) struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    pub(crate) fn new(root: &Path, engine: &Engine) -> DiskCache {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        DiskCache {
            dir: root.join(format!("engine-{:016x}", hasher.finish())),
        }
    }

    fn path(&self, hash: &ModuleHash) -> PathBuf {
        self.dir.join(format!("{}.cwasm", hash.to_hex()))
    }

    /// The module compiled earlier, if a sound copy is on disk.
    pub(crate) fn load(&self, engine: &Engine, hash: &ModuleHash) -> Option<Module> {
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
        // SAFETY: the bytes are a file this runtime serialized itself (the
        // magic string and checksum above), for an engine with the same
        // compatibility fingerprint; wasmtime also checks its own header.
        match unsafe { Module::deserialize(engine, body) } {
            Ok(module) => Some(module),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "discarding an unusable cached module");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Saves a compiled module; failures are logged, never fatal.
    pub(crate) fn store(&self, hash: &ModuleHash, module: &Module) {
        if let Err(e) = self.try_store(hash, module) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not write the module cache");
        }
    }

    fn try_store(&self, hash: &ModuleHash, module: &Module) -> std::io::Result<()> {
        let body = module
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        create_private_dir(&self.dir)?;
        let mut file = tempfile_in(&self.dir)?;
        file.1.write_all(MAGIC)?;
        file.1.write_all(blake3::hash(&body).as_bytes())?;
        file.1.write_all(&body)?;
        file.1.sync_all()?;
        std::fs::rename(&file.0, self.path(hash))
    }
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
