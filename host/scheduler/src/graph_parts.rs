//! Graphs in parts. A client sends a graph too large for one frame as
//! `SubmitGraphPart`s ended by a `SubmitGraph`; the connection's task
//! decodes each part as it comes and holds the tasks, for that connection
//! only, until the end, then hands the state task one graph. The limits on
//! a graph (`GraphLimits`: tasks, literal bytes, message bytes) apply to
//! all its parts together, and the keys wanted by all parts are at most
//! `tasks_max`, so what is held is bounded as a single graph is. A part that
//! breaks a limit refuses the graph at once: the keys wanted so far are
//! rejected with the reason, and so are those of every later part up to
//! the end. Parts held when the connection ends are dropped with it (a
//! client that reconnects sends the whole graph again).

use weft_schema::graph::{
    GraphError, GraphLimits, GraphLocation, GraphTask, GraphTotals, TaskKey, decode_graph_part,
};

/// Graphs and modules larger than this are decoded or hashed on a
/// blocking thread rather than in the connection's task.
pub(crate) const BLOCKING_BYTES_MIN: usize = 1 << 20;

/// The parts of the graph a connection is sending, held until its end.
#[derive(Debug, Default)]
pub(crate) struct GraphParts {
    tasks: Vec<GraphTask>,
    wants: Vec<TaskKey>,
    totals: GraphTotals,
    /// Why the graph was refused, if one of its parts was.
    refused: Option<GraphError>,
}

/// Keys to reject now, and why: a part refused the graph.
pub(crate) type Refusal = (Vec<TaskKey>, GraphError);

/// Whether `held` keys wanted by earlier parts and `more` by this one stay
/// within `tasks_max`: a graph cannot want more keys than it may have
/// tasks, so parts of wants alone cannot grow without bound.
fn wanted(held: usize, more: usize, limits: &GraphLimits) -> Result<(), GraphError> {
    let count = held.saturating_add(more);
    if count > limits.tasks_max {
        return Err(GraphError::TooManyWanted {
            count,
            max: limits.tasks_max,
        });
    }
    Ok(())
}

impl GraphParts {
    /// Decodes one more part and holds it. `Some` when the graph is refused
    /// (by this part or an earlier one): those keys are to be rejected now.
    pub(crate) async fn add(
        &mut self,
        bytes: Vec<u8>,
        wants: Vec<TaskKey>,
        limits: &GraphLimits,
    ) -> Option<Refusal> {
        if let Some(error) = &self.refused {
            return Some((wants, error.clone()));
        }
        let held_wants = self.wants.len();
        let decoded = self.decode(bytes, limits).await.and_then(|tasks| {
            wanted(held_wants, wants.len(), limits)?;
            Ok(tasks)
        });
        match decoded {
            Ok(tasks) => {
                self.tasks.extend(tasks);
                self.wants.extend(wants);
                None
            }
            Err(error) => {
                self.refused = Some(error.clone());
                self.tasks = Vec::new();
                let mut rejected = std::mem::take(&mut self.wants);
                rejected.extend(wants);
                Some((rejected, error))
            }
        }
    }

    /// Decodes the graph's last part (or a whole graph, when nothing is
    /// held) and returns every part's tasks, having made `wants` every
    /// part's wants. Keys rejected already (a refusing part's) are not in
    /// `wants` again. Nothing is held afterwards.
    pub(crate) async fn finish(
        &mut self,
        bytes: Vec<u8>,
        wants: &mut Vec<TaskKey>,
        limits: &GraphLimits,
    ) -> Result<Vec<GraphTask>, GraphError> {
        if let Some(error) = self.refused.take() {
            *self = GraphParts::default();
            return Err(error);
        }
        // A graph in one message is bounded by its frame; one in parts by
        // this.
        let in_parts = !self.wants.is_empty() || self.totals.tasks > 0;
        let held_wants = self.wants.len();
        let decoded = self.decode(bytes, limits).await.and_then(|tasks| {
            if in_parts {
                wanted(held_wants, wants.len(), limits)?;
            }
            Ok(tasks)
        });
        let held = std::mem::take(self);
        if !held.wants.is_empty() {
            let last = std::mem::take(wants);
            *wants = held.wants;
            wants.extend(last);
        }
        let tasks = decoded?;
        if held.tasks.is_empty() {
            return Ok(tasks);
        }
        let mut all = held.tasks;
        all.extend(tasks);
        Ok(all)
    }

    /// Forgets what is held: the client gave up on the graph (and has
    /// failed the futures of every part itself).
    pub(crate) fn clear(&mut self) {
        *self = GraphParts::default();
    }

