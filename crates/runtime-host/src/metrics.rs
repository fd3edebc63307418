//! What the host counts about its runtime processes (host side only: a
//! ParaTime binary, built without the `host` feature, links none of it).
//!
//! [`HostMetrics`] is the set of metric families a node registers once,
//! under the prefix `runtime_host` of the registry it is given (the node's
//! is `atoll`, so the names read `atoll_runtime_host_…`). Every series
//! carries a `runtime` label, the runtime's id in hex; the call series also
//! a `kind` label ([`CallKind`]). [`HostMetrics::for_runtime`] gives the
//! handles of one runtime ([`ProcessMetrics`]), which go in its
//! [`RuntimeConfig::metrics`](crate::host::RuntimeConfig::metrics): every
//! process started from that configuration (and its clones, such as a
//! node's query process) counts into the same series.
//!
//! Durations are measured on the host's monotonic clock and are for
//! operators only: nothing the host or the runtime decides reads them.

use std::fmt::Write as _;
use std::time::Duration;

use atoll_types::Namespace;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The prefix of the runtime host metrics within the registry they are
/// given.
pub const PREFIX: &str = "runtime_host";

/// The call duration histogram's buckets: 0.5 ms, 1 ms, 2 ms, … about 33 s
/// (the default batch time limit is 30 s), and the implicit `+Inf`.
const DURATION_BUCKETS: (f64, u16) = (0.000_5, 17);

/// The calls the host makes to a runtime, as the `kind` label names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// `ExecuteBatch`.
    Execute,
    /// `CheckBatch`.
    Check,
    /// `Query`.
    Query,
}

impl CallKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Execute => "execute",
            Self::Check => "check",
            Self::Query => "query",
        }
    }
}

impl EncodeLabelValue for CallKind {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// The labels of a runtime's series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RuntimeLabel {
    runtime: String,
}

/// The labels of a runtime's call series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallLabels {
    runtime: String,
    kind: CallKind,
}

fn duration_histogram() -> Histogram {
    let (start, len) = DURATION_BUCKETS;
    Histogram::new(exponential_buckets(start, 2.0, len))
}

/// The runtime host metric families of a node, one series per runtime
/// (and per kind of call).
#[derive(Debug, Clone)]
pub struct HostMetrics {
    calls: Family<CallLabels, Counter>,
    failures: Family<CallLabels, Counter>,
    durations: Family<CallLabels, Histogram, fn() -> Histogram>,
    restarts: Family<RuntimeLabel, Counter>,
    start_failures: Family<RuntimeLabel, Counter>,
}

impl HostMetrics {
    /// Registers the runtime host families in `registry`, under
    /// [`PREFIX`]. Call it once per registry: each call adds the names
    /// again.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            calls: Family::default(),
            failures: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            restarts: Family::default(),
            start_failures: Family::default(),
        };
        let reg = registry.sub_registry_with_prefix(PREFIX);
        reg.register(
            "calls",
            "Calls the host made to the runtime's processes, by kind",
            m.calls.clone(),
        );
        reg.register(
            "call_failures",
            "Calls to the runtime's processes that failed (runtime error, timeout, crash, protocol), by kind",
            m.failures.clone(),
        );
        reg.register_with_unit(
            "call_duration",
            "How long calls to the runtime's processes took, by kind (failed calls included)",
            Unit::Seconds,
            m.durations.clone(),
        );
        reg.register(
            "restarts",
            "Times a runtime process was started again after it exited or was killed",
            m.restarts.clone(),
        );
        reg.register(
            "start_failures",
            "Starts of a runtime process that failed (spawn or handshake)",
            m.start_failures.clone(),
        );
        m
    }

    /// The handles of `runtime`'s series (created at zero if new).
    pub fn for_runtime(&self, runtime: &Namespace) -> ProcessMetrics {
        let label = RuntimeLabel {
            runtime: runtime.to_hex(),
        };
        let call = |kind: CallKind| {
            let labels = CallLabels {
                runtime: label.runtime.clone(),
                kind,
            };
            CallMetrics {
                calls: self.calls.get_or_create(&labels).clone(),
                failures: self.failures.get_or_create(&labels).clone(),
                duration: self.durations.get_or_create(&labels).clone(),
            }
        };
        ProcessMetrics {
            execute: call(CallKind::Execute),
            check: call(CallKind::Check),
            query: call(CallKind::Query),
            restarts: self.restarts.get_or_create(&label).clone(),
            start_failures: self.start_failures.get_or_create(&label).clone(),
        }
    }
}

