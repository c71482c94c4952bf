//! The token registry: what the scheduler checks a presented token
//! against. Built from a [`TenantsFile`] (or generated in memory for an
//! embedded cluster), it maps token ids to their hash, tenant and access,
//! and turns a presented token into a [`Principal`] or a [`TokenRefusal`].

use super::AddTokenError;
use super::file::{TenantInfo, TenantsFile};
use super::token::{self, TokenHash};
use std::collections::HashMap;
use std::fmt;
use weft_proto::auth::{Access, AuthRefusal, Principal, Secret};

/// Why a presented token was refused. Both map to
/// [`AuthRefusal::BadCredentials`]: the peer is not told which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    /// The token is not of the form `weft_<12 hex>_<64 hex>`.
    #[error("the token is malformed")]
    Malformed,
    /// No token has its id, or its secret is wrong (it may be revoked).
    #[error("the token is unknown or revoked")]
    Unknown,
}

impl From<TokenRefusal> for AuthRefusal {
    fn from(_: TokenRefusal) -> AuthRefusal {
        AuthRefusal::BadCredentials
    }
}

/// What the registry knows of one token.
#[derive(Clone)]
struct Entry {
    /// Its tenant; empty for a worker token.
    tenant: String,
    access: Access,
    hash: TokenHash,
}

/// The valid tokens, by id. Its `Debug` shows the tenants and the number
/// of tokens, nothing of the tokens themselves.
#[derive(Clone, Default)]
pub struct TokenRegistry {
    tokens: HashMap<String, Entry>,
    tenants: Vec<TenantInfo>,
}

impl fmt::Debug for TokenRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRegistry")
            .field("tenants", &self.tenants)
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

/// A registry made in memory by [`TokenRegistry::generated`], with the
/// only two tokens it accepts.
#[derive(Debug)]
pub struct GeneratedRegistry {
    /// The registry.
    pub registry: TokenRegistry,
    /// An admin token of the tenant.
    pub admin_token: Secret,
    /// A worker token.
    pub worker_token: Secret,
}

impl TokenRegistry {
    /// The tokens of a (checked) tenants file.
    pub fn from_file(file: &TenantsFile) -> TokenRegistry {
        let mut tokens = HashMap::with_capacity(file.token_count());
        for tenant in &file.tenants {
            for stored in &tenant.tokens {
                let entry = Entry {
                    tenant: tenant.name.clone(),
                    access: stored.access,
                    hash: stored.hash,
                };
                tokens.insert(stored.id.clone(), entry);
            }
        }
        for stored in &file.worker_tokens {
            let entry = Entry {
                tenant: String::new(),
                access: Access::Worker,
                hash: stored.hash,
            };
            tokens.insert(stored.id.clone(), entry);
        }
        TokenRegistry {
            tokens,
            tenants: file.tenants(),
        }
    }

    /// A registry for an embedded cluster: one tenant with one admin
    /// token, and one worker token, generated in memory (nothing is
    /// written).
    pub fn generated(tenant: &str) -> Result<GeneratedRegistry, AddTokenError> {
        let mut file = TenantsFile::new();
        let (admin_token, _) = file.add_token(tenant, Access::Admin)?;
        let (worker_token, _) = file.add_worker_token()?;
        Ok(GeneratedRegistry {
            registry: TokenRegistry::from_file(&file),
            admin_token,
            worker_token,
        })
    }

    /// Who `presented` (a whole token, `weft_<id>_<secret>`) speaks for. A
    /// worker token gives the tenant `""` and [`Access::Worker`]; a
    /// tenant's token never gives `Worker`. The secret is compared in
    /// constant time, and hashed before the id is looked up so that an
    /// unknown id costs the same as a wrong secret.
    pub fn authenticate(&self, presented: &Secret) -> Result<Principal, TokenRefusal> {
        let parts = token::split_token(presented.expose()).ok_or(TokenRefusal::Malformed)?;
        let hash = TokenHash::of_secret(parts.secret);
        let entry = self.tokens.get(parts.id).ok_or(TokenRefusal::Unknown)?;
        if !entry.hash.matches(&hash) {
            return Err(TokenRefusal::Unknown);
        }
        Ok(Principal {
            tenant: entry.tenant.clone(),
            access: entry.access,
            token_id: parts.id.to_owned(),
        })
    }

    /// Whether the token `token_id` is valid (a connection opened with a
    /// token that is no longer here should be closed).
    pub fn contains(&self, token_id: &str) -> bool {
        self.tokens.contains_key(token_id)
    }

    /// Whether `principal` is still what its token gives: the token is
    /// here with the same tenant and role (a token whose role or tenant was
    /// edited by hand speaks for someone else now).
    pub fn still_grants(&self, principal: &Principal) -> bool {
        self.tokens.get(&principal.token_id).is_some_and(|entry| {
            entry.tenant == principal.tenant && entry.access == principal.access
        })
    }

