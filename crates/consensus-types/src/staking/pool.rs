//! Share pools: how escrowed stake is owned by many delegators.
//!
//! A pool holds a balance of tokens and a number of shares. Depositing mints
//! shares at the pool's current price, withdrawing burns shares for their
//! current value, and rewards or slashing change the balance without changing
//! the shares, so every delegator gains or loses in proportion. All division
//! rounds down, so a pool can never pay out more than it holds.

use atoll_types::Quantity;
use serde::{Deserialize, Serialize};

use super::StakingError;

/// A pool of stake owned through shares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharePool {
    /// Tokens in the pool.
    #[serde(default)]
    pub balance: Quantity,
    /// Shares issued against them.
    #[serde(default)]
    pub total_shares: Quantity,
}

fn mul_div(a: u128, b: u128, c: u128) -> Result<u128, StakingError> {
    // a * b / c with a 256-bit intermediate, so large pools cannot overflow.
    if c == 0 {
        return Err(StakingError::Arithmetic);
    }
    let (hi, lo) = widening_mul(a, b);
    if hi >= c {
        return Err(StakingError::Arithmetic);
    }
    Ok(div_256_by_128(hi, lo, c))
}

fn widening_mul(a: u128, b: u128) -> (u128, u128) {
    let mask = u128::from(u64::MAX);
    let (a_hi, a_lo) = (a >> 64, a & mask);
    let (b_hi, b_lo) = (b >> 64, b & mask);
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 64) + (lh & mask) + (hl & mask);
    let lo = (ll & mask) | (mid << 64);
    let hi = hh + (lh >> 64) + (hl >> 64) + (mid >> 64);
    (hi, lo)
}

/// (hi:lo) / d for hi < d, by shift-and-subtract (128 steps; exact).
fn div_256_by_128(hi: u128, lo: u128, d: u128) -> u128 {
    let mut rem = hi;
    let mut quot: u128 = 0;
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        quot <<= 1;
        if carry == 1 || rem >= d {
            rem = rem.wrapping_sub(d);
            quot |= 1;
        }
    }
    quot
}

impl SharePool {
    /// Shares that `amount` tokens buy now. An empty pool issues shares 1:1.
    pub fn shares_for_stake(&self, amount: Quantity) -> Result<Quantity, StakingError> {
        if self.total_shares.0 == 0 || self.balance.0 == 0 {
            return Ok(amount);
        }
        Ok(Quantity(mul_div(
            amount.0,
            self.total_shares.0,
            self.balance.0,
        )?))
    }

    /// Tokens that `shares` are worth now (rounded down).
    pub fn stake_for_shares(&self, shares: Quantity) -> Result<Quantity, StakingError> {
        if self.total_shares.0 == 0 {
            return Ok(Quantity(0));
        }
        Ok(Quantity(mul_div(
            shares.0,
            self.balance.0,
            self.total_shares.0,
        )?))
    }

    /// Adds `amount` tokens, returning the shares minted for them.
    pub fn deposit(&mut self, amount: Quantity) -> Result<Quantity, StakingError> {
        let shares = self.shares_for_stake(amount)?;
        self.balance = checked_add(self.balance, amount)?;
        self.total_shares = checked_add(self.total_shares, shares)?;
        Ok(shares)
    }

    /// Burns `shares`, returning the tokens they were worth.
    pub fn withdraw(&mut self, shares: Quantity) -> Result<Quantity, StakingError> {
        if shares.0 > self.total_shares.0 {
            return Err(StakingError::InsufficientShares);
        }
        let amount = self.stake_for_shares(shares)?;
        self.balance = checked_sub(self.balance, amount)?;
        self.total_shares = checked_sub(self.total_shares, shares)?;
        Ok(amount)
    }

    /// Removes up to `amount` tokens without burning shares (slashing); returns
    /// what was actually taken.
    pub fn take(&mut self, amount: Quantity) -> Quantity {
        let taken = amount.0.min(self.balance.0);
        self.balance = Quantity(self.balance.0 - taken);
        Quantity(taken)
    }

    /// Adds tokens without minting shares (rewards).
    pub fn add_reward(&mut self, amount: Quantity) -> Result<(), StakingError> {
        self.balance = checked_add(self.balance, amount)?;
        Ok(())
    }
}

/// `a + b`, or an arithmetic error.
pub fn checked_add(a: Quantity, b: Quantity) -> Result<Quantity, StakingError> {
    a.0.checked_add(b.0)
        .map(Quantity)
        .ok_or(StakingError::Arithmetic)
}

/// `a - b`, or an arithmetic error when `b > a`.
pub fn checked_sub(a: Quantity, b: Quantity) -> Result<Quantity, StakingError> {
    a.0.checked_sub(b.0)
        .map(Quantity)
        .ok_or(StakingError::Arithmetic)
}

/// `amount * numerator / denominator`, rounded down.
pub fn proportion(
    amount: Quantity,
    numerator: u128,
    denominator: u128,
) -> Result<Quantity, StakingError> {
    Ok(Quantity(mul_div(amount.0, numerator, denominator)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_deposit_is_one_to_one_and_rewards_raise_price() {
        let mut p = SharePool::default();
        assert_eq!(p.deposit(Quantity(100)).unwrap(), Quantity(100));
        p.add_reward(Quantity(100)).unwrap();
        // 200 tokens for 100 shares: 50 tokens buy 25 shares.
        assert_eq!(p.deposit(Quantity(50)).unwrap(), Quantity(25));
        assert_eq!(p.withdraw(Quantity(25)).unwrap(), Quantity(50));
        assert_eq!(
            p.withdraw(Quantity(101)),
            Err(StakingError::InsufficientShares)
        );
    }

    #[test]
    fn wide_multiplication_is_exact() {
        assert_eq!(mul_div(u128::MAX, u128::MAX, u128::MAX).unwrap(), u128::MAX);
        assert_eq!(mul_div(u128::MAX, 3, 4).unwrap(), u128::MAX / 4 * 3 + 2);
        assert_eq!(mul_div(1 << 100, 1 << 100, 1 << 101).unwrap(), 1 << 99);
        assert!(mul_div(u128::MAX, 2, 1).is_err());
        assert!(mul_div(1, 1, 0).is_err());
    }

    proptest! {
        #[test]
        fn mul_div_matches_small_arithmetic(a in 0u64.., b in 0u64.., c in 1u64..) {
            let expected = u128::from(a) * u128::from(b) / u128::from(c);
            prop_assert_eq!(mul_div(a.into(), b.into(), c.into()).unwrap(), expected);
        }

        #[test]
        fn pool_never_pays_out_more_than_it_holds(
            ops in proptest::collection::vec((0u8..3, 1u64..1_000_000_000), 1..60)
        ) {
            let mut p = SharePool::default();
            let mut holdings: Vec<Quantity> = Vec::new();
            let mut paid_in: u128 = 0;
            let mut paid_out: u128 = 0;
            for (op, amount) in ops {
                match op {
                    0 => {
                        holdings.push(p.deposit(Quantity(amount.into())).unwrap());
                        paid_in += u128::from(amount);
                    }
                    1 => {
                        if let Some(shares) = holdings.pop() {
                            paid_out += p.withdraw(shares).unwrap().0;
                        }
                    }
                    _ => {
                        p.add_reward(Quantity(amount.into())).unwrap();
                        paid_in += u128::from(amount);
                    }
                }
                prop_assert!(paid_out + p.balance.0 <= paid_in);
                prop_assert_eq!(paid_out + p.balance.0, paid_in);
            }
        }
    }
}
