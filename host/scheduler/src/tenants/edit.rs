//! The edits `weft tenant` makes to a [`TenantsFile`] in memory: add a
//! tenant's token or a worker token, revoke a token, remove a tenant; each
//! with its error. Nothing here touches the disk.

use super::check::{TENANT_WEIGHT_MAX, TokenPlace};
use super::file::{StoredToken, Tenant, TenantsFile, TokenSummary, summary};
use super::limits::{SetLimitError, set_limit};
use super::token::{self, GenerateFailure};
use super::{TenantNameError, check_tenant_name};
use std::time::SystemTime;
use weft_proto::auth::{Access, Secret};

/// A token could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddTokenError {
    /// The tenant's name is not valid.
    #[error("cannot add a token for {name:?}: {problem}")]
    BadTenantName {
        /// The name.
        name: String,
        /// What is wrong with it.
        problem: TenantNameError,
    },
    /// The OS's random number generator failed.
    #[error("cannot generate a token: the OS random number generator failed: {error}")]
    Random {
        /// Its error.
        error: getrandom::Error,
    },
    /// Every id drawn for the token was taken (with 48 random bits per
    /// draw, a broken random number generator).
    #[error("cannot generate a token: every id drawn is already taken")]
    IdsTaken,
}

impl From<GenerateFailure> for AddTokenError {
    fn from(failure: GenerateFailure) -> Self {
        match failure {
            GenerateFailure::Random(error) => AddTokenError::Random { error },
            GenerateFailure::IdsTaken => AddTokenError::IdsTaken,
        }
    }
}

/// A token could not be revoked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevokeError {
    /// No token has this id.
    #[error("no token has the id {}", shown_id(id))]
    UnknownToken {
        /// The id given.
        id: String,
    },
}

/// `id` for an error message, unless it is not an id (it might be a
/// whole token).
fn shown_id(id: &str) -> &str {
    if token::is_token_id(id) {
        id
    } else {
        "given (an id is 12 lowercase hex characters, the part after weft_)"
    }
}

/// A tenant could not be removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoveTenantError {
    /// No tenant has this name.
    #[error("there is no tenant {name:?}")]
    UnknownTenant {
        /// The name given.
        name: String,
    },
}

/// What [`TenantsFile::revoke`] removed.
pub type RevokedToken = TokenSummary;

/// What [`TenantsFile::remove_tenant`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedTenant {
    /// The tenant's name.
    pub name: String,
    /// The ids of its tokens, all revoked with it.
    pub token_ids: Vec<String>,
}

impl TenantsFile {
    /// Adds a token with `access` to `tenant`, creating the tenant (with
    /// weight 1) if it is new, and returns the token (to show once, never
    /// to log) and its id. With [`Access::Worker`] it adds a worker token
    /// instead and `tenant` is not used.
    pub fn add_token(
        &mut self,
        tenant: &str,
        access: Access,
    ) -> Result<(Secret, String), AddTokenError> {
        self.add_token_at(tenant, access, SystemTime::now())
    }

    /// Adds a worker token and returns it (to show once) and its id.
    pub fn add_worker_token(&mut self) -> Result<(Secret, String), AddTokenError> {
        self.add_token_at("", Access::Worker, SystemTime::now())
    }

    /// [`add_token`](Self::add_token), made at `now`.
    fn add_token_at(
        &mut self,
        tenant: &str,
        access: Access,
        now: SystemTime,
    ) -> Result<(Secret, String), AddTokenError> {
        if access != Access::Worker {
            check_tenant_name(tenant).map_err(|problem| AddTokenError::BadTenantName {
                name: tenant.to_owned(),
                problem,
            })?;
        }
        let new = token::generate(|id| self.place_of(id).is_some())?;
        let stored = StoredToken {
            id: new.id.clone(),
            access,
            hash: new.hash,
            created: token::rfc3339_utc(now),
        };
        if access == Access::Worker {
            self.worker_tokens.push(stored);
        } else if let Some(known) = self.tenants.iter_mut().find(|t| t.name == tenant) {
            known.tokens.push(stored);
        } else {
            self.tenants.push(Tenant {
                name: tenant.to_owned(),
                weight: 1,
                limits: Default::default(),
                tokens: vec![stored],
            });
        }
        Ok((new.token, new.id))
    }

    /// Where the token `id` is, if there is one.
    fn place_of(&self, id: &str) -> Option<TokenPlace> {
        if self.worker_tokens.iter().any(|t| t.id == id) {
            return Some(TokenPlace::Worker);
        }
        self.tenants
            .iter()
            .find(|tenant| tenant.tokens.iter().any(|t| t.id == id))
            .map(|tenant| TokenPlace::Tenant(tenant.name.clone()))
    }

    /// Removes the token `token_id` (a tenant's or a worker's); the tenant
    /// stays, even with no token left.
    pub fn revoke(&mut self, token_id: &str) -> Result<RevokedToken, RevokeError> {
        if let Some(at) = self.worker_tokens.iter().position(|t| t.id == token_id) {
            return Ok(summary(None, &self.worker_tokens.remove(at)));
        }
        for tenant in &mut self.tenants {
            if let Some(at) = tenant.tokens.iter().position(|t| t.id == token_id) {
                let removed = tenant.tokens.remove(at);
                return Ok(summary(Some(&tenant.name), &removed));
            }
        }
        Err(RevokeError::UnknownToken {
            id: token_id.to_owned(),
        })
    }

