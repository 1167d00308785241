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
            if let Err(why) = private::ensure_private_dir(&self.dir) {
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

/// File-system checks for what decides which code runs: the directory, its
/// parents, the entries and the key file.
#[cfg(unix)]
pub(crate) mod private {
    use std::fs::{File, Metadata, OpenOptions};
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    const S_ISVTX: u32 = 0o1000;

    fn euid() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    fn no_follow() -> i32 {
        (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC).bits()
            as i32
    }

    /// Every existing ancestor of `path` (resolved, so a symlinked parent
    /// is judged where it leads) is owned by us or root and not writable by
    /// group or others, unless it is sticky (like `/tmp`, where nobody can
    /// rename or remove what we own).
    fn check_ancestors(path: &Path) -> Result<(), String> {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut existing = parent.as_path();
        while !existing.exists() {
            existing = match existing.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
        }
        let resolved = existing
            .canonicalize()
            .map_err(|e| format!("cannot resolve {}: {e}", existing.display()))?;
        let me = euid();
        for dir in resolved.ancestors() {
            let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            if meta.uid() != me && meta.uid() != 0 {
                return Err(format!(
                    "{} (a parent of {}) is owned by uid {}, not by you or root: whoever owns it can \
                     replace what is below it",
                    dir.display(),
                    path.display(),
                    meta.uid()
                ));
            }
            let mode = meta.permissions().mode();
            if mode & 0o022 != 0 && mode & S_ISVTX == 0 {
                return Err(format!(
                    "{} (a parent of {}) is writable by group or others: whoever can write it can \
                     replace what is below it (run `chmod go-w` on it)",
                    dir.display(),
                    path.display()
                ));
            }
        }
        Ok(())
    }

    /// A directory of ours: ours, a real directory (not a symlink), and not
    /// writable by group or others.
    fn check_own_dir(dir: &Path, meta: &Metadata) -> Result<(), String> {
        if meta.file_type().is_symlink() {
            return Err(format!(
                "{} is a symbolic link; not following it (point the setting at the real directory)",
                dir.display()
            ));
        }
        if !meta.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        if meta.uid() != euid() {
            return Err(format!(
                "{} is owned by uid {}, not by you (uid {}): its contents could be anyone's code",
                dir.display(),
                meta.uid(),
                euid()
            ));
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(format!(
                "{} is writable by group or others; not using it (run `chmod go-w` on it)",
                dir.display()
            ));
        }
        Ok(())
    }

    /// Check `dir` and its parents, creating it (mode 0700) if missing.
    pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), String> {
        let where_ = |e: std::io::Error| format!("cache directory {}: {e}", dir.display());
        check_ancestors(dir).map_err(|e| format!("cache directory: {e}"))?;
        match std::fs::symlink_metadata(dir) {
            Ok(meta) => check_own_dir(dir, &meta).map_err(|e| format!("cache directory {e}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(where_)?;
                let meta = std::fs::symlink_metadata(dir).map_err(where_)?;
                check_own_dir(dir, &meta).map_err(|e| format!("cache directory {e}"))
            }
            Err(e) => Err(where_(e)),
        }
    }

    /// Open `path` without following a symlink and without blocking (a FIFO
    /// would), and require a regular file owned by us with no group or other
    /// permissions.
    fn open_private(path: &Path) -> std::io::Result<Result<(File, Metadata), String>> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(no_follow())
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Ok(Err(format!("{} is not a regular file", path.display())));
        }
        if meta.uid() != euid() {
            return Ok(Err(format!(
                "{} is owned by uid {}, not by you",
                path.display(),
                meta.uid()
            )));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Ok(Err(format!(
                "{} has group or other permissions (mode {:o}); it must be private (0600)",
                path.display(),
                meta.permissions().mode() & 0o7777
            )));
        }
        Ok(Ok((file, meta)))
    }

    /// Read a private file of ours (see [`open_private`]); `Ok(None)` if
    /// there is none.
    pub(crate) fn read_private_file(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, String> {
        let (file, meta) = match open_private(path) {
            Ok(Ok(opened)) => opened,
            Ok(Err(why)) => return Err(why),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            // ELOOP: the final component is a symbolic link.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                return Err(format!("{} is a symbolic link; not following it", path.display()));
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        // The core's bounded read: sized up front, capped while reading.
        sealgate_core::read_opened(path, file, &meta, limit)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// Write `bytes` to `path` in `dir` atomically, mode 0600. The rename
    /// replaces whatever was at `path` (a symlink included) without following it.
    pub(crate) fn write_private_file(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut tmp = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

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

    pub(crate) fn ensure_private_dir(_: &Path) -> Result<(), String> {
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
