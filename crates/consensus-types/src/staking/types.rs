//! Staking's state, method bodies, parameters and events.

use std::collections::BTreeMap;

use atoll_crypto::Address;
use atoll_types::{Epoch, Quantity};
use serde::{Deserialize, Serialize};

use super::commission::{CommissionSchedule, CommissionScheduleRules};
use super::pool::SharePool;

/// An account: a general part (spendable balance, nonce, allowances) and an
/// escrow part (stake delegated to this account as an escrow).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Spendable part.
    #[serde(default)]
    pub general: GeneralAccount,
    /// Escrow part.
    #[serde(default)]
    pub escrow: EscrowAccount,
}

/// The spendable part of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneralAccount {
    /// Spendable tokens.
    #[serde(default)]
    pub balance: Quantity,
    /// Number of transactions this account has had included; the next
    /// transaction must carry exactly this nonce.
    #[serde(default)]
    pub nonce: u64,
    /// How much each beneficiary may still withdraw from this account.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allowances: BTreeMap<Address, Quantity>,
}

/// Stake escrowed with an account, owned through shares by its delegators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowAccount {
    /// Stake that counts for elections and earns rewards.
    #[serde(default)]
    pub active: SharePool,
    /// Stake on its way out, still slashable until it matures.
    #[serde(default)]
    pub debonding: SharePool,
    /// What the stake backs (entity, nodes, runtimes) and how much each needs.
    #[serde(default, skip_serializing_if = "StakeAccumulator::is_empty")]
    pub stake_accumulator: StakeAccumulator,
    /// The owner's commission on rewards.
    #[serde(default, skip_serializing_if = "is_default_schedule")]
    pub commission_schedule: CommissionSchedule,
}

fn is_default_schedule(s: &CommissionSchedule) -> bool {
    *s == CommissionSchedule::default()
}

/// Kinds of stake threshold: each registered thing needs its own minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdKind {
    /// Registering an entity.
    Entity,
    /// A node with the validator role.
    NodeValidator,
    /// A node with the compute role.
    NodeCompute,
    /// A node with the key manager role.
    NodeKeymanager,
    /// A node with the observer role.
    NodeObserver,
    /// Registering a compute runtime.
    RuntimeCompute,
    /// Registering a key manager runtime.
    RuntimeKeymanager,
}

/// One requirement of a claim: a global threshold kind, or a fixed amount
/// (a runtime's own extra requirement).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StakeThreshold {
    /// The current global threshold of this kind.
    Global(ThresholdKind),
    /// A fixed amount.
    Constant(Quantity),
}

/// The claims on an escrow account: the sum of their thresholds must never
/// exceed the account's active escrow, or the claims are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakeAccumulator {
    /// Claim name (e.g. `registry.RegisterNode.<node id>`) to its thresholds.
    #[serde(default)]
    pub claims: BTreeMap<String, Vec<StakeThreshold>>,
}

impl StakeAccumulator {
    /// Whether there are no claims.
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty()
    }
}

/// Body of `staking.Transfer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Recipient.
    pub to: Address,
    /// Amount in base units.
    pub amount: Quantity,
}

/// Body of `staking.Burn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Burn {
    /// Amount to destroy.
    pub amount: Quantity,
}

/// Body of `staking.AddEscrow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escrow {
    /// The escrow account to delegate to.
    pub account: Address,
    /// Amount to delegate.
    pub amount: Quantity,
}

/// Body of `staking.ReclaimEscrow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReclaimEscrow {
    /// The escrow account to reclaim from.
    pub account: Address,
    /// Active shares to turn into debonding stake.
    pub shares: Quantity,
}

/// Body of `staking.Allow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allow {
    /// Who may withdraw.
    pub beneficiary: Address,
    /// Whether `amount_change` lowers the allowance instead of raising it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negative: bool,
    /// The change.
    pub amount_change: Quantity,
}

/// Body of `staking.Withdraw`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdraw {
    /// The account to withdraw from (which gave the signer an allowance).
    pub from: Address,
    /// Amount to withdraw.
    pub amount: Quantity,
}

/// A pending withdrawal of debonding stake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebondingDelegation {
    /// Shares of the escrow's debonding pool.
    pub shares: Quantity,
    /// The epoch at which the stake returns to the delegator.
    pub debond_end: Epoch,
}

/// A delegation: the delegator's shares of an escrow's active pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    /// Shares of the active pool.
    pub shares: Quantity,
}

/// Why stake is slashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlashReason {
    /// A validator signed two different blocks at one height.
    ConsensusEquivocation,
    /// A compute node committed results that the committee proved wrong.
    RuntimeIncorrectResults,
    /// A compute node committed two different results for one round.
    RuntimeEquivocation,
    /// A compute node missed too many rounds.
    RuntimeLiveness,
}

