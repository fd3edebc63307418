//! Which round headers consensus vouches for, so that a node catching up
//! from untrusted storage peers makes no fetched round durable before it is
//! known to be the finalized one.
//!
//! Consensus keeps the past root (header hash, state root, I/O root) of a
//! runtime's last `max_past_roots_stored` rounds. A round inside that window
//! is checked against its past root. A round older than the window is
//! checked against the hash its successor links to, walking down from the
//! oldest past root consensus still keeps: each fetched header must hash to
//! what the header above it names as `previous_hash`, so the whole chain
//! hangs from a root consensus recorded. The walk keeps only hashes (32 bytes
//! a round) and goes at most [`MAX_LINKED`] rounds deep; a node further
//! behind than that needs a checkpoint.
//!
//! A checkpoint's chunks come from the same untrusted peers:
//! [`fetch_chunks`] and [`stream_chunks`] check each chunk against the
//! digest the (already verified) [`CheckpointInfo`] names, and stop asking a
//! peer that sent a bad one.

use std::collections::BTreeMap;

use atoll_consensus_types::roothash::PastRoot;
use atoll_crypto::Hash;
use atoll_types::Namespace;
use tracing::{debug, warn};

use crate::checkpoint::CheckpointInfo;
use crate::ports::PeerPort;

/// Most rounds below the oldest past root whose hashes are walked down to
/// (3.2 MB of hashes).
pub const MAX_LINKED: u64 = 100_000;

/// Why a round's header cannot be vouched for (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VouchError {
    /// Consensus keeps no past root at or above the round, up to the target.
    #[error("consensus keeps no past root between round {round} and round {target}")]
    NoPastRoot {
        /// The round asked about.
        round: u64,
        /// The finalized round being caught up to.
        target: u64,
    },
    /// The round lies further below the oldest past root than [`MAX_LINKED`].
    #[error(
        "round {round} is {depth} rounds below the oldest past root consensus keeps (round {oldest}); \
         configure storage checkpoints to catch up from that far behind"
    )]
    TooDeep {
        /// The round asked about.
        round: u64,
        /// The oldest round with a past root.
        oldest: u64,
        /// How far below it.
        depth: u64,
    },
    /// No storage peer served a round the walk needed.
    #[error("no storage peer served round {0}")]
    Unavailable(u64),
    /// A peer served a header that is not the one consensus vouches for.
    #[error("a storage peer served a round {0} whose header is not the finalized one")]
    Forged(u64),
}

/// Header hashes learnt by walking down from a past root, by round.
#[derive(Debug, Default)]
pub struct Vouched {
    linked: BTreeMap<u64, Hash>,
}

