//! The `atoll` command, built in this package so that the benchmarks can
//! run it (`CARGO_BIN_EXE_atoll-under-bench`); see `benches/common/mod.rs`.

fn main() -> std::process::ExitCode {
    atoll_cli::main()
}
