//! The CLI's JSON-RPC client: a blocking facade over jsonrpsee's
//! `HttpClient` (the client the node API's generated `*RpcClient` traits
//! run on), speaking `http://` and `https://`.
//!
//! Commands call the node through the generated trait methods, run by
//! [`Client::run`] (for example `client.run(|c| SystemRpcClient::status(c))`);
//! the facade runs the request on a current-thread tokio runtime of its own,
//! so commands stay synchronous. Transport failures become errors that say
//! what to do (a timeout names the method, noted on its way out by the
//! `sent` middleware); the node's own errors are [`RpcError`]s.
//!
//! `https://` nodes are checked against the platform's trusted roots, or
//! against the PEM file named by [`tls::ENV_CA_CERT`].

mod sent;
pub mod tls;
mod url;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::{
    HeaderMap, HeaderValue, HttpBackend, HttpClient, HttpClientBuilder, RpcService,
    RpcServiceBuilder,
};
use serde_json::Value;

/// How long a call may take unless it says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The transport's own limit on one request: the caller's timeout (see
/// [`Client::run_timeout`]) is what ends a call.
const TRANSPORT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Largest answer the CLI accepts (the node answers at most 10 MB).
const MAX_RESPONSE_BYTES: u32 = 64 << 20;

/// The transport the generated `*RpcClient` trait methods run on: jsonrpsee's
/// HTTP client, its requests noted by [`sent::NoteMethod`].
pub type NodeClient = HttpClient<sent::NoteMethod<RpcService<HttpBackend>>>;

/// A node's URL, checked, and a client for it.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    http: NodeClient,
    runtime: Arc<tokio::runtime::Runtime>,
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
pub const CODE_TX_REFUSED: i64 = atoll_rpc::CODE_TX_REFUSED as i64;
/// Code of something the node does not have.
pub const CODE_NOT_FOUND: i64 = atoll_rpc::CODE_NOT_FOUND as i64;
/// Code of a wait that ran out.
pub const CODE_TIMEOUT: i64 = atoll_rpc::CODE_TIMEOUT as i64;

impl Client {
    /// Checks `url` (`http://host:port[/path]` or `https://...`; the scheme
    /// may be left out) and makes a client for it; an `https://` node must
    /// present a certificate the platform trusts, or one under the roots
    /// named by [`tls::ENV_CA_CERT`].
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Self::with_roots(url, tls::roots_from_env()?.as_deref())
    }

    /// [`Client::new`] trusting exactly the roots in `ca_pem` (`None`: the
    /// platform's).
    pub fn with_roots(url: &str, ca_pem: Option<&[u8]>) -> anyhow::Result<Self> {
        let node = url::parse(url)?;
        std::net::ToSocketAddrs::to_socket_addrs(node.host_port.as_str())
            .with_context(|| format!("{url}: cannot resolve {}", node.host_port))?
            .next()
            .with_context(|| format!("{url}: {} has no address", node.host_port))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the RPC client's runtime")?;
        // One connection per call, as a command makes few: the client's
        // runtime runs only inside a call, so an idle pooled connection
        // could not notice that the node closed it.
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("close"));
        let mut builder = HttpClientBuilder::default()
            .request_timeout(TRANSPORT_TIMEOUT)
            .max_response_size(MAX_RESPONSE_BYTES)
            .set_headers(headers)
            .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(sent::NoteMethod));
        if let Some(pem) = ca_pem {
            builder = builder.with_custom_cert_store(tls::trusting(pem)?);
        }
        let http = {
            let _entered = runtime.enter();
            builder
                .build(&node.url)
                .with_context(|| format!("{url}: not a usable node URL"))?
        };
        Ok(Self {
            url: node.url,
            http,
            runtime: Arc::new(runtime),
        })
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one call of the node API's generated client (a method of
    /// `atoll_rpc::api`'s `SystemRpcClient`, `ConsensusRpcClient` or
    /// `RuntimeRpcClient` on the transport `call` is given) to its end,
    /// within [`DEFAULT_TIMEOUT`]. Transport failures are errors that say
    /// how to fix them, node errors are [`RpcError`]s inside the
    /// `anyhow::Error`.
    pub fn run<'a, T, F>(&'a self, call: impl FnOnce(&'a NodeClient) -> F) -> anyhow::Result<T>
    where
        F: Future<Output = Result<T, ClientError>> + Send,
        T: Send,
    {
        self.run_timeout(DEFAULT_TIMEOUT, call)
    }

    /// [`Client::run`] with a longer or shorter timeout.
    pub fn run_timeout<'a, T, F>(
        &'a self,
        timeout: Duration,
        call: impl FnOnce(&'a NodeClient) -> F,
    ) -> anyhow::Result<T>
    where
        F: Future<Output = Result<T, ClientError>> + Send,
        T: Send,
    {
        let (sent, pending) = sent::noting(call(&self.http));
        let request = async { tokio::time::timeout(timeout, pending).await };
        let answer = if tokio::runtime::Handle::try_current().is_ok() {
            // Called from async code: block a thread of our own, not the
            // caller's runtime.
            std::thread::scope(|s| {
                s.spawn(|| self.runtime.block_on(request))
                    .join()
                    .map_err(|_| anyhow::anyhow!("the RPC client's thread failed"))
            })?
        } else {
            self.runtime.block_on(request)
        };
        match answer {
            Err(_) | Ok(Err(ClientError::RequestTimeout)) => bail!(
                "the node at {} did not answer {} within {} s",
                self.url,
                sent.get().map_or("the call", String::as_str),
                timeout.as_secs()
            ),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.explain(e)),
        }
    }

    /// A client error in words that say what to do.
    fn explain(&self, e: ClientError) -> anyhow::Error {
        match e {
            ClientError::Call(obj) => RpcError {
                code: i64::from(obj.code()),
                message: obj.message().to_owned(),
                data: obj
                    .data()
                    .and_then(|d| serde_json::from_str(d.get()).ok())
                    .unwrap_or(Value::Null),
            }
            .into(),
            ClientError::ParseError(e) => anyhow::anyhow!(
                "the node at {} did not answer with JSON-RPC (is it an atoll node?): {e}",
                self.url
            ),
            ClientError::Transport(e) => anyhow::anyhow!(
                "cannot reach the node at {}: {}. Is it running? Start a local network with \
                 `atoll localnet`, or name a running node with --node URL",
                self.url,
                causes(e.as_ref())
            ),
            other => anyhow::anyhow!("the node at {}: {other}", self.url),
        }
    }
}

/// An error and its causes, outermost first, each said once.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next {
        let text = e.to_string();
        if !out.iter().any(|seen| seen.contains(&text)) {
            out.push(text);
        }
        next = e.source();
    }
    out.join(": ")
}

/// The node's error, if `e` is one.
pub fn rpc_error(e: &anyhow::Error) -> Option<&RpcError> {
    e.downcast_ref::<RpcError>()
}

#[cfg(test)]
mod tests;
