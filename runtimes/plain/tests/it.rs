//! Integration tests of `atoll-runtime-plain`: the real binary, spawned by
//! a [`RuntimeHost`] over a [`MemoryProvider`].

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use atoll_consensus_types::roothash::{Message, MessageResult};
use atoll_consensus_types::staking;
use atoll_crypto::context::ChainContext;
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_runtime_host::abi::{CheckOutcome, RuntimeContext, TxOutcome};
use atoll_runtime_host::host::{
    HostError, MemoryProvider, RuntimeConfig, RuntimeHost, StorageProvider,
};
use atoll_runtime_host::protocol::{
    BatchContext, CheckBatchRequest, ExecuteBatchRequest, ExecutedBatch, QueryRequest, StateRoot,
};
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction, tx_signature_context};
use atoll_runtime_sdk::host::{ERROR_MODULE, GENESIS_MARKER_KEY, runtime_version};
use atoll_runtime_sdk::modules::accounts::{self, AccountBalances, BalancesQuery, Transfer};
use atoll_runtime_sdk::modules::consensus_accounts::Deposit;
use atoll_runtime_sdk::types::{BaseUnits, CallResult, Denomination, SignerInfo, Transaction};
use atoll_runtime_sdk::{Event, RuntimeGenesis};
use atoll_types::cbor::{self, Value};
use atoll_types::{Epoch, Height, Namespace, Quantity, Round};

const RUNTIME_ID: Namespace = Namespace([0x42; 32]);
const FUNDS: u128 = 1_000_000;
/// Every bounded test gives up after this long.
const TEST_LIMIT: Duration = Duration::from_secs(60);

fn chain() -> ChainContext {
    ChainContext::from_hash(&Hash::digest(b"plain runtime test consensus"))
}

fn alice() -> TxSigner {
    TxSigner::Ed25519(SigningKey::from_seed(&[1; 32]))
}

fn bob() -> TxSigner {
    TxSigner::Ed25519(SigningKey::from_seed(&[2; 32]))
}

fn genesis() -> RuntimeGenesis {
    let funds = BTreeMap::from([(Denomination::NATIVE, Quantity(FUNDS))]);
    RuntimeGenesis::default()
        .with(
            "accounts",
            &accounts::Genesis {
                balances: BTreeMap::from([(alice().address(), funds.clone())]),
                total_supplies: funds,
                ..Default::default()
            },
        )
        .unwrap()
}

fn ctx(round: u64) -> BatchContext {
    BatchContext {
        runtime_id: RUNTIME_ID,
        round: Round(round),
        consensus_height: Height(100 + round),
        epoch: Epoch(1),
        timestamp: 1_700_000_000,
        previous_hash: Default::default(),
        state_root: StateRoot::default(),
        extra: RuntimeContext::new(&chain()).to_value(),
    }
}

/// A signed transaction: `signer` signs, `info` is named as the signer.
fn tx_signed_by(
    signer: &TxSigner,
    info: &TxSigner,
    nonce: u64,
    method: &str,
    body: Value,
    fee: u128,
    messages: u32,
) -> Vec<u8> {
    let mut tx = Transaction::new(method, body);
    tx.auth_info.signer_info.push(SignerInfo {
        address_spec: info.address_spec(),
        nonce,
    });
    tx.auth_info.fee.gas = 20_000;
    tx.auth_info.fee.amount = BaseUnits::native(fee);
    tx.auth_info.fee.consensus_messages = messages;
    let sig_ctx = tx_signature_context(&RUNTIME_ID, &chain()).unwrap();
    cbor::to_vec(&sign_transaction(&sig_ctx, &tx, &[signer]).unwrap()).unwrap()
}

fn transfer(from: &TxSigner, nonce: u64, to: &TxSigner, amount: u128, fee: u128) -> Vec<u8> {
    let body = cbor::to_value(&Transfer {
        to: to.address(),
        amount: BaseUnits::native(amount),
    })
    .unwrap();
    tx_signed_by(from, from, nonce, "accounts.Transfer", body, fee, 0)
}

struct Fixture {
    host: RuntimeHost,
    provider: Arc<MemoryProvider>,
    _genesis_file: tempfile::NamedTempFile,
}

impl Fixture {
    async fn start() -> Self {
        Self::start_with(true).await
    }

