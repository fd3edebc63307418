//! The node's metrics, as `GET /metrics` serves them.
//!
//! The node keeps one registry of its own ([`MetricsRegistry`]), built on
//! `prometheus-client` directly: every name in it starts with `atoll_` and
//! carries the node's `moniker` label. It holds the node's own counters and
//! gauges ([`NodeMetrics`]) and, with a series per `[[runtime]]` (label
//! `runtime`, the id in hex), the compute worker's
//! ([`atoll_compute::metrics`], `atoll_compute_…`) and the runtime host's
//! ([`atoll_runtime_host::metrics`], `atoll_runtime_host_…`). The consensus engine (Malachite) registers its
//! metrics in a process-wide registry of its own, which the node cannot
//! reach but through Malachite's text export; the exposition is therefore
//! the node's registry followed by Malachite's, which ends it with `# EOF`.
//! The names of the two never meet (Malachite's start with `malachitebft_`).

use std::borrow::Cow;

use atoll_bft::engine::app::metrics::export as export_engine;
use atoll_compute::metrics::{ComputeMetrics, WorkerMetrics};
use atoll_runtime_host::metrics::{HostMetrics, ProcessMetrics};
use atoll_types::Namespace;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The prefix of every metric the node registers.
pub const PREFIX: &str = "atoll";

/// The node's counters and gauges: the chain it applied and its mempool.
#[derive(Debug, Clone, Default)]
pub struct NodeMetrics {
    pub(crate) height: Gauge,
    pub(crate) txs: Counter,
    pub(crate) failed_txs: Counter,
    pub(crate) mempool_txs: Gauge,
    pub(crate) mempool_bytes: Gauge,
    pub(crate) submitted: Counter,
    pub(crate) refused: Counter,
}

impl NodeMetrics {
    /// Registers the node's metrics in `registry` (at its own prefix).
    fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "height",
            "Height of the last applied block",
            m.height.clone(),
        );
        registry.register(
            "transactions",
            "Transactions in applied blocks",
            m.txs.clone(),
        );
        registry.register(
            "failed_transactions",
            "Transactions in applied blocks that failed",
            m.failed_txs.clone(),
        );
        registry.register(
            "mempool_size",
            "Transactions in the mempool",
            m.mempool_txs.clone(),
        );
        registry.register(
            "mempool_bytes",
            "Bytes in the mempool",
            m.mempool_bytes.clone(),
        );
        registry.register(
            "submitted_transactions",
            "Transactions admitted to the mempool (API and gossip)",
            m.submitted.clone(),
        );
        registry.register(
            "refused_transactions",
            "Transactions the mempool refused",
            m.refused.clone(),
        );
        m
    }
}

/// The node's registry: every metric the node itself exports, under
/// [`PREFIX`] and with its `moniker` label.
#[derive(Debug)]
pub struct MetricsRegistry {
    registry: Registry,
    node: NodeMetrics,
    compute: ComputeMetrics,
    runtime_host: HostMetrics,
}

impl MetricsRegistry {
    /// A registry for the node called `moniker`, with the node's own
    /// metrics registered.
    pub fn new(moniker: &str) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            PREFIX,
            std::iter::once((Cow::Borrowed("moniker"), Cow::Owned(moniker.to_string()))),
        );
        let node = NodeMetrics::register(&mut registry);
        let compute = ComputeMetrics::register(&mut registry);
        let runtime_host = HostMetrics::register(&mut registry);
        Self {
            registry,
            node,
            compute,
            runtime_host,
        }
    }

    /// The node's own counters and gauges.
    pub fn node(&self) -> &NodeMetrics {
        &self.node
    }

    /// The series of `runtime`'s worker (created at zero).
    pub fn worker(&self, runtime: &Namespace) -> WorkerMetrics {
        self.compute.for_runtime(runtime)
    }

    /// The series of `runtime`'s processes under the runtime host
    /// (created at zero).
    pub fn runtime_host(&self, runtime: &Namespace) -> ProcessMetrics {
        self.runtime_host.for_runtime(runtime)
    }

    /// The registry's metrics alone, in the text format (without the
    /// closing `# EOF`).
    pub fn encode_own(&self) -> String {
        let mut out = String::new();
        // Writing to a `String` does not fail.
        let _ = encode_registry(&mut out, &self.registry);
        out
    }

    /// The whole exposition served on `GET /metrics`: this registry, then
    /// the consensus engine's metrics and the closing `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = self.encode_own();
        export_engine(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_metrics_keep_their_names_and_moniker() {
        let reg = MetricsRegistry::new("n0");
        reg.node().height.set(7);
        reg.node().txs.inc_by(3);
        let text = reg.encode();
        assert!(text.contains("atoll_height{moniker=\"n0\"} 7"), "{text}");
        assert!(
            text.contains("atoll_transactions_total{moniker=\"n0\"} 3"),
            "{text}"
        );
        for name in [
            "atoll_failed_transactions_total",
            "atoll_mempool_size",
            "atoll_mempool_bytes",
            "atoll_submitted_transactions_total",
            "atoll_refused_transactions_total",
        ] {
            let sample = format!("{name}{{moniker=\"n0\"}} 0\n");
            assert!(text.contains(&sample), "{sample} in {text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            !text.contains("atoll_compute_rounds_executed_total{"),
            "no runtime yet: {text}"
        );
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    }

    #[test]
    fn each_runtime_gets_compute_and_runtime_host_series_under_one_name() {
        let reg = MetricsRegistry::new("c0");
        let (a, b) = (Namespace([0xa; 32]), Namespace([0xb; 32]));
        reg.worker(&a).committed();
        let _ = reg.worker(&b);
        reg.runtime_host(&b).restarted();
        let _ = reg.runtime_host(&a);
        let text = reg.encode_own();
        for line in [
            format!(
                "atoll_compute_rounds_committed_total{{moniker=\"c0\",runtime=\"{}\"}} 1",
                a.to_hex()
            ),
            format!(
                "atoll_compute_rounds_committed_total{{moniker=\"c0\",runtime=\"{}\"}} 0",
                b.to_hex()
            ),
            format!(
                "atoll_runtime_host_restarts_total{{moniker=\"c0\",runtime=\"{}\"}} 1",
                b.to_hex()
            ),
            format!(
                "atoll_runtime_host_calls_total{{moniker=\"c0\",runtime=\"{}\",kind=\"execute\"}} 0",
                a.to_hex()
            ),
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
        assert_eq!(
            text.matches("# TYPE atoll_compute_rounds_committed counter")
                .count(),
            1,
            "{text}"
        );
    }
}
