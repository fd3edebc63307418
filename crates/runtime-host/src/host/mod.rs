//! The host side: spawn a runtime process, talk to it, keep it running.
//!
//! [`RuntimeHost::spawn`] starts the runtime binary with a clean
//! environment, its end of a Unix socket pair as its standard input (its
//! standard output goes to the host's standard error, its standard error is
//! inherited), performs the `Info` handshake, and then serves calls one at a
//! time, except that a runtime whose handshake says `concurrent_checks` gets
//! its checks beside the call in progress. A runtime whose batches run long
//! is lowered in CPU priority until they run short again
//! ([`RuntimeConfig::bulk_nice`]). See the crate documentation for the
//! supervision rules.

mod conn;
mod provider;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use atoll_types::Namespace;
use atoll_types::cbor::Value;
use tokio::time::Instant;

pub use provider::{MemoryProvider, ProviderError, StorageProvider};

use crate::metrics::{CallKind, ProcessMetrics};
use crate::protocol::{
    CheckBatchRequest, CheckedBatch, ExecuteBatchRequest, ExecutedBatch, FrameError, InfoResponse,
    QueryRequest, Request, Response, RuntimeError, Version,
};
use conn::{Closed, Connection};

/// How to run one runtime.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// The runtime binary.
    pub binary: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Its environment: the process gets exactly these variables, plus the
    /// two the protocol sets ([`ENV_TRANSPORT`](crate::runtime::ENV_TRANSPORT),
    /// [`ENV_PARENT_PID`](crate::runtime::ENV_PARENT_PID)).
    pub env: Vec<(OsString, OsString)>,
    /// The runtime's identifier; a runtime that reports another one in the
    /// handshake is refused.
    pub runtime_id: Namespace,
    /// How long an `ExecuteBatch` or a `CheckBatch` may take.
    pub batch_time_limit: Duration,
    /// How long a `Query` may take.
    pub query_time_limit: Duration,
    /// How long the runtime has to answer the `Info` handshake after it is
    /// started.
    pub handshake_timeout: Duration,
    /// How long the runtime has to answer an `Abort` (or a `Ping`) before it
    /// is killed.
    pub abort_timeout: Duration,
    /// The least time between two starts of the runtime.
    pub restart_backoff_min: Duration,
    /// The most time between two starts of the runtime: the delay doubles
    /// after each start that fails, up to this.
    pub restart_backoff_max: Duration,
    /// A batch that takes at least this long to execute is bulk work: until
    /// a batch runs shorter again, the runtime's threads run at
    /// [`bulk_nice`](Self::bulk_nice), so that a saturated runtime yields
    /// the CPU to the node and to runtimes running short batches.
    pub bulk_batch_time: Duration,
    /// The nice value of a runtime doing bulk work (0: never lowered).
    /// Lowering needs no privilege; going back to 0 needs `CAP_SYS_NICE`
    /// (or `RLIMIT_NICE`): without it the runtime stays lowered, which is
    /// logged once.
    pub bulk_nice: i32,
    /// The nice value of the runtime when it is not doing bulk work (0:
    /// the node's own priority). A runtime that only answers queries (a
    /// node runs one beside each runtime's batch process) runs at
    /// [`bulk_nice`](Self::bulk_nice) from its start, so that queries yield
    /// the CPU to rounds.
    pub base_nice: i32,
    /// Where calls, restarts and failed starts are counted (see
    /// [`crate::metrics`]); by default series no registry exports. Clones
    /// of the configuration count into the same series.
    pub metrics: ProcessMetrics,
}

