//! Whole measurements through sealing, joint verification and unsharding,
//! with answers the tests know; replays and broken reports refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atoll_measure::{
    Aggregation, MeasureError, Measurement, Metric, Report, ReportId, TaskConfig, TaskId,
    commitment, prepare_report, seal::KeyPair, unshard,
};

struct Fixture {
    task: TaskConfig,
    keys: Vec<KeyPair>,
    facilitators: Vec<Aggregation>,
}

fn fixture(metric: Metric, n: usize) -> Fixture {
    let keys: Vec<KeyPair> = (0..n)
        .map(|i| KeyPair::from_seed(&[i as u8 + 1; 32]))
        .collect();
    let task = TaskConfig {
        task_id: TaskId([9; 32]),
        metric,
        facilitator_keys: keys.iter().map(|k| k.public).collect(),
    };
    let facilitators = (0..n)
        .map(|i| Aggregation::new(&task, i, [42; 32]).unwrap())
        .collect();
    Fixture {
        task,
        keys,
        facilitators,
    }
}

impl Fixture {
    /// Every facilitator opens its share and the three steps run; the first error is returned.
    fn submit(&mut self, report: &Report) -> Result<(), MeasureError> {
        let mut verifier_shares = Vec::new();
        for (i, f) in self.facilitators.iter_mut().enumerate() {
            let share = report.open_share(&self.task, i, &self.keys[i])?;
            verifier_shares.push(f.start(report.report_id, &report.public_share, &share)?);
        }
        let message = match self.facilitators[0].combine(&report.report_id, &verifier_shares) {
            Ok(m) => m,
            Err(e) => {
                for f in &mut self.facilitators {
                    f.abandon(&report.report_id);
                }
                return Err(e);
            }
        };
        for f in &mut self.facilitators {
            f.finish(&report.report_id, &message)?;
        }
        Ok(())
    }

    fn result(&self) -> Vec<u128> {
        for f in &self.facilitators {
            let len = f.aggregate_share().unwrap().bytes.len();
            assert_eq!(
                len,
                self.task.metric.aggregate_share_len(),
                "{:?}",
                self.task.metric
            );
        }
        let shares: Vec<_> = self
            .facilitators
            .iter()
            .map(|f| f.aggregate_share().unwrap())
            .collect();
        unshard(&self.task.metric, &shares).unwrap()
    }
}

#[test]
fn count_sum_histogram_and_sum_vec_give_the_true_answer_with_2_to_4_facilitators() {
    for n in 2..=4 {
        let mut f = fixture(Metric::Count, n);
        for i in 0..20u32 {
            f.submit(&prepare_report(&f.task, &Measurement::Count(i % 3 == 0)).unwrap())
                .unwrap();
        }
        assert_eq!(f.result(), vec![7], "count, {n} facilitators");

        let mut f = fixture(Metric::Sum { max: 1000 }, n);
        for i in 0..10u64 {
            f.submit(&prepare_report(&f.task, &Measurement::Sum(i * 100)).unwrap())
                .unwrap();
        }
        assert_eq!(f.result(), vec![4500], "sum, {n} facilitators");

        let mut f = fixture(Metric::histogram(8), n);
        let mut truth = vec![0u128; 8];
        for i in 0..40u32 {
            let bucket = (i * i) % 8;
            truth[bucket as usize] += 1;
            f.submit(&prepare_report(&f.task, &Measurement::Histogram(bucket)).unwrap())
                .unwrap();
        }
        assert_eq!(f.result(), truth, "histogram, {n} facilitators");

        let mut f = fixture(Metric::sum_vec(3, 4), n);
        for i in 0..6u64 {
            let v = vec![i % 4, 1, 0, 3];
            f.submit(&prepare_report(&f.task, &Measurement::SumVec(v)).unwrap())
                .unwrap();
        }
        assert_eq!(f.result(), vec![7, 6, 0, 18], "sum_vec, {n} facilitators");
    }
}

#[test]
fn a_report_is_counted_once() {
    let mut f = fixture(Metric::Count, 2);
    let report = prepare_report(&f.task, &Measurement::Count(true)).unwrap();
    f.submit(&report).unwrap();
    assert!(matches!(f.submit(&report), Err(MeasureError::Replay(_))));
    assert_eq!(f.result(), vec![1]);
}

