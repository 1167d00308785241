//! Content-addressed cache of precompiled policy components.
//!
//! Compiling a component with Cranelift costs far more than evaluating it, so
//! the engine can keep the native code on disk. An entry is keyed by SHA-256
//! over the component's digest, the engine crate's version and wasmtime's
//! compatibility hash of the engine settings, so a new wasmtime or different
//! settings never meet an old entry.
//!
//! Loading native code is trusting it. Each entry carries the BLAKE3 hash of
//! its payload and is checked before use (BLAKE3 rather than SHA-256 because
//! it is several times faster on the half-megabyte payloads, and checking them
//! is a large part of a cache hit: docs/BENCHMARKS.md); a corrupt, truncated or mismatched entry
//! is recompiled and replaced, never run. This protects against accidents, not
//! against someone who can write the directory: such a person can run native
//! code in the gate. So the cache refuses a directory that group or others can
//! write, and the default location is private to the user.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sealgate_core::Sha256Digest;
use wasmtime::component::Component;

use crate::module::CacheStatus;

/// Entry header; the last byte is the format version (2: BLAKE3 checksum).
/// An entry of another version is recompiled and replaced.
const MAGIC: &[u8; 8] = b"SGPC\x00\x00\x00\x02";

/// The on-disk cache for one engine configuration.
pub(crate) struct PrecompiledCache {
    dir: PathBuf,
    engine: wasmtime::Engine,
    engine_key: [u8; 8],
}

impl PrecompiledCache {
    pub(crate) fn new(dir: &Path, engine: &wasmtime::Engine) -> Self {
        // DefaultHasher::new() uses fixed keys, so this is stable for a given
        // build, which is all the key needs.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Self {
            dir: dir.to_owned(),
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
        if let Err(why) = check_dir_is_private(&self.dir) {
            let c = Component::new(&self.engine, bytes)?;
            return Ok((c, CacheStatus::Unavailable(why)));
        }
        let path = self.entry_path(digest);
        let previous_problem = match std::fs::read(&path) {
            Ok(entry) => match self.deserialize(&entry) {
                Ok(c) => return Ok((c, CacheStatus::Hit(path))),
                Err(why) => Some(why),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("unreadable: {e}")),
        };
        // Compile from the pinned bytes, never from the entry.
        let component = Component::new(&self.engine, bytes)?;
        let status = match self.store(&path, &component) {
            Err(e) => CacheStatus::Unavailable(format!("cannot write {}: {e}", path.display())),
            Ok(()) => match previous_problem {
                Some(reason) => CacheStatus::Recompiled { path, reason },
                None => CacheStatus::Stored(path),
            },
        };
        Ok((component, status))
    }

    fn deserialize(&self, entry: &[u8]) -> Result<Component, String> {
        let body = entry
            .strip_prefix(MAGIC.as_slice())
            .ok_or("not a sealgate cache entry")?;
        if body.len() < 32 {
            return Err("truncated".into());
        }
        let (sum, payload) = body.split_at(32);
        if blake3::hash(payload).as_bytes() != sum {
            return Err("checksum mismatch (corrupt entry)".into());
        }
        // SAFETY: `deserialize` runs native code from the bytes. They were
        // produced by `Component::serialize` of this same engine configuration
        // (the entry key covers it), in a directory only this user can write,
        // and are unchanged since (checksum above). wasmtime additionally
        // checks its own version and settings header and errors on mismatch.
        unsafe { Component::deserialize(&self.engine, payload) }.map_err(|e| format!("{e:#}"))
    }

    fn store(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        let payload = component.serialize().map_err(std::io::Error::other)?;
        create_private_dir(&self.dir)?;
        // Temp file + rename: a reader sees the old entry or the whole new
        // one, never a partial write.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(MAGIC)?;
        tmp.write_all(blake3::hash(&payload).as_bytes())?;
        tmp.write_all(&payload)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A cache directory others can write is a way to run code in the gate.
fn check_dir_is_private(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()), // created 0700 on first store
        Err(e) => Err(format!("cache directory {}: {e}", dir.display())),
        #[cfg(unix)]
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o022 != 0 {
                Err(format!(
                    "cache directory {} is writable by group or others; not using it (run `chmod go-w` on it)",
                    dir.display()
                ))
            } else {
                Ok(())
            }
        }
        #[cfg(not(unix))]
        Ok(_) => Ok(()),
    }
}
