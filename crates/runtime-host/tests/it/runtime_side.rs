//! The runtime's serve loop, driven in-process by a hand-written host over a
//! socket pair.

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use atoll_runtime_host::protocol::{
    Body, CheckBatchRequest, ExecuteBatchRequest, FrameError, InfoRequest, MAX_FRAME_LEN, Message,
    PROTOCOL_VERSION, QueryRequest, Request, Response, RuntimeError, StateRoot, StorageGetRequest,
    StorageGetResponse, Version, codes, read_frame, write_frame,
};
use atoll_runtime_host::runtime::{
    BatchOutput, Checker, HostStorage, KvStore as _, MemoryStorage, RuntimeHandler, RuntimeInfo,
    ServeError, serve_stream,
};
use atoll_types::Namespace;
use atoll_types::cbor::Value;

use crate::ctx;

/// Every blocking wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(30);

/// Writes `key = "written"`, then reads `key` and returns what it read.
struct WriteThenRead;

impl RuntimeHandler for WriteThenRead {
    fn info(&self) -> RuntimeInfo {
        RuntimeInfo::new(Namespace::default(), Version::new(1, 2, 3))
    }

    fn execute_batch(
        &mut self,
        storage: &mut dyn HostStorage,
        req: ExecuteBatchRequest,
    ) -> Result<BatchOutput, RuntimeError> {
        let mut out = BatchOutput::default();
        for key in &req.txs {
            storage.insert(b"written", b"yes");
            let v = storage.get(key)?;
            out.results.push(v.map_or(Value::Null, Value::Bytes));
        }
        Ok(out)
    }

    fn check_batch(
        &mut self,
        _: &mut dyn HostStorage,
        req: CheckBatchRequest,
    ) -> Result<Vec<Value>, RuntimeError> {
        Ok(req.txs.iter().map(|_| Value::Bool(true)).collect())
    }

    fn query(&mut self, _: &mut dyn HostStorage, _: QueryRequest) -> Result<Value, RuntimeError> {
        Ok(Value::Text("pong".into()))
    }
}

/// A fake host: its end of the socket, and the serve loop's outcome.
struct FakeHost {
    sock: UnixStream,
    done: mpsc::Receiver<Result<(), ServeError>>,
}

impl FakeHost {
    fn start() -> Self {
        Self::start_with(WriteThenRead)
    }

    fn start_with<H: RuntimeHandler + Send + 'static>(handler: H) -> Self {
        let (host, runtime) = UnixStream::pair().unwrap();
        host.set_read_timeout(Some(WAIT)).unwrap();
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(serve_stream(runtime, handler));
        });
        Self { sock: host, done }
    }

    fn send(&mut self, id: u64, req: Request) {
        write_frame(
            &mut self.sock,
            &Message {
                id,
                body: Body::Request(req),
            },
            MAX_FRAME_LEN,
        )
        .unwrap();
    }

    fn respond(&mut self, id: u64, resp: Response) {
        write_frame(
            &mut self.sock,
            &Message {
                id,
                body: Body::Response(resp),
            },
            MAX_FRAME_LEN,
        )
        .unwrap();
    }

    fn recv(&mut self) -> Message {
        read_frame(&mut self.sock, MAX_FRAME_LEN).unwrap().unwrap()
    }

    fn finish(self) -> Result<(), ServeError> {
        self.done.recv_timeout(WAIT).unwrap()
    }
}

fn execute(keys: &[&[u8]]) -> Request {
    Request::ExecuteBatch(ExecuteBatchRequest {
        ctx: ctx(),
        txs: keys.iter().map(|k| k.to_vec()).collect(),
        message_results: vec![],
    })
}

#[test]
fn handshake_then_batch_with_host_reads() {
    let mut h = FakeHost::start();
    h.send(
        1,
        Request::Info(InfoRequest {
            protocol_version: PROTOCOL_VERSION,
        }),
    );
    let m = h.recv();
    assert_eq!(m.id, 1);
    let Body::Response(Response::Info(info)) = m.body else {
        panic!("{m:?}")
    };
    assert_eq!(info.runtime_version, Version::new(1, 2, 3));
    assert_eq!(info.protocol_version, PROTOCOL_VERSION);

    h.send(2, execute(&[b"k", b"written"]));
    // The first key is not written locally: the runtime asks the host.
    let m = h.recv();
    let Body::Request(Request::StorageGet(StorageGetRequest { root, key })) = m.body else {
        panic!("{m:?}")
    };
    assert_eq!(root, StateRoot::default());
    assert_eq!(key, b"k");
    h.respond(
        m.id,
        Response::StorageGet(StorageGetResponse {
            value: Some(b"host".to_vec()),
        }),
    );
    // The second key was written by the batch: no host read.
    let m = h.recv();
    assert_eq!(m.id, 2);
    let Body::Response(Response::ExecutedBatch(b)) = m.body else {
        panic!("{m:?}")
    };
    assert_eq!(
        b.results,
        vec![
            Value::Bytes(b"host".to_vec()),
            Value::Bytes(b"yes".to_vec())
        ]
    );
    assert_eq!(b.write_log.len(), 1);
    assert_eq!(b.write_log[0].key, b"written");

    h.send(3, Request::Shutdown);
    assert_eq!(h.recv().body, Body::Response(Response::Empty));
    h.finish().unwrap();
}

