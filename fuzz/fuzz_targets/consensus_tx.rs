//! libFuzzer on the `consensus_tx` target: see `atoll_fuzz_targets::TARGETS` for
//! what it feeds and what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let target = atoll_fuzz_targets::target("consensus_tx").expect("the target exists");
    (target.run)(data);
});
