//! `sealgate gate digest`.

use std::io::Write;

use anyhow::Context as _;

use crate::args::GateDigestArgs;
use crate::exit::{CliError, Exit};

/// `sealgate gate digest`: the digest `attest` records as the VSA's
/// `policy.digest` (over the gate's name, threshold, limits and each policy's
/// pin, params and limits), from the file alone: nothing is compiled or signed.
pub(crate) fn gate_digest(args: &GateDigestArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let config = sealgate::GateConfig::load(&args.gate)?;
    writeln!(out, "{}", sealgate_attest::policy_digest(&config).prefixed())
        .context("cannot write to stdout")?;
    Ok(Exit::Passed)
}
