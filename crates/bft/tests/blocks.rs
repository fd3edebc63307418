//! The pieces consensus relies on, without an engine: proposer selection,
//! the wire codec, and the checks a validator makes before voting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "test harness: a failed setup step should abort the test loudly"
)]

use std::collections::BTreeMap;

use atoll_bft::block::{
    BftBlock, DoubleProposal, DoubleSign, EvidenceVote, InvalidBlock, Judge, Limits, Parent,
    block_hash,
};
use atoll_bft::codec::{CborCodec, WireCommit};
use atoll_bft::context::{
    AtollContext, BlockHash, Height, Proposal, ProposalPart, Validator, ValidatorAddress,
    ValidatorSet, Vote,
};
use atoll_consensus::app::{App, Block};
use atoll_consensus::genesis::Genesis;
use atoll_consensus_types::staking::{Account, Transfer, methods};
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_state::MemStore;
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, cbor};
use bytes::Bytes;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::SignedConsensusMsg;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::Context as _;
use malachitebft_app_channel::app::types::core::{NilOrVal, Round, SignedMessage, VoteType};

fn key(i: u8) -> SigningKey {
    SigningKey::from_seed(&[i + 1; 32])
}

fn set(powers: &[u64]) -> (ValidatorSet, Vec<SigningKey>) {
    let keys: Vec<SigningKey> = (0..powers.len() as u8).map(|i| key(100 + i)).collect();
    let validators = keys
        .iter()
        .zip(powers)
        .map(|(k, p)| Validator {
            address: ValidatorAddress::from_key(&k.public_key()),
            consensus_key: k.public_key(),
            node_id: k.public_key(),
            entity: Address::from_ed25519(&k.public_key()),
            voting_power: *p,
        })
        .collect();
    (ValidatorSet::new(validators).unwrap(), keys)
}

fn genesis() -> Genesis {
    let mut g = Genesis {
        chain_id: "atoll-bft-unit".into(),
        initial_height: 1,
        debug: true,
        ..Genesis::default()
    };
    let mut acct = Account::default();
    acct.general.balance = Quantity(1_000_000);
    g.staking
        .ledger
        .insert(Address::from_ed25519(&key(0).public_key()), acct);
    g.staking.total_supply = Quantity(1_000_000);
    g
}

#[test]
fn validator_sets_are_sorted_and_never_empty() {
    let (s, _) = set(&[1, 5, 3, 5]);
    let powers: Vec<u64> = s.validators().iter().map(|v| v.voting_power).collect();
    assert_eq!(powers, vec![5, 5, 3, 1]);
    assert!(s.validators()[0].address < s.validators()[1].address);
    assert!(ValidatorSet::new(vec![]).is_err());
}

#[test]
fn proposers_are_deterministic_rotate_by_round_and_follow_stake() {
    let ctx = AtollContext::new(&genesis().chain_context().unwrap()).unwrap();
    let (s, _) = set(&[1, 2, 3, 14]);
    let mut counts = BTreeMap::new();
    for h in 1..=2_000u64 {
        let p0 = ctx.select_proposer(&s, Height(h), Round::new(0)).address;
        assert_eq!(
            p0,
            ctx.select_proposer(&s, Height(h), Round::new(0)).address
        );
        let p1 = ctx.select_proposer(&s, Height(h), Round::new(1)).address;
        assert_ne!(p0, p1, "consecutive rounds try different validators");
        *counts.entry(p0).or_insert(0u32) += 1;
    }
    let heavy = s.validators()[0].address; // power 14 of 20
    let light = s.validators()[3].address; // power 1 of 20
    assert!(counts[&heavy] > 1_200, "{counts:?}");
    assert!(counts[&light] < 250, "{counts:?}");
}

