//! Commission schedules: what share of an escrow's rewards its owner keeps.
//!
//! A schedule is a list of rate steps (`rate` from epoch `start`) and a list
//! of bound steps (`rate_min..=rate_max` from epoch `start`). Rates are in
//! units of 1/100,000. Changes must be announced ahead: rates may only take
//! effect from the next epoch on, bounds only `rate_bound_lead` epochs ahead,
//! and every step starts on a multiple of `rate_change_interval`; so
//! delegators always see a change coming, as in Oasis.

use atoll_types::Epoch;
use serde::{Deserialize, Serialize};

use super::StakingError;

/// Rates are in units of 1/`COMMISSION_DENOMINATOR` (100,000 = 100 %).
pub const COMMISSION_DENOMINATOR: u64 = 100_000;

/// A commission rate from an epoch on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateStep {
    /// First epoch of this rate.
    pub start: Epoch,
    /// The rate, in 1/100,000.
    pub rate: u64,
}

/// Bounds on the rate from an epoch on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundStep {
    /// First epoch of these bounds.
    pub start: Epoch,
    /// Lowest allowed rate.
    pub rate_min: u64,
    /// Highest allowed rate.
    pub rate_max: u64,
}

/// An escrow's commission schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionSchedule {
    /// Rate steps, by start epoch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<RateStep>,
    /// Bound steps, by start epoch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bounds: Vec<BoundStep>,
}

/// The rules every schedule follows (staking parameters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionScheduleRules {
    /// Steps start on multiples of this many epochs.
    pub rate_change_interval: u64,
    /// Bound steps start at least this many epochs ahead.
    pub rate_bound_lead: u64,
    /// Most rate steps a schedule may hold.
    pub max_rate_steps: u16,
    /// Most bound steps a schedule may hold.
    pub max_bound_steps: u16,
}

impl Default for CommissionScheduleRules {
    fn default() -> Self {
        Self {
            rate_change_interval: 1,
            rate_bound_lead: 1,
            max_rate_steps: 16,
            max_bound_steps: 16,
        }
    }
}

/// Body of `staking.AmendCommissionSchedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendCommissionSchedule {
    /// Steps to add; they replace existing steps from their start on.
    pub amendment: CommissionSchedule,
}

impl CommissionSchedule {
    /// The rate in force at `epoch` (zero before the first step).
    pub fn rate_at(&self, epoch: Epoch) -> u64 {
        self.rates
            .iter()
            .rev()
            .find(|s| s.start <= epoch)
            .map_or(0, |s| s.rate)
    }

    fn bounds_at(&self, epoch: Epoch) -> Option<&BoundStep> {
        self.bounds.iter().rev().find(|s| s.start <= epoch)
    }

    /// Drops steps fully superseded before `now` (keeping the one in force).
    fn prune(&mut self, now: Epoch) {
        if let Some(i) = self.rates.iter().rposition(|s| s.start <= now) {
            self.rates.drain(..i);
        }
        if let Some(i) = self.bounds.iter().rposition(|s| s.start <= now) {
            self.bounds.drain(..i);
        }
    }