/// The penalty for one slashing reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slash {
    /// Stake taken from the offender's escrow (active first, then debonding).
    pub amount: Quantity,
    /// Epochs the offending node stays frozen (cannot be elected).
    #[serde(default)]
    pub freeze_interval: u64,
}

/// Gas charged per staking method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasCosts {
    /// `staking.Transfer`.
    pub transfer: u64,
    /// `staking.Burn`.
    pub burn: u64,
    /// `staking.AddEscrow`.
    pub add_escrow: u64,
    /// `staking.ReclaimEscrow`.
    pub reclaim_escrow: u64,
    /// `staking.Allow`.
    pub allow: u64,
    /// `staking.Withdraw`.
    pub withdraw: u64,
    /// `staking.AmendCommissionSchedule`.
    #[serde(default = "default_amend_gas")]
    pub amend_commission_schedule: u64,
}

fn default_amend_gas() -> u64 {
    1000
}

impl Default for GasCosts {
    fn default() -> Self {
        Self {
            transfer: 1000,
            burn: 1000,
            add_escrow: 1000,
            reclaim_escrow: 1000,
            allow: 1000,
            withdraw: 1000,
            amend_commission_schedule: default_amend_gas(),
        }
    }
}

/// Staking's consensus parameters (part of the genesis document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Global stake thresholds.
    #[serde(default)]
    pub thresholds: BTreeMap<ThresholdKind, Quantity>,
    /// Epochs between a reclaim and the stake's return.
    pub debonding_interval: u64,
    /// Penalties per reason.
    #[serde(default)]
    pub slashing: BTreeMap<SlashReason, Slash>,
    /// Gas per method.
    #[serde(default)]
    pub gas_costs: GasCosts,
    /// Smallest amount a transfer may move (zero allows any).
    #[serde(default)]
    pub min_transfer: Quantity,
    /// Smallest amount a delegation may add.
    #[serde(default)]
    pub min_delegation: Quantity,
    /// Most beneficiaries an account may give allowances to.
    pub max_allowances: u32,
    /// Share of each block's fees paid to its proposer (the rest goes to the
    /// validators that signed the block, in proportion to their power).
    pub fee_split_weight_propose: u64,
    /// Share of each block's fees paid to the block's signers.
    pub fee_split_weight_vote: u64,
    /// Whether transfers are disabled (for a network's launch phase).
    #[serde(default)]
    pub disable_transfers: bool,
    /// Whether runtimes may escrow through messages.
    #[serde(default)]
    pub allow_escrow_messages: bool,
    /// Rules for commission schedules.
    #[serde(default)]
    pub commission_schedule_rules: CommissionScheduleRules,
    /// Per-epoch reward rates for validators' escrow, by epoch range.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reward_schedule: Vec<RewardStep>,
    /// A validator entity earns the epoch's reward if it signed at least
    /// `numerator / denominator` of the epoch's blocks.
    #[serde(default = "default_threshold_numerator")]
    pub signing_reward_threshold_numerator: u64,
    /// See `signing_reward_threshold_numerator`.
    #[serde(default = "default_threshold_denominator")]
    pub signing_reward_threshold_denominator: u64,
    /// Factor (in 1/[`REWARD_DENOMINATOR`]) applied to the schedule's rate
    /// for the per-epoch signing reward (Oasis's `reward_factor_epoch_signed`;
    /// the default, one whole, pays the schedule's rate).
    #[serde(
        default = "default_reward_factor_epoch_signed",
        skip_serializing_if = "is_default_reward_factor_epoch_signed"
    )]
    pub reward_factor_epoch_signed: Quantity,
    /// Factor (in 1/[`REWARD_DENOMINATOR`]) applied to the schedule's rate
    /// for the reward a block's proposer earns, attenuated by the share of
    /// the validator set that signed (Oasis's `reward_factor_block_proposed`;
    /// zero: none).
    #[serde(default, skip_serializing_if = "is_zero_quantity")]
    pub reward_factor_block_proposed: Quantity,
    /// Factor (in 1/[`REWARD_DENOMINATOR`]) applied to the schedule's rate
    /// for the reward of every entity with a node elected to a runtime's
    /// executor committee, paid at the election (Oasis's
    /// `reward_factor_epoch_election_any`, a scheduler parameter there;
    /// zero: none).
    #[serde(default, skip_serializing_if = "is_zero_quantity")]
    pub reward_factor_epoch_election_any: Quantity,
}

fn is_zero_quantity(q: &Quantity) -> bool {
    q.is_zero()
}

