//! The host's metrics, counted on a real runtime process and read back
//! from a registry's text exposition.

use std::time::Duration;

use atoll_runtime_host::host::{HostError, MemoryProvider, RuntimeConfig, RuntimeHost};
use atoll_runtime_host::metrics::HostMetrics;
use atoll_runtime_host::protocol::{CheckBatchRequest, ExecuteBatchRequest, QueryRequest};
use atoll_types::Namespace;
use atoll_types::cbor::{self, Value};
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use serde_bytes::ByteBuf;

use crate::ctx;
use crate::tx::TestTx;

const BIN: &str = env!("CARGO_BIN_EXE_atoll-test-runtime");

/// The value of the sample that starts with `series` (name and labels).
fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

fn batch(tx: &TestTx) -> ExecuteBatchRequest {
    ExecuteBatchRequest {
        ctx: ctx(),
        txs: vec![cbor::to_vec(tx).unwrap()],
        message_results: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_failures_and_restarts_are_counted() {
    let body = async {
        let mut registry = Registry::default();
        let families = HostMetrics::register(&mut registry);
        let mut config = RuntimeConfig::new(BIN, Namespace::default());
        config.restart_backoff_min = Duration::from_millis(10);
        config.restart_backoff_max = Duration::from_millis(200);
        config.metrics = families.for_runtime(&Namespace::default());
        let host = RuntimeHost::spawn(config, std::sync::Arc::new(MemoryProvider::new()))
            .await
            .unwrap();
        let incr = TestTx::Incr {
            key: ByteBuf::from(b"n".to_vec()),
        };
        host.execute_batch(batch(&incr)).await.unwrap();
        // A crash fails the call; the next call starts the runtime again.
        assert!(matches!(
            host.execute_batch(batch(&TestTx::Crash)).await,
            Err(HostError::Exited { .. })
        ));
        host.execute_batch(batch(&incr)).await.unwrap();
        host.check_batch(CheckBatchRequest {
            ctx: ctx(),
            txs: vec![vec![0xff]],
        })
        .await
        .unwrap();
        let failed = host
            .query(QueryRequest {
                ctx: ctx(),
                method: "nope".into(),
                args: Value::Null,
            })
            .await;
        assert!(matches!(failed, Err(HostError::Runtime(_))), "{failed:?}");

        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let rt = format!("runtime=\"{}\"", Namespace::default().to_hex());
        let series = |name: &str, kind: &str| format!("{name}{{{rt},kind=\"{kind}\"}}");
        assert_eq!(
            value(&text, &series("runtime_host_calls_total", "execute")),
            3
        );
        assert_eq!(
            value(
                &text,
                &series("runtime_host_call_failures_total", "execute")
            ),
            1
        );
        assert_eq!(
            value(&text, &series("runtime_host_calls_total", "check")),
            1
        );
        assert_eq!(
            value(&text, &series("runtime_host_call_failures_total", "check")),
            0
        );
        assert_eq!(
            value(&text, &series("runtime_host_calls_total", "query")),
            1
        );
        assert_eq!(
            value(&text, &series("runtime_host_call_failures_total", "query")),
            1
        );
        assert_eq!(
            value(
                &text,
                &series("runtime_host_call_duration_seconds_count", "execute")
            ),
            3
        );
        // The first start is no restart; the one after the crash is.
        assert_eq!(
            value(&text, &format!("runtime_host_restarts_total{{{rt}}}")),
            1
        );
        assert_eq!(host.restarts().await, 1);
        assert_eq!(
            value(&text, &format!("runtime_host_start_failures_total{{{rt}}}")),
            0
        );
    };
    tokio::time::timeout(Duration::from_secs(120), body)
        .await
        .expect("test took too long");
}