    /// Applies an amendment at epoch `now` under `rules`, or explains why not.
    pub fn amend(
        &mut self,
        amendment: &CommissionSchedule,
        rules: &CommissionScheduleRules,
        now: Epoch,
    ) -> Result<(), StakingError> {
        let interval = rules.rate_change_interval.max(1);
        let on_interval = |e: Epoch| e.0.is_multiple_of(interval);
        for w in amendment.rates.windows(2) {
            if w[0].start >= w[1].start {
                return Err(StakingError::InvalidArgument(
                    "rate steps must be in increasing epoch order",
                ));
            }
        }
        for w in amendment.bounds.windows(2) {
            if w[0].start >= w[1].start {
                return Err(StakingError::InvalidArgument(
                    "bound steps must be in increasing epoch order",
                ));
            }
        }
        for r in &amendment.rates {
            if r.start <= now {
                return Err(StakingError::InvalidArgument(
                    "a rate change can only start in a future epoch",
                ));
            }
            if !on_interval(r.start) {
                return Err(StakingError::InvalidArgument(
                    "a rate step must start on a rate_change_interval boundary",
                ));
            }
            if r.rate > COMMISSION_DENOMINATOR {
                return Err(StakingError::InvalidArgument("a rate cannot exceed 100 %"));
            }
        }
        for b in &amendment.bounds {
            if b.start.0 < now.0.saturating_add(rules.rate_bound_lead) {
                return Err(StakingError::InvalidArgument(
                    "a bound change must start at least rate_bound_lead epochs ahead",
                ));
            }
            if !on_interval(b.start) {
                return Err(StakingError::InvalidArgument(
                    "a bound step must start on a rate_change_interval boundary",
                ));
            }
            if b.rate_min > b.rate_max || b.rate_max > COMMISSION_DENOMINATOR {
                return Err(StakingError::InvalidArgument(
                    "bounds need rate_min <= rate_max <= 100 %",
                ));
            }
        }
        let mut next = self.clone();
        next.prune(now);
        if let Some(first) = amendment.rates.first() {
            next.rates.retain(|s| s.start < first.start);
            next.rates.extend(amendment.rates.iter().cloned());
        }
        if let Some(first) = amendment.bounds.first() {
            next.bounds.retain(|s| s.start < first.start);
            next.bounds.extend(amendment.bounds.iter().cloned());
        }
        if next.rates.len() > usize::from(rules.max_rate_steps) {
            return Err(StakingError::InvalidArgument("too many rate steps"));
        }
        if next.bounds.len() > usize::from(rules.max_bound_steps) {
            return Err(StakingError::InvalidArgument("too many bound steps"));
        }
        // Every rate must lie within the bounds in force whenever it applies:
        // check at each step start of either list.
        let mut starts: Vec<Epoch> = next
            .rates
            .iter()
            .map(|s| s.start)
            .chain(next.bounds.iter().map(|s| s.start))
            .collect();
        starts.push(now);
        starts.sort();
        starts.dedup();
        for e in starts.into_iter().filter(|e| *e >= now) {
            if let Some(b) = next.bounds_at(e) {
                let rate = next.rate_at(e);
                if rate < b.rate_min || rate > b.rate_max {
                    return Err(StakingError::InvalidArgument(
                        "the rate would leave its bounds",
                    ));
                }
            }
        }
        *self = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> CommissionScheduleRules {
        CommissionScheduleRules {
            rate_change_interval: 10,
            rate_bound_lead: 20,
            max_rate_steps: 4,
            max_bound_steps: 4,
        }
    }

    fn bounds(start: u64, min: u64, max: u64) -> BoundStep {
        BoundStep {
            start: Epoch(start),
            rate_min: min,
            rate_max: max,
        }
    }

    fn rate(start: u64, rate: u64) -> RateStep {
        RateStep {
            start: Epoch(start),
            rate,
        }
    }

    #[test]
    fn announced_changes_apply_from_their_epoch() {
        let mut s = CommissionSchedule::default();
        let a = CommissionSchedule {
            rates: vec![rate(30, 5_000)],
            bounds: vec![bounds(30, 0, 10_000)],
        };
        s.amend(&a, &rules(), Epoch(5)).unwrap();
        assert_eq!(s.rate_at(Epoch(29)), 0);
        assert_eq!(s.rate_at(Epoch(30)), 5_000);
        // Raise within bounds later.
        let a = CommissionSchedule {
            rates: vec![rate(40, 9_000)],
            bounds: vec![],
        };
        s.amend(&a, &rules(), Epoch(31)).unwrap();
        assert_eq!(s.rate_at(Epoch(39)), 5_000);
        assert_eq!(s.rate_at(Epoch(40)), 9_000);
    }

    #[test]
    fn rules_are_enforced() {
        let mut s = CommissionSchedule::default();
        let r = rules();
        // Bounds too soon, off-interval, rates in the past, out of bounds.
        for (a, now) in [
            (
                CommissionSchedule {
                    rates: vec![],
                    bounds: vec![bounds(10, 0, 1)],
                },
                5,
            ),
            (
                CommissionSchedule {
                    rates: vec![],
                    bounds: vec![bounds(35, 0, 1)],
                },
                5,
            ),
            (
                CommissionSchedule {
                    rates: vec![rate(5, 1)],
                    bounds: vec![],
                },
                5,
            ),
            (
                CommissionSchedule {
                    rates: vec![rate(30, 20_000)],
                    bounds: vec![bounds(30, 0, 10_000)],
                },
                5,
            ),
            (
                CommissionSchedule {
                    rates: vec![rate(30, 200_000)],
                    bounds: vec![],
                },
                5,
            ),
            (
                CommissionSchedule {
                    rates: vec![rate(40, 1), rate(30, 1)],
                    bounds: vec![],
                },
                5,
            ),
        ] {
            let before = s.clone();
            assert!(s.amend(&a, &r, Epoch(now)).is_err(), "{a:?}");
            assert_eq!(s, before, "a refused amendment changes nothing");
        }
        let many = CommissionSchedule {
            rates: (1..=5).map(|i| rate(i * 10, 1)).collect(),
            bounds: vec![],
        };
        assert!(s.amend(&many, &r, Epoch(5)).is_err());
    }
}
