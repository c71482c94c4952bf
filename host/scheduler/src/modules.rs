//! Uploaded modules, by content hash, with a bound on their total size.
//! The scheduler only stores and hands out module bytes; workers compile
//! and validate them.

use std::collections::HashMap;
use std::sync::Arc;

/// Modules by BLAKE3 hash.
#[derive(Debug, Default)]
pub(crate) struct ModuleStore {
    modules: HashMap<[u8; 32], Arc<Vec<u8>>>,
    bytes: u64,
    bytes_max: u64,
}

impl ModuleStore {
    pub(crate) fn new(bytes_max: u64) -> Self {
        ModuleStore {
            modules: HashMap::new(),
            bytes: 0,
            bytes_max,
        }
    }

    /// Stores `bytes`; returns its hash, or why it was refused.
    pub(crate) fn insert(&mut self, bytes: Vec<u8>) -> Result<[u8; 32], String> {
        let hash = *blake3::hash(&bytes).as_bytes();
        if self.modules.contains_key(&hash) {
            return Ok(hash);
        }
        let size = bytes.len() as u64;
        if self.bytes + size > self.bytes_max {
            return Err(format!(
                "the scheduler's module store is full: {} bytes stored, this module is {size} bytes, \
                 the limit is {} bytes (module_store_bytes_max)",
                self.bytes, self.bytes_max
            ));
        }
        self.bytes += size;
        self.modules.insert(hash, Arc::new(bytes));
        Ok(hash)
    }

    pub(crate) fn get(&self, hash: &[u8; 32]) -> Option<Arc<Vec<u8>>> {
        self.modules.get(hash).cloned()
    }

    pub(crate) fn contains(&self, hash: &[u8; 32]) -> bool {
        self.modules.contains_key(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_hash_and_bounds_the_total() {
        let mut store = ModuleStore::new(10);
        let hash = store.insert(vec![1; 6]).unwrap();
        assert_eq!(hash, *blake3::hash(&[1; 6]).as_bytes());
        assert_eq!(
            store.insert(vec![1; 6]).unwrap(),
            hash,
            "the same module again is free"
        );
        let err = store.insert(vec![2; 6]).unwrap_err();
        assert!(err.contains("module_store_bytes_max"), "{err}");
        assert!(store.contains(&hash) && store.get(&hash).is_some());
    }
}
