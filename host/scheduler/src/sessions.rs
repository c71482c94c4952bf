//! Client sessions and their reconnection grace. A client that names a
//! session token (`ClientRequest::Session`) and loses its connection keeps
//! everything it held for `client_grace`; a new connection that names the
//! same token within it carries on as the same client (the core's
//! `ClientId` stays; the new connection's id becomes an alias of it).
//! Clients without a token are released as soon as they disconnect.

use std::collections::HashMap;
use std::time::Duration;
use weft_core::ClientId;

/// The session table. Pure bookkeeping: the state task owns the timers.
#[derive(Debug)]
pub(crate) struct Sessions {
    grace: Duration,
    /// Session token → the client it belongs to.
    by_token: HashMap<u128, ClientId>,
    /// Client → its token.
    token_of: HashMap<ClientId, u128>,
    /// Connection id → the client it speaks for, when they differ (a
    /// resumed session).
    aliases: HashMap<ClientId, ClientId>,
    /// Disconnected clients within their grace, with the epoch of the
    /// disconnection (a later reconnection and disconnection start anew).
    detached: HashMap<ClientId, u64>,
    next_epoch: u64,
}

impl Sessions {
    pub(crate) fn new(grace: Duration) -> Sessions {
        Sessions {
            grace,
            by_token: HashMap::new(),
            token_of: HashMap::new(),
            aliases: HashMap::new(),
            detached: HashMap::new(),
            next_epoch: 0,
        }
    }

    /// The client a connection speaks for.
    pub(crate) fn client_of(&self, connection: ClientId) -> ClientId {
        self.aliases.get(&connection).copied().unwrap_or(connection)
    }

    /// `connection` names session `token`. Returns the client it resumes,
    /// if the token belongs to a client within its grace period; otherwise
    /// the token becomes this connection's.
    pub(crate) fn attach(&mut self, connection: ClientId, token: u128) -> Option<ClientId> {
        match self.by_token.get(&token) {
            Some(&client) if client != connection && self.detached.remove(&client).is_some() => {
                self.aliases.insert(connection, client);
                Some(client)
            }
            Some(_) => {
                tracing::warn!(%connection, "a session token already in use by a connected client was named again; ignored");
                None
            }
            None => {
                if let Some(old) = self.token_of.insert(connection, token) {
                    self.by_token.remove(&old);
                }
                self.by_token.insert(token, connection);
                None
            }
        }
    }

    /// `connection` closed. Returns the grace period and epoch to time, if
    /// the client it spoke for has a session; `None` if it is gone now.
    pub(crate) fn detach(&mut self, connection: ClientId) -> Option<(Duration, u64)> {
        let client = self.aliases.remove(&connection).unwrap_or(connection);
        if self.grace.is_zero() || !self.token_of.contains_key(&client) {
            self.forget(client);
            return None;
        }
        self.next_epoch += 1;
        self.detached.insert(client, self.next_epoch);
        Some((self.grace, self.next_epoch))
    }

    /// The grace period of the disconnection `epoch` of `client` is over.
    /// Returns true if the client is still away (it is gone now).
    pub(crate) fn expire(&mut self, client: ClientId, epoch: u64) -> bool {
        if self.detached.get(&client) != Some(&epoch) {
            return false;
        }
        self.forget(client);
        true
    }

    /// `client` closes on purpose: its connection's end releases it at
    /// once (the session token is dropped; the alias stays until then).
    pub(crate) fn end(&mut self, client: ClientId) {
        if let Some(token) = self.token_of.remove(&client) {
            self.by_token.remove(&token);
        }
    }

    /// Drops everything about `client`.
    pub(crate) fn forget(&mut self, client: ClientId) {
        self.detached.remove(&client);
        if let Some(token) = self.token_of.remove(&client) {
            self.by_token.remove(&token);
        }
        self.aliases.retain(|_, c| *c != client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(5);

    #[test]
    fn a_reconnection_within_grace_speaks_for_the_old_client() {
        let mut sessions = Sessions::new(GRACE);
        let (old, new) = (ClientId(1), ClientId(2));
        assert_eq!(sessions.attach(old, 42), None);
        let (_, epoch) = sessions.detach(old).expect("has a session");
        assert_eq!(sessions.attach(new, 42), Some(old));
        assert_eq!(sessions.client_of(new), old);
        // The old disconnection's timer no longer applies.
        assert!(!sessions.expire(old, epoch));
        // A second disconnection starts a new grace period for `old`.
        let (_, epoch2) = sessions.detach(new).expect("still a session");
        assert!(sessions.expire(old, epoch2));
        assert_eq!(
            sessions.attach(ClientId(3), 42),
            None,
            "the session is over"
        );
    }

    #[test]
    fn clients_without_a_token_or_grace_go_at_once() {
        let mut sessions = Sessions::new(GRACE);
        assert_eq!(sessions.detach(ClientId(1)), None);
        let mut no_grace = Sessions::new(Duration::ZERO);
        no_grace.attach(ClientId(1), 7);
        assert_eq!(no_grace.detach(ClientId(1)), None);
        assert_eq!(no_grace.attach(ClientId(2), 7), None);
    }

    #[test]
    fn a_goodbye_ends_the_session_at_once_even_for_a_resumed_client() {
        let mut sessions = Sessions::new(GRACE);
        sessions.attach(ClientId(1), 5);
        sessions.detach(ClientId(1)).expect("grace");
        assert_eq!(sessions.attach(ClientId(2), 5), Some(ClientId(1)));
        sessions.end(sessions.client_of(ClientId(2)));
        assert_eq!(
            sessions.client_of(ClientId(2)),
            ClientId(1),
            "still speaks for 1"
        );
        assert_eq!(sessions.detach(ClientId(2)), None, "gone at once");
    }

    #[test]
    fn a_token_in_use_cannot_be_taken_over() {
        let mut sessions = Sessions::new(GRACE);
        sessions.attach(ClientId(1), 9);
        assert_eq!(sessions.attach(ClientId(2), 9), None);
        assert_eq!(sessions.client_of(ClientId(2)), ClientId(2));
    }
}
