//! One connection to one runtime process: spawn, frames both ways, kill.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, oneshot, watch};

use super::provider::{StorageProvider, serve_request};
use super::{HostError, RuntimeConfig};
use crate::protocol::{
    Body, Direction, FrameError, InfoRequest, MAX_FRAME_LEN, Message, PROTOCOL_VERSION, Request,
    Response, RuntimeError, codes, encode_frame, read_frame_async,
};
use crate::runtime::{ENV_PARENT_PID, ENV_TRANSPORT};

/// How long to wait for a process to report its exit status once its
/// connection is gone.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Why a connection is no longer usable.
#[derive(Clone, Debug)]
pub(crate) enum Closed {
    /// The runtime closed the socket (it exited, most likely).
    Eof,
    /// The runtime sent something that is not a frame.
    Frame(FrameError),
    /// The stream broke (an I/O error such as a reset, or an end of stream
    /// inside a frame): most likely the runtime died mid-write.
    Lost(FrameError),
    /// Writing to the runtime failed.
    WriteFailed(String),
    /// The host killed the runtime because an abort went unanswered.
    Aborted,
    /// The host killed the runtime (protocol violation, shutdown).
    Killed,
}

type Reply = Result<Response, Closed>;

/// Why a request could not be sent.
enum SendError {
    Closed(Closed),
    TooLarge(FrameError),
}

#[derive(Default)]
struct Pending {
    waiting: HashMap<u64, oneshot::Sender<Reply>>,
    closed: Option<Closed>,
}

/// The part of a connection the reader task shares.
pub(crate) struct ConnShared {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Mutex<Pending>,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ConnShared {
    /// Closes the connection for `reason` (the first reason wins) and fails
    /// every waiting request with it.
    fn close(&self, reason: Closed) {
        let mut p = lock(&self.pending);
        if p.closed.is_none() {
            p.closed = Some(reason.clone());
        }
        let reason = p.closed.clone().unwrap_or(reason);
        for (_, tx) in p.waiting.drain() {
            let _ = tx.send(Err(reason.clone()));
        }
    }

    fn closed(&self) -> Option<Closed> {
        lock(&self.pending).closed.clone()
    }

    /// Sends a request and returns its id and the receiver of its answer.
    async fn send(&self, req: Request) -> Result<(u64, oneshot::Receiver<Reply>), SendError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode_frame(
            &Message {
                id,
                body: Body::Request(req),
            },
            MAX_FRAME_LEN,
        )
        .map_err(SendError::TooLarge)?;
        let (tx, rx) = oneshot::channel();
        {
            let mut p = lock(&self.pending);
            if let Some(c) = &p.closed {
                return Err(SendError::Closed(c.clone()));
            }
            p.waiting.insert(id, tx);
        }
        if let Err(e) = self.write(&frame).await {
            self.close(Closed::WriteFailed(e.to_string()));
        }
        Ok((id, rx))
    }

    async fn write(&self, frame: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt as _;
        let mut w = self.writer.lock().await;
        w.write_all(frame).await?;
        w.flush().await
    }

    async fn respond(&self, id: u64, resp: Response) {
        let body = Body::Response(resp);
        let frame = match encode_frame(&Message { id, body }, MAX_FRAME_LEN) {
            Ok(f) => f,
            Err(e) => {
                let body = Body::Response(Response::Error(RuntimeError::protocol(
                    codes::INTERNAL,
                    format!("the host's answer could not be sent: {e}"),
                )));
                match encode_frame(&Message { id, body }, MAX_FRAME_LEN) {
                    Ok(f) => f,
                    Err(_) => return,
                }
            }
        };
        if let Err(e) = self.write(&frame).await {
            self.close(Closed::WriteFailed(e.to_string()));
        }
    }

    /// Stops waiting for the answer to `id` (a late answer is dropped).
    fn forget(&self, id: u64) {
        lock(&self.pending).waiting.remove(&id);
    }
}

