//! The examples: one of every `ClientRequest` variant ([`every_request`]),
//! checked against the variant list serde derives, and the exhaustive
//! matches over requests ([`variant_name`], [`request_id`]; the events'
//! is `ClientEvent::request_id`) that stop this test compiling when a
//! variant is added until it is given an example.

use std::collections::BTreeSet;
use weft_core::{DatasetValue, WorkerId};
use weft_proto::messages::{ClientRequest, RequestId};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey, encode_graph, scatter_key};

/// The smallest valid WebAssembly module: the magic and version 1. The
/// scheduler only stores module bytes; workers compile them, and this
/// test's worker runs nothing.
pub(crate) const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

/// The name of a request's variant. No wildcard arm: a new variant stops
/// this file compiling until it is named here (and then [`every_request`]
/// fails until it has an example).
pub(crate) fn variant_name(request: &ClientRequest) -> &'static str {
    match request {
        ClientRequest::UploadModule { .. } => "UploadModule",
        ClientRequest::SubmitGraph { .. } => "SubmitGraph",
        ClientRequest::SubmitGraphPart { .. } => "SubmitGraphPart",
        ClientRequest::DropGraphParts => "DropGraphParts",
        ClientRequest::Want { .. } => "Want",
        ClientRequest::Release { .. } => "Release",
        ClientRequest::WhoHas { .. } => "WhoHas",
        ClientRequest::Scattered { .. } => "Scattered",
        ClientRequest::PrepareScatter { .. } => "PrepareScatter",
        ClientRequest::ListWorkers { .. } => "ListWorkers",
        ClientRequest::Session { .. } => "Session",
        ClientRequest::Goodbye => "Goodbye",
        ClientRequest::Heartbeat => "Heartbeat",
        ClientRequest::Holding { .. } => "Holding",
        ClientRequest::Cancel { .. } => "Cancel",
        ClientRequest::Restart { .. } => "Restart",
        ClientRequest::Replicate { .. } => "Replicate",
        ClientRequest::Rebalance { .. } => "Rebalance",
        ClientRequest::PublishDatasets { .. } => "PublishDatasets",
        ClientRequest::GetDataset { .. } => "GetDataset",
        ClientRequest::ShareDataset { .. } => "ShareDataset",
        ClientRequest::UnpublishDataset { .. } => "UnpublishDataset",
        ClientRequest::ListDatasets { .. } => "ListDatasets",
        ClientRequest::Status { .. } => "Status",
    }
}

/// The id a request's answer echoes, for requests that have one (no
/// wildcard arm either).
pub(crate) fn request_id(request: &ClientRequest) -> Option<RequestId> {
    match request {
        ClientRequest::UploadModule { request, .. }
        | ClientRequest::WhoHas { request, .. }
        | ClientRequest::PrepareScatter { request, .. }
        | ClientRequest::ListWorkers { request }
        | ClientRequest::Restart { request }
        | ClientRequest::Replicate { request, .. }
        | ClientRequest::Rebalance { request, .. }
        | ClientRequest::PublishDatasets { request, .. }
        | ClientRequest::GetDataset { request, .. }
        | ClientRequest::ShareDataset { request, .. }
        | ClientRequest::UnpublishDataset { request, .. }
        | ClientRequest::ListDatasets { request }
        | ClientRequest::Status { request, .. } => Some(*request),
        ClientRequest::SubmitGraph { .. }
        | ClientRequest::SubmitGraphPart { .. }
        | ClientRequest::DropGraphParts
        | ClientRequest::Want { .. }
        | ClientRequest::Release { .. }
        | ClientRequest::Scattered { .. }
        | ClientRequest::Session { .. }
        | ClientRequest::Goodbye
        | ClientRequest::Heartbeat
        | ClientRequest::Holding { .. }
        | ClientRequest::Cancel { .. } => None,
    }
}

