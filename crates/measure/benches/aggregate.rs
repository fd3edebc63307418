//! Reports aggregated per second (one core) for a 32-bucket Prio3 histogram
//! with two facilitators: the facilitators' path in `atoll-measure`
//! (decode, verify, combine, finish, accumulate, with replay bookkeeping)
//! against `prio`'s own calls on the same reports, decoded beforehand, in the
//! same run. And joined two-party records per second for an 8-group
//! fairness metric on three facilitators in one process.
//!
//! Run (the lead runs benchmarks): `cargo bench -p atoll-measure --bench aggregate`.
//! `cargo test -p atoll-measure --bench aggregate` runs each once as a smoke check.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "benchmarks only handle inputs they built themselves"
)]

use std::hint::black_box;

use atoll_measure::fairness::{blind_id, compute_local, deal_groups, deal_outcomes, open_totals};
use atoll_measure::{
    Aggregation, Measurement, Metric, Report, TaskConfig, TaskId, prepare_report, rss,
    seal::KeyPair,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use prio::codec::ParameterizedDecode;
use prio::vdaf::prio3::Prio3Histogram;
use prio::vdaf::{Aggregator, Vdaf as _, VerifyTransition};

const REPORTS: usize = 1_000;
const BUCKETS: u32 = 32;

struct Fixture {
    task: TaskConfig,
    reports: Vec<Report>,
    /// Each report's opened input shares, in facilitator order.
    opened: Vec<[Vec<u8>; 2]>,
}

fn fixture() -> Fixture {
    let keys: Vec<KeyPair> = (0..2).map(|i| KeyPair::from_seed(&[i + 1; 32])).collect();
    let task = TaskConfig {
        task_id: TaskId([1; 32]),
        metric: Metric::histogram(BUCKETS),
        facilitator_keys: keys.iter().map(|k| k.public).collect(),
    };
    let reports: Vec<Report> = (0..REPORTS)
        .map(|i| prepare_report(&task, &Measurement::Histogram(i as u32 % BUCKETS)).unwrap())
        .collect();
    let opened = reports
        .iter()
        .map(|r| [0, 1].map(|i| r.open_share(&task, i, &keys[i]).unwrap()))
        .collect();
    Fixture {
        task,
        reports,
        opened,
    }
}

fn ours(f: &Fixture) -> u64 {
    let mut aggs = [0, 1].map(|i| Aggregation::new(&f.task, i, [9; 32]).unwrap());
    for (r, shares) in f.reports.iter().zip(&f.opened) {
        let v0 = aggs[0]
            .start(r.report_id, &r.public_share, &shares[0])
            .unwrap();
        let v1 = aggs[1]
            .start(r.report_id, &r.public_share, &shares[1])
            .unwrap();
        let msg = aggs[0].combine(&r.report_id, &[v0, v1]).unwrap();
        aggs[0].finish(&r.report_id, &msg).unwrap();
        aggs[1].finish(&r.report_id, &msg).unwrap();
    }
    aggs[0].report_count()
}

type Decoded = Vec<(
    [u8; 16],
    <Prio3Histogram as prio::vdaf::Vdaf>::PublicShare,
    [<Prio3Histogram as prio::vdaf::Vdaf>::InputShare; 2],
)>;

fn decode_for_prio(f: &Fixture, vdaf: &Prio3Histogram) -> Decoded {
    f.reports
        .iter()
        .zip(&f.opened)
        .map(|(r, s)| {
            let public =
                ParameterizedDecode::get_decoded_with_param(vdaf, &r.public_share).unwrap();
            let inputs = [0, 1]
                .map(|i| ParameterizedDecode::get_decoded_with_param(&(vdaf, i), &s[i]).unwrap());
            (r.report_id.0, public, inputs)
        })
        .collect()
}

fn prio_direct(vdaf: &Prio3Histogram, ctx: &[u8], decoded: &Decoded) -> usize {
    let mut outs: [Vec<_>; 2] = [Vec::new(), Vec::new()];
    for (nonce, public, inputs) in decoded {
        let (s0, v0) = vdaf
            .verify_init(&[9; 32], ctx, 0, &(), nonce, public, &inputs[0])
            .unwrap();
        let (s1, v1) = vdaf
            .verify_init(&[9; 32], ctx, 1, &(), nonce, public, &inputs[1])
            .unwrap();
        let msg = vdaf.verifier_shares_to_message(ctx, &(), [v0, v1]).unwrap();
        for (i, s) in [s0, s1].into_iter().enumerate() {
            if let VerifyTransition::Finish(out) = vdaf.verify_next(ctx, s, msg.clone()).unwrap() {
                outs[i].push(out);
            }
        }
    }
    let n = outs[0].len();
    for o in outs {
        black_box(vdaf.aggregate(&(), o).unwrap());
    }
    n
}

fn histogram(c: &mut Criterion) {
    let f = fixture();
    let vdaf = match Metric::histogram(BUCKETS) {
        Metric::Histogram {
            length,
            chunk_length,
        } => Prio3Histogram::new_histogram(2, length as usize, chunk_length as usize).unwrap(),
        _ => unreachable!(),
    };
    assert_eq!(vdaf.num_aggregators(), 2);
    let ctx = f.task.context();
    let decoded = decode_for_prio(&f, &vdaf);
    let mut g = c.benchmark_group("histogram32_two_facilitators");
    g.throughput(Throughput::Elements(REPORTS as u64));
    g.sample_size(10);
    g.bench_function("atoll_measure", |b| b.iter(|| black_box(ours(&f))));
    g.bench_function("prio_direct", |b| {
        b.iter(|| black_box(prio_direct(&vdaf, &ctx, &decoded)))
    });
    g.finish();
}

fn fairness(c: &mut Criterion) {
    const GROUPS: usize = 8;
    const RECORDS: usize = 2_000;
    let key = [5; 32];
    let survey: Vec<([u8; 32], u32)> = (0..RECORDS)
        .map(|i| (blind_id(&key, &i.to_be_bytes()), (i % GROUPS) as u32))
        .collect();
    let model: Vec<([u8; 32], bool, bool)> = (0..RECORDS)
        .map(|i| (blind_id(&key, &i.to_be_bytes()), i % 3 == 0, i % 2 == 0))
        .collect();
    let keys = rss::keys_from_seed(&[2; 32]);
    let mut g = c.benchmark_group("fairness_8_groups_three_facilitators");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.sample_size(10);
    g.bench_function("joined_records", |b| {
        b.iter_batched(
            || (deal_groups(&survey, GROUPS).unwrap(), deal_outcomes(&model)),
            |(gr, or)| {
                let t = compute_local(GROUPS, &keys, &gr, &or, 0).unwrap();
                black_box(open_totals(&t.map(Some), GROUPS, 0).unwrap())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, histogram, fairness);
criterion_main!(benches);
