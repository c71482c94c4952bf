//! The seed inputs of every fuzz target, built from real encodings: frames
//! written by `FrameWriter`'s format, hellos and authentication frames,
//! control messages and data-port messages encoded by the codec, tickets
//! issued by `TicketSecret::issue`, graphs from `encode_graph`, signature
//! records, values encoded by the JSON mapping, and small task modules
//! assembled from text with `wat`. Each seed follows the input layout in
//! its target's header.
//!
//! `examples/write_seeds.rs` writes them to `tests/fuzz/seeds/<target>/`;
//! run it again after changing a message or a format, so that the seeds
//! keep reaching past the first check.

use crate::put_prefixed;
use modules::module_text;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use weft_core::{SpecArg, TaskSpec, WorkerId};
use weft_proto::auth::{AuthFrame, AuthRefusal, AuthReply};
use weft_proto::messages::{
    ClientEvent, ClientRequest, DataReply, DataRequest, WireCompute, WireInput, WorkerCommand,
    WorkerMetrics, WorkerReport,
};
use weft_proto::tickets::{Requester, Ticket, TicketScope, TicketSecret};
use weft_proto::{Access, Credential, Hello, Role, Secret, encode};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};
use weft_schema::ids::TenantId;
use weft_schema::quota::TaskCeilings;
use weft_schema::signature::Type;
use weft_schema::{encode_args, encode_graph, parse_section, unique_key};

mod modules;

/// One seed: the target it is for, a file name, its bytes.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The fuzz target (a file of `fuzz_targets/`).
    pub target: &'static str,
    /// The file name under `seeds/<target>/`.
    pub name: &'static str,
    /// The input.
    pub bytes: Vec<u8>,
}

/// The secret the seeds' tickets are signed with (the `SECRET` of the
/// handshake and data-port targets).
pub const TICKET_SECRET: [u8; 32] = [7; 32];

/// The clock the seeds' tickets are issued at (`NOW_UNIX_S` of the
/// data-port target).
pub const NOW_UNIX_S: u64 = 1_700_000_000;

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    frame(&mut seeds);
    handshake(&mut seeds);
    codec(&mut seeds);
    data_port(&mut seeds);
    tickets(&mut seeds);
    graph(&mut seeds);
    signature(&mut seeds);
    json(&mut seeds);
    modules::modules(&mut seeds);
    modules::guest_text(&mut seeds);
    seeds
}

pub(crate) fn push(
    seeds: &mut Vec<Seed>,
    target: &'static str,
    name: &'static str,
    bytes: Vec<u8>,
) {
    seeds.push(Seed {
        target,
        name,
        bytes,
    });
}

/// `payload` as one frame: its `u32` little-endian length, then itself.
pub fn frame_of(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("a seed frame under 4 GiB");
    let mut out = len.to_le_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn encoded<T: Serialize>(message: &T) -> Vec<u8> {
    encode(message).expect("a seed message encodes")
}

/// `kind` followed by the encoding of `message`.
fn tagged<T: Serialize>(kind: u8, message: &T) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend(encoded(message));
    out
}

fn key(byte: u8) -> TaskKey {
    TaskKey([byte; 16])
}

fn ticket(scope: TicketScope, requester: Requester) -> Ticket {
    let now = UNIX_EPOCH + Duration::from_secs(NOW_UNIX_S);
    TicketSecret::from_bytes(TICKET_SECRET).issue(scope, requester, now, Duration::from_secs(30))
}

fn get_ticket() -> Ticket {
    let scope = TicketScope::Get {
        tenant: 1,
        key: key(1),
    };
    ticket(scope, Requester::Worker(WorkerId(2)))
}

fn put_ticket() -> Ticket {
    let scope = TicketScope::Put {
        tenant: 1,
        key: key(2),
        nbytes_max: 1 << 20,
    };
    ticket(scope, Requester::Client(3))
}

