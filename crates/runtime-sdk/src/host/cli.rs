//! The command line every SDK ParaTime binary shares:
//! `--runtime-id HEX [--genesis PATH]`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::HostedRuntime;
use crate::RuntimeGenesis;
use atoll_runtime_host::runtime::serve;
use atoll_types::Namespace;
use atoll_types::cbor;

/// How to call a ParaTime binary named `name`.
pub fn usage(name: &str) -> String {
    format!("usage: {name} --runtime-id HEX [--genesis PATH]")
}

/// The command line.
struct Args {
    runtime_id: Namespace,
    genesis: Option<PathBuf>,
}

fn parse_args(args: Vec<std::ffi::OsString>) -> Result<Args, String> {
    let mut runtime_id = None;
    let mut genesis = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{} needs a value", arg.to_string_lossy()))?;
        match arg.to_str() {
            Some("--runtime-id") => {
                let hex = value
                    .to_str()
                    .ok_or_else(|| "--runtime-id is not UTF-8".to_owned())?;
                runtime_id = Some(
                    hex.parse::<Namespace>()
                        .map_err(|e| format!("bad --runtime-id: {e}"))?,
                );
            }
            Some("--genesis") => genesis = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown argument {}", arg.to_string_lossy())),
        }
    }
    Ok(Args {
        runtime_id: runtime_id.ok_or_else(|| "--runtime-id is required".to_owned())?,
        genesis,
    })
}

fn load_genesis(path: &PathBuf) -> Result<RuntimeGenesis, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read genesis {}: {e}", path.display()))?;
    cbor::from_slice(&bytes).map_err(|e| format!("bad genesis {}: {e}", path.display()))
}

/// Runs a ParaTime binary with command-line `args` (without the program
/// name) until the host closes the socket: `build` makes the runtime from
/// the runtime id and the genesis file's contents; `name` prefixes error
/// messages. Exit codes: 2 for a bad command line or genesis file, 1 when
/// the runtime cannot be built or serving fails, 0 when the host closed
/// the socket.
#[allow(
    clippy::print_stderr,
    reason = "the runtime reports its fatal errors on standard error"
)]
pub fn run(
    name: &str,
    args: Vec<std::ffi::OsString>,
    build: impl FnOnce(Namespace, Option<RuntimeGenesis>) -> Result<HostedRuntime, String>,
) -> ExitCode {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{name}: {e}\n{}", usage(name));
            return ExitCode::from(2);
        }
    };
    let genesis = match args.genesis.as_ref().map(load_genesis).transpose() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    let handler = match build(args.runtime_id, genesis) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{name}: cannot build the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match serve(handler) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
