use super::*;
use crate::context::Validator;
use atoll_crypto::Address;
use atoll_crypto::ed25519::{PublicKey, SigningKey};
use std::time::Duration;

fn key(i: u8) -> PublicKey {
    SigningKey::from_seed(&[i; 32]).public_key()
}

mod proposing {
    use super::super::*;
    use crate::block::BftBlock;

    use crate::chain::Chain;
    use crate::context::AtollContext;
    use atoll_consensus::genesis::StakedNode;
    use atoll_consensus_types::registry::Roles;
    use atoll_consensus_types::staking::{Transfer, methods};
    use atoll_crypto::Address;
    use atoll_crypto::ed25519::SigningKey;
    use atoll_types::signed::Signed;
    use atoll_types::transaction::{Fee, Transaction};
    use atoll_types::{Quantity, cbor};
    use std::time::Duration;

    const BLOCK_TIME: Duration = Duration::from_secs(10);
    const PROPOSE_TIMEOUT: Duration = Duration::from_secs(60);

    fn key(i: u8) -> SigningKey {
        SigningKey::from_seed(&[i; 32])
    }

    /// One validator (keys 1-4) and a funded user (key 9).
    fn genesis() -> Genesis {
        let mut g = Genesis {
            chain_id: "atoll-bft-propose".into(),
            initial_height: 1,
            debug: true,
            ..Genesis::default()
        };
        g.add_staked_node(StakedNode {
            entity: key(1).public_key(),
            stake: Quantity(1_000),
            node: key(2).public_key(),
            consensus: key(3).public_key(),
            p2p: key(4).public_key(),
            vrf: None,
            roles: Roles::VALIDATOR,
            runtimes: vec![],
            expiration: 1_000,
        });
        g.fund(Address::from_ed25519(&key(9).public_key()), Quantity(1_000));
        g
    }

    fn host(dir: &std::path::Path, queue: MemQueue) -> Host<MemQueue> {
        let g = genesis();
        let app = App::new(&g).unwrap();
        let chain = Chain::open(dir, &app, &g).unwrap();
        let ctx = AtollContext::new(app.chain_context()).unwrap();
        let signer = AtollSigner::new(&ctx, key(3));
        let config = HostConfig {
            block_time: Some(BLOCK_TIME),
            ..HostConfig::default()
        };
        Host::with_app(app, &g, chain, signer, queue, config).unwrap()
    }

    fn transfer(host: &Host<MemQueue>) -> Vec<u8> {
        let tx = Transaction::call(
            0,
            Fee::new(Quantity(0), 10_000),
            methods::TRANSFER,
            &Transfer {
                to: Address::from_ed25519(&key(1).public_key()),
                amount: Quantity(1),
            },
        )
        .unwrap();
        cbor::to_vec(&Signed::sign(&key(9), host.app.tx_context(), &tx).unwrap()).unwrap()
    }

    fn proposed(host: &Host<MemQueue>, hash: &BlockHash) -> BftBlock {
        let c = host.candidates.get(&(1, *hash)).unwrap();
        BftBlock::from_bytes(&c.bytes).unwrap()
    }

    // The clock is tokio's paused clock: it moves only when every task
    // waits, straight to the next timer, so these durations are exact.

    #[tokio::test(start_paused = true)]
    async fn an_idle_proposer_proposes_what_arrives_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let queue = MemQueue::new();
        let mut host = host(dir.path(), queue.clone());
        let raw = transfer(&host);
        let start = tokio::time::Instant::now();
        host.round_started = start;
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            queue.push(raw);
        });
        let hash = host
            .propose(1, Round::new(0), PROPOSE_TIMEOUT)
            .await
            .unwrap();
        late.await.unwrap();
        assert_eq!(proposed(&host, &hash).block.txs.len(), 1);
        // Woken by the arrival, not by the end of the block time.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert_eq!(host.built.get(&(1, 0)), Some(&hash));
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_to_propose_it_waits_one_block_time_then_proposes_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = host(dir.path(), MemQueue::new());
        let start = tokio::time::Instant::now();
        host.round_started = start;
        let hash = host
            .propose(1, Round::new(0), PROPOSE_TIMEOUT)
            .await
            .unwrap();
        assert!(proposed(&host, &hash).block.txs.is_empty());
        assert_eq!(start.elapsed(), BLOCK_TIME);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_is_bounded_by_the_propose_timeout_and_skipped_after_round_0() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = host(dir.path(), MemQueue::new());
        let start = tokio::time::Instant::now();
        host.round_started = start;
        host.propose(1, Round::new(0), Duration::from_secs(4))
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        let start = tokio::time::Instant::now();
        host.round_started = start;
        host.propose(1, Round::new(1), PROPOSE_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}

