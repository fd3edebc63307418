//! The explorer in a real browser: `atoll localnet --single` started as a
//! user starts it (plain and EVM ParaTimes; the localnet turns the explorer
//! on and names its URL in `localnet.json`), then a consensus transfer and
//! a ParaTime transfer with the `atoll` command, and an ERC-20 deployed and
//! transferred with raw Ethereum transactions signed here (the token's
//! name is `<script>…</script>`, so the page must show it as text). Then
//! `tests/browser/explorer.test.mjs` drives Debian's headless Chromium
//! through `playwright-core` (installed from its lockfile by `cargo xtask
//! test`): each transfer on its pages (the ERC-20 one with its log),
//! search, live updates, no request outside the node; screenshots (light
//! and dark) go to `target/e2e-artifacts/explorer/` and the page load time
//! is printed.
//!
//! Every wait is bounded; no assertion depends on how fast this machine is.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use atoll_evm::tx::{self, DynamicFeeTx, U256};
use serde_json::{Value, json};

use crate::common::{atoll, call};
use crate::process::Localnet;

/// The npm project of the browser test.
fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Where the screenshots go: `target/e2e-artifacts/explorer`.
fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("e2e-artifacts")
        .join("explorer")
}

/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The ERC-20's name: a script, which the page must show as text.
const TOKEN_NAME: &str = "<script>window.__xss=1</script>Token";

fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// One 32-byte ABI word holding `n`.
fn word(n: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&n.to_be_bytes());
    w
}

/// An ABI-encoded dynamic `string` (its length word, then its bytes padded).
fn abi_string(s: &str) -> Vec<u8> {
    let mut out = word(s.len() as u128).to_vec();
    out.extend_from_slice(s.as_bytes());
    out.resize(32 + s.len().div_ceil(32) * 32, 0);
    out
}

/// `Token(name, symbol, supply)`'s init code: the checked-in bytecode of
/// `tests/web3-clients/contracts/Token.sol` and its constructor arguments.
fn token_init_code(name: &str, symbol: &str, supply: u128) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web3-clients/artifacts/contracts.json");
    let artifacts: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let code = artifacts["Token"]["bytecode"].as_str().unwrap();
    let mut out = hex::decode(code.trim_start_matches("0x")).unwrap();
    let name = abi_string(name);
    let symbol = abi_string(symbol);
    out.extend_from_slice(&word(96));
    out.extend_from_slice(&word(96 + name.len() as u128));
    out.extend_from_slice(&word(supply));
    out.extend_from_slice(&name);
    out.extend_from_slice(&symbol);
    out
}

