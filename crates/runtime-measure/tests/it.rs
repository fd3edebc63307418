//! The `measurement` module inside a runtime: a whole Prio3 measurement
//! through transactions, with the facilitators' aggregation done by
//! `atoll-measure` off chain; a withholding and a lying facilitator named;
//! hostile bodies refused without a state change.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::{BTreeMap, BTreeSet};

use atoll_crypto::context::ChainContext;
use atoll_crypto::{Address, Hash, ed25519};
use atoll_measure::{
    AggregateShare, Aggregation, Measurement as M, Metric, TaskConfig, TaskId, commitment,
    prepare_report, seal::KeyPair,
};
use atoll_runtime_measure::types::{
    CommitBatch, CommitShare, CreateTask, Facilitator, RevealShare, Status, Task, TaskRef,
};
use atoll_runtime_measure::{MODULE_NAME, Measurement};
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction};
use atoll_runtime_sdk::modules::consensus_accounts::{self, ConsensusAccounts};
use atoll_runtime_sdk::modules::{accounts, core};
use atoll_runtime_sdk::state::MemStore;
use atoll_runtime_sdk::types::{BaseUnits, CallResult, Denomination, SignerInfo, Transaction};
use atoll_runtime_sdk::{BatchContext, Runtime, RuntimeGenesis};
use atoll_types::cbor::{self, Value};
use atoll_types::{Namespace, Quantity};

const GAS: u64 = 200_000;

fn signer(seed: u8) -> TxSigner {
    TxSigner::Ed25519(ed25519::SigningKey::from_seed(&[seed; 32]))
}

fn ctx(round: u64) -> BatchContext {
    BatchContext::new(
        Namespace([7; 32]),
        ChainContext::from_hash(&Hash::digest(b"measure test")),
        round,
        100 + round,
        1,
    )
    .unwrap()
}

struct Chain {
    rt: Runtime,
    store: MemStore,
    nonces: BTreeMap<Address, u64>,
    round: u64,
}

impl Chain {
    fn new(funded: &[&TxSigner]) -> Self {
        let rt = Runtime::builder()
            .module(ConsensusAccounts)
            .module(Measurement)
            .build()
            .unwrap();
        let each = 1_000_000_000u128;
        let balances = funded
            .iter()
            .map(|s| {
                (
                    s.address(),
                    BTreeMap::from([(Denomination::NATIVE, Quantity(each))]),
                )
            })
            .collect();
        let genesis = RuntimeGenesis::default()
            .with(
                "core",
                &core::Genesis {
                    parameters: core::Parameters::default(),
                },
            )
            .unwrap()
            .with(
                "accounts",
                &accounts::Genesis {
                    parameters: accounts::Parameters::default(),
                    accounts: BTreeMap::new(),
                    balances,
                    total_supplies: BTreeMap::from([(
                        Denomination::NATIVE,
                        Quantity(each * funded.len() as u128),
                    )]),
                },
            )
            .unwrap()
            .with(
                "consensus_accounts",
                &consensus_accounts::Genesis::default(),
            )
            .unwrap();
        let mut store = MemStore::new();
        rt.init_genesis(&mut store, &genesis).unwrap();
        Chain {
            rt,
            store,
            nonces: BTreeMap::new(),
            round: 1,
        }
    }

    /// Sends one call in its own round; returns its result.
    fn call<T: serde::Serialize>(&mut self, who: &TxSigner, method: &str, body: &T) -> CallResult {
        let nonce = self.nonces.entry(who.address()).or_default();
        let mut tx = Transaction::new(method, cbor::to_value(body).unwrap());
        tx.auth_info.signer_info.push(SignerInfo {
            address_spec: who.address_spec(),
            nonce: *nonce,
        });
        tx.auth_info.fee.gas = GAS;
        tx.auth_info.fee.amount = BaseUnits::native(0);
        let c = ctx(self.round);
        let raw =
            cbor::to_vec(&sign_transaction(c.signature_context(), &tx, &[who]).unwrap()).unwrap();
        let r = self.rt.execute_batch(&c, &mut self.store, &[raw]).unwrap();
        self.round += 1;
        let result = r.results.into_iter().next().unwrap().result;
        *nonce += 1;
        result
    }

    fn ok<T: serde::Serialize>(&mut self, who: &TxSigner, method: &str, body: &T) -> Value {
        match self.call(who, method, body) {
            CallResult::Ok(v) => v,
            other => panic!("{method}: {other:?}"),
        }
    }

