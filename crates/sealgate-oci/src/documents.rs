//! What sealgate reads from a registry, read with a size bound: the token
//! answer of a bearer registry, manifests, indexes, referrers lists and
//! blobs. oci-client reads a whole response body into memory before a caller
//! can look at it (a token answer, an error answer, a manifest), so a hostile
//! registry (in admission, any image's registry is one a Pod's author chose)
//! could make the host hold gigabytes within the timeout. Here every body is
//! streamed and cut off at its limit, with oci-client's TLS settings; the
//! token negotiated here is what oci-client presents when it pushes.

use http_auth::parser::ChallengeParser;
use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::secrets::RegistryAuth;
use serde_json::Value;

use sealgate_core::Sha256Digest;

use crate::registry::timed;
use crate::{OciError, OciReference, RegistrySettings};

/// Largest answer read from a registry's token service.
pub(crate) const MAX_TOKEN_BYTES: u64 = 64 << 10;

/// Most of an error answer read (for its message).
const MAX_ERROR_BYTES: u64 = 64 << 10;

/// The access a session asks a repository for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Pull,
    Push,
}

/// One registry operation's settings, clients and credentials. Its one
/// HTTP client keeps its connections, so the requests of one operation
/// share a TLS session.
pub(crate) struct Session<'a> {
    pub(crate) settings: &'a RegistrySettings,
    pub(crate) oci: oci_client::Client,
    http: reqwest::Client,
    /// The credentials the settings give for this registry (basic, or none).
    credentials: RegistryAuth,
    /// What was negotiated, for which repository and access.
    negotiated: tokio::sync::Mutex<Option<(String, Access, RegistryAuth)>>,
}

impl<'a> Session<'a> {
    /// Clients for `registry` with its credentials from `settings`.
    ///
    /// # Errors
    ///
    /// [`OciError::Settings`] when the TLS settings make no HTTP client.
    pub(crate) fn new(settings: &'a RegistrySettings, registry: &str) -> Result<Self, OciError> {
        let http = settings
            .http()
            .map_err(|e| OciError::Settings(format!("an HTTP client for {registry}: {e}")))?;
        Ok(Self {
            settings,
            oci: settings.client(),
            http,
            credentials: settings.auth_for(registry),
            negotiated: tokio::sync::Mutex::new(None),
        })
    }

    /// What to present to `reference`'s repository for `access`: the token
    /// a bearer registry's token service gave (negotiated here, its answer
    /// bounded), else the basic credentials the settings have, else nothing.
    /// `operation` names what it is for in errors.
    pub(crate) async fn authorization(
        &self,
        reference: &OciReference,
        access: Access,
        operation: &'static str,
    ) -> Result<RegistryAuth, OciError> {
        let mut negotiated = self.negotiated.lock().await;
        if let Some((repository, granted, auth)) = negotiated.as_ref()
            && repository == reference.repository()
            && (*granted == Access::Push || access == Access::Pull)
        {
            return Ok(auth.clone());
        }
        let auth = timed(
            self.settings,
            reference,
            operation,
            self.negotiate(reference, access),
        )
        .await?;
        *negotiated = Some((reference.repository().to_owned(), access, auth.clone()));
        Ok(auth)
    }

    /// Negotiate `access`, then hand the result to oci-client, which pushes
    /// with it (given a token, oci-client asks no token service itself).
    pub(crate) async fn authorize_client(
        &self,
        reference: &OciReference,
        access: Access,
        operation: &'static str,
    ) -> Result<(), OciError> {
        let auth = self.authorization(reference, access, operation).await?;
        // Keyed as oci-client looks it up (docker.io is index.docker.io).
        self.oci
            .store_auth_if_needed(reference.to_client().resolve_registry(), &auth)
            .await;
        Ok(())
    }

