//! Two input parties joined privately (the Meta shape): a survey vendor
//! holds a group label per record, a model owner holds a prediction and an
//! outcome per record, and three facilitators compute per group the record
//! count, the selection rate, the true and false positive rates and the gaps
//! between groups, on replicated shares ([`crate::rss`]), so that no
//! facilitator and neither input party sees another's per-record data.
//!
//! The join: both input parties key each record by an HMAC of the shared
//! pseudonymous id under a key only they share ([`blind_id`]); the
//! facilitators match shares by that blinded id and learn which blinded ids
//! both sent (so the size of the overlap), never an id or a value. A record
//! only one party sent is dropped.
//!
//! The computation per record, with `g` the one-hot group vector and `p`, `y`
//! the prediction and outcome bits: one layer of products `p*y`, then
//! `g_k*p`, `g_k*y` and `g_k*(p*y)` for every group `k`; the sums are local.
//! The counts per group are opened first; a group below the minimum size is
//! suppressed and nothing else of it is opened. With noise, every
//! facilitator adds a shared `Binomial(n, 1/2) - n/2` to every released
//! count before it is opened, so the noise is private as long as one
//! facilitator is honest.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::rss::{self, Multiplier, OpenError, PARTIES, Share};

/// The most groups a fairness task may have.
pub const MAX_GROUPS: usize = 64;

/// A record's blinded id: HMAC-SHA256 of the pseudonymous id under the key the
/// two input parties share.
pub fn blind_id(join_key: &[u8; 32], pseudonymous_id: &[u8]) -> [u8; 32] {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(join_key) {
        Ok(m) => m,
        // A 32-byte key is always accepted by HMAC.
        Err(_) => return [0; 32],
    };
    mac.update(pseudonymous_id);
    mac.finalize().into_bytes().into()
}

/// Why a fairness computation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FairnessError {
    /// A group label is not below the number of groups, or there are too many groups.
    #[error("group out of range")]
    GroupOutOfRange,
    /// One input party sent a blinded id twice.
    #[error("a blinded id repeats")]
    DuplicateId,
    /// Rows do not have the task's shape.
    #[error("malformed rows")]
    Malformed,
    /// A facilitator's message has the wrong length.
    #[error("a message from facilitator {0} has the wrong length")]
    BadMessage(usize),
    /// Opening failed: too few reports, or a facilitator lied.
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// What the survey vendor sends one facilitator for one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    /// The blinded id.
    #[serde(with = "serde_bytes")]
    pub id: [u8; 32],
    /// Shares of the one-hot group vector.
    pub onehot: Vec<Share>,
}

/// What the model owner sends one facilitator for one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRow {
    /// The blinded id.
    #[serde(with = "serde_bytes")]
    pub id: [u8; 32],
    /// Share of the prediction bit.
    pub prediction: Share,
    /// Share of the outcome bit.
    pub outcome: Share,
}

/// The survey vendor deals its `(blinded id, group)` records to the three facilitators.
pub fn deal_groups(
    records: &[([u8; 32], u32)],
    groups: usize,
) -> Result<[Vec<GroupRow>; PARTIES], FairnessError> {
    if groups == 0 || groups > MAX_GROUPS {
        return Err(FairnessError::GroupOutOfRange);
    }
    let mut out: [Vec<GroupRow>; PARTIES] = Default::default();
    for (id, g) in records {
        if *g as usize >= groups {
            return Err(FairnessError::GroupOutOfRange);
        }
        let mut rows: [Vec<Share>; PARTIES] = Default::default();
        for k in 0..groups {
            let s = rss::share_random(u64::from(k == *g as usize));
            for i in 0..PARTIES {
                rows[i].push(s[i]);
            }
        }
        for (i, onehot) in rows.into_iter().enumerate() {
            out[i].push(GroupRow { id: *id, onehot });
        }
    }
    Ok(out)
}