#[test]
fn out_of_range_measurements_are_refused_by_the_client() {
    let f = fixture(Metric::histogram(4), 2);
    assert!(prepare_report(&f.task, &Measurement::Histogram(4)).is_err());
    assert!(prepare_report(&f.task, &Measurement::Count(true)).is_err());
    let f = fixture(Metric::sum_vec(1, 2), 2);
    assert!(prepare_report(&f.task, &Measurement::SumVec(vec![2, 0])).is_err());
    assert!(prepare_report(&f.task, &Measurement::SumVec(vec![1])).is_err());
}

#[test]
fn a_cheating_client_is_refused_by_the_proof_and_adds_nothing() {
    // The client seals a share whose measurement part it altered: the
    // facilitators never see the measurement, the proof fails.
    let mut f = fixture(Metric::histogram(4), 3);
    f.submit(&prepare_report(&f.task, &Measurement::Histogram(1)).unwrap())
        .unwrap();
    let honest = prepare_report(&f.task, &Measurement::Histogram(2)).unwrap();
    let mut share = honest.open_share(&f.task, 0, &f.keys[0]).unwrap();
    share[0] ^= 1;
    let aad = Report::seal_aad(&f.task, &honest.report_id, &honest.public_share);
    let mut cheat = honest.clone();
    cheat.shares[0] =
        atoll_measure::seal::seal(&f.keys[0].public, &f.task.seal_info(0), &aad, &share).unwrap();
    assert_eq!(f.submit(&cheat), Err(MeasureError::InvalidProof));
    assert_eq!(f.result(), vec![0, 1, 0, 0]);
    for a in &f.facilitators {
        assert_eq!(a.report_count(), 1);
    }
}

#[test]
fn garbage_is_refused_with_typed_errors() {
    let mut f = fixture(Metric::Count, 2);
    let good = prepare_report(&f.task, &Measurement::Count(true)).unwrap();
    // A share sealed for facilitator 0 handed to facilitator 1.
    let mut swapped = good.clone();
    swapped.shares.swap(0, 1);
    assert_eq!(
        swapped.open_share(&f.task, 0, &f.keys[0]),
        Err(MeasureError::Unseal)
    );
    // A different report id breaks the seal's associated data.
    let mut renamed = good.clone();
    renamed.report_id = ReportId([0xaa; 16]);
    assert_eq!(
        renamed.open_share(&f.task, 0, &f.keys[0]),
        Err(MeasureError::Unseal)
    );
    // Missing shares.
    let mut short = good.clone();
    short.shares.pop();
    assert!(matches!(
        short.open_share(&f.task, 0, &f.keys[0]),
        Err(MeasureError::Malformed(_))
    ));
    // Undecodable input and public shares, verifier shares and messages.
    let a = &mut f.facilitators[0];
    assert!(matches!(
        a.start(ReportId([1; 16]), b"", b"\x01\x02"),
        Err(MeasureError::Malformed(_))
    ));
    assert!(matches!(
        a.start(ReportId([2; 16]), b"junk", &[0; 64]),
        Err(MeasureError::Malformed(_))
    ));
    let share = good.open_share(&f.task, 0, &f.keys[0]).unwrap();
    a.start(good.report_id, &good.public_share, &share).unwrap();
    assert!(matches!(
        a.combine(&good.report_id, &[vec![1]]),
        Err(MeasureError::Malformed(_))
    ));
    assert!(matches!(
        a.combine(&good.report_id, &[vec![1], vec![2]]),
        Err(MeasureError::Malformed(_))
    ));
    assert!(matches!(
        a.finish(&good.report_id, &[7; 3]),
        Err(MeasureError::Malformed(_))
    ));
    assert!(matches!(
        a.finish(&ReportId([3; 16]), &[]),
        Err(MeasureError::NotPending(_))
    ));
    assert_eq!(a.report_count(), 0);
}

