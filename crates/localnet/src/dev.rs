//! The development accounts every localnet funds, from the well-known
//! [`DEV_MNEMONIC`], and the genesis of a ParaTime that funds them.
//!
//! - [`DEV_ACCOUNTS`] ed25519 accounts ([`dev_account`]), funded on the
//!   consensus layer and in every ParaTime. They are **not** BIP-39/SLIP-10
//!   wallets: account `i`'s seed is
//!   `SHA-512/256("atoll/dev-account" || mnemonic || u32_be(i))`.
//! - [`DEV_ACCOUNTS`] Ethereum (secp256k1) accounts ([`eth_dev_accounts`]),
//!   funded in every ParaTime: the accounts Hardhat and Foundry print for
//!   this mnemonic.
//!
//! Anyone can recompute these keys; they are for local testing only.

use std::collections::BTreeMap;

use anyhow::Context as _;
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_runtime_sdk::RuntimeGenesis;
use atoll_runtime_sdk::modules::accounts;
use atoll_runtime_sdk::types::Denomination;
use atoll_types::Quantity;

/// The well-known BIP-39 test mnemonic the development accounts come from.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How many development accounts are derived and funded.
pub const DEV_ACCOUNTS: u32 = 5;

/// What each development account holds at genesis (base units).
pub const DEV_FUNDS: u128 = 1_000_000_000_000_000_000;

/// What each development account (ed25519 and Ethereum) holds in each
/// ParaTime at genesis (base units).
pub const DEV_RUNTIME_FUNDS: u128 = 1_000_000_000_000_000_000;

/// What each development account (ed25519 and Ethereum) holds in the EVM
/// ParaTime at genesis: 10,000 tokens of 18 decimals, as Ethereum tooling
/// expects of a development chain.
pub const DEV_EVM_FUNDS: u128 = 10_000 * 1_000_000_000_000_000_000;

/// The EVM ParaTime's Ethereum chain id on a localnet (0xa70c).
pub const EVM_CHAIN_ID: u64 = 0xa70c;

/// The ParaTimes `atoll localnet` can run.
pub const BUILT_IN_PARATIMES: &[&str] = &["plain", "evm", "measure"];

/// The ParaTimes `atoll localnet` runs when `--paratimes` is not given.
pub const DEFAULT_PARATIMES: &[&str] = &["plain", "evm"];

/// The domain separator of atoll's development-account derivation.
pub(crate) const DERIVATION_CONTEXT: &[u8] = b"atoll/dev-account";

/// How the development accounts are derived, as printed and recorded.
pub(crate) const DERIVATION: &str = "atoll dev derivation (not BIP-39/SLIP-10): \
     ed25519 seed = SHA-512/256(\"atoll/dev-account\" || mnemonic || u32_be(index))";

/// How the Ethereum development accounts are derived.
pub(crate) const ETH_DERIVATION: &str =
    "BIP-39 seed (empty passphrase), BIP-32 path m/44'/60'/0'/0/index (as Hardhat and Foundry)";

/// A development account.
#[derive(Debug, Clone)]
pub struct DevAccount {
    /// Its index in the derivation.
    pub index: u32,
    /// Its key.
    pub key: SigningKey,
    /// Its address.
    pub address: Address,
}

/// The development account `index` of `mnemonic` (atoll's own derivation,
/// see the module documentation).
pub fn dev_account(mnemonic: &str, index: u32) -> DevAccount {
    let seed = Hash::digest_parts(&[
        DERIVATION_CONTEXT,
        mnemonic.as_bytes(),
        &index.to_be_bytes(),
    ]);
    let key = SigningKey::from_seed(seed.as_bytes());
    let address = Address::from_ed25519(&key.public_key());
    DevAccount {
        index,
        key,
        address,
    }
}

/// All development accounts of [`DEV_MNEMONIC`].
pub fn dev_accounts() -> Vec<DevAccount> {
    (0..DEV_ACCOUNTS)
        .map(|i| dev_account(DEV_MNEMONIC, i))
        .collect()
}

/// An Ethereum development account.
#[derive(Debug, Clone)]
pub struct EthDevAccount {
    /// Its index in the derivation.
    pub index: u32,
    /// Its key.
    pub key: atoll_crypto::secp256k1::SigningKey,
    /// Its address as ParaTimes know it.
    pub address: Address,
}

/// How an Ethereum development key is derived from a mnemonic and an index
/// (BIP-39 seed, BIP-32 path `m/44'/60'/0'/0/index`): the wallet's
/// derivation, passed in by the command-line tool that owns it.
pub type EthKeyDerivation = fn(&str, u32) -> anyhow::Result<atoll_crypto::secp256k1::SigningKey>;

/// The Ethereum development accounts of [`DEV_MNEMONIC`] (BIP-44), each
/// key derived by `derive`.
pub fn eth_dev_accounts(derive: EthKeyDerivation) -> anyhow::Result<Vec<EthDevAccount>> {
    (0..DEV_ACCOUNTS)
        .map(|index| {
            let key = derive(DEV_MNEMONIC, index)?;
            let address = Address::from_secp256k1(&key.public_key());
            Ok(EthDevAccount {
                index,
                key,
                address,
            })
        })
        .collect()
}

/// The genesis of a ParaTime with every development account funded with
/// `each`, and its total supply: `evm` adds the EVM module (chain id
/// [`EVM_CHAIN_ID`], Ethereum gas rules) to the plain ParaTime's modules.
pub fn paratime_genesis(
    eth: &[EthDevAccount],
    each: u128,
    evm: bool,
) -> anyhow::Result<(Vec<u8>, u128)> {
    let funds = BTreeMap::from([(Denomination::NATIVE, Quantity(each))]);
    let balances: BTreeMap<Address, BTreeMap<Denomination, Quantity>> = dev_accounts()
        .iter()
        .map(|a| a.address)
        .chain(eth.iter().map(|a| a.address))
        .map(|a| (a, funds.clone()))
        .collect();
    let total = each
        .checked_mul(u128::try_from(balances.len()).unwrap_or(u128::MAX))
        .context("ParaTime genesis supply overflows")?;
    let base = if evm {
        // Core parameters for Ethereum gas and the EVM module; the balances
        // are set below.
        atoll_runtime_evm::localnet_genesis(EVM_CHAIN_ID, &[])
            .map_err(|e| anyhow::anyhow!("cannot build the EVM ParaTime genesis: {e}"))?
    } else {
        RuntimeGenesis::default()
    };
    let genesis = base
        .with(
            "accounts",
            &accounts::Genesis {
                balances,
                total_supplies: BTreeMap::from([(Denomination::NATIVE, Quantity(total))]),
                ..Default::default()
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot build the ParaTime genesis: {e}"))?;
    let bytes = atoll_types::cbor::to_vec(&genesis)
        .map_err(|e| anyhow::anyhow!("cannot encode the ParaTime genesis: {e}"))?;
    Ok((bytes, total))
}
