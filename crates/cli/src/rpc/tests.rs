#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::SocketAddr;
use std::sync::Arc;

use atoll_consensus::app::BlockResult;
use atoll_crypto::Hash;
use atoll_rpc::{ApiError, BlockNotification, BlockView, NodeApi, NodeStatus, RpcConfig, TxView};
use atoll_rpc::{ConsensusRpcClient as _, SystemRpcClient as _};
use tokio::sync::broadcast;

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
    assert_eq!(
        Client::new("https://127.0.0.1:8000").unwrap().url(),
        "https://127.0.0.1:8000"
    );
    assert!(Client::new("http://127.0.0.1").is_err());
    assert!(Client::new("ftp://x:1").is_err());
    assert!(Client::new("http://:1").is_err());
    let e = Client::new("http://no-such-host.invalid:1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot resolve"), "{e}");
}

#[test]
fn unreachable_node_says_what_to_do() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Client::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let e = c.run(|c| c.status()).unwrap_err().to_string();
    assert!(e.contains("cannot reach the node"), "{e}");
    assert!(e.contains("--node"), "{e}");
    assert!(e.contains("refused"), "{e}");
}

#[test]
fn a_silent_node_times_out_in_words() {
    // Accepts the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = Client::new(&format!("http://{}", silent.local_addr().unwrap())).unwrap();
    let e = c
        .run_timeout(Duration::from_secs(1), |c| c.status())
        .unwrap_err()
        .to_string();
    assert!(e.contains("did not answer node_status within 1 s"), "{e}");
    assert!(e.contains(c.url()), "{e}");
    drop(silent);
}

/// A node with a status and nothing committed: enough to answer
/// `node_status` and to refuse what it does not have.
struct Quiet {
    blocks: broadcast::Sender<Arc<BlockNotification>>,
}

impl NodeApi for Quiet {
    fn status(&self) -> NodeStatus {
        NodeStatus {
            version: "test".into(),
            chain_id: "atoll-https-test".into(),
            chain_context: String::new(),
            latest_height: None,
            latest_time: None,
            syncing: false,
            mempool_size: 0,
        }
    }
    fn submit_tx(&self, _raw: Vec<u8>) -> Result<Hash, ApiError> {
        Err(ApiError::InvalidParams("nothing is accepted here".into()))
    }
    fn block(&self, _height: Option<u64>) -> Result<Option<BlockView>, ApiError> {
        Ok(None)
    }
    fn block_results(&self, _height: u64) -> Result<Option<BlockResult>, ApiError> {
        Ok(None)
    }
    fn transaction(&self, _hash: &Hash) -> Result<Option<TxView>, ApiError> {
        Ok(None)
    }
    fn query(&self, method: &str, _args: &Value, _height: Option<u64>) -> Result<Value, ApiError> {
        Err(ApiError::NotFound(method.to_owned()))
    }
    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockNotification>> {
        self.blocks.subscribe()
    }
}

/// The node API behind a TLS listener on 127.0.0.1 with a fresh
/// self-signed certificate: the listener's address and the certificate's
/// PEM.
async fn serve_over_tls() -> (SocketAddr, String, atoll_rpc::RpcServer) {
    let api = Arc::new(Quiet {
        blocks: broadcast::channel(1).0,
    });
    let node = atoll_rpc::serve(api, "127.0.0.1:0".parse().unwrap(), RpcConfig::default())
        .await
        .unwrap();
    let backend = node.local_addr();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (front, certified.cert.pem(), node)
}

#[test]
fn https_node_with_a_trusted_certificate() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (front, pem, node) = runtime.block_on(serve_over_tls());
    let url = format!("https://127.0.0.1:{}", front.port());
    let client = Client::with_roots(&url, Some(pem.as_bytes())).unwrap();
    assert_eq!(client.url(), url);
    let status = client.run(|c| c.status()).unwrap();
    assert_eq!(status.chain_id, "atoll-https-test", "{status:?}");
    // The node's own errors come through TLS as they do in the clear.
    let e = client.run(|c| c.get_block(Some(7))).unwrap_err();
    let r = rpc_error(&e).expect("the node's error");
    assert_eq!(r.code, CODE_NOT_FOUND, "{r:?}");
    assert_eq!(r.message, "not found: block 7");
    // Without the certificate's root the node is not trusted.
    let pem_of_another = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .cert
        .pem();
    let stranger = Client::with_roots(&url, Some(pem_of_another.as_bytes())).unwrap();
    let e = stranger.run(|c| c.status()).unwrap_err().to_string();
    assert!(e.contains("cannot reach the node"), "{e}");
    assert!(e.contains("certificate"), "{e}");
    // A file that is not PEM is refused before any call.
    assert!(Client::with_roots(&url, Some(b"not a certificate")).is_err());
    runtime.block_on(node.stop());
}
