//! Logging: human-readable lines on standard error (`WEFT_LOG` filters
//! them, default `info`), and for `weft scheduler --audit-log FILE` the
//! audit events (target `weft::audit`) also as bare JSON lines appended to
//! FILE.

use crate::Failure;
use std::path::Path;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Sets up logging once, for the whole process.
pub(crate) fn init(audit_log: Option<&Path>) -> Result<(), Failure> {
    let stderr = fmt::layer().with_writer(std::io::stderr).with_filter(
        EnvFilter::try_from_env("WEFT_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
    );
    let audit = match audit_log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| {
                    Failure::usage(anyhow::anyhow!(
                        "cannot open the audit log {}: {error}",
                        path.display()
                    ))
                })?;
            Some(
                fmt::layer()
                    .with_writer(std::sync::Mutex::new(file))
                    .with_ansi(false)
                    .without_time()
                    .with_level(false)
                    .with_target(false)
                    .with_filter(
                        Targets::new()
                            .with_target(weft_scheduler::AUDIT_TARGET, tracing::Level::INFO),
                    ),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(audit)
        .init();
    Ok(())
}
