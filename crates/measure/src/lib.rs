//! Private measurement: the protocol, without I/O.
//!
//! A *task* names a metric (a Prio3 VDAF: count, sum, histogram or vector
//! sum) and the facilitators that aggregate it, each with an HPKE public key.
//! A client turns one measurement into a [`Report`]: a public share and one
//! input share per facilitator, each sealed to that facilitator
//! ([`seal`]). Each facilitator opens its own share and runs an
//! [`Aggregation`]: the facilitators exchange *verifier shares*, one of them
//! combines them into a *verifier message* and everyone finishes the report,
//! which either yields an output share (added to the facilitator's
//! aggregate share) or is rejected, without any facilitator having seen the
//! measurement. A report id is accepted once per task.
//!
//! When the batch closes each facilitator publishes a commitment to its
//! aggregate share ([`commitment`]); the shares, combined by
//! [`unshard`], give the result anyone can check against the commitments.
//!
//! Prio3 as the VDAF draft defines it is an N-aggregator protocol: every
//! task here takes 2 to [`MAX_FACILITATORS`] facilitators and the draft's
//! three-aggregator test vectors pass through the same code path as the
//! two-aggregator ones.

mod aggregation;
pub mod commitment;
mod error;
pub mod fairness;
mod metric;
mod report;
pub mod rss;
pub mod seal;

pub use aggregation::{AggregateShare, Aggregation, aggregate_share_decodes, unshard};
pub use error::MeasureError;
pub use metric::{Measurement, Metric};
pub use report::{Report, ReportId, SealedShare, TaskConfig, TaskId, prepare_report};

/// The most facilitators a task may name (the Meta platform had four).
pub const MAX_FACILITATORS: usize = 8;

/// The length of a VDAF verification key: shared by a task's facilitators,
/// never by its clients.
pub const VERIFY_KEY_LEN: usize = 32;