impl Vouched {
    /// The header hash of `round` that consensus vouches for. `past_root`
    /// reads the past root consensus recorded for a round (at the height
    /// being followed); `target` is the finalized round being caught up to
    /// (it has a past root).
    pub async fn hash_of(
        &mut self,
        runtime: Namespace,
        round: u64,
        target: u64,
        past_root: impl Fn(u64) -> Option<PastRoot>,
        peers: &dyn PeerPort,
    ) -> Result<Hash, VouchError> {
        if let Some(past) = past_root(round) {
            return Ok(past.header_hash);
        }
        if let Some(h) = self.linked.get(&round) {
            return Ok(*h);
        }
        // The past roots kept are consecutive and end at the newest round:
        // the oldest one above `round` is found by bisection.
        let (mut lo, mut hi) = (round, target);
        if past_root(hi).is_none() {
            return Err(VouchError::NoPastRoot { round, target });
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if past_root(mid).is_some() {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let oldest = hi;
        let depth = oldest - round;
        if depth > MAX_LINKED {
            return Err(VouchError::TooDeep {
                round,
                oldest,
                depth,
            });
        }
        let mut expected = past_root(oldest)
            .map(|p| p.header_hash)
            .ok_or(VouchError::NoPastRoot { round, target })?;
        // Walk down from `oldest`, remembering each predecessor's hash.
        let mut linked = BTreeMap::new();
        let mut at = oldest;
        while at > round {
            let start = self.linked.get(&(at - 1)).copied();
            if let Some(h) = start {
                // Already walked below here.
                linked.insert(at - 1, h);
                break;
            }
            let record = peers
                .fetch_round(runtime, at)
                .await
                .ok_or(VouchError::Unavailable(at))?;
            if record.header.round != at || record.header.hash() != expected {
                return Err(VouchError::Forged(at));
            }
            expected = record.header.previous_hash;
            at -= 1;
            linked.insert(at, expected);
        }
        self.linked.extend(linked);
        self.linked
            .get(&round)
            .copied()
            .ok_or(VouchError::Unavailable(round))
    }

    /// Forgets the hashes of rounds up to `round` (applied now).
    pub fn applied(&mut self, round: u64) {
        self.linked = self.linked.split_off(&round.saturating_add(1));
    }

    /// How many hashes are held.
    pub fn len(&self) -> usize {
        self.linked.len()
    }

    /// Whether no hash is held.
    pub fn is_empty(&self) -> bool {
        self.linked.is_empty()
    }
}

/// Every chunk of `info`, each checked against its digest as it arrives,
/// from the `offering` peers: a peer that sends a bad chunk is not asked
/// again, and the chunk is asked of the next peer. `None` if some chunk no
/// peer sends intact.
pub async fn fetch_chunks(
    peers: &dyn PeerPort,
    runtime: Namespace,
    info: &CheckpointInfo,
    offering: &[usize],
) -> Option<Vec<Vec<u8>>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(info.chunks.len().max(1));
    let fetched = stream_chunks(peers, runtime, info, offering, tx).await;
    let mut chunks = Vec::with_capacity(info.chunks.len());
    while let Ok(c) = rx.try_recv() {
        chunks.push(c);
    }
    fetched.then_some(chunks)
}

/// [`fetch_chunks`] handing each good chunk to `out` as it arrives (in
/// order), for a restore that consumes them one at a time. Returns whether
/// every chunk was sent; `false` as soon as one cannot be had or `out` is
/// closed.
pub async fn stream_chunks(
    peers: &dyn PeerPort,
    runtime: Namespace,
    info: &CheckpointInfo,
    offering: &[usize],
    out: tokio::sync::mpsc::Sender<Vec<u8>>,
) -> bool {
    let mut liars: Vec<usize> = Vec::new();
    for (i, digest) in info.chunks.iter().enumerate() {
        let Ok(index) = u32::try_from(i) else {
            return false;
        };
        let mut got = None;
        for &peer in offering {
            if liars.contains(&peer) {
                continue;
            }
            match peers
                .fetch_checkpoint_chunk(runtime, peer, info.round, index)
                .await
            {
                Some(c) if Hash::digest(&c) == *digest => {
                    got = Some(c);
                    break;
                }
                Some(_) => {
                    warn!(%runtime, peer, round = info.round, index, "a storage peer sent a checkpoint chunk that does not match its digest: refused");
                    liars.push(peer);
                }
                None => {
                    debug!(%runtime, peer, round = info.round, index, "a storage peer did not send a checkpoint chunk");
                }
            }
        }
        let Some(c) = got else {
            warn!(%runtime, round = info.round, index, "no storage peer sent a good copy of a checkpoint chunk");
            return false;
        };
        if out.send(c).await.is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use parking_lot::Mutex;
    use std::collections::BTreeMap;

    use atoll_consensus_types::roothash::{BlockHeader, HeaderType};

    use super::*;
    use crate::ports::BoxFuture;
    use crate::storage::RoundRecord;

    const RT: Namespace = Namespace([7; 32]);

    /// A chain of empty rounds 0..=n, each linked to the one before.
    fn chain(n: u64, salt: &[u8]) -> Vec<BlockHeader> {
        let mut out: Vec<BlockHeader> = Vec::new();
        for round in 0..=n {
            let previous_hash = out.last().map_or(Hash::empty(), BlockHeader::hash);
            out.push(BlockHeader {
                namespace: RT,
                round,
                timestamp: round,
                header_type: HeaderType::Normal,
                previous_hash,
                io_root: Hash::digest(salt),
                state_root: Hash::digest(&round.to_be_bytes()),
                messages_hash: Hash::empty(),
            });
        }
        out
    }

    fn record(header: &BlockHeader) -> RoundRecord {
        RoundRecord {
            header: header.clone(),
            consensus_height: header.round,
            txs: Vec::new(),
            results: Vec::new(),
            events: Vec::new(),
            messages: Vec::new(),
            write_log: Vec::new(),
        }
    }

    /// A storage peer serving the headers it was given, counting requests.
    struct Peer {
        rounds: BTreeMap<u64, BlockHeader>,
        asked: Mutex<Vec<u64>>,
    }

    impl Peer {
        fn serving(headers: &[BlockHeader]) -> Self {
            Self {
                rounds: headers.iter().map(|h| (h.round, h.clone())).collect(),
                asked: Mutex::new(Vec::new()),
            }
        }
    }

    impl PeerPort for Peer {
        fn publish(&self, _: Vec<u8>) {}
        fn fetch_round(&self, _: Namespace, round: u64) -> BoxFuture<'_, Option<RoundRecord>> {
            self.asked.lock().push(round);
            let r = self.rounds.get(&round).map(record);
            Box::pin(async move { r })
        }
    }

    /// Consensus keeping the past roots of rounds `from..=to` of `headers`.
    fn kept(headers: &[BlockHeader], from: u64) -> impl Fn(u64) -> Option<PastRoot> + '_ {
        move |r| {
            (r >= from)
                .then(|| headers.get(usize::try_from(r).ok()?).map(PastRoot::of))
                .flatten()
        }
    }

