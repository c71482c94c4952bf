//! Tests of the keys and of the graph message's round trips and hostile
//! bytes (random, corrupted, truncated); the shared helpers of the graph
//! tests. Limits and field errors are in `tests_decode`.

use super::codec::build_graph;
use super::graph_capnp::{graph, task};
use super::*;
use capnp::message::{AllocationStrategy, Builder, HeapAllocator};
use proptest::prelude::*;

// ---------------------------------------------------------------- helpers

pub(super) const MODULE: [u8; 32] = [7; 32];

pub(super) fn key_strategy() -> impl Strategy<Value = TaskKey> {
    any::<[u8; 16]>().prop_map(TaskKey)
}

fn arg_strategy() -> impl Strategy<Value = GraphArg> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40).prop_map(GraphArg::Value),
        key_strategy().prop_map(GraphArg::Key),
    ]
}

fn task_strategy() -> impl Strategy<Value = GraphTask> {
    (
        key_strategy(),
        any::<[u8; 32]>(),
        "[A-Za-z_][A-Za-z0-9_]{0,20}",
        prop::collection::vec(arg_strategy(), 0..6),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(key, module, function, args, retries, pure)| {
            let mut task = GraphTask::new_impure(key, module, function, args);
            task.retries = retries;
            if pure {
                task.pure = true;
                task.key = task.deterministic_key();
            }
            task
        })
}

fn graph_strategy() -> impl Strategy<Value = Vec<GraphTask>> {
    prop::collection::vec(task_strategy(), 0..12)
}

pub(super) fn sample() -> Vec<GraphTask> {
    let load = GraphTask::new_pure(MODULE, "load", vec![GraphArg::Value(vec![1, 2, 3])]);
    let mut sum = GraphTask::new_impure(
        unique_key(42, 0),
        MODULE,
        "sum",
        vec![
            GraphArg::Key(load.key),
            GraphArg::Value(Vec::new()),
            GraphArg::Key(load.key),
        ],
    );
    sum.retries = 3;
    vec![sum, load]
}

pub(super) fn decode(bytes: &[u8]) -> Result<Vec<GraphTask>, GraphError> {
    decode_graph(bytes, &GraphLimits::default())
}

