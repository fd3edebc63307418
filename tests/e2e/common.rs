//! What the end-to-end tests share: the binary under test, the node API's
//! generated client for well-formed calls ([`node_api`]), and JSON-RPC over
//! plain HTTP/1.1 to a node on loopback, one fresh connection per call, for
//! the rest and for malformed bytes; every wait bounded.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::{Value, json};

/// The `atoll` command under test: this package's `atoll-under-test`
/// binary, installed once per test process as `atoll` in the target's
/// scratch directory, so that the nodes it starts find their built-in
/// ParaTimes (`binary = "atoll"`, looked up next to the node's executable)
/// in the same build.
pub fn atoll() -> &'static Path {
    static ATOLL: OnceLock<PathBuf> = OnceLock::new();
    ATOLL.get_or_init(|| {
        let exe = Path::new(env!("CARGO_BIN_EXE_atoll-under-test"));
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-bin");
        atoll_localnet::harness::install_as_atoll(exe, &dir)
            .unwrap_or_else(|e| panic!("cannot install {} as atoll: {e}", exe.display()))
    })
}

/// Runs `calls` with a client of the node API at `addr` (the generated
/// `atoll_rpc::api` clients over HTTP) from a test's synchronous code, each
/// call bounded to 30 s; an error (the node's or the transport's) as text.
pub fn node_api<T, F>(addr: SocketAddr, calls: impl FnOnce(HttpClient) -> F) -> Result<T, String>
where
    F: Future<Output = Result<T, ClientError>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(format!("http://{addr}"))
        .map_err(|e| e.to_string())?;
    rt.block_on(calls(client)).map_err(|e| e.to_string())
}

/// One JSON-RPC call: the result, or the error object (or a description of
/// a transport failure, as JSON).
pub fn call(addr: SocketAddr, method: &str, params: Value) -> Result<Value, Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    raw_call(addr, &body)
}

/// Posts `body` as is and returns the whole JSON answer (a batch's is an
/// array), or a description of a transport failure.
pub fn raw_post(addr: SocketAddr, body: &str) -> Result<Value, Value> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| json!({"connect": e.to_string()}))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| json!({"socket": e.to_string()}))?;
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .map_err(|e| json!({"write": e.to_string()}))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| json!({"read": e.to_string()}))?;
    let json_start = out.find("\r\n\r\n").map_or(0, |i| i + 4);
    let v: Value = serde_json::from_str(&out[json_start..])
        .map_err(|e| json!({"parse": e.to_string(), "raw": out}))?;
    Ok(v)
}

/// Sends `body` as a JSON-RPC request, as is.
pub fn raw_call(addr: SocketAddr, body: &str) -> Result<Value, Value> {
    let v = raw_post(addr, body)?;
    match v.get("error") {
        Some(e) => Err(e.clone()),
        None => Ok(v["result"].clone()),
    }
}