/// Proposal streams as hostile peers send them, into a real host.
mod streams {
    use super::super::*;
    use crate::block::{BftBlock, not_too_far_ahead};
    use crate::context::{Height, PartInit};
    use bytes::Bytes;
    use malachitebft_app_channel::app::streaming::{StreamContent, StreamMessage};
    use malachitebft_app_channel::app::types::core::Validity;

    use crate::chain::Chain;
    use crate::context::AtollContext;
    use atoll_consensus::genesis::StakedNode;
    use atoll_consensus_types::registry::Roles;
    use atoll_crypto::ed25519::SigningKey;
    use atoll_types::Quantity;
    use malachitebft_app_channel::app::types::core::CommitCertificate;

    fn key(i: u8) -> SigningKey {
        SigningKey::from_seed(&[i; 32])
    }

    fn genesis() -> Genesis {
        let mut g = Genesis {
            chain_id: "atoll-bft-streams".into(),
            initial_height: 1,
            debug: true,
            ..Genesis::default()
        };
        g.add_staked_node(StakedNode {
            entity: key(1).public_key(),
            stake: Quantity(1_000),
            node: key(2).public_key(),
            consensus: key(3).public_key(),
            p2p: key(4).public_key(),
            vrf: None,
            roles: Roles::VALIDATOR,
            runtimes: vec![],
            expiration: 1_000,
        });
        g
    }

    /// The host of the only validator; the blocks it judges are signed
    /// with that validator's key, as if streamed by its other self.
    fn host(dir: &std::path::Path) -> Host<MemQueue> {
        let g = genesis();
        let app = App::new(&g).unwrap();
        let chain = Chain::open(dir, &app, &g).unwrap();
        let ctx = AtollContext::new(app.chain_context()).unwrap();
        let signer = AtollSigner::new(&ctx, key(3));
        let config = HostConfig {
            part_size: 1024,
            ..HostConfig::default()
        };
        let mut host = Host::with_app(app, &g, chain, signer, MemQueue::new(), config).unwrap();
        host.height = 1;
        host
    }

    fn peer(i: u8) -> PeerId {
        PeerId::from_bytes(&[0, 4, i, i, i, i]).unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// The signed parts of `block` for `(1, round)`.
    fn parts(host: &Host<MemQueue>, round: u32, block: &BftBlock) -> Vec<ProposalPart> {
        let bytes = block.to_bytes().unwrap();
        host.parts_for(1, Round::new(round), &bytes, block_hash(&bytes))
            .unwrap()
    }

    fn messages(stream: u8, parts: Vec<ProposalPart>) -> Vec<StreamMessage<ProposalPart>> {
        let id = StreamId::new(Bytes::from(vec![stream]));
        let n = parts.len() as u64;
        let mut out: Vec<_> = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| StreamMessage::new(id.clone(), i as u64, StreamContent::Data(p)))
            .collect();
        out.push(StreamMessage::new(id, n, StreamContent::Fin));
        out
    }

    /// Sends a whole stream; the value it yields at the end, if any.
    fn send(
        host: &mut Host<MemQueue>,
        from: PeerId,
        msgs: Vec<StreamMessage<ProposalPart>>,
    ) -> Option<ProposedValue<AtollContext>> {
        let mut last = None;
        for m in msgs {
            last = host.receive_part(from, m);
        }
        last
    }

    /// Streams `block`, signed for `(1, round)`, as stream `stream`.
    fn send_block(
        host: &mut Host<MemQueue>,
        from: PeerId,
        stream: u8,
        round: u32,
        block: &BftBlock,
    ) -> Option<ProposedValue<AtollContext>> {
        let ps = parts(host, round, block);
        send(host, from, messages(stream, ps))
    }

