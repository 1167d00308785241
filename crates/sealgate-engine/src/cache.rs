//! Content-addressed cache of precompiled policy components.
//!
//! Compiling a component with Cranelift costs far more than evaluating it, so
//! the engine can keep the native code on disk. An entry is keyed by SHA-256
//! over the component's digest, the engine crate's version and wasmtime's
//! compatibility hash of the engine settings, so a new wasmtime or different
//! settings never meet an old entry.
//!
//! Loading an entry is running native code in the process that holds the
//! signing key, so an entry is used only when all of these hold (anything else
//! is a cache miss that says why, and the component is compiled from its
//! pinned bytes):
//!
//! - **It was written by this user, for this component.** Each entry carries a
//!   keyed BLAKE3 tag over the component digest, the engine key and the native
//!   code, under a random 32-byte key kept in a file only the current user can
//!   read ([`default_cache_key_file`]). The tag is checked before wasmtime
//!   sees a byte, so an entry planted or re-sealed by someone else, or the
//!   entry of another component copied under this one's name, never runs.
//!   (BLAKE3 rather than HMAC-SHA-256 because checking half a megabyte of code
//!   is a large part of a cache hit: docs/BENCHMARKS.md.)
//! - **Nobody else can write where it lives** (OpenSSH's StrictModes rule): the
//!   cache directory is owned by the current user and not writable by group or
//!   others; every parent is owned by the user or root and not writable by
//!   others unless sticky (`/tmp`); the same holds for the key file and its
//!   parents. Symbolic links are not followed for the directory, the entries
//!   or the key file (`O_NOFOLLOW`), and an entry or key file must be a
//!   regular file owned by the user with no group or other permissions.
//!
//! The checks are in `private`; they are Unix-only, and elsewhere the cache
//! is not used.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sealgate_core::Sha256Digest;
use wasmtime::component::Component;

use crate::module::CacheStatus;

/// Entry header; the last byte is the format version (3: keyed tag). An
/// entry of another version is recompiled and replaced.
const MAGIC: &[u8; 8] = b"SGPC\x00\x00\x00\x03";

/// Domain separation for the tag, so the key means nothing elsewhere.
const TAG_CONTEXT: &[u8] = b"sealgate precompiled cache entry v3\0";

/// Largest entry read back (native code of a 32 MiB component is far less).
const MAX_ENTRY_BYTES: u64 = 512 << 20;

/// The key file's name in the user's configuration directory.
const KEY_FILE_NAME: &str = "cache.key";

