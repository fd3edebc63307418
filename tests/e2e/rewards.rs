//! Rewards, fees and delegation from a ParaTime, end to end: one validator
//! and two compute nodes (each with its own staked entity) serving the
//! plain ParaTime, on a network that pays rewards (1 % of the escrow per
//! step, a proposer factor of 0.1 per block, an election factor of 0.5 per
//! epoch) from a funded common pool, and a ParaTime with a non-zero gas
//! price.
//!
//! - ParaTime fees land, in equal shares, in the ParaTime accounts of the
//!   entities whose nodes committed each round (both compute entities).
//! - A ParaTime user delegates to the validator's escrow from inside the
//!   ParaTime (`consensus.Delegate`); the delegation shows in consensus as
//!   the runtime account's, with the shares the ParaTime recorded.
//! - Every consensus reward event of the run is recomputed from the rules
//!   and the escrow balances the chain recorded one block earlier; the
//!   validator earned proposer and signing rewards, the compute entities
//!   election rewards.
//! - The supply invariant (balances + escrows + common pool + block fees =
//!   total supply) holds at the first block of every epoch.
//!
//! Every wait is bounded; no assertion depends on this machine's speed.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{atoll, call};
use crate::runtimes::{self, b64};
use atoll_consensus::app::BlockResult;
use atoll_consensus::event::Event;
use atoll_consensus::services::staking::reward_amount;
use atoll_consensus_types::staking::{Event as StakingEvent, RewardKind, RewardStep};
use atoll_crypto::Address;
use atoll_crypto::ed25519::PublicKey;
use atoll_localnet::RuntimePlan;
use atoll_localnet::harness::Network;
use atoll_runtime_sdk::RuntimeGenesis;
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction, tx_signature_context};
use atoll_runtime_sdk::modules::consensus_accounts::{
    Delegate, DelegationInfo, DelegationQuery, Undelegate, UndelegationInfo, UndelegationsQuery,
};
use atoll_runtime_sdk::modules::{accounts, core};
use atoll_runtime_sdk::types::{BaseUnits, Denomination, SignerInfo, Transaction};
use atoll_types::{Epoch, Namespace, Quantity, cbor};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(300);
const RUNTIME_FUNDS: u128 = 1_000_000_000;
/// The runtime's consensus account backs what the ParaTime delegates.
const RUNTIME_BACKING: u128 = 1_000_000_000;
const POOL: u128 = 1_000_000_000_000;
const SCALE: u64 = 1_000_000;
const FACTOR_PROPOSED: u128 = 10_000_000;
const FACTOR_ELECTION: u128 = 50_000_000;
const GAS_PRICE: u128 = 2;
const GAS: u64 = 50_000;
const DELEGATED: u128 = 100_000;
const EPOCH: u64 = 20;

fn alice() -> TxSigner {
    runtimes::signer(21)
}

fn bob() -> TxSigner {
    runtimes::signer(22)
}

fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    runtimes::wait_for(what, WAIT, f)
}

fn paratime_genesis() -> Vec<u8> {
    let funds = BTreeMap::from([(Denomination::NATIVE, Quantity(RUNTIME_FUNDS))]);
    let g = RuntimeGenesis::default()
        .with(
            "core",
            &core::Genesis {
                parameters: core::Parameters {
                    min_gas_price: BTreeMap::from([(Denomination::NATIVE, Quantity(GAS_PRICE))]),
                    ..Default::default()
                },
            },
        )
        .unwrap()
        .with(
            "accounts",
            &accounts::Genesis {
                balances: BTreeMap::from([(alice().address(), funds.clone())]),
                total_supplies: funds,
                ..Default::default()
            },
        )
        .unwrap();
    cbor::to_vec(&g).unwrap()
}

