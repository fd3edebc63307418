//! atoll's chores, one entry point: `cargo xtask <task>`.
//!
//! - `test`: the whole test suite (the README's test command; CI runs it).
//! - `lint`: `cargo fmt --check` and clippy with warnings as errors.
//! - `doc`: `cargo doc --workspace --no-deps` with warnings as errors.
//! - `audit`: `cargo deny check` (licenses, bans, sources; advisories when
//!   the RustSec database is present or reachable), per `deny.toml`.
//! - `ci`: what `.ci/run` runs: `lint`, `doc`, `audit`, `npm ci` of the
//!   Ethereum client tests and of the explorer's browser test, then `test`
//!   (which installs Debian's Chromium for the browser test when missing
//!   and run as root).
//! - `bench [cargo bench args]`: the benchmarks, every crate's (`cargo bench
//!   --workspace`) unless the arguments name a package: the network load
//!   benchmarks are `atoll-bench`'s (`cargo xtask bench -p atoll-bench --bench evm`).
//! - `fuzz <target> [args]`: one `cargo fuzz` target, seeded from its real encodings.
//! - `fuzz-all [--seconds N]`: every fuzz target for N seconds each (default 60),
//!   with a table of executions per target at the end.
//!
//! The fuzz tasks install cargo-fuzz (`cargo install cargo-fuzz --locked`) when it is missing,
//! `audit` installs cargo-deny ([`CARGO_DENY_VERSION`], `--locked`) when it is missing.

#![allow(
    clippy::print_stderr,
    reason = "a command-line tool reports progress and failures on stderr"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprintln!("usage: cargo xtask <test|lint|doc|audit|ci|bench|fuzz|fuzz-all> [args]");
        return ExitCode::from(2);
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let result = match task.as_str() {
        "test" => test(),
        "lint" => lint(),
        "doc" => doc(),
        "audit" => audit(),
        "ci" => ci(),
        "bench" => cargo(&bench_args(&rest)),
        "fuzz" => fuzz(&rest),
        "fuzz-all" => fuzz_all(&rest),
        other => Err(format!(
            "unknown task `{other}`; tasks: test, lint, doc, audit, ci, bench, fuzz, fuzz-all"
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

/// The CI gate, in the order a failure is cheapest to find: formatting and
/// clippy, the documentation, the dependency audit, then the test npm
/// projects' packages (always reinstalled from the lockfile, as a
/// fresh clone would) and every test.
fn ci() -> Result<(), String> {
    lint()?;
    doc()?;
    audit()?;
    npm_ci()?;
    test()
}

/// The API documentation of every workspace crate, warnings as errors
/// (broken intra-doc links, bad code blocks, private items linked from
/// public docs).
fn doc() -> Result<(), String> {
    cargo_with_env(
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )
}

/// The cargo-deny release `audit` installs when none is on the PATH.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// Where the RustSec advisory database comes from.
const ADVISORY_DB_HOST: &str = "github.com:443";

/// How the advisories check can run on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Advisories {
    /// The database can be fetched (and is, before the check).
    Fetch,
    /// A local copy exists but its source does not answer: check against it.
    Offline,
    /// No copy and no way to get one: the check cannot run.
    Unavailable,
}

/// What to do about advisories, from whether a local database exists and
/// whether its source answers. Pure, so the choice is tested apart from
/// the file system and the network.
fn advisories_plan(db_present: bool, reachable: bool) -> Advisories {
    match (db_present, reachable) {
        (_, true) => Advisories::Fetch,
        (true, false) => Advisories::Offline,
        (false, false) => Advisories::Unavailable,
    }
}

/// `cargo deny check` per `deny.toml`: licenses, bans and sources always;
/// advisories as [`advisories_plan`] decides, and the output says which.
fn audit() -> Result<(), String> {
    cargo_deny_setup()?;
    cargo(&[
        "deny",
        "--locked",
        "check",
        "--hide-inclusion-graph",
        "--show-stats",
        "licenses",
        "bans",
        "sources",
    ])?;
    let db = advisory_db_dir();
    let present = has_advisory_db(&db);
    let reachable = host_answers(ADVISORY_DB_HOST, Duration::from_secs(5));
    match advisories_plan(present, reachable) {
        Advisories::Fetch => {
            eprintln!(
                "xtask: advisories: fetching the RustSec database ({ADVISORY_DB_HOST} answers)"
            );
            cargo(&["deny", "--locked", "check", "advisories"])
        }
        Advisories::Offline => {
            eprintln!(
                "xtask: advisories: {ADVISORY_DB_HOST} does not answer; checking against the local RustSec database in {} (it may be out of date)",
                db.display()
            );
            cargo(&["deny", "--locked", "--offline", "check", "advisories"])
        }
        Advisories::Unavailable => {
            eprintln!(
                "xtask: advisories: SKIPPED: no RustSec database in {} and {ADVISORY_DB_HOST} does not answer; licenses, bans and sources were checked",
                db.display()
            );
            Ok(())
        }
    }
}

/// cargo-deny, installed from crates.io at [`CARGO_DENY_VERSION`] when missing.
fn cargo_deny_setup() -> Result<(), String> {
    install_if_missing("deny", &["--version", CARGO_DENY_VERSION])
}

/// `cargo-<sub>`, installed from crates.io (`cargo install --locked`, with
/// `pin`: e.g. a `--version`) when `cargo <sub> --version` does not answer.
fn install_if_missing(sub: &str, pin: &[&str]) -> Result<(), String> {
    let present = Command::new(cargo_bin())
        .args([sub, "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    let package = format!("cargo-{sub}");
    eprintln!("xtask: {package} is missing; installing it from crates.io");
    cargo(&[&["install", package.as_str(), "--locked"], pin].concat())
}

/// cargo-deny's default database directory: `$CARGO_HOME/advisory-dbs`.
fn advisory_db_dir() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    cargo_home.join("advisory-dbs")
}

/// Whether `dir` holds a cloned database (a directory with a `.git` inside).
fn has_advisory_db(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.path().join(".git").exists())
    })
}

