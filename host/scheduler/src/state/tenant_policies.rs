//! The tenants' policies at the state task: what the core is told of each
//! tenant (its name, weight and limits from the tenants file) when the
//! tenant is first seen and after every reload, and the limits the state
//! task checks itself: `clients_max` when a client opens a new session, or
//! sends its first request without one (a resumed session is the same
//! client, never refused), and `modules_bytes_max` on upload.

use super::*;
use weft_core::{QuotaLimit, TenantPolicy};

impl State {
    /// What the tenants registry says of `tenant` (the default policy if
    /// it says nothing: an embedded cluster's tenant, or one removed).
    pub(super) fn policy_of(&self, tenant: &str) -> TenantPolicy {
        let info = self.tokens.current().and_then(|registry| {
            registry
                .tenants()
                .iter()
                .find(|t| t.name == tenant)
                .cloned()
        });
        match info {
            Some(info) => TenantPolicy {
                name: info.name,
                weight: info.weight,
                limits: info.limits,
            },
            None => TenantPolicy {
                name: tenant.to_owned(),
                ..TenantPolicy::default()
            },
        }
    }

    /// Tells the core every known tenant's policy again (after a reload,
    /// which may have changed any of them).
    pub(super) fn publish_policies(&mut self) {
        let mut tenants: Vec<(String, TenantId)> = self
            .tenants
            .iter()
            .map(|(n, id)| (n.clone(), *id))
            .collect();
        tenants.sort_by_key(|(_, id)| *id);
        for (name, tenant) in tenants {
            let policy = self.policy_of(&name);
            self.event(Event::TenantPolicy {
                tenant,
                policy: Box::new(policy),
            });
        }
    }

    /// Whether `client`, new, fits its tenant's `clients_max` (counting
    /// the admitted clients the core still knows); if not, it is told
    /// why and its connection closed.
    pub(super) fn admit_new_session(&mut self, client: ClientId) -> bool {
        let tenant = self.core.tenant_of_client(client);
        let core = &self.core;
        self.admitted.retain(|c| core.knows_client(*c));
        let others = self
            .admitted
            .iter()
            .filter(|c| self.core.tenant_of_client(**c) == tenant)
            .count() as u64;
        let Err(quota) = self
            .core
            .check_quota(tenant, QuotaLimit::ClientsMax, 1, others)
        else {
            self.admitted.insert(client);
            return true;
        };
        tracing::warn!(%client, %quota, "refusing a client session");
        self.send_client(client, ClientEvent::SessionRefused { quota });
        // Dropping its peer closes the connection once its writer has sent
        // what is queued (the refusal); its reader's close is then ignored.
        self.clients.remove(&client);
        self.closed_here.insert(client);
        self.sessions.forget(client);
        self.event(Event::ClientGone { client });
        false
    }
}
