//! What a task measures: the metric (a Prio3 VDAF and its parameters) and a
//! client's measurement of it.

use prio::vdaf::prio3::{Prio3Count, Prio3Histogram, Prio3Sum, Prio3SumVec, optimal_chunk_length};
use serde::{Deserialize, Serialize};

use crate::MeasureError;

/// The longest histogram or vector a task may measure.
pub const MAX_LENGTH: u32 = 4096;
/// The largest value a `Sum` or `SumVec` entry may take.
pub const MAX_SUMMAND: u64 = u32::MAX as u64;

/// A task's metric: which Prio3 VDAF the clients shard their measurements with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Each report is 0 or 1; the result is how many were 1.
    Count,
    /// Each report is an integer in `[0, max]`; the result is their sum.
    Sum {
        /// The largest value a report may hold.
        max: u64,
    },
    /// Each report is one bucket index in `[0, length)`; the result counts each bucket.
    Histogram {
        /// The number of buckets.
        length: u32,
        /// The proof's chunk length (see [`Metric::histogram`]).
        chunk_length: u32,
    },
    /// Each report is a vector of `length` integers in `[0, max]`; the result is their sum.
    SumVec {
        /// The largest value an entry may hold.
        max: u64,
        /// The vector's length.
        length: u32,
        /// The proof's chunk length (see [`Metric::sum_vec`]).
        chunk_length: u32,
    },
}

impl Metric {
    /// A histogram of `length` buckets with the proof's best chunk length.
    pub fn histogram(length: u32) -> Self {
        let chunk_length = optimal_chunk_length(length as usize) as u32;
        Metric::Histogram {
            length,
            chunk_length,
        }
    }

    /// A vector sum of `length` entries in `[0, max]` with the proof's best chunk length.
    pub fn sum_vec(max: u64, length: u32) -> Self {
        let bits = u64::BITS - max.leading_zeros();
        let chunk_length =
            optimal_chunk_length((bits as usize).saturating_mul(length as usize)) as u32;
        Metric::SumVec {
            max,
            length,
            chunk_length,
        }
    }

    /// Checks the parameters against the limits (a task on chain is checked with this).
    pub fn validate(&self) -> Result<(), MeasureError> {
        match *self {
            Metric::Count => Ok(()),
            Metric::Sum { max } => {
                if max == 0 || max > MAX_SUMMAND {
                    return Err(MeasureError::InvalidMetric("sum max must be in 1..=2^32-1"));
                }
                Ok(())
            }
            Metric::Histogram {
                length,
                chunk_length,
            } => {
                check_length(length)?;
                check_chunk(chunk_length, length as u64)
            }
            Metric::SumVec {
                max,
                length,
                chunk_length,
            } => {
                if max == 0 || max > MAX_SUMMAND {
                    return Err(MeasureError::InvalidMetric(
                        "sum_vec max must be in 1..=2^32-1",
                    ));
                }
                check_length(length)?;
                let bits = u64::from(u64::BITS - max.leading_zeros());
                check_chunk(chunk_length, bits * u64::from(length))
            }
        }
    }

    /// Checks that `m` is a measurement of this metric, in range (prio
    /// panics on some out-of-range measurements, so nothing reaches it
    /// unchecked).
    pub fn check(&self, m: &Measurement) -> Result<(), MeasureError> {
        let bad = |why: &str| Err(MeasureError::InvalidMeasurement(why.to_string()));
        match (*self, m) {
            (Metric::Count, Measurement::Count(_)) => Ok(()),
            (Metric::Sum { max }, Measurement::Sum(x)) if *x > max => bad("sum above max"),
            (Metric::Sum { .. }, Measurement::Sum(_)) => Ok(()),
            (Metric::Histogram { length, .. }, Measurement::Histogram(i)) if *i >= length => {
                bad("bucket out of range")
            }
            (Metric::Histogram { .. }, Measurement::Histogram(_)) => Ok(()),
            (Metric::SumVec { max, length, .. }, Measurement::SumVec(xs)) => {
                if xs.len() != length as usize {
                    return bad("wrong vector length");
                }
                if xs.iter().any(|&x| x > max) {
                    return bad("entry above max");
                }
                Ok(())
            }
            _ => bad("wrong kind for the metric"),
        }
    }

    /// The length in bytes of an encoded aggregate share (Count and Sum
    /// aggregate in a 64-bit field, Histogram and SumVec in a 128-bit one).
    pub fn aggregate_share_len(&self) -> usize {
        match *self {
            Metric::Count | Metric::Sum { .. } => 8,
            Metric::Histogram { length, .. } | Metric::SumVec { length, .. } => {
                16 * length as usize
            }
        }
    }

    /// The length of the result vector.
    pub fn result_len(&self) -> usize {
        match *self {
            Metric::Count | Metric::Sum { .. } => 1,
            Metric::Histogram { length, .. } | Metric::SumVec { length, .. } => length as usize,
        }
    }
}

fn check_length(length: u32) -> Result<(), MeasureError> {
    if length == 0 || length > MAX_LENGTH {
        return Err(MeasureError::InvalidMetric("length must be in 1..=4096"));
    }
    Ok(())
}

fn check_chunk(chunk_length: u32, measurement_len: u64) -> Result<(), MeasureError> {
    if chunk_length == 0 || u64::from(chunk_length) > measurement_len.max(1) {
        return Err(MeasureError::InvalidMetric(
            "chunk_length must be in 1..=measurement length",
        ));
    }
    Ok(())
}

/// One client's measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measurement {
    /// For [`Metric::Count`].
    Count(bool),
    /// For [`Metric::Sum`].
    Sum(u64),
    /// For [`Metric::Histogram`]: the bucket index.
    Histogram(u32),
    /// For [`Metric::SumVec`].
    SumVec(Vec<u64>),
}

/// A task's Prio3 instance: the four VDAF types behind one enum.
#[derive(Debug, Clone)]
pub(crate) enum Vdaf {
    Count(Prio3Count),
    Sum(Prio3Sum),
    Histogram(Prio3Histogram),
    SumVec(Prio3SumVec),
}

impl Vdaf {
    /// The Prio3 instance of `metric` for `shares` facilitators.
    pub(crate) fn new(metric: &Metric, shares: usize) -> Result<Self, MeasureError> {
        metric.validate()?;
        if !(2..=crate::MAX_FACILITATORS).contains(&shares) {
            return Err(MeasureError::FacilitatorCount {
                got: shares,
                max: crate::MAX_FACILITATORS,
            });
        }
        let n = shares as u8;
        let bad = |_| MeasureError::InvalidMetric("rejected by prio");
        Ok(match *metric {
            Metric::Count => Vdaf::Count(Prio3Count::new_count(n).map_err(bad)?),
            Metric::Sum { max } => Vdaf::Sum(Prio3Sum::new_sum(n, max).map_err(bad)?),
            Metric::Histogram {
                length,
                chunk_length,
            } => Vdaf::Histogram(
                Prio3Histogram::new_histogram(n, length as usize, chunk_length as usize)
                    .map_err(bad)?,
            ),
            Metric::SumVec {
                max,
                length,
                chunk_length,
            } => Vdaf::SumVec(
                Prio3SumVec::new_sum_vec(
                    n,
                    u128::from(max),
                    length as usize,
                    chunk_length as usize,
                )
                .map_err(bad)?,
            ),
        })
    }
}
