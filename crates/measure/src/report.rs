//! Tasks as clients see them, and reports: one measurement sharded with the
//! task's Prio3 VDAF, each input share sealed to its facilitator.

use prio::{codec::Encode, vdaf::Client};
use serde::{Deserialize, Serialize};

use crate::{
    MeasureError,
    metric::{Measurement, Metric, Vdaf},
    seal::{self, KEY_LEN},
};

/// A task's id (chosen when the task is registered on chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId(#[serde(with = "serde_bytes")] pub [u8; 32]);

/// A report's id: the VDAF nonce, chosen at random by the client. A task
/// accepts each id once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReportId(#[serde(with = "serde_bytes")] pub [u8; 16]);

impl std::fmt::Display for ReportId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// What a client needs to know of a task to report to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskConfig {
    /// The task.
    pub task_id: TaskId,
    /// What is measured.
    pub metric: Metric,
    /// The facilitators' HPKE public keys, in facilitator order.
    pub facilitator_keys: Vec<[u8; KEY_LEN]>,
}

impl TaskConfig {
    /// The VDAF application context: binds every share and proof to this task.
    pub fn context(&self) -> Vec<u8> {
        let mut ctx = b"atoll-measure/v1".to_vec();
        ctx.extend_from_slice(&self.task_id.0);
        ctx
    }

    /// The HPKE `info` of facilitator `index`'s share.
    pub fn seal_info(&self, index: usize) -> Vec<u8> {
        let mut info = b"atoll-measure/v1 input share".to_vec();
        info.extend_from_slice(&self.task_id.0);
        info.push(index as u8);
        info
    }
}

/// A share sealed to one facilitator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedShare {
    /// The HPKE encapsulated key.
    #[serde(with = "serde_bytes")]
    pub enc: [u8; KEY_LEN],
    /// The sealed input share.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// One client's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Its id (the VDAF nonce).
    pub report_id: ReportId,
    /// The VDAF public share (empty for Count and Sum).
    #[serde(with = "serde_bytes")]
    pub public_share: Vec<u8>,
    /// One sealed input share per facilitator, in facilitator order.
    pub shares: Vec<SealedShare>,
}

impl Report {
    /// The associated data every sealed share of this report carries.
    pub fn seal_aad(task: &TaskConfig, report_id: &ReportId, public_share: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(32 + 16 + public_share.len());
        aad.extend_from_slice(&task.task_id.0);
        aad.extend_from_slice(&report_id.0);
        aad.extend_from_slice(public_share);
        aad
    }

    /// Facilitator `index` opens its own share with its key pair.
    pub fn open_share(
        &self,
        task: &TaskConfig,
        index: usize,
        keys: &seal::KeyPair,
    ) -> Result<Vec<u8>, MeasureError> {
        let sealed = self
            .shares
            .get(index)
            .ok_or(MeasureError::Malformed("report: missing share"))?;
        if self.shares.len() != task.facilitator_keys.len() {
            return Err(MeasureError::Malformed("report: share count"));
        }
        keys.open(
            sealed,
            &task.seal_info(index),
            &Self::seal_aad(task, &self.report_id, &self.public_share),
        )
    }
}

/// A client turns `measurement` into a report with a fresh random id.
pub fn prepare_report(
    task: &TaskConfig,
    measurement: &Measurement,
) -> Result<Report, MeasureError> {
    let id = ReportId(rand::random());
    prepare_report_with_id(task, id, measurement)
}

/// As [`prepare_report`], with the caller's report id (a test reusing an id to check replay).
pub fn prepare_report_with_id(
    task: &TaskConfig,
    report_id: ReportId,
    measurement: &Measurement,
) -> Result<Report, MeasureError> {
    task.metric.check(measurement)?;
    let vdaf = Vdaf::new(&task.metric, task.facilitator_keys.len())?;
    let (public_share, input_shares) = shard(&vdaf, &task.context(), &report_id, measurement)?;
    let aad = Report::seal_aad(task, &report_id, &public_share);
    let shares = input_shares
        .iter()
        .zip(&task.facilitator_keys)
        .enumerate()
        .map(|(i, (share, key))| seal::seal(key, &task.seal_info(i), &aad, share))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Report {
        report_id,
        public_share,
        shares,
    })
}

type Shards = (Vec<u8>, Vec<Vec<u8>>);

fn shard_with<V: Client<16>>(
    vdaf: &V,
    ctx: &[u8],
    id: &ReportId,
    m: &V::Measurement,
) -> Result<Shards, MeasureError> {
    let (public, inputs) = vdaf
        .shard(ctx, m, &id.0)
        .map_err(|e| MeasureError::InvalidMeasurement(e.to_string()))?;
    let public = public
        .get_encoded()
        .map_err(|_| MeasureError::Malformed("public share"))?;
    let inputs = inputs
        .iter()
        .map(|s| {
            s.get_encoded()
                .map_err(|_| MeasureError::Malformed("input share"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((public, inputs))
}

/// Shards `measurement` into the encoded public share and input shares.
pub(crate) fn shard(
    vdaf: &Vdaf,
    ctx: &[u8],
    id: &ReportId,
    measurement: &Measurement,
) -> Result<Shards, MeasureError> {
    let mismatch = || MeasureError::InvalidMeasurement("wrong kind for the metric".into());
    match (vdaf, measurement) {
        (Vdaf::Count(v), Measurement::Count(b)) => shard_with(v, ctx, id, b),
        (Vdaf::Sum(v), Measurement::Sum(x)) => shard_with(v, ctx, id, x),
        (Vdaf::Histogram(v), Measurement::Histogram(i)) => shard_with(v, ctx, id, &(*i as usize)),
        (Vdaf::SumVec(v), Measurement::SumVec(xs)) => {
            let xs: Vec<u128> = xs.iter().map(|&x| u128::from(x)).collect();
            shard_with(v, ctx, id, &xs)
        }
        _ => Err(mismatch()),
    }
}
