//! Uploaded modules, by content hash, with a bound on their total size.
//! The scheduler only stores and hands out module bytes; workers compile
//! and validate them. Each module records the tenants that uploaded it: a
//! tenant may use only modules it uploaded itself (identical bytes are
//! stored once, invisibly). A module a worker refused (over a compile
//! limit, against the ABI) is remembered with the refusal, so that other
//! workers are told instead of compiling it again.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_core::TenantId;
use weft_proto::messages::WorkerCommand;
use weft_schema::quota::{QuotaExceeded, QuotaLimit, QuotaScope};

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UploadRefusal {
    /// The module alone is over `module_bytes_max`.
    #[error("the module is {size} bytes, over the limit of {max} bytes (module_bytes_max)")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The tenant's `modules_bytes_max`, or the store's
    /// `module_store_bytes_max`, would be passed.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
}

/// Why a worker refused a module, and until when that holds (`None`: as
/// long as the module is stored).
#[derive(Debug)]
struct Refusal {
    message: String,
    until: Option<Instant>,
}

/// Modules by BLAKE3 hash.
#[derive(Debug, Default)]
pub(crate) struct ModuleStore {
    modules: HashMap<[u8; 32], Arc<Vec<u8>>>,
    owners: HashMap<[u8; 32], BTreeSet<TenantId>>,
    refused: HashMap<[u8; 32], Refusal>,
    bytes: u64,
    /// The bytes of the modules each tenant uploaded (a module two
    /// tenants uploaded counts for both).
    tenant_bytes: HashMap<TenantId, u64>,
    bytes_max: u64,
    module_bytes_max: u64,
    refusal_ttl: Duration,
}

impl ModuleStore {
    pub(crate) fn new(bytes_max: u64, module_bytes_max: u64, refusal_ttl: Duration) -> Self {
        ModuleStore {
            modules: HashMap::new(),
            owners: HashMap::new(),
            refused: HashMap::new(),
            bytes: 0,
            tenant_bytes: HashMap::new(),
            bytes_max,
            module_bytes_max,
            refusal_ttl,
        }
    }

    /// Stores `bytes`, whose BLAKE3 hash is `hash` (computed off the state
    /// task), for `tenant` (`tenant_name` and `tenant_max`, its
    /// `modules_bytes_max`, for the quota); returns its hash, or why it
    /// was refused. Uploading a module the tenant already has is free.
    pub(crate) fn insert(
        &mut self,
        bytes: Vec<u8>,
        hash: [u8; 32],
        tenant: TenantId,
        tenant_name: &str,
        tenant_max: Option<u64>,
    ) -> Result<[u8; 32], UploadRefusal> {
        let size = bytes.len() as u64;
        if size > self.module_bytes_max {
            let max = self.module_bytes_max;
            return Err(UploadRefusal::TooLarge { size, max });
        }
        if self.has(&hash, tenant) {
            return Ok(hash);
        }
        let used = self.tenant_bytes(tenant);
        let scope = || QuotaScope::Tenant(tenant_name.to_owned());
        QuotaExceeded::check(QuotaLimit::ModulesBytesMax, scope, size, used, tenant_max)?;
        if !self.modules.contains_key(&hash) {
            let cluster = || QuotaScope::Cluster;
            let limit = QuotaLimit::ModuleStoreBytesMax;
            QuotaExceeded::check(limit, cluster, size, self.bytes, Some(self.bytes_max))?;
            self.bytes += size;
            self.modules.insert(hash, Arc::new(bytes));
        }
        self.owners.entry(hash).or_default().insert(tenant);
        *self.tenant_bytes.entry(tenant).or_default() += size;
        Ok(hash)
    }

    /// The bytes of the modules `tenant` uploaded.
    pub(crate) fn tenant_bytes(&self, tenant: TenantId) -> u64 {
        self.tenant_bytes.get(&tenant).copied().unwrap_or(0)
    }

    pub(crate) fn get(&self, hash: &[u8; 32]) -> Option<Arc<Vec<u8>>> {
        self.modules.get(hash).cloned()
    }

    /// Remembers that a worker refused the stored module `hash`, and why:
    /// for as long as the module is stored if `lasting`, else for
    /// `module_refusal_ttl` (a compile deadline or memory ceiling a loaded
    /// machine may miss). Unknown hashes are ignored; a lasting refusal is
    /// not replaced.
    pub(crate) fn refuse(&mut self, hash: [u8; 32], message: String, lasting: bool) {
        if !self.modules.contains_key(&hash) {
            return;
        }
        let until = (!lasting).then(|| Instant::now() + self.refusal_ttl);
        match self.refused.get(&hash) {
            Some(Refusal { until: None, .. }) => {}
            _ => {
                self.refused.insert(hash, Refusal { message, until });
            }
        }
    }

