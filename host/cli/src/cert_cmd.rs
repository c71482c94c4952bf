//! `weft cert`: certificates for a cluster's TLS. `weft cert init DIR`
//! makes a new CA and the scheduler's and workers' certificates
//! (`weft_proto::tls::init_cluster_dir`) and says which flag takes which
//! file.

use anyhow::Context;
use std::path::PathBuf;
use weft_proto::tls;

/// The `weft cert` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CertCommand {
    /// Make a new cluster CA and certificates for the scheduler and the
    /// workers in DIR (created owner-only; refuses a DIR that holds a CA key).
    Init {
        /// The directory to write to.
        dir: PathBuf,
        /// A host name or IP address the certificates name (repeatable;
        /// default: localhost and 127.0.0.1). Weft does not check host
        /// names, other tools may.
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
}

/// Runs a `weft cert` subcommand.
pub(crate) fn run(command: CertCommand) -> anyhow::Result<()> {
    match command {
        CertCommand::Init { dir, hosts } => init(dir, &hosts),
    }
}

fn init(dir: PathBuf, hosts: &[String]) -> anyhow::Result<()> {
    let written = tls::init_cluster_dir(&dir, hosts).with_context(|| {
        format!(
            "cannot make a cluster's certificates in `{}`",
            dir.display()
        )
    })?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    let file = |name: &str| dir.join(name).display().to_string();
    println!();
    println!("Next steps:");
    println!(
        "  scheduler: weft scheduler --tls-cert {} --tls-key {} --tls-ca {}",
        file(tls::SCHEDULER_CERT_FILE),
        file(tls::SCHEDULER_KEY_FILE),
        file(tls::CA_CERT_FILE)
    );
    println!(
        "  workers:   weft worker --tls-cert {} --tls-key {} --tls-ca {}",
        file(tls::WORKER_CERT_FILE),
        file(tls::WORKER_KEY_FILE),
        file(tls::CA_CERT_FILE)
    );
    println!(
        "  clients:   --tls-ca {} (clients present no certificate; they use a token)",
        file(tls::CA_CERT_FILE)
    );
    println!(
        "Copy each key only to the machines of its role, and keep {} off the cluster: \
         whoever holds it can make certificates the cluster trusts.",
        file(tls::CA_KEY_FILE)
    );
    Ok(())
}
