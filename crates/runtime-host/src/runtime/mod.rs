//! The runtime side: the serve loop a ParaTime binary runs from `main`.
//!
//! ```no_run
//! # use atoll_runtime_host::runtime::*;
//! # use atoll_runtime_host::protocol::*;
//! # use atoll_types::cbor::Value;
//! struct MyRuntime;
//! impl RuntimeHandler for MyRuntime {
//!     fn info(&self) -> RuntimeInfo {
//!         RuntimeInfo::new(Default::default(), Version::new(0, 1, 0))
//!     }
//!     fn execute_batch(
//!         &mut self,
//!         storage: &mut dyn HostStorage,
//!         req: ExecuteBatchRequest,
//!     ) -> Result<BatchOutput, RuntimeError> {
//!         for tx in &req.txs {
//!             storage.insert(tx, b"seen");
//!         }
//!         Ok(BatchOutput::default())
//!     }
//!     fn check_batch(
//!         &mut self,
//!         _: &mut dyn HostStorage,
//!         req: CheckBatchRequest,
//!     ) -> Result<Vec<Value>, RuntimeError> {
//!         Ok(req.txs.iter().map(|_| Value::Bool(true)).collect())
//!     }
//!     fn query(&mut self, _: &mut dyn HostStorage, _: QueryRequest) -> Result<Value, RuntimeError> {
//!         Ok(Value::Null)
//!     }
//! }
//!
//! fn main() -> Result<(), ServeError> {
//!     serve(MyRuntime)
//! }
//! ```
//!
//! Threads: the handler runs on the thread that called [`serve`]; a reader
//! thread reads every frame from the host, so that `Ping` is answered and
//! `Abort` is noticed even while the handler is busy. A handler that offers
//! a [`Checker`] gets a third thread, which checks transactions while a
//! batch executes (the host learns it from the handshake's
//! `concurrent_checks`); an abort concerns the handler's call only.

mod storage;

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd as _;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use atoll_types::Namespace;
use atoll_types::cbor::Value;

pub use storage::{HostStorage, KvStore, MemoryStorage, StorageError};

use crate::protocol::{
    Body, CheckBatchRequest, CheckedBatch, Direction, ExecuteBatchRequest, ExecutedBatch,
    FrameError, InfoResponse, MAX_FRAME_LEN, Message, PROTOCOL_VERSION, QueryRequest,
    QueryResponse, Request, Response, RuntimeError, Version, codes, encode_frame, read_frame,
};
use storage::{Backend, CallStorage};

/// The environment variable that tells a runtime how to reach its host:
/// `stdin` (the host's end of a socket pair is the runtime's standard
/// input), or `unix:<path>` (a Unix socket to connect to).
pub const ENV_TRANSPORT: &str = "ATOLL_RHP_TRANSPORT";

/// The environment variable holding the host's process id. When it is set,
/// [`serve`] asks the kernel to kill the runtime when its parent dies
/// (`PR_SET_PDEATHSIG` on Linux) and exits at once if the parent is already
/// gone.
pub const ENV_PARENT_PID: &str = "ATOLL_RHP_PARENT_PID";

/// What a runtime says about itself in the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// The runtime's identifier (the host refuses a runtime whose id is not
    /// the one it was configured with).
    pub runtime_id: Namespace,
    /// The runtime's own version.
    pub runtime_version: Version,
    /// Runtime-specific capabilities, opaque to the host.
    pub features: Value,
}

impl RuntimeInfo {
    /// Info with no features.
    pub const fn new(runtime_id: Namespace, runtime_version: Version) -> Self {
        Self {
            runtime_id,
            runtime_version,
            features: Value::Null,
        }
    }
}

/// What executing a batch produced, besides the write log (which the serve
/// loop takes from the [`HostStorage`] the handler wrote to).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutput {
    /// One result per transaction, in batch order.
    pub results: Vec<Value>,
    /// Messages to the consensus layer.
    pub messages: Vec<Value>,
    /// Events.
    pub events: Vec<Value>,
}

