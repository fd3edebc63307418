//! Where staking keeps its state, and typed access to it.
//!
//! | key | value |
//! |---|---|
//! | `0x50 ‖ address` | [`Account`] |
//! | `0x51` | total supply ([`Quantity`]) |
//! | `0x52` | common pool balance ([`Quantity`]) |
//! | `0x53 ‖ escrow ‖ delegator` | [`Delegation`] |
//! | `0x54 ‖ escrow ‖ delegator ‖ end epoch (u64 BE)` | [`DebondingDelegation`] |
//! | `0x55 ‖ end epoch (u64 BE) ‖ escrow ‖ delegator` | debonding queue entry (CBOR null) |
//! | `0x56` | [`Parameters`] |
//! | `0x57` | fees collected in the current block ([`Quantity`]) |
//! | `0x58` | who signed the current epoch's blocks ([`EpochSigning`]) |

use std::cell::RefCell;
use std::collections::HashMap;

use atoll_crypto::Address;
use atoll_crypto::address::ADDRESS_SIZE;
use atoll_types::{Epoch, Quantity};

use atoll_consensus_types::staking::pool::checked_add;
use atoll_consensus_types::staking::{
    Account, DebondingDelegation, Delegation, EpochSigning, Parameters,
};
use atoll_state::{Failure, FatalError, StoreExt, key};

const ACCOUNTS: u8 = 0x50;
const TOTAL_SUPPLY: u8 = 0x51;
const COMMON_POOL: u8 = 0x52;
const DELEGATIONS: u8 = 0x53;
const DEBONDING: u8 = 0x54;
const DEBONDING_QUEUE: u8 = 0x55;
const PARAMETERS: u8 = 0x56;
const BLOCK_FEES: u8 = 0x57;
const EPOCH_SIGNING: u8 = 0x58;

crate::services::service_state!(
    /// Typed access to staking's state in one store.
    StakingState,
    PARAMETERS,
    Parameters,
    "staking"
);

thread_local! {
    /// Accounts by their exact encoding. Accounts are read and written
    /// several times per transaction (check, proposal check, fee, transfer),
    /// and decoding is a pure function of the bytes, so a hit gives what
    /// decoding would. Each account written is remembered under the bytes
    /// written, so reading back what the previous transaction wrote does not
    /// decode. Bounded (emptied when full) and never iterated: it changes
    /// how fast, never what, state is read.
    static ACCOUNT_ENCODINGS: RefCell<HashMap<Vec<u8>, Account>> = RefCell::new(HashMap::new());
}

/// Most accounts [`ACCOUNT_ENCODINGS`] holds per thread.
const ACCOUNT_ENCODINGS_CAP: usize = 16_384;

fn remember_account(bytes: Vec<u8>, acct: &Account) {
    ACCOUNT_ENCODINGS.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if c.len() >= ACCOUNT_ENCODINGS_CAP {
                c.clear();
            }
            c.insert(bytes, acct.clone());
        }
    });
}

fn recall_account(bytes: &[u8]) -> Option<Account> {
    ACCOUNT_ENCODINGS.with(|c| c.try_borrow().ok().and_then(|c| c.get(bytes).cloned()))
}

