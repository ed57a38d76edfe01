//! The `cow` command line: parse, dispatch, print the error, exit.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
