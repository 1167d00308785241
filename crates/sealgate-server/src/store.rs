//! Where the admission check finds the bundles for an image digest.
//!
//! The lookup is by image and digest, returning every candidate bundle;
//! whether one of them is good is decided by verification, never by the
//! store. A directory ([`DirectoryStore`]) is keyed by digest; a registry
//! ([`RegistryStore`]) answers with the referrers of the image's manifest in
//! the image's own repository, as `sealgate attest --push` left them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sealgate::Sha256Digest;
use sealgate::oci::{OciReference, RegistrySettings};

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

    /// The bundles stored for `image` (as the pod names it), whose digest
    /// is `digest`: at most [`MAX_BUNDLES_PER_DIGEST`], each at most
    /// `max_bytes` long (longer ones are skipped, since verification would
    /// refuse them anyway). None found is an empty lookup.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the store cannot answer; the caller refuses admission then (fail closed).
    fn bundles_for(&self, image: &str, digest: &Sha256Digest, max_bytes: u64) -> Result<Lookup, StoreError>;
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

    fn bundles_for(&self, _image: &str, digest: &Sha256Digest, max_bytes: u64) -> Result<Lookup, StoreError> {
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

/// Most lookups a [`RegistryStore`] keeps cached.
pub const MAX_CACHED_LOOKUPS: usize = 4096;

/// Bundles attached to the image in its own registry (OCI referrers, by
/// `sealgate attest --push`). Every call is bounded by the settings'
/// timeout, at most [`MAX_BUNDLES_PER_DIGEST`] candidates are read, each
/// bounded by the trust's bundle size; any registry error is a store error,
/// so admission is refused (fail closed). Lookups that found bundles are
/// cached for `ttl` (verification still runs on every review: the cache
/// saves only the fetch); a lookup that found none is not cached, so an
/// image attested a moment ago is admitted without waiting for the TTL.
pub struct RegistryStore {
    settings: RegistrySettings,
    ttl: Duration,
    cache: Mutex<HashMap<(String, Sha256Digest), (Instant, Lookup)>>,
}

impl RegistryStore {
    /// A store reaching registries with `settings`, caching for `ttl`.
    pub fn new(settings: RegistrySettings, ttl: Duration) -> Self {
        Self {
            settings,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl AttestationStore for RegistryStore {
    fn describe(&self) -> String {
        "the image's registry".into()
    }

    fn bundles_for(&self, image: &str, digest: &Sha256Digest, max_bytes: u64) -> Result<Lookup, StoreError> {
        let error = |message: String| StoreError {
            store: self.describe(),
            message,
        };
        // `REGISTRY/REPO[:TAG]@sha256:…`, the registry explicit: a bare
        // `repo@…` would mean Docker Hub, which is guessed at nowhere here.
        let reference = OciReference::parse(&format!("oci://{image}"))
            .map_err(|e| error(format!("{e} (name the image with its registry host)")))?
            .with_digest(*digest);
        let key = (
            format!("{}/{}", reference.registry(), reference.repository()),
            *digest,
        );
        let now = Instant::now();
        if let Some((at, lookup)) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            && now.duration_since(*at) < self.ttl
        {
            return Ok(lookup.clone());
        }
        let fetched =
            sealgate::oci::fetch_attestations(&self.settings, &reference, MAX_BUNDLES_PER_DIGEST, max_bytes)
                .map_err(|e| error(sealgate::error_chain(&e)))?;
        let lookup = Lookup {
            bundles: fetched
                .into_iter()
                .map(|f| StoredBundle {
                    source: f.reference.to_string(),
                    bytes: f.bundle,
                })
                .collect(),
            skipped: Vec::new(),
        };
        if !lookup.bundles.is_empty() {
            let mut cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.len() >= MAX_CACHED_LOOKUPS {
                cache.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
                if cache.len() >= MAX_CACHED_LOOKUPS {
                    cache.clear();
                }
            }
            cache.insert(key, (now, lookup.clone()));
        }
        Ok(lookup)
    }
}
