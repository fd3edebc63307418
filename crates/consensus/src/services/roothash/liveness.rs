//! Runtime liveness: what each worker of a runtime's committee did in the
//! epoch's rounds, and the judgement at the epoch's end. Both are pure
//! functions of their inputs; the roothash stores the statistics and
//! applies the penalties.
//!
//! A worker **fails** an epoch when the epoch decided at least
//! `min_live_rounds_eval` rounds and either
//! - its commitments made it into fewer than `min_live_rounds_percent` of
//!   the rounds it was a worker for (`live_rounds < rounds × pct / 100`), or
//! - it missed more than `max_missed_proposals_percent` of the rounds it
//!   was to propose (`missed > (finalized + missed) × pct / 100`).
//!
//! A percentage of 0 turns its check off. A failing worker's fault count
//! goes up by one, a live one's down by one (Oasis's runtime liveness).

use atoll_consensus_types::registry::ExecutorParameters;
use atoll_consensus_types::roothash::{ExecutorCommitment, LivenessStatistics, Vote};
use atoll_consensus_types::scheduler::{Committee, Role};
use atoll_crypto::ed25519::PublicKey;

/// How a round was decided, for the statistics.
#[derive(Debug, Clone, Copy)]
pub enum RoundOutcome<'a> {
    /// The round finalized with `vote`, the batch of `scheduler`.
    Finalized {
        /// The winning results.
        vote: &'a Vote,
        /// The scheduler whose batch won.
        scheduler: &'a PublicKey,
    },
    /// The round failed (timeout, no majority, a bad scheduler commitment).
    Failed,
}

/// Records one decided round in `stats`: every worker was in it; workers
/// that committed the finalized results were live; the winning scheduler
/// proposed, and every scheduler ranked ahead of it missed its turn (for a
/// failed round: those ranked up to the scheduler that committed, or the
/// first-ranked one when none did).
pub fn record_round(
    stats: &mut LivenessStatistics,
    committee: &Committee,
    commitments: &[ExecutorCommitment],
    round: u64,
    outcome: RoundOutcome<'_>,
) {
    stats.total_rounds = stats.total_rounds.saturating_add(1);
    for w in committee.workers() {
        let n = stats.nodes.entry(*w).or_default();
        n.rounds = n.rounds.saturating_add(1);
    }
    let order = committee.proposer_order(round);
    let committed_own = |s: &PublicKey| {
        commitments
            .iter()
            .any(|c| &c.node_id == s && &c.header.scheduler_id == s)
    };
    match outcome {
        RoundOutcome::Finalized { vote, scheduler } => {
            let mut live: Vec<PublicKey> = commitments
                .iter()
                .filter(|c| {
                    committee.has(&c.node_id, Role::Worker)
                        && &c.header.scheduler_id == scheduler
                        && &c.header.vote == vote
                })
                .map(|c| c.node_id)
                .collect();
            live.sort();
            live.dedup();
            for node in live {
                let n = stats.nodes.entry(node).or_default();
                n.live_rounds = n.live_rounds.saturating_add(1);
            }
            for s in &order {
                let n = stats.nodes.entry(*s).or_default();
                if s == scheduler {
                    n.finalized_proposals = n.finalized_proposals.saturating_add(1);
                    break;
                }
                n.missed_proposals = n.missed_proposals.saturating_add(1);
            }
        }
        RoundOutcome::Failed => {
            let last = order.iter().position(committed_own).unwrap_or(0);
            for s in order.iter().take(last.saturating_add(1)) {
                let n = stats.nodes.entry(*s).or_default();
                n.missed_proposals = n.missed_proposals.saturating_add(1);
            }
        }
    }
}

/// The verdict on one worker at the epoch's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It did its work.
    Live,
    /// It failed liveness.
    Failed,
}