fn frame(seeds: &mut Vec<Seed>) {
    let mut stream = frame_of(&encoded(&Hello::new(Role::Client, "client")));
    stream.extend(frame_of(&encoded(&ClientRequest::Goodbye)));
    stream.extend(frame_of(b""));
    stream.extend(frame_of(b"a raw result frame"));
    // Default limit, a seed of 0: the frames, then a clean end.
    let mut clean = vec![0, 0, 0, 0];
    clean.extend_from_slice(&stream);
    push(seeds, "frame", "frames-default-limit", clean);
    // A limit of 40 bytes, every other read limited, reads dropped: the
    // frames, then one over the limit.
    let mut over = vec![7, 40, 0, 9];
    over.extend_from_slice(&stream);
    over.extend(frame_of(&[0x5a; 41]));
    push(seeds, "frame", "frames-then-too-large", over);
    // A frame cut in its payload, and one cut in its prefix.
    let mut cut = vec![4, 0, 0, 3];
    cut.extend_from_slice(&stream);
    cut.extend_from_slice(&frame_of(b"cut short")[..8]);
    push(seeds, "frame", "truncated-payload", cut);
    push(seeds, "frame", "truncated-prefix", vec![4, 0, 0, 1, 9, 0]);
    // A frame larger than the read chunk (32 KiB): its own allocation,
    // then the stream ends inside it.
    let mut large = vec![4, 0, 0, 5];
    large.extend_from_slice(&40_000u32.to_le_bytes());
    large.extend_from_slice(&[1; 300]);
    push(seeds, "frame", "large-frame-truncated", large);
}

