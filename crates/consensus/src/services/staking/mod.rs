//! The staking service: accounts, transfers, allowances, delegation through
//! share pools, debonding, stake claims and slashing.
//!
//! Token supply is conserved by every operation except minting (genesis and
//! rewards), burning and slashing; the property tests check this.

pub mod state;

use atoll_consensus_types::staking::*;

use atoll_crypto::Address;
use atoll_types::{Epoch, Quantity};

use self::state::StakingState;
use atoll_consensus_types::staking::pool::{checked_add, checked_sub};
use atoll_state::{Failure, Store};

/// Staking, working on one store. Every method either succeeds, or fails
/// having possibly written to the store: callers run it inside an overlay
/// and discard the overlay on failure.
pub struct Staking<'a> {
    state: StakingState<'a>,
}

impl<'a> Staking<'a> {
    /// Staking on `store`.
    pub fn new(store: &'a mut dyn Store) -> Self {
        Self {
            state: StakingState::new(store),
        }
    }

    /// Direct access to the state accessors.
    pub fn state(&mut self) -> &mut StakingState<'a> {
        &mut self.state
    }

    /// `staking.Transfer`.
    pub fn transfer(&mut self, from: &Address, body: &Transfer) -> Result<Event, Failure> {
        let params = self.state.parameters()?;
        if params.disable_transfers {
            return Err(StakingError::Forbidden("transfers are disabled").into());
        }
        if body.amount < params.min_transfer {
            return Err(StakingError::UnderMinTransfer(params.min_transfer).into());
        }
        self.move_general(from, &body.to, body.amount)?;
        Ok(Event::Transfer {
            from: *from,
            to: body.to,
            amount: body.amount,
        })
    }

    /// Moves `amount` between general balances (also used by runtime messages).
    pub fn move_general(
        &mut self,
        from: &Address,
        to: &Address,
        amount: Quantity,
    ) -> Result<(), Failure> {
        let mut src = self.state.account(from)?;
        src.general.balance = checked_sub(src.general.balance, amount)
            .map_err(|_| StakingError::InsufficientBalance)?;
        self.state.set_account(from, &src)?;
        let mut dst = self.state.account(to)?;
        dst.general.balance = checked_add(dst.general.balance, amount)?;
        self.state.set_account(to, &dst)?;
        Ok(())
    }

    /// `staking.Burn`.
    pub fn burn(&mut self, owner: &Address, body: &Burn) -> Result<Event, Failure> {
        let mut acct = self.state.account(owner)?;
        acct.general.balance = checked_sub(acct.general.balance, body.amount)
            .map_err(|_| StakingError::InsufficientBalance)?;
        self.state.set_account(owner, &acct)?;
        let supply = self.state.total_supply()?;
        self.state
            .set_total_supply(checked_sub(supply, body.amount).map_err(|_| {
                Failure::Fatal(atoll_state::FatalError::Invariant(
                    "burn exceeds total supply".into(),
                ))
            })?)?;
        Ok(Event::Burn {
            owner: *owner,
            amount: body.amount,
        })
    }

    /// `staking.AddEscrow`: delegate from `owner`'s balance to `body.account`.
    pub fn add_escrow(&mut self, owner: &Address, body: &Escrow) -> Result<Event, Failure> {
        let params = self.state.parameters()?;
        if body.amount.0 == 0 || body.amount < params.min_delegation {
            return Err(StakingError::UnderMinDelegation(params.min_delegation).into());
        }
        let mut src = self.state.account(owner)?;
        src.general.balance = checked_sub(src.general.balance, body.amount)
            .map_err(|_| StakingError::InsufficientBalance)?;
        self.state.set_account(owner, &src)?;

        let mut escrow = self.state.account(&body.account)?;
        let new_shares = escrow.escrow.active.deposit(body.amount)?;
        self.state.set_account(&body.account, &escrow)?;

        let mut delegation = self.state.delegation(&body.account, owner)?;
        delegation.shares = checked_add(delegation.shares, new_shares)?;
        self.state
            .set_delegation(&body.account, owner, &delegation)?;
        Ok(Event::AddEscrow {
            owner: *owner,
            escrow: body.account,
            amount: body.amount,
            new_shares,
        })
    }

    /// `staking.ReclaimEscrow`: start debonding `body.shares` of `owner`'s
    /// delegation to `body.account`; the stake returns at `now + debonding_interval`.
    pub fn reclaim_escrow(
        &mut self,
        owner: &Address,
        body: &ReclaimEscrow,
        now: Epoch,
    ) -> Result<Event, Failure> {
        if body.shares.0 == 0 {
            return Err(StakingError::InvalidArgument("shares must be positive").into());
        }
        let params = self.state.parameters()?;
        let mut delegation = self.state.delegation(&body.account, owner)?;
        delegation.shares = checked_sub(delegation.shares, body.shares)
            .map_err(|_| StakingError::InsufficientShares)?;

        let mut escrow = self.state.account(&body.account)?;
        let amount = escrow.escrow.active.withdraw(body.shares)?;
        let debonding_shares = escrow.escrow.debonding.deposit(amount)?;
        // The escrow's own claims must stay covered by what remains active.
        check_claims(&params, &escrow)?;
        self.state.set_account(&body.account, &escrow)?;
        self.state
            .set_delegation(&body.account, owner, &delegation)?;

        let debond_end = Epoch(
            now.0
                .checked_add(params.debonding_interval)
                .ok_or(StakingError::Arithmetic)?,
        );
        self.state
            .add_debonding(&body.account, owner, debond_end, debonding_shares)?;
        Ok(Event::DebondingStart {
            owner: *owner,
            escrow: body.account,
            amount,
            active_shares: body.shares,
            debonding_shares,
            debond_end,
        })
    }

    /// `staking.Allow`.
    pub fn allow(&mut self, owner: &Address, body: &Allow) -> Result<Event, Failure> {
        if owner == &body.beneficiary {
            return Err(
                StakingError::InvalidArgument("cannot give an allowance to oneself").into(),
            );
        }
        let params = self.state.parameters()?;
        let mut acct = self.state.account(owner)?;
        let current = acct
            .general
            .allowances
            .get(&body.beneficiary)
            .copied()
            .unwrap_or_default();
        let new = if body.negative {
            // Lowering below zero clamps at zero, as Oasis does.
            Quantity(current.0.saturating_sub(body.amount_change.0))
        } else {
            checked_add(current, body.amount_change)?
        };
        if new.0 == 0 {
            acct.general.allowances.remove(&body.beneficiary);
        } else {
            if !acct.general.allowances.contains_key(&body.beneficiary)
                && acct.general.allowances.len() >= params.max_allowances as usize
            {
                return Err(StakingError::TooManyAllowances.into());
            }
            acct.general.allowances.insert(body.beneficiary, new);
        }
        self.state.set_account(owner, &acct)?;
        Ok(Event::AllowanceChange {
            owner: *owner,
            beneficiary: body.beneficiary,
            allowance: new,
            negative: body.negative,
            amount_change: body.amount_change,
        })
    }

    /// `staking.Withdraw`: `beneficiary` pulls from `body.from` within its allowance.
    pub fn withdraw(
        &mut self,
        beneficiary: &Address,
        body: &Withdraw,
    ) -> Result<Vec<Event>, Failure> {
        if beneficiary == &body.from {
            return Err(StakingError::InvalidArgument("cannot withdraw from oneself").into());
        }
        let mut src = self.state.account(&body.from)?;
        let allowance = src
            .general
            .allowances
            .get(beneficiary)
            .copied()
            .unwrap_or_default();
        let left =
            checked_sub(allowance, body.amount).map_err(|_| StakingError::InsufficientAllowance)?;
        if left.0 == 0 {
            src.general.allowances.remove(beneficiary);
        } else {
            src.general.allowances.insert(*beneficiary, left);
        }
        self.state.set_account(&body.from, &src)?;
        self.move_general(&body.from, beneficiary, body.amount)?;
        Ok(vec![
            Event::AllowanceChange {
                owner: body.from,
                beneficiary: *beneficiary,
                allowance: left,
                negative: true,
                amount_change: body.amount,
            },
            Event::Transfer {
                from: body.from,
                to: *beneficiary,
                amount: body.amount,
            },
        ])
    }

    /// Returns every debonding delegation that matures at or before `epoch`
    /// to its delegator. Called once per epoch change, in queue order.
    pub fn process_debonding(&mut self, epoch: Epoch) -> Result<Vec<Event>, Failure> {
        let mut events = Vec::new();
        for (end, escrow_addr, owner) in self.state.matured_debonding(epoch)? {
            let Some(deb) = self.state.debonding(&escrow_addr, &owner, end)? else {
                continue;
            };
            let mut escrow = self.state.account(&escrow_addr)?;
            let amount = escrow.escrow.debonding.withdraw(deb.shares)?;
            self.state.set_account(&escrow_addr, &escrow)?;
            let mut acct = self.state.account(&owner)?;
            acct.general.balance = checked_add(acct.general.balance, amount)?;
            self.state.set_account(&owner, &acct)?;
            self.state.remove_debonding(&escrow_addr, &owner, end)?;
            events.push(Event::ReclaimEscrow {
                owner,
                escrow: escrow_addr,
                amount,
                shares: deb.shares,
            });
        }
        Ok(events)
    }

    /// Slashes `amount` from `escrow_addr`: from the active pool first, then the
    /// debonding pool. Slashed tokens go to the common pool (supply unchanged
    /// until burned). Returns the event, or `None` when nothing was taken.
    pub fn slash(
        &mut self,
        escrow_addr: &Address,
        amount: Quantity,
        reason: SlashReason,
    ) -> Result<Option<Event>, Failure> {
        let mut acct = self.state.account(escrow_addr)?;
        let active_amount = acct.escrow.active.take(amount);
        let rest = Quantity(amount.0 - active_amount.0);
        let debonding_amount = acct.escrow.debonding.take(rest);
        let total = checked_add(active_amount, debonding_amount)?;
        if total.0 == 0 {
            return Ok(None);
        }
        self.state.set_account(escrow_addr, &acct)?;
        let pool = self.state.common_pool()?;
        self.state.set_common_pool(checked_add(pool, total)?)?;
        Ok(Some(Event::TakeEscrow {
            owner: *escrow_addr,
            active_amount,
            debonding_amount,
            reason,
        }))
    }

    /// Adds (or replaces) a claim on `escrow_addr`, refusing it if the active
    /// escrow would not cover every claim.
    pub fn add_claim(
        &mut self,
        escrow_addr: &Address,
        claim: &str,
        thresholds: Vec<StakeThreshold>,
    ) -> Result<(), Failure> {
        let params = self.state.parameters()?;
        let mut acct = self.state.account(escrow_addr)?;
        acct.escrow
            .stake_accumulator
            .claims
            .insert(claim.to_owned(), thresholds);
        check_claims(&params, &acct)?;
        self.state.set_account(escrow_addr, &acct)
    }

    /// Removes a claim (no-op when absent).
    pub fn remove_claim(&mut self, escrow_addr: &Address, claim: &str) -> Result<(), Failure> {
        let mut acct = self.state.account(escrow_addr)?;
        if acct.escrow.stake_accumulator.claims.remove(claim).is_some() {
            self.state.set_account(escrow_addr, &acct)?;
        }
        Ok(())
    }

    /// Takes a transaction's fee from `payer` into the current block's fee
    /// accumulator.
    pub fn charge_fee(&mut self, payer: &Address, amount: Quantity) -> Result<(), Failure> {
        if amount.0 == 0 {
            return Ok(());
        }
        let mut acct = self.state.account(payer)?;
        self.charge_fee_from(&mut acct, amount)?;
        self.state.set_account(payer, &acct)
    }

    /// [`Staking::charge_fee`] on an account the caller has read and will
    /// store (a transaction's signer, whose nonce changes in the same
    /// write): takes `amount` from its general balance into the block's fees.
    pub fn charge_fee_from(&mut self, acct: &mut Account, amount: Quantity) -> Result<(), Failure> {
        if amount.0 == 0 {
            return Ok(());
        }
        acct.general.balance = checked_sub(acct.general.balance, amount)
            .map_err(|_| StakingError::InsufficientBalance)?;
        let fees = self.state.block_fees()?;
        self.state.set_block_fees(checked_add(fees, amount)?)
    }

    /// `staking.AmendCommissionSchedule`.
    pub fn amend_commission_schedule(
        &mut self,
        owner: &Address,
        body: &AmendCommissionSchedule,
        now: Epoch,
    ) -> Result<Event, Failure> {
        let params = self.state.parameters()?;
        let mut acct = self.state.account(owner)?;
        acct.escrow.commission_schedule.amend(
            &body.amendment,
            &params.commission_schedule_rules,
            now,
        )?;
        self.state.set_account(owner, &acct)?;
        Ok(Event::CommissionScheduleAmended { owner: *owner })
    }

    /// Counts a block toward the epoch's signing tally: `signers` are the
    /// accounts of the validators that certified it.
    pub fn record_signing(&mut self, signers: &[(Address, u64)]) -> Result<(), Failure> {
        let mut tally = self.state.epoch_signing()?;
        tally.total = tally.total.saturating_add(1);
        let mut seen = std::collections::BTreeSet::new();
        for (a, _) in signers {
            if seen.insert(*a) {
                let n = tally.signed.entry(*a).or_insert(0);
                *n = n.saturating_add(1);
            }
        }
        self.state.set_epoch_signing(&tally)
    }

    /// Pays the finished epoch's signing rewards from the common pool to
    /// every escrow that signed enough of its blocks (at
    /// `reward_factor_epoch_signed`), then resets the tally.
    pub fn reward_epoch(&mut self, finished: Epoch) -> Result<Vec<Event>, Failure> {
        let params = self.state.parameters()?;
        let tally = self.state.epoch_signing()?;
        self.state.set_epoch_signing(&EpochSigning::default())?;
        let num = u128::from(params.signing_reward_threshold_numerator);
        let den = u128::from(params.signing_reward_threshold_denominator.max(1));
        let eligible: Vec<Address> = tally
            .signed
            .iter()
            .filter(|(_, signed)| u128::from(**signed) * den >= u128::from(tally.total) * num)
            .map(|(a, _)| *a)
            .collect();
        self.add_rewards(
            finished,
            params.reward_factor_epoch_signed,
            (1, 1),
            &eligible,
            RewardKind::Signing,
        )
    }

    /// Pays a block's proposer its reward (`reward_factor_block_proposed`),
    /// attenuated by the share of the validator set that signed:
    /// `signed / total` (Oasis counts entities).
    pub fn reward_proposer(
        &mut self,
        epoch: Epoch,
        proposer: &Address,
        signed: u128,
        total: u128,
    ) -> Result<Vec<Event>, Failure> {
        let params = self.state.parameters()?;
        if params.reward_factor_block_proposed.is_zero() || total == 0 {
            return Ok(Vec::new());
        }
        self.add_rewards(
            epoch,
            params.reward_factor_block_proposed,
            (signed.min(total), total),
            &[*proposer],
            RewardKind::Proposer,
        )
    }

    /// Pays the election reward (`reward_factor_epoch_election_any`) to
    /// every escrow in `elected` (the entities with a node in a runtime's
    /// executor committee for `epoch`).
    pub fn reward_election(
        &mut self,
        epoch: Epoch,
        elected: &[Address],
    ) -> Result<Vec<Event>, Failure> {
        let params = self.state.parameters()?;
        if params.reward_factor_epoch_election_any.is_zero() {
            return Ok(Vec::new());
        }
        self.add_rewards(
            epoch,
            params.reward_factor_epoch_election_any,
            (1, 1),
            elected,
            RewardKind::Election,
        )
    }

    /// Pays each escrow of `escrows` (each once, in the order given) its
    /// reward for `epoch` from the common pool: [`reward_amount`] of its
    /// active stake, at most what the pool holds. The owner's commission is
    /// delegated to the owner; the rest raises the share value of every
    /// delegator. Nothing is paid after the schedule's last step.
    pub fn add_rewards(
        &mut self,
        epoch: Epoch,
        factor: Quantity,
        attenuation: (u128, u128),
        escrows: &[Address],
        kind: RewardKind,
    ) -> Result<Vec<Event>, Failure> {
        let params = self.state.parameters()?;
        let Some(scale) = reward_scale(&params, epoch) else {
            return Ok(Vec::new());
        };
        let mut events = Vec::new();
        let mut paid = std::collections::BTreeSet::new();
        for escrow_addr in escrows {
            if !paid.insert(*escrow_addr) {
                continue;
            }
            let mut acct = self.state.account(escrow_addr)?;
            let pool_balance = self.state.common_pool()?;
            let reward = reward_amount(acct.escrow.active.balance, scale, factor, attenuation)?;
            let reward = Quantity(reward.0.min(pool_balance.0));
            if reward.0 == 0 {
                continue;
            }
            self.state
                .set_common_pool(checked_sub(pool_balance, reward)?)?;
            let rate = acct.escrow.commission_schedule.rate_at(epoch);
            let commission = pool::proportion(
                reward,
                u128::from(rate),
                u128::from(commission::COMMISSION_DENOMINATOR),
            )?;
            acct.escrow
                .active
                .add_reward(checked_sub(reward, commission)?)?;
            let shares = acct.escrow.active.deposit(commission)?;
            self.state.set_account(escrow_addr, &acct)?;
            if shares.0 > 0 {
                let mut d = self.state.delegation(escrow_addr, escrow_addr)?;
                d.shares = checked_add(d.shares, shares)?;
                self.state.set_delegation(escrow_addr, escrow_addr, &d)?;
            }
            events.push(Event::Reward {
                escrow: *escrow_addr,
                amount: reward,
                commission,
                kind,
            });
        }
        Ok(events)
    }

    /// Pays out the block's fees: `propose` weight to the proposer, `vote`
    /// weight to the signers in proportion to their power; rounding dust goes
    /// to the common pool. Resets the accumulator.
    pub fn distribute_fees(
        &mut self,
        proposer: Option<&Address>,
        signers: &[(Address, u64)],
    ) -> Result<(), Failure> {
        let fees = self.state.block_fees()?;
        if fees.0 == 0 {
            return Ok(());
        }
        let params = self.state.parameters()?;
        let w_propose = u128::from(params.fee_split_weight_propose);
        let w_vote = u128::from(params.fee_split_weight_vote);
        let total_w = w_propose.saturating_add(w_vote).max(1);
        let mut paid = Quantity(0);
        if let Some(p) = proposer {
            let share = pool::proportion(fees, w_propose, total_w)?;
            self.credit(p, share)?;
            paid = checked_add(paid, share)?;
        }
        let vote_part = pool::proportion(fees, w_vote, total_w)?;
        let power: u128 = signers.iter().map(|(_, p)| u128::from(*p)).sum();
        if power > 0 {
            for (addr, p) in signers {
                let share = pool::proportion(vote_part, u128::from(*p), power)?;
                self.credit(addr, share)?;
                paid = checked_add(paid, share)?;
            }
        }
        let dust = checked_sub(fees, paid)?;
        let pool_balance = self.state.common_pool()?;
        self.state
            .set_common_pool(checked_add(pool_balance, dust)?)?;
        self.state.set_block_fees(Quantity(0))
    }

    fn credit(&mut self, to: &Address, amount: Quantity) -> Result<(), Failure> {
        let mut acct = self.state.account(to)?;
        acct.general.balance = checked_add(acct.general.balance, amount)?;
        self.state.set_account(to, &acct)
    }
}