/// The model owner deals its `(blinded id, prediction, outcome)` records.
pub fn deal_outcomes(records: &[([u8; 32], bool, bool)]) -> [Vec<OutcomeRow>; PARTIES] {
    let mut out: [Vec<OutcomeRow>; PARTIES] = Default::default();
    for (id, p, y) in records {
        let (sp, sy) = (
            rss::share_random(u64::from(*p)),
            rss::share_random(u64::from(*y)),
        );
        for i in 0..PARTIES {
            out[i].push(OutcomeRow {
                id: *id,
                prediction: sp[i],
                outcome: sy[i],
            });
        }
    }
    out
}

/// One facilitator's joined rows, in blinded-id order (the same order at
/// every facilitator).
#[derive(Debug, Clone)]
pub struct Joined {
    groups: usize,
    rows: Vec<(Vec<Share>, Share, Share)>,
}

impl Joined {
    /// Joins the two parties' rows on the blinded id.
    pub fn new(groups: usize, g: &[GroupRow], o: &[OutcomeRow]) -> Result<Self, FairnessError> {
        if groups == 0 || groups > MAX_GROUPS {
            return Err(FairnessError::GroupOutOfRange);
        }
        let mut by_id: BTreeMap<[u8; 32], &GroupRow> = BTreeMap::new();
        for row in g {
            if row.onehot.len() != groups {
                return Err(FairnessError::Malformed);
            }
            if by_id.insert(row.id, row).is_some() {
                return Err(FairnessError::DuplicateId);
            }
        }
        let mut outcomes: BTreeMap<[u8; 32], &OutcomeRow> = BTreeMap::new();
        for row in o {
            if outcomes.insert(row.id, row).is_some() {
                return Err(FairnessError::DuplicateId);
            }
        }
        let rows = outcomes
            .iter()
            .filter_map(|(id, o)| {
                by_id
                    .get(id)
                    .map(|g| (g.onehot.clone(), o.prediction, o.outcome))
            })
            .collect();
        Ok(Joined { groups, rows })
    }

    /// How many records both parties sent.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no record matched.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Round 1: the message to facilitator `index - 1` for the products `p*y`.
    pub fn round1(&self, m: &mut Multiplier) -> Vec<u64> {
        let (p, y): (Vec<Share>, Vec<Share>) = self.rows.iter().map(|r| (r.1, r.2)).unzip();
        m.start(&p, &y)
    }

    fn layer2_inputs(&self, py: &[Share]) -> (Vec<Share>, Vec<Share>) {
        let mut x = Vec::with_capacity(self.rows.len() * self.groups * 3);
        let mut y = Vec::with_capacity(x.capacity());
        for ((g, p, o), py) in self.rows.iter().zip(py) {
            for gk in g {
                x.extend([*gk, *gk, *gk]);
                y.extend([*p, *o, *py]);
            }
        }
        (x, y)
    }

    /// Round 2: with this facilitator's round-1 words and those of facilitator
    /// `index + 1`, the message for the products `g_k*p`, `g_k*y`, `g_k*p*y`.
    pub fn round2(
        &self,
        m: &mut Multiplier,
        own1: &[u64],
        next1: &[u64],
    ) -> Result<(Vec<u64>, Vec<Share>), FairnessError> {
        let py = Multiplier::finish(own1, next1)
            .filter(|v| v.len() == self.rows.len())
            .ok_or(FairnessError::BadMessage((m.index() + 1) % PARTIES))?;
        let (x, y) = self.layer2_inputs(&py);
        Ok((m.start(&x, &y), py))
    }