impl RuntimeConfig {
    /// A configuration with the default limits: batches 30 s, queries 10 s,
    /// handshake 10 s, abort 2 s, restarts between 100 ms and 10 s apart;
    /// batches of 100 ms or more are bulk work, run at nice 10; otherwise
    /// nice 0.
    pub fn new(binary: impl Into<PathBuf>, runtime_id: Namespace) -> Self {
        Self {
            binary: binary.into(),
            args: Vec::new(),
            env: Vec::new(),
            runtime_id,
            batch_time_limit: Duration::from_secs(30),
            query_time_limit: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            abort_timeout: Duration::from_secs(2),
            restart_backoff_min: Duration::from_millis(100),
            restart_backoff_max: Duration::from_secs(10),
            bulk_batch_time: Duration::from_millis(100),
            bulk_nice: 10,
            base_nice: 0,
            metrics: ProcessMetrics::default(),
        }
    }

    /// The delay before the next start after `failures` failed starts in a
    /// row.
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX);
        self.restart_backoff_min
            .saturating_mul(factor)
            .min(self.restart_backoff_max)
            .max(self.restart_backoff_min)
    }
}

/// Why a call to the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The runtime process could not be started.
    #[error("cannot start runtime {binary:?}: {source}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The runtime speaks an incompatible protocol version.
    #[error("protocol version mismatch: host speaks {host}, runtime speaks {runtime}")]
    VersionMismatch {
        /// The host's version.
        host: Version,
        /// The runtime's version.
        runtime: Version,
    },
    /// The runtime refused the host's protocol version.
    #[error("the runtime refused the host's protocol version: {0}")]
    RuntimeRefusedVersion(RuntimeError),
    /// The runtime is not the configured one.
    #[error("runtime id mismatch: expected {expected}, runtime says {got}")]
    RuntimeIdMismatch {
        /// The configured id.
        expected: Namespace,
        /// The id the runtime reported.
        got: Namespace,
    },
    /// The runtime process exited (crashed, or was killed from outside)
    /// during the call. It is restarted on the next call.
    #[error("the runtime process exited during the call ({})", status.map_or_else(|| "status unknown".to_string(), |s| s.to_string()))]
    Exited {
        /// Its exit status, if it was known in time.
        status: Option<ExitStatus>,
    },
    /// The call ran past its time limit and was aborted (the runtime was
    /// killed if it did not answer the abort).
    #[error("the call ran past its time limit of {limit:?} and was aborted")]
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// The call was aborted by [`RuntimeHost::abort`].
    #[error("the call was aborted")]
    Aborted,
    /// The host killed the runtime (it is being shut down, or replaced).
    #[error("the runtime was killed by the host")]
    Killed,
    /// The runtime sent something that is not a frame of the protocol. It
    /// was killed and is restarted on the next call.
    #[error("protocol violation by the runtime: {0}")]
    Protocol(FrameError),
    /// The runtime answered with the wrong kind of response. It was killed
    /// and is restarted on the next call.
    #[error("the runtime answered a {request} request with a {response} response")]
    UnexpectedResponse {
        /// The request.
        request: &'static str,
        /// The response it got.
        response: &'static str,
    },
    /// The request does not fit in a frame.
    #[error("the request does not fit in a frame: {0}")]
    RequestTooLarge(FrameError),
    /// The runtime answered the call with an error.
    #[error("the runtime failed the call: {0}")]
    Runtime(RuntimeError),
}

/// Supervision state, behind the call lock.
struct Supervisor {
    conn: Option<Arc<Connection>>,
    /// Failed starts in a row.
    failures: u32,
    /// No start before this instant.
    next_start: Option<Instant>,
    /// Starts after the first.
    restarts: u64,
    /// Whether a process was ever started (the next start is a restart).
    started: bool,
}

struct Inner {
    config: RuntimeConfig,
    provider: Arc<dyn StorageProvider>,
    /// Serializes calls (one at a time per runtime) and restarts.
    supervisor: tokio::sync::Mutex<Supervisor>,
    /// Serializes checks sent beside the call in progress (to a runtime
    /// that checks on a thread of its own), so that each one's time limit
    /// counts its own work, not a queue.
    checks: tokio::sync::Mutex<()>,
    /// The live connection, for `abort`, `ping` and status without the
    /// call lock.
    current: Mutex<Option<(Arc<Connection>, InfoResponse)>>,
    /// The process whose threads were last given a nice value, and that
    /// value (see [`RuntimeConfig::bulk_nice`]).
    niced: Mutex<Option<(u32, i32)>>,
}