fn default_reward_factor_epoch_signed() -> Quantity {
    Quantity(REWARD_DENOMINATOR)
}

fn is_default_reward_factor_epoch_signed(q: &Quantity) -> bool {
    *q == default_reward_factor_epoch_signed()
}

fn default_threshold_numerator() -> u64 {
    3
}

fn default_threshold_denominator() -> u64 {
    4
}

/// Rewards are in units of 1/`REWARD_DENOMINATOR` of the active escrow per epoch.
pub const REWARD_DENOMINATOR: u128 = 100_000_000;

/// What an escrow was rewarded for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RewardKind {
    /// Its validators signed enough of the epoch's blocks.
    #[default]
    Signing,
    /// Its validator proposed a block.
    Proposer,
    /// One of its nodes was elected to a runtime's executor committee.
    Election,
}

impl RewardKind {
    /// Whether this is the signing reward (the kind events omit).
    pub fn is_signing(&self) -> bool {
        *self == Self::Signing
    }
}

/// A reward rate until an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardStep {
    /// Last epoch (inclusive) at this rate.
    pub until: Epoch,
    /// Reward per epoch, in 1/100,000,000 of the active escrow.
    pub scale: u64,
}

/// Who signed how many of an epoch's blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochSigning {
    /// Blocks in the epoch so far.
    pub total: u64,
    /// Blocks each entity signed.
    #[serde(default)]
    pub signed: BTreeMap<Address, u64>,
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            thresholds: BTreeMap::new(),
            debonding_interval: 1,
            slashing: BTreeMap::new(),
            gas_costs: GasCosts::default(),
            min_transfer: Quantity(0),
            min_delegation: Quantity(0),
            max_allowances: 16,
            fee_split_weight_propose: 1,
            fee_split_weight_vote: 1,
            disable_transfers: false,
            allow_escrow_messages: false,
            commission_schedule_rules: CommissionScheduleRules::default(),
            reward_schedule: Vec::new(),
            signing_reward_threshold_numerator: default_threshold_numerator(),
            signing_reward_threshold_denominator: default_threshold_denominator(),
            reward_factor_epoch_signed: default_reward_factor_epoch_signed(),
            reward_factor_block_proposed: Quantity(0),
            reward_factor_epoch_election_any: Quantity(0),
        }
    }
}

/// Events staking emits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Tokens moved between general balances.
    Transfer {
        /// Sender.
        from: Address,
        /// Recipient.
        to: Address,
        /// Amount.
        amount: Quantity,
    },
    /// Tokens destroyed.
    Burn {
        /// Whose tokens.
        owner: Address,
        /// Amount.
        amount: Quantity,
    },
    /// Stake delegated to an escrow.
    AddEscrow {
        /// Delegator.
        owner: Address,
        /// Escrow account.
        escrow: Address,
        /// Amount.
        amount: Quantity,
        /// Shares minted.
        new_shares: Quantity,
    },
    /// Stake started debonding.
    DebondingStart {
        /// Delegator.
        owner: Address,
        /// Escrow account.
        escrow: Address,
        /// Amount.
        amount: Quantity,
        /// Active shares burned.
        active_shares: Quantity,
        /// Debonding shares minted.
        debonding_shares: Quantity,
        /// Epoch of return.
        debond_end: Epoch,
    },
    /// Debonded stake returned to its delegator.
    ReclaimEscrow {
        /// Delegator.
        owner: Address,
        /// Escrow account.
        escrow: Address,
        /// Amount.
        amount: Quantity,
        /// Debonding shares burned.
        shares: Quantity,
    },
    /// Stake taken from an escrow (slashing).
    TakeEscrow {
        /// Escrow account.
        owner: Address,
        /// Amount taken from the active pool.
        active_amount: Quantity,
        /// Amount taken from the debonding pool.
        debonding_amount: Quantity,
        /// Why.
        reason: SlashReason,
    },
    /// An escrow earned its epoch reward.
    Reward {
        /// The escrow account.
        escrow: Address,
        /// Added to the pool (raising every delegator's share value).
        amount: Quantity,
        /// The owner's commission, delegated to the owner.
        commission: Quantity,
        /// What the reward was for.
        #[serde(default, skip_serializing_if = "RewardKind::is_signing")]
        kind: RewardKind,
    },
    /// An escrow's commission schedule changed.
    CommissionScheduleAmended {
        /// The escrow account.
        owner: Address,
    },
    /// An allowance changed.
    AllowanceChange {
        /// Who gave it.
        owner: Address,
        /// Who may withdraw.
        beneficiary: Address,
        /// The new allowance.
        allowance: Quantity,
        /// Whether it was lowered.
        negative: bool,
        /// By how much.
        amount_change: Quantity,
    },
}
