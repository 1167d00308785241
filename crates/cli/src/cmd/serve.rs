//! `sealgate serve`.

use crate::args::ServeArgs;
use crate::cmd::engine_config;
use crate::exit::{CliError, Exit};

/// `sealgate serve`: runs until SIGTERM or SIGINT.
pub(crate) fn serve(args: &ServeArgs) -> Result<Exit, CliError> {
    // A policy that cannot be used is exit 3, as for `check` (exit.rs).
    sealgate_server::run(
        sealgate_server::ServeOptions::new(args.config.clone())
            .with_listen(args.listen)
            .with_engine(engine_config(&args.engine)),
    )?;
    Ok(Exit::Passed)
}