    fn task(&self, id: TaskId) -> Task {
        let raw = self
            .rt
            .query(
                &ctx(self.round),
                &self.store,
                "measurement.Task",
                &cbor::to_vec(&TaskRef { task: id }).unwrap(),
            )
            .unwrap();
        cbor::from_slice(&raw).unwrap()
    }
}

fn failed_code(r: &CallResult) -> u32 {
    match r {
        CallResult::Failed { module, code, .. } if module == MODULE_NAME => *code,
        other => panic!("expected a measurement error, got {other:?}"),
    }
}

struct Setup {
    chain: Chain,
    creator: TxSigner,
    party: TxSigner,
    facilitators: Vec<TxSigner>,
    keys: Vec<KeyPair>,
}

fn setup(n: usize) -> Setup {
    let creator = signer(1);
    let party = signer(2);
    let facilitators: Vec<TxSigner> = (0..n).map(|i| signer(10 + i as u8)).collect();
    let keys = (0..n)
        .map(|i| KeyPair::from_seed(&[50 + i as u8; 32]))
        .collect();
    let mut all = vec![&creator, &party];
    all.extend(facilitators.iter());
    let chain = Chain::new(&all);
    Setup {
        chain,
        creator,
        party,
        facilitators,
        keys,
    }
}

impl Setup {
    fn spec(&self, metric: Metric, deadline_round: u64) -> CreateTask {
        CreateTask {
            label: "test".into(),
            metric,
            facilitators: self
                .facilitators
                .iter()
                .zip(&self.keys)
                .map(|(s, k)| Facilitator {
                    address: s.address(),
                    hpke_key: k.public,
                    endpoint: "127.0.0.1:1".into(),
                })
                .collect(),
            input_parties: vec![self.party.address()],
            min_group_size: 0,
            noise: None,
            deadline_round,
            grace_rounds: 10,
        }
    }

    fn create(&mut self, spec: &CreateTask) -> TaskId {
        let creator = self.creator.clone();
        let v = self.chain.ok(&creator, "measurement.CreateTask", spec);
        cbor::from_value(v).unwrap()
    }
}

/// The facilitators aggregate `measurements` off chain; returns their shares and the batch ids.
fn aggregate(
    task: &TaskConfig,
    keys: &[KeyPair],
    measurements: &[M],
) -> (Vec<AggregateShare>, BTreeSet<atoll_measure::ReportId>) {
    let mut aggs: Vec<Aggregation> = (0..keys.len())
        .map(|i| Aggregation::new(task, i, [3; 32]).unwrap())
        .collect();
    let mut ids = BTreeSet::new();
    for m in measurements {
        let r = prepare_report(task, m).unwrap();
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
        let msg = aggs[0].combine(&r.report_id, &vs).unwrap();
        for a in &mut aggs {
            a.finish(&r.report_id, &msg).unwrap();
        }
    }
    (
        aggs.iter().map(|a| a.aggregate_share().unwrap()).collect(),
        ids,
    )
}

fn config(id: TaskId, spec: &CreateTask) -> TaskConfig {
    TaskConfig {
        task_id: id,
        metric: spec.metric,
        facilitator_keys: spec.facilitators.iter().map(|f| f.hpke_key).collect(),
    }
}

