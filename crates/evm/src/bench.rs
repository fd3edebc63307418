//! The baseline of the ParaTime's throughput: signed Ethereum transactions
//! executed in memory by plain revm (a `CacheDB` over an empty database,
//! no store, no SDK), sender recovery included.
//!
//! ```
//! use atoll_evm::bench::RawRevm;
//! use atoll_evm::tx::{self, LegacyTx, U256};
//! use atoll_evm::erc20;
//!
//! let secret = [7u8; 32];
//! let me = tx::address_of(&secret)?.0;
//! let token = [0xee; 20];
//! let mut vm = RawRevm::new(1);
//! vm.fund(me, U256::from(10u128.pow(20)));
//! vm.install_erc20(token, &[(me, U256::from(1_000_000u64))]);
//! let raw: Vec<Vec<u8>> = (0..10u64)
//!     .map(|nonce| {
//!         tx::sign_legacy(&LegacyTx {
//!             chain_id: Some(1),
//!             nonce,
//!             gas_price: U256::from(1u64),
//!             gas_limit: 100_000,
//!             to: Some(atoll_crypto::secp256k1::EthAddress(token)),
//!             value: U256::ZERO,
//!             input: erc20::transfer_calldata(&[0x01; 20], U256::from(5u64)),
//!         }, &secret)
//!     })
//!     .collect::<Result<_, _>>()?;
//! let report = vm.execute(&raw)?;
//! assert_eq!(report.succeeded, 10);
//! assert_eq!(vm.erc20_balance(token, [0x01; 20]), U256::from(50u64));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::{Duration, Instant};

use revm::bytecode::Bytecode;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::{Address, Bytes, TxKind, U256, keccak256};
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};

use crate::erc20;
use crate::module::SPEC;
use crate::tx::{self, TxError};

/// Why a benchmark run stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A transaction did not decode or recover.
    #[error("transaction {index}: {error}")]
    Decode {
        /// Its position.
        index: usize,
        /// Why.
        error: TxError,
    },
    /// revm refused a transaction (nonce, balance, ...).
    #[error("transaction {index} refused by revm: {error}")]
    Refused {
        /// Its position.
        index: usize,
        /// revm's error.
        error: String,
    },
}

/// What a run did and how long it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchReport {
    /// Transactions executed.
    pub txs: usize,
    /// How many succeeded (the rest reverted or halted).
    pub succeeded: usize,
    /// Gas used by all of them.
    pub gas_used: u64,
    /// Time spent decoding and recovering senders.
    pub recover_time: Duration,
    /// Time spent executing (and committing to the in-memory database).
    pub exec_time: Duration,
}

impl BenchReport {
    /// Decoding, recovery and execution together.
    pub fn total_time(&self) -> Duration {
        self.recover_time + self.exec_time
    }

    /// Transactions per second, recovery included.
    pub fn tps(&self) -> f64 {
        self.txs as f64 / self.total_time().as_secs_f64().max(1e-9)
    }

    /// Transactions per second, recovery excluded.
    pub fn tps_excluding_recovery(&self) -> f64 {
        self.txs as f64 / self.exec_time.as_secs_f64().max(1e-9)
    }
}

/// Plain revm over an in-memory database.
pub struct RawRevm {
    db: CacheDB<EmptyDB>,
    chain_id: u64,
    block: u64,
}

impl RawRevm {
    /// An empty state on chain `chain_id`.
    pub fn new(chain_id: u64) -> Self {
        Self {
            db: CacheDB::new(EmptyDB::default()),
            chain_id,
            block: 1,
        }
    }

    /// Gives `address` a balance of `wei`.
    pub fn fund(&mut self, address: [u8; 20], wei: U256) {
        let addr = Address::from(address);
        let mut info = self
            .db
            .cache
            .accounts
            .get(&addr)
            .map(|a| a.info.clone())
            .unwrap_or_default();
        info.balance = wei;
        self.db.insert_account_info(addr, info);
    }

    /// Installs the [`erc20`] contract at `token` with the given balances.
    pub fn install_erc20(&mut self, token: [u8; 20], holders: &[([u8; 20], U256)]) {
        let code = erc20::runtime_code();
        let addr = Address::from(token);
        self.db.insert_account_info(
            addr,
            AccountInfo::new(
                U256::ZERO,
                1,
                keccak256(&code),
                Bytecode::new_raw(Bytes::from(code)),
            ),
        );
        let mut supply = U256::ZERO;
        for (holder, amount) in holders {
            let slot = U256::from_be_slice(holder);
            let _ = self.db.insert_account_storage(addr, slot, *amount);
            supply = supply.saturating_add(*amount);
        }
        let _ = self.db.insert_account_storage(addr, U256::MAX, supply);
    }

    /// The [`erc20`] balance of `owner` at `token`.
    pub fn erc20_balance(&self, token: [u8; 20], owner: [u8; 20]) -> U256 {
        self.db
            .cache
            .accounts
            .get(&Address::from(token))
            .and_then(|a| a.storage.get(&U256::from_be_slice(&owner)).copied())
            .unwrap_or_default()
    }

    /// Decodes and recovers `raw_txs`, then executes and commits them in
    /// order as one block.
    pub fn execute(&mut self, raw_txs: &[Vec<u8>]) -> Result<BenchReport, BenchError> {
        let start = Instant::now();
        let decoded = raw_txs
            .iter()
            .enumerate()
            .map(|(index, raw)| {
                tx::decode(raw).map_err(|error| BenchError::Decode { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let recover_time = start.elapsed();

        let start = Instant::now();
        let block = BlockEnv {
            number: U256::from(self.block),
            gas_limit: u64::MAX,
            ..Default::default()
        };
        let mut cfg = CfgEnv::new_with_spec(SPEC);
        cfg.chain_id = self.chain_id;
        cfg.tx_gas_limit_cap = Some(u64::MAX);
        let mut evm = Context::mainnet()
            .with_db(&mut self.db)
            .with_block(block)
            .with_cfg(cfg)
            .build_mainnet();
        let (mut succeeded, mut gas_used) = (0, 0u64);
        for (index, t) in decoded.into_iter().enumerate() {
            let kind = match t.to {
                Some(to) => TxKind::Call(Address::from(to.0)),
                None => TxKind::Create,
            };
            let price = u128::try_from(t.fee_cap()).unwrap_or(u128::MAX);
            let env = TxEnv::builder()
                .caller(Address::from(t.from.0))
                .kind(kind)
                .value(t.value)
                .gas_limit(t.gas_limit)
                .gas_price(price)
                .nonce(t.nonce)
                .chain_id(t.chain_id)
                .data(Bytes::from(t.fields.input))
                .build_fill();
            let result = evm.transact_commit(env).map_err(|e| BenchError::Refused {
                index,
                error: e.to_string(),
            })?;
            if result.is_success() {
                succeeded += 1;
            }
            gas_used = gas_used.saturating_add(result.tx_gas_used());
        }
        let exec_time = start.elapsed();
        self.block += 1;
        Ok(BenchReport {
            txs: raw_txs.len(),
            succeeded,
            gas_used,
            recover_time,
            exec_time,
        })
    }
}
