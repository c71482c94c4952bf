//! Shared by the `weft-bench` binaries: starting a cluster of real `weft`
//! processes ([`processes`]), the workloads of `tools/bench`
//! ([`workloads`]) and the plain TCP copy that workload e is measured
//! against ([`tcp_copy`]).

pub mod processes;
pub mod tcp_copy;
pub mod workloads;
