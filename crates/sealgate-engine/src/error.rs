use std::path::PathBuf;

use sealgate_core::{InputError, Sha256Digest};

/// Why a policy component could not be loaded. Nothing of it has run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read (missing, a directory, too large).
    #[error(transparent)]
    Read(#[from] InputError),
    /// The component could not be had from where an embedding application
    /// keeps components (a store, a registry): not there, or not fetched.
    #[error("{}: component not available: {reason}", path.display())]
    Unavailable {
        /// What the gate names.
        path: PathBuf,
        /// Why, in the resolver's words.
        reason: String,
    },
    /// A file a policy reads (a Rego module, its JSON data) is not what its
    /// kind must be: not UTF-8, not JSON with one reading, too large.
    #[error("{}: {reason}", path.display())]
    Source {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file's digest is not the pinned one. It was not compiled.
    #[error(
        "{}: sha256 is {actual}, but the gate pins {expected}; refusing to compile it. \
         If the policy was rebuilt on purpose, update the pin in the gate file",
        path.display()
    )]
    PinMismatch {
        /// The component file.
        path: PathBuf,
        /// The pin from the gate.
        expected: Sha256Digest,
        /// What the file hashes to.
        actual: Sha256Digest,
    },
    /// Not a valid WebAssembly component (a core module, truncated, garbage).
    #[error("{}: not a valid WebAssembly component: {reason}", path.display())]
    NotAComponent {
        /// The file.
        path: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// The component imports something the host does not offer.
    #[error(
        "{}: imports `{import}`, which the sealgate host does not offer; a policy may import only \
         `sealgate:policy/host` (and WASI, which grants nothing)",
        path.display()
    )]
    ForbiddenImport {
        /// The file.
        path: PathBuf,
        /// The import's name.
        import: String,
    },
    /// The component does not export the `gate-policy` world's `policy` interface.
    #[error("{}: does not implement the sealgate:policy `gate-policy` world (0.2.0, or 0.1.0): {reason}", path.display())]
    WrongWorld {
        /// The file.
        path: PathBuf,
        /// What is missing or mistyped.
        reason: String,
    },
    /// Calling the policy's `info` export failed.
    #[error("{}: its `info` export failed: {reason}", path.display())]
    Info {
        /// The file.
        path: PathBuf,
        /// The trap or error.
        reason: String,
    },
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
}

/// Why an evaluation gave no verdict. Any of these is an ERROR outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The fuel limit was reached.
    #[error("CPU limit reached: used all {fuel} units of fuel (limit `fuel`)")]
    OutOfFuel {
        /// The limit.
        fuel: u64,
    },
    /// The wall-clock deadline passed.
    #[error(
        "time limit reached: stopped after {elapsed_ms} ms of real time, past the {millis} ms limit (limit `timeout-ms`)"
    )]
    Timeout {
        /// The limit in milliseconds.
        millis: u64,
        /// Real time from instantiation until the evaluation was stopped.
        elapsed_ms: u64,
    },
    /// A resource limit (memory, table, instances) was hit.
    #[error("resource limit reached: {0}")]
    ResourceLimit(String),
    /// The guest trapped (panic, `unreachable`, stack overflow, bad access).
    #[error("policy trapped: {0}")]
    Trap(String),
    /// The policy returned an error from `evaluate` or `validate-params`.
    #[error("policy returned an error: {0}")]
    Policy(String),
    /// The verdict is larger than the output cap.
    #[error(
        "verdict too large: {bytes} bytes of findings exceed the {limit}-byte limit (limit `output-bytes`)"
    )]
    OutputTooLarge {
        /// Size of the verdict.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The verdict breaks the contract (e.g. an empty or malformed rule id).
    #[error("malformed verdict: {0}")]
    MalformedVerdict(String),
    /// The host could not set up the evaluation.
    #[error("host error: {0}")]
    Host(String),
}

/// The kind of an [`EvalError`], for metrics and logs; shown by its stable
/// name (`out-of-fuel`, `timeout`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EvalErrorKind {
    /// [`EvalError::OutOfFuel`].
    OutOfFuel,
    /// [`EvalError::Timeout`].
    Timeout,
    /// [`EvalError::ResourceLimit`].
    ResourceLimit,
    /// [`EvalError::Trap`].
    Trap,
    /// [`EvalError::Policy`].
    PolicyError,
    /// [`EvalError::OutputTooLarge`].
    OutputTooLarge,
    /// [`EvalError::MalformedVerdict`].
    MalformedVerdict,
    /// [`EvalError::Host`].
    Host,
}

impl EvalErrorKind {
    /// The stable name: `out-of-fuel`, `timeout`, `resource-limit`, `trap`,
    /// `policy-error`, `output-too-large`, `malformed-verdict` or `host`.
    pub fn name(self) -> &'static str {
        match self {
            Self::OutOfFuel => "out-of-fuel",
            Self::Timeout => "timeout",
            Self::ResourceLimit => "resource-limit",
            Self::Trap => "trap",
            Self::PolicyError => "policy-error",
            Self::OutputTooLarge => "output-too-large",
            Self::MalformedVerdict => "malformed-verdict",
            Self::Host => "host",
        }
    }
}

impl std::fmt::Display for EvalErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl EvalError {
    /// The kind of failure, for metrics and logs.
    pub fn kind(&self) -> EvalErrorKind {
        match self {
            Self::OutOfFuel { .. } => EvalErrorKind::OutOfFuel,
            Self::Timeout { .. } => EvalErrorKind::Timeout,
            Self::ResourceLimit(_) => EvalErrorKind::ResourceLimit,
            Self::Trap(_) => EvalErrorKind::Trap,
            Self::Policy(_) => EvalErrorKind::PolicyError,
            Self::OutputTooLarge { .. } => EvalErrorKind::OutputTooLarge,
            Self::MalformedVerdict(_) => EvalErrorKind::MalformedVerdict,
            Self::Host(_) => EvalErrorKind::Host,
        }
    }
}
