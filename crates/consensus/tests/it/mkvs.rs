//! The consensus state in MKVS: one authenticated root per height, the same
//! roots for the same blocks, restart from disk, queries at past heights.

use atoll_consensus::app::Block;
use atoll_consensus::query::query;
use atoll_consensus_types::staking::{Escrow, ReclaimEscrow, Transfer, methods};
use atoll_crypto::Hash;
use atoll_mkvs::state_store::{MkvsStore, MkvsView};
use atoll_mkvs::{Mkvs, Options};
use atoll_state::Store;
use atoll_types::Quantity;

use crate::{FUNDS, Net, addr};

const GAS: u64 = 10_000;

/// 30 blocks of transfers, escrows and reclaims among 4 accounts, crossing
/// epoch boundaries (10-block epochs) so debonding matures along the way.
fn blocks(net: &Net, salt: u128) -> Vec<Block> {
    let mut nonces = [0u64; 4];
    (1..=30u64)
        .map(|h| {
            let mut txs = Vec::new();
            for (i, nonce) in nonces.iter_mut().enumerate() {
                let to = addr(&net.keys[(i + 1) % 4]);
                let amount = Quantity(u128::from(h) * 10 + i as u128 + salt);
                let raw = match (h + i as u64) % 3 {
                    0 => net.tx(
                        i,
                        *nonce,
                        methods::TRANSFER,
                        &Transfer { to, amount },
                        1,
                        GAS,
                    ),
                    1 => net.tx(
                        i,
                        *nonce,
                        methods::ADD_ESCROW,
                        &Escrow {
                            account: to,
                            amount,
                        },
                        1,
                        GAS,
                    ),
                    _ => net.tx(
                        i,
                        *nonce,
                        methods::RECLAIM_ESCROW,
                        &ReclaimEscrow {
                            account: to,
                            shares: Quantity(5),
                        },
                        1,
                        GAS,
                    ),
                };
                *nonce += 1;
                txs.push(raw);
            }
            net.make_block(h, txs)
        })
        .collect()
}

/// Applies genesis (as height 0) and `blocks` to `db`, one version per height.
fn apply(net: &Net, db: &Mkvs, blocks: &[Block]) -> Vec<Hash> {
    let mut roots = Vec::new();
    if MkvsStore::open(db).unwrap().base_height().is_none() {
        let mut s = MkvsStore::open(db).unwrap();
        net.app.init_chain(&mut s, &net.genesis).unwrap();
        roots.push(s.commit(0).unwrap());
    }
    for b in blocks {
        let mut s = MkvsStore::open(db).unwrap();
        net.app.apply_block(&mut s, b).unwrap();
        roots.push(s.commit(b.height).unwrap());
    }
    roots
}

#[test]
fn same_blocks_same_roots_different_blocks_different_roots() {
    let net = Net::new(4);
    let a = apply(&net, &Mkvs::in_memory(), &blocks(&net, 0));
    let b = apply(&net, &Mkvs::in_memory(), &blocks(&net, 0));
    assert_eq!(
        a, b,
        "replaying the same blocks from genesis gives the same root at every height"
    );
    let c = apply(&net, &Mkvs::in_memory(), &blocks(&net, 1));
    assert_eq!(a[0], c[0], "same genesis");
    assert_ne!(a[30], c[30], "other transactions, other state");
}

#[test]
fn mkvs_state_matches_the_in_memory_state() {
    let mut net = Net::new(4);
    let bs = blocks(&net, 0);
    let db = Mkvs::in_memory();
    apply(&net, &db, &bs);
    for b in &bs {
        net.app.apply_block(&mut net.store, b).unwrap();
    }
    let view = MkvsView::at(&db, 30).unwrap();
    let in_mkvs = view.range(&[], None).unwrap();
    let in_memory: Vec<_> = net.store.entries().clone().into_iter().collect();
    assert_eq!(in_mkvs, in_memory);
}