/// Judges every worker of `stats` (in key order) under the runtime's
/// executor parameters. Empty when liveness is off for the runtime or the
/// epoch decided fewer than `min_live_rounds_eval` rounds.
pub fn judge(stats: &LivenessStatistics, params: &ExecutorParameters) -> Vec<(PublicKey, Verdict)> {
    let live_pct = u128::from(params.min_live_rounds_percent);
    let missed_pct = u128::from(params.max_missed_proposals_percent);
    if (live_pct == 0 && missed_pct == 0) || stats.total_rounds < params.min_live_rounds_eval {
        return Vec::new();
    }
    stats
        .nodes
        .iter()
        .map(|(node, n)| {
            let min_live = u128::from(n.rounds) * live_pct / 100;
            let live_ok = live_pct == 0 || u128::from(n.live_rounds) >= min_live;
            let turns = u128::from(n.finalized_proposals) + u128::from(n.missed_proposals);
            let max_missed = turns * missed_pct / 100;
            let proposals_ok = missed_pct == 0 || u128::from(n.missed_proposals) <= max_missed;
            let verdict = if live_ok && proposals_ok {
                Verdict::Live
            } else {
                Verdict::Failed
            };
            (*node, verdict)
        })
        .collect()
}

/// Epochs a node stays frozen after its `faults`-th failure: 1, 2, 4, …
/// doubling with each fault net of live epochs, at most 64.
pub fn freeze_epochs(faults: u64) -> u64 {
    1u64 << faults.saturating_sub(1).min(6)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use atoll_consensus_types::roothash::{CommitmentHeader, ComputeResults, NodeLiveness};
    use atoll_consensus_types::scheduler::Member;
    use atoll_crypto::Hash;
    use atoll_crypto::ed25519::{Signature, SigningKey};
    use atoll_types::{Epoch, Namespace};

    fn node(i: u8) -> PublicKey {
        SigningKey::from_seed(&[i; 32]).public_key()
    }

    fn committee(workers: u8) -> Committee {
        Committee {
            runtime: Namespace::default(),
            epoch: Epoch(1),
            members: (1..=workers)
                .map(|i| Member {
                    node_id: node(i),
                    role: Role::Worker,
                })
                .chain([Member {
                    node_id: node(99),
                    role: Role::BackupWorker,
                }])
                .collect(),
            entropy: Hash::digest(b"entropy"),
        }
    }

    fn results(round: u64, state: &[u8]) -> Vote {
        Vote::Results(ComputeResults {
            round,
            previous_hash: Hash::empty(),
            io_root: Hash::empty(),
            state_root: Hash::digest(state),
            messages_hash: Hash::empty(),
        })
    }

    fn commit(node: PublicKey, scheduler: PublicKey, vote: Vote) -> ExecutorCommitment {
        ExecutorCommitment {
            node_id: node,
            header: CommitmentHeader {
                runtime: Namespace::default(),
                scheduler_id: scheduler,
                vote,
            },
            signature: Signature::from_slice(&[0; 64]).unwrap(),
            messages: Vec::new(),
        }
    }

    fn params(live: u8, missed: u8, eval: u64) -> ExecutorParameters {
        ExecutorParameters {
            group_size: 3,
            group_backup_size: 1,
            allowed_stragglers: 1,
            round_timeout: 5,
            max_messages: 8,
            max_nodes_per_entity: 0,
            min_live_rounds_percent: live,
            max_missed_proposals_percent: missed,
            min_live_rounds_eval: eval,
            max_liveness_fails: 2,
        }
    }

    #[test]
    fn a_finalized_round_counts_workers_live_and_proposers() {
        let c = committee(3);
        let round = 7;
        let order = c.proposer_order(round);
        // The first-ranked scheduler was silent; the second's batch won.
        let sched = order[1];
        let good = results(round, b"good");
        let commits = vec![
            commit(order[1], sched, good.clone()),
            commit(order[2], sched, good.clone()),
            // The backup's vote is not a worker's: it earns nothing here.
            commit(node(99), sched, good.clone()),
        ];
        let mut stats = LivenessStatistics::default();
        record_round(
            &mut stats,
            &c,
            &commits,
            round,
            RoundOutcome::Finalized {
                vote: &good,
                scheduler: &sched,
            },
        );
        assert_eq!(stats.total_rounds, 1);
        assert_eq!(stats.nodes.len(), 3, "only workers are tracked");
        assert_eq!(
            stats.nodes[&order[0]],
            NodeLiveness {
                rounds: 1,
                live_rounds: 0,
                finalized_proposals: 0,
                missed_proposals: 1,
            }
        );
        assert_eq!(
            stats.nodes[&order[1]],
            NodeLiveness {
                rounds: 1,
                live_rounds: 1,
                finalized_proposals: 1,
                missed_proposals: 0,
            }
        );
        assert_eq!(stats.nodes[&order[2]].live_rounds, 1);
        assert_eq!(stats.nodes[&order[2]].finalized_proposals, 0);
    }

    #[test]
    fn a_differing_or_failure_vote_is_not_live_and_a_failed_round_blames_the_first_rank() {
        let c = committee(3);
        let round = 3;
        let order = c.proposer_order(round);
        let sched = order[0];
        let good = results(round, b"good");
        let commits = vec![
            commit(order[0], sched, good.clone()),
            commit(order[1], sched, results(round, b"bad")),
            commit(order[2], sched, Vote::Failure { round }),
        ];
        let mut stats = LivenessStatistics::default();
        record_round(
            &mut stats,
            &c,
            &commits,
            round,
            RoundOutcome::Finalized {
                vote: &good,
                scheduler: &sched,
            },
        );
        assert_eq!(stats.nodes[&order[0]].live_rounds, 1);
        assert_eq!(stats.nodes[&order[1]].live_rounds, 0);
        assert_eq!(stats.nodes[&order[2]].live_rounds, 0);
        // A failed round where nobody proposed: the first-ranked missed.
        record_round(&mut stats, &c, &[], round + 1, RoundOutcome::Failed);
        let first = c.proposer_order(round + 1)[0];
        assert_eq!(stats.total_rounds, 2);
        let missed: u64 = stats.nodes.values().map(|n| n.missed_proposals).sum();
        assert_eq!(missed, 1);
        assert_eq!(stats.nodes[&first].missed_proposals, 1);
        assert!(stats.nodes.values().all(|n| n.rounds == 2));
    }

    fn stats_of(total: u64, nodes: &[(u8, u64, u64, u64)]) -> LivenessStatistics {
        LivenessStatistics {
            total_rounds: total,
            nodes: nodes
                .iter()
                .map(|&(i, live, fin, missed)| {
                    (
                        node(i),
                        NodeLiveness {
                            rounds: total,
                            live_rounds: live,
                            finalized_proposals: fin,
                            missed_proposals: missed,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn judge_applies_the_percentages_with_integer_floors() {
        // 10 rounds at 90 %: 9 live rounds pass, 8 fail.
        let s = stats_of(10, &[(1, 9, 0, 0), (2, 8, 0, 0)]);
        let v = judge(&s, &params(90, 0, 0));
        let mut want = vec![(node(1), Verdict::Live), (node(2), Verdict::Failed)];
        want.sort_by_key(|(n, _)| *n);
        assert_eq!(v, want);
        // 7 rounds at 50 %: floor(3.5) = 3 live rounds suffice.
        let s = stats_of(7, &[(1, 3, 0, 0), (2, 2, 0, 0)]);
        let v: std::collections::BTreeMap<_, _> =
            judge(&s, &params(50, 0, 0)).into_iter().collect();
        assert_eq!(v[&node(1)], Verdict::Live);
        assert_eq!(v[&node(2)], Verdict::Failed);
        // Missed proposals: 1 of 4 turns at 25 % passes, 2 of 4 fails.
        let s = stats_of(10, &[(1, 10, 3, 1), (2, 10, 2, 2)]);
        let v: std::collections::BTreeMap<_, _> =
            judge(&s, &params(0, 25, 0)).into_iter().collect();
        assert_eq!(v[&node(1)], Verdict::Live);
        assert_eq!(v[&node(2)], Verdict::Failed);
    }

    #[test]
    fn judge_is_off_without_percentages_or_below_the_evaluation_floor() {
        let s = stats_of(10, &[(1, 0, 0, 5)]);
        assert!(judge(&s, &params(0, 0, 0)).is_empty());
        assert!(judge(&s, &params(90, 10, 11)).is_empty());
        assert_eq!(
            judge(&s, &params(90, 10, 10)),
            vec![(node(1), Verdict::Failed)]
        );
    }

    #[test]
    fn freezes_double_with_each_fault_up_to_64_epochs() {
        let got: Vec<u64> = (1..=9).map(freeze_epochs).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 64, 64, 64]);
        assert_eq!(freeze_epochs(0), 1);
    }
}