#[test]
fn a_histogram_is_published_from_the_committed_shares_and_small_buckets_are_suppressed() {
    let mut s = setup(3);
    let mut spec = s.spec(Metric::histogram(4), 4);
    spec.min_group_size = 2;
    let id = s.create(&spec);
    let buckets = [0u32, 1, 1, 2, 2, 2, 0, 1, 1];
    let (shares, ids) = aggregate(&config(id, &spec), &s.keys, &buckets.map(M::Histogram));
    let digest = commitment::batch_digest(&id, &ids);
    let party = s.party.clone();
    s.chain.ok(
        &party,
        "measurement.CommitBatch",
        &CommitBatch {
            task: id,
            digest,
            report_count: 9,
        },
    );
    // Facilitators may not commit before the deadline.
    let f0 = s.facilitators[0].clone();
    let early = CommitShare {
        task: id,
        batch_digest: digest,
        report_count: 9,
        commitment: [0; 32],
    };
    assert_eq!(
        failed_code(&s.chain.call(&f0, "measurement.CommitShare", &early)),
        4
    );
    while s.chain.round <= spec.deadline_round {
        s.chain.round += 1;
    }
    // The input party may not commit after it.
    let late = CommitBatch {
        task: id,
        digest,
        report_count: 1,
    };
    assert_eq!(
        failed_code(&s.chain.call(&party, "measurement.CommitBatch", &late)),
        4
    );
    for (i, f) in s.facilitators.clone().iter().enumerate() {
        let c = commitment::share_commitment(&id, i as u8, &shares[i]);
        s.chain.ok(
            f,
            "measurement.CommitShare",
            &CommitShare {
                task: id,
                batch_digest: digest,
                report_count: 9,
                commitment: c,
            },
        );
    }
    for (i, f) in s.facilitators.clone().iter().enumerate() {
        assert!(matches!(s.chain.task(id).status, Status::Open));
        s.chain.ok(
            f,
            "measurement.RevealShare",
            &RevealShare {
                task: id,
                share: shares[i].bytes.clone(),
            },
        );
    }
    let task = s.chain.task(id);
    match task.status {
        Status::Published {
            result,
            suppressed,
            report_count,
            digest,
            ..
        } => {
            // True histogram [2, 4, 3, 0]; bucket 3 (0 < 2) suppressed.
            assert_eq!(
                result,
                vec![Quantity(2), Quantity(4), Quantity(3), Quantity(0)]
            );
            assert_eq!(suppressed, vec![3]);
            assert_eq!(report_count, 9);
            assert_eq!(digest, commitment::result_digest(&id, 9, &[2, 4, 3, 0]));
        }
        other => panic!("{other:?}"),
    }
    // Anyone can recombine the revealed shares and check them against the commitments.
    let raw = s
        .chain
        .rt
        .query(
            &ctx(s.chain.round),
            &s.chain.store,
            "measurement.RevealedShares",
            &cbor::to_vec(&TaskRef { task: id }).unwrap(),
        )
        .unwrap();
    let revealed: Vec<Option<serde_bytes::ByteBuf>> = cbor::from_slice(&raw).unwrap();
    for (i, r) in revealed.iter().enumerate() {
        let share = AggregateShare {
            report_count: 9,
            bytes: r.as_ref().unwrap().to_vec(),
        };
        assert_eq!(
            Some(commitment::share_commitment(&id, i as u8, &share)),
            task.commitments[i].as_ref().map(|c| c.commitment)
        );
    }
}