/// A message of one task, built from a valid one by `edit`, for fields the
/// owned types cannot get wrong.
pub(super) fn raw_task(edit: impl FnOnce(task::Builder<'_>)) -> Vec<u8> {
    let mut message = Builder::new_default();
    build_graph(&mut message, &sample()[1..]);
    let root = message.get_root::<graph::Builder<'_>>().unwrap();
    edit(root.get_tasks().unwrap().get(0));
    capnp::serialize::write_message_to_words(&message)
}

pub(super) fn at_task(index: usize, key: Option<TaskKey>) -> GraphLocation {
    GraphLocation::task(index, key)
}

// ------------------------------------------------------------------- keys

#[test]
fn deterministic_key_follows_the_documented_layout() {
    let args = [
        GraphArg::Value(vec![9, 8]),
        GraphArg::Key(TaskKey([0xab; 16])),
    ];
    let mut input = b"weft/task-key/deterministic/v1\0".to_vec();
    input.extend_from_slice(&MODULE);
    input.extend_from_slice(&3u64.to_le_bytes());
    input.extend_from_slice(b"add");
    input.extend_from_slice(&2u64.to_le_bytes());
    input.extend_from_slice(&[0]);
    input.extend_from_slice(&2u64.to_le_bytes());
    input.extend_from_slice(&[9, 8]);
    input.extend_from_slice(&[1]);
    input.extend_from_slice(&[0xab; 16]);
    let digest = blake3::hash(&input);
    let key = deterministic_key(&MODULE, "add", &args);
    assert_eq!(key.0, digest.as_bytes()[..16]);
    // The vectors of GRAPH.md.
    assert_eq!(key.to_string(), "7166f84f7eb36828516f86056c556fed");
    assert_eq!(
        deterministic_key(&[0; 32], "main", &[]).to_string(),
        "35fffd72b5d79ae4843ef81bba975446"
    );
}

#[test]
fn unique_key_follows_the_documented_layout() {
    let mut input = b"weft/task-key/unique/v1\0".to_vec();
    input.extend_from_slice(&0x0123_4567_89ab_cdefu64.to_le_bytes());
    input.extend_from_slice(&5u64.to_le_bytes());
    let key = unique_key(0x0123_4567_89ab_cdef, 5);
    assert_eq!(key.0, blake3::hash(&input).as_bytes()[..16]);
    assert_eq!(key.to_string(), "85369d9c9a64927cccb16fe628b28930");
    assert_ne!(unique_key(1, 2), unique_key(2, 1));
    assert_ne!(unique_key(1, 2), unique_key(1, 3));
}

#[test]
fn deterministic_keys_separate_what_concatenation_would_merge() {
    let key = |function: &str, args: &[GraphArg]| deterministic_key(&MODULE, function, args);
    let value = |bytes: &[u8]| GraphArg::Value(bytes.to_vec());
    assert_eq!(key("f", &[value(&[1])]), key("f", &[value(&[1])]));
    assert_ne!(
        key("f", &[value(&[1, 2]), value(&[3])]),
        key("f", &[value(&[1]), value(&[2, 3])])
    );
    assert_ne!(
        key("f", &[value(&[1, 2, 3])]),
        key("f", &[value(&[1, 2]), value(&[3])])
    );
    assert_ne!(key("f", &[value(&[])]), key("f", &[]));
    assert_ne!(
        key("f", &[value(&[5; 16])]),
        key("f", &[GraphArg::Key(TaskKey([5; 16]))])
    );
    assert_ne!(key("f", &[]), key("g", &[]));
    assert_ne!(key("ab", &[]), key("a", &[value(b"b")]));
    assert_ne!(
        deterministic_key(&[1; 32], "f", &[]),
        deterministic_key(&[2; 32], "f", &[])
    );
}

proptest! {
    #[test]
    fn different_calls_get_different_keys(
        a in (any::<[u8; 32]>(), "[a-c]{1,3}", prop::collection::vec(arg_strategy(), 0..4)),
        b in (any::<[u8; 32]>(), "[a-c]{1,3}", prop::collection::vec(arg_strategy(), 0..4)),
    ) {
        let key_a = deterministic_key(&a.0, &a.1, &a.2);
        let key_b = deterministic_key(&b.0, &b.1, &b.2);
        prop_assert_eq!(a == b, key_a == key_b);
    }
}

#[test]
fn task_key_hex_round_trips_and_refuses_bad_text() {
    let key = TaskKey([0x3f, 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0xff]);
    let text = key.to_string();
    assert_eq!(text, "3fa00102030405060708090a0b0c0dff");
    assert_eq!(TaskKey::from_hex(&text), Ok(key));
    assert_eq!(text.to_uppercase().parse::<TaskKey>(), Ok(key));
    assert_eq!(format!("{key:?}"), format!("TaskKey({text})"));
    assert_eq!(TaskKey::from_hex("00"), Err(KeyHexError::Length { len: 2 }));
    let bad = format!("{}g", &text[..31]);
    assert_eq!(
        TaskKey::from_hex(&bad),
        Err(KeyHexError::Digit {
            offset: 31,
            found: 'g'
        })
    );
    // A multi-byte character is reported whole, without slicing inside it.
    let accented = format!("{}é", &text[..30]);
    assert_eq!(
        TaskKey::from_hex(&accented),
        Err(KeyHexError::Digit {
            offset: 30,
            found: 'é'
        })
    );
    let late = format!("{}é0", &text[..29]);
    assert_eq!(
        TaskKey::from_hex(&late),
        Err(KeyHexError::Digit {
            offset: 29,
            found: 'é'
        })
    );
}

#[test]
fn owned_types_round_trip_through_serde() {
    let tasks = sample();
    let json = serde_json::to_string(&tasks).unwrap();
    assert_eq!(
        serde_json::from_str::<Vec<GraphTask>>(&json).unwrap(),
        tasks
    );
}

// ------------------------------------------------------------ round trips

proptest! {
    #[test]
    fn encode_then_decode_round_trips(tasks in graph_strategy()) {
        let bytes = encode_graph(&tasks);
        prop_assert_eq!(decode(&bytes)?, tasks.clone());
        // Unaligned input is read in place too.
        let mut shifted = vec![0u8; bytes.len() + 1];
        shifted[1..].copy_from_slice(&bytes);
        prop_assert_eq!(decode(&shifted[1..])?, tasks);
    }

    #[test]
    fn multi_segment_messages_decode(tasks in graph_strategy()) {
        let allocator = HeapAllocator::new()
            .first_segment_words(4)
            .allocation_strategy(AllocationStrategy::FixedSize);
        let mut message = Builder::new(allocator);
        build_graph(&mut message, &tasks);
        let bytes = capnp::serialize::write_message_to_words(&message);
        prop_assert_eq!(decode(&bytes)?, tasks);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn corrupted_messages_never_panic(
        tasks in graph_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = encode_graph(&tasks);
        if !bytes.is_empty() {
            for (index, byte) in flips {
                let at = index.index(bytes.len());
                bytes[at] ^= byte | 1;
            }
        }
        let _ = decode(&bytes);
    }

    #[test]
    fn truncated_messages_are_refused(tasks in graph_strategy()) {
        let bytes = encode_graph(&tasks);
        for len in 0..bytes.len() {
            prop_assert!(decode(&bytes[..len]).is_err(), "prefix of {} bytes accepted", len);
        }
    }
}

#[test]
fn an_empty_graph_round_trips() {
    assert_eq!(decode(&encode_graph(&[])), Ok(Vec::new()));
}

#[test]
fn encoding_is_stable_and_one_segment() {
    let tasks = sample();
    let bytes = encode_graph(&tasks);
    assert_eq!(bytes, encode_graph(&tasks));
    // Segment table: segment count - 1 = 0, then the segment's length.
    assert_eq!(bytes[..4], [0, 0, 0, 0]);
    let words = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(bytes.len(), 8 + 8 * words);
}
