//! A small blocking JSON-RPC 2.0 client over HTTP/1.1 (one connection per
//! call), enough to talk to an atoll node's API.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// How long a call may take unless it says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A node's URL, parsed.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    host: String,
    addr: SocketAddr,
    path: String,
}

/// An error the node answered with.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i64,
    /// Its message.
    pub message: String,
    /// Its data (for refused transactions: `{module, code, message}`).
    pub data: Value,
}

impl RpcError {
    /// The module and code of a refused transaction.
    pub fn module_code(&self) -> Option<(&str, u64)> {
        Some((
            self.data.get("module")?.as_str()?,
            self.data.get("code")?.as_u64()?,
        ))
    }
}

/// Code of a refused transaction.
pub const CODE_TX_REFUSED: i64 = -32000;
/// Code of something the node does not have.
pub const CODE_NOT_FOUND: i64 = -32004;
/// Code of a wait that ran out.
pub const CODE_TIMEOUT: i64 = -32008;

impl Client {
    /// Parses `url` (`http://host:port[/path]`; the scheme may be left out).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let rest = if let Some(r) = url.strip_prefix("http://") {
            r
        } else if url.starts_with("https://") {
            bail!("{url}: https is not supported; atoll nodes serve plain HTTP (use http://)");
        } else if url.contains("://") {
            bail!("{url}: not an http:// URL");
        } else {
            url
        };
        let (hostport, path) = match rest.find('/') {
            Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("/")),
            None => (rest, "/"),
        };
        if hostport.is_empty() {
            bail!("{url}: no host; expected http://HOST:PORT");
        }
        let with_port = if hostport
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            hostport.to_owned()
        } else {
            bail!("{url}: no port; expected http://HOST:PORT");
        };
        let addr = with_port
            .to_socket_addrs()
            .with_context(|| format!("{url}: cannot resolve {with_port}"))?
            .next()
            .with_context(|| format!("{url}: {with_port} has no address"))?;
        Ok(Self {
            url: format!("http://{hostport}{}", if path == "/" { "" } else { path }),
            host: hostport.to_owned(),
            addr,
            path: path.to_owned(),
        })
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method`; transport failures are errors that say how to fix
    /// them, node errors are [`RpcError`]s inside the `anyhow::Error`.
    pub fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.call_timeout(method, params, DEFAULT_TIMEOUT)
    }

    /// [`Client::call`] with a longer or shorter read timeout.
    pub fn call_timeout(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let unreachable = |e: std::io::Error| {
            anyhow::anyhow!(
                "cannot reach the node at {}: {e}. Is it running? Start a local network with \
                 `atoll localnet`, or name a running node with --node URL",
                self.url
            )
        };
        let mut s =
            TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).map_err(unreachable)?;
        s.set_read_timeout(Some(timeout)).map_err(unreachable)?;
        s.set_write_timeout(Some(Duration::from_secs(30)))
            .map_err(unreachable)?;
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.path,
            self.host,
            body.len()
        );
        s.write_all(request.as_bytes()).map_err(unreachable)?;
        let mut raw = Vec::new();
        if let Err(e) = s.read_to_end(&mut raw) {
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                bail!(
                    "the node at {} did not answer {method} within {} s",
                    self.url,
                    timeout.as_secs()
                );
            }
            return Err(unreachable(e));
        }
        let response = parse_http(&raw)
            .with_context(|| format!("the node at {} sent a malformed answer", self.url))?;
        let v: Value = serde_json::from_slice(&response).with_context(|| {
            format!(
                "the node at {} did not answer with JSON-RPC (is it an atoll node?)",
                self.url
            )
        })?;
        if let Some(e) = v.get("error") {
            return Err(RpcError {
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_owned(),
                data: e.get("data").cloned().unwrap_or(Value::Null),
            }
            .into());
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }
}

/// The body of an HTTP/1.1 response (Content-Length, chunked, or up to the
/// end of the connection).
fn parse_http(raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).to_lowercase();
    let body = raw.get(end + 4..).unwrap_or_default();
    let status = head.lines().next().unwrap_or_default();
    let code: u16 = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status code")?;
    let chunked = head
        .lines()
        .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    if !(200..300).contains(&code) && body.is_empty() {
        bail!("HTTP status {code}");
    }
    Ok(body)
}

fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("truncated chunk")?;
        let size_text = String::from_utf8_lossy(body.get(..line_end).unwrap_or_default());
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("bad chunk size")?;
        body = body.get(line_end + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(body.get(..size).context("truncated chunk")?);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

/// The node's error, if `e` is one.
pub fn rpc_error(e: &anyhow::Error) -> Option<&RpcError> {
    e.downcast_ref::<RpcError>()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Client::new("http://127.0.0.1:8000").unwrap().url(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            Client::new("127.0.0.1:8000").unwrap().url(),
            "http://127.0.0.1:8000"
        );
        assert!(Client::new("https://127.0.0.1:8000").is_err());
        assert!(Client::new("http://127.0.0.1").is_err());
        assert!(Client::new("ftp://x:1").is_err());
        assert!(Client::new("http://:1").is_err());
    }

    #[test]
    fn http_bodies() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_http(r).unwrap(), b"{}");
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n3\r\na\":\r\n2\r\n1}\r\n0\r\n\r\n";
        assert_eq!(parse_http(r).unwrap(), b"{\"a\":1}");
        assert!(parse_http(b"garbage").is_err());
    }

    #[test]
    fn unreachable_node_says_what_to_do() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Client::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let e = c.call("node_status", json!([])).unwrap_err().to_string();
        assert!(e.contains("cannot reach the node"), "{e}");
        assert!(e.contains("--node"), "{e}");
    }
}