    /// Removes the tenant `name` and every token of it.
    pub fn remove_tenant(&mut self, name: &str) -> Result<RemovedTenant, RemoveTenantError> {
        let at = self
            .tenants
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| RemoveTenantError::UnknownTenant {
                name: name.to_owned(),
            })?;
        let removed = self.tenants.remove(at);
        Ok(RemovedTenant {
            name: removed.name,
            token_ids: removed.tokens.into_iter().map(|t| t.id).collect(),
        })
    }
}

/// Why `weft tenant set` changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// No tenant has this name.
    #[error("there is no tenant named {name:?}")]
    UnknownTenant {
        /// The name.
        name: String,
    },
    /// A setting is wrong.
    #[error(transparent)]
    Limit(#[from] SetLimitError),
    /// A weight out of range.
    #[error("weight {0:?} is not a whole number from 1 to {TENANT_WEIGHT_MAX}")]
    BadWeight(String),
    /// `weight` among the defaults (a weight is one tenant's).
    #[error("a weight is one tenant's (`weft tenant set NAME weight=N`), not a default")]
    WeightOfDefaults,
}

impl TenantsFile {
    /// Applies `FIELD=VALUE` settings to tenant `name` (its weight and its
    /// own limits), or to the defaults with `None`: all of them or none.
    pub fn set(&mut self, name: Option<&str>, settings: &[String]) -> Result<(), SetError> {
        let mut edited = self.clone();
        for setting in settings {
            let (field, value) = setting
                .split_once('=')
                .ok_or_else(|| SetLimitError::NotAnAssignment(setting.clone()))?;
            let (field, value) = (field.trim(), value.trim());
            let tenant = match name {
                Some(name) => Some(
                    edited
                        .tenants
                        .iter_mut()
                        .find(|t| t.name == name)
                        .ok_or_else(|| SetError::UnknownTenant {
                            name: name.to_owned(),
                        })?,
                ),
                None => None,
            };
            match (field, tenant) {
                ("weight", Some(tenant)) => {
                    tenant.weight = value
                        .parse::<u32>()
                        .ok()
                        .filter(|w| (1..=TENANT_WEIGHT_MAX).contains(w))
                        .ok_or_else(|| SetError::BadWeight(value.to_owned()))?;
                }
                ("weight", None) => return Err(SetError::WeightOfDefaults),
                (field, Some(tenant)) => set_limit(&mut tenant.limits, field, value)?,
                (field, None) => set_limit(&mut edited.defaults, field, value)?,
            }
        }
        *self = edited;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_tokens_creates_tenants_and_worker_tokens() {
        let mut file = TenantsFile::new();
        let (alice_write, write_id) = file.add_token("alice", Access::Write).expect("added");
        let (_, read_id) = file.add_token("alice", Access::Read).expect("added");
        let (_, bob_id) = file.add_token("bob", Access::Admin).expect("added");
        let (worker, worker_id) = file.add_token("ignored", Access::Worker).expect("added");
        let (_, second_worker_id) = file.add_worker_token().expect("added");
        assert!(alice_write.expose().contains(&write_id));
        assert!(worker.expose().contains(&worker_id));
        let names: Vec<String> = file.tenants().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["alice", "bob"]);
        let list = file.list();
        let rows: Vec<(Option<&str>, &str, Access)> = list
            .iter()
            .map(|t| (t.tenant.as_deref(), t.id.as_str(), t.access))
            .collect();
        assert_eq!(
            rows,
            [
                (Some("alice"), write_id.as_str(), Access::Write),
                (Some("alice"), read_id.as_str(), Access::Read),
                (Some("bob"), bob_id.as_str(), Access::Admin),
                (None, worker_id.as_str(), Access::Worker),
                (None, second_worker_id.as_str(), Access::Worker),
            ]
        );
        assert!(list.iter().all(|t| token::is_rfc3339_utc(&t.created)));
    }

    #[test]
    fn a_bad_tenant_name_adds_nothing() {
        let mut file = TenantsFile::new();
        let error = file.add_token("Alice", Access::Write).expect_err("refused");
        assert!(matches!(
            error,
            AddTokenError::BadTenantName {
                problem: TenantNameError::BadChar('A'),
                ..
            }
        ));
        assert_eq!(file, TenantsFile::new());
    }

    #[test]
    fn revoking_and_removing() {
        let mut file = TenantsFile::new();
        let (_, alice_id) = file.add_token("alice", Access::Write).expect("added");
        let (_, bob_id) = file.add_token("bob", Access::Read).expect("added");
        let (_, worker_id) = file.add_worker_token().expect("added");
        let revoked = file.revoke(&alice_id).expect("revoked");
        assert_eq!(revoked.tenant.as_deref(), Some("alice"));
        assert_eq!(revoked.access, Access::Write);
        assert_eq!(file.tenants().len(), 2, "the tenant stays");
        assert_eq!(
            file.revoke(&alice_id),
            Err(RevokeError::UnknownToken {
                id: alice_id.clone()
            })
        );
        assert_eq!(file.revoke(&worker_id).expect("revoked").tenant, None);
        let whole = format!("weft_{bob_id}_{}", "a".repeat(64));
        let message = file.revoke(&whole).expect_err("not an id").to_string();
        assert!(!message.contains(&whole), "{message}");
        let removed = file.remove_tenant("bob").expect("removed");
        assert_eq!(removed.token_ids, [bob_id]);
        assert_eq!(
            file.remove_tenant("bob"),
            Err(RemoveTenantError::UnknownTenant { name: "bob".into() })
        );
        assert_eq!(file.token_count(), 0);
    }
}
