//! What the benchmarks share: the binary they run.

use std::path::{Path, PathBuf};

/// The `atoll` command the benchmark's network runs: this package's
/// `atoll-under-bench` binary (built with the benchmark's profile),
/// installed as `atoll` in the target's scratch directory so that the
/// nodes find their built-in ParaTimes (`binary = "atoll"`, looked up next
/// to the node's executable) in the same build.
pub fn atoll() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_atoll-under-bench"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-bin");
    atoll_localnet::harness::install_as_atoll(exe, &dir)
        .unwrap_or_else(|e| panic!("cannot install {} as atoll: {e}", exe.display()))
}
