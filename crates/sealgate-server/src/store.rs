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
/// Most bundle bytes a [`RegistryStore`] keeps cached: what it caches was
/// not verified yet (anyone who can push beside an image can attach large
/// referrers), so the cache is bounded by size, not only by count.
pub const MAX_CACHED_BYTES: usize = 64 << 20;

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
    cache: Mutex<LookupCache>,
}

/// Lookups by repository and digest, with the bytes they hold.
#[derive(Default)]
struct LookupCache {
    entries: HashMap<(String, Sha256Digest), (Instant, Lookup)>,
    bytes: usize,
}

impl LookupCache {
    fn get(&self, key: &(String, Sha256Digest), now: Instant, ttl: Duration) -> Option<Lookup> {
        self.entries
            .get(key)
            .filter(|(at, _)| now.duration_since(*at) < ttl)
            .map(|(_, lookup)| lookup.clone())
    }

    /// Keep `lookup` unless it alone is over the byte bound; expired
    /// entries go first, and everything when that is not enough.
    fn insert(&mut self, key: (String, Sha256Digest), lookup: Lookup, now: Instant, ttl: Duration) {
        let size: usize = lookup.bundles.iter().map(|b| b.bytes.len()).sum();
        if size > MAX_CACHED_BYTES {
            return;
        }
        if self.entries.len() >= MAX_CACHED_LOOKUPS || self.bytes + size > MAX_CACHED_BYTES {
            self.entries.retain(|_, (at, _)| now.duration_since(*at) < ttl);
            if self.entries.len() >= MAX_CACHED_LOOKUPS || self.bytes_held() + size > MAX_CACHED_BYTES {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (now, lookup));
        self.bytes = self.bytes_held();
    }

    fn bytes_held(&self) -> usize {
        self.entries
            .values()
            .flat_map(|(_, l)| &l.bundles)
            .map(|b| b.bytes.len())
            .sum()
    }
}

impl RegistryStore {
    /// A store reaching registries with `settings`, caching for `ttl`.
    pub fn new(settings: RegistrySettings, ttl: Duration) -> Self {
        Self {
            settings,
            ttl,
            cache: Mutex::new(LookupCache::default()),
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
        if let Some(lookup) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key, now, self.ttl)
        {
            return Ok(lookup);
        }
        let fetched =
            sealgate::attached_bundles(&self.settings, &reference, MAX_BUNDLES_PER_DIGEST, max_bytes)
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
            self.cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key, lookup.clone(), now, self.ttl);
        }
        Ok(lookup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(bytes: usize) -> Lookup {
        Lookup {
            bundles: vec![StoredBundle {
                source: "r".into(),
                bytes: vec![0; bytes],
            }],
            skipped: Vec::new(),
        }
    }

    #[test]
    fn the_lookup_cache_is_bounded_by_bytes_and_count_and_expires() {
        let mut cache = LookupCache::default();
        let ttl = Duration::from_secs(60);
        let now = Instant::now();
        let key = |n: u8| ("r/x".to_owned(), Sha256Digest::of_bytes(&[n]));
        // One lookup over the bound alone is never kept.
        cache.insert(key(0), lookup(MAX_CACHED_BYTES + 1), now, ttl);
        assert!(cache.get(&key(0), now, ttl).is_none());
        // Filling past the bound evicts; the bytes held never pass it.
        for n in 1..=5 {
            cache.insert(key(n), lookup(MAX_CACHED_BYTES / 3), now, ttl);
            assert!(cache.bytes <= MAX_CACHED_BYTES, "{}", cache.bytes);
            assert!(cache.get(&key(n), now, ttl).is_some());
        }
        // Past the TTL a lookup is not served.
        assert!(cache.get(&key(5), now + ttl, ttl).is_none());
        // Many small lookups: the count is bounded too.
        for n in 0..=255u8 {
            for m in 0..=20u8 {
                let k = ("r/x".to_owned(), Sha256Digest::of_bytes(&[n, m]));
                cache.insert(k, lookup(1), now, ttl);
            }
        }
        assert!(cache.entries.len() <= MAX_CACHED_LOOKUPS);
    }
}
