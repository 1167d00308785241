//! `sealgate collect`.

use std::io::Write;

use anyhow::Context as _;

use crate::args::CollectArgs;
use crate::cmd::collect_document;
use crate::exit::{CliError, Exit};

/// `sealgate collect`.
pub(crate) fn collect(args: &CollectArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let doc = collect_document(&args.sources, args.artifact.clone())?;
    match &args.out {
        Some(path) => sealgate_attest::write_atomically(path, doc.text().as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out
            .write_all(doc.text().as_bytes())
            .context("cannot write to stdout")?,
    }
    Ok(Exit::Passed)
}
