//! Ed25519 keys: PKCS#8 PEM private keys (created 0600, refused if others can
//! read them), SPKI PEM public keys (what openssl, cosign and Kyverno load),
//! and the securesystemslib key id in-toto tooling uses.

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{
    self, DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, spki,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sealgate_core::{InputError, Sha256Digest, open_regular, read_bounded, read_opened};

/// PEM key files are a few hundred bytes.
const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] InputError),
    /// The private key file is readable by group or others.
    #[error(
        "{}: private key is readable by group or others (mode {mode:04o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// Not an Ed25519 key in the expected PEM form.
    #[error("{}: not an Ed25519 {what} ({reason})", path.display())]
    Format {
        /// The key file.
        path: PathBuf,
        /// What was expected.
        what: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// A key file already exists where a new one would be written.
    #[error("{}: already exists; refusing to overwrite a key (move it away first)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Writing the key failed.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// No randomness from the OS.
    #[error("cannot get randomness from the operating system: {0}")]
    Random(String),
}

/// The default key id of securesystemslib (and so of in-toto tooling): the
/// sha256 of the compact, key-sorted JSON of the public key's metadata.
pub fn key_id(key: &VerifyingKey) -> String {
    let canonical = format!(
        r#"{{"keytype":"ed25519","keyval":{{"public":"{}"}},"scheme":"ed25519"}}"#,
        hex::encode(key.as_bytes())
    );
    Sha256Digest::of_bytes(canonical.as_bytes()).to_string()
}

/// Load a PKCS#8 PEM Ed25519 private key, refusing one others can read.
///
/// # Errors
///
/// A [`KeyError`]: unreadable, not an Ed25519 PKCS#8 PEM key, or (on Unix) readable by group or others.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    // The mode is checked on the opened file, so it is the one read.
    let (file, meta) = open_regular(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let bytes = read_opened(path, file, &meta, MAX_KEY_FILE_BYTES)?;
    let format = |reason: String| KeyError::Format {
        path: path.to_owned(),
        what: "private key (PKCS#8 PEM, `-----BEGIN PRIVATE KEY-----`)",
        reason,
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| format(e.to_string()))?;
    SigningKey::from_pkcs8_pem(text).map_err(|e| match e {
        pkcs8::Error::PublicKey(spki::Error::OidUnknown { .. }) => format(OTHER_ALGORITHM.into()),
        e => format(e.to_string()),
    })
}

/// What to say for a well-formed key of another algorithm (the parser's own
/// message names the OID it expected, Ed25519's, which reads backwards).
const OTHER_ALGORITHM: &str = "a key of another algorithm (RSA, ECDSA, ...); sealgate uses Ed25519: \
     make one with `sealgate keygen` or `openssl genpkey -algorithm ed25519`";

/// Load an SPKI PEM Ed25519 public key (`-----BEGIN PUBLIC KEY-----`).
///
/// # Errors
///
/// A [`KeyError`]: unreadable, or not an Ed25519 SPKI PEM public key.
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let bytes = read_bounded(path, MAX_KEY_FILE_BYTES)?;
    let format = |reason: String| KeyError::Format {
        path: path.to_owned(),
        what: "public key (SPKI PEM, `-----BEGIN PUBLIC KEY-----`)",
        reason,
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| format(e.to_string()))?;
    VerifyingKey::from_public_key_pem(text).map_err(|e| match e {
        spki::Error::OidUnknown { .. } => format(OTHER_ALGORITHM.into()),
        e => format(e.to_string()),
    })
}

/// A key pair written by [`generate`].
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The private key file (mode 0600).
    pub private_key: PathBuf,
    /// The public key file.
    pub public_key: PathBuf,
    /// The key id.
    pub key_id: String,
}

/// Generate a key pair into `dir` as `NAME.key` (PKCS#8 v1 PEM, RFC 8410,
/// 0600) and `NAME.pub` (SPKI PEM, 0644). Refuses to overwrite either file.
///
/// PKCS#8 v1 (the private key alone) is what `openssl genpkey -algorithm
/// ed25519` writes and what OpenSSL 3, pyca/cryptography, KMS imports and
/// cosign read; v2 (RFC 5958, with the public key inside, what ed25519-dalek
/// writes by default) is refused by several of them. Both are read.
///
/// # Errors
///
/// A [`KeyError`] when the directory cannot be made or a key file written (an existing one is never overwritten).
pub fn generate(dir: &Path, name: &str) -> Result<GeneratedKey, KeyError> {
    let private_key = dir.join(format!("{name}.key"));
    let public_key = dir.join(format!("{name}.pub"));
    for p in [&private_key, &public_key] {
        if p.exists() {
            return Err(KeyError::Exists { path: p.clone() });
        }
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&secret);
    let v1 = pkcs8::KeypairBytes {
        secret_key: secret,
        public_key: None,
    };
    let pem = v1
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Random(e.to_string()))?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Random(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Write {
        path: dir.to_owned(),
        source,
    })?;
    // Temp files are created 0600; `persist_noclobber` refuses to replace an
    // existing file even if one appeared since the check above.
    write_new(&private_key, pem.as_bytes(), 0o600)?;
    // A public key is for sharing: readable by all, like openssl writes it.
    write_new(&public_key, public_pem.as_bytes(), 0o644)?;
    Ok(GeneratedKey {
        private_key,
        public_key,
        key_id: key_id(&key.verifying_key()),
    })
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::io::Write;
    let err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder.tempfile_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_owned(),
            }
        } else {
            err(e.error)
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_back_private_key_is_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), "ci").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&g.private_key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let sk = load_signing_key(&g.private_key).unwrap();
        let vk = load_verifying_key(&g.public_key).unwrap();
        assert_eq!(sk.verifying_key(), vk);
        assert_eq!(key_id(&vk), g.key_id);
        assert!(
            std::fs::read_to_string(&g.public_key)
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
        let before = std::fs::read(&g.private_key).unwrap();
        assert!(matches!(generate(dir.path(), "ci"), Err(KeyError::Exists { .. })));
        assert_eq!(std::fs::read(&g.private_key).unwrap(), before);
    }

    #[cfg(unix)]
    #[test]
    fn readable_private_key_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), "k").unwrap();
        std::fs::set_permissions(&g.private_key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_signing_key(&g.private_key).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn wrong_formats_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), "k").unwrap();
        // A public key where a private key is expected, and vice versa.
        let err = load_verifying_key(&g.private_key).unwrap_err();
        assert!(err.to_string().contains("not an Ed25519 public key"), "{err}");
        let p = dir.path().join("pub-as-priv.key");
        std::fs::copy(&g.public_key, &p).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = load_signing_key(&p).unwrap_err();
        assert!(err.to_string().contains("not an Ed25519 private key"), "{err}");
    }
}
