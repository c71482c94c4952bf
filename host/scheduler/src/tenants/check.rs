//! What a valid tenants file is: the TOML shape (every table denies
//! fields it does not know) and the checks on its values (names, weights,
//! ids, roles, hashes, times, no duplicates), each failure a
//! [`FileProblem`] that names the tenant or token and what is wrong.

use super::file::{StoredToken, Tenant, TenantsFile};
use super::limits::{LimitProblem, LimitsPlace, RawLimits};
use super::token::{self, TokenHash};
use super::{TenantNameError, check_tenant_name};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use weft_proto::auth::Access;

/// The largest `weight` of a tenant (the smallest is 1).
pub const TENANT_WEIGHT_MAX: u32 = 10_000;

/// The weight of a tenant whose entry has none.
const DEFAULT_WEIGHT: i64 = 1;

/// The file as written: every table denies fields it does not know.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    tenant: Vec<RawTenant>,
    #[serde(default)]
    worker_token: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    name: String,
    #[serde(default = "default_weight")]
    weight: i64,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    token: Vec<RawToken>,
}

fn default_weight() -> i64 {
    DEFAULT_WEIGHT
}

/// A `[[tenant.token]]` or a `[[worker_token]]` (which has no `role`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    id: String,
    role: Option<String>,
    hash: String,
    created: String,
}

/// Where a token sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPlace {
    /// In this tenant's `[[tenant.token]]`.
    Tenant(String),
    /// In `[[worker_token]]`.
    Worker,
}

impl fmt::Display for TokenPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenPlace::Tenant(name) => write!(f, "tenant {name:?}"),
            TokenPlace::Worker => f.write_str("[[worker_token]]"),
        }
    }
}

/// What is wrong inside a tenants file that is valid TOML. Nothing here
/// repeats a hash or a malformed id, in case a token was pasted there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// A tenant's name is not valid.
    #[error("tenant {name:?}: {problem}")]
    BadTenantName {
        /// The name.
        name: String,
        /// What is wrong with it.
        problem: TenantNameError,
    },
    /// Two tenants have the same name.
    #[error("tenant {name:?} appears twice")]
    DuplicateTenant {
        /// The name.
        name: String,
    },
    /// A tenant's weight is out of range.
    #[error("tenant {tenant:?}: weight {weight} is not between 1 and {TENANT_WEIGHT_MAX}")]
    BadWeight {
        /// The tenant.
        tenant: String,
        /// The weight written.
        weight: i64,
    },
    /// A limit's value is wrong.
    #[error("{place}: {field}: {problem}")]
    BadLimit {
        /// Which limits table.
        place: LimitsPlace,
        /// The field.
        field: &'static str,
        /// What is wrong with its value.
        problem: LimitProblem,
    },
    /// A token's id is not 12 lowercase hex characters.
    #[error("{place}, token number {number}: the id is not 12 lowercase hex characters")]
    BadTokenId {
        /// Where the token is.
        place: TokenPlace,
        /// Its position there, from 1.
        number: usize,
    },
    /// Two tokens have the same id.
    #[error("token {id} appears twice: in {first} and in {second}")]
    DuplicateTokenId {
        /// The id.
        id: String,
        /// Where it appears first.
        first: TokenPlace,
        /// Where it appears again.
        second: TokenPlace,
    },
    /// A tenant's token has no role or one that is not admin, write or read.
    #[error("tenant {tenant:?}, token {id}: role {role:?} is not admin, write or read")]
    BadRole {
        /// The tenant.
        tenant: String,
        /// The token's id.
        id: String,
        /// The role written (empty if none).
        role: String,
    },
    /// A tenant's token has the role `worker`.
    #[error(
        "tenant {tenant:?}, token {id}: the role \"worker\" is not allowed in a tenant \
         (worker tokens go in [[worker_token]], `weft tenant add-worker`)"
    )]
    WorkerRoleInTenant {
        /// The tenant.
        tenant: String,
        /// The token's id.
        id: String,
    },
    /// A `[[worker_token]]` has a `role`.
    #[error("[[worker_token]] {id}: a worker token has no role field")]
    RoleOnWorkerToken {
        /// The token's id.
        id: String,
    },
    /// A hash is not `blake3:` and 64 lowercase hex characters.
    #[error("{place}, token {id}: the hash is not \"blake3:\" and 64 lowercase hex characters")]
    BadHash {
        /// Where the token is.
        place: TokenPlace,
        /// The token's id.
        id: String,
    },
    /// A `created` is not RFC 3339 UTC like `2026-12-01T07:00:00Z`.
    #[error("{place}, token {id}: created {created:?} is not a UTC time like 2026-12-01T07:00:00Z")]
    BadCreated {
        /// Where the token is.
        place: TokenPlace,
        /// The token's id.
        id: String,
        /// What is written.
        created: String,
    },
}

