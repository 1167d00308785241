//! Publishers' signatures on the policies and gates they push to a
//! registry, and the list of publishers a loader trusts.
//!
//! A publication is a DSSE envelope (Ed25519, as every sealgate signature)
//! over an in-toto Statement v1 whose one subject is the artifact's manifest
//! (`registry/repository` and its sha256) and whose predicate gives the
//! artifact's type:
//!
//! ```json
//! {"_type": "https://in-toto.io/Statement/v1",
//!  "subject": [{"name": "registry.example/compliance/release-gate",
//!               "digest": {"sha256": "<manifest>"}}],
//!  "predicateType": "https://sealgate.dev/publication/v1",
//!  "predicate": {"artifactType": "application/vnd.sealgate.gate.v1"}}
//! ```
//!
//! The manifest digest pins everything the artifact holds; the name binds
//! the signature to the repository it was published to, so a signature
//! copied beside the same bytes in another repository does not count, and
//! the type keeps a policy's signature from passing for a gate's.
//!
//! The publishers file:
//!
//! ```toml
//! api-version = "sealgate/publishers/v1"
//! [[publishers]]
//! name = "compliance"
//! public-key = "keys/compliance.pub"   # relative to this file
//! ```

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use sealgate_core::Sha256Digest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::load_verifying_key;
use crate::statement::{STATEMENT_TYPE, Statement, Subject};
use crate::trust::{TrustFileError, TrustedKey};
use crate::verify::bundle::{SignedMessage, parse_bundle};

/// The predicate type of a publisher's signature.
pub const PUBLICATION_PREDICATE_TYPE: &str = "https://sealgate.dev/publication/v1";
/// Largest signature envelope read.
pub const MAX_PUBLICATION_BYTES: u64 = 64 << 10;

/// What a publisher signs: an artifact, by its manifest digest, in the
/// repository it was published to, of a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// `registry/repository`, as in the artifact's reference (no tag, no
    /// digest).
    pub repository: String,
    /// The artifact's manifest digest.
    pub manifest: Sha256Digest,
    /// The artifact's `artifactType` (a sealgate policy or gate).
    pub artifact_type: String,
}

impl Publication {
    /// The statement signed.
    pub fn statement(&self) -> Statement {
        Statement {
            statement_type: STATEMENT_TYPE.into(),
            subject: vec![Subject::sha256(&self.repository, &self.manifest)],
            predicate_type: PUBLICATION_PREDICATE_TYPE.into(),
            predicate: json!({ "artifactType": self.artifact_type }),
        }
    }

    /// The DSSE envelope (one line of JSON) signing it with `key`.
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        // Serializing these types cannot fail.
        let payload = serde_json::to_vec(&self.statement()).unwrap_or_default();
        serde_json::to_vec(&Envelope::sign(IN_TOTO_PAYLOAD_TYPE, &payload, key)).unwrap_or_default()
    }
}

/// The publishers whose signatures a loader accepts.
#[derive(Debug, Clone)]
pub struct Publishers {
    keys: Vec<TrustedKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PublishersFile {
    api_version: String,
    publishers: Vec<PublisherEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PublisherEntry {
    name: String,
    public_key: PathBuf,
}

impl Publishers {
    /// Trust these keys (at least one: no key would trust nothing, and a
    /// requirement nobody can meet is a mistake, not a policy).
    ///
    /// # Errors
    ///
    /// A message when `keys` is empty or names one publisher twice.
    pub fn new(keys: Vec<TrustedKey>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("no publishers: name at least one [[publishers]] key".into());
        }
        let mut names = std::collections::BTreeSet::new();
        if let Some(k) = keys.iter().find(|k| !names.insert(k.name.as_str())) {
            return Err(format!("publisher `{}` is named twice", k.name));
        }
        Ok(Self { keys })
    }

    /// Load a publishers file; key paths are relative to it.
    ///
    /// # Errors
    ///
    /// A [`TrustFileError`]: unreadable, invalid, or a key it names unusable.
    pub fn load(path: &Path) -> Result<Self, TrustFileError> {
        let invalid = |message: String| TrustFileError::Invalid {
            path: path.to_owned(),
            message,
        };
        let version = sealgate_core::ApiVersion::<PublishersFile> {
            expected: "sealgate/publishers/v1",
            of: |f| &f.api_version,
        };
        let file: PublishersFile =
            sealgate_core::read_toml_file(path, 1 << 20, Some(version)).map_err(|e| match e {
                sealgate_core::TomlFileError::Read(e) => TrustFileError::Read(e),
                other => invalid(other.to_string()),
            })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut keys = Vec::new();
        for p in file.publishers {
            let key_path = if p.public_key.is_relative() {
                dir.join(&p.public_key)
            } else {
                p.public_key
            };
            let key = load_verifying_key(&key_path).map_err(|source| TrustFileError::Key {
                path: path.to_owned(),
                source,
            })?;
            keys.push(TrustedKey { name: p.name, key });
        }
        Self::new(keys).map_err(invalid)
    }

    /// The publishers' names, in the file's order.
    pub fn names(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.name.as_str()).collect()
    }