/// A supervised runtime process.
///
/// Cloning gives another handle to the same process (so that one task can
/// [`abort`](Self::abort) the call another task is waiting on). The process
/// is killed when the last handle is dropped.
#[derive(Clone)]
pub struct RuntimeHost {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RuntimeHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeHost")
            .field("binary", &self.inner.config.binary)
            .field("runtime_id", &self.inner.config.runtime_id)
            .field("pid", &self.pid())
            .finish()
    }
}

impl RuntimeHost {
    /// Starts the runtime and performs the handshake. Fails if either
    /// fails: a runtime that cannot start once is a configuration error.
    ///
    /// Must be called within a tokio runtime. Processes are forked from one
    /// dedicated host thread that never exits, so the runtime's
    /// `PR_SET_PDEATHSIG` fires only when the host process dies.
    pub async fn spawn(
        config: RuntimeConfig,
        provider: Arc<dyn StorageProvider>,
    ) -> Result<Self, HostError> {
        let host = Self {
            inner: Arc::new(Inner {
                config,
                provider,
                supervisor: tokio::sync::Mutex::new(Supervisor {
                    conn: None,
                    failures: 0,
                    next_start: None,
                    restarts: 0,
                    started: false,
                }),
                checks: tokio::sync::Mutex::new(()),
                current: Mutex::new(None),
                niced: Mutex::new(None),
            }),
        };
        {
            let mut sup = host.inner.supervisor.lock().await;
            host.ensure_running(&mut sup).await?;
            sup.restarts = 0;
        }
        Ok(host)
    }

    /// Executes a batch (within [`RuntimeConfig::batch_time_limit`]). A
    /// batch that took [`RuntimeConfig::bulk_batch_time`] or more leaves
    /// the runtime at [`RuntimeConfig::bulk_nice`] until one takes less.
    pub async fn execute_batch(
        &self,
        req: ExecuteBatchRequest,
    ) -> Result<ExecutedBatch, HostError> {
        let limit = self.inner.config.batch_time_limit;
        let started = Instant::now();
        let answer = self.call(Request::ExecuteBatch(req), limit).await;
        let took = started.elapsed();
        if answer.is_ok() {
            let cfg = &self.inner.config;
            let bulk = took >= cfg.bulk_batch_time;
            self.set_nice(if bulk { cfg.bulk_nice } else { cfg.base_nice });
        }
        let out = answer.and_then(|answer| match answer {
            (Response::ExecutedBatch(b), _) => Ok(b),
            (other, conn) => Err(self.unexpected(&conn, "execute_batch", &other)),
        });
        self.inner
            .config
            .metrics
            .call(CallKind::Execute, took, out.is_ok());
        out
    }

    /// Gives every thread of the running runtime the nice value `nice`
    /// (threads it starts later inherit it from their parent thread).
    /// Scheduling only: no outcome depends on it.
    fn set_nice(&self, nice: i32) {
        let Some(pid) = self.pid() else {
            return;
        };
        let mut niced = self
            .inner
            .niced
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = match *niced {
            Some((p, n)) if p == pid => n,
            // A new process starts at the node's own priority.
            _ => 0,
        };
        if current == nice {
            return;
        }
        if let Err(e) = renice_threads(pid, nice) {
            // Said once per process; the value is taken as set, so that
            // the next change tries again but nothing repeats meanwhile.
            if niced.is_none_or(|(p, _)| p != pid) {
                tracing::info!(pid, nice, error = %e, "cannot change the runtime's priority");
            }
        } else {
            tracing::debug!(pid, nice, "runtime threads reniced");
        }
        *niced = Some((pid, nice));
    }

