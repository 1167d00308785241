//! How a command ends: the exit codes, the error that carries one, and the
//! mapping of library errors to them.

use sealgate::{GateError, GateReport, LoadError};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The gate passed, or the command succeeded.
    Passed = 0,
    /// The gate failed.
    Failed = 1,
    /// Bad usage or bad input (a file missing, malformed, refused).
    Usage = 2,
    /// A policy could not be used or could not give a verdict.
    PolicyError = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        Self::from(e as u8)
    }
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub exit: Exit,
    /// What went wrong (printed with its chain).
    pub error: anyhow::Error,
}

impl CliError {
    /// Bad usage or input (exit 2), for what is not a library error: a
    /// combination of flags, a message.
    pub(crate) fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Usage,
            error: error.into(),
        }
    }
}

/// The exit code a library error ends a command with: the one place that
/// decides it, so handlers use `?`.
pub(crate) trait ExitStatus {
    /// This error's exit code.
    fn exit(&self) -> Exit;
}

impl<E: ExitStatus + Into<anyhow::Error>> From<E> for CliError {
    fn from(error: E) -> Self {
        Self {
            exit: error.exit(),
            error: error.into(),
        }
    }
}

/// A gate's component that cannot be read, or is not the one the gate
/// pinned, is a bad input (exit 2); one that is read and pinned but cannot
/// be used is a policy error (exit 3). (A module named on the command line,
/// as `policy inspect` takes one, is the input itself: its handler says
/// exit 2 for any load error.)
impl ExitStatus for LoadError {
    fn exit(&self) -> Exit {
        match self {
            LoadError::Read(_)
            | LoadError::Unavailable { .. }
            | LoadError::PinMismatch { .. }
            | LoadError::Source { .. } => Exit::Usage,
            _ => Exit::PolicyError,
        }
    }
}

/// A gate file that is wrong is bad input; a policy in it that cannot be
/// used, or refuses its params, is a policy error (exit 3).
impl ExitStatus for GateError {
    fn exit(&self) -> Exit {
        match self {
            GateError::Load { error, .. } => error.exit(),
            GateError::ParamsCheck { .. } => Exit::PolicyError,
            _ => Exit::Usage,
        }
    }
}

/// The server's start: a gate keeps its code, anything else (the
/// configuration, the listener) is bad input.
impl ExitStatus for sealgate_server::ServeError {
    fn exit(&self) -> Exit {
        match self {
            sealgate_server::ServeError::Gate(e) => e.exit(),
            _ => Exit::Usage,
        }
    }
}

/// A message built in a handler (`context`): bad input.
impl ExitStatus for anyhow::Error {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

/// Inputs that are missing, unreadable or malformed: exit 2.
macro_rules! bad_input {
    ($($error:ty),* $(,)?) => {
        $(impl ExitStatus for $error {
            fn exit(&self) -> Exit {
                Exit::Usage
            }
        })*
    };
}

bad_input!(
    std::io::Error,
    serde_json::Error,
    sealgate::MetadataError,
    sealgate::InputError,
    sealgate::GateConfigError,
    sealgate::policy_test::TestFileError,
    sealgate_policy_build::BuildError,
    sealgate_policy_build::scaffold::ScaffoldError,
    sealgate_collect::CollectError,
    sealgate_attest::KeyError,
    sealgate_attest::TrustFileError,
    sealgate_log::AppendError,
    sealgate_log::VerifyError,
);

pub(crate) fn exit_for(report: &GateReport) -> Exit {
    if report.has_errors() {
        Exit::PolicyError
    } else if report.decision == sealgate::GateDecision::Passed {
        Exit::Passed
    } else {
        Exit::Failed
    }
}

/// An error and its causes on one line, each cause once
/// ([`sealgate::error_chain`]).
pub fn error_chain(error: &anyhow::Error) -> String {
    sealgate::error_chain(error.as_ref())
}

/// A registry or the local store that cannot give or take an artifact, a
/// reference that is wrong or names a tag where a digest is needed: bad
/// input (exit 2).
impl ExitStatus for sealgate::oci::OciError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}
