//! Where the admission check finds the bundles for an image digest.
//!
//! The lookup is by digest only, returning every candidate bundle; whether
//! one of them is good is decided by verification, never by the store. That
//! is also how an OCI registry answers (the referrers of a manifest digest),
//! so an `OciStore` can implement [`AttestationStore`] beside
//! [`DirectoryStore`] without the admission check changing.

use std::path::PathBuf;

use sealgate::Sha256Digest;

/// How many bundles are considered per digest, so a store crowded with
/// candidates cannot make one admission review verify without end.
pub const MAX_BUNDLES_PER_DIGEST: usize = 16;

/// A candidate bundle.
#[derive(Debug, Clone)]
pub struct StoredBundle {
    /// Where it came from, for messages (a path, or a registry reference).
    pub source: String,
    /// Its bytes (JSON Lines of DSSE envelopes).
    pub bytes: Vec<u8>,
}

/// What a lookup found.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// Candidates, to be verified.
    pub bundles: Vec<StoredBundle>,
    /// Entries that could not be candidates (too large, unreadable), with why,
    /// so a denial can say more than "nothing found".
    pub skipped: Vec<String>,
}

/// Why a lookup failed (as opposed to finding nothing).
#[derive(Debug, thiserror::Error)]
#[error("attestation store {store}: {message}")]
pub struct StoreError {
    /// The store.
    pub store: String,
    /// What went wrong.
    pub message: String,
}

/// A source of bundles by subject digest. Blocking: called off the async
/// workers.
pub trait AttestationStore: Send + Sync {
    /// What it is, for messages (`dir:/var/lib/...`, `oci:registry/repo`).
    fn describe(&self) -> String;

    /// The bundles stored for `digest`: at most [`MAX_BUNDLES_PER_DIGEST`],
    /// each at most `max_bytes` long (longer ones are skipped, since
    /// verification would refuse them anyway). None found is an empty lookup.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the store cannot answer; the caller refuses admission then (fail closed).
    fn bundles_for(&self, digest: &Sha256Digest, max_bytes: u64) -> Result<Lookup, StoreError>;
}

/// Bundles in a directory: `<root>/sha256/<hex>/*.intoto.jsonl`, e.g. what a
/// CI job uploads with `sealgate attest --out <root>/sha256/<hex>/<gate>.intoto.jsonl`.
#[derive(Debug, Clone)]
pub struct DirectoryStore {
    root: PathBuf,
}

impl DirectoryStore {
    /// The store rooted at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
}

impl AttestationStore for DirectoryStore {
    fn describe(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    fn bundles_for(&self, digest: &Sha256Digest, max_bytes: u64) -> Result<Lookup, StoreError> {
        let dir = self.root.join("sha256").join(digest.to_string());
        let error = |message: String| StoreError {
            store: self.describe(),
            message,
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lookup::default()),
            Err(e) => return Err(error(format!("cannot list {}: {e}", dir.display()))),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".intoto.jsonl"))
            .collect();
        // Deterministic: the same store gives the same answer.
        paths.sort();
        let mut found = Lookup::default();
        for path in paths.into_iter().take(MAX_BUNDLES_PER_DIGEST) {
            match sealgate::read_bounded(&path, max_bytes) {
                Ok(bytes) => found.bundles.push(StoredBundle {
                    source: path.display().to_string(),
                    bytes,
                }),
                Err(e) => found.skipped.push(e.to_string()),
            }
        }
        Ok(found)
    }
}
