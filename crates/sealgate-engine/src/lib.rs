//! The sandboxed host that runs sealgate policies.
//!
//! A policy is a WebAssembly component targeting the `gate-policy` world in
//! `wit/policy.wit`. This crate:
//!
//! 1. **loads** a component file: refuses it unless its SHA-256 equals the pin
//!    *before* compiling it, refuses any import outside what the host offers
//!    (naming it), and compiles it once per [`PolicyEngine`] (with an optional
//!    content-addressed on-disk cache of precompiled code, see [`cache`]);
//! 2. **evaluates** it in a fresh `Store` per call, from a reused `InstancePre`,
//!    so nothing leaks between evaluations, under the hard limits of
//!    [`SandboxLimits`](sealgate_core::SandboxLimits) (fuel, wall-clock
//!    deadline, memory, tables, instances, output and log size), all applied in
//!    one place: [`sandbox`];
//! 3. grants **no ambient capability**: the host interface offers a bounded log
//!    and regex matching; components from standard toolchains that import WASI
//!    get a WASI context with no files, no environment, no arguments, no
//!    sockets, a clock frozen at the evaluation time and deterministic
//!    "randomness".
//!
//! ```no_run
//! use sealgate_core::{EvaluationContext, SandboxLimits, Sha256Digest};
//! use sealgate_engine::{EngineConfig, PolicyEngine};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = PolicyEngine::new(EngineConfig::default())?;
//! let pin: Sha256Digest = "…".parse()?;
//! let policy = engine.load("pii.wasm".as_ref(), &pin)?;
//! policy.validate_params("{}", &SandboxLimits::default())?;
//! let eval = policy.evaluate(
//!     r#"{"api_version":"sealgate/metadata/v1"}"#,
//!     "{}",
//!     &EvaluationContext::now("my-gate"),
//!     &SandboxLimits::default(),
//! );
//! println!("{:?}", eval.verdict);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod cache;
mod engine;
mod error;
pub mod host;
mod module;
pub mod sandbox;

pub use cache::default_cache_key_file;
pub use engine::{EngineConfig, PolicyEngine};
pub use error::{EvalError, EvalErrorKind, LoadError};
pub use module::{
    CacheStatus, Contract, Evaluation, MAX_CATALOGUE_RULES, MAX_RULE_SUMMARY_BYTES, PolicyInfo, PolicyModule,
    RuleInfo,
};
/// The wasmtime this engine is built on; use it rather than your own so both agree.
pub use wasmtime;

/// Generated bindings of the `gate-policy` world, one module per contract
/// version the host loads (see `module.rs` for how a component's version is
/// picked).
mod bindings {
    /// `sealgate:policy@0.2.0` (`wit/policy.wit`): the current contract.
    pub mod v0_2 {
        wasmtime::component::bindgen!({
            path: "../../wit",
            world: "gate-policy",
            // May trap: a call made after the evaluation's deadline ends it.
            imports: { "sealgate:policy/host.regex-is-match": trappable },
        });
    }
    /// `sealgate:policy@0.1.0` (`wit/v0.1.0/policy.wit`): components built
    /// before the rule catalogue still load.
    pub mod v0_1 {
        wasmtime::component::bindgen!({
            path: "../../wit/v0.1.0",
            world: "gate-policy",
            imports: { "sealgate:policy/host.regex-is-match": trappable },
        });
    }
}