fn handshake(seeds: &mut Vec<Seed>) {
    let hello = |role, name| frame_of(&encoded(&Hello::new(role, name)));
    let auth = |credential| frame_of(&encoded(&AuthFrame { credential }));
    // Mode 0: we accept; the peer says hello and proves who it is.
    let mut token = vec![0];
    token.extend(hello(Role::Client, "client"));
    token.extend(auth(Credential::Token(Secret::new("weft_0123_secret"))));
    push(seeds, "handshake", "accept-token", token);
    let mut pass = vec![0];
    pass.extend(hello(Role::Peer, "worker-2"));
    let connect = ticket(TicketScope::Connect, Requester::Worker(WorkerId(2)));
    pass.extend(auth(Credential::Pass(connect)));
    push(seeds, "handshake", "accept-pass", pass);
    let mut none = vec![0];
    none.extend(hello(Role::Worker, "worker"));
    none.extend(auth(Credential::None));
    push(seeds, "handshake", "accept-no-credential", none);
    // Mode 1: we connect; the scheduler says hello and answers.
    let mut accepted = vec![1];
    accepted.extend(hello(Role::Scheduler, "scheduler"));
    let reply = AuthReply::Accepted {
        tenant: "acme".into(),
        access: Access::Write,
    };
    accepted.extend(frame_of(&encoded(&reply)));
    push(seeds, "handshake", "connect-accepted", accepted);
    let mut refused = vec![1];
    refused.extend(hello(Role::Scheduler, "scheduler"));
    let reply = AuthReply::Refused(AuthRefusal::WrongRole {
        hello: Role::Client,
        credential: "worker".into(),
    });
    refused.extend(frame_of(&encoded(&reply)));
    push(seeds, "handshake", "connect-refused", refused);
    // Peers that are not Weft, or not this version.
    let mut http = vec![0];
    http.extend_from_slice(b"GET / HTTP/1.1\r\nHost: weft\r\n\r\n");
    push(seeds, "handshake", "http-client", http);
    push(
        seeds,
        "handshake",
        "tls-client-hello",
        vec![1, 0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
    );
    let mut future = Hello::new(Role::Client, "from the future");
    future.protocol_version += 1;
    let mut version = vec![0];
    version.extend(frame_of(&encoded(&future)));
    push(seeds, "handshake", "other-version", version);
}

fn graph_tasks() -> Vec<GraphTask> {
    let module = [9u8; 32];
    let first = GraphTask::new_pure(
        module,
        "inc",
        vec![GraphArg::Value(41i64.to_le_bytes().into())],
    );
    let second = GraphTask::new_pure(
        module,
        "add",
        vec![GraphArg::Key(first.key), GraphArg::Key(first.key)],
    );
    let mut third = GraphTask::new_impure(
        unique_key(7, 1),
        module,
        "show",
        vec![GraphArg::Key(second.key)],
    );
    third.retries = 2;
    vec![first, second, third]
}

fn codec(seeds: &mut Vec<Seed>) {
    let graph = encode_graph(&graph_tasks());
    let requests = [
        ("client-request-goodbye", ClientRequest::Goodbye),
        (
            "client-request-want",
            ClientRequest::Want {
                keys: vec![key(1), key(2)],
            },
        ),
        (
            "client-request-submit",
            ClientRequest::SubmitGraph {
                graph,
                wants: vec![key(3)],
            },
        ),
        (
            "client-request-upload",
            ClientRequest::UploadModule {
                request: 1,
                bytes: module_text(0),
            },
        ),
    ];
    for (name, request) in requests {
        push(seeds, "codec", name, tagged(0, &request));
    }
    let events = [
        ("client-event-welcome", ClientEvent::Welcome { tenant: 4 }),
        (
            "client-event-failed",
            ClientEvent::RequestFailed {
                request: 9,
                message: "no such dataset".into(),
            },
        ),
        (
            "client-event-datasets",
            ClientEvent::Datasets {
                request: 2,
                names: vec!["a".into(), "b".into()],
            },
        ),
        ("client-event-session-lost", ClientEvent::SessionLost),
    ];
    for (name, event) in events {
        push(seeds, "codec", name, tagged(1, &event));
    }
    let reports = [
        (
            "worker-report-get-module",
            WorkerReport::GetModule { hash: [9; 32] },
        ),
        (
            "worker-report-leaving",
            WorkerReport::Leaving {
                reason: "restarted: memory limit".into(),
            },
        ),
        (
            "worker-report-finished",
            WorkerReport::Finished {
                key: key(1),
                run: 1,
                nbytes: 8,
                duration_us: 120,
            },
        ),
        (
            "worker-report-erred",
            WorkerReport::Erred {
                key: key(1),
                run: 2,
                message: "task panicked".into(),
            },
        ),
        (
            "worker-report-metrics",
            WorkerReport::Metrics(WorkerMetrics::default()),
        ),
    ];
    for (name, report) in reports {
        push(seeds, "codec", name, tagged(2, &report));
    }
    let spec = TaskSpec::new(
        [9; 32],
        "add",
        vec![
            SpecArg::Key(key(1)),
            SpecArg::Value(vec![1, 0, 0, 0, 0, 0, 0, 0]),
        ],
    );
    let input = WireInput {
        key: key(1),
        nbytes: 8,
        holders: vec![(WorkerId(2), "127.0.0.1:7402".into())],
        ticket: get_ticket(),
    };
    let commands = [
        (
            "worker-command-welcome",
            WorkerCommand::Welcome {
                worker: WorkerId(1),
                ticket_secret: TicketSecret::from_bytes(TICKET_SECRET),
            },
        ),
        (
            "worker-command-compute",
            WorkerCommand::Compute(WireCompute {
                key: key(5),
                run: 1,
                tenant: TenantId(2),
                weight: 3,
                ceilings: TaskCeilings {
                    memory_bytes_max: Some(1 << 20),
                    timeout_ms: Some(500),
                    fuel_max: None,
                },
                spec: Arc::new(spec),
                inputs: vec![input.clone()],
            }),
        ),
        (
            "worker-command-fetch",
            WorkerCommand::Fetch {
                inputs: vec![input],
            },
        ),
        (
            "worker-command-module",
            WorkerCommand::Module {
                hash: [9; 32],
                bytes: module_text(0),
            },
        ),
        (
            "worker-command-free",
            WorkerCommand::Free { keys: vec![key(1)] },
        ),
    ];
    for (name, command) in commands {
        push(seeds, "codec", name, tagged(3, &command));
    }
}

fn data_port(seeds: &mut Vec<Seed>) {
    let get = DataRequest::Get {
        tickets: vec![
            get_ticket(),
            ticket(TicketScope::Connect, Requester::Client(3)),
        ],
    };
    push(seeds, "data_port", "request-get", tagged(0, &get));
    push(
        seeds,
        "data_port",
        "request-put",
        tagged(
            0,
            &DataRequest::Put {
                ticket: put_ticket(),
                nbytes: 8,
            },
        ),
    );
    let replies = [
        (
            "reply-found",
            DataReply::Found {
                key: key(1),
                nbytes: 8,
            },
        ),
        ("reply-missing", DataReply::Missing { key: key(1) }),
        (
            "reply-refused",
            DataReply::Refused {
                key: key(2),
                reason: "the ticket expired 3 s ago".into(),
            },
        ),
        ("reply-stored", DataReply::Stored { key: key(2) }),
    ];
    for (name, reply) in replies {
        push(seeds, "data_port", name, tagged(1, &reply));
    }
}

fn tickets(seeds: &mut Vec<Seed>) {
    let header = |lifetime_s: u16| {
        let mut out = TICKET_SECRET.to_vec();
        out.extend_from_slice(&NOW_UNIX_S.to_le_bytes());
        out.extend_from_slice(&lifetime_s.to_le_bytes());
        out
    };
    let tickets = [
        ("get", get_ticket()),
        ("put", put_ticket()),
        (
            "connect",
            ticket(TicketScope::Connect, Requester::Worker(WorkerId(2))),
        ),
    ];
    for (name, ticket) in tickets {
        let mut bytes = header(30);
        bytes.extend(encoded(&ticket));
        push(seeds, "tickets", name, bytes);
    }
    let mut text = header(3600);
    text.extend_from_slice(b"worker-17");
    push(seeds, "tickets", "requester-text", text);
}

fn graph(seeds: &mut Vec<Seed>) {
    let tasks = graph_tasks();
    let mut chain = vec![0];
    chain.extend(encode_graph(&tasks));
    push(seeds, "graph", "chain-default-limits", chain);
    let mut small = vec![1];
    small.extend(encode_graph(&tasks[..2]));
    push(seeds, "graph", "pair-small-limits", small);
    // A reference to a key outside the graph (known or not to `check_graph`).
    let outside = GraphTask::new_pure([3; 32], "use", vec![GraphArg::Key(key(0x11))]);
    let mut dangling = vec![0];
    dangling.extend(encode_graph(&[outside]));
    push(seeds, "graph", "outside-reference", dangling);
    let mut empty = vec![0];
    empty.extend(encode_graph(&[]));
    push(seeds, "graph", "empty", empty);
}

/// Signature sections used by the signature and JSON seeds.
const SECTIONS: [(&str, &str); 4] = [
    ("scalars", "task inc(x: i64) -> i64;\n"),
    (
        "containers",
        "task f(a: i64, s: string, l: list<option<u8>>) -> map<string, tuple<bool, f64>>;",
    ),
    (
        "named-types",
        "task area(shape: enum Shape{Circle(f64), Rect{w: f32, h: f32}, Empty}) -> \
         struct Area{value: f64, unit: char};\0\0task none() -> unit;",
    ),
    (
        "map-keys",
        "task index(pairs: map<u16, list<string>>, flags: tuple<i8, i16, i32, u32, u64>) -> option<string>;",
    ),
];

fn signature(seeds: &mut Vec<Seed>) {
    let names = ["scalars", "containers", "named-types", "map-keys"];
    for ((_, text), name) in SECTIONS.iter().zip(names) {
        push(seeds, "signature", name, text.as_bytes().to_vec());
    }
    push(seeds, "signature", "module", module_text(0));
}

fn signature_of(index: usize) -> weft_schema::TaskSignature {
    let mut signatures =
        parse_section(SECTIONS[index].1.as_bytes()).expect("a seed section parses");
    signatures.remove(0)
}

fn json(seeds: &mut Vec<Seed>) {
    let json_seed = |mode: u8, ty: &[u8], payload: &[u8]| {
        let mut out = vec![mode];
        put_prefixed(&mut out, ty);
        out.extend_from_slice(payload);
        out
    };
    let containers = SECTIONS[1].1.as_bytes();
    let args = serde_json::json!([7, "hé", [1, null, 255]]);
    let signature = signature_of(1);
    let Some(args) = args.as_array() else {
        unreachable!("the seed arguments are an array")
    };
    let arg_bytes = encode_args(&signature, args).expect("seed arguments encode");
    push(
        seeds,
        "json",
        "decode-arguments",
        json_seed(0, containers, &arg_bytes),
    );
    let result = serde_json::json!({"a": [true, 1.5], "b": [false, "NaN"]});
    let mut result_bytes = Vec::new();
    weft_schema::encode(&signature.ret, &result, &mut result_bytes).expect("a seed result encodes");
    push(
        seeds,
        "json",
        "decode-result",
        json_seed(0, containers, &result_bytes),
    );

    let shape = signature_of(2);
    let ty = serde_json::to_vec(&shape.params[0].ty).expect("a type as JSON");
    let rect = serde_json::json!({"Rect": {"w": 2.0, "h": 0.5}});
    let mut rect_bytes = Vec::new();
    weft_schema::encode(&shape.params[0].ty, &rect, &mut rect_bytes).expect("a seed value encodes");
    push(
        seeds,
        "json",
        "type-as-json",
        json_seed(1, &ty, &rect_bytes),
    );
    let list = serde_json::to_vec(&Type::List(Box::new(Type::Unit))).expect("a type as JSON");
    let count = 3u64.to_le_bytes();
    push(
        seeds,
        "json",
        "zero-sized-list",
        json_seed(1, &list, &count),
    );

    let text = br#"{"value": 1.25, "unit": "m"}"#;
    push(
        seeds,
        "json",
        "encode-struct",
        json_seed(2, SECTIONS[2].1.as_bytes(), text),
    );
    let map_keys = SECTIONS[3].1.as_bytes();
    let text = br#"[[[1, ["x", "y"]], [65535, []]], [-1, -2, -3, 4, 5]]"#;
    push(
        seeds,
        "json",
        "encode-arguments",
        json_seed(2, map_keys, text),
    );
}
