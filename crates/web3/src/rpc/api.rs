//! The Ethereum JSON-RPC's interface: one jsonrpsee `#[rpc(server)]` trait
//! per concern, implemented on [`super::Rpc`] in the module of the same
//! concern. Answers are JSON values built by [`crate::model`]; parameters
//! are checked in geth's way by [`super::params`] before these decode them.

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use serde_json::Value;

use crate::types::{
    BlockId, BlockNumber, Bytes, CallRequest, FilterRequest, H160, H256, Qty, U256,
};

/// `web3_`: the client and Keccak-256.
#[rpc(server, namespace = "web3")]
pub trait Web3Rpc {
    /// The client's name and version.
    #[method(name = "clientVersion")]
    async fn client_version(&self) -> RpcResult<Value>;

    /// Keccak-256 of the data.
    #[method(name = "sha3")]
    async fn sha3(&self, data: Bytes) -> RpcResult<Value>;
}

/// `net_`: the network id and the (absent) peers.
#[rpc(server, namespace = "net")]
pub trait NetRpc {
    /// The chain id, in decimal.
    #[method(name = "version")]
    async fn version(&self) -> RpcResult<Value>;

    /// Always true.
    #[method(name = "listening")]
    async fn listening(&self) -> RpcResult<Value>;

    /// Always 0: the gateway has no Ethereum peers.
    #[method(name = "peerCount")]
    async fn peer_count(&self) -> RpcResult<Value>;
}

/// `eth_`: the chain, its blocks, and the answers of a node that mines
/// nothing.
#[rpc(server, namespace = "eth")]
pub trait EthBlocksRpc {
    /// The EVM chain id.
    #[method(name = "chainId")]
    async fn chain_id(&self) -> RpcResult<Value>;

    /// The last indexed block.
    #[method(name = "blockNumber")]
    async fn block_number(&self) -> RpcResult<Value>;

    /// `false`, or how far the index is behind the runtime.
    #[method(name = "syncing")]
    async fn syncing(&self) -> RpcResult<Value>;

    /// Always empty (no keys here).
    #[method(name = "accounts")]
    async fn accounts(&self) -> RpcResult<Value>;

    /// Always false.
    #[method(name = "mining")]
    async fn mining(&self) -> RpcResult<Value>;

    /// Always 0.
    #[method(name = "hashrate")]
    async fn hashrate(&self) -> RpcResult<Value>;

    /// A block by number or tag, with full transactions or their hashes.
    #[method(name = "getBlockByNumber")]
    async fn block_by_number(&self, number: BlockNumber, full: Option<bool>) -> RpcResult<Value>;

    /// A block by hash.
    #[method(name = "getBlockByHash")]
    async fn block_by_hash(&self, hash: H256, full: Option<bool>) -> RpcResult<Value>;

    /// How many transactions a block (by number or tag) has.
    #[method(name = "getBlockTransactionCountByNumber")]
    async fn tx_count_by_number(&self, number: BlockNumber) -> RpcResult<Value>;

    /// How many transactions a block (by hash) has.
    #[method(name = "getBlockTransactionCountByHash")]
    async fn tx_count_by_hash(&self, hash: H256) -> RpcResult<Value>;

    /// Always 0.
    #[method(name = "getUncleCountByBlockNumber")]
    async fn uncle_count_by_number(&self) -> RpcResult<Value>;

    /// Always 0.
    #[method(name = "getUncleCountByBlockHash")]
    async fn uncle_count_by_hash(&self) -> RpcResult<Value>;

    /// Every receipt of a block.
    #[method(name = "getBlockReceipts")]
    async fn block_receipts(&self, block: BlockId) -> RpcResult<Value>;
}

/// `eth_`: state at a block, and simulated calls.
#[rpc(server, namespace = "eth")]
pub trait EthStateRpc {
    /// An account's balance.
    #[method(name = "getBalance")]
    async fn balance(&self, address: H160, block: Option<BlockId>) -> RpcResult<Value>;

    /// An account's nonce (`pending` counts this gateway's submissions).
    #[method(name = "getTransactionCount")]
    async fn transaction_count(&self, address: H160, block: Option<BlockId>) -> RpcResult<Value>;

