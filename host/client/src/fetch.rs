//! Bringing results to the client straight from the workers' data ports
//! (never through the scheduler), over a small pool of connections.

use bytes::Bytes;
use std::collections::HashMap;
use tokio::sync::Mutex;
use weft_proto::tickets::Ticket;
use weft_proto::{Connection, Dialer, Hello, Role};

/// Idle connections to workers' data ports, by address.
#[derive(Debug, Default)]
pub(crate) struct PeerPool {
    idle: Mutex<HashMap<String, Vec<Connection>>>,
}

impl PeerPool {
    /// Fetches the keys of `tickets` from the worker at `addr`, in order;
    /// a new connection is made with `dialer` (which carries the pass).
    pub(crate) async fn fetch(
        &self,
        addr: &str,
        tickets: &[Ticket],
        dialer: &Dialer,
    ) -> Result<Vec<Bytes>, String> {
        let pooled = self.idle.lock().await.get_mut(addr).and_then(Vec::pop);
        let mut connection = match pooled {
            Some(connection) => connection,
            None => {
                let hello = Hello::new(Role::Client, "client");
                Connection::connect(addr, &hello, dialer)
                    .await
                    .map_err(|e| e.to_string())?
                    .0
            }
        };
        let values = fetch_on(&mut connection, tickets).await?;
        self.idle
            .lock()
            .await
            .entry(addr.to_string())
            .or_default()
            .push(connection);
        Ok(values)
    }
}

async fn fetch_on(connection: &mut Connection, tickets: &[Ticket]) -> Result<Vec<Bytes>, String> {
    let values = weft_proto::data::get_values(connection, tickets).await?;
    tickets
        .iter()
        .zip(values)
        .map(|(ticket, value)| {
            value.ok_or_else(|| {
                let key = weft_proto::data::ticket_key(ticket);
                format!("the worker does not hold {key}")
            })
        })
        .collect()
}
