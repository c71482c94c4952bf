//! The limits in a tenants file: the cluster-wide defaults (`[limits]`)
//! and each tenant's own (`[tenant.limits]`), as written (counts as
//! integers; byte sizes as integers or text with a unit, `"2 GiB"`), how
//! they are checked, and how they are written back.
//!
//! ```toml
//! [limits]                      # every tenant's, unless its own says otherwise
//! tasks_queued_max = 1000000
//! stored_bytes_max = "8 GiB"
//!
//! [[tenant]]
//! name = "alice"
//! weight = 3
//!
//! [tenant.limits]
//! stored_bytes_max = "2 GiB"
//! submit_tasks_per_s = 50000
//! task_memory_max = "256 MiB"   # ceilings on each of its tasks
//! task_timeout_max = "30s"
//! ```

use serde::Deserialize;
use std::fmt;
use weft_schema::quota::{QuotaLimit, TaskCeilings, TenantLimits, show_bytes};

/// A `[limits]` or `[tenant.limits]` table as written: every field may be
/// left out (no limit, or the default's).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    tasks_queued_max: Option<i64>,
    tasks_running_max: Option<i64>,
    stored_bytes_max: Option<RawSize>,
    modules_bytes_max: Option<RawSize>,
    datasets_max: Option<i64>,
    clients_max: Option<i64>,
    graph_tasks_max: Option<i64>,
    submit_tasks_per_s: Option<i64>,
    submit_burst_tasks: Option<i64>,
    task_memory_max: Option<RawSize>,
    task_timeout_max: Option<RawDuration>,
    task_fuel_max: Option<i64>,
}

/// A duration: whole seconds, or text like `"500ms"`, `"30s"`, `"2m"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Seconds(i64),
    Text(String),
}

/// A byte size: a number of bytes, or text like `"64 MiB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(i64),
    Text(String),
}

/// Where a limits table sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitsPlace {
    /// `[limits]`, the defaults.
    Defaults,
    /// `[tenant.limits]` of this tenant.
    Tenant(String),
}

impl fmt::Display for LimitsPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitsPlace::Defaults => f.write_str("[limits]"),
            LimitsPlace::Tenant(name) => write!(f, "tenant {name:?}, [tenant.limits]"),
        }
    }
}

/// What is wrong with one limit's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitProblem {
    /// A count below zero (a limit of 0 is allowed: nothing at all).
    #[error("{value} is negative")]
    Negative {
        /// The value written.
        value: i64,
    },
    /// A rate, burst or task ceiling of zero.
    #[error("must be at least 1 (leave the field out for no limit)")]
    ZeroRate,
    /// A duration's text is not one (or is zero).
    #[error(
        "{text:?} is not a duration above zero (whole seconds, or text like \"500ms\", \"30s\", \"2m\")"
    )]
    BadDuration {
        /// The text written.
        text: String,
    },
    /// A size's text is not a number and a unit.
    #[error(
        "{text:?} is not a size (a number of bytes, or a number and one of B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"
    )]
    BadSize {
        /// The text written.
        text: String,
    },
}