    fn block(host: &mut Host<MemQueue>, time: u64) -> BftBlock {
        let mut b = host.build(1).unwrap();
        b.block.time = time;
        b
    }

    #[test]
    fn a_second_different_proposal_for_a_round_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = host(dir.path());
        let t = now();
        let first = block(&mut host, t);
        let second = block(&mut host, t + 1);
        let first_parts = parts(&host, 0, &first);
        let v = send(&mut host, peer(1), messages(1, first_parts.clone())).unwrap();
        assert_eq!(v.validity, Validity::Valid);
        assert_eq!(v.value, block_hash(&first.to_bytes().unwrap()));
        // The equivocating second block: not judged, not kept.
        let second_parts = parts(&host, 0, &second);
        assert!(send(&mut host, peer(1), messages(2, second_parts.clone())).is_none());
        assert!(send(&mut host, peer(2), messages(3, second_parts)).is_none());
        assert_eq!(host.candidates.len(), 1);
        assert_eq!(host.undecided.get(&(1, 0)).map(Vec::len), Some(1));
        // The same proposal again (restreamed) is the same value.
        let again = send(&mut host, peer(3), messages(4, first_parts)).unwrap();
        assert_eq!(again, v);
        // Another round is another slot.
        let r1 = send_block(&mut host, peer(1), 5, 1, &second).unwrap();
        assert_eq!(r1.validity, Validity::Valid);
        assert_eq!(host.candidates.len(), 2);
    }

    #[test]
    fn an_invalid_block_is_neither_stored_nor_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = host(dir.path());
        let mut bad = block(&mut host, now());
        bad.state_root = Hash::digest(b"another state");
        let v = send_block(&mut host, peer(1), 1, 0, &bad).unwrap();
        assert_eq!(v.validity, Validity::Invalid);
        assert!(host.candidates.is_empty());
        assert!(host.chain.candidates().unwrap().is_empty());
        // Its verdict is remembered (a restarted round needs it), and a
        // valid second block from the same proposer is still dropped.
        assert_eq!(host.undecided.get(&(1, 0)).map(Vec::len), Some(1));
        let good = block(&mut host, now());
        assert!(send_block(&mut host, peer(1), 2, 0, &good).is_none());
    }

    #[test]
    fn a_block_dated_beyond_the_drift_bound_gets_a_nil_vote() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = host(dir.path());
        let drift = host.config.max_time_drift.as_secs();
        let far = block(&mut host, now() + 100 * 365 * 24 * 3600);
        let v = send_block(&mut host, peer(1), 1, 0, &far).unwrap();
        assert_eq!(v.validity, Validity::Invalid);
        assert!(host.candidates.is_empty());
        let beyond = block(&mut host, now() + drift + 60);
        let v = send_block(&mut host, peer(1), 2, 1, &beyond).unwrap();
        assert_eq!(v.validity, Validity::Invalid);
        // Within the bound (the clock may move on meanwhile: only later).
        let near = block(&mut host, now() + drift / 2);
        let v = send_block(&mut host, peer(1), 3, 2, &near).unwrap();
        assert_eq!(v.validity, Validity::Valid);
        assert_eq!(
            not_too_far_ahead(100 + drift + 1, 100, drift),
            Err(crate::block::InvalidBlock::FutureTime {
                got: 100 + drift + 1,
                now: 100,
                max_drift: drift
            })
        );
        assert_eq!(not_too_far_ahead(100 + drift, 100, drift), Ok(()));
    }

    #[test]
    fn a_flooding_peer_cannot_evict_the_proposers_stream() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = host(dir.path());
        // A block of several parts, so its stream stays open a while.
        let b = block(&mut host, now());
        let honest = messages(1, parts(&host, 0, &b));
        let (head, tail) = honest.split_at(2);
        for m in head.iter().cloned() {
            assert!(host.receive_part(peer(1), m).is_none());
        }
        // One peer opens many streams, each with an Init and a big part.
        let garbage = ProposalPart::Data(vec![7; 60_000]);
        let init = ProposalPart::Init(PartInit {
            height: Height(1),
            round: 0,
            pol_round: -1,
            proposer: host.address,
        });
        for i in 0..2_000u32 {
            let id = StreamId::new(Bytes::from(i.to_be_bytes().to_vec()));
            host.receive_part(
                peer(9),
                StreamMessage::new(id.clone(), 0, StreamContent::Data(init.clone())),
            );
            host.receive_part(
                peer(9),
                StreamMessage::new(id, 1, StreamContent::Data(garbage.clone())),
            );
            let held = host.streams.keys().filter(|(p, _)| *p == peer(9)).count();
            assert!(held <= MAX_STREAMS_PER_PEER, "{held} streams held");
        }
        // Many peers (fewer than the global cap), a few streams each:
        // the global cap evicts from the biggest holders, never the
        // one stream of the proposer's peer.
        for p in 10..(10 + MAX_STREAMS as u8 - 4) {
            for i in 0..MAX_STREAMS_PER_PEER as u8 {
                let id = StreamId::new(Bytes::from(vec![p, i]));
                host.receive_part(
                    peer(p),
                    StreamMessage::new(id, 0, StreamContent::Data(init.clone())),
                );
            }
        }
        assert!(host.streams.len() <= MAX_STREAMS);
        let mut last = None;
        for m in tail.iter().cloned() {
            last = host.receive_part(peer(1), m);
        }
        let v = last.expect("the proposer's stream completed");
        assert_eq!(v.validity, Validity::Valid);
    }

    #[test]
    fn streams_outside_the_height_window_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = host(dir.path());
        for (i, h) in [0u64, 1 + FUTURE_HEIGHTS + 1, u64::MAX]
            .into_iter()
            .enumerate()
        {
            let init = ProposalPart::Init(PartInit {
                height: Height(h),
                round: 0,
                pol_round: -1,
                proposer: host.address,
            });
            let id = StreamId::new(Bytes::from(vec![i as u8]));
            host.receive_part(
                peer(1),
                StreamMessage::new(id, 0, StreamContent::Data(init)),
            );
        }
        assert!(host.streams.is_empty());
        // A near-future height is held until it starts, a few per peer.
        for i in 0..10u8 {
            let mut b = block(&mut host, now());
            b.block.height = 2;
            let bytes = b.to_bytes().unwrap();
            let mut ps = host
                .parts_for(2, Round::new(u32::from(i)), &bytes, block_hash(&bytes))
                .unwrap();
            if let Some(ProposalPart::Init(init)) = ps.first_mut() {
                init.height = Height(2);
            }
            assert!(send(&mut host, peer(1), messages(i, ps)).is_none());
        }
        assert_eq!(host.pending.len(), MAX_PENDING_PER_PEER);
    }

    #[test]
    fn a_certified_block_on_another_state_root_stops_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = host(dir.path());
        let mut b = block(&mut host, now());
        b.state_root = Hash::digest(b"the network's root");
        let bytes = b.to_bytes().unwrap();
        let hash = block_hash(&bytes);
        // As value sync hands it over (its certificate checked by the
        // engine): kept in memory, not stored.
        host.candidates.insert(
            (1, hash),
            Candidate {
                bytes,
                parts: Vec::new(),
            },
        );
        let cert = CommitCertificate::new(Height(1), Round::new(0), hash, Vec::new());
        let err = host.commit(&cert).unwrap_err();
        assert!(
            matches!(err, BftError::StateDiverged { height: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("state diverged"));
        assert_eq!(host.chain.last_height().unwrap(), None);
        // The block on the node's own root applies.
        let good = block(&mut host, now());
        let bytes = good.to_bytes().unwrap();
        let hash = block_hash(&bytes);
        host.candidates.insert(
            (1, hash),
            Candidate {
                bytes,
                parts: Vec::new(),
            },
        );
        let cert = CommitCertificate::new(Height(1), Round::new(0), hash, Vec::new());
        host.commit(&cert).unwrap();
        assert_eq!(host.chain.last_height().unwrap(), Some(1));
    }
}