/// Sends a signed EIP-1559 transaction and waits (bounded) for a
/// successful receipt.
fn send(
    web3: SocketAddr,
    chain_id: u64,
    key: &[u8; 32],
    nonce: u64,
    to: Option<[u8; 20]>,
    input: Vec<u8>,
) -> Value {
    let raw = tx::sign_eip1559(
        &DynamicFeeTx {
            chain_id,
            nonce,
            max_priority_fee_per_gas: U256::from(0u64),
            max_fee_per_gas: U256::from(2_000_000_000u64),
            gas_limit: 3_000_000,
            to: to.map(atoll_crypto::secp256k1::EthAddress),
            value: U256::from(0u64),
            input,
            access_list: Vec::new(),
        },
        key,
    )
    .unwrap();
    let hash = call(web3, "eth_sendRawTransaction", json!([hex0x(&raw)]))
        .unwrap_or_else(|e| panic!("transaction {nonce} refused: {e}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = call(web3, "eth_getTransactionReceipt", json!([hash]))
            && !r.is_null()
        {
            assert_eq!(r["status"], "0x1", "transaction {nonce}: {r}");
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "transaction {nonce} did not land within 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `atoll` with the localnet's directory and a test wallet home; the
/// `--json` answer.
fn cli(dir: &Path, home: &Path, args: &[&str]) -> Value {
    let out = Command::new(atoll())
        .arg("--localnet")
        .arg(dir)
        .arg("--json")
        .args(args)
        .env("ATOLL_HOME", home)
        .env("ATOLL_PASSPHRASE", "explorer test")
        .env_remove("ATOLL_NODE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "atoll {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn the_explorer_in_a_browser() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "the browser test needs Debian's Chromium at {CHROMIUM}: `apt-get install -y chromium` \
         (`cargo xtask test` installs it when run as root)"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").is_dir(),
        "the browser test needs its npm packages: run `npm ci` in {} (`cargo xtask test` does)",
        browser_dir().display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let home = tmp.path().join("home");
    let mut net = Localnet::start(&dir, &["--single"]);
    let summary = net.summary();
    let explorer = summary["explorer"].as_str().unwrap().to_owned();
    let paratime = |kind: &str| {
        summary["paratimes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} ParaTime in {summary}"))
            .clone()
    };
    let (plain, evm) = (paratime("plain"), paratime("evm"));
    let web3_url = evm["evm"]["eth_rpc_url"].as_str().unwrap().to_owned();
    let web3: SocketAddr = web3_url.trim_start_matches("http://").parse().unwrap();
    let chain_id = evm["evm"]["chain_id"].as_u64().unwrap();

    let to = summary["accounts"][1]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(&dir, &home, &["wallet", "import", "dev0", "--dev", "0"]);
    let transfer = cli(
        &dir,
        &home,
        &["account", "transfer", "1234", &to, "--from", "dev0"],
    );
    let pt = cli(
        &dir,
        &home,
        &[
            "paratime",
            "transfer",
            "567",
            &to,
            "--from",
            "dev0",
            "--paratime",
            "plain",
        ],
    );

    // An ERC-20 named with a script, deployed and transferred.
    let key_hex = summary["ethereum_accounts"][0]["private_key"]
        .as_str()
        .unwrap();
    let key: [u8; 32] = hex::decode(key_hex.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap();
    let nonce = quantity(
        &call(
            web3,
            "eth_getTransactionCount",
            json!([summary["ethereum_accounts"][0]["address"], "latest"]),
        )
        .unwrap(),
    );
    let deployed = send(
        web3,
        chain_id,
        &key,
        nonce,
        None,
        token_init_code(TOKEN_NAME, "XSS", 1_000_000),
    );
    let token_hex = deployed["contractAddress"].as_str().unwrap().to_owned();
    let token: [u8; 20] = hex::decode(token_hex.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap();
    let erc20_to = summary["ethereum_accounts"][1]["address"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let mut input = vec![0xa9, 0x05, 0x9c, 0xbb]; // transfer(address,uint256)
    let mut to_word = [0u8; 32];
    to_word[12..].copy_from_slice(&hex::decode(erc20_to.trim_start_matches("0x")).unwrap());
    input.extend_from_slice(&to_word);
    input.extend_from_slice(&word(4321));
    let moved = send(web3, chain_id, &key, nonce + 1, Some(token), input);
    assert_eq!(moved["logs"].as_array().unwrap().len(), 1, "{moved}");

    let facts = json!({
        "consensus_tx": transfer["hash"],
        "consensus_height": transfer["height"],
        "consensus_to": to,
        "plain": plain["id"],
        "paratime_tx": pt["hash"],
        "paratime_round": pt["round"],
        "paratime_amount_text": "567 native",
        "evm": evm["id"],
        "erc20_tx": moved["transactionHash"],
        "erc20_to": erc20_to,
        "erc20_amount_text": "4\u{202f}321",
        "token": token_hex,
        "token_name": TOKEN_NAME,
    });
    let out = Command::new("node")
        .current_dir(browser_dir())
        .arg("explorer.test.mjs")
        .env("EXPLORER_URL", &explorer)
        .env("WEB3_URL", &web3_url)
        .env("ARTIFACTS_DIR", artifacts_dir())
        .env("CHROMIUM", CHROMIUM)
        .env("EXPLORER_FACTS", facts.to_string())
        .output()
        .expect("node (Node.js 20 or later) must be installed to run the browser test");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser test failed:\n{report}");
    assert!(artifacts_dir().join("network-dark.png").is_file());
    assert!(net.terminate().success());
}