#[test]
fn commitments_bind_the_shares_and_the_batch() {
    let mut f = fixture(Metric::Count, 2);
    let mut ids = std::collections::BTreeSet::new();
    for b in [true, false, true] {
        let r = prepare_report(&f.task, &Measurement::Count(b)).unwrap();
        ids.insert(r.report_id);
        f.submit(&r).unwrap();
    }
    let id = f.task.task_id;
    for a in &f.facilitators {
        assert_eq!(
            a.aggregate_share().unwrap().bytes.len(),
            Metric::Count.aggregate_share_len()
        );
    }
    assert_eq!(
        commitment::batch_digest(&id, f.facilitators[0].seen()),
        commitment::batch_digest(&id, &ids)
    );
    let s0 = f.facilitators[0].aggregate_share().unwrap();
    let s1 = f.facilitators[1].aggregate_share().unwrap();
    assert_ne!(
        commitment::share_commitment(&id, 0, &s0),
        commitment::share_commitment(&id, 1, &s0)
    );
    let mut lied = s1.clone();
    lied.bytes[0] ^= 1;
    assert_ne!(
        commitment::share_commitment(&id, 1, &s1),
        commitment::share_commitment(&id, 1, &lied)
    );
    assert_eq!(unshard(&Metric::Count, &[s0.clone(), s1]).unwrap(), vec![2]);
    // A share over a different number of reports does not combine.
    let mut fewer = lied;
    fewer.report_count = 2;
    assert!(unshard(&Metric::Count, &[s0, fewer]).is_err());
}

#[test]
fn an_aggregation_resumes_from_its_stored_share() {
    let mut f = fixture(Metric::histogram(4), 2);
    f.submit(&prepare_report(&f.task, &Measurement::Histogram(3)).unwrap())
        .unwrap();
    let stored: Vec<_> = f
        .facilitators
        .iter()
        .map(|a| (a.aggregate_share().unwrap(), a.seen().clone()))
        .collect();
    f.facilitators = stored
        .into_iter()
        .enumerate()
        .map(|(i, (share, seen))| Aggregation::resume(&f.task, i, [42; 32], &share, seen).unwrap())
        .collect();
    f.submit(&prepare_report(&f.task, &Measurement::Histogram(3)).unwrap())
        .unwrap();
    assert_eq!(f.result(), vec![0, 0, 0, 2]);
    for a in &f.facilitators {
        assert_eq!(
            a.aggregate_share().unwrap().bytes.len(),
            f.task.metric.aggregate_share_len()
        );
    }
}

#[test]
fn metric_limits() {
    assert!(Metric::histogram(0).validate().is_err());
    assert!(Metric::histogram(4097).validate().is_err());
    assert!(Metric::Sum { max: 0 }.validate().is_err());
    assert!(
        Metric::Histogram {
            length: 8,
            chunk_length: 0
        }
        .validate()
        .is_err()
    );
    assert!(
        Metric::Histogram {
            length: 8,
            chunk_length: 9
        }
        .validate()
        .is_err()
    );
    assert!(Metric::histogram(32).validate().is_ok());
    let task = TaskConfig {
        task_id: TaskId([0; 32]),
        metric: Metric::Count,
        facilitator_keys: vec![[1; 32]],
    };
    assert!(matches!(
        Aggregation::new(&task, 0, [0; 32]),
        Err(MeasureError::FacilitatorCount { .. })
    ));
}

#[test]
fn revealed_shares_are_checked_for_shape() {
    let mut f = fixture(Metric::histogram(4), 2);
    f.submit(&prepare_report(&f.task, &Measurement::Histogram(1)).unwrap())
        .unwrap();
    let good = f.facilitators[0].aggregate_share().unwrap().bytes;
    assert!(atoll_measure::aggregate_share_decodes(
        &f.task.metric,
        2,
        &good
    ));
    assert!(!atoll_measure::aggregate_share_decodes(
        &f.task.metric,
        2,
        &good[1..]
    ));
    assert!(!atoll_measure::aggregate_share_decodes(
        &f.task.metric,
        2,
        &[0xff; 64]
    ));
    assert!(!atoll_measure::aggregate_share_decodes(
        &Metric::Count,
        2,
        &good
    ));
}
