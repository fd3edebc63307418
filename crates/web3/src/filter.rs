//! Log filters: which logs an `eth_getLogs` filter, an installed filter or a
//! `logs` subscription selects.
//!
//! A log matches when its address is one of the filter's addresses (any
//! address when none is given) and, for each topic position the filter
//! constrains, the log has a topic there equal to one of the alternatives
//! (`null` or an empty list constrains nothing). As in geth, a log that
//! lacks a constrained position does not match; unconstrained trailing
//! positions are ignored.

use crate::bloom::{Bloom, may_contain};
use crate::types::{FilterRequest, H160, H256};

/// Most topic positions a filter may constrain (a log has at most four).
pub const MAX_TOPICS: usize = 4;

/// A compiled log filter (without its block range).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Any of these addresses (empty: any address).
    pub addresses: Vec<H160>,
    /// Per position, any of these topics (empty: anything).
    pub topics: Vec<Vec<H256>>,
}

impl LogFilter {
    /// The address and topic parts of a request.
    pub fn from_request(req: &FilterRequest) -> Result<Self, String> {
        let addresses = req
            .address
            .as_ref()
            .map(|a| a.0.clone())
            .unwrap_or_default();
        let mut topics: Vec<Vec<H256>> = req
            .topics
            .as_ref()
            .map(|t| {
                t.iter()
                    .map(|p| p.as_ref().map(|p| p.0.clone()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        while topics.last().is_some_and(Vec::is_empty) {
            topics.pop();
        }
        if topics.len() > MAX_TOPICS {
            return Err(format!("at most {MAX_TOPICS} topic positions"));
        }
        Ok(Self { addresses, topics })
    }

    /// Whether a log matches.
    pub fn matches(&self, address: &H160, topics: &[H256]) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(address) {
            return false;
        }
        self.topics
            .iter()
            .enumerate()
            .all(|(i, alts)| alts.is_empty() || topics.get(i).is_some_and(|t| alts.contains(t)))
    }

    /// Whether a block or receipt with this bloom may hold a matching log.
    pub fn may_match(&self, bloom: &Bloom) -> bool {
        let addr_ok = self.addresses.is_empty()
            || self
                .addresses
                .iter()
                .any(|a| may_contain(bloom, a.0.as_slice()));
        addr_ok
            && self.topics.iter().all(|alts| {
                alts.is_empty() || alts.iter().any(|t| may_contain(bloom, t.0.as_slice()))
            })
    }
}
