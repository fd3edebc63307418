//! The gateway's Prometheus metrics, served at `GET /metrics` on its own
//! port (the Ethereum JSON-RPC's).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `atoll_web3_requests_total` | counter | `method`, `outcome` (`ok` or the error code) |
//! | `atoll_web3_request_duration_seconds` | histogram | `method` |
//! | `atoll_web3_index_height` | gauge | |
//! | `atoll_web3_filters_installed` | gauge | |
//! | `atoll_web3_subscriptions_active` | gauge | |
//!
//! A `method` label is a method the gateway serves, or `other`: clients
//! choose method names, and the label set stays bounded whatever they
//! send. Calls are counted by [`Metered`], an RPC middleware (each call of
//! a batch on its own); the index height and the installed filters are read
//! when the metrics are scraped ([`Web3Metrics::observe`]); subscriptions
//! count themselves while they run ([`Web3Metrics::subscription`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use atoll_rpc::MetricsLayer;
use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::server::MethodResponse;
use jsonrpsee::types::Request;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The label of a method not served here.
const OTHER_METHOD: &str = "other";
/// The outcome label of a call answered without error.
const OUTCOME_OK: &str = "ok";
/// The methods jsonrpsee serves for us without a table entry.
const EXTRA_METHODS: &[&str] = &["eth_unsubscribe"];

/// Labels of a call count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: &'static str,
    outcome: String,
}

/// Labels of a call duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

/// Call durations from 1 ms to about 33 s.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The gateway's metrics and the registry that encodes them.
pub struct Web3Metrics {
    registry: Registry,
    requests: Family<CallLabels, Counter>,
    durations: Family<MethodLabels, Histogram, fn() -> Histogram>,
    index_height: Gauge,
    filters: Gauge,
    subscriptions: Gauge,
}

impl std::fmt::Debug for Web3Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web3Metrics").finish_non_exhaustive()
    }
}

impl Default for Web3Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Web3Metrics {
    /// Every metric, registered under `atoll_web3_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("atoll_web3");
        let requests = Family::<CallLabels, Counter>::default();
        let durations: Family<MethodLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let index_height = Gauge::default();
        let filters = Gauge::default();
        let subscriptions = Gauge::default();
        registry.register(
            "requests",
            "JSON-RPC calls answered, by method and outcome (ok or the error code)",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a JSON-RPC call, by method",
            durations.clone(),
        );
        registry.register(
            "index_height",
            "The last block (runtime round) in the gateway's index",
            index_height.clone(),
        );
        registry.register(
            "filters_installed",
            "Installed filters (eth_newFilter and the like) not yet expired",
            filters.clone(),
        );
        registry.register(
            "subscriptions_active",
            "Running eth_subscribe subscriptions",
            subscriptions.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            index_height,
            filters,
            subscriptions,
        }
    }

    /// The label of `method`: itself if served here, else `other`.
    fn method_label(method: &str) -> &'static str {
        crate::rpc::params::METHODS
            .iter()
            .map(|(name, _)| *name)
            .chain(EXTRA_METHODS.iter().copied())
            .find(|name| *name == method)
            .unwrap_or(OTHER_METHOD)
    }

    /// Counts one answered call of `method`: its outcome (`None`: no error,
    /// else the error code) and how long it took.
    pub fn record_call(&self, method: &str, error_code: Option<i32>, seconds: f64) {
        let method = Self::method_label(method);
        let outcome = error_code.map_or_else(|| OUTCOME_OK.to_owned(), |c| c.to_string());
        self.requests
            .get_or_create(&CallLabels { method, outcome })
            .inc();
        self.durations
            .get_or_create(&MethodLabels { method })
            .observe(seconds);
    }

    /// Records what is read at scrape time: the index's last block (`None`:
    /// empty, shown as 0) and the installed filters.
    pub fn observe(&self, index_height: Option<u64>, filters: usize) {
        self.index_height
            .set(i64::try_from(index_height.unwrap_or(0)).unwrap_or(i64::MAX));
        self.filters.set(i64::try_from(filters).unwrap_or(i64::MAX));
    }

    /// Counts a running subscription until the guard is dropped.
    pub fn subscription(&self) -> SubscriptionGuard {
        self.subscriptions.inc();
        SubscriptionGuard(self.subscriptions.clone())
    }

    /// The metrics in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Counts one running subscription (see [`Web3Metrics::subscription`]).