fn start() -> (tempfile::TempDir, Network, Namespace) {
    let dir = tempfile::tempdir().unwrap();
    let mut rt = RuntimePlan::plain("plain-rewards", vec![0, 1]);
    rt.genesis = Some(paratime_genesis());
    rt.idle_round_ms = Some(500);
    let id = rt.id;
    let net = Network::builder(atoll())
        .one_validator(2)
        .epoch_interval(EPOCH)
        .funded(Address::from_runtime_id(id.as_bytes()), RUNTIME_BACKING)
        .runtime(rt)
        .genesis(|g| {
            let p = &mut g.staking.parameters;
            p.reward_schedule = vec![RewardStep {
                until: Epoch(1_000_000),
                scale: SCALE,
            }];
            p.reward_factor_block_proposed = Quantity(FACTOR_PROPOSED);
            p.reward_factor_epoch_election_any = Quantity(FACTOR_ELECTION);
            p.allow_escrow_messages = true;
            // Long enough that the undelegation is still debonding when
            // the test looks (epochs are two seconds here).
            p.debonding_interval = 10_000;
            g.staking.common_pool.0 += POOL;
            g.staking.total_supply.0 += POOL;
        })
        .start(dir.path())
        .unwrap();
    (dir, net, id)
}

#[test]
fn rewards_fees_and_delegation() {
    let (dir, mut net, id) = start();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&net, id)));
    net.finish(outcome, 25, || dir.keep());
}

fn consensus(net: &Network, method: &str, args: Value, height: Option<u64>) -> Value {
    let params = match height {
        Some(h) => json!([method, args, h]),
        None => json!([method, args]),
    };
    call(net.rpc("validator-0").unwrap(), "consensus_query", params)
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

fn amount(v: &Value) -> u128 {
    v.as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| v.as_u64().map(u128::from))
        .unwrap_or(0)
}

fn runtime_tx(
    net: &Network,
    id: &Namespace,
    nonce: u64,
    method: &str,
    body: cbor::Value,
    messages: u32,
) -> Vec<u8> {
    let mut tx = Transaction::new(method, body);
    tx.auth_info.signer_info.push(SignerInfo {
        address_spec: alice().address_spec(),
        nonce,
    });
    tx.auth_info.fee.gas = GAS;
    tx.auth_info.fee.amount = BaseUnits::native(u128::from(GAS) * GAS_PRICE);
    tx.auth_info.fee.consensus_messages = messages;
    let ctx = tx_signature_context(id, &net.chain).unwrap();
    cbor::to_vec(&sign_transaction(&ctx, &tx, &[&alice()]).unwrap()).unwrap()
}

fn submit(net: &Network, id: &Namespace, raw: &[u8]) -> Value {
    call(
        net.rpc("compute-0").unwrap(),
        "runtime_submitTx",
        json!([id.to_string(), b64(raw), true]),
    )
    .unwrap_or_else(|e| panic!("submit: {e}"))
}

fn balance(net: &Network, id: &Namespace, who: Address) -> u128 {
    runtimes::balance(net.rpc("compute-0").unwrap(), id, who).unwrap_or_else(|e| panic!("{e}"))
}

/// A ParaTime query on compute-0 (`None` when it fails).
fn runtime_query<T: serde::de::DeserializeOwned>(
    net: &Network,
    id: &Namespace,
    method: &str,
    args: &impl serde::Serialize,
) -> Option<T> {
    let args = b64(&cbor::to_vec(args).unwrap());
    let r = call(
        net.rpc("compute-0").ok()?,
        "runtime_query",
        json!([id.to_string(), method, args]),
    )
    .ok()?;
    let raw = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        r["cbor"].as_str()?,
    )
    .ok()?;
    cbor::from_slice(&raw).ok()
}

/// Runs `atoll ARGS`: its JSON output, or its error output.
fn cli(args: &[&str]) -> Result<Value, String> {
    let out = std::process::Command::new(atoll())
        .args(args)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout))))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn entity_of(net: &Network, node: &str) -> Address {
    let n = consensus(net, "registry.Node", json!({ "id": node }), None);
    let pk: PublicKey = n["entity_id"].as_str().unwrap().parse().unwrap();
    Address::from_ed25519(&pk)
}

