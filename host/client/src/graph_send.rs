//! Sending a graph: in one `SubmitGraph` when its message is small, and
//! otherwise in parts of at most about [`GRAPH_PART_BYTES`]
//! (`SubmitGraphPart`s ended by a `SubmitGraph`), which the scheduler puts
//! together into one graph before it looks at it, so that a graph of any
//! size within the scheduler's graph limits fits the frame limit. The parts
//! go to the connection task together, so no other request comes between
//! them; the link acknowledges them only with their end (`state.rs`) and
//! replays them all after a reconnection.

use crate::{Client, ClientError};
use weft_proto::messages::ClientRequest;
use weft_schema::graph::{GraphTask, TaskKey, encode_graph, graph_parts};

/// The largest part of a graph sent in parts, in bytes of its message: a
/// quarter of the default frame limit, so that a part with its wanted keys
/// fits a frame with room to spare (and never more than a quarter of the
/// client's own `frame_bytes_max`).
pub const GRAPH_PART_BYTES: usize = 16 << 20;

impl Client {
    /// Submits `tasks` and takes futures to those for which `wanted` holds
    /// (the caller holds them already: see `Client::hold`).
    pub(crate) fn submit_graph(
        &self,
        tasks: &[GraphTask],
        wanted: impl Fn(&GraphTask) -> bool,
    ) -> Result<(), ClientError> {
        let part_bytes = GRAPH_PART_BYTES.min(self.frame_bytes_max() / 4).max(1);
        self.send_all(graph_requests(tasks, wanted, part_bytes))
    }
}

/// The requests that submit `tasks`: parts of at most about `part_bytes`,
/// the last one a `SubmitGraph`. None for no tasks.
fn graph_requests(
    tasks: &[GraphTask],
    wanted: impl Fn(&GraphTask) -> bool,
    part_bytes: usize,
) -> Vec<ClientRequest> {
    let parts = graph_parts(tasks, part_bytes);
    let last = parts.len().saturating_sub(1);
    parts
        .into_iter()
        .enumerate()
        .map(|(index, range)| {
            let part = &tasks[range];
            let graph = encode_graph(part);
            let wants: Vec<TaskKey> = part.iter().filter(|t| wanted(t)).map(|t| t.key).collect();
            if index == last {
                ClientRequest::SubmitGraph { graph, wants }
            } else {
                ClientRequest::SubmitGraphPart { graph, wants }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_schema::graph::{GraphArg, GraphLimits, decode_graph};

    fn map(count: u64) -> Vec<GraphTask> {
        (0..count)
            .map(|i| {
                let arg = GraphArg::Value(i.to_le_bytes().to_vec());
                GraphTask::new_pure([3; 32], "inc", vec![arg])
            })
            .collect()
    }

    #[test]
    fn a_small_graph_is_one_submission() {
        let tasks = map(10);
        let requests = graph_requests(&tasks, |_| true, GRAPH_PART_BYTES);
        assert_eq!(requests.len(), 1);
        let ClientRequest::SubmitGraph { graph, wants } = &requests[0] else {
            panic!("not a submission: {:?}", requests[0]);
        };
        assert_eq!(
            decode_graph(graph, &GraphLimits::default()),
            Ok(tasks.clone())
        );
        assert_eq!(wants.len(), 10);
        assert!(graph_requests(&[], |_| true, GRAPH_PART_BYTES).is_empty());
    }

    #[test]
    fn a_large_graph_is_parts_then_an_end_holding_every_task_and_want_once() {
        let tasks = map(5000);
        let odd = |t: &GraphTask| t.key.0[0] % 2 == 1;
        let requests = graph_requests(&tasks, odd, 20_000);
        assert!(requests.len() > 5, "{} requests", requests.len());
        let mut decoded = Vec::new();
        let mut wanted = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            let (graph, wants) = match request {
                ClientRequest::SubmitGraphPart { graph, wants } if index + 1 < requests.len() => {
                    (graph, wants)
                }
                ClientRequest::SubmitGraph { graph, wants } if index + 1 == requests.len() => {
                    (graph, wants)
                }
                other => panic!("request {index} of {}: {other:?}", requests.len()),
            };
            assert!(graph.len() <= 20_000);
            decoded.extend(decode_graph(graph, &GraphLimits::default()).expect("decodes"));
            wanted.extend(wants.iter().copied());
        }
        assert_eq!(decoded, tasks);
        let expected: Vec<TaskKey> = tasks.iter().filter(|t| odd(t)).map(|t| t.key).collect();
        assert_eq!(wanted, expected);
    }
}
