//! The `sealgate` command. All the work is in the `sealgate_cli` library; this
//! only parses arguments, dispatches, and maps errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sealgate_cli::Cli::parse();
    let stdout = std::io::stdout();
    match sealgate_cli::run(&cli, &mut stdout.lock()) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {}", sealgate_cli::error_chain(&err.error));
            err.exit.into()
        }
    }
}
