//! The shared kernel of atoll's state machines.
//!
//! The consensus application and every ParaTime run on the same small
//! vocabulary, kept here so that a ParaTime links it without linking the
//! consensus application or the chain's database:
//!
//! - [`store`]: the ordered byte-key [`Store`], the in-memory [`MemStore`],
//!   nested [`Overlay`]s (and [`ReadOverlay`] for simulations) and the limits
//!   every state store honours ([`check_storable`]).
//! - [`error`]: client-facing [`TxError`] (module + code), the
//!   [`ModuleError`] trait services implement, node-fatal [`FatalError`] and
//!   the [`Failure`] that carries either.
//! - [`recent`]: [`RecentHashes`], a bounded set of recently seen hashes.
//!
//! Nothing here touches a disk, a clock or randomness.

pub mod error;
pub mod recent;
pub mod store;

pub use error::{Failure, FatalError, ModuleError, TxError};
pub use recent::RecentHashes;
pub use store::{
    Entries, MAX_KEY_LEN, MAX_VALUE_LEN, MemStore, Overlay, ReadOverlay, Store, StoreExt,
    Unstorable, check_storable, key, prefix_end,
};