    /// The tenants' names, weights and limits.
    pub fn tenants(&self) -> &[TenantInfo] {
        &self.tenants
    }

    /// How many tokens are valid, worker tokens included.
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secret part of a whole token.
    fn secret_of(token: &Secret) -> String {
        token
            .expose()
            .rsplit('_')
            .next()
            .expect("a secret")
            .to_owned()
    }

    #[test]
    fn a_token_proves_its_tenant_access_and_id() {
        let mut file = TenantsFile::new();
        let (write, write_id) = file.add_token("alice", Access::Write).expect("added");
        let (read, read_id) = file.add_token("bob", Access::Read).expect("added");
        let registry = TokenRegistry::from_file(&file);
        assert_eq!(
            registry.authenticate(&write),
            Ok(Principal {
                tenant: "alice".into(),
                access: Access::Write,
                token_id: write_id.clone(),
            })
        );
        assert_eq!(
            registry.authenticate(&read),
            Ok(Principal {
                tenant: "bob".into(),
                access: Access::Read,
                token_id: read_id,
            })
        );
        assert!(registry.contains(&write_id));
        assert!(!registry.contains("000000000000"));
        assert_eq!(registry.token_count(), 2);
        assert_eq!(registry.tenants(), file.tenants());
    }

    #[test]
    fn wrong_malformed_and_revoked_tokens_are_refused() {
        let mut file = TenantsFile::new();
        let (token, id) = file.add_token("alice", Access::Admin).expect("added");
        let registry = TokenRegistry::from_file(&file);
        let wrong = Secret::new(format!("weft_{id}_{}", "0".repeat(64)));
        assert_eq!(registry.authenticate(&wrong), Err(TokenRefusal::Unknown));
        let unknown_id = Secret::new(format!("weft_000000000000_{}", secret_of(&token)));
        assert_eq!(
            registry.authenticate(&unknown_id),
            Err(TokenRefusal::Unknown)
        );
        for malformed in [
            String::new(),
            "weft_".to_owned(),
            format!("{} ", token.expose()),
            token.expose().to_uppercase(),
            secret_of(&token),
        ] {
            let presented = Secret::new(malformed);
            assert_eq!(
                registry.authenticate(&presented),
                Err(TokenRefusal::Malformed)
            );
        }
        file.revoke(&id).expect("revoked");
        let registry = TokenRegistry::from_file(&file);
        assert_eq!(registry.authenticate(&token), Err(TokenRefusal::Unknown));
        assert!(!registry.contains(&id));
        assert_eq!(
            AuthRefusal::from(TokenRefusal::Malformed),
            AuthRefusal::BadCredentials
        );
        assert_eq!(
            AuthRefusal::from(TokenRefusal::Unknown),
            AuthRefusal::BadCredentials
        );
    }

    #[test]
    fn a_worker_token_is_a_worker_and_nothing_else() {
        let mut file = TenantsFile::new();
        let (worker, id) = file.add_worker_token().expect("added");
        let (admin, _) = file.add_token("ops", Access::Admin).expect("added");
        let registry = TokenRegistry::from_file(&file);
        assert_eq!(
            registry.authenticate(&worker),
            Ok(Principal {
                tenant: String::new(),
                access: Access::Worker,
                token_id: id,
            })
        );
        let admin = registry.authenticate(&admin).expect("valid");
        assert_ne!(admin.access, Access::Worker);
    }

    #[test]
    fn generated_registries_accept_their_two_tokens() {
        let generated = TokenRegistry::generated("local").expect("generated");
        let admin = generated
            .registry
            .authenticate(&generated.admin_token)
            .expect("valid");
        assert_eq!(
            (admin.tenant.as_str(), admin.access),
            ("local", Access::Admin)
        );
        let worker = generated
            .registry
            .authenticate(&generated.worker_token)
            .expect("valid");
        assert_eq!(
            (worker.tenant.as_str(), worker.access),
            ("", Access::Worker)
        );
        assert_eq!(generated.registry.token_count(), 2);
        assert!(TokenRegistry::generated("Local/x").is_err());
    }

    #[test]
    fn debug_shows_no_secret() {
        let generated = TokenRegistry::generated("local").expect("generated");
        let shown = format!("{generated:?} {:?}", generated.registry);
        for token in [&generated.admin_token, &generated.worker_token] {
            assert!(!shown.contains(&secret_of(token)), "{shown}");
            let debug = format!("{token:?} {token}");
            assert!(!debug.contains(&secret_of(token)), "{debug}");
        }
        assert!(shown.contains("local"), "{shown}");
    }
}