fn scenario(net: &Network, id: Namespace) {
    wait_for("the ParaTime's genesis round", || {
        (runtimes::balance(net.rpc("compute-0").ok()?, &id, alice().address()).ok()?
            == RUNTIME_FUNDS)
            .then_some(())
    });
    let committee = consensus(
        net,
        "scheduler.Committee",
        json!({ "runtime": id.to_string() }),
        None,
    );
    let mut entities: Vec<Address> = committee["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "worker")
        .map(|m| entity_of(net, m["node_id"].as_str().unwrap()))
        .collect();
    entities.sort();
    entities.dedup();
    assert_eq!(entities.len(), 2, "two compute entities: {committee}");

    // --- ParaTime fees go to the compute entities, in equal shares.
    let fee = u128::from(GAS) * GAS_PRICE;
    let mut fees_paid = 0u128;
    for nonce in 0..3 {
        let body = cbor::to_value(&accounts::Transfer {
            to: bob().address(),
            amount: BaseUnits::native(1_000),
        })
        .unwrap();
        let r = submit(
            net,
            &id,
            &runtime_tx(net, &id, nonce, "accounts.Transfer", body, 0),
        );
        assert!(r["result"]["result"].get("ok").is_some(), "{r}");
        fees_paid += fee;
    }
    // A zero fee is refused: the gas price is not zero.
    let mut free = Transaction::new(
        "accounts.Transfer",
        cbor::to_value(&accounts::Transfer {
            to: bob().address(),
            amount: BaseUnits::native(1),
        })
        .unwrap(),
    );
    free.auth_info.signer_info.push(SignerInfo {
        address_spec: alice().address_spec(),
        nonce: 3,
    });
    free.auth_info.fee.gas = GAS;
    let ctx = tx_signature_context(&id, &net.chain).unwrap();
    let raw = cbor::to_vec(&sign_transaction(&ctx, &free, &[&alice()]).unwrap()).unwrap();
    assert!(
        call(
            net.rpc("compute-0").unwrap(),
            "runtime_submitTx",
            json!([id.to_string(), b64(&raw), false]),
        )
        .is_err(),
        "a zero fee under a non-zero gas price"
    );

    // --- Delegation from inside the ParaTime to the validator's escrow.
    let validators = consensus(net, "scheduler.Validators", json!(null), None);
    let validator: Address = validators[0]["entity"].as_str().unwrap().parse().unwrap();
    let body = cbor::to_value(&Delegate {
        to: validator,
        amount: BaseUnits::native(DELEGATED),
        receipt: true,
    })
    .unwrap();
    let r = submit(
        net,
        &id,
        &runtime_tx(net, &id, 3, "consensus.Delegate", body, 1),
    );
    assert!(r["result"]["result"].get("ok").is_some(), "{r}");
    fees_paid += fee;
    let runtime_account = Address::from_runtime_id(id.as_bytes());
    let held = wait_for("the delegation's result to reach the ParaTime", || {
        let d: DelegationInfo = runtime_query(
            net,
            &id,
            "consensus.Delegation",
            &DelegationQuery {
                from: alice().address(),
                to: validator,
            },
        )?;
        (!d.shares.is_zero()).then_some(d.shares)
    });
    let in_consensus = consensus(
        net,
        "staking.DelegationsFor",
        json!({ "address": runtime_account.to_string() }),
        None,
    );
    assert_eq!(in_consensus.as_array().unwrap().len(), 1, "{in_consensus}");
    assert_eq!(in_consensus[0]["escrow"], json!(validator.to_string()));
    assert_eq!(amount(&in_consensus[0]["shares"]), held.0);
    assert_eq!(
        balance(net, &id, alice().address()),
        RUNTIME_FUNDS - 3 * 1_000 - fees_paid - DELEGATED
    );

    // Garbage for a delegation: a typed failure, the fee is paid, nothing
    // else changes.
    let r = submit(
        net,
        &id,
        &runtime_tx(
            net,
            &id,
            4,
            "consensus.Delegate",
            cbor::Value::Text("garbage".into()),
            1,
        ),
    );
    assert_eq!(r["result"]["result"]["fail"]["module"], "core", "{r}");
    fees_paid += fee;
    // Undelegating more shares than held: refused by the ParaTime.
    let too_many = cbor::to_value(&Undelegate {
        from: validator,
        shares: Quantity(held.0 + 1),
        receipt: false,
    })
    .unwrap();
    let r = submit(
        net,
        &id,
        &runtime_tx(net, &id, 5, "consensus.Undelegate", too_many, 1),
    );
    assert_eq!(
        r["result"]["result"]["fail"]["module"], "consensus_accounts",
        "{r}"
    );
    fees_paid += fee;
    // Half of them: the debonding shows in consensus as the runtime's, and
    // in the ParaTime as alice's.
    let half = Quantity(held.0 / 2);
    let body = cbor::to_value(&Undelegate {
        from: validator,
        shares: half,
        receipt: true,
    })
    .unwrap();
    let r = submit(
        net,
        &id,
        &runtime_tx(net, &id, 6, "consensus.Undelegate", body, 1),
    );
    assert!(r["result"]["result"].get("ok").is_some(), "{r}");
    fees_paid += fee;
    let undelegations: Vec<UndelegationInfo> = wait_for("the undelegation's result", || {
        let v: Vec<UndelegationInfo> = runtime_query(
            net,
            &id,
            "consensus.Undelegations",
            &UndelegationsQuery {
                to: alice().address(),
            },
        )?;
        (!v.is_empty()).then_some(v)
    });
    assert_eq!(undelegations.len(), 1);
    let debonding = consensus(
        net,
        "staking.DebondingDelegationsFor",
        json!({ "address": runtime_account.to_string() }),
        None,
    );
    assert_eq!(debonding.as_array().unwrap().len(), 1, "{debonding}");
    assert_eq!(amount(&debonding[0]["shares"]), undelegations[0].shares.0);
    assert_eq!(debonding[0]["debond_end"], json!(undelegations[0].epoch));
    let left: DelegationInfo = runtime_query(
        net,
        &id,
        "consensus.Delegation",
        &DelegationQuery {
            from: alice().address(),
            to: validator,
        },
    )
    .unwrap();
    assert_eq!(left.shares.0, held.0 - half.0);

    // --- The operator commands, and what they refuse.
    let node = format!("http://{}", net.rpc("validator-0").unwrap());
    let epoch = cli(&["network", "epoch", "--json", "--node", &node]).unwrap();
    assert!(epoch["height"].as_u64().unwrap() >= 1, "{epoch}");
    let account = runtime_account.to_string();
    let d = cli(&[
        "network",
        "delegations",
        &account,
        "--json",
        "--node",
        &node,
    ])
    .unwrap();
    assert_eq!(
        d["delegations"][0]["escrow"],
        json!(validator.to_string()),
        "{d}"
    );
    assert_eq!(d["debonding"].as_array().unwrap().len(), 1, "{d}");
    let rid = id.to_string();
    let rr = cli(&["network", "round-results", &rid, "--json", "--node", &node]).unwrap();
    let good: Vec<String> = rr["round_results"]["good_compute_entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    // In address (byte) order, as consensus keeps them.
    let want: Vec<String> = entities.iter().map(ToString::to_string).collect();
    assert_eq!(good, want, "{rr}");
    let worker = committee["members"][0]["node_id"].as_str().unwrap();
    let st = cli(&["network", "node-status", worker, "--json", "--node", &node]).unwrap();
    assert_eq!(
        (&st["registered"], &st["frozen"]),
        (&json!(true), &json!(false)),
        "{st}"
    );
    let status = cli(&["network", "status", "--json", "--node", &node]).unwrap();
    assert!(
        status["paratimes"][0]["committee"]["members"].is_array(),
        "{status}"
    );
    for garbage in [
        vec!["network", "node-status", "not-a-key"],
        vec!["network", "round-results", "zz"],
        vec!["network", "delegations", "oasis1nope"],
    ] {
        let mut args = garbage.clone();
        args.extend(["--node", node.as_str()]);
        let e = cli(&args).unwrap_err();
        assert!(e.contains("invalid arguments"), "{garbage:?}: {e}");
    }

    // Idle rounds pay out what the last round collected: the accumulator
    // drains and the two entities hold equal halves of every fee.
    let acc = accounts::fee_accumulator();
    wait_for("the fee accumulator to drain", || {
        (balance(net, &id, acc) == 0).then_some(())
    });
    for e in &entities {
        assert_eq!(balance(net, &id, *e), fees_paid / 2, "entity {e}");
    }

    // --- Consensus rewards over a few epochs, recomputed from the records.
    let start_height =
        call(net.rpc("validator-0").unwrap(), "node_status", json!([])).unwrap()["latest_height"]
            .as_u64()
            .unwrap();
    let target = (start_height / EPOCH + 3) * EPOCH + 2;
    wait_for("three more epochs", || {
        let s = call(net.rpc("validator-0").ok()?, "node_status", json!([])).ok()?;
        (s["latest_height"].as_u64()? >= target).then_some(())
    });
    let mut earned: BTreeMap<(Address, RewardKind), u128> = BTreeMap::new();
    let mut epoch_starts = Vec::new();
    let mut last_epoch = None;
    for h in 2..=target {
        let r: BlockResult = serde_json::from_value(
            call(
                net.rpc("validator-0").unwrap(),
                "consensus_getBlockResults",
                json!([h]),
            )
            .unwrap(),
        )
        .unwrap();
        if last_epoch != Some(r.epoch) {
            epoch_starts.push(h);
            last_epoch = Some(r.epoch);
        }
        let mut active: BTreeMap<Address, u128> = BTreeMap::new();
        for e in &r.events {
            let Event::Staking(StakingEvent::Reward {
                escrow,
                amount: paid,
                commission,
                kind,
            }) = e
            else {
                continue;
            };
            let before = *active.entry(*escrow).or_insert_with(|| {
                let a = consensus(
                    net,
                    "staking.Account",
                    json!({ "address": escrow.to_string() }),
                    Some(h - 1),
                );
                amount(&a["escrow"]["active"]["balance"])
            });
            let factor = match kind {
                RewardKind::Proposer => FACTOR_PROPOSED,
                RewardKind::Election => FACTOR_ELECTION,
                RewardKind::Signing => atoll_consensus_types::staking::REWARD_DENOMINATOR,
            };
            // One validator: every block carries all the power's signatures.
            let want = reward_amount(Quantity(before), SCALE, Quantity(factor), (1, 1)).unwrap();
            assert_eq!(*paid, want, "{kind:?} reward of {escrow} at height {h}");
            assert_eq!(commission.0, 0);
            active.insert(*escrow, before + paid.0);
            *earned.entry((*escrow, *kind)).or_default() += paid.0;
        }
    }
    assert!(
        earned
            .get(&(validator, RewardKind::Proposer))
            .is_some_and(|a| *a > 0),
        "{earned:?}"
    );
    assert!(
        earned
            .get(&(validator, RewardKind::Signing))
            .is_some_and(|a| *a > 0),
        "{earned:?}"
    );
    for e in &entities {
        assert!(
            earned
                .get(&(*e, RewardKind::Election))
                .is_some_and(|a| *a > 0),
            "{earned:?}"
        );
    }

    // --- The supply invariant at the first block of every epoch.
    assert!(epoch_starts.len() >= 3, "{epoch_starts:?}");
    for h in epoch_starts {
        let mut sum = amount(&consensus(net, "staking.CommonPool", json!(null), Some(h)))
            + amount(&consensus(net, "staking.BlockFees", json!(null), Some(h)));
        let addresses = consensus(net, "staking.Addresses", json!(null), Some(h));
        for a in addresses.as_array().unwrap() {
            let acct = consensus(net, "staking.Account", json!({ "address": a }), Some(h));
            sum += amount(&acct["general"]["balance"])
                + amount(&acct["escrow"]["active"]["balance"])
                + amount(&acct["escrow"]["debonding"]["balance"]);
        }
        let supply = amount(&consensus(net, "staking.TotalSupply", json!(null), Some(h)));
        assert_eq!(sum, supply, "supply invariant at height {h}");
    }
}