    /// Starts the runtime, with or without `--genesis`.
    async fn start_with(with_genesis: bool) -> Self {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), cbor::to_vec(&genesis()).unwrap()).unwrap();
        let mut config = RuntimeConfig::new(env!("CARGO_BIN_EXE_atoll-runtime-plain"), RUNTIME_ID);
        config.args = vec!["--runtime-id".into(), RUNTIME_ID.to_string().into()];
        if with_genesis {
            config.args.extend(["--genesis".into(), file.path().into()]);
        }
        config.restart_backoff_min = Duration::from_millis(10);
        let provider = Arc::new(MemoryProvider::new());
        let host = RuntimeHost::spawn(config, Arc::clone(&provider) as Arc<dyn StorageProvider>)
            .await
            .unwrap();
        Self {
            host,
            provider,
            _genesis_file: file,
        }
    }

    /// Executes a batch without applying it.
    async fn execute_raw(
        &self,
        round: u64,
        txs: Vec<Vec<u8>>,
        results: &[MessageResult],
    ) -> Result<ExecutedBatch, HostError> {
        self.host
            .execute_batch(ExecuteBatchRequest {
                ctx: ctx(round),
                txs,
                message_results: results.iter().map(|r| cbor::to_value(r).unwrap()).collect(),
            })
            .await
    }

    /// Executes a batch and applies its write log.
    async fn execute(
        &self,
        round: u64,
        txs: Vec<Vec<u8>>,
        results: &[MessageResult],
    ) -> (Vec<TxOutcome>, ExecutedBatch) {
        let batch = self.execute_raw(round, txs, results).await.unwrap();
        self.provider.apply(&batch.write_log);
        (outcomes(&batch), batch)
    }

    /// Round 1: genesis, no transactions.
    async fn genesis(&self) {
        let (outcomes, batch) = self.execute(1, Vec::new(), &[]).await;
        assert!(outcomes.is_empty());
        assert!(
            batch.write_log.iter().any(|e| e.key == GENESIS_MARKER_KEY),
            "the genesis marker is in round 1's write log"
        );
    }

    async fn query<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        args: &impl serde::Serialize,
    ) -> Result<T, HostError> {
        let v = self
            .host
            .query(QueryRequest {
                ctx: ctx(0),
                method: method.to_owned(),
                args: cbor::to_value(args).unwrap(),
            })
            .await?;
        Ok(cbor::from_value(v).unwrap())
    }

    async fn balance(&self, who: &Address) -> u128 {
        let b: AccountBalances = self
            .query("accounts.Balances", &BalancesQuery { address: *who })
            .await
            .unwrap();
        b.balances.get(&Denomination::NATIVE).map_or(0, |q| q.0)
    }

    async fn nonce(&self, who: &Address) -> u64 {
        self.query("accounts.Nonce", &accounts::NonceQuery { address: *who })
            .await
            .unwrap()
    }

    async fn check(&self, txs: Vec<Vec<u8>>) -> Vec<CheckOutcome> {
        self.host
            .check_batch(CheckBatchRequest { ctx: ctx(2), txs })
            .await
            .unwrap()
            .results
            .into_iter()
            .map(|v| cbor::from_value(v).unwrap())
            .collect()
    }

    /// The keys whose value the write log actually changes.
    fn changed_keys(&self, batch: &ExecutedBatch) -> BTreeSet<Vec<u8>> {
        batch
            .write_log
            .iter()
            .filter(|e| self.provider.get(&StateRoot::default(), &e.key).unwrap() != e.value)
            .map(|e| e.key.clone())
            .collect()
    }
}

fn outcomes(batch: &ExecutedBatch) -> Vec<TxOutcome> {
    batch
        .results
        .iter()
        .map(|v| cbor::from_value(v.clone()).unwrap())
        .collect()
}

fn assert_failed(outcome: &TxOutcome, module: &str, code: u32) {
    match &outcome.result {
        CallResult::Failed {
            module: m, code: c, ..
        } => {
            assert_eq!((m.as_str(), *c), (module, code), "{outcome:?}");
        }
        CallResult::Ok(_) => panic!("expected {module} {code}, got {outcome:?}"),
    }
}

fn balance_key(who: &Address) -> Vec<u8> {
    atoll_runtime_sdk::state::module_key("accounts", 0x02, &[who.as_ref()])
}

fn account_key(who: &Address) -> Vec<u8> {
    atoll_runtime_sdk::state::module_key("accounts", 0x01, &[who.as_ref()])
}

