//! The `sealgate` command line, as a library: each command is a function
//! returning an [`Exit`], so tests can call them directly.
//!
//! Exit codes: 0 passed, 1 failed, 2 usage or input error, 3 policy error
//! (a policy trapped, hit a limit, or its component could not be used).

use std::io::Write;

mod args;
mod ci_formats;
mod cmd;
mod exit;
mod output;
mod report;

pub use args::{Cli, ColorChoice, Format, ReportFormat};
pub use exit::{CliError, Exit, error_chain};

use args::{Command, GateCommand, LogCommand, PolicyCommand};
use cmd::*;

/// Run a parsed command line, writing results to `out` (diagnostics go to stderr).
///
/// # Errors
///
/// A [`CliError`] carrying the exit code (2 bad usage or input, 3 a policy that cannot be used).
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Exit, CliError> {
    let paint = cli.color.paint();
    match &cli.command {
        Command::Check(args) => check(args, out, paint),
        Command::Attest(args) => attest(args, out, paint),
        Command::Verify(args) => verify(args, out, paint),
        Command::Keygen(args) => keygen(args, out),
        Command::Collect(args) => collect(args, out),
        Command::Policy(PolicyCommand::Build(args)) => build(args, out),
        Command::Policy(PolicyCommand::Inspect(args)) => inspect(args, out),
        Command::Policy(PolicyCommand::Test(args)) => policy_test(args, out),
        Command::Policy(PolicyCommand::New(args)) => policy_new(args, out),
        Command::Policy(PolicyCommand::Bench(args)) => policy_bench(args, out),
        Command::Policy(PolicyCommand::Push(args)) => policy_push(args, out),
        Command::Policy(PolicyCommand::Pull(args)) => policy_pull(args, out),
        Command::Log(LogCommand::Verify(args)) => log_verify(args, out),
        Command::Gate(GateCommand::Digest(args)) => gate_digest(args, out),
        Command::Gate(GateCommand::Push(args)) => cmd::gate_push(args, out),
        Command::Serve(args) => serve(args),
    }
}
