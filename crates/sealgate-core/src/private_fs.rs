//! File-system checks for what decides which code runs or what it reads:
//! a directory, its parents and the files in it must be the current user's
//! (OpenSSH's StrictModes rule). Used by the engine's precompiled cache and
//! the OCI store. Unix-only: elsewhere every function refuses.

#[cfg(unix)]
#[allow(
    clippy::missing_errors_doc,
    reason = "each error is the reason the path is refused, as a message"
)]
mod unix {
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
    pub fn check_ancestors(path: &Path) -> Result<(), String> {
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
    pub fn check_own_dir(dir: &Path, meta: &Metadata) -> Result<(), String> {
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

    /// Check `dir` and its parents, creating it (mode 0700) if missing;
    /// `what` names it in errors (`cache directory`).
    pub fn ensure_private_dir(dir: &Path, what: &str) -> Result<(), String> {
        let where_ = |e: std::io::Error| format!("{what} {}: {e}", dir.display());
        check_ancestors(dir).map_err(|e| format!("{what}: {e}"))?;
        match std::fs::symlink_metadata(dir) {
            Ok(meta) => check_own_dir(dir, &meta).map_err(|e| format!("{what} {e}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(where_)?;
                let meta = std::fs::symlink_metadata(dir).map_err(where_)?;
                check_own_dir(dir, &meta).map_err(|e| format!("{what} {e}"))
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

    /// Read a private file of ours (a regular file, ours, mode 0600, not a symlink); `Ok(None)` if
    /// there is none.
    pub fn read_private_file(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, String> {
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
        crate::read_opened(path, file, &meta, limit)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// Write `bytes` to `path` in `dir` atomically, mode 0600. The rename
    /// replaces whatever was at `path` (a symlink included) without following it.
    pub fn write_private_file(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut tmp = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(unix)]
pub use unix::*;

#[cfg(not(unix))]
#[allow(clippy::missing_errors_doc, reason = "always the same refusal")]
mod other {
    use std::path::Path;

    const UNSUPPORTED: &str = "this needs Unix file ownership checks; not available here";

    /// Refused: no ownership checks here.
    pub fn ensure_private_dir(_: &Path, _: &str) -> Result<(), String> {
        Err(UNSUPPORTED.into())
    }
    /// Refused: no ownership checks here.
    pub fn read_private_file(_: &Path, _: u64) -> Result<Option<Vec<u8>>, String> {
        Err(UNSUPPORTED.into())
    }
    /// Refused: no ownership checks here.
    pub fn write_private_file(_: &Path, _: &Path, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other(UNSUPPORTED))
    }
}

#[cfg(not(unix))]
pub use other::*;
