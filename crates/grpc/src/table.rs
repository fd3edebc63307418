//! The method table: which gRPC paths atoll serves, by Oasis's service and
//! method names (`/oasis-core.<Service>/<Method>`, as oasis-core's method
//! descriptors and `@oasisprotocol/client` name them). Pure: a path in, a
//! [`Method`] out.

/// The services, by the name in their paths.
pub const SERVICES: &[&str] = &[
    "oasis-core.Consensus",
    "oasis-core.Staking",
    "oasis-core.Beacon",
    "oasis-core.RuntimeClient",
];

/// A method atoll serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `Consensus/GetChainContext`: `nil` → the chain context (text).
    GetChainContext,
    /// `Consensus/GetStatus`: `nil` → the status map.
    GetStatus,
    /// `Consensus/GetBlock`: height → the block.
    GetBlock,
    /// `Consensus/SubmitTx`: a signed transaction → `nil` once it is in a
    /// block, or its error with module and code.
    SubmitTx,
    /// `Consensus/SubmitTxNoWait`: a signed transaction → `nil` once admitted.
    SubmitTxNoWait,
    /// `Consensus/GetSignerNonce`: `{account_address, height}` → nonce.
    GetSignerNonce,
    /// `Staking/Account`: `{owner, height}` → the account.
    StakingAccount,
    /// `Staking/DelegationsTo`: `{owner, height}` → delegator → delegation.
    StakingDelegationsTo,
    /// `Staking/TotalSupply`: height → quantity.
    StakingTotalSupply,
    /// `Staking/CommonPool`: height → quantity.
    StakingCommonPool,
    /// `Beacon/GetEpoch`: height → epoch.
    BeaconGetEpoch,
    /// `RuntimeClient/SubmitTx`: `{runtime_id, data}` → the call result's
    /// CBOR (as bytes) once a round includes the transaction.
    RuntimeSubmitTx,
    /// `RuntimeClient/SubmitTxNoWait`: `{runtime_id, data}` → `nil` once
    /// checked and pooled.
    RuntimeSubmitTxNoWait,
    /// `RuntimeClient/Query`: `{runtime_id, round, method, args}` →
    /// `{data}`.
    RuntimeQuery,
}

/// Every method with its full path.
pub const METHODS: &[(&str, Method)] = &[
    (
        "/oasis-core.Consensus/GetChainContext",
        Method::GetChainContext,
    ),
    ("/oasis-core.Consensus/GetStatus", Method::GetStatus),
    ("/oasis-core.Consensus/GetBlock", Method::GetBlock),
    ("/oasis-core.Consensus/SubmitTx", Method::SubmitTx),
    (
        "/oasis-core.Consensus/SubmitTxNoWait",
        Method::SubmitTxNoWait,
    ),
    (
        "/oasis-core.Consensus/GetSignerNonce",
        Method::GetSignerNonce,
    ),
    ("/oasis-core.Staking/Account", Method::StakingAccount),
    (
        "/oasis-core.Staking/DelegationsTo",
        Method::StakingDelegationsTo,
    ),
    (
        "/oasis-core.Staking/TotalSupply",
        Method::StakingTotalSupply,
    ),
    ("/oasis-core.Staking/CommonPool", Method::StakingCommonPool),
    ("/oasis-core.Beacon/GetEpoch", Method::BeaconGetEpoch),
    (
        "/oasis-core.RuntimeClient/SubmitTx",
        Method::RuntimeSubmitTx,
    ),
    (
        "/oasis-core.RuntimeClient/SubmitTxNoWait",
        Method::RuntimeSubmitTxNoWait,
    ),
    ("/oasis-core.RuntimeClient/Query", Method::RuntimeQuery),
];

/// The method a request path names; `None` for any other path (gRPC's
/// `Unimplemented`, as oasis-node answers an unknown method).
pub fn method(path: &str) -> Option<Method> {
    METHODS.iter().find(|(p, _)| *p == path).map(|(_, m)| *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_under_a_listed_service() {
        for (path, m) in METHODS {
            assert_eq!(method(path), Some(*m));
            let service = path.trim_start_matches('/').split('/').next().unwrap();
            assert!(SERVICES.contains(&service), "{path}");
        }
        assert_eq!(method("/oasis-core.Consensus/Nope"), None);
        assert_eq!(method("/oasis-core.Consensus/getchaincontext"), None);
        assert_eq!(method(""), None);
    }
}
