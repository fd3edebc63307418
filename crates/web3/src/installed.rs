//! Installed filters (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`, polled with `eth_getFilterChanges`):
//! how HTTP clients such as ethers v6 follow blocks and events.
//!
//! Each filter remembers the last block it reported; a poll reports what
//! the index holds after it. At most `max_filters` are installed at once; a
//! filter not polled for `filter_timeout` is dropped (as geth does).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::filter::LogFilter;
use crate::types::{BlockNumber, H256};

/// What a filter follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterKind {
    /// New blocks' hashes.
    Blocks,
    /// New matching logs; `to` is the filter's own last block, if numeric.
    Logs {
        /// Addresses and topics.
        filter: LogFilter,
        /// `fromBlock` as given (for `eth_getFilterLogs`).
        from: Option<BlockNumber>,
        /// `toBlock` as given.
        to: Option<BlockNumber>,
    },
    /// Pending transactions: always empty (the gateway has no view of the
    /// pool).
    PendingTxs,
}

/// An installed filter.
#[derive(Clone, Debug)]
pub struct Installed {
    /// What it follows.
    pub kind: FilterKind,
    /// The last block reported (or the last indexed block when installed).
    pub last_block: Option<u64>,
    last_poll: Instant,
}

/// The installed filters.
#[derive(Debug)]
pub struct Filters {
    filters: HashMap<H256, Installed>,
    max: usize,
    timeout: Duration,
}

impl Filters {
    /// At most `max` filters, each dropped after `timeout` without a poll.
    pub fn new(max: usize, timeout: Duration) -> Self {
        Self {
            filters: HashMap::new(),
            max,
            timeout,
        }
    }

    fn sweep(&mut self) {
        let timeout = self.timeout;
        self.filters.retain(|_, f| f.last_poll.elapsed() < timeout);
    }

    /// Installs a filter; `None` when `max` are installed already.
    pub fn install(&mut self, kind: FilterKind, last_block: Option<u64>) -> Option<H256> {
        self.sweep();
        if self.filters.len() >= self.max {
            return None;
        }
        let mut id = [0u8; 32];
        // Ids are 16 random bytes, shown as a 32-byte quantity-like value.
        atoll_crypto::fill_random(&mut id[16..]);
        let id = H256::new(id);
        self.filters.insert(
            id,
            Installed {
                kind,
                last_block,
                last_poll: Instant::now(),
            },
        );
        Some(id)
    }

    /// A filter, marking it polled.
    pub fn poll(&mut self, id: &H256) -> Option<Installed> {
        self.sweep();
        let f = self.filters.get_mut(id)?;
        f.last_poll = Instant::now();
        Some(f.clone())
    }

    /// Records the last block a poll reported.
    pub fn advance(&mut self, id: &H256, last_block: u64) {
        if let Some(f) = self.filters.get_mut(id) {
            f.last_block = Some(last_block);
        }
    }

    /// Removes a filter; whether it was installed.
    pub fn uninstall(&mut self, id: &H256) -> bool {
        self.filters.remove(id).is_some()
    }

    /// How many are installed.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// How many are installed and not yet expired.
    pub fn live(&self) -> usize {
        self.filters
            .values()
            .filter(|f| f.last_poll.elapsed() < self.timeout)
            .count()
    }

    /// Whether none are installed.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }
}

/// Parses a filter id (`0x` hex, up to 32 bytes; shorter ones are padded
/// on the left, as ids are shown as quantities).
pub fn parse_filter_id(s: &str) -> Result<H256, String> {
    let u = crate::types::parse_u256(s).map_err(|_| format!("invalid filter id {s:?}"))?;
    Ok(H256(u.0.into()))
}

/// How a filter id is shown: a quantity (geth shows ids as hex quantities).
pub fn filter_id_json(id: &H256) -> String {
    crate::types::qty_be(id.0.as_slice())
}
