//! The host side against the real test runtime process.

use std::future::Future;
use std::os::unix::process::ExitStatusExt as _;
use std::sync::Arc;
use std::time::Duration;

use atoll_runtime_host::host::{
    HostError, MemoryProvider, ProviderError, RuntimeConfig, RuntimeHost, StorageProvider,
};
use atoll_runtime_host::protocol::{
    CheckBatchRequest, ExecuteBatchRequest, ExecutedBatch, FrameError, MAX_FRAME_LEN, QueryRequest,
    StateRoot, Version, WriteLogEntry,
};
use atoll_types::cbor::{self, Value};
use atoll_types::{Height, Namespace};
use serde_bytes::ByteBuf;
use tokio::sync::mpsc;

use crate::ctx;
use crate::tx::TestTx;

/// Every test's whole body is bounded by this.
const TEST_LIMIT: Duration = Duration::from_secs(120);

const BIN: &str = env!("CARGO_BIN_EXE_atoll-test-runtime");

fn config() -> RuntimeConfig {
    let mut c = RuntimeConfig::new(BIN, Namespace::default());
    c.batch_time_limit = Duration::from_secs(60);
    c.query_time_limit = Duration::from_secs(60);
    c.handshake_timeout = Duration::from_secs(60);
    c.abort_timeout = Duration::from_secs(10);
    c.restart_backoff_min = Duration::from_millis(10);
    c.restart_backoff_max = Duration::from_millis(200);
    c
}

/// A [`MemoryProvider`] that reports every key read, so a test knows when
/// the runtime is inside a call.
struct Watched {
    inner: MemoryProvider,
    reads: mpsc::UnboundedSender<Vec<u8>>,
}

impl StorageProvider for Watched {
    fn get(&self, root: &StateRoot, key: &[u8]) -> Result<Option<Vec<u8>>, ProviderError> {
        let _ = self.reads.send(key.to_vec());
        if key == b"broken" {
            return Err(ProviderError::Other("disk on fire".into()));
        }
        self.inner.get(root, key)
    }

    fn iterate(
        &self,
        root: &StateRoot,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, ProviderError> {
        self.inner.iterate(root, start, end, limit)
    }

    fn consensus_get(&self, height: Height, key: &[u8]) -> Result<Option<Vec<u8>>, ProviderError> {
        self.inner.consensus_get(height, key)
    }
}

struct Fixture {
    host: RuntimeHost,
    provider: Arc<Watched>,
    reads: tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
}

impl Fixture {
    async fn start(config: RuntimeConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let provider = Arc::new(Watched {
            inner: MemoryProvider::new(),
            reads: tx,
        });
        let host = RuntimeHost::spawn(config, provider.clone()).await.unwrap();
        Self {
            host,
            provider,
            reads: tokio::sync::Mutex::new(rx),
        }
    }

    /// Waits until the runtime reads `key` from host storage.
    async fn read_of(&self, key: &[u8]) {
        let mut rx = self.reads.lock().await;
        while let Some(k) = rx.recv().await {
            if k == key {
                return;
            }
        }
        panic!("provider channel closed");
    }

    async fn execute(&self, txs: Vec<TestTx>) -> Result<ExecutedBatch, HostError> {
        self.host.execute_batch(batch(txs)).await
    }
}

fn batch(txs: Vec<TestTx>) -> ExecuteBatchRequest {
    ExecuteBatchRequest {
        ctx: ctx(),
        txs: txs.iter().map(|t| cbor::to_vec(t).unwrap()).collect(),
        message_results: vec![],
    }
}

fn b(s: &str) -> ByteBuf {
    ByteBuf::from(s.as_bytes().to_vec())
}

/// Reads key `k` (a rendezvous for the test), then does `then`.
fn after_read(k: &str, then: TestTx) -> Vec<TestTx> {
    vec![TestTx::Get { key: b(k) }, then]
}

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("test took too long")
}

