//! Writes every fuzz target's seeds into a corpus directory:
#![allow(
    clippy::print_stderr,
    reason = "a command-line tool reports failures on stderr"
)]
//! `atoll-fuzz-seeds DIR` makes `DIR/<target>/seed-<n>` for each target
//! (`cargo xtask fuzz` and `fuzz-all` run it before libFuzzer starts).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: atoll-fuzz-seeds DIR");
        return ExitCode::from(2);
    };
    for t in atoll_fuzz_targets::TARGETS {
        let out = dir.join(t.name);
        if let Err(e) = std::fs::create_dir_all(&out) {
            eprintln!("cannot create {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        for (i, seed) in (t.seeds)().into_iter().enumerate() {
            let path = out.join(format!("seed-{i}"));
            if let Err(e) = std::fs::write(&path, seed) {
                eprintln!("cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