    /// The distribution spec's token flow: `GET /v2/`; a `Bearer`
    /// challenge names the token service (which must be https, as the
    /// registry is: credentials are never sent in clear), asked for this
    /// repository's scope with the basic credentials, if any.
    async fn negotiate(
        &self,
        reference: &OciReference,
        access: Access,
    ) -> Result<RegistryAuth, OciDistributionError> {
        let http = &self.http;
        let registry = reference.to_client().resolve_registry().to_owned();
        let probe = http.get(format!("https://{registry}/v2/")).send().await?;
        let challenge = probe
            .headers()
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .find_map(bearer_challenge);
        // Its body is never read.
        drop(probe);
        let Some((realm, service)) = challenge else {
            return Ok(self.credentials.clone());
        };
        let failure = |reason: String| {
            OciDistributionError::AuthenticationFailure(format!("token service {realm}: {reason}"))
        };
        if !realm.starts_with("https://") {
            return Err(failure(
                "not https; credentials and tokens are exchanged over TLS only".into(),
            ));
        }
        let scope = match access {
            Access::Pull => format!("repository:{}:pull", reference.repository()),
            Access::Push => format!("repository:{}:pull,push", reference.repository()),
        };
        let mut query = vec![("scope", scope)];
        if let Some(service) = service {
            query.push(("service", service));
        }
        let mut request = http.get(&realm).query(&query);
        if let RegistryAuth::Basic(user, password) = &self.credentials {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await?;
        let status = response.status();
        let Some(body) = read_bounded(response, MAX_TOKEN_BYTES).await? else {
            return Err(failure(format!("its answer is over {MAX_TOKEN_BYTES} bytes")));
        };
        if !status.is_success() {
            return Err(failure(format!("answered {status}: {}", excerpt(&body))));
        }
        let answer: Value =
            serde_json::from_slice(&body).map_err(|e| failure(format!("its answer is not JSON: {e}")))?;
        // The spec's `token`; OAuth 2's `access_token` is its alias.
        ["token", "access_token"]
            .iter()
            .find_map(|key| answer.get(key).and_then(Value::as_str))
            .filter(|token| !token.is_empty())
            .map(|token| RegistryAuth::Bearer(token.to_owned()))
            .ok_or_else(|| failure("its answer has no `token`".into()))
    }
}

/// The first `Bearer` challenge of a `WWW-Authenticate` value: its realm
/// and service.
fn bearer_challenge(value: &http::HeaderValue) -> Option<(String, Option<String>)> {
    let challenge = ChallengeParser::new(value.to_str().ok()?)
        .filter_map(Result::ok)
        .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))?;
    let param = |name: &str| {
        challenge
            .params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.to_unescaped())
    };
    Some((param("realm")?, param("service")))
}

/// A response body, or `None` past `limit` bytes: refused by its declared
/// length before a byte is read, and cut off past the limit when it
/// declares none (or lies).
async fn read_bounded(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The start of an error answer, for a message: at most 1 KiB, control
/// characters escaped (it is the registry's text, printed into a terminal
/// or a CI log).
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(1024)])
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// How a GET ended, short of an error.
enum Read {
    Body(Vec<u8>),
    NotFound,
    TooLarge,
}

/// What to read: `manifests/<digest or tag>`, `referrers/<digest>` or
/// `blobs/<digest>`.
pub(crate) struct Document<'a> {
    pub(crate) path: String,
    pub(crate) accept: &'a [&'a str],
    pub(crate) limit: u64,
    pub(crate) operation: &'static str,
}

/// GET the document, or `None` when the registry answers 404 (no such
/// manifest or tag; for `referrers/`, no referrers API). Every other answer
/// but 200 is an error, as is a body over the limit.
pub(crate) async fn get_document(
    session: &Session<'_>,
    reference: &OciReference,
    document: Document<'_>,
) -> Result<Option<Vec<u8>>, OciError> {
    let settings = session.settings;
    let too_large = || OciError::Artifact {
        reference: reference.to_string(),
        reason: format!(
            "{}: the registry sent more than the {} bytes it may have",
            document.operation, document.limit
        ),
    };
    let auth = session
        .authorization(reference, Access::Pull, document.operation)
        .await?;
    let http = &session.http;
    timed(settings, reference, document.operation, async {
        let client_ref = reference.to_client();
        let url = format!(
            "https://{}/v2/{}/{}",
            client_ref.resolve_registry(),
            client_ref.repository(),
            document.path
        );
        let mut request = http
            .get(&url)
            .header(http::header::ACCEPT, document.accept.join(", "));
        request = match &auth {
            RegistryAuth::Bearer(token) => request.bearer_auth(token),
            RegistryAuth::Basic(user, password) => request.basic_auth(user, Some(password)),
            RegistryAuth::Anonymous => request,
        };
        // Redirects (blobs are often served from elsewhere) are followed
        // by reqwest, https only, without the credentials to another host.
        let response = request.send().await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Read::NotFound);
        }
        if status == reqwest::StatusCode::OK {
            return Ok(match read_bounded(response, document.limit).await? {
                Some(body) => Read::Body(body),
                None => Read::TooLarge,
            });
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(OciDistributionError::UnauthorizedError { url });
        }
        let body = read_bounded(response, MAX_ERROR_BYTES).await?.unwrap_or_default();
        Err(match serde_json::from_slice::<OciEnvelope>(&body) {
            Ok(envelope) => OciDistributionError::RegistryError { envelope, url },
            Err(_) => OciDistributionError::ServerError {
                code: status.as_u16(),
                url,
                message: excerpt(&body),
            },
        })
    })
    .await
    .and_then(|read| match read {
        Read::Body(body) => Ok(Some(body)),
        Read::NotFound => Ok(None),
        Read::TooLarge => Err(too_large()),
    })
}