/// A batch that must work: the runtime is healthy.
async fn assert_healthy(f: &Fixture) {
    let out = f
        .execute(vec![TestTx::Incr { key: b("healthy") }])
        .await
        .unwrap();
    assert_eq!(out.results, vec![Value::Unsigned(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_reads_host_storage_and_returns_its_write_log() {
    bounded(async {
        let f = Fixture::start(config()).await;
        f.provider.inner.insert(b"count", &5u64.to_be_bytes());
        f.provider.inner.insert(b"gone", b"x");
        f.provider.inner.insert(b"s1", b"1");
        f.provider.inner.insert(b"s3", b"3");
        f.provider.inner.insert_consensus(Height(10), b"ck", b"cv");
        let out = f
            .execute(vec![
                TestTx::Incr { key: b("count") },
                TestTx::Incr { key: b("count") },
                TestTx::Put {
                    key: b("s2"),
                    value: b("2"),
                },
                TestTx::Del { key: b("gone") },
                TestTx::Del { key: b("s3") },
                TestTx::Get { key: b("gone") },
                TestTx::Scan {
                    start: b("s"),
                    limit: 10,
                },
                TestTx::ConsensusRead {
                    height: 10,
                    key: b("ck"),
                },
                TestTx::ConsensusRead {
                    height: 11,
                    key: b("ck"),
                },
            ])
            .await
            .unwrap();
        assert_eq!(
            out.results,
            vec![
                Value::Unsigned(6),
                Value::Unsigned(7),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Array(vec![
                    Value::Bytes(b"s1".to_vec()),
                    Value::Bytes(b"s2".to_vec())
                ]),
                Value::Bytes(b"cv".to_vec()),
                Value::Null,
            ]
        );
        let entry = |k: &str, v: Option<&[u8]>| WriteLogEntry {
            key: k.as_bytes().to_vec(),
            value: v.map(<[u8]>::to_vec),
        };
        // Sorted by key, one entry per key.
        assert_eq!(
            out.write_log,
            vec![
                entry("count", Some(&7u64.to_be_bytes())),
                entry("gone", None),
                entry("s2", Some(b"2")),
                entry("s3", None),
            ]
        );
        assert_eq!(out.events, vec![Value::Text("put".into())]);

        // The host applies the write log; the next batch sees it.
        f.provider.inner.apply(&out.write_log);
        let out = f
            .execute(vec![TestTx::Incr { key: b("count") }])
            .await
            .unwrap();
        assert_eq!(out.results, vec![Value::Unsigned(8)]);
        let info = f.host.info().unwrap();
        assert_eq!(info.runtime_version, Version::new(0, 1, 0));
        assert_eq!(f.host.restarts().await, 0);
    })
    .await;
}

/// On a current-thread runtime too.
#[tokio::test]
async fn check_and_query() {
    bounded(async {
        let f = Fixture::start(config()).await;
        f.provider.inner.insert(b"k", b"v");
        let checked = f
            .host
            .check_batch(CheckBatchRequest {
                ctx: ctx(),
                txs: vec![cbor::to_vec(&TestTx::Crash).unwrap(), vec![0xff]],
            })
            .await
            .unwrap();
        assert_eq!(checked.results, vec![Value::Bool(true), Value::Bool(false)]);
        let q = |method: &str, args: Value| QueryRequest {
            ctx: ctx(),
            method: method.into(),
            args,
        };
        assert_eq!(
            f.host
                .query(q("get", Value::Bytes(b"k".to_vec())))
                .await
                .unwrap(),
            Value::Bytes(b"v".to_vec())
        );
        assert_eq!(
            f.host
                .query(q("get", Value::Bytes(b"nope".to_vec())))
                .await
                .unwrap(),
            Value::Null
        );
        match f.host.query(q("nope", Value::Null)).await {
            Err(HostError::Runtime(e)) => assert_eq!((e.module.as_str(), e.code), ("test", 1)),
            other => panic!("{other:?}"),
        }
        f.host.ping().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_gets_a_clean_environment() {
    bounded(async {
        let mut c = config();
        c.env.push(("ONLY_THIS".into(), "1".into()));
        let f = Fixture::start(c).await;
        let names = f
            .host
            .query(QueryRequest {
                ctx: ctx(),
                method: "env".into(),
                args: Value::Null,
            })
            .await
            .unwrap();
        assert_eq!(
            names,
            Value::Array(
                ["ATOLL_RHP_PARENT_PID", "ATOLL_RHP_TRANSPORT", "ONLY_THIS"]
                    .into_iter()
                    .map(|s| Value::Text(s.into()))
                    .collect()
            )
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_and_provider_errors_are_typed_and_harmless() {
    bounded(async {
        let f = Fixture::start(config()).await;
        let pid = f.host.pid();
        match f.execute(vec![TestTx::Fail]).await {
            Err(HostError::Runtime(e)) => assert_eq!((e.module.as_str(), e.code), ("test", 7)),
            other => panic!("{other:?}"),
        }
        match f.execute(vec![TestTx::Get { key: b("broken") }]).await {
            Err(HostError::Runtime(e)) => {
                assert_eq!(e.module, "host");
                assert!(e.message.contains("disk on fire"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert_healthy(&f).await;
        assert_eq!(f.host.pid(), pid);
    })
    .await;
}

/// The nice value of every thread of process `pid`.
fn thread_nices(pid: u32) -> Vec<i64> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|t| {
            let stat = std::fs::read_to_string(t.unwrap().path().join("stat")).unwrap();
            // Fields after the command (which ends with the last ')'): state
            // is field 3, nice field 19.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            rest.split(' ').nth(16).unwrap().parse().unwrap()
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_batch_lowers_the_runtimes_priority_until_a_short_one() {
    bounded(async {
        let mut c = config();
        c.bulk_batch_time = Duration::from_millis(200);
        c.bulk_nice = 7;
        let f = Fixture::start(c).await;
        let pid = f.host.pid().unwrap();
        assert_healthy(&f).await;
        assert!(thread_nices(pid).iter().all(|n| *n == 0), "a short batch");
        f.execute(vec![TestTx::Sleep { ms: 400 }]).await.unwrap();
        let nices = thread_nices(pid);
        assert!(nices.len() >= 2, "the serve loop has its reader thread");
        assert!(nices.iter().all(|n| *n == 7), "{nices:?}");
        // Back to the node's priority needs CAP_SYS_NICE (root here in CI);
        // without it the runtime stays lowered.
        assert_healthy(&f).await;
        let root = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
        let expected = if root { 0 } else { 7 };
        assert!(
            thread_nices(pid).iter().all(|n| *n == expected),
            "{:?}",
            thread_nices(pid)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_batch_fails_it_then_the_runtime_restarts() {
    bounded(async {
        let f = Arc::new(Fixture::start(config()).await);
        let pid = f.host.pid().unwrap();
        let call = {
            let f = Arc::clone(&f);
            tokio::spawn(async move { f.execute(after_read("sync", TestTx::Hang)).await })
        };
        f.read_of(b"sync").await;
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        match call.await.unwrap() {
            Err(HostError::Exited { status }) => {
                if let Some(status) = status {
                    assert_eq!(status.signal(), Some(9));
                }
            }
            other => panic!("{other:?}"),
        }
        assert_healthy(&f).await;
        assert_ne!(f.host.pid(), Some(pid));
        assert_eq!(f.host.restarts().await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_in_a_batch_is_exited_then_restarted() {
    bounded(async {
        let f = Fixture::start(config()).await;
        match f.execute(vec![TestTx::Crash]).await {
            Err(HostError::Exited { status }) => {
                if let Some(status) = status {
                    assert_eq!(status.code(), Some(42));
                }
            }
            other => panic!("{other:?}"),
        }
        assert_healthy(&f).await;
        // Crash again: restarts keep working.
        assert!(matches!(
            f.execute(vec![TestTx::Crash]).await,
            Err(HostError::Exited { .. })
        ));
        assert_healthy(&f).await;
        assert_eq!(f.host.restarts().await, 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_past_its_limit_is_aborted_and_the_runtime_stays() {
    bounded(async {
        let mut c = config();
        // Generous for a loaded machine; nothing asserts on elapsed time.
        c.batch_time_limit = Duration::from_secs(1);
        let f = Fixture::start(c).await;
        let pid = f.host.pid();
        match f
            .execute(vec![
                TestTx::Put {
                    key: b("dropped"),
                    value: b("x"),
                },
                TestTx::HangAbortable,
            ])
            .await
        {
            Err(HostError::Timeout { limit }) => assert_eq!(limit, Duration::from_secs(1)),
            other => panic!("{other:?}"),
        }
        // It answered the abort: same process, and it serves the next batch
        // without the aborted batch's writes.
        assert_eq!(f.host.pid(), pid);
        let out = f
            .execute(vec![TestTx::Get { key: b("dropped") }])
            .await
            .unwrap();
        assert_eq!(out.results, vec![Value::Null]);
        assert!(out.write_log.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_ignoring_the_abort_is_killed_and_the_runtime_restarts() {
    bounded(async {
        let mut c = config();
        c.batch_time_limit = Duration::from_secs(1);
        c.abort_timeout = Duration::from_secs(1);
        let f = Fixture::start(c).await;
        let pid = f.host.pid();
        assert!(matches!(
            f.execute(vec![TestTx::Hang]).await,
            Err(HostError::Timeout { .. })
        ));
        assert_healthy(&f).await;
        assert_ne!(f.host.pid(), pid);
        assert_eq!(f.host.restarts().await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_from_another_task_and_ping_during_a_call() {
    bounded(async {
        let f = Arc::new(Fixture::start(config()).await);
        let pid = f.host.pid();
        let call = {
            let f = Arc::clone(&f);
            tokio::spawn(async move { f.execute(after_read("sync", TestTx::HangAbortable)).await })
        };
        f.read_of(b"sync").await;
        f.host.ping().await.unwrap();
        assert!(f.host.abort().await);
        assert!(matches!(call.await.unwrap(), Err(HostError::Aborted)));
        assert_healthy(&f).await;
        assert_eq!(f.host.pid(), pid);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frame_from_the_runtime_is_a_protocol_error() {
    bounded(async {
        let f = Fixture::start(config()).await;
        match f.execute(vec![TestTx::Garbage]).await {
            Err(HostError::Protocol(FrameError::Decode(_))) => {}
            other => panic!("{other:?}"),
        }
        assert_healthy(&f).await;
        assert_eq!(f.host.restarts().await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_from_the_runtime_is_refused() {
    bounded(async {
        let f = Fixture::start(config()).await;
        match f.execute(vec![TestTx::Oversize]).await {
            Err(HostError::Protocol(FrameError::TooLarge { len, max })) => {
                assert_eq!(len, u64::from(u32::MAX));
                assert_eq!(max, MAX_FRAME_LEN);
            }
            other => panic!("{other:?}"),
        }
        assert_healthy(&f).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_is_refused_before_sending() {
    bounded(async {
        let f = Fixture::start(config()).await;
        let pid = f.host.pid();
        let mut req = batch(vec![]);
        req.txs.push(vec![0; MAX_FRAME_LEN]);
        assert!(matches!(
            f.host.execute_batch(req).await,
            Err(HostError::RequestTooLarge(FrameError::TooLarge { .. }))
        ));
        assert_healthy(&f).await;
        assert_eq!(f.host.pid(), pid);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_version_mismatch_is_refused() {
    bounded(async {
        let mut c = config();
        c.args = vec!["--speak-version".into(), "9".into()];
        match RuntimeHost::spawn(c, Arc::new(MemoryProvider::new())).await {
            Err(HostError::VersionMismatch { host, runtime }) => {
                assert_eq!(runtime.major, 9);
                assert_ne!(host.major, 9);
            }
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_runtime_id_is_refused() {
    bounded(async {
        let mut c = config();
        c.runtime_id = Namespace([7; 32]);
        match RuntimeHost::spawn(c, Arc::new(MemoryProvider::new())).await {
            Err(HostError::RuntimeIdMismatch { expected, got }) => {
                assert_eq!(expected, Namespace([7; 32]));
                assert_eq!(got, Namespace::default());
            }
            other => panic!("{other:?}"),
        }
        let mut c = config();
        c.runtime_id = Namespace([7; 32]);
        c.args = vec!["--runtime-id".into(), Namespace([7; 32]).to_hex().into()];
        RuntimeHost::spawn(c, Arc::new(MemoryProvider::new()))
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_binary_is_a_spawn_error() {
    bounded(async {
        let mut c = config();
        c.binary = "/nonexistent/atoll-runtime".into();
        assert!(matches!(
            RuntimeHost::spawn(c, Arc::new(MemoryProvider::new())).await,
            Err(HostError::Spawn { .. })
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_host_kills_the_runtime() {
    bounded(async {
        let f = Fixture::start(config()).await;
        let pid = f.host.pid().unwrap();
        drop(f);
        // Bounded by TEST_LIMIT: wait until the process is gone (or a
        // zombie about to be reaped).
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
            match stat {
                Err(_) => break,
                Ok(s) if s.split_whitespace().nth(2) == Some("Z") => break,
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_then_the_next_call_starts_it_again() {
    bounded(async {
        let f = Fixture::start(config()).await;
        f.host.shutdown().await;
        assert_eq!(f.host.pid(), None);
        assert_healthy(&f).await;
        assert!(f.host.pid().is_some());
    })
    .await;
}

/// Runs the test runtime directly with the given environment and returns
/// its exit status and standard error.
async fn run_directly(env: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let out = tokio::process::Command::new(BIN)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn runtime_started_without_a_host_exits_with_a_clear_error() {
    bounded(async {
        let (status, stderr) = run_directly(&[]).await;
        assert!(!status.success());
        assert!(stderr.contains("ATOLL_RHP_TRANSPORT"), "{stderr}");

        // A parent pid that is not its parent: the host is considered gone.
        let (status, stderr) = run_directly(&[
            ("ATOLL_RHP_TRANSPORT", "stdin"),
            ("ATOLL_RHP_PARENT_PID", "1"),
        ])
        .await;
        assert!(!status.success());
        assert!(stderr.contains("parent process"), "{stderr}");
    })
    .await;
}

#[test]
fn a_host_on_its_own_runtime_serves_calls_from_another() {
    // A node may give each runtime its own tokio runtime: the host is spawned
    // there and called from elsewhere.
    let own = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let handle = own.handle().clone();
    let main = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    main.block_on(async move {
        bounded(async move {
            let provider = Arc::new(MemoryProvider::new());
            provider.insert(b"k", b"v");
            let p: Arc<dyn StorageProvider> = provider;
            let host = handle
                .spawn(async move { RuntimeHost::spawn(config(), p).await })
                .await
                .unwrap()
                .unwrap();
            let host = Arc::new(host);
            for _ in 0..20 {
                let q = QueryRequest {
                    ctx: ctx(),
                    method: "get".into(),
                    args: Value::Bytes(b"k".to_vec()),
                };
                assert_eq!(
                    host.query(q.clone()).await.unwrap(),
                    Value::Bytes(b"v".to_vec())
                );
                let h = host.clone();
                let inside = handle.spawn(async move { h.query(q).await }).await.unwrap();
                assert_eq!(inside.unwrap(), Value::Bytes(b"v".to_vec()));
            }
            host.shutdown().await;
        })
        .await;
    });
    own.shutdown_timeout(Duration::from_secs(5));
}