/// What a call past its time limit does to the runtime.
#[derive(Clone, Copy)]
enum OnTimeout {
    /// Sends an `Abort` (answered within this, or the runtime is killed).
    Abort(Duration),
    /// Kills it.
    Kill,
}

/// A running runtime process and its socket.
pub(crate) struct Connection {
    pub(crate) shared: Arc<ConnShared>,
    pub(crate) pid: Option<u32>,
    kill: Arc<Notify>,
    exit: watch::Receiver<Option<Option<ExitStatus>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.kill_for(Closed::Killed);
        self.reader.abort();
    }
}

impl Connection {
    /// Spawns the runtime process with its end of a socket pair as its
    /// standard input, and starts reading from it. No handshake yet.
    pub(crate) async fn spawn(
        config: &RuntimeConfig,
        provider: Arc<dyn StorageProvider>,
    ) -> Result<Self, HostError> {
        let spawn_err = |source| HostError::Spawn {
            binary: config.binary.clone(),
            source,
        };
        let (host_end, runtime_end) = std::os::unix::net::UnixStream::pair().map_err(spawn_err)?;
        let mut cmd = tokio::process::Command::new(&config.binary);
        cmd.args(&config.args)
            .env_clear()
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            .env(ENV_TRANSPORT, "stdin")
            .env(ENV_PARENT_PID, std::process::id().to_string())
            .stdin(Stdio::from(OwnedFd::from(runtime_end)))
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        // `spawn_process` drops `cmd` (and with it the runtime's end of the
        // pair) once the process is started, so the host sees EOF when the
        // runtime exits.
        let mut child = spawn_process(cmd).await.map_err(spawn_err)?;
        let pid = child.id();
        host_end.set_nonblocking(true).map_err(spawn_err)?;
        let stream = tokio::net::UnixStream::from_std(host_end).map_err(spawn_err)?;
        let (rd, wr) = stream.into_split();

        let kill = Arc::new(Notify::new());
        let (exit_tx, exit) = watch::channel(None);
        let kill_rx = Arc::clone(&kill);
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s.ok(),
                () = kill_rx.notified() => {
                    let _ = child.start_kill();
                    child.wait().await.ok()
                }
            };
            let _ = exit_tx.send(Some(status));
        });

        let shared = Arc::new(ConnShared {
            writer: tokio::sync::Mutex::new(wr),
            pending: Mutex::new(Pending::default()),
            next_id: AtomicU64::new(0),
        });
        let reader = tokio::spawn(reader_task(rd, Arc::clone(&shared), provider));
        Ok(Self {
            shared,
            pid,
            kill,
            exit,
            reader,
        })
    }

    /// Whether the connection can still carry calls.
    pub(crate) fn is_alive(&self) -> bool {
        self.shared.closed().is_none() && self.exit.borrow().is_none()
    }

    /// Closes the connection for `reason` and kills the process.
    pub(crate) fn kill_for(&self, reason: Closed) {
        self.shared.close(reason);
        self.kill.notify_one();
    }

    /// The process's exit status, waiting up to [`EXIT_GRACE`] for it.
    pub(crate) async fn exit_status(&self) -> Option<ExitStatus> {
        let mut exit = self.exit.clone();
        match tokio::time::timeout(EXIT_GRACE, exit.wait_for(Option::is_some)).await {
            Ok(Ok(status)) => status.flatten(),
            _ => None,
        }
    }

    /// Sends `req` and waits up to `limit` for the answer.
    ///
    /// On timeout the call is abandoned, the runtime is sent an `Abort`,
    /// and it is killed if it does not answer that within `abort_timeout`.
    pub(crate) async fn call(
        &self,
        req: Request,
        limit: Duration,
        abort_timeout: Duration,
    ) -> Result<Response, HostError> {
        self.call_within(req, limit, OnTimeout::Abort(abort_timeout))
            .await
    }

    /// Sends `req`, which the runtime serves beside its call in progress,
    /// and waits up to `limit` for the answer. On timeout the runtime is
    /// killed (an `Abort` would concern the other call, not this one); the
    /// next call starts it again.
    pub(crate) async fn call_beside(
        &self,
        req: Request,
        limit: Duration,
    ) -> Result<Response, HostError> {
        self.call_within(req, limit, OnTimeout::Kill).await
    }

    async fn call_within(
        &self,
        req: Request,
        limit: Duration,
        on_timeout: OnTimeout,
    ) -> Result<Response, HostError> {
        let (id, rx) = match self.shared.send(req).await {
            Ok(sent) => sent,
            Err(SendError::Closed(c)) => return Err(self.closed_error(c).await),
            Err(SendError::TooLarge(e)) => return Err(HostError::RequestTooLarge(e)),
        };
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(Ok(resp))) => Ok(resp),
            Ok(Ok(Err(closed))) => Err(self.closed_error(closed).await),
            Ok(Err(_)) => Err(self.closed_error(Closed::Eof).await),
            Err(_) => {
                self.shared.forget(id);
                match on_timeout {
                    OnTimeout::Abort(abort_timeout) => {
                        tracing::warn!(pid = ?self.pid, ?limit, "runtime call timed out; aborting it");
                        self.abort(abort_timeout).await;
                    }
                    OnTimeout::Kill => {
                        tracing::warn!(pid = ?self.pid, ?limit, "runtime check timed out; killing the runtime");
                        self.kill_for(Closed::Killed);
                    }
                }
                Err(HostError::Timeout { limit })
            }
        }
    }

    /// Asks the runtime to abort its call in progress; kills it if it does
    /// not answer within `abort_timeout`. Returns whether it answered.
    pub(crate) async fn abort(&self, abort_timeout: Duration) -> bool {
        if let Ok((id, rx)) = self.shared.send(Request::Abort).await {
            match tokio::time::timeout(abort_timeout, rx).await {
                Ok(Ok(Ok(Response::Empty))) => return true,
                Ok(Ok(Ok(other))) => {
                    tracing::warn!(response = other.name(), "unexpected answer to abort");
                }
                Ok(_) => {}
                Err(_) => self.shared.forget(id),
            }
        }
        tracing::warn!(pid = ?self.pid, "runtime did not answer the abort; killing it");
        self.kill_for(Closed::Aborted);
        false
    }

    /// The error a call gets when the connection closed under it.
    pub(crate) async fn closed_error(&self, closed: Closed) -> HostError {
        match closed.clone() {
            Closed::Eof | Closed::WriteFailed(_) => {
                if let Closed::WriteFailed(e) = &closed {
                    tracing::debug!(error = %e, "writing to the runtime failed");
                }
                let status = self.exit_status().await;
                self.kill_for(Closed::Killed);
                HostError::Exited { status }
            }
            Closed::Frame(e) => {
                self.kill_for(Closed::Killed);
                HostError::Protocol(e)
            }
            Closed::Lost(e) => {
                // A runtime that died is a crash; one that is still alive
                // broke the stream, which is a protocol violation.
                match self.exit_status().await {
                    Some(status) => HostError::Exited {
                        status: Some(status),
                    },
                    None => {
                        self.kill_for(Closed::Killed);
                        HostError::Protocol(e)
                    }
                }
            }
            Closed::Aborted => HostError::Aborted,
            Closed::Killed => HostError::Killed,
        }
    }

    /// The `Info` handshake: the runtime must speak a compatible protocol
    /// and be the configured runtime.
    pub(crate) async fn handshake(
        &self,
        config: &RuntimeConfig,
    ) -> Result<crate::protocol::InfoResponse, HostError> {
        let req = Request::Info(InfoRequest {
            protocol_version: PROTOCOL_VERSION,
        });
        let info = match self
            .call(req, config.handshake_timeout, config.abort_timeout)
            .await?
        {
            Response::Info(info) => info,
            Response::Error(e)
                if e.module == codes::MODULE && e.code == codes::VERSION_MISMATCH =>
            {
                return Err(HostError::RuntimeRefusedVersion(e));
            }
            Response::Error(e) => return Err(HostError::Runtime(e)),
            other => {
                return Err(HostError::UnexpectedResponse {
                    request: "info",
                    response: other.name(),
                });
            }
        };
        if !PROTOCOL_VERSION.is_compatible_with(&info.protocol_version) {
            return Err(HostError::VersionMismatch {
                host: PROTOCOL_VERSION,
                runtime: info.protocol_version,
            });
        }
        if info.runtime_id != config.runtime_id {
            return Err(HostError::RuntimeIdMismatch {
                expected: config.runtime_id,
                got: info.runtime_id,
            });
        }
        Ok(info)
    }
}

