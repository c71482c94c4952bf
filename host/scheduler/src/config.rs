//! The scheduler process's settings, each with its name and default.

use std::time::Duration;
use weft_proto::ConnectionLimits;
use weft_schema::graph::GraphLimits;

/// Default of [`SchedulerConfig::listen`].
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8786";
/// Default of [`SchedulerConfig::module_store_bytes_max`]: 1 GiB.
pub const DEFAULT_MODULE_STORE_BYTES_MAX: u64 = 1 << 30;
/// Default of [`SchedulerConfig::module_bytes_max`]: 64 MiB, the workers'
/// runtime default, so a module no worker would load is refused at upload.
pub const DEFAULT_MODULE_BYTES_MAX: u64 = 64 << 20;
/// Default of [`SchedulerConfig::module_refusal_ttl`]: 10 minutes.
pub const DEFAULT_MODULE_REFUSAL_TTL: Duration = Duration::from_secs(600);
/// Default of [`SchedulerConfig::outbox_messages_max`].
pub const DEFAULT_OUTBOX_MESSAGES_MAX: usize = 1 << 20;
/// Default of [`SchedulerConfig::connections_max`].
pub const DEFAULT_CONNECTIONS_MAX: usize = 1024;

/// Settings of a scheduler process.
#[derive(Clone)]
pub struct SchedulerConfig {
    /// `listen`: the address to accept clients and workers on.
    pub listen: String,
    /// The decision logic's tunables, timeouts included (`worker_ttl`,
    /// `client_ttl`, `client_grace`: clients that sent no session token
    /// are released at once, zero for none; `restart_timeout`).
    pub core: weft_core::SchedulerConfig,
    /// Frame size limit and handshake timeout of every connection.
    pub connection: ConnectionLimits,
    /// Limits on submitted graphs.
    pub graph: GraphLimits,
    /// `module_store_bytes_max`: total bytes of uploaded modules kept.
    pub module_store_bytes_max: u64,
    /// `module_bytes_max`: the largest module accepted at upload.
    pub module_bytes_max: u64,
    /// `module_refusal_ttl`: how long a worker's refusal of a module for
    /// its compile deadline or memory ceiling is passed on to the other
    /// workers (refusals for what the bytes are last as long as the module).
    pub module_refusal_ttl: Duration,
    /// `outbox_messages_max`: messages waiting to be written to one
    /// connection; a peer that falls this far behind is disconnected.
    pub outbox_messages_max: usize,
    /// `connections_max`: open connections at once; more are refused.
    pub connections_max: usize,
    /// `client_inbox_max`: requests of one client connection waiting for
    /// the state task at once; past it the connection is not read until
    /// some are handled (TCP pushes back on the client).
    pub client_inbox_max: usize,
    /// Who may connect: `tenants` (a tenants file, reloaded; generated
    /// tokens for an embedded cluster), or open (no tenants: loopback only).
    pub tokens: crate::Tokens,
    /// TLS for the port (`tls_cert`, `tls_key`, `tls_ca`), or plain TCP.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            listen: DEFAULT_LISTEN.to_string(),
            core: weft_core::SchedulerConfig::default(),
            connection: ConnectionLimits::default(),
            graph: GraphLimits::default(),
            module_store_bytes_max: DEFAULT_MODULE_STORE_BYTES_MAX,
            module_bytes_max: DEFAULT_MODULE_BYTES_MAX,
            module_refusal_ttl: DEFAULT_MODULE_REFUSAL_TTL,
            outbox_messages_max: DEFAULT_OUTBOX_MESSAGES_MAX,
            connections_max: DEFAULT_CONNECTIONS_MAX,
            client_inbox_max: crate::inbox::DEFAULT_CLIENT_INBOX_MAX,
            tokens: crate::Tokens::Open,
            tls: None,
        }
    }
}

impl std::fmt::Debug for SchedulerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerConfig")
            .field("listen", &self.listen)
            .field("core", &self.core)
            .field("connection", &self.connection)
            .field("module_store_bytes_max", &self.module_store_bytes_max)
            .field("module_bytes_max", &self.module_bytes_max)
            .field("module_refusal_ttl", &self.module_refusal_ttl)
            .field("outbox_messages_max", &self.outbox_messages_max)
            .field("connections_max", &self.connections_max)
            .field("client_inbox_max", &self.client_inbox_max)
            .field("tokens", &self.tokens)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}