    /// Decodes `bytes` as the next part, on a blocking thread when large.
    async fn decode(
        &mut self,
        bytes: Vec<u8>,
        limits: &GraphLimits,
    ) -> Result<Vec<GraphTask>, GraphError> {
        let mut totals = self.totals;
        if bytes.len() < BLOCKING_BYTES_MIN {
            let decoded = decode_graph_part(&bytes, limits, &mut totals);
            self.totals = totals;
            return decoded;
        }
        let limits = limits.clone();
        let decoding = tokio::task::spawn_blocking(move || {
            let decoded = decode_graph_part(&bytes, &limits, &mut totals);
            (decoded, totals)
        });
        match decoding.await {
            Ok((decoded, totals)) => {
                self.totals = totals;
                decoded
            }
            Err(error) => Err(GraphError::Malformed {
                at: GraphLocation::default(),
                field: "graph",
                detail: format!("the decoder stopped: {error}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_schema::graph::{GraphArg, encode_graph};

    fn tasks(range: std::ops::Range<u64>) -> Vec<GraphTask> {
        range
            .map(|i| {
                let arg = GraphArg::Value(i.to_le_bytes().to_vec());
                GraphTask::new_pure([1; 32], "inc", vec![arg])
            })
            .collect()
    }

    fn keys(tasks: &[GraphTask]) -> Vec<TaskKey> {
        tasks.iter().map(|t| t.key).collect()
    }

    #[tokio::test]
    async fn parts_make_one_graph_with_every_parts_wants() {
        let limits = GraphLimits::default();
        let all = tasks(0..10);
        let mut parts = GraphParts::default();
        assert_eq!(
            parts
                .add(encode_graph(&all[..4]), keys(&all[..4]), &limits)
                .await,
            None
        );
        assert_eq!(
            parts
                .add(encode_graph(&all[4..7]), keys(&all[4..7]), &limits)
                .await,
            None
        );
        let mut wants = keys(&all[7..]);
        let graph = parts
            .finish(encode_graph(&all[7..]), &mut wants, &limits)
            .await;
        assert_eq!(graph, Ok(all.clone()));
        assert_eq!(wants, keys(&all));
        // Nothing is held afterwards: the next graph stands alone.
        let mut wants = keys(&all[..1]);
        let next = parts
            .finish(encode_graph(&all[..1]), &mut wants, &limits)
            .await;
        assert_eq!(next, Ok(all[..1].to_vec()));
        assert_eq!(wants, keys(&all[..1]));
    }

    #[tokio::test]
    async fn a_part_over_the_limit_rejects_what_was_wanted_and_every_later_part() {
        let limits = GraphLimits {
            tasks_max: 5,
            ..GraphLimits::default()
        };
        let all = tasks(0..9);
        let mut parts = GraphParts::default();
        assert_eq!(
            parts
                .add(encode_graph(&all[..3]), keys(&all[..3]), &limits)
                .await,
            None
        );
        let too_many = GraphError::TooManyTasks { count: 6, max: 5 };
        assert_eq!(
            parts
                .add(encode_graph(&all[3..6]), keys(&all[3..6]), &limits)
                .await,
            Some((keys(&all[..6]), too_many.clone()))
        );
        assert_eq!(
            parts
                .add(encode_graph(&all[6..8]), keys(&all[6..8]), &limits)
                .await,
            Some((keys(&all[6..8]), too_many.clone()))
        );
        let mut wants = keys(&all[8..]);
        let end = parts
            .finish(encode_graph(&all[8..]), &mut wants, &limits)
            .await;
        assert_eq!(end, Err(too_many));
        assert_eq!(wants, keys(&all[8..]));
        // The next graph is judged on its own.
        let mut wants = keys(&all[..5]);
        let next = parts
            .finish(encode_graph(&all[..5]), &mut wants, &limits)
            .await;
        assert_eq!(next.map(|t| t.len()), Ok(5));
    }

    #[tokio::test]
    async fn parts_cannot_want_more_keys_than_a_graph_may_have_tasks() {
        let limits = GraphLimits {
            tasks_max: 5,
            ..GraphLimits::default()
        };
        let some = tasks(0..4);
        let mut parts = GraphParts::default();
        // Empty parts carrying only wants: refused once they pass tasks_max.
        assert_eq!(
            parts.add(encode_graph(&[]), keys(&some), &limits).await,
            None
        );
        let too_many = GraphError::TooManyWanted { count: 8, max: 5 };
        assert_eq!(
            parts.add(encode_graph(&[]), keys(&some), &limits).await,
            Some((
                keys(&[some.clone(), some.clone()].concat()),
                too_many.clone()
            ))
        );
        let mut wants = Vec::new();
        let end = parts.finish(encode_graph(&[]), &mut wants, &limits).await;
        assert_eq!(end, Err(too_many));
    }

    #[tokio::test]
    async fn cleared_parts_are_not_submitted_with_the_next_graph() {
        let limits = GraphLimits::default();
        let all = tasks(0..4);
        let mut parts = GraphParts::default();
        assert_eq!(
            parts
                .add(encode_graph(&all[..2]), keys(&all[..2]), &limits)
                .await,
            None
        );
        parts.clear();
        let mut wants = keys(&all[2..]);
        let graph = parts
            .finish(encode_graph(&all[2..]), &mut wants, &limits)
            .await;
        assert_eq!(graph, Ok(all[2..].to_vec()));
        assert_eq!(wants, keys(&all[2..]));
    }
}
