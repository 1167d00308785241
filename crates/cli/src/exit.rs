//! How a command ends: the exit codes, the error that carries one, and the
//! mapping of library errors to them.

use sealgate::{GateReport, LoadError};

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
    pub(crate) fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Usage,
            error: error.into(),
        }
    }
}

/// A component that cannot be read, or is not the one the gate pinned, is a
/// bad input (exit 2); one that is read and pinned but cannot be used is a
/// policy error (exit 3).
pub(crate) fn load_error_exit(e: &LoadError) -> Exit {
    match e {
        LoadError::Read(_) | LoadError::PinMismatch { .. } => Exit::Usage,
        _ => Exit::PolicyError,
    }
}

pub(crate) fn exit_for(report: &GateReport) -> Exit {
    if report.has_errors() {
        Exit::PolicyError
    } else if report.decision == sealgate::GateDecision::Passed {
        Exit::Passed
    } else {
        Exit::Failed
    }
}

/// An error and its causes on one line, as `{:#}` prints them, without a
/// cause already quoted by the message before it (many library errors say
/// their source in their own message: `cannot read F: No such file`).
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