    /// The per-group totals (count, selected, positives, true positives), in
    /// shares, from the round-2 words.
    pub fn totals(
        &self,
        index: usize,
        own2: &[u64],
        next2: &[u64],
    ) -> Result<Totals, FairnessError> {
        let prods = Multiplier::finish(own2, next2)
            .filter(|v| v.len() == self.rows.len() * self.groups * 3)
            .ok_or(FairnessError::BadMessage((index + 1) % PARTIES))?;
        let mut t = Totals {
            groups: vec![[Share::default(); 4]; self.groups],
        };
        for (r, (g, _, _)) in self.rows.iter().enumerate() {
            for (k, (cell, gk)) in t.groups.iter_mut().zip(g).enumerate() {
                let base = (r * self.groups + k) * 3;
                cell[0] = cell[0] + *gk;
                for j in 0..3 {
                    cell[j + 1] = cell[j + 1] + prods[base + j];
                }
            }
        }
        Ok(t)
    }
}

/// One facilitator's shares of every group's counts: `[records, selected,
/// positives, true positives]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Per group.
    pub groups: Vec<[Share; 4]>,
}

/// `Binomial(trials, 1/2) - trials/2` from fresh randomness, as a word modulo 2^64.
pub fn binomial_noise(trials: u32) -> u64 {
    let mut ones: u64 = 0;
    let mut left = trials;
    while left > 0 {
        let take = left.min(64);
        let bits: u64 = rand::random();
        let mask = if take == 64 {
            u64::MAX
        } else {
            (1u64 << take) - 1
        };
        ones += u64::from((bits & mask).count_ones());
        left -= take;
    }
    ones.wrapping_sub(u64::from(trials / 2))
}

impl Totals {
    /// Adds a shared noise value to every count (each facilitator deals one
    /// per count; all three are added).
    pub fn add(&mut self, other: &Totals) -> Result<(), FairnessError> {
        if other.groups.len() != self.groups.len() {
            return Err(FairnessError::Malformed);
        }
        for (a, b) in self.groups.iter_mut().zip(&other.groups) {
            for j in 0..4 {
                a[j] = a[j] + b[j];
            }
        }
        Ok(())
    }
}

/// Each facilitator deals noise for every count of `groups` groups.
pub fn deal_noise(groups: usize, trials: u32) -> [Totals; PARTIES] {
    let mut out: [Totals; PARTIES] = std::array::from_fn(|_| Totals {
        groups: vec![[Share::default(); 4]; groups],
    });
    for k in 0..groups {
        for j in 0..4 {
            let s = rss::share_random(binomial_noise(trials));
            for i in 0..PARTIES {
                out[i].groups[k][j] = s[i];
            }
        }
    }
    out
}

/// A rate in parts per million, or `None` when its denominator is not positive.
fn ppm(num: i64, den: i64) -> Option<i64> {
    (den > 0).then(|| ((i128::from(num) * 1_000_000) / i128::from(den)) as i64)
}

/// One group's published figures (`None` throughout when suppressed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupResult {
    /// Records in the group (noisy with noise).
    pub records: Option<i64>,
    /// Records predicted positive.
    pub selected: Option<i64>,
    /// Records whose outcome is positive.
    pub positives: Option<i64>,
    /// Predicted and actually positive.
    pub true_positives: Option<i64>,
    /// Selection rate, ppm.
    pub selection_rate_ppm: Option<i64>,
    /// True positive rate, ppm.
    pub tpr_ppm: Option<i64>,
    /// False positive rate, ppm.
    pub fpr_ppm: Option<i64>,
}

/// The published fairness result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FairnessResult {
    /// Per group, in label order.
    pub groups: Vec<GroupResult>,
    /// The largest minus the smallest selection rate among released groups (ppm).
    pub selection_rate_gap_ppm: Option<i64>,
    /// The same for the true positive rate.
    pub tpr_gap_ppm: Option<i64>,
    /// The same for the false positive rate.
    pub fpr_gap_ppm: Option<i64>,
}

fn gap(values: impl Iterator<Item = Option<i64>>) -> Option<i64> {
    let v: Vec<i64> = values.flatten().collect();
    Some(v.iter().max()? - v.iter().min()?)
}

