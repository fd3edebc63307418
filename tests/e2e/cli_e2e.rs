//! The `atoll` client end to end, as a user drives it: `atoll localnet
//! --single` (one validator, one compute node running the plain ParaTime),
//! then the `atoll` binary with `--json`:
//!
//! - wallets: create (passphrase file), import a development account,
//!   list and show without secrets, show the secret with the passphrase;
//! - consensus: fund a new wallet from a development account, transfer,
//!   escrow with a validator's entity and reclaim;
//! - ParaTime: a deposit without an allowance is refused with the `allow`
//!   command to run and changes nothing; allow, deposit, transfer (also to
//!   an Ethereum address), withdraw; an Ethereum development account
//!   transfers and withdraws to a consensus account;
//! - registry: an entity, a permissionless ParaTime and a node registered
//!   from descriptor files;
//! - bad input: wrong passphrase, unknown accounts, malformed amounts and
//!   addresses, an unreachable node, too large amounts: a non-zero exit, a
//!   message that says what is wrong, and nothing sent (nonces and balances
//!   unchanged).
//!
//! Every balance is checked after every step. Every wait is bounded; no
//! assertion depends on this machine's speed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::atoll;

const START_WAIT: Duration = Duration::from_secs(180);
/// Longest a single command may take (its own waits are bounded below this).
const COMMAND_WAIT: Duration = Duration::from_secs(240);

/// An `atoll localnet` process; stopped (SIGTERM) when dropped.
struct Localnet {
    dir: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
    child: Option<Child>,
}

impl Localnet {
    fn start(dir: &Path) -> Self {
        let stdout = dir.with_extension("stdout");
        let stderr = dir.with_extension("stderr");
        let child = Command::new(atoll())
            .args(["localnet", "--single", "--data-dir"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Self {
            dir: dir.to_path_buf(),
            stdout,
            stderr,
            child: Some(child),
        }
    }

    fn summary(&mut self) -> Value {
        let path = self.dir.join("localnet.json");
        let deadline = Instant::now() + START_WAIT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                return serde_json::from_str(&text).unwrap();
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "localnet exited with {status:?}:\n{}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "no localnet.json in time");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What the command printed, once it printed `needle` (bounded wait).
    fn stdout_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&self.stdout).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "{needle:?} not printed:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs(&self) -> String {
        let mut out = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        for node in ["validator-0", "compute-0"] {
            let text =
                std::fs::read_to_string(self.dir.join(node).join("node.log")).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("\n== {node} ==\n"));
            out.push_str(&lines[lines.len().saturating_sub(30)..].join("\n"));
        }
        out
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            atoll_localnet::process::terminate(&mut c, Duration::from_secs(30));
        }
    }
}

/// One run of the `atoll` binary.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

/// The user's environment: a localnet, a wallet directory, a passphrase.
struct User {
    localnet: PathBuf,
    wallets: PathBuf,
    passphrase: PathBuf,
    wrong_passphrase: PathBuf,
}

impl User {
    /// `atoll --json --localnet … --wallet-dir … --passphrase-file … ARGS`.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &self.passphrase)
    }

    fn run_with(&self, args: &[&str], passphrase: &Path) -> Run {
        let dir = self.localnet.parent().unwrap();
        let mut child = Command::new(atoll())
            .args(["--json", "--localnet"])
            .arg(&self.localnet)
            .arg("--wallet-dir")
            .arg(&self.wallets)
            .arg("--passphrase-file")
            .arg(passphrase)
            .args(args)
            .env_remove("ATOLL_PASSPHRASE")
            .env_remove("ATOLL_NODE")
            .env_remove("ATOLL_HOME")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read both pipes on threads, so a full pipe never blocks the child.
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out_t = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut out, &mut s).unwrap();
            s
        });
        let err_t = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut err, &mut s).unwrap();
            s
        });
        let deadline = Instant::now() + COMMAND_WAIT;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("atoll {args:?} did not finish within {COMMAND_WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Run {
            ok: status.success(),
            stdout: out_t.join().unwrap(),
            stderr: err_t.join().unwrap(),
        }
    }

    /// Runs a command that must succeed; its JSON output.
    fn ok(&self, args: &[&str]) -> Value {
        let r = self.run(args);
        assert!(r.ok, "atoll {args:?} failed:\n{}\n{}", r.stdout, r.stderr);
        r.json()
    }

    /// Runs a command that must fail with a message containing every one of
    /// `needles`; returns the message.
    fn fails(&self, args: &[&str], needles: &[&str]) -> String {
        self.fails_with(args, &self.passphrase, needles)
    }

    fn fails_with(&self, args: &[&str], passphrase: &Path, needles: &[&str]) -> String {
        let r = self.run_with(args, passphrase);
        assert!(!r.ok, "atoll {args:?} succeeded:\n{}", r.stdout);
        for n in needles {
            assert!(
                r.stderr.contains(n),
                "atoll {args:?}: {n:?} not in the message:\n{}",
                r.stderr
            );
        }
        // With --json the error is also a JSON document on stdout (clap's
        // own usage errors excepted).
        if !r.stdout.is_empty() {
            assert!(r.json()["error"].is_string(), "{}", r.stdout);
        }
        r.stderr
    }

    fn consensus(&self, who: &str) -> (u128, u64) {
        let a = self.ok(&["account", "show", who]);
        (amount(&a["balance"]), a["nonce"].as_u64().unwrap())
    }

    fn paratime(&self, who: &str) -> (u128, u64) {
        let a = self.ok(&["paratime", "show", "balance", who]);
        (amount(&a["balance"]), a["nonce"].as_u64().unwrap())
    }
}

