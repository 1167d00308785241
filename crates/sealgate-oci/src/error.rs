use std::path::PathBuf;

/// Why an OCI operation did not complete. Every variant names the reference
/// (or the store) it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// Not an `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]` reference.
    #[error("`{reference}` is not an OCI reference: {reason}")]
    Reference {
        /// The text given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tag where a digest is required.
    #[error(
        "`{reference}` names a tag, not a digest: {what} must name the artifact by digest \
         (`…@sha256:<manifest digest>`, as `sealgate policy push` prints it), because a tag can be \
         moved to other content at any time"
    )]
    NotPinned {
        /// The reference.
        reference: String,
        /// What needed the digest.
        what: &'static str,
    },
    /// The registry refused, failed or could not be reached.
    #[error("{reference}: {operation}: {source}")]
    Registry {
        /// The reference.
        reference: String,
        /// What was being done (`fetching the manifest`).
        operation: &'static str,
        /// oci-client's error.
        #[source]
        source: oci_client::errors::OciDistributionError,
    },
    /// The registry did not answer in time.
    #[error("{reference}: {operation}: no answer within {seconds} s (the registry is down or too slow)")]
    Timeout {
        /// The reference.
        reference: String,
        /// What was being done.
        operation: &'static str,
        /// The limit.
        seconds: u64,
    },
    /// Content whose digest is not the one asked for: tampered or corrupt.
    #[error("{reference}: the registry served {what} whose sha256 is {actual}, not the {expected} asked for")]
    DigestMismatch {
        /// The reference.
        reference: String,
        /// Which content (`the manifest`, `layer 0`).
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
    /// The artifact is not a sealgate artifact of the kind expected, or is
    /// over a size limit.
    #[error("{reference}: {reason}")]
    Artifact {
        /// The reference.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// The local content-addressed store cannot be used.
    #[error("OCI store {}: {reason}", dir.display())]
    Store {
        /// The store directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// The registry settings (CA certificates, credentials) cannot be used.
    #[error("registry settings: {0}")]
    Settings(String),
}
