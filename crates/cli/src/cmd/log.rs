//! `sealgate log verify`.

use std::io::Write;

use anyhow::Context as _;

use crate::args::{Format, LogVerifyArgs};
use crate::exit::{CliError, Exit};
use crate::output;

/// `sealgate log verify`.
pub(crate) fn log_verify(args: &LogVerifyArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let expected = sealgate_log::Expected {
        entries: args.expect_entries,
        head: args.expect_head,
    };
    let result = sealgate_log::verify(&args.file, &expected);
    let (exit, doc) = match &result {
        Ok(v) => (
            Exit::Passed,
            serde_json::json!({
                "file": args.file,
                "intact": true,
                "entries": v.entries,
                "head": v.head.map(|h| h.to_string()),
            }),
        ),
        Err(sealgate_log::VerifyError::Broken { broken, .. }) => (
            Exit::Failed,
            serde_json::json!({
                "file": args.file,
                "intact": false,
                "line": broken.line,
                "problem": broken.problem,
            }),
        ),
        // Unreadable (or anything but a broken chain): bad input.
        Err(e) => {
            return Err(CliError::usage(anyhow::anyhow!("{e}")));
        }
    };
    let written = match args.format {
        Format::Json => output::json(out, &doc),
        Format::Text => match &result {
            Ok(v) => writeln!(
                out,
                "decision log {}: intact, {} entries, head {}",
                args.file.display(),
                v.entries,
                v.head.map_or("(empty)".to_owned(), |h| format!("sha256:{h}"))
            ),
            Err(e) => writeln!(out, "{e}"),
        },
    };
    written.context("cannot write to stdout")?;
    Ok(exit)
}
