//! Domain types shared by every sealgate crate.
//!
//! This crate does not link a WebAssembly runtime, so it builds and tests fast.
//! It holds what a gate *is* and what it *says*:
//!
//! - [`GateConfig`]: a gate file (TOML), parsed strictly;
//! - [`SandboxLimits`]: the hard limits every evaluation runs under;
//! - [`Finding`], [`Verdict`]: what a policy answers;
//! - [`PolicyResult`], [`GateReport`]: what the gate decided and why;
//! - [`Sha256Digest`] and bounded file reading shared by all inputs.
#![deny(missing_docs)]

mod digest;
mod gate;
mod input;
mod limits;
pub mod private_fs;
mod report;
pub mod strict_json;
mod verdict;

pub use digest::{DigestError, Sha256Digest};
pub use gate::{API_VERSION as GATE_API_VERSION, GateConfig, GateConfigError, PinnedFile, PolicyEntry};
pub use input::{
    ApiVersion, InputError, TomlFileError, error_chain, open_regular, parse_toml, read_bounded, read_opened,
    read_toml_file, toml_error, write_atomically, write_atomically_readable,
};
pub use limits::{LimitError, LimitOverrides, SandboxLimits};
pub use report::{EvaluationContext, GateDecision, GateReport, LogLine, PolicyOutcome, PolicyResult};
pub use verdict::{Finding, Severity, Verdict};
