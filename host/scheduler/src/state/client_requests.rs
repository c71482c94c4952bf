//! Client requests at the state task: the single dispatch point that
//! authorizes every request (`client_request`) and then handles it, the
//! answer to a denied request, scatter plans, and the status a client sees.

use super::*;

impl State {
    /// The cluster's status; for a tenant (not admin), only its own keys.
    fn status(&self, with_keys: bool, tenant: Option<TenantId>) -> ClusterStatus {
        let summary = match tenant {
            Some(tenant) => self.core.summary_of(tenant),
            None => self.core.summary(),
        };
        let memory = match tenant {
            Some(tenant) => self.core.worker_memory_of(tenant),
            None => self.core.worker_memory(),
        };
        let mut workers: Vec<WorkerStatus> = memory
            .into_iter()
            .filter_map(|(id, managed_bytes, managed_keys)| {
                let entry = self.workers.get(&id)?;
                Some(WorkerStatus {
                    info: entry.info.clone(),
                    managed_bytes,
                    managed_keys: managed_keys as u64,
                    processing: self.core.processing_count(id) as u64,
                    metrics: entry.metrics,
                    has_what: if with_keys {
                        self.core.has_what_of(id, tenant)
                    } else {
                        Vec::new()
                    },
                })
            })
            .collect();
        workers.sort_by_key(|w| w.info.id);
        ClusterStatus {
            workers,
            keys: summary.tasks.values().sum::<usize>() as u64,
            tasks: summary
                .tasks
                .into_iter()
                .map(|(state, n)| (state, n as u64))
                .collect(),
            clients: summary.clients as u64,
            tenants: self.tenant_statuses(tenant),
        }
    }

