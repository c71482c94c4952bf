//! [`TestCluster`]: a scheduler core with a clock, for hand-written
//! scenarios. Builder calls set it up (`TestCluster::new().workers(3)
//! .client(ClientId(1))`), `event` applies one event at the current time,
//! `advance` moves the clock and fires what falls due; both drain the
//! commands and check every invariant.

#![allow(dead_code)]

use std::time::Duration;
use weft_core::{
    ClientId, Command, Event, Scheduler, SchedulerConfig, StimulusId, TenantId, Time, WorkerId,
};

/// A core, its clock and its stimulus counter.
pub struct TestCluster {
    pub core: Scheduler,
    pub now: Time,
    stimulus: u64,
}

impl TestCluster {
    /// An empty cluster with the default settings, at time zero.
    pub fn new() -> TestCluster {
        TestCluster::with_config(SchedulerConfig::default())
    }

    /// An empty cluster with these settings.
    pub fn with_config(config: SchedulerConfig) -> TestCluster {
        TestCluster {
            core: Scheduler::new(config),
            now: Time::ZERO,
            stimulus: 0,
        }
    }

    /// Workers 1..=n join, one thread each, instance = id.
    pub fn workers(mut self, n: u32) -> TestCluster {
        for id in 1..=n {
            self.join(WorkerId(id), 1);
        }
        self
    }

    /// `client` connects, in the open tenant.
    pub fn client(mut self, client: ClientId) -> TestCluster {
        self.event(Event::ClientConnected {
            client,
            tenant: TenantId::OPEN,
        });
        self
    }

    /// `worker` joins with `nthreads` (its instance is its id).
    pub fn join(&mut self, worker: WorkerId, nthreads: u32) -> Vec<Command> {
        self.event(Event::WorkerJoined {
            worker,
            nthreads,
            instance: u64::from(worker.0),
        })
    }

    /// Applies `event` now; returns the commands, invariants checked.
    pub fn event(&mut self, event: Event) -> Vec<Command> {
        self.stimulus += 1;
        self.core.handle(self.now, StimulusId(self.stimulus), event);
        self.drain()
    }

    /// Moves the clock `by`, firing every timer that falls due on the way
    /// at its own time; returns the commands.
    pub fn advance(&mut self, by: Duration) -> Vec<Command> {
        let end = self.now.after(by);
        let mut commands = Vec::new();
        while let Some(at) = self.core.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.stimulus += 1;
            self.core
                .handle_timeout(self.now, StimulusId(self.stimulus));
            commands.extend(self.drain());
        }
        self.now = end;
        commands
    }

    fn drain(&mut self) -> Vec<Command> {
        let commands: Vec<Command> = std::iter::from_fn(|| self.core.poll_command()).collect();
        self.core.validate().expect("invariants hold");
        commands
    }
}
