//! The `measurement` runtime module: the public record of private
//! measurements.
//!
//! A task is registered with `measurement.CreateTask` (the metric, the
//! facilitators with their runtime addresses and HPKE keys, the input
//! parties, a minimum group size, optional noise, the round after which no
//! batch is accepted, and how many rounds the facilitators have after it).
//! Until the deadline each input party commits to the batches of reports it
//! handed the facilitators (`measurement.CommitBatch`: a digest of the
//! report ids and their count). After it, each facilitator commits to its
//! aggregate share (`measurement.CommitShare`: the digest of the batch it
//! aggregated, its report count and a hash of the share); once all have
//! committed, each reveals its share (`measurement.RevealShare`), the module
//! checks it against the commitment and, with the last one, combines the
//! shares into the published result. Every step is a transaction its
//! sender signed, so the chain shows who took part and that the result is
//! the one the committed shares give.
//!
//! A facilitator whose batch disagrees with the others', or whose revealed
//! share does not match its commitment, is named in the task's failure; one
//! that has not committed or revealed when the grace period ends is named by
//! `measurement.Close`, which anyone may send.
//!
//! The module runs in the built-in measurement ParaTime ([`paratime`],
//! `atoll runtime-measure`, `atoll localnet --paratimes measure`).
//!
//! The decisions are pure functions of a task record ([`rules`]); the
//! module ([`module`]) reads and writes the state around them.

pub mod module;
pub mod paratime;
pub mod rules;
pub mod types;

pub use module::{MODULE_NAME, Measurement, MeasurementError};