impl RawLimits {
    /// The checked limits, or which field is wrong and why.
    pub(super) fn check(self) -> Result<TenantLimits, (&'static str, LimitProblem)> {
        let count = |field: &'static str, value: Option<i64>| match value {
            Some(value) if value < 0 => Err((field, LimitProblem::Negative { value })),
            value => Ok(value.map(|v| v as u64)),
        };
        let rate = |field: &'static str, value: Option<i64>| match value {
            Some(0) => Err((field, LimitProblem::ZeroRate)),
            value => count(field, value),
        };
        let size = |field: &'static str, value: Option<RawSize>| match value {
            None => Ok(None),
            Some(RawSize::Bytes(bytes)) => count(field, Some(bytes)),
            Some(RawSize::Text(text)) => parse_size(&text)
                .map(Some)
                .ok_or((field, LimitProblem::BadSize { text })),
        };
        let duration = |field: &'static str, value: Option<RawDuration>| match value {
            None => Ok(None),
            Some(RawDuration::Seconds(seconds)) => u64::try_from(seconds)
                .ok()
                .filter(|s| *s > 0)
                .and_then(|s| s.checked_mul(1000))
                .map(Some)
                .ok_or_else(|| {
                    let text = seconds.to_string();
                    (field, LimitProblem::BadDuration { text })
                }),
            Some(RawDuration::Text(text)) => parse_duration_ms(&text)
                .map(Some)
                .ok_or((field, LimitProblem::BadDuration { text })),
        };
        Ok(TenantLimits {
            tasks_queued_max: count("tasks_queued_max", self.tasks_queued_max)?,
            tasks_running_max: count("tasks_running_max", self.tasks_running_max)?,
            stored_bytes_max: size("stored_bytes_max", self.stored_bytes_max)?,
            modules_bytes_max: size("modules_bytes_max", self.modules_bytes_max)?,
            datasets_max: count("datasets_max", self.datasets_max)?,
            clients_max: count("clients_max", self.clients_max)?,
            graph_tasks_max: count("graph_tasks_max", self.graph_tasks_max)?,
            submit_tasks_per_s: rate("submit_tasks_per_s", self.submit_tasks_per_s)?,
            submit_burst_tasks: rate("submit_burst_tasks", self.submit_burst_tasks)?,
            task_ceilings: TaskCeilings {
                memory_bytes_max: match size("task_memory_max", self.task_memory_max)? {
                    Some(0) => return Err(("task_memory_max", LimitProblem::ZeroRate)),
                    bytes => bytes,
                },
                timeout_ms: duration("task_timeout_max", self.task_timeout_max)?,
                fuel_max: rate("task_fuel_max", self.task_fuel_max)?,
            },
        })
    }
}

/// `"64 MiB"`, `"2GiB"`, `"1.5 GB"`, `"512"` as bytes; `None` if it is
/// not a non-negative number with an optional unit, or does not fit.
pub(super) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return None,
    };
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(scale);
    }
    let value: f64 = number.parse().ok()?;
    let bytes = (value * scale as f64).round();
    (value.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// `"500ms"`, `"30s"`, `"2m 30s"`, or whole seconds (`"30"`), as
/// milliseconds (a part of one rounds up); `None` if it is not a
/// duration, is zero, or does not fit.
pub(super) fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return seconds.checked_mul(1000).filter(|ms| *ms > 0);
    }
    let duration = humantime::parse_duration(text).ok()?;
    let ms = duration.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).ok().filter(|ms| *ms > 0)
}

/// Why `FIELD=VALUE` could not be set (`weft tenant set`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetLimitError {
    /// Not of the form `FIELD=VALUE`.
    #[error("{0:?} is not FIELD=VALUE")]
    NotAnAssignment(String),
    /// No limit has this name.
    #[error(
        "{0:?} is not a limit (the limits are tasks_queued_max, tasks_running_max, \
         stored_bytes_max, modules_bytes_max, datasets_max, clients_max, graph_tasks_max, \
         submit_tasks_per_s, submit_burst_tasks, task_memory_max, task_timeout_max, \
         task_fuel_max; and weight)"
    )]
    UnknownField(String),
    /// The value does not fit the field.
    #[error("{field}: {value:?} is not {expected} (or `none`)")]
    BadValue {
        /// The field.
        field: String,
        /// The value given.
        value: String,
        /// What it takes.
        expected: &'static str,
    },
}

/// Sets one limit of `limits` from `field` and its text (`none` clears
/// it: no limit, or the default's).
pub(super) fn set_limit(
    limits: &mut TenantLimits,
    field: &str,
    value: &str,
) -> Result<(), SetLimitError> {
    let value = value.trim();
    let ceilings = &mut limits.task_ceilings;
    let (slot, parsed, expected) = match field {
        "task_memory_max" => (
            &mut ceilings.memory_bytes_max,
            parse_size(value).filter(|bytes| *bytes > 0),
            "a size above zero (bytes, or a number and a unit: 64MiB, 2GiB)",
        ),
        "task_timeout_max" => (
            &mut ceilings.timeout_ms,
            parse_duration_ms(value),
            "a duration above zero (500ms, 30s, 2m; a number alone is seconds)",
        ),
        "task_fuel_max" => (
            &mut ceilings.fuel_max,
            value.parse::<u64>().ok().filter(|v| *v > 0),
            "a whole number above 0",
        ),
        _ => return set_quota_limit(limits, field, value),
    };
    if value == "none" {
        *slot = None;
        return Ok(());
    }
    *slot = Some(parsed.ok_or_else(|| SetLimitError::BadValue {
        field: field.to_owned(),
        value: value.to_owned(),
        expected,
    })?);
    Ok(())
}