/// A ParaTime, as the serve loop sees it.
///
/// Every call gets a fresh [`HostStorage`] on the call's state root. Only
/// [`execute_batch`](Self::execute_batch) keeps its writes (they become the
/// batch's write log); the writes of checks and queries are dropped. When
/// the host aborts a call, storage reads fail with
/// [`StorageError::Aborted`] and whatever the handler returns is replaced
/// by an [`codes::ABORTED`] error, its writes dropped.
///
/// A handler that panics takes the runtime process down; the host restarts
/// it.
pub trait RuntimeHandler {
    /// The runtime's identity, for the handshake.
    fn info(&self) -> RuntimeInfo;

    /// Executes a batch of transactions.
    fn execute_batch(
        &mut self,
        storage: &mut dyn HostStorage,
        req: ExecuteBatchRequest,
    ) -> Result<BatchOutput, RuntimeError>;

    /// Checks transactions for admission to the pool: one opaque result per
    /// transaction.
    fn check_batch(
        &mut self,
        storage: &mut dyn HostStorage,
        req: CheckBatchRequest,
    ) -> Result<Vec<Value>, RuntimeError>;

    /// Answers a read-only query.
    fn query(
        &mut self,
        storage: &mut dyn HostStorage,
        req: QueryRequest,
    ) -> Result<Value, RuntimeError>;

    /// A checker that may run beside the handler's calls: when there is
    /// one, every `CheckBatch` goes to it, on a thread of its own, and
    /// [`check_batch`](Self::check_batch) is not called. None by default.
    fn checker(&self) -> Option<Arc<dyn Checker>> {
        None
    }
}

/// Checks transactions beside the handler's calls (see
/// [`RuntimeHandler::checker`]). Its storage reads are its own: an abort of
/// the handler's call does not touch them.
pub trait Checker: Send + Sync {
    /// As [`RuntimeHandler::check_batch`].
    fn check_batch(
        &self,
        storage: &mut dyn HostStorage,
        req: CheckBatchRequest,
    ) -> Result<Vec<Value>, RuntimeError>;
}