#[test]
fn a_lying_facilitator_is_named() {
    let mut s = setup(2);
    let spec = s.spec(Metric::Count, 3);
    let id = s.create(&spec);
    let (shares, ids) = aggregate(
        &config(id, &spec),
        &s.keys,
        &[M::Count(true), M::Count(false)],
    );
    let digest = commitment::batch_digest(&id, &ids);
    let party = s.party.clone();
    s.chain.ok(
        &party,
        "measurement.CommitBatch",
        &CommitBatch {
            task: id,
            digest,
            report_count: 2,
        },
    );
    s.chain.round = spec.deadline_round + 1;
    let fs = s.facilitators.clone();
    for (i, f) in fs.iter().enumerate() {
        let c = commitment::share_commitment(&id, i as u8, &shares[i]);
        s.chain.ok(
            f,
            "measurement.CommitShare",
            &CommitShare {
                task: id,
                batch_digest: digest,
                report_count: 2,
                commitment: c,
            },
        );
    }
    let mut lie = shares[1].bytes.clone();
    lie[0] ^= 1;
    s.chain.ok(
        &fs[0],
        "measurement.RevealShare",
        &RevealShare {
            task: id,
            share: shares[0].bytes.clone(),
        },
    );
    s.chain.ok(
        &fs[1],
        "measurement.RevealShare",
        &RevealShare {
            task: id,
            share: lie,
        },
    );
    match s.chain.task(id).status {
        Status::Failed { culprits, .. } => assert_eq!(culprits, vec![fs[1].address()]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_withholding_facilitator_is_named_at_close_and_a_disagreeing_one_at_commit() {
    let mut s = setup(3);
    let spec = s.spec(Metric::Count, 3);
    let id = s.create(&spec);
    let party = s.party.clone();
    s.chain.ok(
        &party,
        "measurement.CommitBatch",
        &CommitBatch {
            task: id,
            digest: [1; 32],
            report_count: 5,
        },
    );
    s.chain.round = spec.deadline_round + 1;
    let fs = s.facilitators.clone();
    for f in &fs[..2] {
        s.chain.ok(
            f,
            "measurement.CommitShare",
            &CommitShare {
                task: id,
                batch_digest: [1; 32],
                report_count: 5,
                commitment: [2; 32],
            },
        );
    }
    // Too early to close; then the grace period ends.
    let close = TaskRef { task: id };
    assert_eq!(
        failed_code(&s.chain.call(&party, "measurement.Close", &close)),
        4
    );
    s.chain.round = spec.deadline_round + spec.grace_rounds + 1;
    s.chain.ok(&party, "measurement.Close", &close);
    match s.chain.task(id).status {
        Status::Failed { culprits, .. } => assert_eq!(culprits, vec![fs[2].address()]),
        other => panic!("{other:?}"),
    }

    // A second task: facilitator 2 claims another batch.
    let spec = s.spec(Metric::Count, s.chain.round + 2);
    let id = s.create(&spec);
    s.chain.ok(
        &party,
        "measurement.CommitBatch",
        &CommitBatch {
            task: id,
            digest: [1; 32],
            report_count: 5,
        },
    );
    s.chain.round = spec.deadline_round + 1;
    for (i, f) in fs.iter().enumerate() {
        let batch_digest = if i == 2 { [9; 32] } else { [1; 32] };
        s.chain.ok(
            f,
            "measurement.CommitShare",
            &CommitShare {
                task: id,
                batch_digest,
                report_count: 5,
                commitment: [2; 32],
            },
        );
    }
    match s.chain.task(id).status {
        Status::Failed { culprits, .. } => assert_eq!(culprits, vec![fs[2].address()]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_calls_are_refused_and_change_nothing() {
    let mut s = setup(2);
    let good = s.spec(Metric::Count, 5);
    let before = s.chain.store.entries().len();
    let creator = s.creator.clone();
    let mut bad_specs = Vec::new();
    let mut one = good.clone();
    one.facilitators.truncate(1);
    bad_specs.push(one);
    let mut dup = good.clone();
    dup.facilitators[1].hpke_key = dup.facilitators[0].hpke_key;
    bad_specs.push(dup);
    let mut label = good.clone();
    label.label = "x".repeat(65);
    bad_specs.push(label);
    let mut metric = good.clone();
    metric.metric = Metric::Histogram {
        length: 0,
        chunk_length: 1,
    };
    bad_specs.push(metric);
    let mut past = good.clone();
    past.deadline_round = 0;
    bad_specs.push(past);
    let mut noise = good.clone();
    noise.noise = Some(atoll_runtime_measure::types::Noise { binomial_trials: 8 });
    bad_specs.push(noise);
    let mut no_parties = good.clone();
    no_parties.input_parties.clear();
    bad_specs.push(no_parties);
    for spec in &bad_specs {
        assert_eq!(
            failed_code(&s.chain.call(&creator, "measurement.CreateTask", spec)),
            1,
            "{spec:?}"
        );
    }
    // Garbage bodies.
    for method in [
        "measurement.CreateTask",
        "measurement.CommitBatch",
        "measurement.RevealShare",
        "measurement.Close",
    ] {
        let r = s
            .chain
            .call(&creator, method, &Value::Bytes(vec![0xff; 40]));
        assert!(matches!(r, CallResult::Failed { .. }), "{method}");
    }
    let mut good = good;
    good.deadline_round = s.chain.round + 3;
    let id = s.create(&good);
    // Not an input party; an unknown task; not a facilitator.
    let b = CommitBatch {
        task: id,
        digest: [0; 32],
        report_count: 1,
    };
    assert_eq!(
        failed_code(&s.chain.call(&creator, "measurement.CommitBatch", &b)),
        3
    );
    let unknown = CommitBatch {
        task: TaskId([0xee; 32]),
        ..b.clone()
    };
    let party = s.party.clone();
    assert_eq!(
        failed_code(&s.chain.call(&party, "measurement.CommitBatch", &unknown)),
        2
    );
    let empty = CommitBatch {
        report_count: 0,
        ..b.clone()
    };
    assert_eq!(
        failed_code(&s.chain.call(&party, "measurement.CommitBatch", &empty)),
        1
    );
    s.chain.round = good.deadline_round + 1;
    let c = CommitShare {
        task: id,
        batch_digest: [0; 32],
        report_count: 1,
        commitment: [0; 32],
    };
    assert_eq!(
        failed_code(&s.chain.call(&party, "measurement.CommitShare", &c)),
        3
    );
    let f0 = s.facilitators[0].clone();
    s.chain.ok(&f0, "measurement.CommitShare", &c);
    assert_eq!(
        failed_code(&s.chain.call(&f0, "measurement.CommitShare", &c)),
        5
    );
    // Revealing before everyone committed.
    let r = RevealShare {
        task: id,
        share: vec![0; 8],
    };
    assert_eq!(
        failed_code(&s.chain.call(&f0, "measurement.RevealShare", &r)),
        4
    );
    let task = s.chain.task(id);
    assert!(matches!(task.status, Status::Open));
    assert!(task.commitments[1].is_none());
    assert!(s.chain.store.entries().len() > before);
}

/// Runs a whole task of `metric` over `measurements` with honest facilitators.
fn run_task(s: &mut Setup, metric: Metric, min_group_size: u64, measurements: &[M]) -> Task {
    let mut spec = s.spec(metric, s.chain.round + 3);
    spec.min_group_size = min_group_size;
    let id = s.create(&spec);
    let (shares, ids) = aggregate(&config(id, &spec), &s.keys, measurements);
    let digest = commitment::batch_digest(&id, &ids);
    let count = measurements.len() as u64;
    let party = s.party.clone();
    s.chain.ok(
        &party,
        "measurement.CommitBatch",
        &CommitBatch {
            task: id,
            digest,
            report_count: count,
        },
    );
    s.chain.round = spec.deadline_round + 1;
    let fs = s.facilitators.clone();
    for (i, f) in fs.iter().enumerate() {
        let c = commitment::share_commitment(&id, i as u8, &shares[i]);
        let body = CommitShare {
            task: id,
            batch_digest: digest,
            report_count: count,
            commitment: c,
        };
        s.chain.ok(f, "measurement.CommitShare", &body);
    }
    for (i, f) in fs.iter().enumerate() {
        let body = RevealShare {
            task: id,
            share: shares[i].bytes.clone(),
        };
        s.chain.ok(f, "measurement.RevealShare", &body);
    }
    s.chain.task(id)
}

#[test]
fn sums_and_vector_sums_are_published_or_suppressed_whole() {
    let mut s = setup(2);
    let few = run_task(
        &mut s,
        Metric::Sum { max: 100 },
        5,
        &[M::Sum(10), M::Sum(20), M::Sum(30)],
    );
    match few.status {
        Status::Published {
            result,
            suppressed,
            report_count,
            ..
        } => {
            assert_eq!(
                (result, suppressed, report_count),
                (vec![Quantity(0)], vec![0], 3)
            );
        }
        other => panic!("{other:?}"),
    }
    let vs: Vec<M> = (0..6u64).map(|i| M::SumVec(vec![i, 1, 7])).collect();
    let enough = run_task(&mut s, Metric::sum_vec(7, 3), 5, &vs);
    match enough.status {
        Status::Published {
            result,
            suppressed,
            report_count,
            ..
        } => {
            assert_eq!(result, vec![Quantity(15), Quantity(6), Quantity(42)]);
            assert!(suppressed.is_empty());
            assert_eq!(report_count, 6);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_share_that_is_no_share_names_only_its_sender() {
    let mut s = setup(2);
    let spec = s.spec(Metric::Count, s.chain.round + 3);
    let id = s.create(&spec);
    let (shares, ids) = aggregate(&config(id, &spec), &s.keys, &[M::Count(true)]);
    let digest = commitment::batch_digest(&id, &ids);
    let party = s.party.clone();
    s.chain.ok(
        &party,
        "measurement.CommitBatch",
        &CommitBatch {
            task: id,
            digest,
            report_count: 1,
        },
    );
    s.chain.round = spec.deadline_round + 1;
    // Facilitator 1 commits to eight 0xff bytes: the right length, but not
    // an element of the field.
    let junk = AggregateShare {
        report_count: 1,
        bytes: vec![0xff; 8],
    };
    let fs = s.facilitators.clone();
    let c0 = commitment::share_commitment(&id, 0, &shares[0]);
    let c1 = commitment::share_commitment(&id, 1, &junk);
    for (f, c) in fs.iter().zip([c0, c1]) {
        let body = CommitShare {
            task: id,
            batch_digest: digest,
            report_count: 1,
            commitment: c,
        };
        s.chain.ok(f, "measurement.CommitShare", &body);
    }
    s.chain.ok(
        &fs[0],
        "measurement.RevealShare",
        &RevealShare {
            task: id,
            share: shares[0].bytes.clone(),
        },
    );
    s.chain.ok(
        &fs[1],
        "measurement.RevealShare",
        &RevealShare {
            task: id,
            share: junk.bytes,
        },
    );
    match s.chain.task(id).status {
        Status::Failed { culprits, .. } => assert_eq!(culprits, vec![fs[1].address()]),
        other => panic!("{other:?}"),
    }
}
