//! `sealgate check`.

use std::io::Write;

use crate::args::CheckArgs;
use crate::cmd::{evaluate, record};
use crate::exit::{CliError, Exit, exit_for};
use crate::output::write_report;
use crate::report;

/// `sealgate check`.
pub(crate) fn check(args: &CheckArgs, out: &mut dyn Write, paint: report::Paint) -> Result<Exit, CliError> {
    let (_, metadata, report) = evaluate(&args.gate, args.artifact_digest, None)?;
    write_report(out, args.gate.format, &report, &metadata, paint)?;
    record(
        &args.gate.log,
        sealgate_log::Decision::of_report(sealgate_log::LoggedCommand::Check, &report),
    )?;
    Ok(exit_for(&report))
}
