//! Staking: the bodies of its transactions and messages, its accounts,
//! parameters, events and errors, the share pools and commission schedules.

pub mod commission;
pub mod pool;
pub mod types;

use atoll_state::{Failure, ModuleError};
use atoll_types::Quantity;

pub use self::commission::{AmendCommissionSchedule, CommissionSchedule, CommissionScheduleRules};
pub use self::types::*;

/// The module name in method names, events and errors.
pub const MODULE: &str = "staking";

/// Method names.
pub mod methods {
    /// `staking.Transfer`
    pub const TRANSFER: &str = "staking.Transfer";
    /// `staking.Burn`
    pub const BURN: &str = "staking.Burn";
    /// `staking.AddEscrow`
    pub const ADD_ESCROW: &str = "staking.AddEscrow";
    /// `staking.ReclaimEscrow`
    pub const RECLAIM_ESCROW: &str = "staking.ReclaimEscrow";
    /// `staking.Allow`
    pub const ALLOW: &str = "staking.Allow";
    /// `staking.Withdraw`
    pub const WITHDRAW: &str = "staking.Withdraw";
    /// `staking.AmendCommissionSchedule`
    pub const AMEND_COMMISSION_SCHEDULE: &str = "staking.AmendCommissionSchedule";
}

/// Staking's errors, with stable codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StakingError {
    /// A malformed argument (zero amount where one is needed, self-allowance...).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// Not enough general balance.
    #[error("insufficient balance")]
    InsufficientBalance,
    /// Not enough escrowed stake to cover the claims.
    #[error("insufficient stake: claims need {needed}, escrow holds {available}")]
    InsufficientStake {
        /// Total the claims need.
        needed: Quantity,
        /// Active escrow available.
        available: Quantity,
    },
    /// The operation is not allowed (e.g. transfers disabled).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The account already has the maximum number of allowances.
    #[error("too many allowances")]
    TooManyAllowances,
    /// A delegation below the minimum.
    #[error("delegation below the minimum of {0}")]
    UnderMinDelegation(Quantity),
    /// A transfer below the minimum.
    #[error("transfer below the minimum of {0}")]
    UnderMinTransfer(Quantity),
    /// Reclaiming more shares than the delegation holds.
    #[error("insufficient shares")]
    InsufficientShares,
    /// An amount so large that arithmetic would overflow.
    #[error("amount out of range")]
    Arithmetic,
    /// Withdrawing more than the allowance.
    #[error("insufficient allowance")]
    InsufficientAllowance,
}

impl ModuleError for StakingError {
    const MODULE: &'static str = MODULE;

    fn code(&self) -> u32 {
        match self {
            Self::InvalidArgument(_) => 1,
            Self::InsufficientBalance => 2,
            Self::InsufficientStake { .. } => 3,
            Self::Forbidden(_) => 4,
            Self::TooManyAllowances => 5,
            Self::UnderMinDelegation(_) => 6,
            Self::UnderMinTransfer(_) => 7,
            Self::InsufficientShares => 8,
            Self::Arithmetic => 9,
            Self::InsufficientAllowance => 10,
        }
    }
}

impl From<StakingError> for Failure {
    fn from(e: StakingError) -> Self {
        Failure::Tx(e.to_tx_error())
    }
}
