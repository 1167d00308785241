use std::fmt;

use sealgate_core::Sha256Digest;

use crate::OciError;

/// `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]`: where an artifact is.
/// The registry is always explicit (no Docker Hub default: a gate must say
/// which registry it trusts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciReference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Sha256Digest>,
}

const SCHEME: &str = "oci://";

impl OciReference {
    /// Parse `oci://…`.
    ///
    /// # Errors
    ///
    /// [`OciError::Reference`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, OciError> {
        let bad = |reason: &str| OciError::Reference {
            reference: text.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("it must start with `oci://`"))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("expected oci://REGISTRY/REPOSITORY"))?;
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(bad(
                "the first part must be a registry host (`registry.example.com`, `127.0.0.1:5000`)",
            ));
        }
        let (path, digest) = match path.split_once('@') {
            Some((p, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("a digest must be `sha256:` and 64 hex digits"))?;
                let digest: Sha256Digest = hex
                    .parse()
                    .map_err(|_| bad("a digest must be `sha256:` and 64 hex digits"))?;
                (p, Some(digest))
            }
            None => (path, None),
        };
        // A tag follows the last `:` of the last path segment.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_owned())),
            _ => (path, None),
        };
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if !repository.split('/').all(segment_ok) {
            return Err(bad(
                "a repository is lowercase path segments of a-z, 0-9, `.`, `_`, `-`",
            ));
        }
        if let Some(tag) = &tag
            && (tag.is_empty()
                || tag.len() > 128
                || !tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
        {
            return Err(bad("a tag is 1-128 characters of A-Z, a-z, 0-9, `.`, `_`, `-`"));
        }
        if tag.is_none() && digest.is_none() {
            return Err(bad("name a tag (`:v1`) or a digest (`@sha256:…`)"));
        }
        Ok(Self {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    /// The registry host (and port).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository in it.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one is named.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The manifest digest, if one is named.
    pub fn digest(&self) -> Option<&Sha256Digest> {
        self.digest.as_ref()
    }

    /// The manifest digest, which `what` requires.
    ///
    /// # Errors
    ///
    /// [`OciError::NotPinned`] for a reference that names only a tag.
    pub fn pinned(&self, what: &'static str) -> Result<Sha256Digest, OciError> {
        self.digest.ok_or_else(|| OciError::NotPinned {
            reference: self.to_string(),
            what,
        })
    }

    /// The same artifact, by digest (what to print after a push).
    pub fn with_digest(&self, digest: Sha256Digest) -> Self {
        Self {
            digest: Some(digest),
            tag: None,
            ..self.clone()
        }
    }

    /// oci-client's reference: by digest when there is one.
    pub(crate) fn to_client(&self) -> oci_client::Reference {
        match &self.digest {
            Some(d) => oci_client::Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                d.prefixed(),
            ),
            None => oci_client::Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                self.tag.clone().unwrap_or_default(),
            ),
        }
    }
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{}", digest.prefixed())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0a7ed3f7a811b02498be65d125981f46956ea4bb65dd4b59267c4f29b1efc3da";

    #[test]
    fn parses_tags_digests_and_ports() {
        let r = OciReference::parse(&format!("oci://127.0.0.1:5000/sealgate/pii:v1@sha256:{HEX}")).unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "sealgate/pii");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.digest().unwrap().to_string(), HEX);
        assert_eq!(
            r.to_string(),
            format!("oci://127.0.0.1:5000/sealgate/pii:v1@sha256:{HEX}")
        );
        let tagged = OciReference::parse("oci://registry.example.com/policies/pii:1.0").unwrap();
        assert!(matches!(tagged.pinned("a gate"), Err(OciError::NotPinned { .. })));
        assert_eq!(
            tagged.with_digest(HEX.parse().unwrap()).to_string(),
            format!("oci://registry.example.com/policies/pii@sha256:{HEX}")
        );
    }

    #[test]
    fn refuses_what_is_not_an_explicit_reference() {
        for bad in [
            "registry.example.com/pii:1",
            "oci://pii:1",
            "oci://library/pii:1",
            "oci://r.example.com/Pii:1",
            "oci://r.example.com/pii",
            "oci://r.example.com/pii@sha256:abc",
            "oci://r.example.com/pii@md5:0123",
            "oci://r.example.com/pii:",
            "oci://r.example.com//pii:1",
        ] {
            assert!(OciReference::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
