//! A facilitator's side of one task: the joint verification of each report's
//! validity proof, the aggregate share of the reports that pass, and the
//! collector's recombination of the shares.
//!
//! One report goes through three steps. Every facilitator calls
//! [`Aggregation::start`] with its opened input share and sends the returned
//! verifier share to the combining facilitator; that one calls
//! [`Aggregation::combine`] with all verifier shares (in facilitator order)
//! and sends the verifier message back; every facilitator calls
//! [`Aggregation::finish`] with it. A report whose proof fails is refused at
//! `combine` (or at `finish`, for a message that does not match the
//! facilitator's own state) and adds nothing.

use std::collections::{BTreeMap, BTreeSet};

use prio::{
    codec::{Encode, ParameterizedDecode},
    vdaf::{Aggregatable, Aggregator, Collector, VerifyTransition},
};
use serde::{Deserialize, Serialize};

use crate::{
    MeasureError, VERIFY_KEY_LEN,
    metric::{Metric, Vdaf},
    report::{ReportId, TaskConfig},
};

/// A facilitator's aggregate share of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateShare {
    /// How many reports it sums.
    pub report_count: u64,
    /// The encoded VDAF aggregate share.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// The VDAF-specific half: one Prio3 instance, its pending verifications and its sum.
struct Lane<V: Aggregator<VERIFY_KEY_LEN, 16>> {
    vdaf: V,
    pending: BTreeMap<ReportId, V::VerifyState>,
    share: V::AggregateShare,
}