#[test]
fn restart_from_disk_continues_to_the_same_roots() {
    let net = Net::new(4);
    let bs = blocks(&net, 0);
    let uninterrupted = apply(&net, &Mkvs::in_memory(), &bs);
    let dir = tempfile::tempdir().unwrap();
    let mut roots = {
        let db = Mkvs::open(dir.path(), Options::default()).unwrap();
        apply(&net, &db, &bs[..12])
    };
    // The process stops; a new one reopens the same directory.
    let db = Mkvs::open(dir.path(), Options::default()).unwrap();
    assert_eq!(MkvsStore::open(&db).unwrap().base_height(), Some(12));
    assert_eq!(
        net.app
            .last_height(&MkvsView::at(&db, 12).unwrap())
            .unwrap(),
        Some(12)
    );
    roots.extend(apply(&net, &db, &bs[12..]));
    assert_eq!(roots, uninterrupted);
}

#[test]
fn queries_at_past_heights() {
    let net = Net::new(4);
    let bs = blocks(&net, 0);
    let db = Mkvs::in_memory();
    apply(&net, &db, &bs);
    let a0 = addr(&net.keys[0]).to_string();
    let args = serde_json::json!({ "address": a0 });
    let at = |h: u64| {
        let mut view = MkvsView::at(&db, h).unwrap();
        query(&mut view, "staking.Account", &args).unwrap()["general"]["nonce"].clone()
    };
    assert_eq!(at(0), serde_json::json!(0));
    assert_eq!(at(1), serde_json::json!(1));
    assert_eq!(at(30), serde_json::json!(30));
    let mut view = MkvsView::at(&db, 0).unwrap();
    let genesis_balance = query(&mut view, "staking.Account", &args).unwrap();
    assert_eq!(
        genesis_balance["general"]["balance"],
        serde_json::json!(FUNDS.to_string())
    );
}

/// One entity registers 256 runtimes whose ids form a crit-bit chain (id
/// `i` is `1 << (255 - i)`, each a bit-level extension of the previous):
/// their registry keys make the consensus trie hundreds of levels deep.
/// Every registration succeeds and every height commits on MKVS, on a
/// thread with a small stack. (Before, MKVS refused the insert past 256
/// levels while the decided block was applied, and the chain halted.)
#[test]
fn runtime_id_chain_applies_and_commits() {
    let run = || {
        use atoll_consensus_types::registry::{self, AdmissionPolicy};
        use atoll_types::Namespace;

        use crate::registry::{entity, runtime_with_id};

        let net = Net::new(1);
        let db = Mkvs::in_memory();
        apply(&net, &db, &[]);
        let key = &net.keys[0];
        let mut txs = vec![net.tx(
            0,
            0,
            registry::methods::REGISTER_ENTITY,
            &entity(key, vec![]),
            0,
            100_000,
        )];
        for i in 0..256usize {
            let mut id = [0u8; 32];
            id[i / 8] = 0x80 >> (i % 8);
            let desc = runtime_with_id(key, Namespace(id), AdmissionPolicy::AnyNode {});
            txs.push(net.tx(
                0,
                i as u64 + 1,
                registry::methods::REGISTER_RUNTIME,
                &desc,
                0,
                100_000,
            ));
        }
        let blocks: Vec<Block> = txs
            .chunks(40)
            .enumerate()
            .map(|(h, chunk)| net.make_block(h as u64 + 1, chunk.to_vec()))
            .collect();
        for b in &blocks {
            let mut s = MkvsStore::open(&db).unwrap();
            let r = net.app.apply_block(&mut s, b).unwrap();
            for t in &r.tx_results {
                assert_eq!(t.error, None, "height {}", b.height);
            }
            s.commit(b.height).unwrap();
        }
        let last = blocks.last().unwrap().height;
        let mut view = MkvsView::at(&db, last).unwrap();
        let runtimes = query(&mut view, "registry.Runtimes", &serde_json::Value::Null).unwrap();
        assert_eq!(runtimes.as_array().unwrap().len(), 256);
        // Heights go on after the chain.
        let mut s = MkvsStore::open(&db).unwrap();
        net.app
            .apply_block(&mut s, &net.make_block(last + 1, vec![]))
            .unwrap();
        s.commit(last + 1).unwrap();
    };
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}