/// A request to the spawner thread.
struct SpawnJob {
    handle: tokio::runtime::Handle,
    cmd: tokio::process::Command,
    reply: oneshot::Sender<std::io::Result<tokio::process::Child>>,
}

/// Starts a process from one dedicated thread that lives as long as the
/// host process.
///
/// The runtime arms `PR_SET_PDEATHSIG`, and Linux sends that signal when
/// the *thread* that forked it exits, not the process. Forking from
/// whatever thread a task happens to run on (a blocking-pool thread, or a
/// worker handed off by `block_in_place`, both of which exit when idle)
/// would get runtimes killed for no reason; this thread never exits. The
/// child is still registered with the caller's tokio runtime.
async fn spawn_process(cmd: tokio::process::Command) -> std::io::Result<tokio::process::Child> {
    static SPAWNER: OnceLock<Mutex<std::sync::mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<SpawnJob>();
        let started = std::thread::Builder::new()
            .name("atoll-runtime-spawner".into())
            .spawn(move || {
                while let Ok(mut job) = rx.recv() {
                    let _enter = job.handle.enter();
                    let _ = job.reply.send(job.cmd.spawn());
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the runtime spawner thread");
        }
        Mutex::new(tx)
    });
    let (reply, rx) = oneshot::channel();
    let job = SpawnJob {
        handle: tokio::runtime::Handle::current(),
        cmd,
        reply,
    };
    let gone = || std::io::Error::other("the runtime spawner thread is gone");
    lock(spawner).send(job).map_err(|_| gone())?;
    rx.await.map_err(|_| gone())?
}

