//! The EVM's state in the runtime's store, and revm's view of it.
//!
//! Layout (under the module's prefix `"evm"`, as Oasis's `module_evm`):
//!
//! - `evm || 0x00`: parameters;
//! - `evm || 0x01 || address(20)`: contract code (raw bytes);
//! - `evm || 0x02 || address(20) || blake3(slot)(32) || slot(32)`: a
//!   storage value (32 raw big-endian bytes; zero values are not stored).
//!   The slot, which contracts choose freely, is preceded by its BLAKE3
//!   hash, as oasis-sdk's `HashedStore<blake3>` does for public storage:
//!   the state trie branches on hash bits there, so no contract can shape
//!   its slots into a deep chain of the trie;
//! - `evm || 0x03 || round(u64 BE)`: the runtime block hash of that round
//!   (the last 256 rounds, for `BLOCKHASH`).
//!
//! Balances and nonces are the `accounts` module's, for the account
//! `Address::from_eth(address)` in the native denomination.

use atoll_crypto::Address;
use atoll_crypto::secp256k1::EthAddress;
use atoll_runtime_sdk::FatalError;
use atoll_runtime_sdk::modules::accounts;
use atoll_runtime_sdk::state::{Store, module_key};
use atoll_runtime_sdk::types::Denomination;
use revm::bytecode::Bytecode;
use revm::database_interface::DBErrorMarker;
use revm::primitives::{Address as RAddress, B256, Bytes, KECCAK_EMPTY, U256, keccak256};
use revm::state::AccountInfo;

/// The module's name (its state prefix).
pub const MODULE_NAME: &str = "evm";

const CODES: u8 = 0x01;
const STORAGES: u8 = 0x02;
const BLOCK_HASHES: u8 = 0x03;

pub(crate) fn code_key(address: &EthAddress) -> Vec<u8> {
    module_key(MODULE_NAME, CODES, &[address.as_bytes()])
}

pub(crate) fn storage_prefix(address: &EthAddress) -> Vec<u8> {
    module_key(MODULE_NAME, STORAGES, &[address.as_bytes()])
}

pub(crate) fn storage_key(address: &EthAddress, slot: &[u8; 32]) -> Vec<u8> {
    let hashed = blake3::hash(slot);
    module_key(
        MODULE_NAME,
        STORAGES,
        &[address.as_bytes(), hashed.as_bytes(), slot],
    )
}

pub(crate) fn block_hash_key(round: u64) -> Vec<u8> {
    module_key(MODULE_NAME, BLOCK_HASHES, &[&round.to_be_bytes()])
}

/// The account of an Ethereum address.
pub fn account_of(address: &EthAddress) -> Address {
    Address::from_eth(address)
}

/// A contract's code (empty when none).
pub fn code(store: &dyn Store, address: &EthAddress) -> Result<Vec<u8>, FatalError> {
    Ok(store.get(&code_key(address))?.unwrap_or_default())
}

/// A storage value (zero when unset).
pub fn storage(
    store: &dyn Store,
    address: &EthAddress,
    slot: &[u8; 32],
) -> Result<[u8; 32], FatalError> {
    let mut out = [0u8; 32];
    if let Some(v) = store.get(&storage_key(address, slot))? {
        let n = v.len().min(32);
        out[32 - n..].copy_from_slice(v.get(v.len() - n..).unwrap_or_default());
    }
    Ok(out)
}

/// The native balance of an Ethereum address.
pub fn balance(store: &dyn Store, address: &EthAddress) -> Result<u128, FatalError> {
    accounts::balance(store, &account_of(address), &Denomination::NATIVE)
}

/// A store failure seen through revm.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DbError(pub FatalError);

impl DBErrorMarker for DbError {}

/// revm's read-only view of the store. Writes come back as revm's state
/// diff, which [`crate::module`] commits in address order.
pub(crate) struct StoreDb<'a> {
    pub store: &'a dyn Store,
    /// The transaction's sender and its transaction nonce: the SDK bumped
    /// the sender's account nonce before the call, so revm is shown the
    /// nonce the transaction was signed with (revm bumps it again, ending at
    /// the SDK's value, and CREATE addresses follow Ethereum's rule).
    pub sender_nonce: Option<(RAddress, u64)>,
}

pub(crate) fn eth(address: &RAddress) -> EthAddress {
    EthAddress(address.0.0)
}

impl revm::Database for StoreDb<'_> {
    type Error = DbError;

    fn basic(&mut self, address: RAddress) -> Result<Option<AccountInfo>, Self::Error> {
        let e = eth(&address);
        let account = account_of(&e);
        let balance =
            accounts::balance(self.store, &account, &Denomination::NATIVE).map_err(DbError)?;
        let nonce = match self.sender_nonce {
            Some((sender, n)) if sender == address => n,
            _ => accounts::nonce(self.store, &account).map_err(DbError)?,
        };
        let code = code(self.store, &e).map_err(DbError)?;
        if balance == 0 && nonce == 0 && code.is_empty() {
            return Ok(None);
        }
        let (code_hash, bytecode) = if code.is_empty() {
            (KECCAK_EMPTY, Bytecode::default())
        } else {
            (keccak256(&code), Bytecode::new_raw(Bytes::from(code)))
        };
        Ok(Some(AccountInfo::new(
            U256::from(balance),
            nonce,
            code_hash,
            bytecode,
        )))
    }

    fn code_by_hash(&mut self, _code_hash: B256) -> Result<Bytecode, Self::Error> {
        // `basic` always hands out the code with the account.
        Ok(Bytecode::default())
    }

    fn storage(&mut self, address: RAddress, index: U256) -> Result<U256, Self::Error> {
        let v = storage(self.store, &eth(&address), &index.to_be_bytes::<32>()).map_err(DbError)?;
        Ok(U256::from_be_bytes(v))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        let v = self.store.get(&block_hash_key(number)).map_err(DbError)?;
        Ok(v.and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
            .map(B256::from)
            .unwrap_or(B256::ZERO))
    }
}

/// Records the previous round's block hash and forgets the one 256 rounds
/// older.
pub(crate) fn record_block_hash(
    store: &mut dyn Store,
    round: u64,
    previous_hash: &[u8; 32],
) -> Result<(), FatalError> {
    let Some(prev) = round.checked_sub(1) else {
        return Ok(());
    };
    store.insert(&block_hash_key(prev), previous_hash.to_vec())?;
    if let Some(old) = prev.checked_sub(256) {
        store.remove(&block_hash_key(old))?;
    }
    Ok(())
}

/// Puts a code (empty: removes it).
pub(crate) fn put_code(
    store: &mut dyn Store,
    address: &EthAddress,
    code: &[u8],
) -> Result<(), FatalError> {
    if code.is_empty() {
        store.remove(&code_key(address))
    } else {
        store.insert(&code_key(address), code.to_vec())
    }
}

/// Puts a storage value (zero: removes it).
pub(crate) fn put_storage(
    store: &mut dyn Store,
    address: &EthAddress,
    slot: &[u8; 32],
    value: &[u8; 32],
) -> Result<(), FatalError> {
    if value.iter().all(|b| *b == 0) {
        store.remove(&storage_key(address, slot))
    } else {
        store.insert(&storage_key(address, slot), value.to_vec())
    }
}

/// Removes all of an account's storage.
pub(crate) fn clear_storage(store: &mut dyn Store, address: &EthAddress) -> Result<(), FatalError> {
    let keys: Vec<Vec<u8>> = store
        .scan_prefix(&storage_prefix(address))?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for k in keys {
        store.remove(&k)?;
    }
    Ok(())
}