    /// The name of the trusted publisher whose signature `envelope` is a
    /// publication of `expected`, or why it is not one.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong: not one envelope, not signed by a
    /// trusted publisher, or signed for another artifact, repository or type.
    pub fn verify(&self, envelope: &[u8], expected: &Publication) -> Result<&str, String> {
        let lines = parse_bundle(envelope, MAX_PUBLICATION_BYTES)?;
        let [line] = lines.as_slice() else {
            return Err(format!("{} envelopes; a signature is one", lines.len()));
        };
        if line.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(format!(
                "payloadType `{}`, not {IN_TOTO_PAYLOAD_TYPE}",
                line.envelope.payload_type
            ));
        }
        let signed = SignedMessage::of(line);
        let signer = self
            .keys
            .iter()
            .find(|k| signed.by(&k.key))
            .ok_or_else(|| format!("not signed by a trusted publisher ({})", self.names().join(", ")))?;
        // Only what a trusted key signed is read.
        let statement: Statement = serde_json::from_slice(&line.payload)
            .map_err(|e| format!("the signed statement is not an in-toto statement: {e}"))?;
        if statement.statement_type != STATEMENT_TYPE
            || statement.predicate_type != PUBLICATION_PREDICATE_TYPE
        {
            return Err(format!(
                "signed by {} but not a publication: _type `{}`, predicateType `{}`",
                signer.name, statement.statement_type, statement.predicate_type
            ));
        }
        let [subject] = statement.subject.as_slice() else {
            return Err(format!(
                "signed by {}, but for {} subjects; a publication names one artifact",
                signer.name,
                statement.subject.len()
            ));
        };
        let digest = expected.manifest.to_string();
        if subject.digest.get("sha256") != Some(&digest) || subject.digest.len() != 1 {
            return Err(format!(
                "signed by {} for another artifact ({:?}), not sha256:{digest}",
                signer.name, subject.digest
            ));
        }
        if subject.name != expected.repository {
            return Err(format!(
                "signed by {} for the same bytes in `{}`, not `{}` (a signature counts only in the repository it was published to)",
                signer.name, subject.name, expected.repository
            ));
        }
        let artifact_type = statement.predicate.get("artifactType").and_then(Value::as_str);
        if artifact_type != Some(expected.artifact_type.as_str()) {
            return Err(format!(
                "signed by {} as a `{}`, not a `{}`",
                signer.name,
                artifact_type.unwrap_or("(no artifactType)"),
                expected.artifact_type
            ));
        }
        Ok(&signer.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn publication() -> Publication {
        Publication {
            repository: "registry.example/compliance/gate".into(),
            manifest: Sha256Digest::of_bytes(b"manifest"),
            artifact_type: "application/vnd.sealgate.gate.v1".into(),
        }
    }

    fn publishers() -> Publishers {
        Publishers::new(vec![TrustedKey {
            name: "compliance".into(),
            key: key(1).verifying_key(),
        }])
        .unwrap()
    }

    #[test]
    fn a_publication_signed_by_a_trusted_key_verifies() {
        let envelope = publication().sign(&key(1));
        assert_eq!(publishers().verify(&envelope, &publication()), Ok("compliance"));
    }

    #[test]
    fn every_way_a_signature_can_be_for_something_else_is_refused() {
        let trusted = publishers();
        let expected = publication();
        let err = trusted.verify(&expected.sign(&key(2)), &expected).unwrap_err();
        assert!(
            err.contains("not signed by a trusted publisher (compliance)"),
            "{err}"
        );

        let other_digest = Publication {
            manifest: Sha256Digest::of_bytes(b"other"),
            ..expected.clone()
        };
        let err = trusted
            .verify(&other_digest.sign(&key(1)), &expected)
            .unwrap_err();
        assert!(err.contains("for another artifact"), "{err}");

        let other_repo = Publication {
            repository: "registry.example/someone/else".into(),
            ..expected.clone()
        };
        let err = trusted.verify(&other_repo.sign(&key(1)), &expected).unwrap_err();
        assert!(err.contains("in the repository it was published to"), "{err}");

        let other_type = Publication {
            artifact_type: "application/vnd.sealgate.policy.v1".into(),
            ..expected.clone()
        };
        let err = trusted.verify(&other_type.sign(&key(1)), &expected).unwrap_err();
        assert!(err.contains("not a `application/vnd.sealgate.gate.v1`"), "{err}");

        // Another statement by the same key (an attestation) is not a publication.
        let mut statement = expected.statement();
        statement.predicate_type = "https://slsa.dev/verification_summary/v1".into();
        let envelope = serde_json::to_vec(&Envelope::sign(
            IN_TOTO_PAYLOAD_TYPE,
            &serde_json::to_vec(&statement).unwrap(),
            &key(1),
        ))
        .unwrap();
        let err = trusted.verify(&envelope, &expected).unwrap_err();
        assert!(err.contains("not a publication"), "{err}");
    }

    #[test]
    fn a_statement_with_two_readings_is_refused_before_it_is_read() {
        let expected = publication();
        let payload = format!(
            r#"{{"_type":"{STATEMENT_TYPE}","_type":"x","subject":[],"predicateType":"{PUBLICATION_PREDICATE_TYPE}","predicate":{{}}}}"#
        );
        let envelope =
            serde_json::to_vec(&Envelope::sign(IN_TOTO_PAYLOAD_TYPE, payload.as_bytes(), &key(1))).unwrap();
        let err = publishers().verify(&envelope, &expected).unwrap_err();
        assert!(err.contains("more than one reading"), "{err}");
    }

    #[test]
    fn no_publishers_is_a_mistake() {
        assert!(Publishers::new(Vec::new()).is_err());
    }
}
