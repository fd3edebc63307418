//! The gateway's edge over plain HTTP: geth's positional parameters
//! (checked before a method runs, one call of a batch at a time).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use atoll_web3::Web3Config;
use serde_json::Value;

use crate::fixture::{self, FakeRuntime};

/// One HTTP exchange on a fresh connection: (status line, body).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// The JSON-RPC answer to `body`.
pub fn rpc(addr: SocketAddr, body: &str) -> Value {
    serde_json::from_str(&http(addr, "POST", "/", body).1).unwrap()
}

pub async fn start(rt: &FakeRuntime, dir: &std::path::Path) -> atoll_web3::Web3Server {
    atoll_web3::serve(
        Arc::new(rt.clone()),
        fixture::runtime_id(),
        dir,
        "127.0.0.1:0".parse().unwrap(),
        Web3Config::default(),
    )
    .await
    .unwrap()
}

fn error_of(v: &Value) -> (i64, String) {
    (
        v["error"]["code"].as_i64().unwrap(),
        v["error"]["message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_positional_as_in_geth() {
    let rt = FakeRuntime::default();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&rt, dir.path()).await;
    let addr = server.local_addr();
    let one = |method: &str, params: &str| {
        rpc(
            addr,
            &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#),
        )
    };
    let zero = format!("\"0x{}\"", "00".repeat(20));

    // Named parameters are refused, in geth's words.
    assert_eq!(
        error_of(&one("eth_getBalance", &format!(r#"{{"address":{zero}}}"#))),
        (
            -32602,
            "invalid argument: parameters must be an array".to_owned()
        )
    );
    // So are more arguments than the method takes.
    assert_eq!(
        error_of(&one("eth_blockNumber", "[1]")),
        (
            -32602,
            "invalid argument: too many arguments, want at most 0, got 1".to_owned()
        )
    );
    assert_eq!(
        error_of(&one(
            "eth_getBalance",
            &format!(r#"[{zero}, "latest", "extra"]"#)
        )),
        (
            -32602,
            "invalid argument: too many arguments, want at most 2, got 3".to_owned()
        )
    );
    // A missing or undecodable argument is named by its position.
    assert_eq!(
        error_of(&one("eth_getBalance", "[]")),
        (
            -32602,
            "invalid argument: 0: missing value for required argument".to_owned()
        )
    );
    assert_eq!(
        error_of(&one("eth_getBlockByNumber", r#"["latest", "yes"]"#)),
        (
            -32602,
            "invalid argument: 1: invalid type: string \"yes\", expected a boolean".to_owned()
        )
    );
    // Methods that read no argument take any, as an array.
    assert_eq!(one("net_listening", "[1, 2]")["result"], Value::Bool(true));
    // An unknown method is jsonrpsee's "method not found".
    assert_eq!(error_of(&one("eth_nonexistent", "[]")).0, -32601);

    // Each call of a batch is checked on its own.
    let answers = rpc(
        addr,
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":{"x":1}}]"#,
    );
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 2);
    assert!(answers[0]["result"].is_string());
    assert_eq!(error_of(&answers[1]).0, -32602);
    server.stop().await;
}

/// The value of the sample `line_start` (name and labels) in a scrape.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_calls_filters_and_the_index() {
    let rt = FakeRuntime::default();
    let mut chain = fixture::Chain::new();
    for _ in 0..2 {
        rt.finalize(chain.push(Vec::new()));
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(&rt, dir.path()).await;
    let addr = server.local_addr();
    let call = |method: &str, params: &str| {
        rpc(
            addr,
            &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#),
        )
    };
    // Wait until the index has both rounds.
    while call("eth_blockNumber", "[]")["result"] != "0x2" {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    call("eth_chainId", "[]");
    call("eth_chainId", "[1]");
    call("no_such_method", "[]");
    call("eth_newBlockFilter", "[]");
    // A batch counts each call.
    rpc(
        addr,
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]}]"#,
    );

    let (status, text) = http(addr, "GET", "/metrics", "");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(
        sample(
            &text,
            r#"atoll_web3_requests_total{method="eth_chainId",outcome="ok"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"atoll_web3_requests_total{method="eth_chainId",outcome="-32602"}"#
        ),
        Some(1.0)
    );
    // Method names clients make up share one label.
    assert_eq!(
        sample(
            &text,
            r#"atoll_web3_requests_total{method="other",outcome="-32601"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"atoll_web3_request_duration_seconds_count{method="eth_chainId"}"#
        ),
        Some(4.0)
    );
    assert_eq!(sample(&text, "atoll_web3_index_height"), Some(2.0));
    assert_eq!(sample(&text, "atoll_web3_filters_installed"), Some(1.0));
    assert_eq!(sample(&text, "atoll_web3_subscriptions_active"), Some(0.0));
    // Scraping is not a JSON-RPC call.
    assert!(!text.contains("method=\"/metrics\""));
    server.stop().await;
}