    /// Why a worker refused the module `hash`, if one did and it still holds.
    pub(crate) fn refusal(&mut self, hash: &[u8; 32]) -> Option<&str> {
        let expired = self
            .refused
            .get(hash)
            .is_some_and(|r| r.until.is_some_and(|until| Instant::now() >= until));
        if expired {
            self.refused.remove(hash);
        }
        self.refused.get(hash).map(|r| r.message.as_str())
    }

    /// The answer to a worker's `GetModule`: the refusal, the bytes, or
    /// that there is no such module.
    pub(crate) fn answer(&mut self, hash: [u8; 32]) -> WorkerCommand {
        if let Some(message) = self.refusal(&hash) {
            return WorkerCommand::ModuleRefused {
                hash,
                message: message.to_string(),
            };
        }
        match self.get(&hash) {
            Some(bytes) => WorkerCommand::Module {
                hash,
                bytes: bytes.as_ref().clone(),
            },
            None => WorkerCommand::ModuleMissing { hash },
        }
    }

    /// Whether `tenant` uploaded the module `hash`.
    pub(crate) fn has(&self, hash: &[u8; 32], tenant: TenantId) -> bool {
        self.owners.get(hash).is_some_and(|o| o.contains(&tenant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(bytes: &[u8]) -> [u8; 32] {
        *blake3::hash(bytes).as_bytes()
    }

    #[test]
    fn a_tenants_modules_bytes_max_counts_what_it_uploaded() {
        let (a, b) = (TenantId(1), TenantId(2));
        let mut store = ModuleStore::new(100, 50, Duration::from_secs(600));
        store
            .insert(vec![1; 30], h(&[1; 30]), a, "alice", Some(40))
            .unwrap();
        store
            .insert(vec![1; 30], h(&[1; 30]), a, "alice", Some(40))
            .expect("its own module again is free");
        let err = store
            .insert(vec![2; 20], h(&[2; 20]), a, "alice", Some(40))
            .unwrap_err();
        assert_eq!(
            err,
            UploadRefusal::Quota(QuotaExceeded {
                limit: QuotaLimit::ModulesBytesMax,
                scope: QuotaScope::Tenant("alice".into()),
                requested: 20,
                used: 30,
                limit_value: 40,
            })
        );
        assert_eq!(store.tenant_bytes(a), 30, "a refusal changes nothing");
        // Another tenant uploading the same bytes pays for them too.
        assert!(
            store
                .insert(vec![2; 20], h(&[2; 20]), b, "bob", Some(10))
                .is_err()
        );
        assert!(
            store
                .insert(vec![1; 30], h(&[1; 30]), b, "bob", Some(30))
                .is_ok()
        );
    }

    #[test]
    fn stores_by_hash_and_bounds_the_total() {
        let (a, b) = (TenantId(1), TenantId(2));
        let mut store = ModuleStore::new(10, 8, Duration::from_secs(600));
        let hash = store.insert(vec![1; 6], h(&[1; 6]), a, "a", None).unwrap();
        assert_eq!(hash, *blake3::hash(&[1; 6]).as_bytes());
        assert!(store.has(&hash, a) && !store.has(&hash, b));
        assert_eq!(
            store.insert(vec![1; 6], h(&[1; 6]), b, "b", None).unwrap(),
            hash,
            "the same module again is stored once, and now the other tenant's too"
        );
        assert!(store.has(&hash, b));
        assert_eq!(store.tenant_bytes(b), 6, "but it counts for both");
        let err = store
            .insert(vec![2; 6], h(&[2; 6]), a, "a", None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "exceeded quota: cluster module_store_bytes_max, requested: 6 B, used: 6 B, limited: 10 B"
        );
        assert!(store.get(&hash).is_some());
        let err = store
            .insert(vec![3; 9], h(&[3; 9]), a, "a", None)
            .unwrap_err();
        assert!(err.to_string().contains("module_bytes_max"), "{err}");
        store.refuse([7; 32], "unknown".into(), true);
        assert_eq!(store.refusal(&[7; 32]), None, "only stored modules");
        store.refusal_ttl = Duration::ZERO;
        store.refuse(hash, "compile_timeout".into(), false);
        assert_eq!(
            store.refusal(&hash),
            None,
            "a circumstantial refusal expires"
        );
        store.refusal_ttl = Duration::from_secs(600);
        store.refuse(hash, "compile_timeout".into(), false);
        assert_eq!(store.refusal(&hash), Some("compile_timeout"));
        store.refuse(hash, "over locals_max".into(), true);
        store.refuse(hash, "compile_timeout".into(), false);
        assert_eq!(
            store.refusal(&hash),
            Some("over locals_max"),
            "lasting wins"
        );
        assert!(matches!(
            store.answer(hash),
            WorkerCommand::ModuleRefused { .. }
        ));
    }
}