/// Why the serve loop stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// [`ENV_TRANSPORT`] is missing or malformed: the process was not
    /// started by a runtime host.
    #[error("no runtime host transport: {0}")]
    NoTransport(String),
    /// The host process is already gone.
    #[error("the parent process (the host) is gone")]
    ParentGone,
    /// Setting up the connection failed.
    #[error("transport i/o error: {0}")]
    Io(#[from] io::Error),
    /// The host sent something that is not a frame of this protocol; the
    /// connection is unusable.
    #[error("protocol error from the host: {0}")]
    Frame(#[from] FrameError),
}

/// Serves the host named by the environment ([`ENV_TRANSPORT`],
/// [`ENV_PARENT_PID`]) until it disconnects or asks for a shutdown.
///
/// This is what a ParaTime binary calls from `main`.
pub fn serve<H: RuntimeHandler>(handler: H) -> Result<(), ServeError> {
    die_with_parent()?;
    let transport = std::env::var(ENV_TRANSPORT)
        .map_err(|_| ServeError::NoTransport(format!("{ENV_TRANSPORT} is not set")))?;
    let stream = if transport == "stdin" {
        UnixStream::from(io::stdin().as_fd().try_clone_to_owned()?)
    } else if let Some(path) = transport.strip_prefix("unix:") {
        UnixStream::connect(path)?
    } else {
        return Err(ServeError::NoTransport(format!(
            "{ENV_TRANSPORT}={transport:?} is neither \"stdin\" nor \"unix:<path>\""
        )));
    };
    serve_stream(stream, handler)
}

#[cfg(target_os = "linux")]
fn die_with_parent() -> Result<(), ServeError> {
    let Ok(parent) = std::env::var(ENV_PARENT_PID) else {
        return Ok(());
    };
    let Ok(parent) = parent.parse::<i32>() else {
        return Err(ServeError::NoTransport(format!(
            "{ENV_PARENT_PID}={parent:?} is not a process id"
        )));
    };
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| ServeError::Io(io::Error::from(e)))?;
    // The parent may have died before the signal was armed.
    if nix::unistd::getppid().as_raw() != parent {
        return Err(ServeError::ParentGone);
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent() -> Result<(), ServeError> {
    Ok(())
}

/// Serves the host over an already connected stream until it disconnects
/// (`Ok`), asks for a shutdown (`Ok`), or sends something that is not a
/// frame (`Err`).
pub fn serve_stream<H: RuntimeHandler>(stream: UnixStream, handler: H) -> Result<(), ServeError> {
    let writer = stream.try_clone()?;
    let shared = Arc::new(Shared {
        writer: Mutex::new(writer),
        pending: Mutex::new(HashMap::new()),
        side_pending: Mutex::new(HashMap::new()),
        call: Mutex::new(CallState::default()),
        aborted: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        next_id: AtomicU64::new(0),
    });
    let (jobs_tx, jobs_rx) = mpsc::channel();
    let checks = match handler.checker() {
        Some(checker) => {
            let (tx, rx) = mpsc::channel();
            let checker_shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("rhp-checker".into())
                .spawn(move || check_loop(&*checker, &checker_shared, &rx))?;
            Some(tx)
        }
        None => None,
    };
    let concurrent_checks = checks.is_some();
    let reader_shared = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("rhp-reader".into())
        .spawn(move || reader_loop(stream, &reader_shared, &jobs_tx, checks.as_ref()))?;
    let mut server = Server {
        handler,
        shared,
        concurrent_checks,
    };
    let result = server.run(&jobs_rx);
    // Unblock the reader thread if it is still reading.
    let _ = lock(&server.shared.writer).shutdown(std::net::Shutdown::Both);
    result
}

/// What the reader thread hands to the handler thread.
enum Job {
    /// A call for the handler.
    Call { id: u64, req: Request },
    /// The host asked for a shutdown.
    Shutdown { id: u64 },
    /// The connection ended (cleanly, or with a bad frame).
    Closed(Result<(), FrameError>),
}

/// What both threads share.
struct Shared {
    writer: Mutex<UnixStream>,
    /// Runtime → host requests waiting for their answer.
    pending: Mutex<HashMap<u64, mpsc::SyncSender<Response>>>,
    /// The same, for the checker thread's reads (not cleared by an abort).
    side_pending: Mutex<HashMap<u64, mpsc::SyncSender<Response>>>,
    call: Mutex<CallState>,
    /// The call in progress was aborted (or the connection closed).
    aborted: AtomicBool,
    closed: AtomicBool,
    next_id: AtomicU64,
}

#[derive(Default)]
struct CallState {
    /// The id of the host's request being served, if any.
    in_call: Option<u64>,
    /// The id of an `Abort` to answer when the call ends.
    abort_reply: Option<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Sends a message; a response too large for a frame is replaced by an
    /// error response. Failures to write are left to the reader to notice.
    fn send(&self, id: u64, body: Body) {
        let frame = match encode_frame(&Message { id, body }, MAX_FRAME_LEN) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!(id, error = %e, "cannot encode a message for the host");
                let body = Body::Response(Response::Error(RuntimeError::protocol(
                    codes::INTERNAL,
                    format!("the runtime's answer could not be sent: {e}"),
                )));
                match encode_frame(&Message { id, body }, MAX_FRAME_LEN) {
                    Ok(frame) => frame,
                    Err(_) => return,
                }
            }
        };
        let mut w = lock(&self.writer);
        if let Err(e) = io::Write::write_all(&mut *w, &frame) {
            tracing::debug!(error = %e, "writing to the host failed");
        }
    }

    fn respond(&self, id: u64, resp: Response) {
        self.send(id, Body::Response(resp));
    }

    /// Marks the call aborted and wakes every waiting storage read.
    fn abort_waiters(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        lock(&self.pending).clear();
    }
}

