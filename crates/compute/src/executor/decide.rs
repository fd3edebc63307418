//! What a worker does next in the open round, decided from the situation
//! alone.
//!
//! [`decide`] is a pure function: the loop (`round`) gathers the
//! facts (consensus state, this node's committee role and rank, the
//! proposals it received, what it already did, how long the round's clocks
//! have run) into a [`RoundSituation`], calls it, and performs the
//! [`RoundAction`] it returns. Nothing here reads a clock, the pool or
//! consensus.

use std::collections::BTreeMap;
use std::time::Duration;

use atoll_crypto::Hash;
use atoll_crypto::ed25519::PublicKey;

/// Everything the decision about the open round depends on.
#[derive(Debug, Clone)]
pub struct RoundSituation {
    /// Storage holds the round consensus last finalized (otherwise it is
    /// still catching up and nothing is done).
    pub in_sync: bool,
    /// The hash of the last finalized block the round builds on.
    pub last_hash: Hash,
    /// This node.
    pub me: PublicKey,
    /// This node is a worker of the runtime's committee.
    pub is_worker: bool,
    /// This node is a backup worker of the runtime's committee.
    pub is_backup: bool,
    /// The committee's workers in proposer rank order for the round.
    pub order: Vec<PublicKey>,
    /// Proposals received for the round: scheduler → the hash of the block
    /// the proposal builds on.
    pub proposals: BTreeMap<PublicKey, Hash>,
    /// Consensus declared a discrepancy for the round: the nodes that
    /// committed the batch they proposed themselves. `None`: no
    /// discrepancy.
    pub discrepancy: Option<Vec<PublicKey>>,
    /// This node committed as a worker for the round.
    pub committed: bool,
    /// This node committed as a backup for the round.
    pub backup_committed: bool,
    /// This node proposed a batch for the round.
    pub proposed: bool,
    /// This node is set never to propose (a test fault).
    pub silent: bool,
    /// Transactions wait in the pool.
    pub pool_has_txs: bool,
    /// Results of messages the runtime emitted last round wait to be
    /// delivered.
    pub message_results_pending: bool,
    /// The runtime has never run a normal round (its genesis runs in the
    /// first one).
    pub never_run: bool,
    /// Propose an empty batch once a round has been open this long with no
    /// work (`None`: rounds only when there is work).
    pub idle_round: Option<Duration>,
    /// How long this node has looked at the round with a chance to propose
    /// (`None`: not yet; the idle clock starts now).
    pub open_for: Option<Duration>,
    /// How long this node has seen work for the round (`None`: not yet; the
    /// rank takeover clock starts now).
    pub work_for: Option<Duration>,
    /// How long each rank waits for the better ranks
    /// (`propose_batch_timeout_ms`).
    pub propose_batch_timeout: Duration,
}

/// What the worker does next in the open round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundAction {
    /// Nothing now, for the reason given.
    Wait(Waiting),
    /// Execute the proposal of `scheduler` (the best-ranked one received)
    /// and commit the results as a worker.
    Execute {
        /// The proposer whose batch is executed.
        scheduler: PublicKey,
    },
    /// In a discrepancy: execute the proposal of `scheduler` (the
    /// best-ranked scheduler that committed its own batch) and commit as a
    /// backup.
    Backup {
        /// The proposer whose batch is executed.
        scheduler: PublicKey,
    },
    /// Propose a batch from the pool (and execute and commit it). A rank
    /// above 0 takes over from silent better-ranked proposers.
    Propose {
        /// This node's proposer rank for the round.
        rank: usize,
        /// The only reason to propose is the idle-round policy: the batch
        /// is empty unless transactions came meanwhile.
        idle: bool,
    },
}

