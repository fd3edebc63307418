//! The node's durable chain: the consensus state in MKVS (one version per
//! height) and, beside it, the decided blocks, their commit certificates,
//! their results and a transaction index in a redb database.
//!
//! Layout of a data directory:
//! - `state/`: MKVS. Version `initial_height - 1` is the genesis state;
//!   version `h` is the state after block `h`.
//! - `chain.redb`: tables `blocks` (height → canonical block bytes),
//!   `commits` (height → certificate), `results` (height → `BlockResult`),
//!   `txs` (transaction hash → height and index) and `candidates` (blocks
//!   proposed for heights not yet decided, so that a validator restarted in
//!   the middle of a height still has the block its WAL refers to).
//!
//! A decided block is written in this order: block and certificate; then the
//! block is applied to a working copy of the state and its results and
//! transaction index are written; then the MKVS version is committed. A crash
//! anywhere leaves a decided block at most one height above the state, which
//! [`Chain::recover`] applies again (application is deterministic). So a
//! finalized block is never lost and never applied twice.

use std::path::Path;
use std::sync::Arc;

use atoll_consensus::app::{App, BlockResult};
use atoll_consensus::genesis::Genesis;
use atoll_consensus::services::scheduler::state::SchedulerState;
use atoll_crypto::Hash;
use atoll_mkvs::Mkvs;
use atoll_mkvs::state_store::{CONSENSUS_NAMESPACE, MkvsStore, MkvsView};
use atoll_types::cbor;
use redb::{ReadableDatabase as _, ReadableTable as _, TableDefinition};

use crate::block::{BftBlock, block_hash};
use crate::codec::WireCommit;
use crate::context::{BlockHash, ValidatorSet};
use crate::error::BftError;

const BLOCKS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("blocks");
const COMMITS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("commits");
const RESULTS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("results");
const TXS: TableDefinition<'static, &[u8], (u64, u32)> = TableDefinition::new("txs");
const CANDIDATES: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("candidates");
const META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("meta");

fn db_err(e: impl std::fmt::Display) -> BftError {
    BftError::Storage(e.to_string())
}

/// A decided block as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// Its canonical bytes (what consensus decided).
    pub bytes: Vec<u8>,
    /// Decoded.
    pub block: BftBlock,
    /// Its hash (the consensus value).
    pub hash: BlockHash,
    /// The certificate that decided it (the largest one seen).
    pub commit: WireCommit,
}

/// The node's chain; clones share the same databases.
#[derive(Clone)]
pub struct Chain {
    state: Mkvs,
    db: Arc<redb::Database>,
    initial_height: u64,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("initial_height", &self.initial_height)
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// Opens (or creates) the chain in `dir`, writing the genesis state on
    /// first use and finishing any block a crash left half-applied.
    pub fn open(dir: &Path, app: &App, genesis: &Genesis) -> Result<Self, BftError> {
        std::fs::create_dir_all(dir).map_err(db_err)?;
        let state = Mkvs::open(dir.join("state"), atoll_mkvs::Options::default())
            .map_err(|e| BftError::Storage(format!("state: {e}")))?;
        let db = redb::Database::create(dir.join("chain.redb")).map_err(db_err)?;
        Self::with(state, db, app, genesis)
    }

