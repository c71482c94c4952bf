//! Bringing results to the client straight from the workers' data ports
//! (never through the scheduler), over a small pool of connections.

use bytes::Bytes;
use std::collections::HashMap;
use tokio::sync::Mutex;
use weft_proto::messages::{DataReply, DataRequest};
use weft_proto::{Connection, ConnectionLimits, Hello, Role};
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
                Connection::connect(addr, &hello, limits)
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
    connection
        .send(&DataRequest::Get {
            keys: keys.to_vec(),
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut values = Vec::with_capacity(keys.len());
    for key in keys {
        match connection
            .recv::<DataReply>()
            .await
            .map_err(|e| e.to_string())?
        {
            Some(DataReply::Found { key: found, nbytes }) if found == *key => {
                let bytes = connection
                    .recv_frame()
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("the worker closed the connection mid-reply")?;
                if bytes.len() as u64 != nbytes {
                    return Err(format!(
                        "announced {nbytes} bytes for {key}, sent {}",
                        bytes.len()
                    ));
                }
                values.push(bytes);
            }
            Some(DataReply::Missing { key }) => {
                return Err(format!("the worker does not hold {key}"));
            }
            Some(other) => return Err(format!("unexpected reply {other:?}")),
            None => return Err("the worker closed the connection".into()),
        }
    }
    Ok(values)
}
