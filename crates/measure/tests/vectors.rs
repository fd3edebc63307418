//! The VDAF draft's Prio3 known-answer vectors (as `prio` ships them) through
//! the facilitators' code path: every verifier share, verifier message,
//! aggregate share and result byte for byte, and the vectors of broken
//! reports refused where the draft says.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use atoll_measure::{Aggregation, MeasureError, Metric, ReportId, unshard};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn u(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap()
}

fn metric(name: &str, v: &Value) -> Metric {
    if name.starts_with("Prio3Count") {
        Metric::Count
    } else if name.starts_with("Prio3SumVec") {
        Metric::SumVec {
            max: u(v, "max_measurement"),
            length: u(v, "length") as u32,
            chunk_length: u(v, "chunk_length") as u32,
        }
    } else if name.starts_with("Prio3Sum") {
        Metric::Sum {
            max: u(v, "max_measurement"),
        }
    } else if name.starts_with("Prio3Histogram") {
        Metric::Histogram {
            length: u(v, "length") as u32,
            chunk_length: u(v, "chunk_length") as u32,
        }
    } else {
        panic!("no metric for {name}")
    }
}

/// Runs one vector; returns whether its reports were all accepted.
fn run(name: &str) -> bool {
    let v = load(name);
    let shares = u(&v, "shares") as usize;
    let metric = metric(name, &v);
    let verify_key: [u8; 32] = bytes(&v["verify_key"]).try_into().unwrap();
    let ctx = bytes(&v["ctx"]);
    let new = || -> Vec<Aggregation> {
        (0..shares)
            .map(|i| {
                Aggregation::with_context(&metric, shares, i, verify_key, ctx.clone()).unwrap()
            })
            .collect()
    };
    let mut totals = new();
    let mut all_ok = true;
    // The vectors reuse one nonce for every report, which one aggregation
    // refuses as a replay: each report gets its own, merged into the totals.
    for report in v["reports"].as_array().unwrap() {
        let mut facilitators = new();
        let id = ReportId(bytes(&report["nonce"]).try_into().unwrap());
        let public = bytes(&report["public_share"]);
        let verifier_shares: Vec<Vec<u8>> = facilitators
            .iter_mut()
            .enumerate()
            .map(|(i, f)| {
                f.start(id, &public, &bytes(&report["input_shares"][i]))
                    .unwrap()
            })
            .collect();
        for (i, share) in verifier_shares.iter().enumerate() {
            assert_eq!(
                share,
                &bytes(&report["verifier_shares"][0][i]),
                "{name}: verifier share {i}"
            );
        }
        match facilitators[0].combine(&id, &verifier_shares) {
            Ok(message) => {
                assert_eq!(
                    message,
                    bytes(&report["verifier_messages"][0]),
                    "{name}: message"
                );
                for (f, total) in facilitators.iter_mut().zip(&mut totals) {
                    f.finish(&id, &message).unwrap();
                    total.merge(&f.aggregate_share().unwrap()).unwrap();
                }
            }
            Err(e) => {
                assert_eq!(e, MeasureError::InvalidProof, "{name}");
                all_ok = false;
                for f in &mut facilitators {
                    assert!(f.abandon(&id));
                    assert_eq!(f.report_count(), 0, "{name}: a refused report was counted");
                }
            }
        }
    }
    if all_ok {
        let agg: Vec<_> = totals
            .iter()
            .map(|f| f.aggregate_share().unwrap())
            .collect();
        for (i, share) in agg.iter().enumerate() {
            assert_eq!(
                share.bytes,
                bytes(&v["agg_shares"][i]),
                "{name}: aggregate share {i}"
            );
        }
        let expected: Vec<u128> = match &v["agg_result"] {
            Value::Array(xs) => xs.iter().map(|x| u128::from(x.as_u64().unwrap())).collect(),
            x => vec![u128::from(x.as_u64().unwrap())],
        };
        assert_eq!(unshard(&metric, &agg).unwrap(), expected, "{name}: result");
    }
    all_ok
}

#[test]
fn two_facilitator_vectors_pass() {
    for name in [
        "Prio3Count_0.json",
        "Prio3Sum_0.json",
        "Prio3Histogram_0.json",
        "Prio3SumVec_0.json",
    ] {
        assert!(run(name), "{name}");
    }
}

#[test]
fn three_facilitator_vectors_pass() {
    for name in [
        "Prio3Count_1.json",
        "Prio3Sum_1.json",
        "Prio3Histogram_1.json",
        "Prio3SumVec_1.json",
    ] {
        let v = load(name);
        assert_eq!(u(&v, "shares"), 3, "{name}");
        assert!(run(name), "{name}");
    }
}

#[test]
fn broken_report_vectors_are_refused() {
    for name in [
        "Prio3Count_bad_meas_share.json",
        "Prio3Count_bad_wire_seed.json",
        "Prio3Histogram_bad_public_share.json",
    ] {
        assert!(!run(name), "{name} was accepted");
    }
}