/// Where the cache key lives unless configured: `$XDG_CONFIG_HOME/sealgate/cache.key`,
/// else `$HOME/.config/sealgate/cache.key`; `None` when neither is set.
pub fn default_cache_key_file() -> Option<PathBuf> {
    let env = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("XDG_CONFIG_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".config")))
        .map(|d| d.join("sealgate").join(KEY_FILE_NAME))
}

/// The on-disk cache for one engine configuration.
pub(crate) struct PrecompiledCache {
    dir: PathBuf,
    key_file: Option<PathBuf>,
    /// The key, once read: it cannot change under a running process that
    /// has checked it.
    key: std::sync::OnceLock<[u8; 32]>,
    /// Set once the directory has passed its checks: only its owner (this
    /// user) or root could change what they found, so once per engine will do.
    dir_checked: std::sync::OnceLock<()>,
    engine: wasmtime::Engine,
    engine_key: [u8; 8],
}

impl PrecompiledCache {
    pub(crate) fn new(dir: &Path, key_file: Option<PathBuf>, engine: &wasmtime::Engine) -> Self {
        // DefaultHasher::new() uses fixed keys, so this is stable for a given
        // build, which is all the key needs.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Self {
            dir: dir.to_owned(),
            key_file,
            key: std::sync::OnceLock::new(),
            dir_checked: std::sync::OnceLock::new(),
            engine: engine.clone(),
            engine_key: h.finish().to_le_bytes(),
        }
    }

    /// The entry path for a component digest.
    pub(crate) fn entry_path(&self, component: &Sha256Digest) -> PathBuf {
        let mut key = Vec::with_capacity(96);
        key.extend_from_slice(component.as_bytes());
        key.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
        key.extend_from_slice(&self.engine_key);
        self.dir.join(format!("{}.cwasm", Sha256Digest::of_bytes(&key)))
    }

    /// Load the compiled form of `bytes` (whose digest is `digest`) from the
    /// cache, or compile it and store it.
    pub(crate) fn load_or_compile(
        &self,
        digest: &Sha256Digest,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheStatus)> {
        let key = match self.open_key() {
            Ok(key) => key,
            Err(why) => {
                let c = Component::new(&self.engine, bytes)?;
                return Ok((c, CacheStatus::Unavailable(why)));
            }
        };
        if self.dir_checked.get().is_none() {
            if let Err(why) = private::ensure_private_dir(&self.dir, "cache directory") {
                let c = Component::new(&self.engine, bytes)?;
                return Ok((c, CacheStatus::Unavailable(why)));
            }
            let _ = self.dir_checked.set(());
        }
        let path = self.entry_path(digest);
        let previous_problem = match private::read_private_file(&path, MAX_ENTRY_BYTES) {
            Ok(Some(entry)) => match self.deserialize(&key, digest, &entry) {
                Ok(c) => return Ok((c, CacheStatus::Hit(path))),
                Err(why) => Some(why),
            },
            Ok(None) => None,
            Err(why) => Some(why),
        };
        // Compile from the pinned bytes, never from the entry.
        let component = Component::new(&self.engine, bytes)?;
        let status = match self.store(&key, digest, &path, &component) {
            Err(e) => CacheStatus::Unavailable(format!("cannot write {}: {e}", path.display())),
            Ok(()) => match previous_problem {
                Some(reason) => CacheStatus::Recompiled { path, reason },
                None => CacheStatus::Stored(path),
            },
        };
        Ok((component, status))
    }

    fn open_key(&self) -> Result<[u8; 32], String> {
        if let Some(key) = self.key.get() {
            return Ok(*key);
        }
        let file = self
            .key_file
            .as_deref()
            .ok_or("no key file for the cache: set XDG_CONFIG_HOME or HOME (or configure the key file)")?;
        let key = private::load_or_create_key(file)?;
        Ok(*self.key.get_or_init(|| key))
    }

    fn tag(&self, key: &[u8; 32], digest: &Sha256Digest, payload: &[u8]) -> blake3::Hash {
        let mut h = blake3::Hasher::new_keyed(key);
        h.update(TAG_CONTEXT);
        h.update(digest.as_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(&self.engine_key);
        h.update(payload);
        h.finalize()
    }

    fn deserialize(&self, key: &[u8; 32], digest: &Sha256Digest, entry: &[u8]) -> Result<Component, String> {
        let body = entry
            .strip_prefix(MAGIC.as_slice())
            .ok_or("not a sealgate cache entry of this format")?;
        if body.len() < 32 {
            return Err("truncated".into());
        }
        let (tag, payload) = body.split_at(32);
        let tag = blake3::Hash::from_bytes(tag.try_into().expect("32 bytes"));
        // blake3::Hash compares in constant time.
        if tag != self.tag(key, digest, payload) {
            return Err(
                "authentication tag mismatch: corrupt, or not written by this user for this component".into(),
            );
        }
        // SAFETY: `deserialize` runs native code from the bytes. They carry a
        // tag only this user's key can make, over this component's digest and
        // this engine configuration, so they are what this user's sealgate
        // serialized for exactly this component; wasmtime additionally checks
        // its own version and settings header and errors on mismatch.
        #[allow(unsafe_code)]
        unsafe { Component::deserialize(&self.engine, payload) }.map_err(|e| format!("{e:#}"))
    }

    fn store(
        &self,
        key: &[u8; 32],
        digest: &Sha256Digest,
        path: &Path,
        component: &Component,
    ) -> std::io::Result<()> {
        let payload = component.serialize().map_err(std::io::Error::other)?;
        let tag = self.tag(key, digest, &payload);
        let mut entry = Vec::with_capacity(MAGIC.len() + 32 + payload.len());
        entry.extend_from_slice(MAGIC);
        entry.extend_from_slice(tag.as_bytes());
        entry.extend_from_slice(&payload);
        private::write_private_file(&self.dir, path, &entry)
    }
}

/// The cache's key file; the ownership checks themselves are
/// `sealgate_core::private_fs`, shared with the OCI store.
#[cfg(unix)]
pub(crate) mod private {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    use std::path::Path;

    use sealgate_core::private_fs::{check_ancestors, check_own_dir};
    pub(crate) use sealgate_core::private_fs::{ensure_private_dir, read_private_file, write_private_file};

    /// Read the user's cache key from `file`, creating it (32 random bytes,
    /// mode 0600, in a 0700 directory) if it does not exist yet.
    pub(crate) fn load_or_create_key(file: &Path) -> Result<[u8; 32], String> {
        let context = |e: String| format!("cache key: {e}");
        check_ancestors(file).map_err(context)?;
        if let Some(key) = read_private_file(file, 32).map_err(context)? {
            return key_from(file, &key);
        }
        let dir = file
            .parent()
            .ok_or_else(|| context(format!("{} has no directory", file.display())))?;
        match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| context(format!("{}: {e}", dir.display())))?,
            Err(e) => return Err(context(format!("{}: {e}", dir.display()))),
            Ok(_) => {}
        }
        let meta = std::fs::symlink_metadata(dir).map_err(|e| context(format!("{}: {e}", dir.display())))?;
        check_own_dir(dir, &meta).map_err(context)?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| context(format!("no randomness for a new key: {e}")))?;
        let mut tmp = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|e| context(format!("{}: {e}", dir.display())))?;
        tmp.write_all(&key)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| context(format!("{}: {e}", dir.display())))?;
        // No clobbering: if another process made the key first, use theirs.
        match tmp.persist_noclobber(file) {
            Ok(_) => Ok(key),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                let existing = read_private_file(file, 32)
                    .map_err(context)?
                    .ok_or_else(|| context(format!("{} vanished", file.display())))?;
                key_from(file, &existing)
            }
            Err(e) => Err(context(format!("{}: {}", file.display(), e.error))),
        }
    }

    fn key_from(file: &Path, bytes: &[u8]) -> Result<[u8; 32], String> {
        bytes.try_into().map_err(|_| {
            format!(
                "cache key: {} is {} bytes, not 32; remove it and a new key is made (cached entries are recompiled)",
                file.display(),
                bytes.len()
            )
        })
    }
}

#[cfg(not(unix))]
pub(crate) mod private {
    use std::path::Path;

    const UNSUPPORTED: &str = "the precompiled cache needs Unix file ownership checks; not used here";

    pub(crate) fn ensure_private_dir(_: &Path, _: &str) -> Result<(), String> {
        Err(UNSUPPORTED.into())
    }
    pub(crate) fn read_private_file(_: &Path, _: u64) -> Result<Option<Vec<u8>>, String> {
        Err(UNSUPPORTED.into())
    }
    pub(crate) fn write_private_file(_: &Path, _: &Path, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other(UNSUPPORTED))
    }
    pub(crate) fn load_or_create_key(_: &Path) -> Result<[u8; 32], String> {
        Err(UNSUPPORTED.into())
    }
}
