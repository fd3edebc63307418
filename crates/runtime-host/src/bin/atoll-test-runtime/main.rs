//! A tiny key-value runtime for the integration tests of
//! `atoll-runtime-host`: transactions are CBOR [`TestTx`]s; some of them
//! crash, hang or write garbage on purpose.
//!
//! Arguments: `--runtime-id <hex>` (default all zeros) sets the id it
//! reports; `--speak-version <major>` makes it answer the handshake with that
//! protocol major version and nothing else.

#![allow(
    clippy::print_stderr,
    reason = "a test binary reports its fatal errors"
)]

mod tx;

use std::io::Write as _;
use std::os::fd::AsFd as _;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use atoll_runtime_host::protocol::{
    Body, CheckBatchRequest, ExecuteBatchRequest, InfoResponse, MAX_FRAME_LEN, Message,
    QueryRequest, Request, Response, RuntimeError, Version, codes, read_frame, write_frame,
};
use atoll_runtime_host::runtime::{BatchOutput, HostStorage, RuntimeHandler, RuntimeInfo, serve};
use atoll_types::cbor::{self, Value};
use atoll_types::{Height, Namespace};
use tx::TestTx;

struct TestRuntime {
    id: Namespace,
}

fn storage_err(e: impl Into<RuntimeError>) -> RuntimeError {
    e.into()
}

fn opt_bytes(v: Option<Vec<u8>>) -> Value {
    v.map_or(Value::Null, Value::Bytes)
}

/// The host's socket, written to directly (behind the serve loop's back).
fn raw_socket() -> std::io::Result<UnixStream> {
    Ok(UnixStream::from(
        std::io::stdin().as_fd().try_clone_to_owned()?,
    ))
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

impl TestRuntime {
    fn apply(
        &self,
        storage: &mut dyn HostStorage,
        tx: TestTx,
        out: &mut BatchOutput,
    ) -> Result<Value, RuntimeError> {
        Ok(match tx {
            TestTx::Put { key, value } => {
                storage.insert(&key, &value);
                out.events.push(Value::Text("put".into()));
                Value::Null
            }
            TestTx::Incr { key } => {
                let old = storage.get(&key).map_err(storage_err)?;
                let n = old
                    .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                    .map_or(0, u64::from_be_bytes)
                    .saturating_add(1);
                storage.insert(&key, &n.to_be_bytes());
                Value::Unsigned(n)
            }
            TestTx::Del { key } => {
                storage.remove(&key);
                Value::Null
            }
            TestTx::Get { key } => opt_bytes(storage.get(&key).map_err(storage_err)?),
            TestTx::Scan { start, limit } => {
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                let entries = storage.range(&start, None, limit).map_err(storage_err)?;
                Value::Array(entries.into_iter().map(|(k, _)| Value::Bytes(k)).collect())
            }
            TestTx::ConsensusRead { height, key } => opt_bytes(
                storage
                    .consensus_get(Height(height), &key)
                    .map_err(storage_err)?,
            ),
            TestTx::Sleep { ms } => {
                std::thread::sleep(Duration::from_millis(ms));
                Value::Null
            }
            TestTx::Fail => return Err(RuntimeError::new("test", 7, "failure requested")),
            TestTx::Crash => std::process::exit(42),
            TestTx::Hang => sleep_forever(),
            TestTx::HangAbortable => {
                while !storage.abort_requested() {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return Err(RuntimeError::protocol(codes::ABORTED, "aborted"));
            }
            TestTx::Garbage => {
                if let Ok(mut s) = raw_socket() {
                    let _ = s.write_all(&[0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff]);
                }
                sleep_forever()
            }
            TestTx::Oversize => {
                if let Ok(mut s) = raw_socket() {
                    let _ = s.write_all(&[0xff, 0xff, 0xff, 0xff]);
                }
                sleep_forever()
            }
        })
    }
}

impl RuntimeHandler for TestRuntime {
    fn info(&self) -> RuntimeInfo {
        RuntimeInfo::new(self.id, Version::new(0, 1, 0))
    }

    fn execute_batch(
        &mut self,
        storage: &mut dyn HostStorage,
        req: ExecuteBatchRequest,
    ) -> Result<BatchOutput, RuntimeError> {
        let mut out = BatchOutput::default();
        for raw in &req.txs {
            let result = match cbor::from_slice::<TestTx>(raw) {
                Ok(tx) => self.apply(storage, tx, &mut out)?,
                Err(e) => Value::Text(format!("bad tx: {e}")),
            };
            out.results.push(result);
        }
        Ok(out)
    }

    fn check_batch(
        &mut self,
        _storage: &mut dyn HostStorage,
        req: CheckBatchRequest,
    ) -> Result<Vec<Value>, RuntimeError> {
        Ok(req
            .txs
            .iter()
            .map(|raw| Value::Bool(cbor::from_slice::<TestTx>(raw).is_ok()))
            .collect())
    }

    fn query(
        &mut self,
        storage: &mut dyn HostStorage,
        req: QueryRequest,
    ) -> Result<Value, RuntimeError> {
        match req.method.as_str() {
            "get" => {
                let key = req
                    .args
                    .as_bytes()
                    .ok_or_else(|| RuntimeError::new("test", 2, "get takes a byte string"))?;
                Ok(opt_bytes(storage.get(key).map_err(storage_err)?))
            }
            "env" => {
                let mut names: Vec<String> = std::env::vars_os()
                    .map(|(k, _)| k.to_string_lossy().into_owned())
                    .collect();
                names.sort();
                Ok(Value::Array(names.into_iter().map(Value::Text).collect()))
            }
            other => Err(RuntimeError::new(
                "test",
                1,
                format!("unknown method {other}"),
            )),
        }
    }
}

/// Answers the handshake with protocol version `major.0.0`, then serves
/// nothing.
fn speak_version(major: u16, id: Namespace) -> std::io::Result<()> {
    let mut s = raw_socket()?;
    while let Ok(Some(msg)) = read_frame(&mut s, MAX_FRAME_LEN) {
        if let Body::Request(Request::Info(_)) = msg.body {
            let resp = Response::Info(InfoResponse {
                protocol_version: Version::new(major, 0, 0),
                runtime_id: id,
                runtime_version: Version::new(0, 1, 0),
                features: Value::Null,
                concurrent_checks: false,
            });
            let msg = Message {
                id: msg.id,
                body: Body::Response(resp),
            };
            if write_frame(&mut s, &msg, MAX_FRAME_LEN).is_err() {
                break;
            }
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let mut id = Namespace::default();
    let mut speak = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--runtime-id", Some(v)) => match v.parse() {
                Ok(v) => id = v,
                Err(e) => {
                    eprintln!("bad --runtime-id: {e}");
                    return std::process::ExitCode::from(2);
                }
            },
            ("--speak-version", Some(v)) => speak = v.parse::<u16>().ok(),
            _ => {
                eprintln!("usage: atoll-test-runtime [--runtime-id HEX] [--speak-version MAJOR]");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let result = match speak {
        Some(major) => speak_version(major, id).map_err(|e| e.to_string()),
        None => serve(TestRuntime { id }).map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atoll-test-runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
