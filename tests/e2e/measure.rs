//! Private measurement on a localnet: one validator and three compute nodes
//! running the built-in measurement ParaTime (`atoll runtime-measure`).
//!
//! A histogram task with three facilitators: 30 synthetic reports whose
//! true histogram the test knows are sealed to the facilitators, verified
//! jointly and aggregated with `atoll-measure` (in this process, standing in
//! for the facilitator processes), the input party commits its batch, the
//! facilitators commit to and reveal their shares through transactions, and
//! the chain publishes exactly the true histogram (the small bucket
//! suppressed); `atoll measure task result` prints the same. A second task:
//! a facilitator reveals a share that is not the one it committed to and is
//! named on chain. A third task is registered with `atoll measure task
//! create` from a task file and a wallet. Garbage bodies and task files get
//! typed errors. Every wait is bounded; nothing depends on this machine's
//! speed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{atoll, call, node_api};
use crate::runtimes::{self, b64};
use atoll_localnet::RuntimePlan;
use atoll_localnet::harness::Network;
use atoll_measure::{
    AggregateShare, Aggregation, Measurement as M, Metric, ReportId, TaskConfig, TaskId,
    commitment, prepare_report, seal::KeyPair,
};
use atoll_rpc::api::RuntimeRpcClient as _;
use atoll_runtime_measure::types::{
    CommitBatch, CommitShare, CreateTask, Facilitator, RevealShare, Status, Task, TaskRef,
};
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_types::{Namespace, Quantity, cbor};
use base64::Engine as _;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(240);

struct Net {
    net: Network,
    id: Namespace,
    rpc: SocketAddr,
    /// Wallets and the passphrase file of the CLI runs.
    home: std::path::PathBuf,
}

impl Net {
    /// Submits a call and waits for its result: `Ok(value)` or `Err((module, code))`.
    fn send<T: serde::Serialize>(
        &self,
        who: &TxSigner,
        nonce: &mut u64,
        method: &str,
        body: &T,
    ) -> Result<Value, (String, u64)> {
        let raw = runtimes::runtime_tx(
            &self.net.chain,
            &self.id,
            who,
            *nonce,
            method,
            cbor::to_value(body).unwrap(),
            0,
            500_000,
        );
        let r = match call(
            self.rpc,
            "runtime_submitTx",
            json!([self.id.to_string(), b64(&raw), true]),
        ) {
            Ok(r) => r,
            // Refused when checked: the nonce is not used.
            Err(e) => {
                let module = e["data"]["module"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method}: {e}"));
                return Err((module.to_owned(), e["data"]["code"].as_u64().unwrap()));
            }
        };
        *nonce += 1;
        let result = &r["result"]["result"];
        if let Some(fail) = result.get("fail") {
            return Err((
                fail["module"].as_str().unwrap().to_owned(),
                fail["code"].as_u64().unwrap(),
            ));
        }
        Ok(result["ok"].clone())
    }

    fn task(&self, task: TaskId) -> Task {
        let args = b64(&cbor::to_vec(&TaskRef { task }).unwrap());
        let id = self.id.to_string();
        let r = node_api(self.rpc, |c| async move {
            c.query(id, "measurement.Task".into(), Some(args), None)
                .await
        })
        .unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&r.cbor)
            .unwrap();
        cbor::from_slice(&raw).unwrap()
    }

    /// `atoll --json --node URL COMMAND... --paratime ID`: its JSON output and whether it succeeded.
    fn cli(&self, args: &[&str]) -> (Value, bool) {
        let out = std::process::Command::new(atoll())
            .args([
                "--json",
                "--node",
                &format!("http://{}", self.rpc),
                "--localnet",
                "/nonexistent",
            ])
            .arg("--wallet-dir")
            .arg(self.home.join("wallets"))
            .arg("--passphrase-file")
            .arg(self.home.join("passphrase"))
            .args(args)
            .args(["--paratime", &self.id.to_string()])
            .env_remove("ATOLL_NODE")
            .env_remove("ATOLL_HOME")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"));
        (v, out.status.success())
    }

    fn round(&self) -> u64 {
        runtimes::latest_round(self.rpc, &self.id).unwrap_or(0)
    }

    fn wait_round_past(&self, round: u64) {
        runtimes::wait_for("the deadline to pass", WAIT, || {
            (self.round() > round + 1).then_some(())
        });
    }
}

struct Party {
    signer: TxSigner,
    nonce: u64,
}

