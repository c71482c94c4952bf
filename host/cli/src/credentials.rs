//! Where a `weft` command finds its token: `--token-file`, then the
//! `WEFT_TOKEN` environment variable, then `~/.config/weft/token`. A file
//! that was named but cannot be read is an error, never a silent
//! connection without credentials.

use crate::Failure;
use clap::Args;
use std::path::{Path, PathBuf};
use weft_client::{Client, ClientOptions};
use weft_proto::Secret;

/// The token flags every command that connects takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct CredentialArgs {
    /// A file holding the token to connect with (else `WEFT_TOKEN`, else
    /// `~/.config/weft/token`).
    #[arg(long, global = true)]
    pub(crate) token_file: Option<PathBuf>,
}

impl CredentialArgs {
    /// The token, if one is configured.
    pub(crate) fn token(&self) -> Result<Option<Secret>, Failure> {
        if let Some(path) = &self.token_file {
            return read_token(path).map(Some);
        }
        if let Ok(token) = std::env::var("WEFT_TOKEN")
            && !token.trim().is_empty()
        {
            return Ok(Some(Secret::new(token.trim())));
        }
        let Some(home) = std::env::var_os("HOME") else {
            return Ok(None);
        };
        let default = Path::new(&home).join(".config/weft/token");
        if default.exists() {
            return read_token(&default).map(Some);
        }
        Ok(None)
    }
}

/// What a client command connects with: its token and its TLS.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectArgs {
    #[command(flatten)]
    credentials: CredentialArgs,
    #[command(flatten)]
    tls: crate::tls_args::ClientTlsArgs,
}

impl ConnectArgs {
    /// Connects a client to `addr` with this token and TLS.
    pub(crate) async fn connect(&self, addr: &str) -> Result<Client, Failure> {
        let options = ClientOptions {
            token: self.credentials.token()?,
            tls: self.tls.load()?,
            ..ClientOptions::default()
        };
        Client::connect_with_options(addr, options)
            .await
            .map_err(Failure::usage)
    }
}

/// Reads a token file (its first line, trimmed).
pub(crate) fn read_token(path: &Path) -> Result<Secret, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Failure::usage(anyhow::anyhow!(
            "cannot read the token file {}: {error}",
            path.display()
        ))
    })?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "the token file {} is empty",
            path.display()
        )));
    }
    Ok(Secret::new(token))
}