impl StakingState<'_> {
    /// The account at `addr` (an empty account when it was never used).
    pub fn account(&self, addr: &Address) -> Result<Account, FatalError> {
        let k = key(ACCOUNTS, &[addr.as_bytes()]);
        let Some(bytes) = self.store.get(&k)? else {
            return Ok(Account::default());
        };
        if let Some(acct) = recall_account(&bytes) {
            return Ok(acct);
        }
        let acct: Account = atoll_state::store::decode(&k, &bytes)?;
        remember_account(bytes, &acct);
        Ok(acct)
    }

    /// Stores an account; an account that is entirely empty is deleted, so
    /// that state holds no dead entries.
    pub fn set_account(&mut self, addr: &Address, acct: &Account) -> Result<(), Failure> {
        let k = key(ACCOUNTS, &[addr.as_bytes()]);
        if *acct == Account::default() {
            self.store.remove(&k)?;
        } else {
            let bytes = atoll_types::cbor::to_vec(acct)
                .map_err(|e| FatalError::Invariant(format!("state value does not encode: {e}")))?;
            remember_account(bytes.clone(), acct);
            self.store.insert(&k, bytes)?;
        }
        Ok(())
    }

    /// Every account with any state, in address order.
    pub fn accounts(&self) -> Result<Vec<(Address, Account)>, FatalError> {
        self.store
            .scan_typed::<Account>(&[ACCOUNTS])?
            .into_iter()
            .map(|(k, a)| Ok((address_at(&k, 1)?, a)))
            .collect()
    }

    /// Total token supply.
    pub fn total_supply(&self) -> Result<Quantity, FatalError> {
        Ok(self.store.get_typed(&[TOTAL_SUPPLY])?.unwrap_or_default())
    }

    /// Sets the total supply.
    pub fn set_total_supply(&mut self, q: Quantity) -> Result<(), Failure> {
        Ok(self.store.put_typed(&[TOTAL_SUPPLY], &q)?)
    }

    /// The common pool's balance.
    pub fn common_pool(&self) -> Result<Quantity, FatalError> {
        Ok(self.store.get_typed(&[COMMON_POOL])?.unwrap_or_default())
    }

    /// Sets the common pool's balance.
    pub fn set_common_pool(&mut self, q: Quantity) -> Result<(), Failure> {
        Ok(self.store.put_typed(&[COMMON_POOL], &q)?)
    }

    /// Fees collected so far in the current block.
    pub fn block_fees(&self) -> Result<Quantity, FatalError> {
        Ok(self.store.get_typed(&[BLOCK_FEES])?.unwrap_or_default())
    }

    /// Sets the fees collected in the current block.
    pub fn set_block_fees(&mut self, q: Quantity) -> Result<(), Failure> {
        Ok(self.store.put_typed(&[BLOCK_FEES], &q)?)
    }

    /// The current epoch's signing tally.
    pub fn epoch_signing(&self) -> Result<EpochSigning, FatalError> {
        Ok(self.store.get_typed(&[EPOCH_SIGNING])?.unwrap_or_default())
    }

    /// Sets the signing tally.
    pub fn set_epoch_signing(&mut self, s: &EpochSigning) -> Result<(), Failure> {
        Ok(self.store.put_typed(&[EPOCH_SIGNING], s)?)
    }

    /// `delegator`'s delegation to `escrow` (zero shares when none).
    pub fn delegation(
        &self,
        escrow: &Address,
        delegator: &Address,
    ) -> Result<Delegation, FatalError> {
        Ok(self
            .store
            .get_typed(&key(
                DELEGATIONS,
                &[escrow.as_bytes(), delegator.as_bytes()],
            ))?
            .unwrap_or_default())
    }

    /// Stores a delegation; zero shares deletes it.
    pub fn set_delegation(
        &mut self,
        escrow: &Address,
        delegator: &Address,
        d: &Delegation,
    ) -> Result<(), Failure> {
        let k = key(DELEGATIONS, &[escrow.as_bytes(), delegator.as_bytes()]);
        if d.shares.0 == 0 {
            self.store.remove(&k)?;
        } else {
            self.store.put_typed(&k, d)?;
        }
        Ok(())
    }

    /// Every delegation to `escrow`, by delegator.
    pub fn delegations_to(
        &self,
        escrow: &Address,
    ) -> Result<Vec<(Address, Delegation)>, FatalError> {
        let prefix = key(DELEGATIONS, &[escrow.as_bytes()]);
        self.store
            .scan_typed::<Delegation>(&prefix)?
            .into_iter()
            .map(|(k, d)| Ok((address_at(&k, 1 + ADDRESS_SIZE)?, d)))
            .collect()
    }

    /// Every delegation in the state: `(escrow, delegator, delegation)`.
    pub fn all_delegations(&self) -> Result<Vec<(Address, Address, Delegation)>, FatalError> {
        self.store
            .scan_typed::<Delegation>(&[DELEGATIONS])?
            .into_iter()
            .map(|(k, d)| Ok((address_at(&k, 1)?, address_at(&k, 1 + ADDRESS_SIZE)?, d)))
            .collect()
    }

    /// Every debonding delegation in the state: `(escrow, delegator, debonding)`.
    pub fn all_debondings(
        &self,
    ) -> Result<Vec<(Address, Address, DebondingDelegation)>, FatalError> {
        self.store
            .scan_typed::<DebondingDelegation>(&[DEBONDING])?
            .into_iter()
            .map(|(k, d)| Ok((address_at(&k, 1)?, address_at(&k, 1 + ADDRESS_SIZE)?, d)))
            .collect()
    }

    /// The debonding delegation maturing at `end`, if any.
    pub fn debonding(
        &self,
        escrow: &Address,
        delegator: &Address,
        end: Epoch,
    ) -> Result<Option<DebondingDelegation>, FatalError> {
        self.store.get_typed(&key(
            DEBONDING,
            &[
                escrow.as_bytes(),
                delegator.as_bytes(),
                &end.0.to_be_bytes(),
            ],
        ))
    }

    /// Every debonding delegation of `delegator` to `escrow`.
    pub fn debondings(
        &self,
        escrow: &Address,
        delegator: &Address,
    ) -> Result<Vec<DebondingDelegation>, FatalError> {
        let prefix = key(DEBONDING, &[escrow.as_bytes(), delegator.as_bytes()]);
        self.store.scan_values::<DebondingDelegation>(&prefix)
    }

    /// Adds `shares` to the debonding delegation maturing at `end` (merging
    /// with one already maturing then) and queues it.
    pub fn add_debonding(
        &mut self,
        escrow: &Address,
        delegator: &Address,
        end: Epoch,
        shares: Quantity,
    ) -> Result<(), Failure> {
        let k = key(
            DEBONDING,
            &[
                escrow.as_bytes(),
                delegator.as_bytes(),
                &end.0.to_be_bytes(),
            ],
        );
        let existing: Option<DebondingDelegation> = self.store.get_typed(&k)?;
        let total = match existing {
            Some(d) => checked_add(d.shares, shares)?,
            None => shares,
        };
        self.store.put_typed(
            &k,
            &DebondingDelegation {
                shares: total,
                debond_end: end,
            },
        )?;
        let q = key(
            DEBONDING_QUEUE,
            &[
                &end.0.to_be_bytes(),
                escrow.as_bytes(),
                delegator.as_bytes(),
            ],
        );
        Ok(self.store.put_typed(&q, &())?)
    }

    /// Removes a debonding delegation and its queue entry.
    pub fn remove_debonding(
        &mut self,
        escrow: &Address,
        delegator: &Address,
        end: Epoch,
    ) -> Result<(), Failure> {
        self.store.remove(&key(
            DEBONDING,
            &[
                escrow.as_bytes(),
                delegator.as_bytes(),
                &end.0.to_be_bytes(),
            ],
        ))?;
        self.store.remove(&key(
            DEBONDING_QUEUE,
            &[
                &end.0.to_be_bytes(),
                escrow.as_bytes(),
                delegator.as_bytes(),
            ],
        ))?;
        Ok(())
    }

    /// Queue entries maturing at or before `epoch`, oldest first:
    /// `(end, escrow, delegator)`.
    pub fn matured_debonding(
        &self,
        epoch: Epoch,
    ) -> Result<Vec<(Epoch, Address, Address)>, FatalError> {
        let end = match epoch.0.checked_add(1) {
            Some(next) => Some(key(DEBONDING_QUEUE, &[&next.to_be_bytes()])),
            None => Some(vec![DEBONDING_QUEUE + 1]),
        };
        self.store
            .range(&[DEBONDING_QUEUE], end.as_deref())?
            .into_iter()
            .map(|(k, _)| {
                let epoch_bytes: [u8; 8] = k
                    .get(1..9)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| corrupt(&k))?;
                Ok((
                    Epoch(u64::from_be_bytes(epoch_bytes)),
                    address_at(&k, 9)?,
                    address_at(&k, 9 + ADDRESS_SIZE)?,
                ))
            })
            .collect()
    }
}

fn address_at(k: &[u8], offset: usize) -> Result<Address, FatalError> {
    k.get(offset..offset + ADDRESS_SIZE)
        .and_then(|b| Address::from_slice(b).ok())
        .ok_or_else(|| corrupt(k))
}

fn corrupt(k: &[u8]) -> FatalError {
    FatalError::CorruptState {
        key: k.iter().map(|b| format!("{b:02x}")).collect(),
        reason: "malformed staking key".into(),
    }
}