#[test]
fn codec_round_trips_and_refuses_garbage() {
    let vote = Vote {
        height: Height(7),
        round: Round::new(2),
        value: NilOrVal::Val(BlockHash(Hash::digest(b"b"))),
        vote_type: VoteType::Precommit,
        validator: ValidatorAddress::from_key(&key(1).public_key()),
        extension: None,
    };
    let msg = SignedConsensusMsg::Vote(SignedMessage::new(
        vote,
        key(1).sign_raw(b"not checked by the codec"),
    ));
    let bytes = CborCodec.encode(&msg).unwrap();
    let back: SignedConsensusMsg<AtollContext> = CborCodec.decode(bytes).unwrap();
    assert_eq!(back, msg);

    let part = StreamMessage::new(
        StreamId::new(Bytes::from_static(b"id")),
        3,
        StreamContent::Data(ProposalPart::Data(vec![1, 2, 3])),
    );
    let bytes = Codec::<StreamMessage<ProposalPart>>::encode(&CborCodec, &part).unwrap();
    let back: StreamMessage<ProposalPart> = CborCodec.decode(bytes).unwrap();
    assert_eq!(back, part);

    for garbage in [&b""[..], b"\xff\x00", b"\xa1\x64vote\xf6"] {
        let r: Result<SignedConsensusMsg<AtollContext>, _> =
            CborCodec.decode(Bytes::copy_from_slice(garbage));
        assert!(r.is_err());
    }
}

fn transfer(app: &App, nonce: u64) -> Vec<u8> {
    let tx = Transaction::call(
        nonce,
        Fee::new(Quantity(0), 10_000),
        methods::TRANSFER,
        &Transfer {
            to: Address::from_ed25519(&key(9).public_key()),
            amount: Quantity(5),
        },
    )
    .unwrap();
    cbor::to_vec(&Signed::sign(&key(0), app.tx_context(), &tx).unwrap()).unwrap()
}

/// A commit for `parent` signed by the validators at `signers` (indices).
fn commit(
    ctx: &AtollContext,
    s: &ValidatorSet,
    keys: &[SigningKey],
    parent: &Parent,
    signers: &[usize],
) -> WireCommit {
    let signatures = signers
        .iter()
        .map(|i| {
            let k = &keys[*i];
            let address = ValidatorAddress::from_key(&k.public_key());
            let vote = Vote {
                height: Height(parent.height),
                round: Round::new(0),
                value: NilOrVal::Val(parent.hash),
                vote_type: VoteType::Precommit,
                validator: address,
                extension: None,
            };
            assert!(s.get(&address).is_some());
            (
                address,
                k.sign(&ctx.contexts().vote, &vote.sign_bytes().unwrap()),
            )
        })
        .collect();
    WireCommit {
        height: Height(parent.height),
        round: 0,
        value: parent.hash,
        signatures,
    }
}