impl FairnessResult {
    /// The figures from opened counts (`None`: suppressed, not opened).
    pub fn from_counts(counts: &[Option<[i64; 4]>]) -> Self {
        let groups: Vec<GroupResult> = counts
            .iter()
            .map(|c| match c {
                None => GroupResult {
                    records: None,
                    selected: None,
                    positives: None,
                    true_positives: None,
                    selection_rate_ppm: None,
                    tpr_ppm: None,
                    fpr_ppm: None,
                },
                Some([n, sel, pos, tp]) => GroupResult {
                    records: Some(*n),
                    selected: Some(*sel),
                    positives: Some(*pos),
                    true_positives: Some(*tp),
                    selection_rate_ppm: ppm(*sel, *n),
                    tpr_ppm: ppm(*tp, *pos),
                    fpr_ppm: ppm(sel - tp, n - pos),
                },
            })
            .collect();
        FairnessResult {
            selection_rate_gap_ppm: gap(groups.iter().map(|g| g.selection_rate_ppm)),
            tpr_gap_ppm: gap(groups.iter().map(|g| g.tpr_ppm)),
            fpr_gap_ppm: gap(groups.iter().map(|g| g.fpr_ppm)),
            groups,
        }
    }
}

/// Opens the totals from the facilitators' reports (`None`: withheld):
/// counts first, then the rest of every group at or above `min_group_size`.
pub fn open_totals(
    reports: &[Option<Totals>; PARTIES],
    groups: usize,
    min_group_size: u64,
) -> Result<FairnessResult, FairnessError> {
    for t in reports.iter().flatten() {
        if t.groups.len() != groups {
            return Err(FairnessError::Malformed);
        }
    }
    let cell = |k: usize, j: usize| -> [Option<Share>; PARTIES] {
        std::array::from_fn(|i| reports[i].as_ref().map(|t| t.groups[k][j]))
    };
    let mut counts = Vec::with_capacity(groups);
    for k in 0..groups {
        let n = rss::open(&cell(k, 0))? as i64;
        if n < 0 || (n as u64) < min_group_size {
            counts.push(None);
            continue;
        }
        let mut c = [n, 0, 0, 0];
        for (j, slot) in c.iter_mut().enumerate().skip(1) {
            *slot = rss::open(&cell(k, j))? as i64;
        }
        counts.push(Some(c));
    }
    Ok(FairnessResult::from_counts(&counts))
}

/// The whole computation with the three facilitators in this process
/// (tests, benchmarks, demonstrations): joins, multiplies, adds noise when
/// `noise_trials > 0`, and returns each facilitator's totals.
pub fn compute_local(
    groups: usize,
    keys: &[[u8; 32]; PARTIES],
    group_rows: &[Vec<GroupRow>; PARTIES],
    outcome_rows: &[Vec<OutcomeRow>; PARTIES],
    noise_trials: u32,
) -> Result<[Totals; PARTIES], FairnessError> {
    let mut ms = rss::multipliers(keys);
    let joined: Vec<Joined> = (0..PARTIES)
        .map(|i| Joined::new(groups, &group_rows[i], &outcome_rows[i]))
        .collect::<Result<_, _>>()?;
    let w1: Vec<Vec<u64>> = (0..PARTIES).map(|i| joined[i].round1(&mut ms[i])).collect();
    let mut w2 = Vec::with_capacity(PARTIES);
    for i in 0..PARTIES {
        w2.push(
            joined[i]
                .round2(&mut ms[i], &w1[i], &w1[(i + 1) % PARTIES])?
                .0,
        );
    }
    let mut totals: Vec<Totals> = (0..PARTIES)
        .map(|i| joined[i].totals(i, &w2[i], &w2[(i + 1) % PARTIES]))
        .collect::<Result<_, _>>()?;
    if noise_trials > 0 {
        for _dealer in 0..PARTIES {
            let noise = deal_noise(groups, noise_trials);
            for i in 0..PARTIES {
                totals[i].add(&noise[i])?;
            }
        }
    }
    totals.try_into().map_err(|_| FairnessError::Malformed)
}
