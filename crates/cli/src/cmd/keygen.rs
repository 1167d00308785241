//! `sealgate keygen`.

use std::io::Write;

use anyhow::Context as _;

use crate::args::KeygenArgs;
use crate::exit::{CliError, Exit};

/// `sealgate keygen`.
pub(crate) fn keygen(args: &KeygenArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let key = sealgate_attest::generate(&args.out, &args.name)?;
    writeln!(
        out,
        "private key {} (mode 0600; keep it secret)\npublic key  {}\nkey id      {}",
        key.private_key.display(),
        key.public_key.display(),
        key.key_id
    )
    .context("cannot write to stdout")?;
    Ok(Exit::Passed)
}
