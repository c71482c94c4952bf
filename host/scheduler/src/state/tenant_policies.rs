//! The tenants' policies at the state task: what the core is told of each
//! tenant (its name, weight and limits from the tenants file) when the
//! tenant is first seen and after every reload, and the limits the state
//! task checks itself: `clients_max` when a client opens a new session
//! (a resumed session is the same client, never refused) and
//! `modules_bytes_max` on upload.

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
            self.event(Event::TenantPolicy { tenant, policy });
        }
    }

    /// Whether `client`, opening a new session, fits its tenant's
    /// `clients_max`; the session is refused and the connection closed if
    /// not.
    pub(super) fn admit_new_session(&mut self, client: ClientId) -> bool {
        let tenant = self.core.tenant_of_client(client);
        // The client itself is already counted.
        let others = self.core.clients_of(tenant).saturating_sub(1);
        let Err(quota) = self
            .core
            .check_quota(tenant, QuotaLimit::ClientsMax, 1, others)
        else {
            return true;
        };
        tracing::warn!(%client, %quota, "refusing a client session");
        self.send_client(client, ClientEvent::SessionRefused { quota });
        // The client closes the connection when it reads the refusal
        // (closing it here could lose the refusal with the socket); until
        // then what it sends is ignored, and it counts as no client.
        self.closed_here.insert(client);
        self.sessions.forget(client);
        self.event(Event::ClientGone { client });
        false
    }
}