/// The reward schedule's rate for `epoch`: the first step whose `until` is
/// at or after it; `None` after the last step.
pub fn reward_scale(params: &Parameters, epoch: Epoch) -> Option<u64> {
    params
        .reward_schedule
        .iter()
        .find(|s| s.until >= epoch)
        .map(|s| s.scale)
}

/// One reward: `active × scale / 10^8 × factor / 10^8 × num / den`, each
/// step rounded down (so a reward never exceeds its exact value).
pub fn reward_amount(
    active: Quantity,
    scale: u64,
    factor: Quantity,
    (num, den): (u128, u128),
) -> Result<Quantity, StakingError> {
    let at_rate = pool::proportion(active, u128::from(scale), REWARD_DENOMINATOR)?;
    let factored = pool::proportion(at_rate, factor.0, REWARD_DENOMINATOR)?;
    pool::proportion(factored, num, den.max(1))
}

/// Checks that an escrow's active stake covers the sum of its claims.
pub fn check_claims(params: &Parameters, acct: &Account) -> Result<(), StakingError> {
    let mut needed = Quantity(0);
    for thresholds in acct.escrow.stake_accumulator.claims.values() {
        for t in thresholds {
            let q = match t {
                StakeThreshold::Global(kind) => {
                    params.thresholds.get(kind).copied().unwrap_or_default()
                }
                StakeThreshold::Constant(q) => *q,
            };
            needed = checked_add(needed, q)?;
        }
    }
    let available = acct.escrow.active.balance;
    if needed > available {
        return Err(StakingError::InsufficientStake { needed, available });
    }
    Ok(())
}