    /// Checks transactions (within [`RuntimeConfig::batch_time_limit`]).
    /// A runtime that checks on a thread of its own (`concurrent_checks` in
    /// its handshake) gets them at once, even while it executes a batch;
    /// checks still go one at a time. Otherwise they wait their turn like
    /// every call.
    pub async fn check_batch(&self, req: CheckBatchRequest) -> Result<CheckedBatch, HostError> {
        let limit = self.inner.config.batch_time_limit;
        let started = Instant::now();
        let req = Request::CheckBatch(req);
        let beside = {
            let current = self
                .inner
                .current
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            current
                .as_ref()
                .filter(|(conn, info)| info.concurrent_checks && conn.is_alive())
                .map(|(conn, _)| Arc::clone(conn))
        };
        let answer = match beside {
            Some(conn) => {
                let _turn = self.inner.checks.lock().await;
                match conn.call_beside(req, limit).await {
                    Ok(Response::Error(e)) => Err(HostError::Runtime(e)),
                    Ok(resp) => Ok((resp, conn)),
                    Err(e) => Err(e),
                }
            }
            None => self.call(req, limit).await,
        };
        let out = answer.and_then(|answer| match answer {
            (Response::CheckedBatch(b), _) => Ok(b),
            (other, conn) => Err(self.unexpected(&conn, "check_batch", &other)),
        });
        self.inner
            .config
            .metrics
            .call(CallKind::Check, started.elapsed(), out.is_ok());
        out
    }

    /// Runs a query (within [`RuntimeConfig::query_time_limit`]).
    pub async fn query(&self, req: QueryRequest) -> Result<Value, HostError> {
        let limit = self.inner.config.query_time_limit;
        let started = Instant::now();
        let out = self
            .call(Request::Query(req), limit)
            .await
            .and_then(|answer| match answer {
                (Response::Query(q), _) => Ok(q.result),
                (other, conn) => Err(self.unexpected(&conn, "query", &other)),
            });
        self.inner
            .config
            .metrics
            .call(CallKind::Query, started.elapsed(), out.is_ok());
        out
    }

    /// Aborts the call in progress, if any: the runtime drops the call's
    /// writes and the call fails with [`HostError::Aborted`]. If the runtime
    /// does not answer within [`RuntimeConfig::abort_timeout`] it is killed
    /// (and restarted on the next call). Returns whether it answered.
    pub async fn abort(&self) -> bool {
        let conn = self.current_conn();
        match conn {
            Some(conn) => conn.abort(self.inner.config.abort_timeout).await,
            None => true,
        }
    }

    /// Checks that the runtime answers (it does even during a call),
    /// within [`RuntimeConfig::abort_timeout`]. Does not restart it.
    pub async fn ping(&self) -> Result<(), HostError> {
        let Some(conn) = self.current_conn() else {
            return Err(HostError::Killed);
        };
        match conn
            .call(
                Request::Ping,
                self.inner.config.abort_timeout,
                self.inner.config.abort_timeout,
            )
            .await?
        {
            Response::Empty => Ok(()),
            other => Err(self.unexpected(&conn, "ping", &other)),
        }
    }

    /// The process id of the running runtime, if one is running.
    pub fn pid(&self) -> Option<u32> {
        self.current_conn().and_then(|c| c.pid)
    }

