//! `sealgate serve`.

use sealgate::GateError;

use crate::args::ServeArgs;
use crate::cmd::engine_config;
use crate::exit::{CliError, Exit, load_error_exit};

/// `sealgate serve`: runs until SIGTERM or SIGINT.
pub(crate) fn serve(args: &ServeArgs) -> Result<Exit, CliError> {
    sealgate_server::run(sealgate_server::ServeOptions {
        config: args.config.clone(),
        listen: args.listen,
        engine: engine_config(&args.engine),
    })
    .map_err(|error| {
        // A policy that cannot be used is exit 3, as for `check`.
        let exit = match error.downcast_ref::<GateError>() {
            Some(GateError::Load { error, .. }) => load_error_exit(error),
            Some(GateError::ParamsCheck { .. }) => Exit::PolicyError,
            _ => Exit::Usage,
        };
        CliError { exit, error }
    })?;
    Ok(Exit::Passed)
}
