//! `weft tenant add | add-worker | list | set | set-defaults | revoke |
//! remove`: edits the
//! tenants file a scheduler reads its tokens from. A new token is printed
//! once, alone on stdout (so `$(weft tenant add ...)` captures just it),
//! with what to do with it on stderr; the file keeps only its hash. A
//! running scheduler picks every change up within a second, or at once on
//! SIGHUP.

use anyhow::Context;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use weft_proto::auth::{Access, Secret};
use weft_scheduler::tenants::{TenantsFile, TokenSummary};

/// What a running scheduler does with a changed file, for the messages.
const PICKED_UP: &str =
    "a running scheduler picks the change up within a second, or at once on SIGHUP";

/// `weft tenant`'s subcommands.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum TenantCommand {
    /// Add a token for a tenant (creating the tenant, and the file, if
    /// new) and print it, once.
    Add {
        /// The tenant's name: 1 to 64 characters of a-z, 0-9, _ and -,
        /// starting with a letter or a digit.
        name: String,
        /// What the token may do: admin, write or read.
        #[arg(long, default_value = "write")]
        role: String,
        /// The tenants file.
        #[arg(long)]
        tenants: PathBuf,
    },
    /// Add a worker token (workers join the scheduler with it) and print
    /// it, once.
    AddWorker {
        /// The tenants file.
        #[arg(long)]
        tenants: PathBuf,
    },
    /// List the tokens: tenant, id, role, created (never the tokens).
    List {
        /// The tenants file.
        #[arg(long)]
        tenants: PathBuf,
        /// Print JSON: `{"tenants": [...], "tokens": [...]}`.
        #[arg(long)]
        json: bool,
    },
    /// Set a tenant's weight and limits: `weft tenant set alice weight=3
    /// stored_bytes_max=2GiB tasks_running_max=none`. The limits are
    /// tasks_queued_max, tasks_running_max, stored_bytes_max,
    /// modules_bytes_max, datasets_max, clients_max, graph_tasks_max,
    /// submit_tasks_per_s and submit_burst_tasks; and the ceilings on
    /// each of its tasks, task_memory_max (a size), task_timeout_max (a
    /// duration: 500ms, 30s) and task_fuel_max; `none` clears one (the
    /// default applies again).
    Set {
        /// The tenant.
        name: String,
        /// `FIELD=VALUE`, one or more.
        #[arg(required = true)]
        settings: Vec<String>,
        /// The tenants file.
        #[arg(long)]
        tenants: PathBuf,
    },
    /// Set the default limits of every tenant (`[limits]`), which a
    /// tenant's own override: `weft tenant set-defaults
    /// tasks_queued_max=1000000 stored_bytes_max=8GiB`.
    SetDefaults {
        /// `FIELD=VALUE`, one or more (`none` clears one).
        #[arg(required = true)]
        settings: Vec<String>,
        /// The tenants file.
        #[arg(long)]
        tenants: PathBuf,
    },
    /// Revoke a token by its id (`weft tenant list` shows the ids).
    Revoke {
        /// The token's id: the 12 characters after `weft_`.
        token_id: String,
        /// The tenants file.
        #[arg(long)]
        tenants: PathBuf,
    },
    /// Remove a tenant and revoke every token of it.
    Remove {
        /// The tenant's name.
        name: String,
        /// The tenants file.
        #[arg(long)]
        tenants: PathBuf,
    },
}

/// Runs one `weft tenant` subcommand.
pub(crate) fn run(command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Add {
            name,
            role,
            tenants,
        } => add(&tenants, &name, &role),
        TenantCommand::AddWorker { tenants } => add_worker(&tenants),
        TenantCommand::List { tenants, json } => list(&tenants, json),
        TenantCommand::Revoke { token_id, tenants } => revoke(&tenants, &token_id),
        TenantCommand::Set {
            name,
            settings,
            tenants,
        } => set(&tenants, Some(&name), &settings),
        TenantCommand::SetDefaults { settings, tenants } => set(&tenants, None, &settings),
        TenantCommand::Remove { name, tenants } => remove(&tenants, &name),
    }
}

/// The file at `path`, or a new empty one if there is none yet.
fn read_or_new(path: &Path) -> anyhow::Result<(TenantsFile, bool)> {
    match TenantsFile::read(path) {
        Ok(file) => Ok((file, true)),
        Err(error) if error.is_not_found() => Ok((TenantsFile::new(), false)),
        Err(error) => Err(error.into()),
    }
}

/// Where a client finds its token, for the message after a new one.
const CLIENT_TOKEN_HINT: &str =
    "a client reads it from --token-file, WEFT_TOKEN or ~/.config/weft/token";