    #[tokio::test]
    async fn a_round_inside_the_window_is_its_past_root() {
        let honest = chain(50, b"honest");
        let peer = Peer::serving(&honest);
        let mut v = Vouched::default();
        let h = v
            .hash_of(RT, 45, 50, kept(&honest, 40), &peer)
            .await
            .unwrap();
        assert_eq!(h, honest[45].hash());
        assert!(peer.asked.lock().is_empty(), "no fetch needed");
    }

    #[tokio::test]
    async fn a_round_below_the_window_hangs_from_the_oldest_past_root() {
        let honest = chain(50, b"honest");
        let peer = Peer::serving(&honest);
        let mut v = Vouched::default();
        for round in 3..40 {
            let h = v
                .hash_of(RT, round, 50, kept(&honest, 40), &peer)
                .await
                .unwrap();
            assert_eq!(h, honest[usize::try_from(round).unwrap()].hash());
            v.applied(round);
        }
        // The walk went down once (rounds 40 to 4), not once per round.
        let asked = peer.asked.lock().clone();
        assert_eq!(asked, (4..=40).rev().collect::<Vec<_>>());
        assert_eq!(v.len(), 0, "every applied round is forgotten");
    }

    #[tokio::test]
    async fn a_forged_history_is_refused() {
        let honest = chain(50, b"honest");
        // A lying peer serves a different but self-consistent chain.
        let forged = chain(50, b"forged");
        let liar = Peer::serving(&forged);
        let mut v = Vouched::default();
        // Inside the window the forged header does not match.
        let h = v
            .hash_of(RT, 45, 50, kept(&honest, 40), &liar)
            .await
            .unwrap();
        assert_ne!(h, forged[45].hash());
        // Below it, the walk stops at the first header consensus disowns.
        assert_eq!(
            v.hash_of(RT, 10, 50, kept(&honest, 40), &liar).await,
            Err(VouchError::Forged(40))
        );
        assert!(v.is_empty());
        // A peer that splices the honest window onto a forged past fails
        // where the two meet.
        let mut spliced = forged[..30].to_vec();
        spliced.extend_from_slice(&honest[30..]);
        let splicer = Peer::serving(&spliced);
        assert_eq!(
            v.hash_of(RT, 10, 50, kept(&honest, 40), &splicer).await,
            Err(VouchError::Forged(29))
        );
    }

