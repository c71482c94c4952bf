//! A worker's data port: [`DataRequest`] in, [`DataReply`] out, values as
//! raw frames after their headers.

use crate::tickets::Ticket;
use serde::{Deserialize, Serialize};
use weft_schema::graph::TaskKey;

/// To a worker's data port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataRequest {
    /// Send these results: one [`DataReply`] per ticket, in order; a
    /// `Found` is followed by the bytes, in frames of at most
    /// [`crate::data::VALUE_CHUNK_BYTES`] ([`crate::data::write_value`]). Each ticket
    /// names its key (`TicketScope::Get`) and must be issued to the
    /// connection's requester.
    Get {
        /// One ticket per key wanted.
        tickets: Vec<Ticket>,
    },
    /// Store this value (scatter); followed by its `nbytes` bytes in
    /// frames as after a `Found`; answered by `Stored` or `Refused` (a
    /// refused value's frames are read and dropped). The ticket names the key
    /// and the largest size allowed (`TicketScope::Put`); a value already
    /// held is never replaced.
    Put {
        /// The scheduler's authorisation.
        ticket: Ticket,
        /// The value's size.
        nbytes: u64,
    },
}

/// From a worker's data port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataReply {
    /// The key's bytes follow, in frames.
    Found {
        /// The key.
        key: TaskKey,
        /// The value's size.
        nbytes: u64,
    },
    /// The worker does not hold the key.
    Missing {
        /// The key.
        key: TaskKey,
    },
    /// A `Put` was stored.
    Stored {
        /// The key.
        key: TaskKey,
    },
    /// A `Put` of a key the worker holds already: nothing was replaced.
    AlreadyHeld {
        /// The key.
        key: TaskKey,
    },
    /// A `Get` or `Put` of this key was refused (no valid ticket for it,
    /// a value over the ticket's size, a `Put` over a held value); the
    /// connection stays open.
    Refused {
        /// The key (all zeros when the ticket named none).
        key: TaskKey,
        /// Why.
        reason: String,
    },
}