#[test]
fn validators_check_proposed_blocks() {
    let g = genesis();
    let app = App::new(&g).unwrap();
    let ctx = AtollContext::new(app.chain_context()).unwrap();
    let mut store = MemStore::new();
    app.init_chain(&mut store, &g).unwrap();
    let (s, keys) = set(&[1, 1, 1, 1]);
    let proposer = s.validators()[0].clone();
    let limits = Limits {
        max_block_size: 1 << 20,
        max_block_gas: 0,
    };
    let parent = Parent {
        height: 1,
        hash: BlockHash(Hash::digest(b"block 1")),
        time: 100,
    };
    let judge = Judge {
        app: &app,
        contexts: ctx.contexts(),
        limits,
        height: 2,
        parent: Some(&parent),
        parent_set: Some(&s),
        set: &s,
        state_root: atoll_crypto::Hash::default(),
    };
    let signer_indices: Vec<usize> = (0..3)
        .map(|i| {
            keys.iter()
                .position(|k| {
                    ValidatorAddress::from_key(&k.public_key()) == s.validators()[i].address
                })
                .unwrap()
        })
        .collect();
    let good = || BftBlock {
        block: Block {
            height: 2,
            time: 101,
            proposer: Some(proposer.entity),
            signers: s.validators()[..3]
                .iter()
                .map(|v| (v.entity, v.voting_power))
                .collect(),
            prev_hash: parent.hash.0,
            txs: vec![transfer(&app, 0).into(), transfer(&app, 1).into()],
            equivocators: vec![],
        },
        state_root: atoll_crypto::Hash::default(),
        last_commit: Some(commit(&ctx, &s, &keys, &parent, &signer_indices)),
        evidence: vec![],
        double_proposals: vec![],
    };
    let check = |b: &BftBlock| judge.check(&store, &b.to_bytes().unwrap(), &proposer.address);
    assert!(check(&good()).is_ok());
    assert!(
        !block_hash(&good().to_bytes().unwrap())
            .0
            .as_ref()
            .is_empty()
    );

    let mut b = good();
    b.block.height = 3;
    assert!(matches!(check(&b), Err(InvalidBlock::Height { .. })));

    // A block built on another state root is refused before anything else.
    let mut b = good();
    b.state_root = atoll_crypto::Hash::digest(b"another state");
    assert!(matches!(check(&b), Err(InvalidBlock::StateRoot { .. })));

    let mut b = good();
    b.block.time = 99;
    assert!(matches!(check(&b), Err(InvalidBlock::Time { .. })));

    let mut b = good();
    b.block.proposer = Some(s.validators()[1].entity);
    assert_eq!(check(&b), Err(InvalidBlock::Proposer));

    let mut b = good();
    b.block.prev_hash = Hash::digest(b"elsewhere");
    assert_eq!(check(&b), Err(InvalidBlock::Parent));

    // Fee recipients must follow from the certificate.
    let mut b = good();
    b.block.signers.pop();
    assert_eq!(check(&b), Err(InvalidBlock::Signers));

    // Two of four is not a quorum.
    let mut b = good();
    b.last_commit = Some(commit(&ctx, &s, &keys, &parent, &signer_indices[..2]));
    b.block.signers.pop();
    assert!(matches!(check(&b), Err(InvalidBlock::LastCommit(_))));

    // Nonces must run in sequence from the account's.
    let mut b = good();
    b.block.txs.swap(0, 1);
    assert!(matches!(check(&b), Err(InvalidBlock::Tx { index: 0, .. })));
    let mut b = good();
    b.block.txs.push(b"junk".to_vec().into());
    assert!(matches!(check(&b), Err(InvalidBlock::Tx { index: 2, .. })));

    // Double-sign evidence must verify, and names the node to slash.
    let cheat = &keys[signer_indices[1]];
    let cheat_addr = ValidatorAddress::from_key(&cheat.public_key());
    let vote_for = |value: Option<BlockHash>| {
        let v = Vote {
            height: Height(parent.height),
            round: Round::new(0),
            value: value.map_or(NilOrVal::Nil, NilOrVal::Val),
            vote_type: VoteType::Prevote,
            validator: cheat_addr,
            extension: None,
        };
        EvidenceVote {
            value,
            signature: cheat.sign(&ctx.contexts().vote, &v.sign_bytes().unwrap()),
        }
    };
    let double = DoubleSign {
        height: Height(parent.height),
        round: 0,
        precommit: false,
        validator: cheat_addr,
        first: vote_for(Some(parent.hash)),
        second: vote_for(None),
    };
    let mut b = good();
    b.evidence = vec![double.clone(), double.clone()];
    b.block.equivocators = vec![cheat.public_key()];
    assert!(check(&b).is_ok());
    b.block.equivocators = vec![];
    assert_eq!(check(&b), Err(InvalidBlock::Equivocators));
    let mut b = good();
    let mut same = double.clone();
    same.second = same.first.clone();
    b.evidence = vec![same];
    b.block.equivocators = vec![cheat.public_key()];
    assert!(matches!(check(&b), Err(InvalidBlock::Evidence(_))));
    let mut b = good();
    let mut forged = double.clone();
    forged.second.value = Some(BlockHash(Hash::digest(b"other")));
    b.evidence = vec![forged];
    b.block.equivocators = vec![cheat.public_key()];
    assert!(matches!(check(&b), Err(InvalidBlock::Evidence(_))));

    // So must double proposals.
    let proposal = |value: &[u8]| {
        let p = Proposal {
            height: Height(parent.height),
            round: 0,
            value: BlockHash(Hash::digest(value)),
            pol_round: -1,
            proposer: cheat_addr,
        };
        let sig = cheat.sign(&ctx.contexts().proposal, &cbor::to_vec(&p).unwrap());
        (p, sig)
    };
    let ((a, sa), (b2, sb)) = (proposal(b"x"), proposal(b"y"));
    let dp = DoubleProposal {
        first: a.clone(),
        first_signature: sa,
        second: b2,
        second_signature: sb,
    };
    let mut b = good();
    b.double_proposals = vec![dp.clone()];
    b.block.equivocators = vec![cheat.public_key()];
    assert!(check(&b).is_ok());
    let mut same = dp.clone();
    same.second = a;
    same.second_signature = sa;
    b.double_proposals = vec![same];
    assert!(matches!(check(&b), Err(InvalidBlock::Evidence(_))));

    // Non-canonical bytes are refused (one block, one hash).
    let mut bytes = good().to_bytes().unwrap();
    bytes.push(0);
    assert!(matches!(
        judge.check(&store, &bytes, &proposer.address),
        Err(InvalidBlock::Malformed(_))
    ));

    // Too large.
    let small = Judge {
        limits: Limits {
            max_block_size: 100,
            max_block_gas: 0,
        },
        ..judge
    };
    assert!(matches!(
        small.check(&store, &good().to_bytes().unwrap(), &proposer.address),
        Err(InvalidBlock::TooLarge { .. })
    ));
}