/// Whether a TCP connection to `host:port` opens within `timeout`.
fn host_answers(host: &str, timeout: Duration) -> bool {
    use std::net::ToSocketAddrs as _;
    host.to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|a| std::net::TcpStream::connect_timeout(&a, timeout).is_ok())
    })
}

/// The npm projects of the tests: the Ethereum client tests
/// (`tests/web3-clients`), the explorer's browser test (`tests/browser`)
/// and Oasis's own SDK (`tests/oasis-clients`).
const JS_PROJECTS: &[(&str, &str)] = &[
    ("tests/web3-clients", "the Ethereum client tests' packages"),
    (
        "tests/browser",
        "the explorer's browser test (playwright-core)",
    ),
    (
        "tests/oasis-clients",
        "Oasis's TypeScript SDK (@oasisprotocol/client, client-rt)",
    ),
];

/// Installs each test npm project's packages from its lockfile (`npm ci`)
/// when they are missing or older than the lockfile, and Debian's Chromium
/// for the browser test.
fn js_clients() -> Result<(), String> {
    for (project, what) in JS_PROJECTS {
        let dir = repo_root().join(project);
        let modified = |p: std::path::PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let installed = modified(dir.join("node_modules/.package-lock.json"));
        let locked = modified(dir.join("package-lock.json"));
        if installed.is_some() && installed >= locked {
            continue;
        }
        eprintln!("xtask: npm ci in {project}: {what} (Node.js 20 or later)");
        run_npm_ci(project)?;
    }
    chromium()
}

/// `npm ci` in every test npm project, unconditionally.
fn npm_ci() -> Result<(), String> {
    for (project, what) in JS_PROJECTS {
        eprintln!("xtask: npm ci in {project}: {what}, from the lockfile");
        run_npm_ci(project)?;
    }
    Ok(())
}

fn run_npm_ci(project: &str) -> Result<(), String> {
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(repo_root().join(project))
        .status()
        .map_err(|e| format!("cannot run `npm` (Node.js 20 or later is needed): {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm ci` in {project} failed ({status})"))
    }
}

