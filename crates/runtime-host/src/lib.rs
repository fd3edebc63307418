//! The runtime host protocol of atoll, and both of its ends.
//!
//! Every ParaTime (runtime) runs in its own OS process. The node (the
//! *host*) talks to it over a Unix socket with this protocol; the ParaTime
//! binary (the *runtime*) answers from a serve loop. This crate is the
//! protocol ([`protocol`]), the host's side ([`host`]: spawn, call,
//! supervise) and the runtime's side ([`runtime`]: the serve loop and the
//! runtime's view of its state). It knows nothing of any particular
//! ParaTime: transactions, results, events, messages and query arguments
//! are opaque bytes or CBOR values. What the SDK runtimes put in them (check
//! and transaction outcomes, events, their context) is defined once, in
//! [`abi`], for both ends.
//!
//! # The protocol
//!
//! - **Frames**: `[u32 big-endian length][canonical CBOR message]`, the
//!   length at most 16 MiB ([`protocol::MAX_FRAME_LEN`]). A larger length is
//!   refused as soon as the header is read, before anything is allocated.
//! - **Messages**: `Message { id, body }`, where `body` is a request or a
//!   response; a response repeats its request's id. Each side numbers its
//!   own requests. Any request can be answered with
//!   `Response::Error(RuntimeError { module, code, message })`.
//! - **Host → runtime**: `Info` (the handshake: protocol version, runtime id
//!   and version), `ExecuteBatch` (context, transactions, message results →
//!   per-transaction results, the write log, messages, events),
//!   `CheckBatch` (→ per-transaction check results), `Query` (method and
//!   arguments → result), `Abort`, `Ping`, `Shutdown`.
//! - **Runtime → host**, only while serving a call: `StorageGet`,
//!   `StorageGetMany`, `StorageIterate` (reads of the runtime's state at the
//!   call's state root) and `ConsensusGet` (reads of the consensus state at
//!   a height). The runtime never writes to the host: its writes are
//!   buffered and returned as the batch's write log, which the host applies
//!   (and commits, or not) itself.
//! - **Versioning**: the host sends its protocol version in `Info` and the
//!   runtime answers with its own. Peers talk only when the major versions
//!   are equal; otherwise the side that notices refuses with a typed error
//!   ([`host::HostError::VersionMismatch`],
//!   [`host::HostError::RuntimeRefusedVersion`]).
//! - **Abort**: the runtime answers an aborted call with the error
//!   `rhp/1` ([`protocol::codes::ABORTED`]) and drops its writes, then
//!   answers the `Abort` itself with `Empty`, meaning it is idle again.
//!   `Ping` is answered at once, even during a call.
//!
//! # Supervision (the host side)
//!
//! - The runtime is spawned with a clean environment, and with its end of a
//!   socket pair as its standard input. It is killed when its
//!   [`host::RuntimeHost`] is dropped, and (on Linux) when the host process
//!   dies: the runtime's serve loop arms `PR_SET_PDEATHSIG` itself (the
//!   host forks from one dedicated thread that never exits, because Linux
//!   sends that signal when the forking *thread* exits), and the serve loop
//!   also ends when the socket closes.
//! - Calls are serialized: one call at a time per runtime, queries included.
//! - A call that runs past its time limit fails with
//!   [`host::HostError::Timeout`]; the runtime is sent an `Abort` and is
//!   killed if it does not answer within the abort timeout.
//! - A runtime that dies during a call (a crash, `SIGKILL`) fails the call
//!   with [`host::HostError::Exited`]; one that sends a bad frame or the
//!   wrong kind of response is killed and the call fails with
//!   [`host::HostError::Protocol`] or
//!   [`host::HostError::UnexpectedResponse`].
//! - A runtime that is not running is started again at the next call (or
//!   by [`host::RuntimeHost::ensure_started`]). Starts are at least
//!   `restart_backoff_min` apart; after each failed start the delay doubles,
//!   up to `restart_backoff_max`. A failed start fails the call that
//!   triggered it.
//! - Calls (by kind, with their durations and failures), restarts and
//!   failed starts are counted in the configuration's
//!   [`metrics::ProcessMetrics`], which a node registers for `GET /metrics`.
//!
//! # The runtime side
//!
//! A ParaTime binary implements [`runtime::RuntimeHandler`] and calls
//! [`runtime::serve`] from `main`. Each call gets a
//! [`runtime::HostStorage`]: reads go to the host over the socket and are
//! cached for the rest of the call; writes are buffered and become the write
//! log of `ExecuteBatch` (they are dropped for checks, queries and aborted
//! calls).

pub mod abi;
#[cfg(feature = "host")]
pub mod host;
#[cfg(feature = "host")]
pub mod metrics;
pub mod protocol;
pub mod runtime;