/// Prints a new token once, alone on stdout, and on stderr what it is and
/// what to do with it.
fn show_new_token(token: &Secret, what: &str, hint: &str, path: &Path, created_file: bool) {
    if created_file {
        eprintln!("created {}", path.display());
    }
    eprintln!("{what} (in {}):", path.display());
    println!("{}", token.expose());
    eprintln!("this token cannot be shown again: keep it now ({hint}); {PICKED_UP}");
}

fn set(path: &Path, name: Option<&str>, settings: &[String]) -> anyhow::Result<()> {
    let mut file = TenantsFile::read(path)?;
    file.set(name, settings)?;
    file.write(path)?;
    let whom = name.map_or("the default limits".to_string(), |n| format!("tenant {n}"));
    eprintln!("set {whom} in {}; {PICKED_UP}", path.display());
    Ok(())
}

fn add(path: &Path, name: &str, role: &str) -> anyhow::Result<()> {
    let access = match Access::from_name(role) {
        Some(Access::Worker) => {
            anyhow::bail!("a worker token belongs to no tenant: use `weft tenant add-worker`")
        }
        Some(access) => access,
        None => anyhow::bail!("unknown role {role:?}: the roles are admin, write and read"),
    };
    let (mut file, existed) = read_or_new(path)?;
    let new_tenant = !file.tenants().iter().any(|t| t.name == name);
    let (token, id) = file.add_token(name, access)?;
    file.write(path)?;
    let tenant = if new_tenant {
        format!("new tenant {name}")
    } else {
        format!("tenant {name}")
    };
    show_new_token(
        &token,
        &format!("added the {access} token {id} of {tenant}"),
        CLIENT_TOKEN_HINT,
        path,
        !existed,
    );
    Ok(())
}

fn add_worker(path: &Path) -> anyhow::Result<()> {
    let (mut file, existed) = read_or_new(path)?;
    let (token, id) = file.add_worker_token()?;
    file.write(path)?;
    show_new_token(
        &token,
        &format!("added the worker token {id}"),
        "give it to the workers you start; it lets them join as workers only",
        path,
        !existed,
    );
    Ok(())
}

fn list(path: &Path, json: bool) -> anyhow::Result<()> {
    let file = TenantsFile::read(path)?;
    let tokens = file.list();
    if json {
        let tenants: Vec<serde_json::Value> = file
            .tenants()
            .iter()
            .map(|t| serde_json::json!({ "name": t.name, "weight": t.weight, "limits": t.limits }))
            .collect();
        let tokens: Vec<serde_json::Value> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "tenant": t.tenant,
                    "id": t.id,
                    "role": t.access.name(),
                    "created": t.created,
                })
            })
            .collect();
        let shown = serde_json::json!({ "tenants": tenants, "tokens": tokens });
        println!(
            "{}",
            serde_json::to_string_pretty(&shown).context("cannot print JSON")?
        );
        return Ok(());
    }
    let mut rows = vec![[
        "TENANT".to_owned(),
        "ID".to_owned(),
        "ROLE".to_owned(),
        "CREATED".to_owned(),
    ]];
    rows.extend(tokens.iter().map(row));
    // A tenant whose tokens were all revoked still exists: show it.
    for tenant in file.tenants() {
        if !tokens
            .iter()
            .any(|t| t.tenant.as_deref() == Some(&tenant.name))
        {
            rows.push([tenant.name, "-".into(), "-".into(), "(no token)".into()]);
        }
    }
    let mut widths = [0usize; 4];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in &rows {
        println!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        );
    }
    Ok(())
}

/// A token's row: worker tokens have `(worker)` for a tenant.
fn row(token: &TokenSummary) -> [String; 4] {
    [
        token
            .tenant
            .clone()
            .unwrap_or_else(|| "(worker)".to_owned()),
        token.id.clone(),
        token.access.name().to_owned(),
        token.created.clone(),
    ]
}

fn revoke(path: &Path, token_id: &str) -> anyhow::Result<()> {
    let mut file = TenantsFile::read(path)?;
    let revoked = file.revoke(token_id)?;
    file.write(path)?;
    let whose = match &revoked.tenant {
        Some(tenant) => format!(
            "the {} token {} of tenant {tenant}",
            revoked.access, revoked.id
        ),
        None => format!("the worker token {}", revoked.id),
    };
    println!(
        "revoked {whose} in {}; {PICKED_UP}, and closes the connections opened with it \
         at that reload",
        path.display()
    );
    Ok(())
}

fn remove(path: &Path, name: &str) -> anyhow::Result<()> {
    let mut file = TenantsFile::read(path)?;
    let removed = file.remove_tenant(name)?;
    file.write(path)?;
    let tokens = if removed.token_ids.is_empty() {
        "it had no token".to_owned()
    } else {
        format!("its tokens {} are revoked", removed.token_ids.join(", "))
    };
    println!(
        "removed tenant {} from {}: {tokens}; {PICKED_UP}, and closes the connections \
         opened with its tokens at that reload",
        removed.name,
        path.display()
    );
    Ok(())
}
