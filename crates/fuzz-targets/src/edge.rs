//! What Ethereum JSON-RPC clients send: the parameters of `eth_*` calls.

use atoll_web3::types::{
    BlockId, BlockNumber, Bytes, CallRequest, FilterRequest, H160, H256, Qty, U256,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parses `data` as a `T`; whatever parses prints back to JSON that parses
/// to the same value.
fn settles<T>(data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let printed = serde_json::to_vec(&v).expect("a parsed value prints");
        let back: T = serde_json::from_slice(&printed).expect("a printed value parses");
        assert_eq!(back, v, "a value does not survive printing");
    }
}

/// Every parameter type of the Ethereum API: none panics, and those that
/// print back survive the round trip.
pub fn json_rpc_params(data: &[u8]) {
    let _ = serde_json::from_slice::<CallRequest>(data);
    let _ = serde_json::from_slice::<FilterRequest>(data);
    let _ = serde_json::from_slice::<BlockId>(data);
    let _ = serde_json::from_slice::<(CallRequest, BlockId)>(data);
    let _ = serde_json::from_slice::<Vec<serde_json::Value>>(data);
    let _ = serde_json::from_slice::<BlockNumber>(data);
    settles::<Qty>(data);
    settles::<U256>(data);
    settles::<Bytes>(data);
    settles::<H160>(data);
    settles::<H256>(data);
}

/// Parameters as ethers and viem send them.
pub fn seeds() -> Vec<Vec<u8>> {
    [
        r#"{"from":"0x1111111111111111111111111111111111111111","to":"0x2222222222222222222222222222222222222222","gas":"0x5208","gasPrice":"0x3b9aca00","value":"0x1","data":"0xa9059cbb"}"#,
        r#"{"to":"0x2222222222222222222222222222222222222222","input":"0x","maxFeePerGas":"0x77359400","maxPriorityFeePerGas":"0x1","accessList":[{"address":"0x2222222222222222222222222222222222222222","storageKeys":["0x0000000000000000000000000000000000000000000000000000000000000001"]}]}"#,
        r#"{"fromBlock":"0x1","toBlock":"latest","address":["0x2222222222222222222222222222222222222222"],"topics":[null,["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"]]}"#,
        r#"{"blockHash":"0x00000000000000000000000000000000000000000000000000000000000000aa"}"#,
        r#"{"blockNumber":"0x10","requireCanonical":true}"#,
        r#""latest""#,
        r#""pending""#,
        r#""0xffffffffffffffff""#,
        r#""0x0""#,
        r#""0x""#,
        r#""0x2222222222222222222222222222222222222222""#,
        r#"[{"to":"0x2222222222222222222222222222222222222222"},"latest"]"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
