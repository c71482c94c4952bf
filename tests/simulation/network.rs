//! The simulated network: FIFO queues of encoded messages with random
//! delays. A worker's connection is a [`Link`]: a queue each way, bytes
//! from the real codec (`weft_proto::codec`), so every message is encoded
//! and decoded as on a socket. A message is delivered no earlier than its
//! delay and never before the one sent ahead of it on the same queue (TCP
//! keeps order); the two directions, and different links, are independent,
//! so messages cross in flight.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::marker::PhantomData;
use weft_core::Time;
use weft_schema::graph::TaskKey;

/// Messages one way, in order, each due at its time.
pub(crate) struct Queue<M> {
    items: VecDeque<Item>,
    kind: PhantomData<M>,
}

struct Item {
    due: Time,
    bytes: Vec<u8>,
    /// For reports: the `Finished` this is, to see crossings.
    finished: Option<(TaskKey, u32)>,
}

impl<M: Serialize + DeserializeOwned> Queue<M> {
    pub(crate) fn new() -> Self {
        Queue {
            items: VecDeque::new(),
            kind: PhantomData,
        }
    }

    /// Encodes `message` and queues it, due at `due` or after the message
    /// ahead of it.
    pub(crate) fn send(&mut self, due: Time, message: &M, finished: Option<(TaskKey, u32)>) {
        let due = self.items.back().map_or(due, |last| last.due.max(due));
        let bytes = weft_proto::codec::encode(message).expect("a message encodes");
        self.items.push_back(Item {
            due,
            bytes,
            finished,
        });
    }

    /// Whether the first message is due at `now`.
    pub(crate) fn is_due(&self, now: Time) -> bool {
        self.items.front().is_some_and(|item| item.due <= now)
    }

    /// When the first message is due.
    pub(crate) fn next_due(&self) -> Option<Time> {
        self.items.front().map(|item| item.due)
    }

    /// Takes the first message and decodes it.
    pub(crate) fn receive(&mut self) -> Option<M> {
        let item = self.items.pop_front()?;
        Some(weft_proto::codec::decode(&item.bytes).expect("a message decodes"))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Keeps the first `keep` messages (a connection reset loses the rest).
    pub(crate) fn cut_to(&mut self, keep: usize) {
        self.items.truncate(keep);
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }

    /// Whether a `Finished` of `key` (of `run`, if given) is in flight.
    pub(crate) fn carries_finished(&self, key: TaskKey, run: Option<u32>) -> bool {
        self.items.iter().any(|item| {
            item.finished
                .is_some_and(|(k, r)| k == key && run.is_none_or(|run| run == r))
        })
    }
}

/// A worker's connection to the scheduler.
pub(crate) struct Link {
    /// Commands to the worker.
    pub(crate) to_worker: Queue<weft_proto::messages::WorkerCommand>,
    /// Reports to the scheduler.
    pub(crate) to_core: Queue<weft_proto::messages::WorkerReport>,
    /// The worker process is gone: once what it sent is delivered, the
    /// scheduler sees the connection close.
    pub(crate) closing: bool,
    /// What the worker said when it registered (the scheduler's entry).
    pub(crate) nthreads: u32,
    pub(crate) instance: u64,
}

impl Link {
    pub(crate) fn new(nthreads: u32, instance: u64) -> Link {
        Link {
            to_worker: Queue::new(),
            to_core: Queue::new(),
            closing: false,
            nthreads,
            instance,
        }
    }
}