/// [`set_limit`] of a limit other than a task ceiling.
fn set_quota_limit(
    limits: &mut TenantLimits,
    field: &str,
    value: &str,
) -> Result<(), SetLimitError> {
    let slot = match field {
        "tasks_queued_max" => &mut limits.tasks_queued_max,
        "tasks_running_max" => &mut limits.tasks_running_max,
        "stored_bytes_max" => &mut limits.stored_bytes_max,
        "modules_bytes_max" => &mut limits.modules_bytes_max,
        "datasets_max" => &mut limits.datasets_max,
        "clients_max" => &mut limits.clients_max,
        "graph_tasks_max" => &mut limits.graph_tasks_max,
        "submit_tasks_per_s" => &mut limits.submit_tasks_per_s,
        "submit_burst_tasks" => &mut limits.submit_burst_tasks,
        other => return Err(SetLimitError::UnknownField(other.to_owned())),
    };
    if value == "none" {
        *slot = None;
        return Ok(());
    }
    let bytes = field.ends_with("_bytes_max");
    let rate = field.starts_with("submit_");
    let parsed = if bytes {
        parse_size(value)
    } else {
        value.parse::<u64>().ok().filter(|v| !rate || *v > 0)
    };
    let expected = match (bytes, rate) {
        (true, _) => "a size (bytes, or a number and a unit: 64MiB, 2GiB)",
        (false, true) => "a whole number above 0",
        (false, false) => "a whole number",
    };
    *slot = Some(parsed.ok_or_else(|| SetLimitError::BadValue {
        field: field.to_owned(),
        value: value.to_owned(),
        expected,
    })?);
    Ok(())
}

/// A size as the writer writes it: a unit when it is a whole number of
/// one, else bytes.
fn size_text(bytes: u64) -> String {
    let whole = show_bytes(bytes);
    if bytes >= 1024 && parse_size(&whole) == Some(bytes) {
        toml::Value::String(whole).to_string()
    } else {
        bytes.to_string()
    }
}

