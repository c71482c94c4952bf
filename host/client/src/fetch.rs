//! Bringing results to the client straight from the workers' data ports
//! (never through the scheduler), over a small pool of connections.

use bytes::Bytes;
use std::collections::HashMap;
use tokio::sync::Mutex;
use weft_proto::{Connection, ConnectionLimits, Dialer, Hello, Role};
use weft_schema::graph::TaskKey;

/// Idle connections to workers' data ports, by address.
#[derive(Debug, Default)]
pub(crate) struct PeerPool {
    idle: Mutex<HashMap<String, Vec<Connection>>>,
}

impl PeerPool {
    /// Fetches `keys` from the worker at `addr`, in order.
    pub(crate) async fn fetch(
        &self,
        addr: &str,
        keys: &[TaskKey],
        limits: &ConnectionLimits,
    ) -> Result<Vec<Bytes>, String> {
        let pooled = self.idle.lock().await.get_mut(addr).and_then(Vec::pop);
        let mut connection = match pooled {
            Some(connection) => connection,
            None => {
                let hello = Hello::new(Role::Client, "client");
                Connection::connect(addr, &hello, &Dialer::plain(*limits, Role::Worker))
                    .await
                    .map_err(|e| e.to_string())?
                    .0
            }
        };
        let values = fetch_on(&mut connection, keys).await?;
        self.idle
            .lock()
            .await
            .entry(addr.to_string())
            .or_default()
            .push(connection);
        Ok(values)
    }
}

async fn fetch_on(connection: &mut Connection, keys: &[TaskKey]) -> Result<Vec<Bytes>, String> {
    let values = weft_proto::data::get_values(connection, keys).await?;
    keys.iter()
        .zip(values)
        .map(|(key, value)| value.ok_or_else(|| format!("the worker does not hold {key}")))
        .collect()
}