/// The blob `digest` names, required, at most `size` bytes (the size its
/// manifest gives). The caller checks its digest and size.
pub(crate) async fn get_blob(
    session: &Session<'_>,
    reference: &OciReference,
    digest: &Sha256Digest,
    size: u64,
    operation: &'static str,
) -> Result<Vec<u8>, OciError> {
    let document = Document {
        path: format!("blobs/{}", digest.prefixed()),
        accept: &["*/*"],
        limit: size,
        operation,
    };
    get_document(session, reference, document)
        .await?
        .ok_or_else(|| OciError::Artifact {
            reference: reference.to_string(),
            reason: format!("{operation}: the registry has no blob {}", digest.prefixed()),
        })
}

/// Largest image manifest, image index or referrers list read.
pub(crate) const MAX_INDEX_BYTES: u64 = 4 << 20;

/// The manifest (or index) `reference` names by digest, required: not
/// found is an error, and the bytes must hash to the digest.
pub(crate) async fn manifest_by_digest(
    session: &Session<'_>,
    reference: &OciReference,
    accept: &[&str],
    limit: u64,
    operation: &'static str,
) -> Result<Vec<u8>, OciError> {
    let digest = reference.pinned("a manifest fetched by digest")?;
    let document = Document {
        path: format!("manifests/{}", digest.prefixed()),
        accept,
        limit,
        operation,
    };
    let body = get_document(session, reference, document)
        .await?
        .ok_or_else(|| OciError::Registry {
            reference: reference.to_string(),
            operation,
            source: OciDistributionError::ImageManifestNotFoundError(format!(
                "the registry has no manifest {}",
                digest.prefixed()
            )),
        })?;
    crate::registry::check_digest(reference, "the manifest", &digest, &body)?;
    Ok(body)
}

/// The manifest (or index) tagged `tag` in `reference`'s repository, or
/// `None` when there is no such tag.
pub(crate) async fn tagged(
    session: &Session<'_>,
    reference: &OciReference,
    tag: &str,
    accept: &[&str],
    limit: u64,
    operation: &'static str,
) -> Result<Option<Vec<u8>>, OciError> {
    let document = Document {
        path: format!("manifests/{tag}"),
        accept,
        limit,
        operation,
    };
    get_document(session, reference, document).await
}

/// The referrers of `subject` (by digest): the registry's referrers API,
/// else the tag schema's index (`sha256-<hex>`), else none. Only "not
/// found" is none: any other failure is an error.
pub(crate) async fn referrers(
    session: &Session<'_>,
    subject: &OciReference,
) -> Result<oci_client::manifest::OciImageIndex, OciError> {
    const OPERATION: &str = "listing the image's referrers";
    let digest = subject.pinned("what referrers are listed for")?;
    let index = [crate::media_types::OCI_INDEX];
    let api = Document {
        path: format!("referrers/{}", digest.prefixed()),
        accept: &index,
        limit: MAX_INDEX_BYTES,
        operation: OPERATION,
    };
    let body = match get_document(session, subject, api).await? {
        Some(body) => Some(body),
        None => {
            let tag = format!("sha256-{digest}");
            tagged(session, subject, &tag, &index, MAX_INDEX_BYTES, OPERATION).await?
        }
    };
    let Some(body) = body else {
        return Ok(oci_client::manifest::OciImageIndex {
            schema_version: 2,
            media_type: Some(crate::media_types::OCI_INDEX.into()),
            manifests: Vec::new(),
            artifact_type: None,
            annotations: None,
        });
    };
    let value = crate::registry::strict_json(&body).map_err(|e| OciError::Artifact {
        reference: subject.to_string(),
        reason: format!("its referrers list is not JSON with one reading: {e}"),
    })?;
    serde_json::from_value(value).map_err(|e| OciError::Artifact {
        reference: subject.to_string(),
        reason: format!("its referrers list is not an OCI image index: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_as_registries_write_them() {
        let header = |v: &str| http::HeaderValue::from_str(v).unwrap();
        assert_eq!(
            bearer_challenge(&header(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#
            )),
            Some((
                "https://auth.docker.io/token".into(),
                Some("registry.docker.io".into())
            ))
        );
        assert_eq!(
            bearer_challenge(&header(r#"Basic realm="x", Bearer realm="https://r/t""#)),
            Some(("https://r/t".into(), None))
        );
        assert_eq!(bearer_challenge(&header(r#"Basic realm="Registry Realm""#)), None);
        assert_eq!(bearer_challenge(&header("Bearer service=\"no-realm\"")), None);
    }

    #[test]
    fn a_registrys_text_is_cut_and_escaped() {
        assert_eq!(excerpt(b"denied\x1b[31m\n"), "denied\\u{1b}[31m\\n");
        assert_eq!(excerpt(&[b'a'; 5000]).len(), 1024);
    }
}
