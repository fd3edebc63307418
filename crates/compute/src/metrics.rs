//! What a compute node counts about its runtimes' rounds and pools.
//!
//! [`ComputeMetrics`] is the set of metric families a node registers once,
//! under the prefix `compute` of the registry it is given (the node's is
//! `atoll`, so the names read `atoll_compute_…`). Every series carries a
//! `runtime` label, the runtime's id in hex. [`ComputeMetrics::for_runtime`]
//! gives the handles of one runtime ([`WorkerMetrics`]), which its worker
//! updates (see [`crate::executor::WorkerConfig::metrics`]). The families
//! are shared, so a node serving several runtimes exports each name once.
//!
//! Nothing here feeds back into what the worker does: the counts are for
//! operators only.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use atoll_types::Namespace;

/// The prefix of the compute metrics within the registry they are given.
pub const PREFIX: &str = "compute";

/// The upper bounds of the batch size histogram's buckets: 1, 2, 4, …,
/// 8192 transactions (and the implicit `+Inf`).
const BATCH_SIZE_BUCKETS: u16 = 14;

/// The label every compute series carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RuntimeLabel {
    /// The runtime's id, in hex.
    pub runtime: String,
}

impl RuntimeLabel {
    /// The label of `runtime`.
    pub fn of(runtime: &Namespace) -> Self {
        Self {
            runtime: runtime.to_hex(),
        }
    }
}

/// A histogram family whose histograms all get the same buckets.
type HistogramFamily = Family<RuntimeLabel, Histogram, fn() -> Histogram>;

fn batch_size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, BATCH_SIZE_BUCKETS))
}

/// The compute metric families of a node, one series per runtime.
#[derive(Debug, Clone)]
pub struct ComputeMetrics {
    rounds_executed: Family<RuntimeLabel, Counter>,
    rounds_committed: Family<RuntimeLabel, Counter>,
    discrepancies: Family<RuntimeLabel, Counter>,
    backup_rounds: Family<RuntimeLabel, Counter>,
    takeover_rounds: Family<RuntimeLabel, Counter>,
    admitted: Family<RuntimeLabel, Counter>,
    rejected: Family<RuntimeLabel, Counter>,
    pool_size: Family<RuntimeLabel, Gauge>,
    batch_size: HistogramFamily,
}

impl ComputeMetrics {
    /// Registers the compute families in `registry`, under [`PREFIX`].
    /// Call it once per registry: each call adds the names again.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            rounds_executed: Family::default(),
            rounds_committed: Family::default(),
            discrepancies: Family::default(),
            backup_rounds: Family::default(),
            takeover_rounds: Family::default(),
            admitted: Family::default(),
            rejected: Family::default(),
            pool_size: Family::default(),
            batch_size: Family::new_with_constructor(batch_size_histogram),
        };
        let reg = registry.sub_registry_with_prefix(PREFIX);
        reg.register(
            "rounds_executed",
            "Batches this node executed (as a worker, a backup or the proposer)",
            m.rounds_executed.clone(),
        );
        reg.register(
            "rounds_committed",
            "Normal rounds the runtime's committee finalized, as this node applied them",
            m.rounds_committed.clone(),
        );
        reg.register(
            "discrepancies",
            "Rounds this node saw consensus declare in discrepancy",
            m.discrepancies.clone(),
        );
        reg.register(
            "backup_rounds",
            "Rounds this node executed and committed as a backup worker in a discrepancy",
            m.backup_rounds.clone(),
        );
        reg.register(
            "takeover_rounds",
            "Rounds this node proposed with a rank above 0, taking over from a silent proposer",
            m.takeover_rounds.clone(),
        );
        reg.register(
            "admitted_transactions",
            "Transactions the runtime's check accepted (submitted here or gossiped)",
            m.admitted.clone(),
        );
        reg.register(
            "rejected_transactions",
            "Transactions the runtime's check refused (submitted here or gossiped)",
            m.rejected.clone(),
        );
        reg.register(
            "pool_size",
            "Transactions in the runtime's pool",
            m.pool_size.clone(),
        );
        reg.register(
            "batch_size",
            "Transactions in each batch this node executed (after the runtime packed it)",
            m.batch_size.clone(),
        );
        m
    }

    /// The handles of `runtime`'s series (created at zero if new).
    pub fn for_runtime(&self, runtime: &Namespace) -> WorkerMetrics {
        let label = RuntimeLabel::of(runtime);
        WorkerMetrics {
            rounds_executed: self.rounds_executed.get_or_create(&label).clone(),
            rounds_committed: self.rounds_committed.get_or_create(&label).clone(),
            discrepancies: self.discrepancies.get_or_create(&label).clone(),
            backup_rounds: self.backup_rounds.get_or_create(&label).clone(),
            takeover_rounds: self.takeover_rounds.get_or_create(&label).clone(),
            admitted: self.admitted.get_or_create(&label).clone(),
            rejected: self.rejected.get_or_create(&label).clone(),
            pool_size: self.pool_size.get_or_create(&label).clone(),
            batch_size: self.batch_size.get_or_create(&label).clone(),
        }
    }
}