fn amount(v: &Value) -> u128 {
    v.as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| v.as_u64().map(u128::from))
        .unwrap_or_else(|| panic!("not an amount: {v}"))
}

#[test]
fn cli_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("localnet");
    let mut net = Localnet::start(&dir);
    let summary = net.summary();
    let user = User {
        localnet: dir.clone(),
        wallets: tmp.path().join("wallets"),
        passphrase: tmp.path().join("passphrase"),
        wrong_passphrase: tmp.path().join("wrong"),
    };
    std::fs::write(&user.passphrase, "correct horse battery staple\n").unwrap();
    std::fs::write(&user.wrong_passphrase, "incorrect horse\n").unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&net, &summary, &user);
    }));
    if outcome.is_err() {
        eprintln!("{}", net.logs());
    }
    drop(net);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}

fn scenario(net: &Localnet, summary: &Value, user: &User) {
    // The command printed how long the network took to a ParaTime round.
    let printed = net.stdout_with("press Ctrl-C");
    assert!(
        printed.contains("time from start to the first finalized ParaTime round:"),
        "{printed}"
    );
    let runtime_account = summary["paratimes"][0]["consensus_address"]
        .as_str()
        .unwrap()
        .to_owned();

    // --- Wallets.
    let alice = user.ok(&["wallet", "create", "alice"]);
    let alice_addr = alice["address"].as_str().unwrap().to_owned();
    assert!(alice_addr.starts_with("oasis1"), "{alice}");
    user.ok(&["wallet", "create", "bob"]);
    let dev = user.ok(&["wallet", "import", "dev0", "--dev", "0"]);
    assert_eq!(dev["address"], summary["accounts"][0]["address"]);
    let eth = user.ok(&[
        "wallet",
        "import",
        "eth1",
        "--algorithm",
        "secp256k1",
        "--dev",
        "1",
    ]);
    assert_eq!(
        eth["eth_address"],
        summary["ethereum_accounts"][1]["address"]
    );
    assert_eq!(
        eth["address"],
        summary["ethereum_accounts"][1]["oasis_address"]
    );
    // Secrets stay in the files unless asked for with the passphrase.
    let list = user.run(&["wallet", "list"]);
    assert!(list.ok);
    assert_eq!(list.json().as_array().unwrap().len(), 4);
    let shown = user.ok(&["wallet", "show", "alice"]);
    assert!(shown.get("secret_key").is_none(), "{shown}");
    let secret = user.ok(&["wallet", "show", "dev0", "--show-secret"]);
    assert_eq!(
        secret["secret_key"], summary["accounts"][0]["private_key"],
        "{secret}"
    );
    for f in std::fs::read_dir(&user.wallets).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!text.contains(summary["accounts"][0]["private_key"].as_str().unwrap()));
    }
    user.fails(&["wallet", "create", "alice"], &["already exists"]);

    // --- Consensus: fund alice from a development account, transfer.
    let (dev_before, _) = user.consensus("dev0");
    let r = user.ok(&[
        "account",
        "transfer",
        "10_000_000",
        "alice",
        "--from",
        "dev0",
    ]);
    assert_eq!(r["to"], alice_addr.as_str());
    assert_eq!(user.consensus("alice"), (10_000_000, 0));
    assert_eq!(user.consensus("dev0").0, dev_before - 10_000_000);
    user.ok(&["account", "transfer", "1000000", "bob", "--from", "alice"]);
    assert_eq!(user.consensus("alice"), (9_000_000, 1));
    assert_eq!(user.consensus("bob"), (1_000_000, 0));

    // --- A deposit without an allowance: refused, with the fix spelled out.
    let status = user.ok(&["network", "status"]);
    assert!(status["latest_height"].as_u64().unwrap() >= 1);
    let runtime_before = user.consensus(&runtime_account).0;
    let msg = user.fails(
        &["paratime", "deposit", "3000000", "--from", "alice"],
        &[
            "allowance",
            "atoll account allow paratime:plain 3000000 --from alice",
            "--allow",
        ],
    );
    assert!(msg.contains("Nothing was sent"), "{msg}");
    assert_eq!(user.consensus("alice"), (9_000_000, 1));
    assert_eq!(user.paratime("alice"), (0, 0));

    // --- Allow, deposit, transfer, withdraw.
    let r = user.ok(&[
        "account",
        "allow",
        "paratime:plain",
        "3000000",
        "--from",
        "alice",
    ]);
    assert_eq!(r["beneficiary"], runtime_account.as_str());
    assert_eq!(amount(&r["allowance"]), 3_000_000);
    let r = user.ok(&["paratime", "deposit", "3000000", "--from", "alice"]);
    assert_eq!(amount(&r["recipient_balance"]), 3_000_000, "{r}");
    assert!(r["result_round"].as_u64().unwrap() >= r["round"].as_u64().unwrap());
    // The ParaTime took the tokens: alice's consensus nonce did not move.
    assert_eq!(user.consensus("alice"), (6_000_000, 2));
    assert_eq!(user.paratime("alice"), (3_000_000, 1));
    assert_eq!(
        user.consensus(&runtime_account).0,
        runtime_before + 3_000_000
    );
    let shown = user.ok(&["account", "show", "alice"]);
    assert!(
        shown["allowances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| amount(&a["amount"]) == 0),
        "the deposit used the allowance: {shown}"
    );

    user.ok(&["paratime", "transfer", "1000000", "bob", "--from", "alice"]);
    assert_eq!(user.paratime("alice"), (2_000_000, 2));
    assert_eq!(user.paratime("bob"), (1_000_000, 0));
    let eth1 = summary["ethereum_accounts"][1]["address"].as_str().unwrap();
    let (eth_before, _) = user.paratime(eth1);
    user.ok(&["paratime", "transfer", "250000", eth1, "--from", "alice"]);
    assert_eq!(user.paratime(eth1).0, eth_before + 250_000);
    assert_eq!(user.paratime("alice"), (1_750_000, 3));

    let r = user.ok(&["paratime", "withdraw", "500000", "--from", "alice"]);
    assert_eq!(amount(&r["recipient_balance"]), 6_500_000, "{r}");
    assert_eq!(user.paratime("alice"), (1_250_000, 4));
    assert_eq!(user.consensus("alice"), (6_500_000, 2));
    assert_eq!(
        user.consensus(&runtime_account).0,
        runtime_before + 2_500_000
    );

    // An Ethereum account (secp256k1) transfers and withdraws to a
    // consensus account; it cannot deposit or withdraw to itself.
    user.ok(&["paratime", "transfer", "100", "bob", "--from", "eth1"]);
    assert_eq!(user.paratime("bob"), (1_000_100, 0));
    user.fails(
        &["paratime", "withdraw", "100", "--from", "eth1"],
        &["--to"],
    );
    user.ok(&[
        "paratime", "withdraw", "400", "--from", "eth1", "--to", "bob",
    ]);
    assert_eq!(user.consensus("bob"), (1_000_400, 0));
    assert_eq!(user.paratime(eth1).0, eth_before + 250_000 - 500);
    user.fails(
        &["paratime", "deposit", "1", "--from", "eth1"],
        &["ed25519"],
    );

    // A round, as the command shows it.
    let round = user.ok(&["paratime", "show", "round"]);
    assert!(round["round"].as_u64().unwrap() >= 1, "{round}");
    assert!(round["state_root"].is_string(), "{round}");

    // --- Registry: an entity and a permissionless ParaTime.
    let r = user.ok(&["registry", "register", "entity", "--from", "bob"]);
    let bob_entity = r["entity"].as_str().unwrap().to_owned();
    let descriptor = user.localnet.parent().unwrap().join("runtime.json");
    let runtime_id = "0000000000000000a70110a70110a70110a70110a70110a70110a70110a70110";
    std::fs::write(
        &descriptor,
        json!({
            "id": runtime_id,
            "kind": "compute",
            "executor": { "group_size": 1, "group_backup_size": 1, "allowed_stragglers": 0, "round_timeout": 10 },
            "txn_scheduler": { "max_batch_size": 1000, "max_batch_size_bytes": 1048576, "batch_flush_timeout_ms": 100, "propose_batch_timeout_ms": 1000 },
            "storage": { "checkpoint_interval": 0, "checkpoint_num_kept": 0, "checkpoint_chunk_size": 0 },
            "admission_policy": { "any_node": {} }
        })
        .to_string(),
    )
    .unwrap();
    let r = user.ok(&[
        "registry",
        "register",
        "runtime",
        descriptor.to_str().unwrap(),
        "--from",
        "bob",
    ]);
    assert_eq!(r["runtime"], runtime_id);
    let runtimes = user.ok(&["registry", "show", "runtimes"]);
    let ours = runtimes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == runtime_id)
        .unwrap_or_else(|| panic!("{runtimes}"));
    assert_eq!(ours["entity_id"], bob_entity.as_str());
    // The localnet's plain and evm ParaTimes, and the one just registered.
    let list = user.ok(&["paratime", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    // A node of bob's entity: its keys from `atoll identity init`, listed by
    // the entity, its descriptor signed with those keys.
    let identity = user.localnet.parent().unwrap().join("bob-node");
    let out = Command::new(atoll())
        .args(["identity", "init"])
        .arg(&identity)
        .output()
        .unwrap();
    assert!(out.status.success());
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entity_file = user.localnet.parent().unwrap().join("entity.json");
    std::fs::write(&entity_file, json!({ "nodes": [keys["node"]] }).to_string()).unwrap();
    user.ok(&[
        "registry",
        "register",
        "entity",
        entity_file.to_str().unwrap(),
        "--from",
        "bob",
    ]);
    let epoch = user.ok(&["network", "status"])["epoch"].as_u64().unwrap();
    let node_file = user.localnet.parent().unwrap().join("node.json");
    std::fs::write(
        &node_file,
        json!({
            "expiration": epoch + 2,
            "roles": 2,
            "p2p": { "addresses": [] },
            "consensus": { "addresses": [] },
        })
        .to_string(),
    )
    .unwrap();
    let r = user.ok(&[
        "registry",
        "register",
        "node",
        node_file.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--from",
        "bob",
    ]);
    assert_eq!(r["node"], keys["node"]);
    let nodes = user.ok(&["registry", "show", "nodes"]);
    assert!(
        nodes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == keys["node"] && n["entity_id"] == bob_entity.as_str()),
        "{nodes}"
    );
    assert_eq!(user.consensus("bob"), (1_000_400, 4));

    // --- Bad input: clear messages, non-zero exits, nothing sent.
    let alice_consensus = user.consensus("alice");
    let alice_paratime = user.paratime("alice");
    user.fails_with(
        &["account", "transfer", "1", "bob", "--from", "alice"],
        &user.wrong_passphrase,
        &["wrong passphrase for wallet alice"],
    );
    user.fails_with(
        &["wallet", "show", "alice", "--show-secret"],
        &user.wrong_passphrase,
        &["wrong passphrase"],
    );
    user.fails_with(
        &["paratime", "transfer", "1", "bob", "--from", "alice"],
        &user.wrong_passphrase,
        &["wrong passphrase"],
    );
    user.fails(
        &["account", "transfer", "1", "carol", "--from", "alice"],
        &["unknown account \"carol\"", "wallet list"],
    );
    user.fails(
        &["account", "transfer", "1", "bob", "--from", "carol"],
        &["unknown account \"carol\""],
    );
    user.fails(&["account", "show", "carol"], &["unknown account"]);
    user.fails(
        &["paratime", "show", "balance", "carol"],
        &["unknown account"],
    );
    for bad in [
        "1.5",
        "-3",
        "12abc",
        "1e3",
        "0",
        "",
        "340282366920938463463374607431768211456",
    ] {
        user.fails(
            &["account", "transfer", bad, "bob", "--from", "alice"],
            &["amount"],
        );
        user.fails(
            &["paratime", "deposit", bad, "--from", "alice", "--allow"],
            &["amount"],
        );
    }
    user.fails(
        &["account", "transfer", "1.5", "bob", "--from", "alice"],
        &["--decimals"],
    );
    let mut broken = alice_addr.clone();
    let last = broken.pop().unwrap();
    broken.push(if last == 'q' { 'p' } else { 'q' });
    for (bad, needle) in [
        (broken.as_str(), "malformed address"),
        ("oasis1xyz", "malformed address"),
        ("0x1234", "malformed Ethereum address"),
        (
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb9226G",
            "malformed Ethereum address",
        ),
    ] {
        user.fails(
            &["account", "transfer", "1", bad, "--from", "alice"],
            &[needle],
        );
        user.fails(
            &["paratime", "transfer", "1", bad, "--from", "alice"],
            &[needle],
        );
    }
    user.fails(
        &[
            "account",
            "transfer",
            "999999999999",
            "bob",
            "--from",
            "alice",
        ],
        &["insufficient balance", "nothing was sent"],
    );
    user.fails(
        &[
            "paratime",
            "transfer",
            "999999999999",
            "bob",
            "--from",
            "alice",
        ],
        &["insufficient balance"],
    );
    user.fails(
        &["paratime", "withdraw", "999999999999", "--from", "alice"],
        &["insufficient balance"],
    );
    user.fails(
        &["paratime", "show", "balance", "alice", "--paratime", "wasm"],
        &["unknown ParaTime \"wasm\"", "plain, evm"],
    );
    // An unreachable node.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["account", "transfer", "1", "bob", "--from", "alice"],
        vec!["paratime", "deposit", "1", "--from", "alice"],
        vec!["account", "show", "alice"],
        vec!["network", "status"],
    ] {
        let mut args = args;
        args.extend(["--node", nowhere.as_str()]);
        user.fails(&args, &["cannot reach the node", &nowhere, "--node"]);
    }
    user.fails(
        &["network", "status", "--node", "https://127.0.0.1:1"],
        &["cannot reach the node", "https://127.0.0.1:1", "--node"],
    );
    // A validator serves no ParaTime.
    let validator = summary["nodes"][0]["rpc_url"].as_str().unwrap();
    user.fails(
        &[
            "paratime", "transfer", "1", "bob", "--from", "alice", "--node", validator,
        ],
        &["serves no ParaTime", "compute node"],
    );
    user.fails(
        &[
            "paratime",
            "transfer",
            "1",
            "bob",
            "--from",
            "alice",
            "--paratime",
            "plain",
            "--node",
            validator,
        ],
        &["does not serve ParaTime plain", "compute node"],
    );
    // Nothing of the above reached the network.
    assert_eq!(user.consensus("alice"), alice_consensus);
    assert_eq!(user.paratime("alice"), alice_paratime);
    // --- Escrow with the validator's entity, then reclaim half of it: the
    // stake comes back when debonding ends (an epoch later).
    let entity = status["validators"][0]["entity"]
        .as_str()
        .unwrap()
        .to_owned();
    let pool =
        |who: &str| amount(&user.ok(&["account", "show", who])["escrow"]["active"]["balance"]);
    let pool_before = pool(&entity);
    let (balance, nonce) = user.consensus("alice");
    user.ok(&["account", "escrow", "2000000", &entity, "--from", "alice"]);
    assert_eq!(user.consensus("alice"), (balance - 2_000_000, nonce + 1));
    assert_eq!(pool(&entity), pool_before + 2_000_000);
    let shown = user.ok(&["account", "show", "alice"]);
    let delegation = shown["delegations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["escrow"] == entity.as_str() && d.get("shares").is_some())
        .unwrap_or_else(|| panic!("no delegation: {shown}"))
        .clone();
    let shares = amount(&delegation["shares"]);
    assert!(shares > 0);
    assert_eq!(amount(&delegation["value"]), 2_000_000, "{delegation}");
    user.fails(
        &[
            "account",
            "reclaim",
            &(shares + 1).to_string(),
            &entity,
            "--from",
            "alice",
        ],
        &["fewer than"],
    );
    let half = shares / 2;
    user.ok(&[
        "account",
        "reclaim",
        &half.to_string(),
        &entity,
        "--from",
        "alice",
    ]);
    let shown = user.ok(&["account", "show", "alice"]);
    assert!(
        shown["delegations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.get("shares").is_some() && amount(&d["shares"]) == shares - half),
        "{shown}"
    );
    let returned = 1_000_000;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let shown = user.ok(&["account", "show", "alice"]);
        let debonding = shown["delegations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.get("debond_end").is_some());
        let now = amount(&shown["balance"]);
        if !debonding && now == balance - 2_000_000 + returned {
            break;
        }
        assert!(
            debonding && now == balance - 2_000_000,
            "while debonding, the balance stays: {shown}"
        );
        assert!(
            Instant::now() < deadline,
            "the stake did not return: {shown}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(pool(&entity), pool_before + 1_000_000);
}