/// The lines of a limits table (empty when it sets nothing).
pub(super) fn limits_toml(limits: &TenantLimits) -> String {
    let mut out = String::new();
    for limit in QuotaLimit::ALL {
        if let Some(value) = limits.get(limit) {
            let value = if limit.counts_bytes() {
                size_text(value)
            } else {
                value.to_string()
            };
            out.push_str(&format!("{} = {value}\n", limit.name()));
        }
    }
    for (name, value) in [
        ("submit_tasks_per_s", limits.submit_tasks_per_s),
        ("submit_burst_tasks", limits.submit_burst_tasks),
    ] {
        if let Some(value) = value {
            out.push_str(&format!("{name} = {value}\n"));
        }
    }
    let ceilings = &limits.task_ceilings;
    if let Some(bytes) = ceilings.memory_bytes_max {
        out.push_str(&format!("task_memory_max = {}\n", size_text(bytes)));
    }
    if let Some(ms) = ceilings.timeout_ms {
        let text = humantime::format_duration(std::time::Duration::from_millis(ms)).to_string();
        out.push_str(&format!(
            "task_timeout_max = {}\n",
            toml::Value::String(text)
        ));
    }
    if let Some(fuel) = ceilings.fuel_max {
        out.push_str(&format!("task_fuel_max = {fuel}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("64 MiB"), Some(64 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1.5 KiB"), Some(1536));
        assert_eq!(parse_size("3 GB"), Some(3_000_000_000));
        assert_eq!(parse_size("1 gib"), None, "units are case-sensitive");
        assert_eq!(parse_size("-1 MiB"), None);
        assert_eq!(parse_size("MiB"), None);
        assert_eq!(parse_size("99999999999 TiB"), None, "does not fit");
    }

    #[test]
    fn limits_are_written_so_that_they_read_back() {
        let limits = TenantLimits {
            stored_bytes_max: Some(2 << 30),
            modules_bytes_max: Some(1000),
            datasets_max: Some(0),
            submit_tasks_per_s: Some(50),
            task_ceilings: TaskCeilings {
                memory_bytes_max: Some(256 << 20),
                timeout_ms: Some(90_500),
                fuel_max: Some(1_000_000),
            },
            ..TenantLimits::default()
        };
        let text = limits_toml(&limits);
        assert_eq!(
            text,
            "stored_bytes_max = \"2 GiB\"\nmodules_bytes_max = 1000\ndatasets_max = 0\n\
             submit_tasks_per_s = 50\ntask_memory_max = \"256 MiB\"\n\
             task_timeout_max = \"1m 30s 500ms\"\ntask_fuel_max = 1000000\n"
        );
        let raw: RawLimits = toml::from_str(&text).expect("TOML");
        assert_eq!(raw.check().expect("valid"), limits);
    }

    #[test]
    fn limits_are_set_by_name() {
        let mut limits = TenantLimits::default();
        set_limit(&mut limits, "stored_bytes_max", "2GiB").expect("set");
        set_limit(&mut limits, "clients_max", "4").expect("set");
        assert_eq!(limits.stored_bytes_max, Some(2 << 30));
        assert_eq!(limits.clients_max, Some(4));
        set_limit(&mut limits, "clients_max", "none").expect("cleared");
        assert_eq!(limits.clients_max, None);
        set_limit(&mut limits, "task_timeout_max", "2m").expect("set");
        set_limit(&mut limits, "task_memory_max", "64MiB").expect("set");
        assert_eq!(limits.task_ceilings.timeout_ms, Some(120_000));
        assert_eq!(limits.task_ceilings.memory_bytes_max, Some(64 << 20));
        set_limit(&mut limits, "task_timeout_max", "45").expect("seconds");
        assert_eq!(limits.task_ceilings.timeout_ms, Some(45_000));
        set_limit(&mut limits, "task_timeout_max", "1500us").expect("rounded up");
        assert_eq!(limits.task_ceilings.timeout_ms, Some(2));
        set_limit(&mut limits, "task_timeout_max", "none").expect("cleared");
        assert_eq!(limits.task_ceilings.timeout_ms, None);
        for (field, value) in [
            ("task_timeout_max", "0s"),
            ("task_fuel_max", "0"),
            ("task_memory_max", "0"),
        ] {
            assert!(
                matches!(
                    set_limit(&mut limits, field, value),
                    Err(SetLimitError::BadValue { .. })
                ),
                "{field}={value}"
            );
        }
        assert!(matches!(
            set_limit(&mut limits, "submit_tasks_per_s", "0"),
            Err(SetLimitError::BadValue { .. })
        ));
        assert!(matches!(
            set_limit(&mut limits, "memory", "1"),
            Err(SetLimitError::UnknownField(_))
        ));
    }

    #[test]
    fn a_bad_value_names_its_field() {
        let check = |text: &str| {
            toml::from_str::<RawLimits>(text)
                .expect("TOML")
                .check()
                .expect_err("refused")
        };
        assert_eq!(
            check("clients_max = -1"),
            ("clients_max", LimitProblem::Negative { value: -1 })
        );
        assert_eq!(
            check("submit_tasks_per_s = 0"),
            ("submit_tasks_per_s", LimitProblem::ZeroRate)
        );
        assert_eq!(
            check("task_timeout_max = \"soon\""),
            (
                "task_timeout_max",
                LimitProblem::BadDuration {
                    text: "soon".into()
                }
            )
        );
        let seconds: RawLimits = toml::from_str("task_timeout_max = 30").expect("TOML");
        assert_eq!(
            seconds.check().expect("valid").task_ceilings.timeout_ms,
            Some(30_000)
        );
        assert_eq!(
            check("stored_bytes_max = \"lots\""),
            (
                "stored_bytes_max",
                LimitProblem::BadSize {
                    text: "lots".into()
                }
            )
        );
        assert!(toml::from_str::<RawLimits>("stored_bytes = 1").is_err());
    }
}
