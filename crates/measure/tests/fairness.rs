//! The two-party fairness computation with known answers: exact without
//! noise, within the bound with it; small groups suppressed; a lying or
//! silent facilitator caught; hostile rows refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atoll_measure::fairness::{
    FairnessError, FairnessResult, blind_id, compute_local, deal_groups, deal_outcomes, open_totals,
};
use atoll_measure::rss::{self, OpenError, Share};

const JOIN_KEY: [u8; 32] = [7; 32];
const GROUPS: usize = 4;

/// Synthetic records: (pseudonymous id, group, prediction, outcome). Group 3 is tiny.
fn records() -> Vec<(Vec<u8>, u32, bool, bool)> {
    (0..200u32)
        .map(|i| {
            let g = if i % 50 == 0 { 3 } else { i % 3 };
            let p = (i * 7 + g) % 5 < 2 + g;
            let y = (i / 3) % 4 != 0;
            (format!("user-{i}").into_bytes(), g, p, y)
        })
        .collect()
}

fn truth(recs: &[(Vec<u8>, u32, bool, bool)]) -> Vec<[i64; 4]> {
    let mut t = vec![[0i64; 4]; GROUPS];
    for (_, g, p, y) in recs {
        let c = &mut t[*g as usize];
        c[0] += 1;
        c[1] += i64::from(*p);
        c[2] += i64::from(*y);
        c[3] += i64::from(*p && *y);
    }
    t
}

fn dealt(
    recs: &[(Vec<u8>, u32, bool, bool)],
) -> (
    [Vec<atoll_measure::fairness::GroupRow>; 3],
    [Vec<atoll_measure::fairness::OutcomeRow>; 3],
) {
    // The survey vendor and the model owner each hold their half; the
    // model owner's list comes in another order and has an extra record.
    let survey: Vec<([u8; 32], u32)> = recs
        .iter()
        .map(|(id, g, _, _)| (blind_id(&JOIN_KEY, id), *g))
        .collect();
    let mut model: Vec<([u8; 32], bool, bool)> = recs
        .iter()
        .rev()
        .map(|(id, _, p, y)| (blind_id(&JOIN_KEY, id), *p, *y))
        .collect();
    model.push((blind_id(&JOIN_KEY, b"not surveyed"), true, true));
    (deal_groups(&survey, GROUPS).unwrap(), deal_outcomes(&model))
}

#[test]
fn exact_counts_rates_and_gaps_without_noise() {
    let recs = records();
    let (g, o) = dealt(&recs);
    let keys = rss::keys_from_seed(&[3; 32]);
    let totals = compute_local(GROUPS, &keys, &g, &o, 0).unwrap();
    let result = open_totals(&totals.clone().map(Some), GROUPS, 10).unwrap();
    let t = truth(&recs);
    let expected = FairnessResult::from_counts(&[Some(t[0]), Some(t[1]), Some(t[2]), None]);
    assert_eq!(result, expected);
    // Spot-check the figures themselves against the truth.
    let g0 = &result.groups[0];
    assert_eq!(g0.records, Some(t[0][0]));
    assert_eq!(g0.selection_rate_ppm, Some(t[0][1] * 1_000_000 / t[0][0]));
    assert_eq!(g0.tpr_ppm, Some(t[0][3] * 1_000_000 / t[0][2]));
    assert_eq!(
        g0.fpr_ppm,
        Some((t[0][1] - t[0][3]) * 1_000_000 / (t[0][0] - t[0][2]))
    );
    assert!(
        result.groups[3].records.is_none(),
        "group 3 has {} < 10 records",
        t[3][0]
    );
    assert!(result.selection_rate_gap_ppm.unwrap() > 0);
    // A silent facilitator does not stop the result.
    for missing in 0..3 {
        let mut r = totals.clone().map(Some);
        r[missing] = None;
        assert_eq!(open_totals(&r, GROUPS, 10).unwrap(), expected);
    }
}

#[test]
fn noise_stays_within_its_bound() {
    let recs = records();
    let (g, o) = dealt(&recs);
    let keys = rss::keys_from_seed(&[4; 32]);
    let trials = 64u32;
    let totals = compute_local(GROUPS, &keys, &g, &o, trials).unwrap();
    let result = open_totals(&totals.map(Some), GROUPS, 0).unwrap();
    let t = truth(&recs);
    // Three dealers each add at most trials/2 in absolute value.
    let bound = 3 * i64::from(trials / 2);
    for (k, gr) in result.groups.iter().enumerate() {
        // A group whose noisy count fell below zero is suppressed: that can
        // only happen to a group whose true count is within the bound.
        let Some(records) = gr.records else {
            assert!(
                t[k][0] <= bound,
                "group {k} suppressed with {} records",
                t[k][0]
            );
            continue;
        };
        let got = [Some(records), gr.selected, gr.positives, gr.true_positives].map(|x| x.unwrap());
        for j in 0..4 {
            assert!(
                (got[j] - t[k][j]).abs() <= bound,
                "group {k} cell {j}: {} vs {}",
                got[j],
                t[k][j]
            );
        }
    }
}

#[test]
fn a_lying_facilitator_is_caught() {
    let recs = records();
    let (g, o) = dealt(&recs);
    let keys = rss::keys_from_seed(&[5; 32]);
    let totals = compute_local(GROUPS, &keys, &g, &o, 0).unwrap();
    let mut r = totals.clone().map(Some);
    let liar = r[2].as_mut().unwrap();
    liar.groups[1][0] = Share {
        own: liar.groups[1][0].own + 1,
        next: liar.groups[1][0].next + 1,
    };
    match open_totals(&r, GROUPS, 0) {
        Err(FairnessError::Open(OpenError::Inconsistent { suspects, .. })) => {
            assert_eq!(suspects, vec![2])
        }
        other => panic!("{other:?}"),
    }
    let mut r = totals.map(Some);
    r[0] = None;
    r[1] = None;
    assert!(matches!(
        open_totals(&r, GROUPS, 0),
        Err(FairnessError::Open(OpenError::TooFew))
    ));
}

#[test]
fn hostile_rows_are_refused() {
    let id = blind_id(&JOIN_KEY, b"a");
    assert_eq!(
        deal_groups(&[(id, 4)], GROUPS).unwrap_err(),
        FairnessError::GroupOutOfRange
    );
    assert_eq!(
        deal_groups(&[(id, 0)], 0).unwrap_err(),
        FairnessError::GroupOutOfRange
    );
    let g = deal_groups(&[(id, 1), (id, 2)], GROUPS).unwrap();
    let o = deal_outcomes(&[(id, true, false)]);
    let keys = rss::keys_from_seed(&[6; 32]);
    assert_eq!(
        compute_local(GROUPS, &keys, &g, &o, 0).unwrap_err(),
        FairnessError::DuplicateId
    );
    let g = deal_groups(&[(id, 1)], GROUPS).unwrap();
    assert_eq!(
        compute_local(3, &keys, &g, &o, 0).unwrap_err(),
        FairnessError::Malformed
    );
    // Ids differ per join key: the facilitators cannot link them to the raw ids.
    assert_ne!(blind_id(&JOIN_KEY, b"a"), blind_id(&[8; 32], b"a"));
}
