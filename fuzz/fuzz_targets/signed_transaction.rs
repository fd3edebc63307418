//! libFuzzer on the `signed_transaction` target: see `atoll_fuzz_targets::TARGETS` for
//! what it feeds and what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let target = atoll_fuzz_targets::target("signed_transaction").expect("the target exists");
    (target.run)(data);
});