/// The storage backend of a call: requests over the socket.
impl Backend for &Shared {
    fn request(&self, req: Request) -> Result<Response, StorageError> {
        let gone = || {
            if self.closed.load(Ordering::SeqCst) {
                StorageError::Disconnected
            } else {
                StorageError::Aborted
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        lock(&self.pending).insert(id, tx);
        // Checked after registering: an abort either sees the entry (and
        // drops it) or happened before, and then the flag is set.
        if self.aborted.load(Ordering::SeqCst) {
            lock(&self.pending).remove(&id);
            return Err(gone());
        }
        self.send(id, Body::Request(req));
        match rx.recv() {
            Ok(Response::Error(e)) => Err(StorageError::Host(e)),
            Ok(resp) => Ok(resp),
            Err(_) => Err(gone()),
        }
    }

    fn aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }
}

/// The storage backend of the checker thread's calls: requests over the
/// socket, answered through [`Shared::side_pending`]; never aborted, only
/// cut off when the connection closes.
struct Side<'a>(&'a Shared);

impl Backend for Side<'_> {
    fn request(&self, req: Request) -> Result<Response, StorageError> {
        let shared = self.0;
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        lock(&shared.side_pending).insert(id, tx);
        // Checked after registering, as for the handler's reads.
        if shared.closed.load(Ordering::SeqCst) {
            lock(&shared.side_pending).remove(&id);
            return Err(StorageError::Disconnected);
        }
        shared.send(id, Body::Request(req));
        match rx.recv() {
            Ok(Response::Error(e)) => Err(StorageError::Host(e)),
            Ok(resp) => Ok(resp),
            Err(_) => Err(StorageError::Disconnected),
        }
    }

    fn aborted(&self) -> bool {
        false
    }
}

/// The checker thread: one `CheckBatch` at a time, in arrival order.
fn check_loop(
    checker: &dyn Checker,
    shared: &Shared,
    checks: &mpsc::Receiver<(u64, CheckBatchRequest)>,
) {
    while let Ok((id, req)) = checks.recv() {
        let mut storage = CallStorage::new(Side(shared), req.ctx.state_root);
        let resp = checker
            .check_batch(&mut storage, req)
            .map_or_else(Response::Error, |results| {
                Response::CheckedBatch(CheckedBatch { results })
            });
        shared.respond(id, resp);
    }
}

