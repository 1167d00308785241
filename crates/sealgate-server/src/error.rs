//! Why the server could not start, or a reload was refused.

use std::path::PathBuf;
use std::time::Duration;

use crate::ConfigError;

/// Why the server could not start, or a reload was refused. Each names the
/// part of the configuration at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A gate it names could not be loaded.
    #[error(transparent)]
    Gate(#[from] sealgate::GateError),
    /// The policy engine could not be set up.
    #[error(transparent)]
    Engine(#[from] sealgate::LoadError),
    /// Two gates share a name.
    #[error(
        "{}: two gates are named `{name}`; requests name gates by their `name`, so each must be unique",
        config.display()
    )]
    DuplicateGate {
        /// The configuration file.
        config: PathBuf,
        /// The name.
        name: String,
    },
    /// A trust file it names could not be loaded.
    #[error("[trust] {name}")]
    Trust {
        /// Its name in the configuration.
        name: String,
        /// Why.
        source: sealgate_attest::TrustFileError,
    },
    /// The signing key could not be loaded.
    #[error("[signing] key")]
    SigningKey(#[source] sealgate_attest::KeyError),
    /// The admission store is not a directory.
    #[error("[admission] store {} is not a directory; create it or fix the path", .0.display())]
    AdmissionStore(PathBuf),
    /// The admission registry store's settings (CA, docker config) could not be read.
    #[error("[admission] registry")]
    Registry(#[source] sealgate::oci::OciError),
    /// The certificate or key could not be used.
    #[error("[tls]")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The token file could not be used.
    #[error("[auth]")]
    Auth(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An operating-system resource: the listener, signals, the runtime.
    #[error("{what}")]
    Io {
        /// What could not be had.
        what: String,
        /// The OS's error.
        source: std::io::Error,
    },
    /// A reload tried to turn TLS on or off.
    #[error("TLS cannot be turned on or off by a reload; restart the server")]
    TlsToggle,
    /// A reload did not finish in time.
    #[error(
        "not loaded within the reload timeout ({}); abandoned (raise [limits] reload-timeout \
         if loading is legitimately that slow)",
        humantime::format_duration(*.0)
    )]
    ReloadTimeout(Duration),
    /// The reload's worker ended without a result.
    #[error(transparent)]
    ReloadWorker(#[from] tokio::task::JoinError),
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let what = what.into();
    move |source| ServeError::Io { what, source }
}
