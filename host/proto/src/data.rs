//! The client side of a worker's data port: one `Get` and its replies. Used
//! by workers fetching inputs from peers and by clients gathering results.

use crate::Connection;
use crate::messages::{DataReply, DataRequest};
use crate::tickets::{Ticket, TicketScope};
use bytes::Bytes;
use weft_schema::graph::TaskKey;

/// Values under this size are copied out of the shared read buffer they
/// arrive in, so that keeping one does not keep the whole buffer alive.
pub const COPY_RECEIVED_BYTES_MAX: usize = 32 << 10;

/// The key a data-port ticket names (all zeros for one that names none).
pub fn ticket_key(ticket: &Ticket) -> TaskKey {
    match ticket.scope {
        TicketScope::Get { key, .. } | TicketScope::Put { key, .. } => key,
        TicketScope::Connect => TaskKey([0; 16]),
    }
}

/// Asks the worker at the other end of `connection` for the keys of
/// `tickets` and reads its replies: one value per key, `None` where it does
/// not hold the key. A refused ticket is an error. After an error the
/// connection must be dropped.
pub async fn get_values(
    connection: &mut Connection,
    tickets: &[Ticket],
) -> Result<Vec<Option<Bytes>>, String> {
    connection
        .send(&DataRequest::Get {
            tickets: tickets.to_vec(),
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut values = Vec::with_capacity(tickets.len());
    for ticket in tickets {
        let key = &ticket_key(ticket);
        match connection
            .recv::<DataReply>()
            .await
            .map_err(|e| e.to_string())?
        {
            Some(DataReply::Found { key: found, nbytes }) if found == *key => {
                let value = connection
                    .recv_frame()
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| {
                        format!("the peer closed the connection before the value of {key}")
                    })?;
                if value.len() as u64 != nbytes {
                    return Err(format!(
                        "the peer announced {nbytes} bytes for {key} and sent {}",
                        value.len()
                    ));
                }
                let value = if value.len() < COPY_RECEIVED_BYTES_MAX {
                    Bytes::copy_from_slice(&value)
                } else {
                    value
                };
                values.push(Some(value));
            }
            Some(DataReply::Missing { key: missing }) if missing == *key => values.push(None),
            Some(DataReply::Refused {
                key: refused,
                reason,
            }) if refused == *key => {
                return Err(format!("the worker refused the ticket for {key}: {reason}"));
            }
            Some(other) => return Err(format!("unexpected reply to a Get of {key}: {other:?}")),
            None => return Err("the peer closed the connection".to_string()),
        }
    }
    Ok(values)
}
