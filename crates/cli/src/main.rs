//! `atoll`: the command-line tool of the atoll network (see [`atoll_cli`]).

fn main() -> std::process::ExitCode {
    atoll_cli::main()
}