impl<V> Lane<V>
where
    V: Aggregator<VERIFY_KEY_LEN, 16, AggregationParam = ()>,
{
    fn new(vdaf: V) -> Self {
        let share = vdaf.aggregate_init(&());
        Lane {
            vdaf,
            pending: BTreeMap::new(),
            share,
        }
    }

    fn resume(vdaf: V, bytes: &[u8]) -> Result<Self, MeasureError> {
        let share = V::AggregateShare::get_decoded_with_param(&(&vdaf, &()), bytes)
            .map_err(|_| MeasureError::Malformed("aggregate share"))?;
        Ok(Lane {
            vdaf,
            pending: BTreeMap::new(),
            share,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        verify_key: &[u8; VERIFY_KEY_LEN],
        ctx: &[u8],
        agg_id: usize,
        id: ReportId,
        public_share: &[u8],
        input_share: &[u8],
    ) -> Result<Vec<u8>, MeasureError> {
        let public = V::PublicShare::get_decoded_with_param(&self.vdaf, public_share)
            .map_err(|_| MeasureError::Malformed("public share"))?;
        let input = V::InputShare::get_decoded_with_param(&(&self.vdaf, agg_id), input_share)
            .map_err(|_| MeasureError::Malformed("input share"))?;
        let (state, share) = self
            .vdaf
            .verify_init(verify_key, ctx, agg_id, &(), &id.0, &public, &input)
            .map_err(|_| MeasureError::InvalidProof)?;
        let encoded = share
            .get_encoded()
            .map_err(|_| MeasureError::Malformed("verifier share"))?;
        self.pending.insert(id, state);
        Ok(encoded)
    }

    fn combine(
        &self,
        ctx: &[u8],
        id: &ReportId,
        shares: &[Vec<u8>],
    ) -> Result<Vec<u8>, MeasureError> {
        let state = self
            .pending
            .get(id)
            .ok_or_else(|| MeasureError::NotPending(id.to_string()))?;
        if shares.len() != self.vdaf.num_aggregators() {
            return Err(MeasureError::Malformed("verifier share count"));
        }
        let decoded = shares
            .iter()
            .map(|s| {
                V::VerifierShare::get_decoded_with_param(state, s)
                    .map_err(|_| MeasureError::Malformed("verifier share"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let message = self
            .vdaf
            .verifier_shares_to_message(ctx, &(), decoded)
            .map_err(|_| MeasureError::InvalidProof)?;
        message
            .get_encoded()
            .map_err(|_| MeasureError::Malformed("verifier message"))
    }

    fn finish(&mut self, ctx: &[u8], id: &ReportId, message: &[u8]) -> Result<(), MeasureError> {
        let state = self
            .pending
            .remove(id)
            .ok_or_else(|| MeasureError::NotPending(id.to_string()))?;
        let message = V::VerifierMessage::get_decoded_with_param(&state, message)
            .map_err(|_| MeasureError::Malformed("verifier message"))?;
        match self.vdaf.verify_next(ctx, state, message) {
            Ok(VerifyTransition::Finish(out)) => self
                .share
                .accumulate(&out)
                .map_err(|_| MeasureError::Malformed("output share")),
            // Prio3 verifies in one round: anything else is a broken message.
            Ok(VerifyTransition::Continue(..)) | Err(_) => Err(MeasureError::InvalidProof),
        }
    }

    fn merge(&mut self, bytes: &[u8]) -> Result<(), MeasureError> {
        let other = V::AggregateShare::get_decoded_with_param(&(&self.vdaf, &()), bytes)
            .map_err(|_| MeasureError::Malformed("aggregate share"))?;
        self.share
            .merge(&other)
            .map_err(|_| MeasureError::Malformed("aggregate share"))
    }

    fn encoded_share(&self) -> Result<Vec<u8>, MeasureError> {
        self.share
            .get_encoded()
            .map_err(|_| MeasureError::Malformed("aggregate share"))
    }
}

enum Lanes {
    Count(Lane<prio::vdaf::prio3::Prio3Count>),
    Sum(Lane<prio::vdaf::prio3::Prio3Sum>),
    Histogram(Lane<prio::vdaf::prio3::Prio3Histogram>),
    SumVec(Lane<prio::vdaf::prio3::Prio3SumVec>),
}

macro_rules! each_lane {
    ($lanes:expr, $lane:ident => $body:expr) => {
        match $lanes {
            Lanes::Count($lane) => $body,
            Lanes::Sum($lane) => $body,
            Lanes::Histogram($lane) => $body,
            Lanes::SumVec($lane) => $body,
        }
    };
}

impl Lanes {
    fn new(vdaf: Vdaf, share: Option<&[u8]>) -> Result<Self, MeasureError> {
        Ok(match (vdaf, share) {
            (Vdaf::Count(v), None) => Lanes::Count(Lane::new(v)),
            (Vdaf::Sum(v), None) => Lanes::Sum(Lane::new(v)),
            (Vdaf::Histogram(v), None) => Lanes::Histogram(Lane::new(v)),
            (Vdaf::SumVec(v), None) => Lanes::SumVec(Lane::new(v)),
            (Vdaf::Count(v), Some(b)) => Lanes::Count(Lane::resume(v, b)?),
            (Vdaf::Sum(v), Some(b)) => Lanes::Sum(Lane::resume(v, b)?),
            (Vdaf::Histogram(v), Some(b)) => Lanes::Histogram(Lane::resume(v, b)?),
            (Vdaf::SumVec(v), Some(b)) => Lanes::SumVec(Lane::resume(v, b)?),
        })
    }
}

/// One facilitator's aggregation of one task's batch.
pub struct Aggregation {
    lanes: Lanes,
    agg_id: usize,
    verify_key: [u8; VERIFY_KEY_LEN],
    ctx: Vec<u8>,
    seen: BTreeSet<ReportId>,
    report_count: u64,
}

impl std::fmt::Debug for Aggregation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregation")
            .field("agg_id", &self.agg_id)
            .field("report_count", &self.report_count)
            .finish_non_exhaustive()
    }
}

impl Aggregation {
    /// Facilitator `agg_id` of `task`, with the verification key the task's
    /// facilitators share (never a client).
    pub fn new(
        task: &TaskConfig,
        agg_id: usize,
        verify_key: [u8; VERIFY_KEY_LEN],
    ) -> Result<Self, MeasureError> {
        Self::with_context(
            &task.metric,
            task.facilitator_keys.len(),
            agg_id,
            verify_key,
            task.context(),
        )
    }

    /// As [`Aggregation::new`] with an explicit VDAF context (the draft's test vectors carry theirs).
    pub fn with_context(
        metric: &Metric,
        facilitators: usize,
        agg_id: usize,
        verify_key: [u8; VERIFY_KEY_LEN],
        ctx: Vec<u8>,
    ) -> Result<Self, MeasureError> {
        if agg_id >= facilitators {
            return Err(MeasureError::FacilitatorCount {
                got: agg_id + 1,
                max: facilitators,
            });
        }
        let lanes = Lanes::new(Vdaf::new(metric, facilitators)?, None)?;
        Ok(Aggregation {
            lanes,
            agg_id,
            verify_key,
            ctx,
            seen: BTreeSet::new(),
            report_count: 0,
        })
    }

    /// Resumes from a stored aggregate share and the ids already seen.
    pub fn resume(
        task: &TaskConfig,
        agg_id: usize,
        verify_key: [u8; VERIFY_KEY_LEN],
        share: &AggregateShare,
        seen: BTreeSet<ReportId>,
    ) -> Result<Self, MeasureError> {
        let mut this = Self::new(task, agg_id, verify_key)?;
        this.lanes = Lanes::new(
            Vdaf::new(&task.metric, task.facilitator_keys.len())?,
            Some(&share.bytes),
        )?;
        this.report_count = share.report_count;
        this.seen = seen;
        Ok(this)
    }

    /// This facilitator's index.
    pub fn agg_id(&self) -> usize {
        self.agg_id
    }

    /// Whether `id` was already started here (accepted or refused).
    pub fn has_seen(&self, id: &ReportId) -> bool {
        self.seen.contains(id)
    }

    /// Step 1: decodes this facilitator's input share and returns its verifier
    /// share. An id is started at most once per task, whatever the outcome.
    pub fn start(
        &mut self,
        id: ReportId,
        public_share: &[u8],
        input_share: &[u8],
    ) -> Result<Vec<u8>, MeasureError> {
        if !self.seen.insert(id) {
            return Err(MeasureError::Replay(id.to_string()));
        }
        let (key, ctx, agg_id) = (&self.verify_key, &self.ctx, self.agg_id);
        each_lane!(&mut self.lanes, l => l.start(key, ctx, agg_id, id, public_share, input_share))
    }

    /// Step 2 (the combining facilitator): all verifier shares, in facilitator
    /// order, into the verifier message. Refuses a report whose proof fails;
    /// the caller then [`abandon`](Self::abandon)s it everywhere.
    pub fn combine(
        &self,
        id: &ReportId,
        verifier_shares: &[Vec<u8>],
    ) -> Result<Vec<u8>, MeasureError> {
        let ctx = &self.ctx;
        each_lane!(&self.lanes, l => l.combine(ctx, id, verifier_shares))
    }

    /// Step 3: the verifier message; on success the report's output share is
    /// added to this facilitator's aggregate share.
    pub fn finish(&mut self, id: &ReportId, message: &[u8]) -> Result<(), MeasureError> {
        let ctx = &self.ctx;
        each_lane!(&mut self.lanes, l => l.finish(ctx, id, message))?;
        self.report_count += 1;
        Ok(())
    }

    /// Drops a pending report (refused by the combining facilitator). Its id stays seen.
    pub fn abandon(&mut self, id: &ReportId) -> bool {
        each_lane!(&mut self.lanes, l => l.pending.remove(id).is_some())
    }

    /// The reports finished so far.
    pub fn report_count(&self) -> u64 {
        self.report_count
    }

    /// The ids started so far, in order.
    pub fn seen(&self) -> &BTreeSet<ReportId> {
        &self.seen
    }

    /// Adds another aggregate share of the same task and facilitator (a
    /// batch aggregated apart, by another worker) to this one. The caller
    /// answers for the two batches being disjoint.
    pub fn merge(&mut self, other: &AggregateShare) -> Result<(), MeasureError> {
        each_lane!(&mut self.lanes, l => l.merge(&other.bytes))?;
        self.report_count = self
            .report_count
            .checked_add(other.report_count)
            .ok_or(MeasureError::Malformed("report count"))?;
        Ok(())
    }

    /// This facilitator's aggregate share so far.
    pub fn aggregate_share(&self) -> Result<AggregateShare, MeasureError> {
        let bytes = each_lane!(&self.lanes, l => l.encoded_share())?;
        Ok(AggregateShare {
            report_count: self.report_count,
            bytes,
        })
    }
}

fn unshard_with<V>(
    vdaf: &V,
    shares: &[AggregateShare],
    count: u64,
) -> Result<V::AggregateResult, MeasureError>
where
    V: Aggregator<VERIFY_KEY_LEN, 16, AggregationParam = ()> + Collector,
{
    let decoded = shares
        .iter()
        .map(|s| {
            V::AggregateShare::get_decoded_with_param(&(vdaf, &()), &s.bytes)
                .map_err(|_| MeasureError::Unshard("an aggregate share does not decode".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = usize::try_from(count).map_err(|_| MeasureError::Unshard("count".into()))?;
    vdaf.unshard(&(), decoded, count)
        .map_err(|e| MeasureError::Unshard(e.to_string()))
}

/// Whether `bytes` decode as an aggregate share of `metric` with
/// `facilitators` facilitators (the right length, every field element in
/// range): what the chain checks of a revealed share before combining it.
pub fn aggregate_share_decodes(metric: &Metric, facilitators: usize, bytes: &[u8]) -> bool {
    Vdaf::new(metric, facilitators).is_ok_and(|v| Lanes::new(v, Some(bytes)).is_ok())
}

/// The collector: every facilitator's aggregate share (in facilitator order,
/// all over the same reports) into the result, one entry per bucket or
/// vector entry (one entry for Count and Sum).
pub fn unshard(metric: &Metric, shares: &[AggregateShare]) -> Result<Vec<u128>, MeasureError> {
    let first = shares
        .first()
        .ok_or_else(|| MeasureError::Unshard("no shares".into()))?;
    if shares.iter().any(|s| s.report_count != first.report_count) {
        return Err(MeasureError::Unshard(
            "the shares count different reports".into(),
        ));
    }
    let count = first.report_count;
    Ok(match Vdaf::new(metric, shares.len())? {
        Vdaf::Count(v) => vec![u128::from(unshard_with(&v, shares, count)?)],
        Vdaf::Sum(v) => vec![u128::from(unshard_with(&v, shares, count)?)],
        Vdaf::Histogram(v) => unshard_with(&v, shares, count)?,
        Vdaf::SumVec(v) => unshard_with(&v, shares, count)?,
    })
}