/// One runtime's compute metrics, as its worker updates them. Clones share
/// the same series. [`Default`] gives series that no registry exports.
#[derive(Debug, Clone)]
pub struct WorkerMetrics {
    rounds_executed: Counter,
    rounds_committed: Counter,
    discrepancies: Counter,
    backup_rounds: Counter,
    takeover_rounds: Counter,
    admitted: Counter,
    rejected: Counter,
    pool_size: Gauge,
    batch_size: Histogram,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self {
            rounds_executed: Counter::default(),
            rounds_committed: Counter::default(),
            discrepancies: Counter::default(),
            backup_rounds: Counter::default(),
            takeover_rounds: Counter::default(),
            admitted: Counter::default(),
            rejected: Counter::default(),
            pool_size: Gauge::default(),
            batch_size: batch_size_histogram(),
        }
    }
}

/// `n` as a gauge value (saturating).
fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl WorkerMetrics {
    /// This node executed a batch of `txs` transactions.
    pub fn executed(&self, txs: usize) {
        self.rounds_executed.inc();
        self.batch_size
            .observe(f64::from(u32::try_from(txs).unwrap_or(u32::MAX)));
    }

    /// A normal round finalized (and this node applied it).
    pub fn committed(&self) {
        self.rounds_committed.inc();
    }

    /// Consensus declared a round in discrepancy (counted once per round).
    pub fn discrepancy(&self) {
        self.discrepancies.inc();
    }

    /// This node committed as a backup worker.
    pub fn backup(&self) {
        self.backup_rounds.inc();
    }

    /// This node proposed with a rank above 0.
    pub fn takeover(&self) {
        self.takeover_rounds.inc();
    }

    /// The runtime's check accepted `admitted` and refused `rejected`
    /// transactions.
    pub fn checked(&self, admitted: usize, rejected: usize) {
        self.admitted
            .inc_by(u64::try_from(admitted).unwrap_or(u64::MAX));
        self.rejected
            .inc_by(u64::try_from(rejected).unwrap_or(u64::MAX));
    }

    /// The pool holds `len` transactions.
    pub fn pool(&self, len: usize) {
        self.pool_size.set(gauge(len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    fn ns(b: u8) -> Namespace {
        Namespace([b; 32])
    }

    #[test]
    fn each_runtime_has_its_series_under_one_name() {
        let mut registry = Registry::with_prefix("atoll");
        let m = ComputeMetrics::register(&mut registry);
        let a = m.for_runtime(&ns(1));
        let b = m.for_runtime(&ns(2));
        a.executed(3);
        a.executed(5);
        a.committed();
        a.checked(4, 1);
        a.pool(2);
        b.takeover();
        b.discrepancy();
        b.backup();
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let ra = ns(1).to_hex();
        let rb = ns(2).to_hex();
        for line in [
            format!("atoll_compute_rounds_executed_total{{runtime=\"{ra}\"}} 2"),
            format!("atoll_compute_rounds_executed_total{{runtime=\"{rb}\"}} 0"),
            format!("atoll_compute_rounds_committed_total{{runtime=\"{ra}\"}} 1"),
            format!("atoll_compute_admitted_transactions_total{{runtime=\"{ra}\"}} 4"),
            format!("atoll_compute_rejected_transactions_total{{runtime=\"{ra}\"}} 1"),
            format!("atoll_compute_pool_size{{runtime=\"{ra}\"}} 2"),
            format!("atoll_compute_takeover_rounds_total{{runtime=\"{rb}\"}} 1"),
            format!("atoll_compute_discrepancies_total{{runtime=\"{rb}\"}} 1"),
            format!("atoll_compute_backup_rounds_total{{runtime=\"{rb}\"}} 1"),
            format!("atoll_compute_batch_size_count{{runtime=\"{ra}\"}} 2"),
            format!("atoll_compute_batch_size_sum{{runtime=\"{ra}\"}} 8.0"),
            format!("atoll_compute_batch_size_bucket{{le=\"4.0\",runtime=\"{ra}\"}} 1"),
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
        // One family per name, whatever the number of runtimes.
        assert_eq!(
            text.matches("# TYPE atoll_compute_rounds_executed counter")
                .count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn clones_share_their_series() {
        let mut registry = Registry::default();
        let m = ComputeMetrics::register(&mut registry);
        m.for_runtime(&ns(7)).committed();
        m.for_runtime(&ns(7)).clone().committed();
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let line = format!(
            "compute_rounds_committed_total{{runtime=\"{}\"}} 2\n",
            ns(7).to_hex()
        );
        assert!(text.contains(&line), "{text}");
    }
}