    /// A chain kept in memory only (tests, tools).
    pub fn in_memory(app: &App, genesis: &Genesis) -> Result<Self, BftError> {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db_err)?;
        Self::with(Mkvs::in_memory(), db, app, genesis)
    }

    fn with(
        state: Mkvs,
        db: redb::Database,
        app: &App,
        genesis: &Genesis,
    ) -> Result<Self, BftError> {
        if genesis.initial_height == 0 {
            return Err(BftError::OutOfStep(
                "initial height must be at least 1".into(),
            ));
        }
        let tx = db.begin_write().map_err(db_err)?;
        tx.open_table(BLOCKS).map_err(db_err)?;
        tx.open_table(COMMITS).map_err(db_err)?;
        tx.open_table(RESULTS).map_err(db_err)?;
        tx.open_table(TXS).map_err(db_err)?;
        tx.open_table(CANDIDATES).map_err(db_err)?;
        tx.open_table(META).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        let chain = Self {
            state,
            db: Arc::new(db),
            initial_height: genesis.initial_height,
        };
        match chain.state_versions()? {
            None => {
                let mut store = MkvsStore::open(&chain.state)?;
                app.init_chain(&mut store, genesis)?;
                store.commit(chain.genesis_version())?;
            }
            Some((_, latest)) if latest < chain.genesis_version() => {
                return Err(BftError::Storage(format!(
                    "state version {latest} is below this genesis (initial height {})",
                    chain.initial_height
                )));
            }
            Some(_) => {}
        }
        let genesis_hash = genesis.hash()?;
        let tx = chain.db.begin_write().map_err(db_err)?;
        {
            let mut meta = tx.open_table(META).map_err(db_err)?;
            let stored = meta
                .get("genesis")
                .map_err(db_err)?
                .map(|v| v.value().to_vec());
            match stored {
                Some(h) if h != genesis_hash.as_ref() => {
                    return Err(BftError::Storage(
                        "the data directory holds another chain (its genesis differs)".into(),
                    ));
                }
                Some(_) => {}
                None => {
                    meta.insert("genesis", genesis_hash.as_ref())
                        .map_err(db_err)?;
                }
            }
        }
        tx.commit().map_err(db_err)?;
        chain.recover(app)?;
        Ok(chain)
    }

    fn state_versions(&self) -> Result<Option<(u64, u64)>, BftError> {
        self.state
            .versions(CONSENSUS_NAMESPACE)
            .map_err(|e| BftError::Storage(e.to_string()))
    }

    /// The MKVS version holding the genesis state.
    pub fn genesis_version(&self) -> u64 {
        self.initial_height - 1
    }

    /// The chain's first height.
    pub fn initial_height(&self) -> u64 {
        self.initial_height
    }

    /// The MKVS database (consensus namespace and, later, runtimes').
    pub fn state(&self) -> &Mkvs {
        &self.state
    }

    /// The last applied height (`None` before the first block).
    pub fn last_height(&self) -> Result<Option<u64>, BftError> {
        Ok(self
            .state_versions()?
            .map(|(_, latest)| latest)
            .filter(|h| *h >= self.initial_height))
    }

    /// The state after `height` (the genesis state at
    /// [`Chain::genesis_version`]).
    pub fn view(&self, height: u64) -> Result<MkvsView, BftError> {
        Ok(MkvsView::at(&self.state, height)?)
    }

    /// The latest committed state.
    pub fn latest_view(&self) -> Result<MkvsView, BftError> {
        let h = self.last_height()?.unwrap_or(self.genesis_version());
        self.view(h)
    }

    /// The state root after `height`.
    pub fn state_root(&self, height: u64) -> Result<Hash, BftError> {
        Ok(self.view(height)?.root_hash())
    }

    /// The validators of `height`, as elected in the state before it.
    pub fn validator_set(&self, height: u64) -> Result<ValidatorSet, BftError> {
        if height < self.initial_height {
            return Err(BftError::OutOfStep(format!("no height {height}")));
        }
        let mut view = self.view(height - 1)?;
        let validators = SchedulerState::new(&mut view).validators()?;
        ValidatorSet::from_scheduler(&validators)
    }

    /// The decided block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, BftError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let blocks = tx.open_table(BLOCKS).map_err(db_err)?;
        let Some(bytes) = blocks.get(height).map_err(db_err)? else {
            return Ok(None);
        };
        let bytes = bytes.value().to_vec();
        let commits = tx.open_table(COMMITS).map_err(db_err)?;
        let commit = commits
            .get(height)
            .map_err(db_err)?
            .ok_or_else(|| BftError::Storage(format!("block {height} has no certificate")))?;
        let commit: WireCommit =
            cbor::from_slice(commit.value()).map_err(|e| BftError::Storage(e.to_string()))?;
        let block = BftBlock::from_bytes(&bytes).map_err(|e| BftError::Storage(e.to_string()))?;
        Ok(Some(StoredBlock {
            hash: block_hash(&bytes),
            bytes,
            block,
            commit,
        }))
    }

    /// The lowest and highest heights with a decided block.
    pub fn block_range(&self) -> Result<Option<(u64, u64)>, BftError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let blocks = tx.open_table(BLOCKS).map_err(db_err)?;
        let first = blocks.first().map_err(db_err)?.map(|(k, _)| k.value());
        let last = blocks.last().map_err(db_err)?.map(|(k, _)| k.value());
        Ok(first.zip(last))
    }

    /// The results of the block at `height`.
    pub fn results(&self, height: u64) -> Result<Option<BlockResult>, BftError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let table = tx.open_table(RESULTS).map_err(db_err)?;
        match table.get(height).map_err(db_err)? {
            Some(v) => Ok(Some(
                cbor::from_slice(v.value()).map_err(|e| BftError::Storage(e.to_string()))?,
            )),
            None => Ok(None),
        }
    }

    /// Where a committed transaction is: its height and index.
    pub fn tx_location(&self, hash: &Hash) -> Result<Option<(u64, u32)>, BftError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let table = tx.open_table(TXS).map_err(db_err)?;
        Ok(table.get(hash.as_ref()).map_err(db_err)?.map(|v| v.value()))
    }

    /// Records the decided block of `height` and its certificate (before it
    /// is applied).
    pub(crate) fn save_decided(
        &self,
        height: u64,
        bytes: &[u8],
        commit: &WireCommit,
    ) -> Result<(), BftError> {
        let commit = cbor::to_vec(commit)?;
        let tx = self.db.begin_write().map_err(db_err)?;
        {
            let mut blocks = tx.open_table(BLOCKS).map_err(db_err)?;
            blocks.insert(height, bytes).map_err(db_err)?;
            let mut commits = tx.open_table(COMMITS).map_err(db_err)?;
            commits.insert(height, commit.as_slice()).map_err(db_err)?;
            let mut candidates = tx.open_table(CANDIDATES).map_err(db_err)?;
            let end = height.saturating_add(1).to_be_bytes();
            candidates
                .retain_in(..end.as_slice(), |_, _| false)
                .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    /// Replaces the certificate of `height` (a larger one arrived).
    pub(crate) fn update_commit(&self, height: u64, commit: &WireCommit) -> Result<(), BftError> {
        let commit = cbor::to_vec(commit)?;
        let tx = self.db.begin_write().map_err(db_err)?;
        {
            let mut commits = tx.open_table(COMMITS).map_err(db_err)?;
            commits.insert(height, commit.as_slice()).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    /// Keeps a block proposed for an undecided height.
    pub(crate) fn save_candidate(&self, height: u64, bytes: &[u8]) -> Result<(), BftError> {
        let key = candidate_key(height, &block_hash(bytes));
        let tx = self.db.begin_write().map_err(db_err)?;
        {
            let mut candidates = tx.open_table(CANDIDATES).map_err(db_err)?;
            candidates.insert(key.as_slice(), bytes).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    /// Blocks kept for undecided heights, with their heights.
    pub(crate) fn candidates(&self) -> Result<Vec<(u64, Vec<u8>)>, BftError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let table = tx.open_table(CANDIDATES).map_err(db_err)?;
        let mut out = Vec::new();
        for item in table.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let mut h = [0u8; 8];
            if let Some(prefix) = k.value().get(..8) {
                h.copy_from_slice(prefix);
            }
            out.push((u64::from_be_bytes(h), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Applies the decided block of `height` on the state of `height - 1`,
    /// writes its results and commits its state version. Returns the results
    /// and the new state root.
    pub(crate) fn apply(
        &self,
        app: &App,
        height: u64,
    ) -> Result<(StoredBlock, BlockResult, Hash), BftError> {
        let stored = self
            .block(height)?
            .ok_or_else(|| BftError::OutOfStep(format!("no decided block at {height}")))?;
        self.apply_stored(app, height, stored)
    }

    /// [`Chain::apply`] with the decided block of `height` already read and
    /// decoded (the block just decided, saved by [`Chain::save_decided`]).
    pub(crate) fn apply_stored(
        &self,
        app: &App,
        height: u64,
        stored: StoredBlock,
    ) -> Result<(StoredBlock, BlockResult, Hash), BftError> {
        let base = self
            .state_versions()?
            .map(|(_, latest)| latest)
            .unwrap_or(self.genesis_version());
        if base.checked_add(1) != Some(height) {
            return Err(BftError::OutOfStep(format!(
                "applying block {height} on state version {base}"
            )));
        }
        let mut store = MkvsStore::open(&self.state)?;
        let result = app.apply_block(&mut store, &stored.block.block)?;
        let encoded = cbor::to_vec(&result)?;
        let tx = self.db.begin_write().map_err(db_err)?;
        {
            let mut results = tx.open_table(RESULTS).map_err(db_err)?;
            results.insert(height, encoded.as_slice()).map_err(db_err)?;
            let mut txs = tx.open_table(TXS).map_err(db_err)?;
            // One result per transaction, in block order, each with the
            // transaction's hash.
            for (index, r) in result.tx_results.iter().enumerate() {
                let index = u32::try_from(index).map_err(db_err)?;
                txs.insert(r.hash.as_ref(), (height, index))
                    .map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)?;
        let root = store.commit(height)?;
        Ok((stored, result, root))
    }

    /// Applies decided blocks a crash left above the committed state.
    pub fn recover(&self, app: &App) -> Result<u64, BftError> {
        let mut applied = 0;
        loop {
            let next = self
                .last_height()?
                .unwrap_or(self.genesis_version())
                .saturating_add(1);
            if self.block(next)?.is_none() {
                return Ok(applied);
            }
            tracing::info!(height = next, "re-applying a decided block after a restart");
            self.apply(app, next)?;
            applied += 1;
        }
    }
}

fn candidate_key(height: u64, hash: &BlockHash) -> Vec<u8> {
    let mut key = height.to_be_bytes().to_vec();
    key.extend_from_slice(hash.0.as_ref());
    key
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use atoll_consensus::app::Block;
    use atoll_crypto::Address;
    use atoll_crypto::ed25519::SigningKey;
    use atoll_types::Quantity;
    use atoll_types::signed::Signed;
    use atoll_types::transaction::{Fee, Transaction};

    use crate::context::Height;

    fn user() -> SigningKey {
        SigningKey::from_seed(&[7; 32])
    }

    fn genesis(chain_id: &str) -> Genesis {
        let mut g = Genesis {
            chain_id: chain_id.into(),
            initial_height: 1,
            debug: true,
            ..Genesis::default()
        };
        g.fund(Address::from_ed25519(&user().public_key()), Quantity(1_000));
        g
    }

    fn decided(app: &App, height: u64, prev: Hash, nonce: u64) -> (Vec<u8>, WireCommit) {
        let tx = Transaction {
            nonce,
            fee: Some(Fee {
                amount: Quantity(0),
                gas: 10_000,
            }),
            method: atoll_consensus_types::staking::methods::TRANSFER.into(),
            body: Some(
                cbor::to_value(&atoll_consensus_types::staking::Transfer {
                    to: Address::from_ed25519(&SigningKey::from_seed(&[8; 32]).public_key()),
                    amount: Quantity(10),
                })
                .unwrap(),
            ),
        };
        let raw = cbor::to_vec(&Signed::sign(&user(), app.tx_context(), &tx).unwrap()).unwrap();
        let block = BftBlock {
            block: Block {
                height,
                time: 100 + height,
                prev_hash: prev,
                txs: vec![raw.into()],
                ..Block::default()
            },
            ..BftBlock::default()
        };
        let bytes = block.to_bytes().unwrap();
        let commit = WireCommit {
            height: Height(height),
            round: 0,
            value: block_hash(&bytes),
            signatures: vec![],
        };
        (bytes, commit)
    }

    #[test]
    fn a_decided_block_left_unapplied_by_a_crash_is_applied_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let g = genesis("chain-a");
        let app = App::new(&g).unwrap();
        let chain = Chain::open(dir.path(), &app, &g).unwrap();
        assert_eq!(chain.last_height().unwrap(), None);
        let genesis_root = chain.state_root(0).unwrap();
        let (b1, c1) = decided(&app, 1, Hash::default(), 0);
        chain.save_decided(1, &b1, &c1).unwrap();
        let (_, _, root1) = chain.apply(&app, 1).unwrap();
        assert_ne!(root1, genesis_root);
        // Block 2 is decided and written, then the process dies before
        // applying it.
        let (b2, c2) = decided(&app, 2, block_hash(&b1).0, 1);
        chain.save_decided(2, &b2, &c2).unwrap();
        drop(chain);

        let chain = Chain::open(dir.path(), &app, &g).unwrap();
        assert_eq!(chain.last_height().unwrap(), Some(2));
        assert_eq!(chain.state_root(1).unwrap(), root1);
        let results = chain.results(2).unwrap().expect("results");
        assert!(results.tx_results[0].error.is_none(), "{results:?}");
        let tx_hash = Hash::digest(&chain.block(2).unwrap().unwrap().block.block.txs[0]);
        assert_eq!(chain.tx_location(&tx_hash).unwrap(), Some((2, 0)));
        assert_eq!(chain.block_range().unwrap(), Some((1, 2)));
        // Reopening again applies nothing twice.
        let root2 = chain.state_root(2).unwrap();
        drop(chain);
        let chain = Chain::open(dir.path(), &app, &g).unwrap();
        assert_eq!(chain.state_root(2).unwrap(), root2);
        assert_eq!(chain.recover(&app).unwrap(), 0);
    }

    #[test]
    fn another_chains_genesis_and_out_of_order_blocks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let g = genesis("chain-a");
        let app = App::new(&g).unwrap();
        let chain = Chain::open(dir.path(), &app, &g).unwrap();
        let (b2, c2) = decided(&app, 2, Hash::default(), 0);
        chain.save_decided(2, &b2, &c2).unwrap();
        assert!(matches!(chain.apply(&app, 2), Err(BftError::OutOfStep(_))));
        assert_eq!(chain.last_height().unwrap(), None);
        drop(chain);
        let other = genesis("chain-b");
        let other_app = App::new(&other).unwrap();
        let err = Chain::open(dir.path(), &other_app, &other).unwrap_err();
        assert!(err.to_string().contains("another chain"), "{err}");
    }

    #[test]
    fn candidates_survive_a_restart_until_their_height_is_decided() {
        let dir = tempfile::tempdir().unwrap();
        let g = genesis("chain-a");
        let app = App::new(&g).unwrap();
        let chain = Chain::open(dir.path(), &app, &g).unwrap();
        let (b1, c1) = decided(&app, 1, Hash::default(), 0);
        let (b2, _) = decided(&app, 2, block_hash(&b1).0, 1);
        chain.save_candidate(1, &b1).unwrap();
        chain.save_candidate(2, &b2).unwrap();
        drop(chain);
        let chain = Chain::open(dir.path(), &app, &g).unwrap();
        assert_eq!(chain.candidates().unwrap().len(), 2);
        chain.save_decided(1, &b1, &c1).unwrap();
        assert_eq!(chain.candidates().unwrap(), vec![(2, b2)]);
    }

    /// Applies block `height` holding `txs` (signed by `key` from `nonce`
    /// on) as decided.
    fn apply_txs(
        chain: &Chain,
        app: &App,
        height: u64,
        key: &SigningKey,
        nonce: u64,
        calls: Vec<(&str, atoll_types::cbor::Value)>,
    ) {
        let prev = chain
            .block(height - 1)
            .unwrap()
            .map(|b| b.hash.0)
            .unwrap_or_default();
        let txs = calls
            .into_iter()
            .enumerate()
            .map(|(i, (method, body))| {
                let tx = Transaction {
                    nonce: nonce + i as u64,
                    fee: Some(Fee {
                        amount: Quantity(0),
                        gas: 200_000,
                    }),
                    method: method.into(),
                    body: Some(body),
                };
                cbor::to_vec(&Signed::sign(key, app.tx_context(), &tx).unwrap())
                    .unwrap()
                    .into()
            })
            .collect();
        let block = BftBlock {
            block: Block {
                height,
                time: 100 + height,
                prev_hash: prev,
                txs,
                ..Block::default()
            },
            ..BftBlock::default()
        };
        let bytes = block.to_bytes().unwrap();
        let commit = WireCommit {
            height: Height(height),
            round: 0,
            value: block_hash(&bytes),
            signatures: vec![],
        };
        chain.save_decided(height, &bytes, &commit).unwrap();
        let (_, result, _) = chain.apply(app, height).unwrap();
        for r in &result.tx_results {
            assert!(r.error.is_none(), "{r:?}");
        }
    }

    #[test]
    fn each_height_has_the_set_elected_before_it_also_after_a_restart() {
        use atoll_consensus::genesis::StakedNode;
        use atoll_consensus_types::registry::{self, KeyAddresses, MultiSigned, Node, Roles};
        use atoll_consensus_types::staking::{Escrow, methods as staking};
        use atoll_crypto::context::Context;
        use atoll_types::signed::SignatureBundle;

        let dir = tempfile::tempdir().unwrap();
        let first = SigningKey::from_seed(&[1; 32]);
        let newcomer = user();
        let node_keys = [20u8, 21, 22].map(|s| SigningKey::from_seed(&[s; 32]));
        let mut g = genesis("chain-a");
        // Epochs of 3 blocks: 1-3, 4-6, 7-9...
        g.beacon.interval = 3;
        g.add_staked_node(StakedNode {
            entity: first.public_key(),
            stake: Quantity(500),
            node: SigningKey::from_seed(&[2; 32]).public_key(),
            consensus: SigningKey::from_seed(&[3; 32]).public_key(),
            p2p: SigningKey::from_seed(&[4; 32]).public_key(),
            vrf: None,
            roles: Roles::VALIDATOR,
            runtimes: vec![],
            expiration: 1_000,
        });
        let app = App::new(&g).unwrap();
        let chain = Chain::open(dir.path(), &app, &g).unwrap();
        let node = Node {
            v: 1,
            id: node_keys[0].public_key(),
            entity_id: newcomer.public_key(),
            expiration: 5,
            p2p: KeyAddresses {
                id: node_keys[1].public_key(),
                addresses: vec![],
            },
            consensus: KeyAddresses {
                id: node_keys[2].public_key(),
                addresses: vec![],
            },
            vrf: None,
            runtimes: vec![],
            roles: Roles::VALIDATOR,
            software_version: "test".into(),
        };
        let raw = cbor::to_vec(&node).unwrap();
        let ctx = Context::new(registry::NODE_SIGNATURE_CONTEXT).unwrap();
        let signed_node = MultiSigned {
            signatures: node_keys
                .iter()
                .map(|k| SignatureBundle {
                    public_key: k.public_key(),
                    signature: k.sign(&ctx, &raw),
                })
                .collect(),
            untrusted_raw_value: raw,
        };
        let entity = Signed::sign(
            &newcomer,
            &Context::new(registry::ENTITY_SIGNATURE_CONTEXT).unwrap(),
            &registry::Entity {
                v: 1,
                id: newcomer.public_key(),
                nodes: vec![node_keys[0].public_key()],
            },
        )
        .unwrap();
        let escrow = Escrow {
            account: Address::from_ed25519(&newcomer.public_key()),
            amount: Quantity(900),
        };
        // Block 2 (epoch 0): the newcomer escrows and registers.
        let (b1, c1) = decided(&app, 1, Hash::default(), 0);
        chain.save_decided(1, &b1, &c1).unwrap();
        chain.apply(&app, 1).unwrap();
        apply_txs(
            &chain,
            &app,
            2,
            &newcomer,
            1,
            vec![
                (staking::ADD_ESCROW, cbor::to_value(&escrow).unwrap()),
                (
                    registry::methods::REGISTER_ENTITY,
                    cbor::to_value(&entity).unwrap(),
                ),
                (
                    registry::methods::REGISTER_NODE,
                    cbor::to_value(&signed_node).unwrap(),
                ),
            ],
        );
        for h in 3..=5 {
            apply_txs(&chain, &app, h, &newcomer, 0, vec![]);
        }
        let consensus_keys = |set: &ValidatorSet| -> Vec<(atoll_crypto::ed25519::PublicKey, u64)> {
            set.validators()
                .iter()
                .map(|v| (v.consensus_key, v.voting_power))
                .collect()
        };
        let old = vec![(SigningKey::from_seed(&[3; 32]).public_key(), 500)];
        let new = vec![
            (node_keys[2].public_key(), 900),
            (SigningKey::from_seed(&[3; 32]).public_key(), 500),
        ];
        // Elected at block 4 (epoch 1's first block), signing from 5.
        let sets: Vec<_> = (1..=5)
            .map(|h| consensus_keys(&chain.validator_set(h).unwrap()))
            .collect();
        assert_eq!(
            sets,
            vec![old.clone(), old.clone(), old.clone(), old, new.clone()]
        );
        drop(chain);
        // After a restart every height answers the same.
        let chain = Chain::open(dir.path(), &app, &g).unwrap();
        for h in 1..=5 {
            assert_eq!(
                consensus_keys(&chain.validator_set(h).unwrap()),
                sets[h as usize - 1]
            );
        }
        assert_eq!(consensus_keys(&chain.validator_set(6).unwrap()), new);
    }
}
