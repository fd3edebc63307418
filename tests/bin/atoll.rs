//! The `atoll` command, built in this package so that the end-to-end tests
//! can run it (`CARGO_BIN_EXE_atoll-under-test`); see `e2e/common.rs`.

fn main() -> std::process::ExitCode {
    atoll_cli::main()
}
