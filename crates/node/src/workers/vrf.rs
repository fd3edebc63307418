//! When a node submits its `beacon.VRFProve`: once per epoch, as soon as
//! proofs are accepted, never while an earlier proof of the same epoch may
//! still land, and again if one was lost.

use atoll_types::Epoch;

/// Blocks to wait after a proof left the mempool without being recorded
/// before proving again (it may have been in a block still being applied).
pub const RETRY_AFTER_BLOCKS: u64 = 2;

/// What the node knows when it decides, read from its own latest state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProveSituation {
    /// The latest committed height (a proof lands at `height + 1` or later).
    pub height: u64,
    /// The epoch in which a proof submitted now may land (the loop passes
    /// the epoch of height `height + 2`, since a proof may land a block late).
    pub next_epoch: Epoch,
    /// The VRF state's epoch and its first accepting height; `None` when
    /// the network does not use the VRF beacon.
    pub vrf: Option<(Epoch, u64)>,
    /// Whether this node's beta is already recorded for that epoch.
    pub proved: bool,
    /// Whether the node is registered, unexpired and unfrozen with the VRF
    /// key it holds (otherwise consensus would refuse its proof).
    pub eligible: bool,
    /// The node's last proof submission, if any.
    pub last: Option<Attempt>,
}

/// A proof the node submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The epoch it proved.
    pub epoch: Epoch,
    /// The height the node had seen when it submitted.
    pub height: u64,
    /// Whether it still waits in the mempool.
    pub pending: bool,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProveAction {
    /// Nothing now, and why.
    Wait(&'static str),
    /// Prove `epoch` now.
    Prove(Epoch),
}

/// The decision.
pub fn decide(s: &ProveSituation) -> ProveAction {
    let Some((epoch, submit_from)) = s.vrf else {
        return ProveAction::Wait("the network does not use the VRF beacon");
    };
    if s.proved {
        return ProveAction::Wait("already proved this epoch");
    }
    if !s.eligible {
        return ProveAction::Wait("not a registered node with this VRF key");
    }
    if s.next_epoch != epoch {
        return ProveAction::Wait("the epoch ends with this block");
    }
    if s.height.saturating_add(1) < submit_from {
        return ProveAction::Wait("proofs are not accepted yet");
    }
    if let Some(last) = s.last.filter(|a| a.epoch == epoch) {
        if last.pending {
            return ProveAction::Wait("a proof waits in the mempool");
        }
        if s.height < last.height.saturating_add(RETRY_AFTER_BLOCKS) {
            return ProveAction::Wait("a proof may be landing");
        }
    }
    ProveAction::Prove(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ProveSituation {
        ProveSituation {
            height: 10,
            next_epoch: Epoch(1),
            vrf: Some((Epoch(1), 11)),
            proved: false,
            eligible: true,
            last: None,
        }
    }

    #[test]
    fn decisions() {
        let attempt = |epoch, height, pending| {
            Some(Attempt {
                epoch: Epoch(epoch),
                height,
                pending,
            })
        };
        let table: Vec<(&str, ProveSituation, ProveAction)> = vec![
            ("open: prove", base(), ProveAction::Prove(Epoch(1))),
            (
                "insecure beacon",
                ProveSituation {
                    vrf: None,
                    ..base()
                },
                ProveAction::Wait("the network does not use the VRF beacon"),
            ),
            (
                "too early",
                ProveSituation {
                    height: 9,
                    ..base()
                },
                ProveAction::Wait("proofs are not accepted yet"),
            ),
            (
                "already proved",
                ProveSituation {
                    proved: true,
                    ..base()
                },
                ProveAction::Wait("already proved this epoch"),
            ),
            (
                "not registered",
                ProveSituation {
                    eligible: false,
                    ..base()
                },
                ProveAction::Wait("not a registered node with this VRF key"),
            ),
            (
                "last block of the epoch",
                ProveSituation {
                    next_epoch: Epoch(2),
                    ..base()
                },
                ProveAction::Wait("the epoch ends with this block"),
            ),
            (
                "pending in the mempool: no second proof",
                ProveSituation {
                    height: 30,
                    last: attempt(1, 10, true),
                    ..base()
                },
                ProveAction::Wait("a proof waits in the mempool"),
            ),
            (
                "just left the mempool: wait for the block",
                ProveSituation {
                    height: 11,
                    last: attempt(1, 10, false),
                    ..base()
                },
                ProveAction::Wait("a proof may be landing"),
            ),
            (
                "lost: retry",
                ProveSituation {
                    height: 12,
                    last: attempt(1, 10, false),
                    ..base()
                },
                ProveAction::Prove(Epoch(1)),
            ),
            (
                "an earlier epoch's proof does not count",
                ProveSituation {
                    last: attempt(0, 10, true),
                    ..base()
                },
                ProveAction::Prove(Epoch(1)),
            ),
        ];
        for (name, s, want) in table {
            assert_eq!(decide(&s), want, "{name}");
        }
    }
}