#[test]
fn only_validators_pace_their_heights() {
    let validator = key(1);
    let set = ValidatorSet::new(vec![Validator {
        address: ValidatorAddress::from_key(&validator),
        consensus_key: validator,
        node_id: key(2),
        entity: Address::from_ed25519(&key(3)),
        voting_power: 10,
    }])
    .unwrap();
    let target = Some(Duration::from_millis(100));
    let me = ValidatorAddress::from_key(&validator);
    let follower = ValidatorAddress::from_key(&key(4));
    assert_eq!(paced(target, &set, &me), target);
    assert_eq!(paced(target, &set, &follower), None);
    assert_eq!(paced(None, &set, &me), None);
}

/// The host's pure decisions, one row per case.
mod decisions {
    use std::collections::VecDeque;
    use std::time::Duration;

    use malachitebft_app_channel::app::types::core::Round;

    use super::super::propose::idle_wait;
    use super::super::stream::{
        MAX_STREAMS, MAX_STREAMS_PER_PEER, Window, complete, height_window, stream_bounds, to_evict,
    };

    #[test]
    fn height_windows() {
        let rows = [
            (9, 10, Window::Past),
            (0, 10, Window::Past),
            (10, 10, Window::Current),
            (11, 10, Window::Ahead),
            (12, 10, Window::Ahead),
            (13, 10, Window::TooFar),
            (u64::MAX, 10, Window::TooFar),
            (u64::MAX, u64::MAX, Window::Current),
            (u64::MAX, u64::MAX - 1, Window::Ahead),
        ];
        for (h, current, expected) in rows {
            assert_eq!(height_window(h, current), expected, "{h} at {current}");
            assert_eq!(
                height_window(h, current).kept(),
                matches!(expected, Window::Current | Window::Ahead)
            );
        }
    }