    /// What the running runtime said in its handshake.
    pub fn info(&self) -> Option<InfoResponse> {
        self.inner
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(_, info)| info.clone())
    }

    /// How many times the runtime was restarted since [`spawn`](Self::spawn).
    pub async fn restarts(&self) -> u64 {
        self.inner.supervisor.lock().await.restarts
    }

    /// Restarts the runtime now if it is not running (instead of at the next
    /// call), honouring the restart backoff.
    pub async fn ensure_started(&self) -> Result<(), HostError> {
        let mut sup = self.inner.supervisor.lock().await;
        self.ensure_running(&mut sup).await.map(drop)
    }

    /// Asks the runtime to exit, waits for it (up to
    /// [`RuntimeConfig::abort_timeout`]) and kills it if it does not. Later
    /// calls start it again.
    pub async fn shutdown(&self) {
        let mut sup = self.inner.supervisor.lock().await;
        let Some(conn) = sup.conn.take() else {
            return;
        };
        *self
            .inner
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        let t = self.inner.config.abort_timeout;
        let _ = conn.call(Request::Shutdown, t, t).await;
        conn.kill_for(Closed::Killed);
        let _ = conn.exit_status().await;
    }

    fn current_conn(&self) -> Option<Arc<Connection>> {
        self.inner
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(c, _)| Arc::clone(c))
    }

    /// Makes sure a live, handshaken runtime is running, starting one if
    /// needed (waiting out the backoff first).
    async fn ensure_running(&self, sup: &mut Supervisor) -> Result<Arc<Connection>, HostError> {
        if let Some(conn) = &sup.conn {
            if conn.is_alive() {
                return Ok(Arc::clone(conn));
            }
            tracing::info!(pid = ?conn.pid, "runtime is gone; restarting it");
        }
        sup.conn = None;
        *self
            .inner
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        let config = &self.inner.config;
        if let Some(at) = sup.next_start {
            tokio::time::sleep_until(at).await;
        }
        let started = async {
            let conn = Connection::spawn(config, Arc::clone(&self.inner.provider)).await?;
            let info = conn.handshake(config).await?;
            Ok::<_, HostError>((Arc::new(conn), info))
        }
        .await;
        match started {
            Ok((conn, info)) => {
                sup.failures = 0;
                sup.next_start = Some(Instant::now() + config.restart_backoff_min);
                sup.restarts += 1;
                if sup.started {
                    config.metrics.restarted();
                }
                sup.started = true;
                sup.conn = Some(Arc::clone(&conn));
                tracing::info!(pid = ?conn.pid, runtime_version = %info.runtime_version, "runtime started");
                *self
                    .inner
                    .current
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some((Arc::clone(&conn), info));
                if config.base_nice != 0 {
                    self.set_nice(config.base_nice);
                }
                Ok(conn)
            }
            Err(e) => {
                sup.failures = sup.failures.saturating_add(1);
                config.metrics.start_failed();
                sup.next_start = Some(Instant::now() + config.backoff(sup.failures));
                tracing::warn!(error = %e, failures = sup.failures, "runtime failed to start");
                Err(e)
            }
        }
    }

    /// One call: serialized, on a running runtime. A runtime error answer
    /// becomes [`HostError::Runtime`] (or [`HostError::Aborted`]).
    async fn call(
        &self,
        req: Request,
        limit: Duration,
    ) -> Result<(Response, Arc<Connection>), HostError> {
        let mut sup = self.inner.supervisor.lock().await;
        let conn = self.ensure_running(&mut sup).await?;
        let resp = conn
            .call(req, limit, self.inner.config.abort_timeout)
            .await?;
        drop(sup);
        match resp {
            Response::Error(e) if e.is_aborted() => Err(HostError::Aborted),
            Response::Error(e) => Err(HostError::Runtime(e)),
            resp => Ok((resp, conn)),
        }
    }

    /// A response of the wrong kind: the runtime is not trusted to be in a
    /// sane state any more, so it is killed (and restarted next call).
    fn unexpected(&self, conn: &Connection, request: &'static str, got: &Response) -> HostError {
        tracing::warn!(
            request,
            response = got.name(),
            "unexpected response; killing the runtime"
        );
        conn.kill_for(Closed::Killed);
        HostError::UnexpectedResponse {
            request,
            response: got.name(),
        }
    }
}

/// Sets the nice value of every thread of process `pid` (Linux: nice is
/// per thread, so each one in `/proc/<pid>/task` is set).
#[cfg(target_os = "linux")]
fn renice_threads(pid: u32, nice: i32) -> std::io::Result<()> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let tid = task?
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw);
        if let Some(tid) = tid {
            // A thread that ended meanwhile is no error.
            match rustix::process::setpriority_process(Some(tid), nice) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn renice_threads(_pid: u32, _nice: i32) -> std::io::Result<()> {
    Ok(())
}