fn reader_loop(
    mut stream: UnixStream,
    shared: &Shared,
    jobs: &mpsc::Sender<Job>,
    checks: Option<&mpsc::Sender<(u64, CheckBatchRequest)>>,
) {
    let end = loop {
        let msg = match read_frame(&mut stream, MAX_FRAME_LEN) {
            Ok(Some(msg)) => msg,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let id = msg.id;
        match msg.body {
            Body::Response(resp) => {
                let waiter = lock(&shared.pending)
                    .remove(&id)
                    .or_else(|| lock(&shared.side_pending).remove(&id));
                if let Some(tx) = waiter {
                    let _ = tx.send(resp);
                } else {
                    tracing::debug!(id, "response to no pending request");
                }
            }
            Body::Request(Request::Ping) => shared.respond(id, Response::Empty),
            Body::Request(Request::Abort) => {
                let mut call = lock(&shared.call);
                if call.in_call.is_some() {
                    call.abort_reply = Some(id);
                    shared.abort_waiters();
                } else {
                    shared.respond(id, Response::Empty);
                }
            }
            Body::Request(Request::Shutdown) => {
                if jobs.send(Job::Shutdown { id }).is_err() {
                    return;
                }
            }
            Body::Request(req) if req.direction() == Direction::RuntimeToHost => {
                shared.respond(
                    id,
                    Response::Error(RuntimeError::protocol(
                        codes::BAD_REQUEST,
                        format!("{} is a request for the host", req.name()),
                    )),
                );
            }
            Body::Request(Request::CheckBatch(req)) if checks.is_some() => {
                if checks.is_some_and(|c| c.send((id, req)).is_err()) {
                    return;
                }
            }
            Body::Request(req) => {
                if jobs.send(Job::Call { id, req }).is_err() {
                    return;
                }
            }
        }
    };
    shared.closed.store(true, Ordering::SeqCst);
    shared.abort_waiters();
    lock(&shared.side_pending).clear();
    let _ = jobs.send(Job::Closed(end));
}

struct Server<H> {
    handler: H,
    shared: Arc<Shared>,
    /// Whether a checker thread takes the `CheckBatch` calls.
    concurrent_checks: bool,
}

impl<H: RuntimeHandler> Server<H> {
    fn run(&mut self, jobs: &mpsc::Receiver<Job>) -> Result<(), ServeError> {
        while let Ok(job) = jobs.recv() {
            match job {
                Job::Call { id, req } => self.call(id, req),
                Job::Shutdown { id } => {
                    self.shared.respond(id, Response::Empty);
                    return Ok(());
                }
                Job::Closed(end) => return end.map_err(ServeError::Frame),
            }
        }
        Ok(())
    }

    fn call(&mut self, id: u64, req: Request) {
        {
            let mut call = lock(&self.shared.call);
            call.in_call = Some(id);
            self.shared.aborted.store(false, Ordering::SeqCst);
        }
        let resp = self.dispatch(req);
        let resp = if self.shared.aborted.load(Ordering::SeqCst) {
            Response::Error(RuntimeError::protocol(
                codes::ABORTED,
                "aborted by the host",
            ))
        } else {
            resp
        };
        self.shared.respond(id, resp);
        let mut call = lock(&self.shared.call);
        call.in_call = None;
        if let Some(abort_id) = call.abort_reply.take() {
            self.shared.respond(abort_id, Response::Empty);
        }
    }

    fn dispatch(&mut self, req: Request) -> Response {
        let backend: &Shared = &self.shared;
        let result = match req {
            Request::Info(r) => {
                if !PROTOCOL_VERSION.is_compatible_with(&r.protocol_version) {
                    return Response::Error(RuntimeError::protocol(
                        codes::VERSION_MISMATCH,
                        format!(
                            "the host speaks protocol {}, this runtime speaks {PROTOCOL_VERSION}",
                            r.protocol_version
                        ),
                    ));
                }
                let info = self.handler.info();
                Ok(Response::Info(InfoResponse {
                    protocol_version: PROTOCOL_VERSION,
                    runtime_id: info.runtime_id,
                    runtime_version: info.runtime_version,
                    features: info.features,
                    concurrent_checks: self.concurrent_checks,
                }))
            }
            Request::ExecuteBatch(r) => {
                let mut storage = CallStorage::new(backend, r.ctx.state_root);
                self.handler.execute_batch(&mut storage, r).map(|out| {
                    Response::ExecutedBatch(ExecutedBatch {
                        results: out.results,
                        write_log: storage.into_write_log(),
                        messages: out.messages,
                        events: out.events,
                    })
                })
            }
            Request::CheckBatch(r) => {
                let mut storage = CallStorage::new(backend, r.ctx.state_root);
                self.handler
                    .check_batch(&mut storage, r)
                    .map(|results| Response::CheckedBatch(CheckedBatch { results }))
            }
            Request::Query(r) => {
                let mut storage = CallStorage::new(backend, r.ctx.state_root);
                self.handler
                    .query(&mut storage, r)
                    .map(|result| Response::Query(QueryResponse { result }))
            }
            other => Err(RuntimeError::protocol(
                codes::BAD_REQUEST,
                format!("{} is not a call", other.name()),
            )),
        };
        result.unwrap_or_else(Response::Error)
    }
}
