//! End-to-end tests, one binary: the runtime driven through its API with real
//! guest modules (built by `weft-guest-artifacts`), the `weft` binary, and a C
//! guest compiled with clang. Each module below owns one area.

mod audit;
mod c_guest;
mod cancel;
mod chaos;
mod cli;
mod cluster;
mod compile_bombs;
mod datasets;
mod fair_share;
mod frames;
mod hostile;
mod liveness;
mod loading;
mod local;
mod memory;
mod polyglot;
mod processes;
mod quotas;
mod raw;
mod relay;
mod scale;
mod scheduler_port;
mod stack;
mod support;
mod tenants;
mod terminal;
mod values;