/// Checks a parsed file: names, weights, ids, roles, hashes, times, and
/// that no tenant name and no token id appears twice.
fn check(raw: RawFile) -> Result<TenantsFile, FileProblem> {
    let limits = |raw: RawLimits, place: LimitsPlace| {
        raw.check()
            .map_err(|(field, problem)| FileProblem::BadLimit {
                place,
                field,
                problem,
            })
    };
    let defaults = limits(raw.limits, LimitsPlace::Defaults)?;
    let mut ids: HashMap<String, TokenPlace> = HashMap::new();
    let mut names: HashSet<String> = HashSet::with_capacity(raw.tenant.len());
    let mut tenants: Vec<Tenant> = Vec::with_capacity(raw.tenant.len());
    for raw_tenant in raw.tenant {
        let name = raw_tenant.name;
        check_tenant_name(&name).map_err(|problem| FileProblem::BadTenantName {
            name: name.clone(),
            problem,
        })?;
        if !names.insert(name.clone()) {
            return Err(FileProblem::DuplicateTenant { name });
        }
        let weight = u32::try_from(raw_tenant.weight)
            .ok()
            .filter(|w| (1..=TENANT_WEIGHT_MAX).contains(w))
            .ok_or_else(|| FileProblem::BadWeight {
                tenant: name.clone(),
                weight: raw_tenant.weight,
            })?;
        let own_limits = limits(raw_tenant.limits, LimitsPlace::Tenant(name.clone()))?;
        let place = TokenPlace::Tenant(name.clone());
        let mut tokens = Vec::with_capacity(raw_tenant.token.len());
        for (index, raw_token) in raw_tenant.token.into_iter().enumerate() {
            let role = raw_token.role.clone().unwrap_or_default();
            let access = match Access::from_name(&role) {
                Some(Access::Worker) => {
                    return Err(FileProblem::WorkerRoleInTenant {
                        tenant: name,
                        id: raw_token.id,
                    });
                }
                Some(access) => access,
                None => {
                    return Err(FileProblem::BadRole {
                        tenant: name,
                        id: raw_token.id,
                        role,
                    });
                }
            };
            tokens.push(check_token(&place, index, raw_token, access, &mut ids)?);
        }
        tenants.push(Tenant {
            name,
            weight,
            limits: own_limits,
            tokens,
        });
    }
    let mut worker_tokens = Vec::with_capacity(raw.worker_token.len());
    for (index, raw_token) in raw.worker_token.into_iter().enumerate() {
        if raw_token.role.is_some() {
            return Err(FileProblem::RoleOnWorkerToken { id: raw_token.id });
        }
        let place = TokenPlace::Worker;
        worker_tokens.push(check_token(
            &place,
            index,
            raw_token,
            Access::Worker,
            &mut ids,
        )?);
    }
    Ok(TenantsFile {
        defaults,
        tenants,
        worker_tokens,
    })
}

/// Checks one token's id (well formed, not seen before), hash and time.
fn check_token(
    place: &TokenPlace,
    index: usize,
    raw: RawToken,
    access: Access,
    ids: &mut HashMap<String, TokenPlace>,
) -> Result<StoredToken, FileProblem> {
    if !token::is_token_id(&raw.id) {
        return Err(FileProblem::BadTokenId {
            place: place.clone(),
            number: index + 1,
        });
    }
    let Some(hash) = TokenHash::parse(&raw.hash) else {
        return Err(FileProblem::BadHash {
            place: place.clone(),
            id: raw.id,
        });
    };
    if !token::is_rfc3339_utc(&raw.created) {
        return Err(FileProblem::BadCreated {
            place: place.clone(),
            id: raw.id,
            created: raw.created,
        });
    }
    if let Some(first) = ids.get(&raw.id) {
        return Err(FileProblem::DuplicateTokenId {
            id: raw.id,
            first: first.clone(),
            second: place.clone(),
        });
    }
    ids.insert(raw.id.clone(), place.clone());
    Ok(StoredToken {
        id: raw.id,
        access,
        hash,
        created: raw.created,
    })
}

/// Why a text is not a valid tenants file.
pub(super) enum Refusal {
    /// Not TOML, or a field is missing, mistyped or unknown.
    Syntax(toml::de::Error),
    /// A value is wrong.
    Problem(FileProblem),
}