/// Why the worker waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Storage is behind the round consensus finalized.
    CatchingUp,
    /// This node is neither a worker nor a backup of the committee.
    NotAMember,
    /// This node already committed for the round in its role.
    Committed,
    /// A discrepancy, and this node is not a backup.
    NotABackup,
    /// A discrepancy, and no scheduler has committed its own batch yet, or
    /// its proposal has not arrived.
    NoBackupBatch,
    /// The best-ranked proposal builds on another block than the last
    /// finalized one (a stale or early proposal).
    StaleProposal,
    /// This node already proposed for the round.
    Proposed,
    /// This node is set never to propose.
    Silent,
    /// This node has no proposer rank (not a worker).
    NotRanked,
    /// There is nothing to propose yet.
    NoWork,
    /// Better-ranked proposers still have time to propose.
    BetterRanks,
}

impl RoundAction {
    /// Whether the action starts the round's idle clock (the node could
    /// propose in the round).
    pub fn opens_round(&self) -> bool {
        matches!(
            self,
            Self::Propose { .. } | Self::Wait(Waiting::NoWork | Waiting::BetterRanks)
        )
    }

    /// Whether the action starts the rank takeover clock (the node has
    /// work to propose).
    pub fn has_work(&self) -> bool {
        matches!(
            self,
            Self::Propose { .. } | Self::Wait(Waiting::BetterRanks)
        )
    }
}