/// Where the browser test finds Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Debian's Chromium for the explorer's browser test: installed with
/// `apt-get install -y chromium` when missing and running as root; else
/// what is missing, said plainly.
fn chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).is_file() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return Err(format!(
            "the explorer's browser test needs Debian's Chromium at {CHROMIUM}; \
             install it with `sudo apt-get install -y chromium` (xtask installs it only when run as root)"
        ));
    }
    eprintln!("xtask: apt-get install -y chromium (the explorer's browser test)");
    let status = Command::new("apt-get")
        .args(["install", "-y", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot run apt-get to install chromium: {e}"))?;
    if status.success() && Path::new(CHROMIUM).is_file() {
        Ok(())
    } else {
        Err(format!(
            "`apt-get install -y chromium` failed ({status}); {CHROMIUM} is still missing"
        ))
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
    fuzz_setup()?;
    let corpus = format!("fuzz/corpus/{target}");
    let mut cmd = fuzz_command(target, &corpus);
    cmd.extend_from_slice(rest);
    cargo_with_env(&cmd, FUZZ_ENV)
}

/// `-s none`: no sanitizer, so stable Rust suffices (Rust code is memory
/// safe; the fuzzer hunts panics and broken promises). cargo-fuzz replaces
/// the config's rustflags, so the target features Deoxys-II needs are
/// passed through RUSTFLAGS, which it keeps.
const FUZZ_ENV: &[(&str, &str)] = &[("RUSTFLAGS", "-Ctarget-feature=+aes,+ssse3")];

fn fuzz_command<'a>(target: &'a str, corpus: &'a str) -> Vec<&'a str> {
    vec![
        "fuzz",
        "run",
        "--fuzz-dir",
        "fuzz",
        "-s",
        "none",
        target,
        corpus,
        "--",
    ]
}

/// cargo-fuzz, installed when missing, and every target's seed corpus
/// (`fuzz/corpus/<target>/seed-*`, encodings made by the real encoders).
fn fuzz_setup() -> Result<(), String> {
    install_if_missing("fuzz", &[])?;
    cargo(&[
        "run",
        "--quiet",
        "--locked",
        "-p",
        "atoll-fuzz-targets",
        "--bin",
        "atoll-fuzz-seeds",
        "--",
        "fuzz/corpus",
    ])
}

/// Every target under `fuzz/fuzz_targets`, in name order.
fn fuzz_targets() -> Result<Vec<String>, String> {
    let dir = repo_root().join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Runs every fuzz target for `--seconds N` (default 60) each, one after
/// the other, and prints how many inputs each executed. A target that
/// finds a failure stops the task (its input is in `fuzz/artifacts/`).
fn fuzz_all(args: &[&str]) -> Result<(), String> {
    let seconds = match args {
        [] => 60,
        ["--seconds", n] => n
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("--seconds takes a positive whole number, not `{n}`"))?,
        _ => return Err("usage: cargo xtask fuzz-all [--seconds N]".into()),
    };
    fuzz_setup()?;
    let time = format!("-max_total_time={seconds}");
    let mut table = Vec::new();
    for target in fuzz_targets()? {
        let corpus = format!("fuzz/corpus/{target}");
        let mut cmd = fuzz_command(&target, &corpus);
        cmd.extend_from_slice(&[&time, "-print_final_stats=1"]);
        eprintln!("xtask: cargo {}", cmd.join(" "));
        let out = Command::new(cargo_bin())
            .args(&cmd)
            .envs(FUZZ_ENV.iter().copied())
            .current_dir(repo_root())
            .stdout(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let runs = final_stat(&log, "stat::number_of_executed_units:");
        let coverage = final_stat(&log, "cov:");
        if !out.status.success() {
            eprintln!("{log}");
            return Err(format!(
                "fuzz target {target} failed ({}); the input is in fuzz/artifacts/{target}/",
                out.status
            ));
        }
        eprintln!("xtask: {target}: {runs} inputs in {seconds} s");
        table.push((target, runs, coverage));
    }
    eprintln!("\n| target | inputs executed | seconds | coverage (edges) |\n|---|---|---|---|");
    for (target, runs, coverage) in table {
        eprintln!("| `{target}` | {runs} | {seconds} | {coverage} |");
    }
    Ok(())
}

/// The number after `key` in libFuzzer's last line that has it.
fn final_stat(log: &str, key: &str) -> String {
    log.lines()
        .rev()
        .find_map(|line| {
            let rest = &line[line.find(key)? + key.len()..];
            rest.split_whitespace().next().map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The `cargo bench` command line for `cargo xtask bench ARGS`: the whole
/// workspace, unless ARGS choose packages themselves.
fn bench_args<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let names_package = rest
        .iter()
        .take_while(|a| **a != "--")
        .any(|a| *a == "-p" || a.starts_with("--package") || (a.starts_with("-p") && a.len() > 2));
    let mut args = vec!["bench"];
    if !names_package {
        args.push("--workspace");
    }
    args.extend_from_slice(rest);
    args
}

fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_with_env(args, &[])
}

fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = cargo_bin();
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo_root())
        .status()
        .map_err(|e| format!("cannot run `{cargo}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_the_workspace_unless_a_package_is_named() {
        assert_eq!(bench_args(&[]), ["bench", "--workspace"]);
        assert_eq!(
            bench_args(&["--bench", "evm", "--", "-p"]),
            ["bench", "--workspace", "--bench", "evm", "--", "-p"]
        );
        assert_eq!(
            bench_args(&["-p", "atoll-bench", "--bench", "evm"]),
            ["bench", "-p", "atoll-bench", "--bench", "evm"]
        );
        assert_eq!(
            bench_args(&["--package=atoll-bench"]),
            ["bench", "--package=atoll-bench"]
        );
        assert_eq!(bench_args(&["-patoll-bench"]), ["bench", "-patoll-bench"]);
    }

    #[test]
    fn advisories_run_whenever_they_can_and_skip_only_without_database_and_network() {
        let table = [
            (false, false, Advisories::Unavailable),
            (true, false, Advisories::Offline),
            (false, true, Advisories::Fetch),
            (true, true, Advisories::Fetch),
        ];
        for (present, reachable, expected) in table {
            assert_eq!(
                advisories_plan(present, reachable),
                expected,
                "database present: {present}, source reachable: {reachable}"
            );
        }
    }

    #[test]
    fn an_empty_or_missing_database_directory_holds_no_database() {
        let dir = std::env::temp_dir().join(format!("xtask-advisory-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!has_advisory_db(&dir));
        std::fs::create_dir_all(dir.join("github.com-0123")).unwrap();
        assert!(!has_advisory_db(&dir));
        std::fs::create_dir_all(dir.join("github.com-0123/.git")).unwrap();
        assert!(has_advisory_db(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