/// Parses and checks the text of a tenants file.
pub(super) fn checked(text: &str) -> Result<TenantsFile, Refusal> {
    let raw: RawFile = toml::from_str(text).map_err(Refusal::Syntax)?;
    check(raw).map_err(Refusal::Problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenants::{TenantInfo, TenantsFileError, TokenSummary};
    use weft_schema::quota::TenantLimits;

    fn hash(byte: &str) -> String {
        format!("blake3:{}", byte.repeat(32))
    }

    /// A valid file: two tenants (one with a token), one worker token.
    fn example() -> String {
        format!(
            r#"# Weft tenants file
[limits]
datasets_max = 10
stored_bytes_max = "8 GiB"

[[tenant]]
name = "alice"
weight = 2            # a comment

[tenant.limits]
stored_bytes_max = 2147483648

[[tenant.token]]
id = "3f9a0c1d2e4b"
role = "write"
hash = "{}"
created = "2026-12-01T07:00:00Z"

[[tenant]]
name = "bob"

[[worker_token]]
id = "0123456789ab"
hash = "{}"
created = "2026-12-01T07:00:01Z"
"#,
            hash("ab"),
            hash("cd")
        )
    }

    /// The error of parsing `text` as `tenants.toml`, and its message
    /// (which must name the file).
    fn error_of(text: &str) -> (TenantsFileError, String) {
        let error = TenantsFile::parse(text, "tenants.toml").expect_err("the file is refused");
        let message = error.to_string();
        assert!(message.contains("tenants.toml"), "{message}");
        (error, message)
    }

    fn problem_of(text: &str) -> (FileProblem, String) {
        match error_of(text) {
            (TenantsFileError::Invalid { problem, .. }, message) => (problem, message),
            (other, _) => panic!("not a FileProblem: {other}"),
        }
    }

    #[test]
    fn the_example_parses() {
        let file = TenantsFile::parse(&example(), "tenants.toml").expect("valid");
        assert_eq!(
            file.tenants(),
            vec![
                TenantInfo {
                    name: "alice".into(),
                    weight: 2,
                    limits: TenantLimits {
                        datasets_max: Some(10),
                        stored_bytes_max: Some(2 << 30),
                        ..TenantLimits::default()
                    },
                },
                TenantInfo {
                    name: "bob".into(),
                    weight: 1,
                    limits: TenantLimits {
                        datasets_max: Some(10),
                        stored_bytes_max: Some(8 << 30),
                        ..TenantLimits::default()
                    },
                },
            ]
        );
        assert_eq!(file.token_count(), 2);
        let list = file.list();
        assert_eq!(
            list[0],
            TokenSummary {
                tenant: Some("alice".into()),
                id: "3f9a0c1d2e4b".into(),
                access: Access::Write,
                created: "2026-12-01T07:00:00Z".into(),
            }
        );
        assert_eq!(list[1].tenant, None);
        assert_eq!(list[1].access, Access::Worker);
        assert!(TenantsFile::parse("", "empty.toml").is_ok());
    }

    #[test]
    fn a_bad_limit_names_its_table_and_field() {
        let text = "[[tenant]]\nname = \"alice\"\n[tenant.limits]\nclients_max = -2\n";
        let (problem, message) = problem_of(text);
        assert_eq!(
            problem,
            FileProblem::BadLimit {
                place: LimitsPlace::Tenant("alice".into()),
                field: "clients_max",
                problem: LimitProblem::Negative { value: -2 },
            }
        );
        assert!(
            message.contains("tenant \"alice\", [tenant.limits]: clients_max: -2 is negative"),
            "{message}"
        );
        let (problem, _) = problem_of("[limits]\nstored_bytes_max = \"2 gigs\"\n");
        assert!(matches!(
            problem,
            FileProblem::BadLimit {
                place: LimitsPlace::Defaults,
                field: "stored_bytes_max",
                ..
            }
        ));
        let (error, _) = error_of("[limits]\nstored_bytes = 1\n");
        assert!(
            matches!(error, TenantsFileError::Syntax { .. }),
            "unknown field"
        );
    }

    #[test]
    fn a_bad_tenant_name_is_refused() {
        let (problem, message) = problem_of(&example().replace("\"bob\"", "\"bob/x\""));
        assert_eq!(
            problem,
            FileProblem::BadTenantName {
                name: "bob/x".into(),
                problem: TenantNameError::BadChar('/'),
            }
        );
        assert!(message.contains("tenant \"bob/x\""), "{message}");
    }

    #[test]
    fn duplicate_tenants_and_ids_are_refused() {
        let (problem, _) = problem_of(&example().replace("\"bob\"", "\"alice\""));
        assert_eq!(
            problem,
            FileProblem::DuplicateTenant {
                name: "alice".into()
            }
        );
        let (problem, message) = problem_of(&example().replace("0123456789ab", "3f9a0c1d2e4b"));
        assert_eq!(
            problem,
            FileProblem::DuplicateTokenId {
                id: "3f9a0c1d2e4b".into(),
                first: TokenPlace::Tenant("alice".into()),
                second: TokenPlace::Worker,
            }
        );
        assert!(
            message.contains(
                "3f9a0c1d2e4b appears twice: in tenant \"alice\" and in [[worker_token]]"
            ),
            "{message}"
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        for (text, field, line) in [
            (example().replace("weight = 2", "colour = 2"), "colour", 8),
            (
                example().replace("role = \"write\"", "rol = \"write\""),
                "rol",
                15,
            ),
            (format!("verbose = true\n{}", example()), "verbose", 1),
        ] {
            let (error, message) = error_of(&text);
            assert!(
                matches!(error, TenantsFileError::Syntax { .. }),
                "{message}"
            );
            assert!(
                message.contains(&format!("unknown field `{field}`")),
                "{message}"
            );
            assert!(message.contains(&format!("line {line},")), "{message}");
        }
    }

    #[test]
    fn roles_are_checked() {
        let (problem, message) = problem_of(&example().replace("\"write\"", "\"worker\""));
        assert_eq!(
            problem,
            FileProblem::WorkerRoleInTenant {
                tenant: "alice".into(),
                id: "3f9a0c1d2e4b".into()
            }
        );
        assert!(message.contains("[[worker_token]]"), "{message}");
        let (problem, _) = problem_of(&example().replace("\"write\"", "\"root\""));
        assert_eq!(
            problem,
            FileProblem::BadRole {
                tenant: "alice".into(),
                id: "3f9a0c1d2e4b".into(),
                role: "root".into()
            }
        );
        let (problem, _) = problem_of(&example().replace("role = \"write\"\n", ""));
        assert!(matches!(problem, FileProblem::BadRole { role, .. } if role.is_empty()));
        let with_role = example().replace(
            "id = \"0123456789ab\"\n",
            "id = \"0123456789ab\"\nrole = \"worker\"\n",
        );
        let (problem, _) = problem_of(&with_role);
        assert_eq!(
            problem,
            FileProblem::RoleOnWorkerToken {
                id: "0123456789ab".into()
            }
        );
    }

    #[test]
    fn ids_hashes_times_and_weights_are_checked() {
        let (problem, message) = problem_of(&example().replace("3f9a0c1d2e4b", "3F9A0C1D2E4B"));
        assert_eq!(
            problem,
            FileProblem::BadTokenId {
                place: TokenPlace::Tenant("alice".into()),
                number: 1
            }
        );
        assert!(!message.contains("3F9A0C1D2E4B"), "{message}");
        let pasted = format!("weft_3f9a0c1d2e4b_{}", "e".repeat(64));
        let (problem, message) = problem_of(&example().replace(&hash("ab"), &pasted));
        assert_eq!(
            problem,
            FileProblem::BadHash {
                place: TokenPlace::Tenant("alice".into()),
                id: "3f9a0c1d2e4b".into()
            }
        );
        assert!(!message.contains(&pasted), "{message}");
        let (problem, _) = problem_of(&example().replace("07:00:01Z", "07:00:01+01:00"));
        assert!(matches!(
            problem,
            FileProblem::BadCreated {
                place: TokenPlace::Worker,
                ..
            }
        ));
        for weight in ["0", "-1", "10001"] {
            let (problem, _) =
                problem_of(&example().replace("weight = 2", &format!("weight = {weight}")));
            assert!(matches!(problem, FileProblem::BadWeight { .. }), "{weight}");
        }
    }

    #[test]
    fn syntax_errors_say_where_without_quoting_the_line() {
        let secret = "e".repeat(64);
        let text = example().replace("name = \"bob\"", &format!("name = weft_{secret}"));
        let (error, message) = error_of(&text);
        assert!(matches!(error, TenantsFileError::Syntax { .. }));
        assert!(message.contains("line 20, column 8"), "{message}");
        assert!(!message.contains(&secret), "{message}");
    }
}