/// Decides what the worker does next in the open round.
pub fn decide(s: &RoundSituation) -> RoundAction {
    use RoundAction::Wait;
    if !s.in_sync {
        return Wait(Waiting::CatchingUp);
    }
    if !s.is_worker && !s.is_backup {
        return Wait(Waiting::NotAMember);
    }
    if let Some(self_committed) = &s.discrepancy {
        if !s.is_backup {
            return Wait(Waiting::NotABackup);
        }
        if s.backup_committed {
            return Wait(Waiting::Committed);
        }
        let scheduler = s
            .order
            .iter()
            .find(|n| self_committed.contains(n))
            .filter(|n| s.proposals.contains_key(n));
        return match scheduler {
            Some(scheduler) => RoundAction::Backup {
                scheduler: *scheduler,
            },
            None => Wait(Waiting::NoBackupBatch),
        };
    }
    if !s.is_worker {
        return Wait(Waiting::NotAMember);
    }
    if s.committed {
        return Wait(Waiting::Committed);
    }
    let best = s
        .order
        .iter()
        .find_map(|n| s.proposals.get(n).map(|prev| (*n, *prev)));
    if let Some((scheduler, previous_hash)) = best {
        if previous_hash != s.last_hash {
            return Wait(Waiting::StaleProposal);
        }
        return RoundAction::Execute { scheduler };
    }
    if s.proposed {
        return Wait(Waiting::Proposed);
    }
    if s.silent {
        return Wait(Waiting::Silent);
    }
    let Some(rank) = s.order.iter().position(|n| *n == s.me) else {
        return Wait(Waiting::NotRanked);
    };
    let open_for = s.open_for.unwrap_or(Duration::ZERO);
    let work = s.pool_has_txs || s.message_results_pending || s.never_run;
    let idle = !work && s.idle_round.is_some_and(|idle| open_for >= idle);
    if !work && !idle {
        return Wait(Waiting::NoWork);
    }
    let wait = s
        .propose_batch_timeout
        .saturating_mul(u32::try_from(rank).unwrap_or(u32::MAX));
    if s.work_for.unwrap_or(Duration::ZERO) < wait {
        return Wait(Waiting::BetterRanks);
    }
    RoundAction::Propose { rank, idle }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atoll_crypto::ed25519::SigningKey;

    fn node(i: u8) -> PublicKey {
        SigningKey::from_seed(&[i; 32]).public_key()
    }

    fn last() -> Hash {
        Hash::digest(b"last")
    }

    /// This node (`node(1)`) is the worker of rank 1 behind `node(0)`, with
    /// `node(2)` ranked last; nothing received, nothing done, no work.
    fn base() -> RoundSituation {
        RoundSituation {
            in_sync: true,
            last_hash: last(),
            me: node(1),
            is_worker: true,
            is_backup: false,
            order: vec![node(0), node(1), node(2)],
            proposals: BTreeMap::new(),
            discrepancy: None,
            committed: false,
            backup_committed: false,
            proposed: false,
            silent: false,
            pool_has_txs: false,
            message_results_pending: false,
            never_run: false,
            idle_round: None,
            open_for: None,
            work_for: None,
            propose_batch_timeout: Duration::from_millis(1000),
        }
    }

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    type Row = (&'static str, fn(&mut RoundSituation), RoundAction);

    #[test]
    fn decisions() {
        use RoundAction::{Backup, Execute, Propose, Wait};
        let rows: Vec<Row> = vec![
            (
                "storage catching up",
                |s| s.in_sync = false,
                Wait(Waiting::CatchingUp),
            ),
            (
                "not a member",
                |s| {
                    s.is_worker = false;
                    s.order = vec![node(0), node(2)];
                },
                Wait(Waiting::NotAMember),
            ),
            ("nothing to do", |_| {}, Wait(Waiting::NoWork)),
            (
                "best-ranked proposal is executed",
                |s| {
                    s.proposals.insert(node(2), last());
                    s.proposals.insert(node(0), last());
                },
                Execute { scheduler: node(0) },
            ),
            (
                "a lower rank's proposal is followed when the better one is missing",
                |s| {
                    s.proposals.insert(node(2), last());
                },
                Execute { scheduler: node(2) },
            ),
            (
                "stale proposal (another parent)",
                |s| {
                    s.proposals.insert(node(0), Hash::digest(b"other"));
                },
                Wait(Waiting::StaleProposal),
            ),
            (
                "committed already",
                |s| {
                    s.committed = true;
                    s.proposals.insert(node(0), last());
                },
                Wait(Waiting::Committed),
            ),
            (
                "rank 0 proposes at once with transactions",
                |s| {
                    s.me = node(0);
                    s.pool_has_txs = true;
                },
                Propose {
                    rank: 0,
                    idle: false,
                },
            ),
            (
                "rank 0 proposes the genesis round",
                |s| {
                    s.me = node(0);
                    s.never_run = true;
                },
                Propose {
                    rank: 0,
                    idle: false,
                },
            ),
            (
                "rank 0 delivers message results",
                |s| {
                    s.me = node(0);
                    s.message_results_pending = true;
                },
                Propose {
                    rank: 0,
                    idle: false,
                },
            ),
            (
                "rank 1 waits for rank 0",
                |s| {
                    s.pool_has_txs = true;
                    s.work_for = ms(999);
                },
                Wait(Waiting::BetterRanks),
            ),
            (
                "rank 1 waits when its takeover clock just starts",
                |s| s.pool_has_txs = true,
                Wait(Waiting::BetterRanks),
            ),
            (
                "rank 1 takes over after one timeout",
                |s| {
                    s.pool_has_txs = true;
                    s.work_for = ms(1000);
                },
                Propose {
                    rank: 1,
                    idle: false,
                },
            ),
            (
                "rank 2 still waits after one timeout",
                |s| {
                    s.me = node(2);
                    s.pool_has_txs = true;
                    s.work_for = ms(1500);
                },
                Wait(Waiting::BetterRanks),
            ),
            (
                "rank 2 takes over after two timeouts",
                |s| {
                    s.me = node(2);
                    s.pool_has_txs = true;
                    s.work_for = ms(2000);
                },
                Propose {
                    rank: 2,
                    idle: false,
                },
            ),
            (
                "proposed already",
                |s| {
                    s.proposed = true;
                    s.pool_has_txs = true;
                },
                Wait(Waiting::Proposed),
            ),
            (
                "a silent proposer never proposes",
                |s| {
                    s.me = node(0);
                    s.silent = true;
                    s.pool_has_txs = true;
                },
                Wait(Waiting::Silent),
            ),
            (
                "idle round not yet due",
                |s| {
                    s.me = node(0);
                    s.idle_round = ms(2000);
                    s.open_for = ms(1999);
                },
                Wait(Waiting::NoWork),
            ),
            (
                "idle round due: an empty proposal",
                |s| {
                    s.me = node(0);
                    s.idle_round = ms(2000);
                    s.open_for = ms(2000);
                },
                Propose {
                    rank: 0,
                    idle: true,
                },
            ),
            (
                "idle round due for rank 1 but rank 0 still has time",
                |s| {
                    s.idle_round = ms(2000);
                    s.open_for = ms(3000);
                    s.work_for = ms(10);
                },
                Wait(Waiting::BetterRanks),
            ),
            (
                "a backup does nothing without a discrepancy",
                |s| {
                    s.is_worker = false;
                    s.is_backup = true;
                    s.order = vec![node(0), node(2)];
                    s.proposals.insert(node(0), last());
                },
                Wait(Waiting::NotAMember),
            ),
            (
                "discrepancy: a backup executes the best-ranked self-committed batch",
                |s| {
                    s.is_worker = false;
                    s.is_backup = true;
                    s.order = vec![node(0), node(2)];
                    s.proposals.insert(node(0), last());
                    s.proposals.insert(node(2), last());
                    s.discrepancy = Some(vec![node(2), node(0)]);
                },
                Backup { scheduler: node(0) },
            ),
            (
                "discrepancy: schedulers that did not commit their own batch are skipped",
                |s| {
                    s.is_worker = false;
                    s.is_backup = true;
                    s.order = vec![node(0), node(2)];
                    s.proposals.insert(node(0), last());
                    s.proposals.insert(node(2), last());
                    s.discrepancy = Some(vec![node(2)]);
                },
                Backup { scheduler: node(2) },
            ),
            (
                "discrepancy: the batch has not arrived",
                |s| {
                    s.is_worker = false;
                    s.is_backup = true;
                    s.discrepancy = Some(vec![node(0)]);
                },
                Wait(Waiting::NoBackupBatch),
            ),
            (
                "discrepancy: the best self-committed batch is missing",
                |s| {
                    s.is_worker = false;
                    s.is_backup = true;
                    s.proposals.insert(node(2), last());
                    s.discrepancy = Some(vec![node(0), node(2)]);
                },
                Wait(Waiting::NoBackupBatch),
            ),
            (
                "discrepancy: a backup that committed waits",
                |s| {
                    s.is_worker = false;
                    s.is_backup = true;
                    s.backup_committed = true;
                    s.proposals.insert(node(0), last());
                    s.discrepancy = Some(vec![node(0)]);
                },
                Wait(Waiting::Committed),
            ),
            (
                "discrepancy: a worker that is no backup waits",
                |s| {
                    s.proposals.insert(node(0), last());
                    s.discrepancy = Some(vec![node(0)]);
                },
                Wait(Waiting::NotABackup),
            ),
        ];
        for (name, change, expected) in rows {
            let mut s = base();
            change(&mut s);
            assert_eq!(decide(&s), expected, "{name}");
        }
    }

    #[test]
    fn clocks_start_when_the_node_could_propose() {
        let cases = [
            (RoundAction::Wait(Waiting::NoWork), true, false),
            (RoundAction::Wait(Waiting::BetterRanks), true, true),
            (
                RoundAction::Propose {
                    rank: 0,
                    idle: false,
                },
                true,
                true,
            ),
            (RoundAction::Wait(Waiting::Proposed), false, false),
            (RoundAction::Execute { scheduler: node(0) }, false, false),
        ];
        for (action, opens, work) in cases {
            assert_eq!(action.opens_round(), opens, "{action:?}");
            assert_eq!(action.has_work(), work, "{action:?}");
        }
    }
}
