//! A worker's data port, the parts both sides share: a value goes out as
//! frames of at most [`VALUE_CHUNK_BYTES`] ([`write_value`]) and is put
//! back together by [`read_value`], so a value of any size moves whatever
//! the connection's `frame_bytes_max`; and the client side of one `Get`
//! ([`get_values`]), used by workers fetching inputs from peers and by
//! clients gathering results.

use crate::messages::{DataReply, DataRequest};
use crate::tickets::{Ticket, TicketScope};
use crate::{Connection, ConnectionError, ConnectionReader, ConnectionWriter};
use bytes::Bytes;
use weft_schema::graph::TaskKey;

/// Values under this size are copied out of the shared read buffer they
/// arrive in, so that keeping one does not keep the whole buffer alive.
pub const COPY_RECEIVED_BYTES_MAX: usize = 32 << 10;

/// The largest frame a value is sent in: a larger value is several frames
/// of this size and a last, shorter one. A quarter of the default
/// `frame_bytes_max`, so that a value of up to this size arrives without
/// being copied together.
pub const VALUE_CHUNK_BYTES: usize = 16 << 20;

/// Most bytes reserved up front for a value that arrives in several frames;
/// a larger one grows as its frames come (the announced size is the
/// peer's word, and reserving is not yet receiving). A reservation that
/// fails is an error, not an abort.
const VALUE_RESERVE_BYTES_MAX: u64 = 4 << 30;

/// The largest refused value a data port reads and drops to keep the
/// connection; a larger one closes it instead.
pub const SKIP_VALUE_BYTES_MAX: u64 = 64 << 20;

/// Values up to this size are queued with what comes before them (one
/// write for many small values); larger ones are written from where they
/// are.
pub const QUEUE_VALUE_BYTES_MAX: usize = 64 << 10;

/// The key a data-port ticket names (all zeros for one that names none).
pub fn ticket_key(ticket: &Ticket) -> TaskKey {
    match ticket.scope {
        TicketScope::Get { key, .. } | TicketScope::Put { key, .. } => key,
        TicketScope::Connect => TaskKey([0; 16]),
    }
}

/// Sends `value` after what is queued: one frame when it fits in
/// [`VALUE_CHUNK_BYTES`] and the writer's `frame_bytes_max` (queued, not
/// yet flushed, when it is at most [`QUEUE_VALUE_BYTES_MAX`]), otherwise
/// frames of the smaller of the two.
pub async fn write_value(
    writer: &mut ConnectionWriter,
    value: &[u8],
) -> Result<(), ConnectionError> {
    let chunk = VALUE_CHUNK_BYTES.min(writer.frame_writer_mut().frame_bytes_max().max(1));
    if value.len() <= QUEUE_VALUE_BYTES_MAX.min(chunk) {
        return writer.queue_frame(value);
    }
    for chunk in value.chunks(chunk) {
        writer.send_frame(chunk).await?;
    }
    Ok(())
}

/// Reads a value of `nbytes` sent by [`write_value`]: frames until that
/// many bytes have come. A frame that goes past `nbytes`, or the end of
/// the stream first, is an error (after which the connection must be
/// dropped).
pub async fn read_value(reader: &mut ConnectionReader, nbytes: u64) -> Result<Bytes, String> {
    if nbytes > VALUE_CHUNK_BYTES as u64 {
        return read_large_value(reader, nbytes).await;
    }
    let mut value: Option<Vec<u8>> = None;
    let mut received = 0u64;
    loop {
        let frame = reader
            .recv_frame()
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "the peer closed the connection after {received} of the value's {nbytes} bytes"
                )
            })?;
        received = received.saturating_add(frame.len() as u64);
        if received > nbytes {
            return Err(format!(
                "the peer announced a value of {nbytes} bytes and sent at least {received}"
            ));
        }
        let done = received == nbytes;
        match value.as_mut() {
            // The usual case: the value is one frame, kept as it came.
            None if done => return Ok(own(frame)),
            None => {
                let reserve = nbytes.min(VALUE_RESERVE_BYTES_MAX) as usize;
                let mut bytes = Vec::new();
                bytes.try_reserve_exact(reserve).map_err(|error| {
                    format!("could not set aside {reserve} bytes for a value of {nbytes}: {error}")
                })?;
                bytes.extend_from_slice(&frame);
                value = Some(bytes);
            }
            Some(assembled) => assembled.extend_from_slice(&frame),
        }
        if done {
            return Ok(value.map(Bytes::from).unwrap_or_default());
        }
    }
}

/// [`read_value`] of a value larger than one chunk: its frames are read
/// straight into one buffer of its size (no allocation per frame, one copy
/// of the bytes buffered with a frame's header).
async fn read_large_value(reader: &mut ConnectionReader, nbytes: u64) -> Result<Bytes, String> {
    let reserve = nbytes.min(VALUE_RESERVE_BYTES_MAX) as usize;
    let mut value = Vec::new();
    value.try_reserve_exact(reserve).map_err(|error| {
        format!("could not set aside {reserve} bytes for a value of {nbytes}: {error}")
    })?;
    while (value.len() as u64) < nbytes {
        let received = value.len();
        // A frame past the announced size is refused before it is read.
        let room = usize::try_from(nbytes - received as u64).unwrap_or(usize::MAX);
        if reader
            .recv_frame_into(&mut value, room)
            .await
            .map_err(|e| format!("after {received} of the value's {nbytes} announced bytes: {e}"))?
            .is_none()
        {
            return Err(format!(
                "the peer closed the connection after {received} of the value's {nbytes} bytes"
            ));
        }
    }
    Ok(Bytes::from(value))
}

/// Reads and drops a value of `nbytes` sent by [`write_value`] (one that
/// was refused), frame by frame: at least one, as an empty value is one
/// empty frame.
pub async fn skip_value(reader: &mut ConnectionReader, nbytes: u64) -> Result<(), String> {
    let mut received = 0u64;
    loop {
        let frame = reader
            .recv_frame()
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the peer closed the connection in the middle of a value".to_string())?;
        received = received.saturating_add(frame.len() as u64);
        if received >= nbytes {
            break;
        }
    }
    if received > nbytes {
        return Err(format!(
            "the peer announced a value of {nbytes} bytes and sent {received}"
        ));
    }
    Ok(())
}

/// A received value, copied out of the read buffer it shares if small.
pub fn own(value: Bytes) -> Bytes {
    if value.len() < COPY_RECEIVED_BYTES_MAX {
        Bytes::copy_from_slice(&value)
    } else {
        value
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
                let (reader, _) = connection.split_mut();
                let value = read_value(reader, nbytes)
                    .await
                    .map_err(|error| format!("the value of {key}: {error}"))?;
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