/// The series of one kind of call.
#[derive(Debug, Clone)]
struct CallMetrics {
    calls: Counter,
    failures: Counter,
    duration: Histogram,
}

impl Default for CallMetrics {
    fn default() -> Self {
        Self {
            calls: Counter::default(),
            failures: Counter::default(),
            duration: duration_histogram(),
        }
    }
}

/// One runtime's host metrics, as its processes' supervisor updates them.
/// Clones share the same series. [`Default`] gives series that no registry
/// exports (a host whose owner does not export metrics).
#[derive(Debug, Clone, Default)]
pub struct ProcessMetrics {
    execute: CallMetrics,
    check: CallMetrics,
    query: CallMetrics,
    restarts: Counter,
    start_failures: Counter,
}

impl ProcessMetrics {
    /// A call of `kind` took `took` and succeeded (`ok`) or failed.
    pub fn call(&self, kind: CallKind, took: Duration, ok: bool) {
        let m = match kind {
            CallKind::Execute => &self.execute,
            CallKind::Check => &self.check,
            CallKind::Query => &self.query,
        };
        m.calls.inc();
        if !ok {
            m.failures.inc();
        }
        m.duration.observe(took.as_secs_f64());
    }

    /// A runtime process was started again.
    pub fn restarted(&self) {
        self.restarts.inc();
    }

    /// A start of a runtime process failed.
    pub fn start_failed(&self) {
        self.start_failures.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn calls_are_counted_by_runtime_and_kind() {
        let mut registry = Registry::with_prefix("atoll");
        let m = HostMetrics::register(&mut registry);
        let a = m.for_runtime(&Namespace([1; 32]));
        let b = m.for_runtime(&Namespace([2; 32]));
        a.call(CallKind::Execute, Duration::from_millis(3), true);
        a.call(CallKind::Execute, Duration::from_millis(5), false);
        a.call(CallKind::Check, Duration::from_micros(100), true);
        b.call(CallKind::Query, Duration::from_secs(60), true);
        b.clone().restarted();
        b.start_failed();
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let ra = Namespace([1; 32]).to_hex();
        let rb = Namespace([2; 32]).to_hex();
        for line in [
            format!("atoll_runtime_host_calls_total{{runtime=\"{ra}\",kind=\"execute\"}} 2"),
            format!("atoll_runtime_host_calls_total{{runtime=\"{ra}\",kind=\"check\"}} 1"),
            format!("atoll_runtime_host_calls_total{{runtime=\"{ra}\",kind=\"query\"}} 0"),
            format!(
                "atoll_runtime_host_call_failures_total{{runtime=\"{ra}\",kind=\"execute\"}} 1"
            ),
            format!(
                "atoll_runtime_host_call_duration_seconds_count{{runtime=\"{ra}\",kind=\"execute\"}} 2"
            ),
            format!("atoll_runtime_host_calls_total{{runtime=\"{rb}\",kind=\"query\"}} 1"),
            format!(
                "atoll_runtime_host_call_duration_seconds_bucket{{le=\"+Inf\",runtime=\"{rb}\",kind=\"query\"}} 1"
            ),
            format!("atoll_runtime_host_restarts_total{{runtime=\"{rb}\"}} 1"),
            format!("atoll_runtime_host_restarts_total{{runtime=\"{ra}\"}} 0"),
            format!("atoll_runtime_host_start_failures_total{{runtime=\"{rb}\"}} 1"),
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
        assert_eq!(
            text.matches("# TYPE atoll_runtime_host_call_duration_seconds histogram")
                .count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn the_kinds_keep_their_names() {
        let names: Vec<&str> = [CallKind::Execute, CallKind::Check, CallKind::Query]
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(names, ["execute", "check", "query"]);
    }
}