fn party(seed: u8) -> Party {
    Party {
        signer: runtimes::signer(seed),
        nonce: 0,
    }
}

/// The facilitators' work off chain: open, verify jointly, aggregate.
fn aggregate(
    task: &TaskConfig,
    keys: &[KeyPair],
    reports: &[atoll_measure::Report],
) -> (Vec<AggregateShare>, BTreeSet<ReportId>, usize) {
    let mut aggs: Vec<Aggregation> = (0..keys.len())
        .map(|i| Aggregation::new(task, i, [5; 32]).unwrap())
        .collect();
    let mut ids = BTreeSet::new();
    let mut refused = 0;
    for r in reports {
        ids.insert(r.report_id);
        let vs: Vec<Vec<u8>> = aggs
            .iter_mut()
            .enumerate()
            .map(|(i, a)| {
                a.start(
                    r.report_id,
                    &r.public_share,
                    &r.open_share(task, i, &keys[i]).unwrap(),
                )
                .unwrap()
            })
            .collect();
        match aggs[0].combine(&r.report_id, &vs) {
            Ok(msg) => aggs
                .iter_mut()
                .for_each(|a| a.finish(&r.report_id, &msg).unwrap()),
            Err(_) => {
                refused += 1;
                aggs.iter_mut().for_each(|a| {
                    a.abandon(&r.report_id);
                });
            }
        }
    }
    (
        aggs.iter().map(|a| a.aggregate_share().unwrap()).collect(),
        ids,
        refused,
    )
}

