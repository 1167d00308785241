use std::path::{Path, PathBuf};

use sealgate_core::Sha256Digest;
use sealgate_core::private_fs;

use crate::OciError;

/// The local content-addressed store of what was pulled: `blobs/sha256/<hex>`,
/// as in an OCI image layout. A blob is fetched once and then read from here,
/// so runs work offline once an artifact is in it. The store decides what
/// runs, so it must be the current user's (the directory and its parents
/// owned by the user or root and not writable by others; files private and
/// regular, never followed through a symlink), and every blob is hashed again
/// when read: a blob that is not its name is an error, never used.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `dir`, created (mode 0700) if missing.
    ///
    /// # Errors
    ///
    /// [`OciError::Store`] when `dir` or a parent is not safely the user's.
    pub fn open(dir: &Path) -> Result<Self, OciError> {
        let blobs = dir.join("blobs").join("sha256");
        private_fs::ensure_private_dir(dir, "OCI store")
            .and_then(|()| private_fs::ensure_private_dir(&blobs, "OCI store"))
            .map_err(|reason| OciError::Store {
                dir: dir.to_owned(),
                reason,
            })?;
        Ok(Self { dir: dir.to_owned() })
    }

    /// `$SEALGATE_OCI_STORE`, else `$XDG_CACHE_HOME/sealgate/oci`, else
    /// `$HOME/.cache/sealgate/oci`; `None` when none is set.
    pub fn default_dir() -> Option<PathBuf> {
        let env = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        env("SEALGATE_OCI_STORE").or_else(|| {
            env("XDG_CACHE_HOME")
                .or_else(|| env("HOME").map(|h| h.join(".cache")))
                .map(|d| d.join("sealgate").join("oci"))
        })
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn blob_path(&self, digest: &Sha256Digest) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(digest.to_string())
    }

    /// The blob `digest`, if the store has it, read with at most `limit` bytes.
    ///
    /// # Errors
    ///
    /// [`OciError::Store`] when it is there but unsafe, too large or not what
    /// its name says (remove it and it is fetched again).
    pub fn get(&self, digest: &Sha256Digest, limit: u64) -> Result<Option<Vec<u8>>, OciError> {
        let path = self.blob_path(digest);
        let store_err = |reason: String| OciError::Store {
            dir: self.dir.clone(),
            reason,
        };
        let Some(bytes) = private_fs::read_private_file(&path, limit).map_err(store_err)? else {
            return Ok(None);
        };
        let actual = Sha256Digest::of_bytes(&bytes);
        if actual != *digest {
            return Err(store_err(format!(
                "{} holds content whose sha256 is {actual}: it was altered; remove it and it is fetched again",
                path.display()
            )));
        }
        Ok(Some(bytes))
    }

    /// Keep `bytes` under their digest.
    ///
    /// # Errors
    ///
    /// [`OciError::Store`] when it cannot be written.
    pub fn put(&self, bytes: &[u8]) -> Result<Sha256Digest, OciError> {
        let digest = Sha256Digest::of_bytes(bytes);
        let dir = self.dir.join("blobs").join("sha256");
        private_fs::write_private_file(&dir, &self.blob_path(&digest), bytes).map_err(|e| {
            OciError::Store {
                dir: self.dir.clone(),
                reason: format!("cannot write a blob: {e}"),
            }
        })?;
        Ok(digest)
    }
}

impl Store {
    fn signature_path(&self, artifact: &Sha256Digest) -> PathBuf {
        self.dir.join("signatures").join(artifact.to_string())
    }

    /// Remember `envelope` as the signature a loader accepted for
    /// `artifact`, so later loads need no registry to check it again (they
    /// do verify it again: this only saves fetching it).
    ///
    /// # Errors
    ///
    /// [`OciError::Store`] when it cannot be written.
    pub fn record_signature(&self, artifact: &Sha256Digest, envelope: &[u8]) -> Result<(), OciError> {
        let digest = self.put(envelope)?;
        let dir = self.dir.join("signatures");
        private_fs::ensure_private_dir(&dir, "OCI store").map_err(|reason| OciError::Store {
            dir: self.dir.clone(),
            reason,
        })?;
        private_fs::write_private_file(
            &dir,
            &self.signature_path(artifact),
            digest.to_string().as_bytes(),
        )
        .map_err(|e| OciError::Store {
            dir: self.dir.clone(),
            reason: format!("cannot record a signature: {e}"),
        })
    }

    /// The signature recorded for `artifact`, if any.
    ///
    /// # Errors
    ///
    /// [`OciError::Store`] when the record is unsafe or names a blob that is
    /// not its digest.
    pub fn recorded_signature(
        &self,
        artifact: &Sha256Digest,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, OciError> {
        let store_err = |reason: String| OciError::Store {
            dir: self.dir.clone(),
            reason,
        };
        let Some(record) =
            private_fs::read_private_file(&self.signature_path(artifact), 128).map_err(store_err)?
        else {
            return Ok(None);
        };
        match std::str::from_utf8(&record)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            Some(digest) => self.get(&digest, limit),
            None => Ok(None),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_kept_by_digest_and_checked_when_read() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("store")).unwrap();
        let digest = store.put(b"component").unwrap();
        assert_eq!(store.get(&digest, 100).unwrap().unwrap(), b"component");
        assert!(
            store
                .get(&Sha256Digest::of_bytes(b"other"), 100)
                .unwrap()
                .is_none()
        );
        // Altered in place: refused, not used.
        std::fs::write(store.blob_path(&digest), b"tampered").unwrap();
        let err = store.get(&digest, 100).unwrap_err().to_string();
        assert!(err.contains("it was altered"), "{err}");
        // Over the limit: refused.
        let big = store.put(&[0u8; 200]).unwrap();
        assert!(store.get(&big, 100).is_err());
    }

    #[test]
    fn a_store_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = Store::open(&dir).unwrap_err().to_string();
        assert!(err.contains("writable by group or others"), "{err}");
    }
}
