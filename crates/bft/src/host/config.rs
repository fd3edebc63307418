//! The host's tuning that consensus does not agree on ([`HostConfig`]).

use std::time::Duration;

use malachitebft_app_channel::app::types::core::LinearTimeouts;

/// Tuning of the host that is not agreed by consensus.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Consensus timeouts.
    pub timeouts: LinearTimeouts,
    /// The shortest time from the start of one height to the start of the
    /// next: Malachite's target time, which holds a decided height until it
    /// has passed (`None`: no floor). A node paces only the heights where it
    /// is a validator. Busy heights are at least this long, which bounds how
    /// fast heights (and height-counted timeouts such as a runtime round's)
    /// go under load.
    pub min_block_time: Option<Duration>,
    /// The longest a round-0 proposer with nothing to propose waits, from
    /// the start of the round, for transactions before it proposes an empty
    /// block (`None`: it proposes at once). An idle network thus makes a
    /// block about this often; a busy one as fast as `min_block_time` and
    /// the work allow. Capped at half the propose timeout.
    pub block_time: Option<Duration>,
    /// Bytes per streamed data part.
    pub part_size: usize,
    /// Most transactions a proposer tries per block.
    pub max_txs_tried: usize,
    /// How far ahead of this validator's clock a proposed block's time may
    /// be for it to vote for the block (the only place the local clock is
    /// read when judging). A proposer cannot push block time (and with it
    /// the EVM `block.timestamp`) further into the future than this.
    pub max_time_drift: Duration,
    /// A proposer that misbehaves on purpose, for end-to-end tests of the
    /// defences only (the node refuses it unless the genesis is a debug
    /// one). `None` in every real deployment.
    pub byzantine: Option<ByzantineProposer>,
}

/// Test-only misbehaviour of a proposer (`[consensus]
/// debug_byzantine_proposer` in `node.toml`, refused unless the genesis is a
/// debug one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByzantineProposer {
    /// Dates every block it proposes this many seconds ahead of its clock.
    pub future_s: u64,
    /// Besides its proposal, streams this many other blocks (each dated one
    /// second later than the last) for the same height and round, each
    /// signed as its proposal.
    pub extra_proposals: u32,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            timeouts: LinearTimeouts::default(),
            min_block_time: None,
            block_time: None,
            part_size: 64 * 1024,
            max_txs_tried: 10_000,
            max_time_drift: DEFAULT_MAX_TIME_DRIFT,
            byzantine: None,
        }
    }
}

/// The default of [`HostConfig::max_time_drift`].
pub const DEFAULT_MAX_TIME_DRIFT: Duration = Duration::from_secs(10);
