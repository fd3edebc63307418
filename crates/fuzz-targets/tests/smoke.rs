//! A short run of every fuzz target, part of the test suite: each target's
//! seeds, then a bounded number of deterministic mutations of them. libFuzzer
//! explores far more (`cargo xtask fuzz-all --seconds N`); this catches a
//! decoder change that breaks a promise on the next `cargo xtask test`.

#![allow(
    clippy::print_stderr,
    clippy::panic,
    clippy::expect_used,
    reason = "a test: it fails loudly, and names the input that broke a target so it can be replayed"
)]

use atoll_fuzz_targets::{Mutator, TARGETS};

/// Mutated inputs per target.
const RUNS: usize = 20_000;

#[test]
fn every_target_survives_its_seeds_and_their_mutations() {
    for t in TARGETS {
        let seeds = (t.seeds)();
        assert!(!seeds.is_empty(), "{} has no seeds", t.name);
        for seed in &seeds {
            (t.run)(seed);
        }
        // Each target its own stream, stable across runs and machines.
        let mut m = Mutator::new(u64::from_le_bytes(
            atoll_crypto::Hash::digest(t.name.as_bytes()).0[..8]
                .try_into()
                .expect("eight bytes"),
        ));
        let mut input = Vec::new();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for i in 0..RUNS {
                input = m.mutate(&seeds[i % seeds.len()], &seeds);
                (t.run)(&input);
            }
        }));
        if outcome.is_err() {
            eprintln!("{} broke on input {}", t.name, hex::encode(&input));
            panic!("fuzz target {} failed", t.name);
        }
    }
}

#[test]
fn every_target_has_a_libfuzzer_binary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    for t in TARGETS {
        let path = dir.join(format!("{}.rs", t.name));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            text.contains(&format!("target(\"{}\")", t.name)),
            "{} does not run the target {}",
            path.display(),
            t.name
        );
    }
}