#[derive(Debug)]
pub struct SubscriptionGuard(Gauge);

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The RPC middleware counting each call: method, outcome, duration. It
/// sits inside [`crate::batch::ConcurrentBatches`] (which hands it each
/// call of a batch) and outside `GethParams` (in `rpc::params`), so
/// refused parameters are counted too.
#[derive(Clone, Debug)]
pub struct Metered<S> {
    service: S,
    metrics: Arc<Web3Metrics>,
}

impl<S> Metered<S> {
    /// Wraps `service`, counting into `metrics`.
    pub const fn new(service: S, metrics: Arc<Web3Metrics>) -> Self {
        Self { service, metrics }
    }
}

impl<S> RpcServiceT for Metered<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            NotificationResponse = MethodResponse,
            BatchResponse = MethodResponse,
        > + Send
        + Sync,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let metrics = self.metrics.clone();
        let method = request.method_name().to_owned();
        let started = Instant::now();
        let answer = self.service.call(request);
        async move {
            let response = answer.await;
            metrics.record_call(
                &method,
                response.as_error_code(),
                started.elapsed().as_secs_f64(),
            );
            response
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

/// What `GET /metrics` reads at scrape time besides the counters.
pub(crate) trait Observe: Send + Sync {
    /// The index's last block and the live installed filters.
    fn observe(&self) -> (Option<u64>, usize);
}

/// `GET /metrics` on the gateway's port: the gauges read from `source`
/// at scrape time, then the whole registry.
pub(crate) fn metrics_layer(metrics: Arc<Web3Metrics>, source: Arc<dyn Observe>) -> MetricsLayer {
    MetricsLayer::new(move || {
        let (height, filters) = source.observe();
        metrics.observe(height, filters);
        metrics.encode()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_bounded() {
        assert_eq!(Web3Metrics::method_label("eth_call"), "eth_call");
        assert_eq!(
            Web3Metrics::method_label("eth_unsubscribe"),
            "eth_unsubscribe"
        );
        assert_eq!(Web3Metrics::method_label("eth_whatever_1234"), OTHER_METHOD);
    }

    #[test]
    fn calls_and_gauges_are_encoded() {
        let m = Web3Metrics::new();
        m.record_call("eth_chainId", None, 0.002);
        m.record_call("eth_chainId", None, 0.002);
        m.record_call("eth_getBalance", Some(-32602), 0.0005);
        m.record_call("made_up", Some(-32601), 0.0005);
        m.observe(Some(7), 3);
        let g = m.subscription();
        let text = m.encode();
        assert!(
            text.contains("atoll_web3_requests_total{method=\"eth_chainId\",outcome=\"ok\"} 2")
        );
        assert!(
            text.contains(
                "atoll_web3_requests_total{method=\"eth_getBalance\",outcome=\"-32602\"} 1"
            )
        );
        assert!(text.contains("atoll_web3_requests_total{method=\"other\",outcome=\"-32601\"} 1"));
        assert!(
            text.contains("atoll_web3_request_duration_seconds_count{method=\"eth_chainId\"} 2")
        );
        assert!(text.contains("atoll_web3_index_height 7"));
        assert!(text.contains("atoll_web3_filters_installed 3"));
        assert!(text.contains("atoll_web3_subscriptions_active 1"));
        drop(g);
        assert!(m.encode().contains("atoll_web3_subscriptions_active 0"));
    }
}