/// The variant names serde derived for `ClientRequest`: the list a new
/// variant joins without anyone having to remember this test.
fn declared_variants() -> &'static [&'static str] {
    use serde::de::{self, Deserializer, Visitor};
    struct Capture(Option<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for &mut Capture {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only an enum is captured"))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(variants);
            Err(de::Error::custom("captured"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            struct identifier ignored_any
        }
    }
    let mut capture = Capture(None);
    let _ = <ClientRequest as serde::Deserialize>::deserialize(&mut capture);
    capture.0.expect("ClientRequest deserializes as an enum")
}

/// A pure task over [`EMPTY_MODULE`].
pub(crate) fn pure_task() -> GraphTask {
    pure_task_answering(42)
}

/// A pure task over [`EMPTY_MODULE`] with the argument `value`.
pub(crate) fn pure_task_answering(value: u8) -> GraphTask {
    let module = *blake3::hash(EMPTY_MODULE).as_bytes();
    GraphTask::new_pure(module, "answer", vec![GraphArg::Value(vec![value])])
}

/// One example of every request variant, with ids 1, 2, ..., and a second
/// example where `Operation::of` tells two cases of one variant apart
/// (cancel and forced cancel, rebalance of given keys and of everything).
/// Every request with an id has its own.
pub(crate) fn every_request() -> Vec<ClientRequest> {
    let task = pure_task();
    let key = task.key;
    let mut ids = 0;
    let mut id = || {
        ids += 1;
        ids
    };
    let requests = vec![
        ClientRequest::UploadModule {
            request: id(),
            bytes: EMPTY_MODULE.to_vec(),
        },
        ClientRequest::SubmitGraph {
            graph: encode_graph(&[task]),
            wants: vec![key],
        },
        // A part held until its graph's end, then dropped: the
        // submission after it stands alone.
        ClientRequest::SubmitGraphPart {
            graph: encode_graph(&[pure_task_answering(7)]),
            wants: vec![pure_task_answering(7).key],
        },
        ClientRequest::DropGraphParts,
        ClientRequest::WhoHas {
            request: id(),
            keys: vec![key],
        },
        ClientRequest::PrepareScatter {
            request: id(),
            values: vec![(scatter_key(b"scattered"), 9)],
            broadcast: false,
            workers: vec![],
        },
        ClientRequest::Scattered {
            key: scatter_key(b"scattered"),
            workers: vec![WorkerId(1)],
            nbytes: 9,
        },
        ClientRequest::ListWorkers { request: id() },
        ClientRequest::Replicate {
            request: id(),
            keys: vec![key],
            n: 1,
        },
        ClientRequest::Rebalance {
            request: id(),
            keys: vec![key],
            workers: vec![],
        },
        ClientRequest::Rebalance {
            request: id(),
            keys: vec![],
            workers: vec![],
        },
        ClientRequest::PublishDatasets {
            request: id(),
            datasets: vec![("example".to_string(), dataset_of(key))],
            replace: false,
        },
        ClientRequest::ListDatasets { request: id() },
        ClientRequest::GetDataset {
            request: id(),
            name: "example".to_string(),
        },
        ClientRequest::Want { keys: vec![key] },
        ClientRequest::ShareDataset {
            request: id(),
            name: "example".to_string(),
            with: "alice".to_string(),
            share: true,
        },
        ClientRequest::UnpublishDataset {
            request: id(),
            name: "example".to_string(),
        },
        ClientRequest::Status {
            request: id(),
            keys: true,
        },
        ClientRequest::Cancel {
            keys: vec![key],
            force: false,
            reason: "example".to_string(),
        },
        ClientRequest::Cancel {
            keys: vec![key],
            force: true,
            reason: "example".to_string(),
        },
        ClientRequest::Release { keys: vec![key] },
        ClientRequest::Restart { request: id() },
        ClientRequest::Session {
            token: 0x5e55_1011,
            resume: false,
        },
        ClientRequest::Heartbeat,
        ClientRequest::Holding { keys: vec![key] },
        ClientRequest::Goodbye,
    ];
    let named: BTreeSet<&str> = requests.iter().map(variant_name).collect();
    let declared: BTreeSet<&str> = declared_variants().iter().copied().collect();
    assert_eq!(
        named, declared,
        "every ClientRequest variant has an example"
    );
    requests
}

/// A dataset of one key held in memory.
pub(crate) fn dataset_of(key: TaskKey) -> DatasetValue {
    DatasetValue {
        keys: vec![key],
        graph: None,
        metadata: String::new(),
        ret: None,
    }
}