#[test]
fn a_histogram_is_published_exactly_and_a_lying_facilitator_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = RuntimePlan::measure("measure", vec![0, 1, 2]);
    let mut creator = party(40);
    plan.genesis = Some(runtimes::funded_genesis(
        creator.signer.address(),
        1_000_000,
    ));
    plan.idle_round_ms = Some(300);
    let id = plan.id;
    let net = Network::builder(atoll())
        .one_validator(3)
        .runtime(plan)
        .start(dir.path())
        .unwrap();
    let rpc = net.rpc("compute-0").unwrap();
    std::fs::write(
        dir.path().join("passphrase"),
        "correct horse battery staple\n",
    )
    .unwrap();
    let net = Net {
        net,
        id,
        rpc,
        home: dir.path().to_owned(),
    };
    runtimes::wait_for("the first round", WAIT, || (net.round() >= 1).then_some(()));

    let mut input = party(41);
    let mut facs: Vec<Party> = (0..3).map(|i| party(42 + i)).collect();
    let keys: Vec<KeyPair> = (0..3).map(|i| KeyPair::from_seed(&[60 + i; 32])).collect();
    let spec = |metric: Metric, deadline_round: u64, facs: &[Party]| CreateTask {
        label: "e2e".into(),
        metric,
        facilitators: facs
            .iter()
            .zip(&keys)
            .map(|(p, k)| Facilitator {
                address: p.signer.address(),
                hpke_key: k.public,
                endpoint: "127.0.0.1:1".into(),
            })
            .collect(),
        input_parties: vec![input.signer.address()],
        min_group_size: 3,
        noise: None,
        deadline_round,
        grace_rounds: 200,
    };

    // Garbage first: typed errors, nothing created.
    let e = net
        .send(
            &creator.signer,
            &mut creator.nonce,
            "measurement.CreateTask",
            &Value::Null,
        )
        .unwrap_err();
    assert_eq!(e.0, "core");
    let mut bad = spec(Metric::histogram(4), net.round() + 20, &facs);
    bad.facilitators.truncate(1);
    let e = net
        .send(
            &creator.signer,
            &mut creator.nonce,
            "measurement.CreateTask",
            &bad,
        )
        .unwrap_err();
    assert_eq!(e, ("measurement".to_owned(), 1));

    // Task A: a histogram over 30 synthetic answers.
    let deadline = net.round() + 15;
    let a_spec = spec(Metric::histogram(4), deadline, &facs);
    let created = net
        .send(
            &creator.signer,
            &mut creator.nonce,
            "measurement.CreateTask",
            &a_spec,
        )
        .unwrap();
    // Task ids count up from the first; the refused registrations took none.
    let a = atoll_runtime_measure::rules::task_id(0);
    assert_eq!(created, json!(format!("0x{}", hex::encode(a.0))));
    let task_a = TaskConfig {
        task_id: a,
        metric: a_spec.metric,
        facilitator_keys: keys.iter().map(|k| k.public).collect(),
    };
    let answers: Vec<u32> = (0..30u32)
        .map(|i| if i % 10 == 9 { 3 } else { i % 3 })
        .collect();
    let mut truth = [0u128; 4];
    for x in &answers {
        truth[*x as usize] += 1;
    }
    let mut reports: Vec<_> = answers
        .iter()
        .map(|x| prepare_report(&task_a, &M::Histogram(*x)).unwrap())
        .collect();
    // A malformed report: a share altered after sharding; the proof refuses it.
    let mut cheat = prepare_report(&task_a, &M::Histogram(0)).unwrap();
    let mut share = cheat.open_share(&task_a, 1, &keys[1]).unwrap();
    share[3] ^= 0x40;
    let aad = atoll_measure::Report::seal_aad(&task_a, &cheat.report_id, &cheat.public_share);
    cheat.shares[1] =
        atoll_measure::seal::seal(&keys[1].public, &task_a.seal_info(1), &aad, &share).unwrap();
    reports.push(cheat);
    let (shares, ids, refused) = aggregate(&task_a, &keys, &reports);
    assert_eq!(refused, 1);
    let digest = commitment::batch_digest(&a, &ids);
    net.send(
        &input.signer,
        &mut input.nonce,
        "measurement.CommitBatch",
        &CommitBatch {
            task: a,
            digest,
            report_count: 31,
        },
    )
    .unwrap();
    net.wait_round_past(deadline);
    for (i, p) in facs.iter_mut().enumerate() {
        let c = commitment::share_commitment(&a, i as u8, &shares[i]);
        net.send(
            &p.signer,
            &mut p.nonce,
            "measurement.CommitShare",
            &CommitShare {
                task: a,
                batch_digest: digest,
                report_count: 30,
                commitment: c,
            },
        )
        .unwrap();
    }
    for (i, p) in facs.iter_mut().enumerate() {
        net.send(
            &p.signer,
            &mut p.nonce,
            "measurement.RevealShare",
            &RevealShare {
                task: a,
                share: shares[i].bytes.clone(),
            },
        )
        .unwrap();
    }
    match net.task(a).status {
        Status::Published {
            result,
            suppressed,
            report_count,
            ..
        } => {
            // truth = [10, 9, 8, 3] minus nothing: bucket 3 has 3 = min_group_size.
            let expected: Vec<Quantity> = truth.iter().map(|x| Quantity(*x)).collect();
            assert_eq!(result, expected);
            assert!(suppressed.is_empty());
            assert_eq!(report_count, 30);
        }
        other => panic!("{other:?}"),
    }

    // The CLI reads the same record.
    let hex_a = hex::encode(a.0);
    let (v, ok) = net.cli(&["measure", "task", "result", &hex_a]);
    assert!(ok, "{v}");
    let shown: Vec<String> = truth.iter().map(|x| x.to_string()).collect();
    assert_eq!(v["result"], json!(shown), "{v}");
    assert_eq!(v["report_count"], 30, "{v}");
    let (v, ok) = net.cli(&["measure", "task", "status", &hex_a]);
    assert!(ok, "{v}");
    assert_eq!(v["batches"][0]["report_count"], 31, "{v}");
    assert_eq!(v["facilitators"][2]["commitment"]["revealed"], true, "{v}");
    let (v, ok) = net.cli(&["measure", "task", "status", "not-a-task"]);
    assert!(
        !ok && v["error"].as_str().unwrap().contains("64 hex digits"),
        "{v}"
    );
    let (v, ok) = net.cli(&["measure", "task", "status", &hex::encode([0xee; 32])]);
    assert!(!ok && v["error"].as_str().is_some(), "{v}");

    // Task B: a count; facilitator 2 reveals something else than it committed to.
    let deadline = net.round() + 10;
    let b_spec = spec(Metric::Count, deadline, &facs);
    net.send(
        &creator.signer,
        &mut creator.nonce,
        "measurement.CreateTask",
        &b_spec,
    )
    .unwrap();
    let b = atoll_runtime_measure::rules::task_id(1);
    let task_b = TaskConfig {
        task_id: b,
        metric: Metric::Count,
        facilitator_keys: task_a.facilitator_keys.clone(),
    };
    let reports: Vec<_> = (0..5)
        .map(|i| prepare_report(&task_b, &M::Count(i % 2 == 0)).unwrap())
        .collect();
    let (shares, ids, _) = aggregate(&task_b, &keys, &reports);
    let digest = commitment::batch_digest(&b, &ids);
    net.send(
        &input.signer,
        &mut input.nonce,
        "measurement.CommitBatch",
        &CommitBatch {
            task: b,
            digest,
            report_count: 5,
        },
    )
    .unwrap();
    net.wait_round_past(deadline);
    for (i, p) in facs.iter_mut().enumerate() {
        let c = commitment::share_commitment(&b, i as u8, &shares[i]);
        net.send(
            &p.signer,
            &mut p.nonce,
            "measurement.CommitShare",
            &CommitShare {
                task: b,
                batch_digest: digest,
                report_count: 5,
                commitment: c,
            },
        )
        .unwrap();
    }
    let mut lie = shares[2].bytes.clone();
    lie[0] ^= 1;
    let liar = facs[2].signer.address();
    let p = &mut facs[2];
    net.send(
        &p.signer,
        &mut p.nonce,
        "measurement.RevealShare",
        &RevealShare {
            task: b,
            share: lie,
        },
    )
    .unwrap();
    match net.task(b).status {
        Status::Failed { culprits, .. } => assert_eq!(culprits, vec![liar]),
        other => panic!("{other:?}"),
    }
    let (v, ok) = net.cli(&["measure", "task", "result", &hex::encode(b.0)]);
    assert!(
        !ok && v["error"].as_str().unwrap().contains(&liar.to_string()),
        "{v}"
    );

    // Task C, registered with the CLI from a task file by the creator's wallet.
    let secret = net.home.join("creator.key");
    std::fs::write(&secret, hex::encode([40u8; 32])).unwrap();
    let secret_arg = secret.to_str().unwrap().to_owned();
    let out = std::process::Command::new(atoll())
        .args(["--json", "--wallet-dir"])
        .arg(net.home.join("wallets"))
        .arg("--passphrase-file")
        .arg(net.home.join("passphrase"))
        .args(["wallet", "import", "creator", "--secret-file", &secret_arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = net.home.join("task.json");
    let facilitators: Vec<Value> = facs
        .iter()
        .zip(&keys)
        .map(|(p, k)| json!({"address": p.signer.address().to_string(), "hpke_key": hex::encode(k.public), "endpoint": "127.0.0.1:9"}))
        .collect();
    let task_file = json!({
        "label": "from the CLI", "metric": {"histogram": {"length": 8, "chunk_length": 3}},
        "facilitators": facilitators, "input_parties": [input.signer.address().to_string()],
        "min_group_size": 2, "deadline_in_rounds": 20, "grace_rounds": 50,
    });
    std::fs::write(&file, task_file.to_string()).unwrap();
    let file_arg = file.to_str().unwrap().to_owned();
    let (v, ok) = net.cli(&["measure", "task", "create", &file_arg, "--from", "creator"]);
    assert!(ok, "{v}");
    let c = atoll_runtime_measure::rules::task_id(2);
    assert_eq!(v["task"], json!(hex::encode(c.0)), "{v}");
    let (v, ok) = net.cli(&["measure", "task", "status", &hex::encode(c.0)]);
    assert!(ok, "{v}");
    assert_eq!(v["label"], "from the CLI", "{v}");
    assert_eq!(v["status"], json!({"open": null}), "{v}");
    // Too early to close it; once its grace period is over, closing names
    // the three facilitators, none of whom committed.
    let (v, ok) = net.cli(&[
        "measure",
        "task",
        "close",
        &hex::encode(c.0),
        "--from",
        "creator",
    ]);
    assert!(
        !ok && v["error"].as_str().unwrap().contains("grace period"),
        "{v}"
    );
    let end = net.task(c).spec.deadline_round + 50;
    net.wait_round_past(end);
    let (v, ok) = net.cli(&[
        "measure",
        "task",
        "close",
        &hex::encode(c.0),
        "--from",
        "creator",
    ]);
    assert!(ok, "{v}");
    let named: Vec<String> = facs
        .iter()
        .map(|p| p.signer.address().to_string())
        .collect();
    assert_eq!(v["status"]["failed"]["culprits"], json!(named), "{v}");
    // A task file that is not one: refused before anything is sent.
    std::fs::write(&file, r#"{"label": "x", "metric": "count", "surprise": 1}"#).unwrap();
    let (v, ok) = net.cli(&["measure", "task", "create", &file_arg, "--from", "creator"]);
    assert!(
        !ok && v["error"].as_str().unwrap().contains("not a task file"),
        "{v}"
    );
}