/// [`WriteThenRead`] with a checker: each check reads its transaction as
/// a key and answers what it found.
struct WithChecker;

struct ReadingChecker;

impl Checker for ReadingChecker {
    fn check_batch(
        &self,
        storage: &mut dyn HostStorage,
        req: CheckBatchRequest,
    ) -> Result<Vec<Value>, RuntimeError> {
        req.txs
            .iter()
            .map(|k| Ok(storage.get(k)?.map_or(Value::Null, Value::Bytes)))
            .collect()
    }
}

impl RuntimeHandler for WithChecker {
    fn info(&self) -> RuntimeInfo {
        WriteThenRead.info()
    }

    fn execute_batch(
        &mut self,
        storage: &mut dyn HostStorage,
        req: ExecuteBatchRequest,
    ) -> Result<BatchOutput, RuntimeError> {
        WriteThenRead.execute_batch(storage, req)
    }

    fn check_batch(
        &mut self,
        _: &mut dyn HostStorage,
        _: CheckBatchRequest,
    ) -> Result<Vec<Value>, RuntimeError> {
        panic!("checks go to the checker")
    }

    fn query(&mut self, s: &mut dyn HostStorage, q: QueryRequest) -> Result<Value, RuntimeError> {
        WriteThenRead.query(s, q)
    }

    fn checker(&self) -> Option<Arc<dyn Checker>> {
        Some(Arc::new(ReadingChecker))
    }
}

fn check(keys: &[&[u8]]) -> Request {
    Request::CheckBatch(CheckBatchRequest {
        ctx: ctx(),
        txs: keys.iter().map(|k| k.to_vec()).collect(),
    })
}

/// Answers the storage read `m` with `value`, asserting it reads `key`.
fn answer_read(h: &mut FakeHost, m: &Message, key: &[u8], value: &[u8]) {
    let Body::Request(Request::StorageGet(StorageGetRequest { key: got, .. })) = &m.body else {
        panic!("{m:?}")
    };
    assert_eq!(got, key);
    h.respond(
        m.id,
        Response::StorageGet(StorageGetResponse {
            value: Some(value.to_vec()),
        }),
    );
}

#[test]
fn checks_run_beside_a_batch_and_outlive_its_abort() {
    let mut h = FakeHost::start_with(WithChecker);
    h.send(
        1,
        Request::Info(InfoRequest {
            protocol_version: PROTOCOL_VERSION,
        }),
    );
    let Body::Response(Response::Info(info)) = h.recv().body else {
        panic!("no handshake")
    };
    assert!(info.concurrent_checks, "the handshake tells the host");
    // A batch waits for a read the host does not answer yet...
    h.send(2, execute(&[b"k"]));
    let batch_read = h.recv();
    assert!(matches!(
        batch_read.body,
        Body::Request(Request::StorageGet(_))
    ));
    // ...while a check is served, its own read included.
    h.send(3, check(&[b"c"]));
    let m = h.recv();
    answer_read(&mut h, &m, b"c", b"seen");
    let m = h.recv();
    assert_eq!(m.id, 3);
    let Body::Response(Response::CheckedBatch(c)) = m.body else {
        panic!("{m:?}")
    };
    assert_eq!(c.results, vec![Value::Bytes(b"seen".to_vec())]);
    // A check waiting for its read while the batch is aborted goes on.
    h.send(4, check(&[b"d"]));
    let check_read = h.recv();
    h.send(5, Request::Abort);
    let m = h.recv();
    assert_eq!(m.id, 2);
    let Body::Response(Response::Error(e)) = m.body else {
        panic!("{m:?}")
    };
    assert!(e.is_aborted(), "{e}");
    assert_eq!(h.recv().id, 5);
    answer_read(&mut h, &check_read, b"d", b"still");
    let m = h.recv();
    assert_eq!(m.id, 4);
    let Body::Response(Response::CheckedBatch(c)) = m.body else {
        panic!("{m:?}")
    };
    assert_eq!(c.results, vec![Value::Bytes(b"still".to_vec())]);
    // Without a checker the handshake says so.
    let mut plain = FakeHost::start();
    plain.send(
        1,
        Request::Info(InfoRequest {
            protocol_version: PROTOCOL_VERSION,
        }),
    );
    let Body::Response(Response::Info(info)) = plain.recv().body else {
        panic!("no handshake")
    };
    assert!(!info.concurrent_checks);
    drop(h.sock);
    h.done.recv_timeout(WAIT).unwrap().unwrap();
}

#[test]
fn incompatible_host_version_is_refused() {
    let mut h = FakeHost::start();
    h.send(
        7,
        Request::Info(InfoRequest {
            protocol_version: Version::new(PROTOCOL_VERSION.major + 1, 0, 0),
        }),
    );
    let m = h.recv();
    let Body::Response(Response::Error(e)) = m.body else {
        panic!("{m:?}")
    };
    assert_eq!(
        (e.module.as_str(), e.code),
        (codes::MODULE, codes::VERSION_MISMATCH)
    );
    drop(h.sock);
    h.done.recv_timeout(WAIT).unwrap().unwrap();
}