    /// The status of `tenant`, or (`None`, an admin) of every tenant
    /// seen, by number.
    fn tenant_statuses(&self, tenant: Option<TenantId>) -> Vec<weft_core::TenantStatus> {
        let mut ids = match tenant {
            Some(tenant) => vec![tenant],
            None => self.core.tenant_ids(),
        };
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let mut status = self.core.tenant_status(id);
                status.modules_bytes = self.modules.tenant_bytes(id);
                if status.name.is_empty() {
                    // The open tenant of a cluster without tenants.
                    status.name = "open".into();
                }
                status
            })
            .collect()
    }

    /// The single dispatch point of client requests: each is authorized
    /// before anything else happens.
    pub(super) fn client_request(
        &mut self,
        connection: ClientId,
        client: ClientId,
        request: ClientRequest,
        prepared: crate::inbox::Prepared,
    ) {
        let Some(peer) = self.clients.get(&client) else {
            return;
        };
        let principal = peer.principal.clone();
        let addr = peer.addr;
        let operation = Operation::of(&request);
        let decision = authorize(&principal, operation, Owner::Own);
        let admin_operation = principal.access == Access::Admin
            && matches!(operation, Operation::Restart | Operation::RebalanceCluster);
        let audited = decision == Decision::Deny
            || admin_operation
            || matches!(
                operation,
                Operation::Publish | Operation::Unpublish | Operation::Share
            );
        if audited {
            let object = match &request {
                ClientRequest::PublishDatasets { datasets, .. } => datasets
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                ClientRequest::UnpublishDataset { name, .. } => name.clone(),
                ClientRequest::ShareDataset {
                    name, with, share, ..
                } => format!("{name} {} {with}", if *share { "with" } else { "from" }),
                _ => String::new(),
            };
            audit::record(&AuditEvent {
                token_id: &principal.token_id,
                tenant: &principal.tenant,
                role: principal.access.name(),
                operation: operation.name(),
                object: &object,
                decision: if decision == Decision::Allow {
                    "allow"
                } else {
                    "deny"
                },
                reason: if decision == Decision::Allow {
                    ""
                } else {
                    "the role does not allow it"
                },
                peer: Some(addr),
            });
        }
        if decision == Decision::Deny {
            let message = format!(
                "permission denied: a {} token cannot {} (tenant {})",
                principal.access,
                operation.name().replace('_', " "),
                principal.tenant
            );
            self.refuse(client, &request, message);
            return;
        }
        match request {
            ClientRequest::UploadModule { request, bytes } => {
                let tenant = self.tenant_id(&principal.tenant);
                let limit = self.core.tenant_policy(tenant).limits.modules_bytes_max;
                let hash = match prepared {
                    crate::inbox::Prepared::ModuleHash(hash) => hash,
                    _ => *blake3::hash(&bytes).as_bytes(),
                };
                let reply = match self
                    .modules
                    .insert(bytes, hash, tenant, &principal.tenant, limit)
                {
                    Ok(hash) => ClientEvent::ModuleStored { request, hash },
                    Err(UploadRefusal::Quota(quota)) => ClientEvent::Failed {
                        request,
                        error: quota.into(),
                    },
                    Err(refusal @ UploadRefusal::TooLarge { .. }) => ClientEvent::RequestFailed {
                        request,
                        message: refusal.to_string(),
                    },
                };
                self.send_client(client, reply);
            }
            ClientRequest::SubmitGraph { graph, wants } => {
                let decoded = match prepared {
                    crate::inbox::Prepared::Graph(decoded) => decoded,
                    _ => decode_graph(&graph, &self.graph_limits),
                };
                let tasks = match decoded {
                    Ok(tasks) => tasks,
                    Err(error) => {
                        let reason = format!("the graph was refused: {error}");
                        let rejected = ToClient::Rejected {
                            keys: wants,
                            reason,
                            quota: None,
                        };
                        self.send_client(client, ClientEvent::Key(rejected));
                        return;
                    }
                };
                let tenant = self.tenant_id(&principal.tenant);
                if let Some(task) = tasks.iter().find(|t| !self.modules.has(&t.module, tenant)) {
                    let reason = format!(
                        "task {} uses module {}, which was not uploaded to this scheduler",
                        task.key,
                        hex(&task.module)
                    );
                    let rejected = ToClient::Rejected {
                        keys: wants,
                        reason,
                        quota: None,
                    };
                    self.send_client(client, ClientEvent::Key(rejected));
                    return;
                }
                self.event(Event::UpdateGraph {
                    client,
                    tasks,
                    wants,
                });
            }
            ClientRequest::Release { keys } => self.event(Event::ReleaseKeys { client, keys }),
            ClientRequest::Want { keys } => self.event(Event::UpdateGraph {
                client,
                tasks: Vec::new(),
                wants: keys,
            }),
            ClientRequest::WhoHas { request, keys } => {
                let mut named = std::collections::BTreeSet::new();
                let locations = keys
                    .iter()
                    .filter_map(|key| {
                        let (holders, nbytes, wire_key, tenant) =
                            self.core.who_has_for(client, key)?;
                        named.extend(holders.iter().copied());
                        let scope = TicketScope::Get {
                            tenant: tenant.0,
                            key: wire_key,
                        };
                        Some(KeyLocation {
                            key: *key,
                            wire_key,
                            nbytes,
                            holders,
                            ticket: self.ticket(scope, Requester::Client(client.0)),
                        })
                    })
                    .collect();
                let workers = named
                    .iter()
                    .filter_map(|w| self.workers.get(w).map(|entry| entry.info.clone()))
                    .collect();
                let reply = ClientEvent::Locations {
                    request,
                    pass: self.ticket(TicketScope::Connect, Requester::Client(client.0)),
                    workers,
                    locations,
                };
                self.send_client(client, reply);
            }
            ClientRequest::Scattered {
                key,
                workers,
                nbytes,
            } => self.event(Event::Scattered {
                client,
                key,
                workers,
                nbytes,
            }),
            ClientRequest::PrepareScatter {
                request,
                values,
                broadcast,
                workers,
            } => self.prepare_scatter(client, request, &values, broadcast, &workers),
            ClientRequest::ListWorkers { request } => {
                // Only the workers in the core's books: not one removed at
                // its TTL whose connection waits for it to rejoin.
                let mut workers: Vec<WorkerInfo> = self
                    .workers
                    .values()
                    .filter(|w| self.core.has_worker(w.info.id))
                    .map(|w| w.info.clone())
                    .collect();
                workers.sort_by_key(|w| w.id);
                self.send_client(client, ClientEvent::Workers { request, workers });
            }
            ClientRequest::Goodbye => self.sessions.end(client),
            // The connection's task holds a graph's parts and hands this
            // task the whole graph (`graph_parts.rs`): these never come here.
            ClientRequest::SubmitGraphPart { wants, .. } => {
                let rejected = ToClient::Rejected {
                    keys: wants,
                    reason: "a graph's part reached the scheduler's state task unassembled".into(),
                    quota: None,
                };
                self.send_client(client, ClientEvent::Key(rejected));
            }
            ClientRequest::DropGraphParts => {}
            ClientRequest::Heartbeat => self.event(Event::ClientHeartbeat { client }),
            ClientRequest::Holding { keys } => self.event(Event::ClientHolds { client, keys }),
            ClientRequest::Session { token, resume } => {
                // Sessions are the tenant's: a token guessed by another
                // tenant names another session.
                let token = session_key(&principal.tenant, token);
                let resumed = self.sessions.attach(connection, token);
                if resume && resumed.is_none() {
                    tracing::warn!(%client, "a client reconnected after its session was gone");
                    self.send_client(client, ClientEvent::SessionLost);
                }
                // Not a resumed session: a new client, counted.
                if resumed.is_none() && !self.admit_new_session(client) {
                    return;
                }
                if let Some(resumed) = resumed {
                    tracing::info!(client = %resumed, "client reconnected within its grace period");
                    if let Some(peer) = self.clients.remove(&connection) {
                        self.clients.insert(resumed, peer);
                    }
                    self.event(Event::ClientGone { client: connection });
                    self.event(Event::ClientResumed { client: resumed });
                }
            }
            ClientRequest::Cancel {
                keys,
                force,
                reason,
            } => self.event(Event::Cancel {
                client,
                keys,
                force,
                reason,
            }),
            ClientRequest::Restart { request } if principal.access == Access::Admin => {
                tracing::info!(%client, "restarting the cluster");
                self.event(Event::Restart { client, request });
            }
            ClientRequest::Restart { request } => {
                // A tenant's restart: its futures only; workers keep running.
                let tenant = self.tenant_id(&principal.tenant);
                tracing::info!(tenant = %principal.tenant, "restarting a tenant");
                self.event(Event::RestartTenant { tenant });
                self.send_client(client, ClientEvent::Done { request });
            }
            ClientRequest::Replicate { request, keys, n } => self.event(Event::Replicate {
                client,
                request,
                keys,
                n,
            }),
            ClientRequest::Rebalance {
                request,
                keys,
                workers,
            } => self.event(Event::Rebalance {
                client,
                request,
                keys,
                workers,
            }),
            ClientRequest::PublishDatasets {
                request,
                datasets,
                replace,
            } => self.event(Event::PublishDatasets {
                client,
                request,
                datasets,
                replace,
            }),
            ClientRequest::GetDataset { request, name } => match name.split_once('/') {
                // Another tenant's dataset, shared with this one.
                Some((owner, own_name)) => match self.known_tenant(owner) {
                    Some(owner_id) => self.event(Event::GetDataset {
                        client,
                        request,
                        name: own_name.to_string(),
                        owner: Some((owner_id, name.clone())),
                    }),
                    None => {
                        let error = weft_core::GetDatasetError::NoSuchDataset { name }.into();
                        self.send_client(client, ClientEvent::Failed { request, error });
                    }
                },
                None => self.event(Event::GetDataset {
                    client,
                    request,
                    name,
                    owner: None,
                }),
            },
            ClientRequest::ShareDataset {
                request,
                name,
                with,
                share,
            } => match self.known_tenant(&with) {
                Some(tenant) => self.event(Event::ShareDataset {
                    client,
                    request,
                    name,
                    with: tenant,
                    share,
                }),
                None => {
                    let message = format!("there is no tenant named {with:?} on this cluster");
                    self.send_client(client, ClientEvent::RequestFailed { request, message });
                }
            },
            ClientRequest::UnpublishDataset { request, name } => {
                self.event(Event::UnpublishDataset {
                    client,
                    request,
                    name,
                })
            }
            ClientRequest::ListDatasets { request } => {
                let names = if principal.access == Access::Admin && !self.open {
                    let numbers: HashMap<TenantId, &String> =
                        self.tenants.iter().map(|(name, id)| (*id, name)).collect();
                    self.core
                        .all_datasets()
                        .into_iter()
                        .map(|(owner, name)| match numbers.get(&owner) {
                            Some(owner) if **owner != principal.tenant => {
                                format!("{owner}/{name}")
                            }
                            _ => name,
                        })
                        .collect()
                } else {
                    let tenant = self.tenant_id(&principal.tenant);
                    let numbers: HashMap<TenantId, &String> =
                        self.tenants.iter().map(|(name, id)| (*id, name)).collect();
                    let mut names = self.core.dataset_names(tenant);
                    names.extend(
                        self.core
                            .datasets_shared_with(tenant)
                            .into_iter()
                            .filter_map(|(owner, name)| {
                                numbers.get(&owner).map(|owner| format!("{owner}/{name}"))
                            }),
                    );
                    names
                };
                self.send_client(client, ClientEvent::Datasets { request, names });
            }
            ClientRequest::Status { request, keys } => {
                let tenant =
                    (principal.access != Access::Admin).then(|| self.tenant_id(&principal.tenant));
                let status = self.status(keys, tenant);
                self.send_client(client, ClientEvent::Status { request, status });
            }
        }
    }

    /// Chooses workers for scattered values (round robin over the workers
    /// by id, or all of them) and issues a put ticket for each copy.
    fn prepare_scatter(
        &mut self,
        client: ClientId,
        request: RequestId,
        values: &[(weft_schema::graph::TaskKey, u64)],
        broadcast: bool,
        among: &[WorkerId],
    ) {
        let in_books = |w: &WorkerId| self.workers.contains_key(w) && self.core.has_worker(*w);
        if let Some(unknown) = among.iter().find(|w| !in_books(w)) {
            let message = format!("{unknown} is not a connected worker");
            self.send_client(client, ClientEvent::RequestFailed { request, message });
            return;
        }
        let mut workers: Vec<WorkerInfo> = self
            .workers
            .values()
            .filter(|w| self.core.has_worker(w.info.id))
            .filter(|w| among.is_empty() || among.contains(&w.info.id))
            .map(|w| w.info.clone())
            .collect();
        workers.sort_by_key(|w| w.id);
        if workers.is_empty() {
            let message = "there are no workers to scatter to".to_string();
            self.send_client(client, ClientEvent::RequestFailed { request, message });
            return;
        }
        if let Some((key, _)) = values
            .iter()
            .find(|(k, _)| self.core.is_computed(client, k))
        {
            let message = format!(
                "key {key} is the key of a computed task: a scatter cannot stand in for it"
            );
            self.send_client(client, ClientEvent::RequestFailed { request, message });
            return;
        }
        let tenant = self.core.tenant_of_client(client);
        let requester = Requester::Client(client.0);
        let targets = values
            .iter()
            .enumerate()
            .map(|(index, (key, nbytes))| {
                let chosen: Vec<&WorkerInfo> = if broadcast {
                    workers.iter().collect()
                } else {
                    vec![&workers[index % workers.len()]]
                };
                let scope = TicketScope::Put {
                    tenant: tenant.0,
                    key: weft_core::wire_key(tenant, key),
                    nbytes_max: *nbytes,
                };
                ScatterTarget {
                    key: *key,
                    puts: chosen
                        .into_iter()
                        .map(|w| (w.id, self.ticket(scope, requester)))
                        .collect(),
                }
            })
            .collect();
        let pass = self.ticket(TicketScope::Connect, requester);
        self.send_client(
            client,
            ClientEvent::ScatterPlan {
                request,
                pass,
                workers,
                targets,
            },
        );
    }

    /// Answers a request that was denied the way its sender waits for an
    /// answer: a failed request, a rejected graph or scatter, or (for a
    /// cancel, which has no reply) a `Denied` notice.
    fn refuse(&mut self, client: ClientId, request: &ClientRequest, message: String) {
        let event = match request {
            ClientRequest::SubmitGraph { wants, .. }
            | ClientRequest::SubmitGraphPart { wants, .. } => {
                ClientEvent::Key(ToClient::Rejected {
                    keys: wants.clone(),
                    reason: message,
                    quota: None,
                })
            }
            ClientRequest::Want { keys } => ClientEvent::Key(ToClient::Rejected {
                keys: keys.clone(),
                reason: message,
                quota: None,
            }),
            ClientRequest::Scattered { key, .. } => ClientEvent::Key(ToClient::Rejected {
                keys: vec![*key],
                reason: message,
                quota: None,
            }),
            other => match other.request_id() {
                Some(request) => ClientEvent::RequestFailed { request, message },
                None => ClientEvent::Denied { message },
            },
        };
        self.send_client(client, event);
    }
}

/// A session token scoped to its tenant.
fn session_key(tenant: &str, token: u128) -> u128 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"weft/session/v1\0");
    hasher.update(&(tenant.len() as u64).to_le_bytes());
    hasher.update(tenant.as_bytes());
    hasher.update(&token.to_le_bytes());
    let digest = hasher.finalize();
    u128::from_le_bytes(digest.as_bytes()[..16].try_into().expect("16 bytes"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