async fn reader_task(
    mut rd: OwnedReadHalf,
    shared: Arc<ConnShared>,
    provider: Arc<dyn StorageProvider>,
) {
    let reason = loop {
        let msg = match read_frame_async(&mut rd, MAX_FRAME_LEN).await {
            Ok(Some(msg)) => msg,
            Ok(None) => break Closed::Eof,
            Err(e @ (FrameError::Io { .. } | FrameError::Truncated { .. })) => {
                tracing::debug!(error = %e, "connection to the runtime lost");
                break Closed::Lost(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, "runtime sent a bad frame");
                break Closed::Frame(e);
            }
        };
        let id = msg.id;
        match msg.body {
            Body::Response(resp) => {
                let tx = lock(&shared.pending).waiting.remove(&id);
                match tx {
                    Some(tx) => {
                        let _ = tx.send(Ok(resp));
                    }
                    None => tracing::debug!(id, "late or unknown response from the runtime"),
                }
            }
            Body::Request(req) if req.direction() == Direction::RuntimeToHost => {
                // One request at a time: the runtime waits for each answer.
                let provider = Arc::clone(&provider);
                let resp = tokio::task::spawn_blocking(move || serve_request(&*provider, req))
                    .await
                    .unwrap_or_else(|e| {
                        Response::Error(RuntimeError::protocol(
                            codes::INTERNAL,
                            format!("storage provider failed: {e}"),
                        ))
                    });
                shared.respond(id, resp).await;
            }
            Body::Request(req) => {
                shared
                    .respond(
                        id,
                        Response::Error(RuntimeError::protocol(
                            codes::BAD_REQUEST,
                            format!("{} is a request for the runtime", req.name()),
                        )),
                    )
                    .await;
            }
        }
    };
    shared.close(reason);
}