    #[test]
    fn idle_proposer_waits() {
        let s = Duration::from_secs;
        let rows = [
            ("no block time", None, 0, s(60), s(0)),
            ("round 0 waits the block time", Some(s(10)), 0, s(60), s(10)),
            ("capped at half the timeout", Some(s(40)), 0, s(60), s(30)),
            ("later rounds never wait", Some(s(10)), 1, s(60), s(0)),
        ];
        for (name, block_time, round, timeout, expected) in rows {
            assert_eq!(
                idle_wait(block_time, Round::new(round), timeout),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn stream_bounds_and_completeness() {
        assert_eq!(stream_bounds(1000, 100), (14, 5096));
        assert_eq!(stream_bounds(1000, 0), (1004, 5096));
        let rows = [
            ("every part", 3, Some(2), 3, true),
            ("a part missing", 2, Some(2), 3, false),
            ("a part past fin", 3, Some(3), 3, false),
            ("empty stream, fin at 0", 0, None, 0, true),
            ("nothing but fin at 1", 0, None, 1, false),
        ];
        for (name, parts, last, fin, expected) in rows {
            assert_eq!(complete(parts, last, fin), expected, "{name}");
        }
    }

    #[test]
    fn eviction() {
        let order = |v: &[(u8, u32)]| v.iter().copied().collect::<VecDeque<_>>();
        let per_peer = u32::try_from(MAX_STREAMS_PER_PEER).unwrap();
        // A peer at its own bound loses its oldest, whatever the others hold.
        let own: Vec<(u8, u32)> = (0..per_peer).map(|i| (7, i)).collect();
        let mut mixed = vec![(1, 100)];
        mixed.extend(own.iter().copied());
        assert_eq!(to_evict(&order(&mixed), mixed.len(), &7), Some((7, 0)));
        // Below both bounds: nothing goes.
        assert_eq!(to_evict(&order(&[(1, 1), (2, 2)]), 2, &3), None);
        // All streams in use: the oldest stream of the peers holding most.
        let mut full = Vec::new();
        for i in 0..u32::try_from(MAX_STREAMS).unwrap() {
            let p = if i % 3 == 0 { 1 } else { 2 + (i % 40) as u8 };
            full.push((p, i));
        }
        let most_first = full.iter().find(|(p, _)| *p == 1).copied();
        assert_eq!(to_evict(&order(&full), full.len(), &200), most_first);
        // The newcomer is never the one evicted when it holds nothing.
        assert_ne!(
            to_evict(&order(&full), full.len(), &200).map(|(p, _)| p),
            Some(200)
        );
    }
}