async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("test ran past its time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_reports_the_runtime_id_and_version() {
    bounded(async {
        let f = Fixture::start().await;
        let info = f.host.info().unwrap();
        assert_eq!(info.runtime_id, RUNTIME_ID);
        assert_eq!(info.runtime_version, runtime_version());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesis_then_transfer_then_balances() {
    bounded(async {
        let f = Fixture::start().await;
        f.genesis().await;
        assert_eq!(f.balance(&alice().address()).await, FUNDS);
        assert_eq!(f.balance(&bob().address()).await, 0);

        let (outcomes, batch) = f
            .execute(2, vec![transfer(&alice(), 0, &bob(), 1_000, 100)], &[])
            .await;
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].result.is_success(), "{:?}", outcomes[0]);
        assert!(outcomes[0].gas_used > 0);
        assert!(
            outcomes[0]
                .events
                .iter()
                .any(|e| e.module == "accounts" && e.code == accounts::events::TRANSFER)
        );
        assert!(batch.messages.is_empty());

        assert_eq!(f.balance(&alice().address()).await, FUNDS - 1_000 - 100);
        assert_eq!(f.balance(&bob().address()).await, 1_000);
        assert_eq!(f.balance(&accounts::fee_accumulator()).await, 100);
        assert_eq!(f.nonce(&alice().address()).await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesis_is_applied_once() {
    bounded(async {
        let f = Fixture::start().await;
        f.genesis().await;
        let batch = f.execute_raw(2, Vec::new(), &[]).await.unwrap();
        assert!(batch.write_log.iter().all(|e| e.key != GENESIS_MARKER_KEY));
        assert!(f.changed_keys(&batch).is_empty(), "{:?}", batch.write_log);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signature_and_wrong_nonce_change_nothing() {
    bounded(async {
        let f = Fixture::start().await;
        f.genesis().await;
        let body = cbor::to_value(&Transfer {
            to: bob().address(),
            amount: BaseUnits::native(10),
        })
        .unwrap();
        // Bob signs for Alice.
        let mis_signed = tx_signed_by(&bob(), &alice(), 0, "accounts.Transfer", body, 100, 0);
        let wrong_nonce = transfer(&alice(), 5, &bob(), 10, 100);
        let batch = f
            .execute_raw(2, vec![mis_signed, wrong_nonce], &[])
            .await
            .unwrap();
        let outcomes = outcomes(&batch);
        assert_failed(&outcomes[0], "core", 1);
        assert_failed(&outcomes[1], "core", 4);
        assert!(outcomes.iter().all(|o| o.gas_used == 0));
        assert!(f.changed_keys(&batch).is_empty(), "{:?}", batch.write_log);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_call_changes_only_the_fee_and_nonce() {
    bounded(async {
        let f = Fixture::start().await;
        f.genesis().await;
        // More than Alice has: the call fails after the fee was paid.
        let batch = f
            .execute_raw(2, vec![transfer(&alice(), 0, &bob(), FUNDS, 100)], &[])
            .await
            .unwrap();
        let outcomes = outcomes(&batch);
        assert_failed(&outcomes[0], "accounts", 2);
        let changed = f.changed_keys(&batch);
        let expected = BTreeSet::from([
            account_key(&alice().address()),
            balance_key(&alice().address()),
            balance_key(&accounts::fee_accumulator()),
        ]);
        assert_eq!(changed, expected);
        f.provider.apply(&batch.write_log);
        assert_eq!(f.balance(&alice().address()).await, FUNDS - 100);
        assert_eq!(f.balance(&bob().address()).await, 0);
        assert_eq!(f.nonce(&alice().address()).await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_batch_accepts_good_and_refuses_garbage() {
    bounded(async {
        let f = Fixture::start().await;
        f.genesis().await;
        let good = transfer(&alice(), 0, &bob(), 10, 100);
        let results = f.check(vec![good, b"garbage".to_vec()]).await;
        match &results[0] {
            CheckOutcome::Ok {
                signer, nonce, gas, ..
            } => {
                assert_eq!(*signer, alice().address());
                assert_eq!(*nonce, 0);
                assert_eq!(*gas, 20_000);
            }
            other => panic!("{other:?}"),
        }
        match &results[1] {
            CheckOutcome::Failed { module, code, .. } => {
                assert_eq!((module.as_str(), *code), ("core", 1));
            }
            other => panic!("{other:?}"),
        }
        // A check changes nothing.
        assert_eq!(f.nonce(&alice().address()).await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_emits_a_withdraw_and_its_result_mints() {
    bounded(async {
        let f = Fixture::start().await;
        f.genesis().await;
        // Bob has no runtime tokens: a zero fee.
        let body = cbor::to_value(&Deposit {
            to: None,
            amount: BaseUnits::native(7_000),
        })
        .unwrap();
        let deposit = tx_signed_by(&bob(), &bob(), 0, "consensus.Deposit", body, 0, 1);
        let (outcomes, batch) = f.execute(2, vec![deposit], &[]).await;
        assert!(outcomes[0].result.is_success(), "{:?}", outcomes[0]);
        let messages: Vec<Message> = batch
            .messages
            .iter()
            .map(|v| cbor::from_value(v.clone()).unwrap())
            .collect();
        assert_eq!(
            messages,
            vec![Message::Withdraw(staking::Withdraw {
                from: bob().address(),
                amount: Quantity(7_000),
            })]
        );
        assert_eq!(f.balance(&bob().address()).await, 0);

        // The next round must be given the result.
        match f.execute_raw(3, Vec::new(), &[]).await {
            Err(HostError::Runtime(e)) => {
                assert_eq!(e.module, ERROR_MODULE);
                assert_eq!(e.code, 6, "{e}");
            }
            other => panic!("{other:?}"),
        }

        let ok = MessageResult {
            index: 0,
            module: String::new(),
            code: 0,
            result: None,
        };
        let (_, batch) = f.execute(3, Vec::new(), &[ok]).await;
        let events: Vec<Event> = batch
            .events
            .iter()
            .map(|v| cbor::from_value(v.clone()).unwrap())
            .collect();
        assert!(
            events
                .iter()
                .any(|e| e.module == "consensus_accounts" && e.code == 1),
            "{events:?}"
        );
        assert_eq!(f.balance(&bob().address()).await, 7_000);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_context_and_unknown_query_are_typed_errors() {
    bounded(async {
        let f = Fixture::start().await;
        f.genesis().await;
        let mut bad = ctx(2);
        bad.extra = Value::Null;
        match f
            .host
            .execute_batch(ExecuteBatchRequest {
                ctx: bad,
                txs: Vec::new(),
                message_results: Vec::new(),
            })
            .await
        {
            Err(HostError::Runtime(e)) => {
                assert_eq!((e.module.as_str(), e.code), ("plain", 1), "{e}");
            }
            other => panic!("{other:?}"),
        }
        match f.query::<Value>("nope.Nothing", &Value::Null).await {
            Err(HostError::Runtime(e)) => {
                assert_eq!((e.module.as_str(), e.code), ("core", 3), "{e}");
            }
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_then_restart_keeps_the_state() {
    bounded(async {
        let f = Fixture::start().await;
        f.genesis().await;
        f.execute(2, vec![transfer(&alice(), 0, &bob(), 1_000, 0)], &[])
            .await;
        let pid = f.host.pid().unwrap();
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        // The host may notice the death only through the next call, which
        // then fails with `Exited`; the one after restarts the runtime.
        let balance = loop {
            match f
                .query::<AccountBalances>(
                    "accounts.Balances",
                    &BalancesQuery {
                        address: bob().address(),
                    },
                )
                .await
            {
                Ok(b) => break b,
                Err(HostError::Exited { .. }) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e:?}"),
            }
        };
        assert_eq!(
            balance.balances.get(&Denomination::NATIVE),
            Some(&Quantity(1_000))
        );
        assert_ne!(f.host.pid(), Some(pid));
        assert!(f.host.restarts().await >= 1);
        // The restarted runtime goes on from the provider's state: no second
        // genesis, and Alice's next nonce is 1.
        let (outcomes, batch) = f
            .execute(3, vec![transfer(&alice(), 1, &bob(), 1_000, 0)], &[])
            .await;
        assert!(outcomes[0].result.is_success(), "{:?}", outcomes[0]);
        assert!(batch.write_log.iter().all(|e| e.key != GENESIS_MARKER_KEY));
        assert_eq!(f.balance(&bob().address()).await, 2_000);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_genesis_the_first_batch_fails() {
    bounded(async {
        let f = Fixture::start_with(false).await;
        match f.execute_raw(1, Vec::new(), &[]).await {
            Err(HostError::Runtime(e)) => {
                assert_eq!((e.module.as_str(), e.code), ("plain", 4), "{e}");
            }
            other => panic!("{other:?}"),
        }
    })
    .await;
}