#[test]
fn equivocators_in_a_block_are_slashed_and_frozen() {
    use atoll_consensus::services::registry::Registry;
    use atoll_consensus::services::staking::state::StakingState;
    use atoll_consensus_types::registry::{Entity, KeyAddresses, Node, Roles};
    use atoll_consensus_types::staking::{Delegation, Slash, SlashReason};

    let mut g = genesis();
    let entity = key(20).public_key();
    let node = key(21).public_key();
    let ea = Address::from_ed25519(&entity);
    let mut acct = Account::default();
    acct.escrow.active.balance = Quantity(1_000);
    acct.escrow.active.total_shares = Quantity(1_000);
    g.staking.ledger.insert(ea, acct);
    g.staking.delegations.insert(
        ea,
        BTreeMap::from([(
            ea,
            Delegation {
                shares: Quantity(1_000),
            },
        )]),
    );
    g.staking.total_supply.0 += 1_000;
    g.staking.parameters.slashing.insert(
        SlashReason::ConsensusEquivocation,
        Slash {
            amount: Quantity(100),
            freeze_interval: 2,
        },
    );
    g.registry.entities.push(Entity {
        v: 1,
        id: entity,
        nodes: vec![node],
    });
    g.registry.nodes.push(Node {
        v: 1,
        id: node,
        entity_id: entity,
        expiration: 100,
        p2p: KeyAddresses {
            id: key(22).public_key(),
            addresses: vec![],
        },
        consensus: KeyAddresses {
            id: key(23).public_key(),
            addresses: vec![],
        },
        vrf: None,
        runtimes: vec![],
        roles: Roles::VALIDATOR,
        software_version: "test".into(),
    });
    let app = App::new(&g).unwrap();
    let mut store = MemStore::new();
    app.init_chain(&mut store, &g).unwrap();
    let block = Block {
        height: 1,
        equivocators: vec![node],
        ..Block::default()
    };
    app.apply_block(&mut store, &block).unwrap();
    let escrow = StakingState::new(&mut store)
        .account(&ea)
        .unwrap()
        .escrow
        .active
        .balance;
    assert_eq!(escrow, Quantity(900));
    let status = Registry::new(&mut store)
        .state()
        .node_status(&node)
        .unwrap()
        .expect("frozen");
    assert!(status.freeze_end > 0);
}
