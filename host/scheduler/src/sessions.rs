//! Client sessions and their reconnection grace. A client that names a
//! session token (`ClientRequest::Session`) and loses its connection keeps
//! everything it held for `client_grace`; a new connection that names the
//! same token within it carries on as the same client (the core's
//! `ClientId` stays; the new connection's id becomes an alias of it).
//! The new connection may even arrive before the scheduler has noticed the
//! old one close (the client saw it drop first): it then takes over, and
//! the old connection's close, when it comes, changes nothing. Clients
//! without a token, or that said goodbye, go as soon as they disconnect.
//! The grace itself is timed by the core (`Event::ClientDisconnected`, then
//! `Command::ClientExpired`, which makes the state task `forget` the
//! session).

use std::collections::{HashMap, HashSet};
use std::time::Duration;
use weft_core::ClientId;

/// What a closed connection means for the client it spoke for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// A newer connection speaks for the client: nothing changes.
    Superseded,
    /// The client is away: the core times its grace.
    Away { client: ClientId },
    /// The client is gone now.
    Gone { client: ClientId },
}

/// The session table. Pure bookkeeping: the core owns the timers.
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
    /// Client with a session → the connection now speaking for it.
    current: HashMap<ClientId, ClientId>,
    /// Connections replaced by a newer one before they closed.
    superseded: HashSet<ClientId>,
    /// Disconnected clients within their grace.
    detached: HashSet<ClientId>,
}

impl Sessions {
    pub(crate) fn new(grace: Duration) -> Sessions {
        Sessions {
            grace,
            by_token: HashMap::new(),
            token_of: HashMap::new(),
            aliases: HashMap::new(),
            current: HashMap::new(),
            superseded: HashSet::new(),
            detached: HashSet::new(),
        }
    }

    /// The client a connection speaks for.
    pub(crate) fn client_of(&self, connection: ClientId) -> ClientId {
        self.aliases.get(&connection).copied().unwrap_or(connection)
    }

    /// The connection speaking for `client` now (itself, if it has no
    /// session).
    pub(crate) fn connection_of(&self, client: ClientId) -> ClientId {
        self.current.get(&client).copied().unwrap_or(client)
    }

    /// Whether a newer connection has replaced `connection`.
    pub(crate) fn is_superseded(&self, connection: ClientId) -> bool {
        self.superseded.contains(&connection)
    }

    /// `connection` names session `token`. Returns the client it resumes
    /// (away within its grace, or still connected through an older
    /// connection, which it supersedes); otherwise the token becomes this
    /// connection's.
    pub(crate) fn attach(&mut self, connection: ClientId, token: u128) -> Option<ClientId> {
        match self.by_token.get(&token).copied() {
            Some(client) if self.current.get(&client) == Some(&connection) => None,
            Some(client) => {
                if !self.detached.remove(&client)
                    && let Some(old) = self.current.get(&client).copied()
                {
                    self.superseded.insert(old);
                }
                self.aliases.insert(connection, client);
                self.current.insert(client, connection);
                Some(client)
            }
            None => {
                if let Some(old) = self.token_of.insert(connection, token) {
                    self.by_token.remove(&old);
                }
                self.by_token.insert(token, connection);
                self.current.insert(connection, connection);
                None
            }
        }
    }

    /// `connection` closed.
    pub(crate) fn detach(&mut self, connection: ClientId) -> Closed {
        if self.superseded.remove(&connection) {
            self.aliases.remove(&connection);
            return Closed::Superseded;
        }
        let client = self.aliases.remove(&connection).unwrap_or(connection);
        if self.grace.is_zero() || !self.token_of.contains_key(&client) {
            self.forget(client);
            return Closed::Gone { client };
        }
        self.current.remove(&client);
        self.detached.insert(client);
        Closed::Away { client }
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
        self.current.remove(&client);
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

    fn away(closed: Closed) -> ClientId {
        match closed {
            Closed::Away { client } => client,
            other => panic!("expected away, got {other:?}"),
        }
    }

    #[test]
    fn a_reconnection_within_grace_speaks_for_the_old_client() {
        let mut sessions = Sessions::new(GRACE);
        let (old, new) = (ClientId(1), ClientId(2));
        assert_eq!(sessions.attach(old, 42), None);
        assert_eq!(away(sessions.detach(old)), old);
        assert_eq!(sessions.attach(new, 42), Some(old));
        assert_eq!(sessions.client_of(new), old);
        assert_eq!(sessions.connection_of(old), new);
        // A second disconnection: away again, and when the core says its
        // grace is over, the session is forgotten.
        assert_eq!(away(sessions.detach(new)), old);
        sessions.forget(old);
        assert_eq!(
            sessions.attach(ClientId(3), 42),
            None,
            "the session is over"
        );
    }

    #[test]
    fn a_reconnection_before_the_old_close_takes_over() {
        let mut sessions = Sessions::new(GRACE);
        let (old, new) = (ClientId(1), ClientId(2));
        sessions.attach(old, 7);
        assert_eq!(sessions.attach(new, 7), Some(old));
        assert_eq!(sessions.detach(old), Closed::Superseded);
        assert_eq!(sessions.client_of(new), old);
        // The new connection's loss starts the grace as usual.
        away(sessions.detach(new));
    }

    #[test]
    fn clients_without_a_token_or_grace_go_at_once() {
        let mut sessions = Sessions::new(GRACE);
        let client = ClientId(1);
        assert_eq!(sessions.detach(client), Closed::Gone { client });
        let mut no_grace = Sessions::new(Duration::ZERO);
        no_grace.attach(client, 7);
        assert_eq!(no_grace.detach(client), Closed::Gone { client });
        assert_eq!(no_grace.attach(ClientId(2), 7), None);
    }

    #[test]
    fn a_goodbye_ends_the_session_at_once_even_for_a_resumed_client() {
        let mut sessions = Sessions::new(GRACE);
        sessions.attach(ClientId(1), 5);
        away(sessions.detach(ClientId(1)));
        assert_eq!(sessions.attach(ClientId(2), 5), Some(ClientId(1)));
        sessions.end(sessions.client_of(ClientId(2)));
        assert_eq!(sessions.client_of(ClientId(2)), ClientId(1));
        assert_eq!(
            sessions.detach(ClientId(2)),
            Closed::Gone {
                client: ClientId(1)
            }
        );
    }

    #[test]
    fn naming_its_own_token_again_changes_nothing() {
        let mut sessions = Sessions::new(GRACE);
        sessions.attach(ClientId(1), 9);
        assert_eq!(sessions.attach(ClientId(1), 9), None);
        away(sessions.detach(ClientId(1)));
    }
}