#[test]
fn abort_while_waiting_for_a_read_drops_the_batch() {
    let mut h = FakeHost::start();
    h.send(1, execute(&[b"k"]));
    let m = h.recv();
    assert!(matches!(m.body, Body::Request(Request::StorageGet(_))));
    // Never answer the read: abort instead.
    h.send(2, Request::Abort);
    let m = h.recv();
    assert_eq!(m.id, 1);
    let Body::Response(Response::Error(e)) = m.body else {
        panic!("{m:?}")
    };
    assert!(e.is_aborted(), "{e}");
    let m = h.recv();
    assert_eq!((m.id, m.body), (2, Body::Response(Response::Empty)));
    // A late answer to the abandoned read is ignored, and the runtime
    // serves the next batch.
    h.respond(0, Response::StorageGet(StorageGetResponse { value: None }));
    h.send(3, execute(&[b"written"]));
    let m = h.recv();
    assert_eq!(m.id, 3);
    assert!(matches!(m.body, Body::Response(Response::ExecutedBatch(_))));
    // Abort while idle is answered at once.
    h.send(4, Request::Abort);
    assert_eq!(h.recv().id, 4);
    drop(h.sock);
    h.done.recv_timeout(WAIT).unwrap().unwrap();
}

#[test]
fn ping_is_answered_during_a_call() {
    let mut h = FakeHost::start();
    h.send(1, execute(&[b"k"]));
    let m = h.recv();
    assert!(matches!(m.body, Body::Request(Request::StorageGet(_))));
    h.send(2, Request::Ping);
    let p = h.recv();
    assert_eq!((p.id, p.body), (2, Body::Response(Response::Empty)));
    h.respond(
        m.id,
        Response::StorageGet(StorageGetResponse { value: None }),
    );
    assert_eq!(h.recv().id, 1);
}

#[test]
fn host_errors_and_wrong_responses_reach_the_handler_as_errors() {
    let mut h = FakeHost::start();
    h.send(1, execute(&[b"k"]));
    let m = h.recv();
    h.respond(
        m.id,
        Response::Error(RuntimeError::new("host", 1, "unknown root")),
    );
    let Body::Response(Response::Error(e)) = h.recv().body else {
        panic!()
    };
    assert_eq!((e.module.as_str(), e.code), ("host", 1));
    h.send(2, execute(&[b"k"]));
    let m = h.recv();
    h.respond(m.id, Response::Empty);
    let Body::Response(Response::Error(e)) = h.recv().body else {
        panic!()
    };
    assert_eq!((e.module.as_str(), e.code), (codes::MODULE, codes::STORAGE));
}

#[test]
fn requests_for_the_host_are_refused() {
    let mut h = FakeHost::start();
    h.send(
        9,
        Request::StorageGet(StorageGetRequest {
            root: StateRoot::default(),
            key: vec![],
        }),
    );
    let m = h.recv();
    let Body::Response(Response::Error(e)) = m.body else {
        panic!("{m:?}")
    };
    assert_eq!(e.code, codes::BAD_REQUEST);
}

#[test]
fn garbage_from_the_host_ends_serving_with_a_frame_error() {
    let mut h = FakeHost::start();
    h.sock.write_all(&[0, 0, 0, 3, 0xff, 0xfe, 0xfd]).unwrap();
    assert!(matches!(
        h.finish(),
        Err(ServeError::Frame(FrameError::Decode(_)))
    ));
}

#[test]
fn oversized_frame_from_the_host_is_refused() {
    let mut h = FakeHost::start();
    h.sock.write_all(&[0x7f, 0xff, 0xff, 0xff]).unwrap();
    assert!(matches!(
        h.finish(),
        Err(ServeError::Frame(FrameError::TooLarge { .. }))
    ));
}

#[test]
fn host_vanishing_mid_frame_is_truncation() {
    let mut h = FakeHost::start();
    h.sock.write_all(&[0, 0, 0, 50, 1, 2]).unwrap();
    drop(h.sock);
    let r = h.done.recv_timeout(WAIT).unwrap();
    assert!(matches!(
        r,
        Err(ServeError::Frame(FrameError::Truncated {
            expected: 50,
            got: 2
        }))
    ));
}

#[test]
fn handler_logic_runs_on_memory_storage() {
    let mut storage = MemoryStorage::default();
    storage.insert(b"k", b"v");
    let out = WriteThenRead
        .execute_batch(
            &mut storage,
            ExecuteBatchRequest {
                ctx: ctx(),
                txs: vec![b"k".to_vec()],
                message_results: vec![],
            },
        )
        .unwrap();
    assert_eq!(out.results, vec![Value::Bytes(b"v".to_vec())]);
    assert_eq!(storage.get(b"written").unwrap(), Some(b"yes".to_vec()));
}