    #[tokio::test]
    async fn too_far_behind_or_unserved_is_said() {
        let honest = chain(50, b"honest");
        let mut v = Vouched::default();
        let nobody = Peer::serving(&[]);
        assert_eq!(
            v.hash_of(RT, 10, 50, kept(&honest, 40), &nobody).await,
            Err(VouchError::Unavailable(40))
        );
        assert_eq!(
            v.hash_of(RT, 10, 50, kept(&honest, 51), &nobody).await,
            Err(VouchError::NoPastRoot {
                round: 10,
                target: 50
            })
        );
        let long = chain(MAX_LINKED + 20, b"long");
        let peer = Peer::serving(&[]);
        let target = MAX_LINKED + 20;
        assert_eq!(
            v.hash_of(RT, 5, target, kept(&long, MAX_LINKED + 10), &peer)
                .await,
            Err(VouchError::TooDeep {
                round: 5,
                oldest: MAX_LINKED + 10,
                depth: MAX_LINKED + 5
            })
        );
    }

    /// Peers serving chunks from a map; peer 0 lies about chunk 1.
    struct FakePeers {
        chunks: Vec<Vec<u8>>,
        asked: Mutex<Vec<(usize, u32)>>,
    }

    impl PeerPort for FakePeers {
        fn publish(&self, _: Vec<u8>) {}
        fn fetch_round(&self, _: Namespace, _: u64) -> BoxFuture<'_, Option<RoundRecord>> {
            Box::pin(async { None })
        }
        fn fetch_checkpoint_chunk(
            &self,
            _: Namespace,
            peer: usize,
            _: u64,
            index: u32,
        ) -> BoxFuture<'_, Option<Vec<u8>>> {
            self.asked.lock().push((peer, index));
            let mut c = self.chunks.get(index as usize).cloned();
            if peer == 0
                && index == 1
                && let Some(c) = c.as_mut()
            {
                c[0] ^= 1;
            }
            Box::pin(async move { c })
        }
    }

    /// A checkpoint of round 10 of a chain, in `n` chunks.
    fn with_chunks(n: usize) -> (CheckpointInfo, Vec<Vec<u8>>) {
        let chunks: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; 10]).collect();
        let header = chain(10, b"checkpoint").pop().unwrap();
        let i = CheckpointInfo {
            round: header.round,
            root: header.state_root,
            header,
            chunks: chunks.iter().map(|c| Hash::digest(c)).collect(),
        };
        (i, chunks)
    }

    #[test]
    fn a_lying_peer_is_refused_and_the_chunk_asked_of_another() {
        let (info, chunks) = with_chunks(4);
        let peers = FakePeers {
            chunks: chunks.clone(),
            asked: Mutex::new(Vec::new()),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let rtid = info.header.namespace;
        let got = rt.block_on(fetch_chunks(&peers, rtid, &info, &[0, 1]));
        assert_eq!(got, Some(chunks.clone()));
        // Peer 0 gave chunk 0, lied about chunk 1, and was not asked again.
        assert_eq!(
            *peers.asked.lock(),
            vec![(0, 0), (0, 1), (1, 1), (1, 2), (1, 3)]
        );
        // With only the liar offering it, the checkpoint cannot be had.
        let got = rt.block_on(fetch_chunks(&peers, rtid, &info, &[0]));
        assert_eq!(got, None);
    }
}
