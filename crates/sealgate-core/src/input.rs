use std::io::Read;
use std::path::{Path, PathBuf};

/// Why an input file could not be read.
///
/// Every variant names the file, so a CLI can print it as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The file does not exist or cannot be opened.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A directory (or other non-file) was given where a file is expected.
    #[error("{} is not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than the cap for this kind of input.
    #[error("{} is larger than the {limit}-byte limit for this input", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap in bytes.
        limit: u64,
    },
}

/// Open `path` for reading only if it is a regular file.
///
/// The type is checked on the opened handle, not on the name, and the open
/// itself cannot block: on Unix it uses `O_NONBLOCK`, so a FIFO (whose plain
/// open waits for a writer, forever if none comes) or a device is opened,
/// found not to be a file and refused at once. Every input sealgate reads goes
/// through here (or [`read_bounded`]).
///
/// # Errors
///
/// [`InputError::Io`] if it cannot be opened, [`InputError::NotAFile`] if it is not a regular file.
pub fn open_regular(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), InputError> {
    let io = |source| InputError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Harmless for regular files: reads from them never block anyway.
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(InputError::NotAFile {
            path: path.to_owned(),
        });
    }
    Ok((file, meta))
}

/// Read a whole regular file, refusing it if it exceeds `limit` bytes.
///
/// The cap is enforced while reading (not only from the file's metadata), so a
/// file that grows, or a special file that reports size 0, cannot exhaust memory.
/// Anything but a regular file is refused without blocking ([`open_regular`]).
///
/// # Errors
///
/// As [`open_regular`], and [`InputError::TooLarge`] over `limit`.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let (file, meta) = open_regular(path)?;
    read_opened(path, file, &meta, limit)
}

/// Read the whole of a file opened by [`open_regular`] (when its metadata
/// must be checked first, e.g. a private key's mode), refusing it past `limit`
/// bytes as [`read_bounded`] does.
///
/// # Errors
///
/// [`InputError::Io`] on a read error, [`InputError::TooLarge`] over `limit`.
pub fn read_opened(
    path: &Path,
    file: std::fs::File,
    meta: &std::fs::Metadata,
    limit: u64,
) -> Result<Vec<u8>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_owned(),
        source,
    };
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(buf)
}

/// Write `bytes` to `path` atomically: a temp file in the same directory,
/// synced, then renamed over `path`. A crash leaves the old file or the new
/// one, never a partial one.
///
/// # Errors
///
/// The I/O error of writing, syncing or renaming; the target is then unchanged.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with_mode(path, bytes, None)
}

/// [`write_atomically`], the file then readable by everyone (0644 on
/// Unix; a temporary file is the owner's only): for what is meant to be
/// shared, such as a built component.
///
/// # Errors
///
/// As [`write_atomically`].
pub fn write_atomically_readable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with_mode(path, bytes, Some(0o644))
}

fn write_atomically_with_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Why a configuration file could not be read as TOML of its kind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TomlFileError {
    /// Unreadable: missing, not a regular file, over its cap.
    #[error(transparent)]
    Read(#[from] InputError),
    /// Not UTF-8, not TOML, an unknown key or a wrong type (the message has
    /// the line and column).
    #[error("{0}")]
    Parse(String),
    /// Another `api-version` than this sealgate reads.
    #[error("api-version is `{found}`; this sealgate reads `{expected}`")]
    ApiVersion {
        /// What the file says.
        found: String,
        /// What this sealgate reads.
        expected: &'static str,
    },
}

/// The `api-version` a kind of configuration file must give: the one this
/// sealgate reads, and where the parsed file says its own.
#[derive(Debug, Clone, Copy)]
pub struct ApiVersion<T> {
    /// What this sealgate reads.
    pub expected: &'static str,
    /// The file's own.
    pub of: fn(&T) -> &str,
}

/// Read a configuration file (gate, trust, server, policy test) the one way
/// sealgate reads them: a regular file of at most `max_bytes`, UTF-8, TOML
/// into `T` (whose serde attributes refuse unknown keys), then, when
/// `api_version` is given, its `api-version` checked. Each file's own rules
/// come after, in its loader.
///
/// # Errors
///
/// A [`TomlFileError`]; the caller names the file.
pub fn read_toml_file<T: serde::de::DeserializeOwned>(
    path: &Path,
    max_bytes: u64,
    api_version: Option<ApiVersion<T>>,
) -> Result<T, TomlFileError> {
    let bytes = read_bounded(path, max_bytes)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| TomlFileError::Parse(format!("not UTF-8 ({e})")))?;
    parse_toml(text, api_version)
}

/// [`read_toml_file`] for text already in memory.
///
/// # Errors
///
/// [`TomlFileError::Parse`] or [`TomlFileError::ApiVersion`].
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    api_version: Option<ApiVersion<T>>,
) -> Result<T, TomlFileError> {
    let value: T = toml::from_str(text).map_err(|e| TomlFileError::Parse(toml_error(text, &e)))?;
    if let Some(version) = api_version
        && (version.of)(&value) != version.expected
    {
        return Err(TomlFileError::ApiVersion {
            found: (version.of)(&value).to_owned(),
            expected: version.expected,
        });
    }
    Ok(value)
}

/// A TOML error as one line, `line L, column C: message`: the parser's own
/// rendering is a multi-line snippet, too much for a CI log's error line.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// An error and its causes on one line (`a: b: c`), without a cause the
/// message before it already quotes (many errors say their source in their
/// own message: `cannot read F: No such file`). The CLI's error line and the
/// server's reload refusal print errors this way.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut cause = Some(error);
    while let Some(e) = cause {
        let text = e.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        cause = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_within_limit_and_refuses_beyond() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_bounded(&p, 5).unwrap(), b"12345");
        let err = read_bounded(&p, 4).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { limit: 4, .. }), "{err}");
        assert!(err.to_string().contains(&p.display().to_string()));
    }

    #[test]
    fn refuses_directories_and_names_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_bounded(dir.path(), 10),
            Err(InputError::NotAFile { .. })
        ));
        let missing = dir.path().join("nope.json");
        let err = read_bounded(&missing, 10).unwrap_err();
        assert!(err.to_string().contains("nope.json"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn fifos_are_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        let started = std::time::Instant::now();
        let err = read_bounded(&fifo, 10).unwrap_err();
        assert!(matches!(err, InputError::NotAFile { .. }), "{err}");
        assert!(open_regular(&fifo).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // A character device too.
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 10),
            Err(InputError::NotAFile { .. })
        ));
    }

    #[test]
    fn toml_errors_are_one_line_with_a_position() {
        let text = "a = 1\nname = \n";
        let e = toml::from_str::<toml::Table>(text).unwrap_err();
        let line = toml_error(text, &e);
        assert!(line.starts_with("line 2, column 8: "), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}
