//! atoll's chores, one entry point: `cargo xtask <task>`.
//!
//! - `test`: the whole test suite (the README's test command; CI runs it).
//! - `lint`: `cargo fmt --check` and clippy with warnings as errors.
//! - `ci`: `lint`, then `test`.
//! - `bench [cargo bench args]`: the criterion benchmarks.
//! - `fuzz <target> [args]`: a `cargo fuzz` target (needs `cargo install cargo-fuzz`).

#![allow(
    clippy::print_stderr,
    reason = "a command-line tool reports progress and failures on stderr"
)]

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprintln!("usage: cargo xtask <test|lint|ci|bench|fuzz> [args]");
        return ExitCode::from(2);
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let result = match task.as_str() {
        "test" => test(),
        "lint" => lint(),
        "ci" => lint().and_then(|()| test()),
        "bench" => cargo(&[&["bench", "--workspace"], rest.as_slice()].concat()),
        "fuzz" => fuzz(&rest),
        other => Err(format!(
            "unknown task `{other}`; tasks: test, lint, ci, bench, fuzz"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every test: unit, integration and end-to-end tests under nextest, then the
/// documentation examples (which nextest does not run).
fn test() -> Result<(), String> {
    js_clients()?;
    cargo(&[
        "nextest",
        "run",
        "--workspace",
        "--locked",
        "--no-fail-fast",
    ])?;
    cargo(&["test", "--doc", "--workspace", "--locked"])
}

/// The npm project of the Ethereum client tests (`tests/web3-clients`).
const JS_CLIENTS: &str = "tests/web3-clients";

/// Installs the Ethereum client tests' npm packages from their lockfile
/// (`npm ci`) when they are missing or older than the lockfile.
fn js_clients() -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join(JS_CLIENTS);
    let modified = |p: std::path::PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    let locked = modified(dir.join("package-lock.json"));
    if installed.is_some() && installed >= locked {
        return Ok(());
    }
    eprintln!("xtask: npm ci in {JS_CLIENTS} (Node.js 18 or later)");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .map_err(|e| format!("cannot run `npm` (Node.js 18 or later is needed): {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm ci` in {JS_CLIENTS} failed ({status})"))
    }
}

fn lint() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])
}

fn fuzz(args: &[&str]) -> Result<(), String> {
    let Some((target, rest)) = args.split_first() else {
        return Err(
            "usage: cargo xtask fuzz <target> [libfuzzer args]; targets: see fuzz/fuzz_targets"
                .into(),
        );
    };
    // `-s none`: no sanitizer, so stable Rust suffices (Rust code is memory
    // safe; the fuzzer hunts panics and broken round trips). cargo-fuzz
    // replaces the config's rustflags, so the target features Deoxys-II needs
    // are passed through RUSTFLAGS, which it keeps.
    let mut cmd = vec!["fuzz", "run", "--fuzz-dir", "fuzz", "-s", "none", target];
    if !rest.is_empty() {
        cmd.push("--");
        cmd.extend_from_slice(rest);
    }
    cargo_with_env(&cmd, &[("RUSTFLAGS", "-Ctarget-feature=+aes,+ssse3")])
}

fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_with_env(args, &[])
}

fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("cannot run `{cargo}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}