    /// An account's code.
    #[method(name = "getCode")]
    async fn code(&self, address: H160, block: Option<BlockId>) -> RpcResult<Value>;

    /// One storage slot of an account.
    #[method(name = "getStorageAt")]
    async fn storage_at(
        &self,
        address: H160,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<Value>;

    /// A simulated call's output; state overrides are accepted and ignored.
    #[method(name = "call")]
    async fn call(
        &self,
        request: CallRequest,
        block: Option<BlockId>,
        overrides: Option<Value>,
    ) -> RpcResult<Value>;

    /// The gas a call needs; a third argument is accepted and ignored.
    #[method(name = "estimateGas")]
    async fn estimate_gas(
        &self,
        request: CallRequest,
        block: Option<BlockId>,
        overrides: Option<Value>,
    ) -> RpcResult<Value>;
}

/// `eth_`: submission, and transactions and receipts.
#[rpc(server, namespace = "eth")]
pub trait EthTransactionsRpc {
    /// Submits a signed transaction (`0x` hex); its hash.
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: String) -> RpcResult<Value>;

    /// A transaction by hash.
    #[method(name = "getTransactionByHash")]
    async fn transaction_by_hash(&self, hash: H256) -> RpcResult<Value>;

    /// A receipt by transaction hash.
    #[method(name = "getTransactionReceipt")]
    async fn transaction_receipt(&self, hash: H256) -> RpcResult<Value>;

    /// A transaction by block number (or tag) and position.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    async fn transaction_by_number_and_index(
        &self,
        number: BlockNumber,
        index: Qty,
    ) -> RpcResult<Value>;

    /// A transaction by block hash and position.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    async fn transaction_by_hash_and_index(&self, hash: H256, index: Qty) -> RpcResult<Value>;
}

/// `eth_`: the gas price, the suggested tip and the fee history.
#[rpc(server, namespace = "eth")]
pub trait EthFeesRpc {
    /// The minimum gas price.
    #[method(name = "gasPrice")]
    async fn gas_price(&self) -> RpcResult<Value>;

    /// Always 0.
    #[method(name = "maxPriorityFeePerGas")]
    async fn max_priority_fee_per_gas(&self) -> RpcResult<Value>;

    /// Base fees, gas used ratios and tips of recent blocks.
    #[method(name = "feeHistory")]
    async fn fee_history(
        &self,
        block_count: Qty,
        newest: BlockNumber,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<Value>;
}

/// `eth_`: logs, and installed filters.
#[rpc(server, namespace = "eth")]
pub trait EthFiltersRpc {
    /// The logs matching a filter.
    #[method(name = "getLogs")]
    async fn logs(&self, filter: FilterRequest) -> RpcResult<Value>;

    /// Installs a log filter; its id.
    #[method(name = "newFilter")]
    async fn new_filter(&self, filter: FilterRequest) -> RpcResult<Value>;

    /// Installs a filter of new block hashes; its id.
    #[method(name = "newBlockFilter")]
    async fn new_block_filter(&self) -> RpcResult<Value>;

    /// Installs a filter of pending transactions (always empty); its id.
    #[method(name = "newPendingTransactionFilter")]
    async fn new_pending_transaction_filter(&self) -> RpcResult<Value>;

    /// Removes an installed filter.
    #[method(name = "uninstallFilter")]
    async fn uninstall_filter(&self, id: String) -> RpcResult<Value>;

    /// What an installed filter saw since the last poll.
    #[method(name = "getFilterChanges")]
    async fn filter_changes(&self, id: String) -> RpcResult<Value>;

    /// Every log an installed log filter matches.
    #[method(name = "getFilterLogs")]
    async fn filter_logs(&self, id: String) -> RpcResult<Value>;
}

/// `eth_subscribe`: `newHeads` and `logs`, over WebSocket.
#[rpc(server, namespace = "eth")]
pub trait EthPubSubRpc {
    /// Follows new blocks (`"newHeads"`) or matching logs (`"logs"`, with
    /// `{address?, topics?}`).
    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = Value)]
    async fn subscribe(&self, kind: String, params: Option<Value>) -> SubscriptionResult;
}
