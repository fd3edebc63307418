//! Merklized versioned key-value store (MKVS): where all atoll state lives.
//!
//! Every namespace (the consensus layer, each ParaTime) is a sequence of
//! versions (block heights, runtime rounds), each with one root hash that
//! commits to its whole contents. The trie is a binary Patricia (crit-bit)
//! trie over byte-string keys hashed with SHA-512/256, so the root depends
//! only on the key/value set, never on history.
//!
//! Main types:
//! - [`Mkvs`]: the database ([`Mkvs::open`] on redb, the default, or fjall
//!   with the `fjall` cargo feature;
//!   [`Mkvs::in_memory`]);
//!   [`Mkvs::finalize`], [`Mkvs::prune`], [`Mkvs::diff`], [`Mkvs::apply_write_log`],
//!   [`Mkvs::export_checkpoint`] / [`Mkvs::restore_checkpoint`].
//! - [`Tree`]: a read-only view of a committed version (`get`, `iter`,
//!   `iter_prefix`, `iter_from`, `get_with_proof`), from [`Mkvs::tree`] or
//!   [`Mkvs::tree_at`] (a [`Root`]: namespace, version, hash).
//! - [`Overlay`]: uncommitted changes over the latest version, with nested
//!   `checkpoint`/`rollback`; [`Overlay::commit`] returns the root and the
//!   [`WriteLog`].
//! - [`proof::verify`]: checks a [`Proof`] against a root with no database.
//! - [`engine::KvEngine`]: the small trait every storage engine implements.
//! - [`state_store`]: the consensus state on MKVS ([`state_store::MkvsStore`],
//!   [`state_store::MkvsView`]), as an [`atoll_state::Store`].
//!
//! ```
//! use atoll_mkvs::{Mkvs, proof};
//! use atoll_types::Namespace;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Mkvs::in_memory();
//! let ns = Namespace([7; 32]);
//!
//! let mut ov = db.overlay(ns)?;
//! ov.insert(b"alice", b"100")?;
//! ov.checkpoint();
//! ov.insert(b"bob", b"5")?;
//! ov.rollback(); // a failed nested transaction: bob is gone again
//! let (root, write_log) = ov.commit(1)?;
//! assert_eq!(write_log.len(), 1);
//!
//! let tree = db.tree(ns, 1)?;
//! let (value, proof) = tree.get_with_proof(b"alice")?;
//! assert_eq!(value.as_deref(), Some(&b"100"[..]));
//! // A light client holding only `root` checks the answer:
//! assert_eq!(proof::verify(&root, b"alice", &proof)?, Some(b"100".to_vec()));
//! # Ok(())
//! # }
//! ```

pub mod checkpoint;
pub mod codec;
mod db;
pub mod engine;
mod error;
mod key;
mod node;
pub mod proof;
pub mod state_store;
mod tree;
pub mod writelog;

pub use checkpoint::{Metadata as CheckpointMetadata, Restorer};
pub use codec::{DecodeError, MAX_DEPTH, MAX_KEY_LEN, MAX_VALUE_LEN};
pub use db::{FORMAT_VERSION, Iter, Mkvs, Options, Overlay, Root, Tree};
pub use engine::EngineKind;
pub use error::{MkvsError, Result};
pub use proof::{Proof, ProofError};
pub use writelog::{LogEntry, WriteLog};
