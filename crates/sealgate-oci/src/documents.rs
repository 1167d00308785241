//! The registry's JSON documents (manifests, indexes, referrers lists), read
//! with a size bound. oci-client reads a whole response body into memory
//! before a caller can look at it, so a hostile registry (in admission, any
//! image's registry is one a Pod's author chose) could make the host hold
//! gigabytes within the timeout. These GETs use oci-client's authentication
//! (its token exchange) and the same TLS settings, and stream the body,
//! stopping at the limit. Blobs are streamed into a bounded sink already
//! (`BoundedSink`).

use oci_client::RegistryOperation;
use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::secrets::RegistryAuth;

use crate::registry::timed;
use crate::{OciError, OciReference, RegistrySettings};

/// One registry operation's settings, client and credentials.
pub(crate) struct Session<'a> {
    pub(crate) settings: &'a RegistrySettings,
    pub(crate) oci: oci_client::Client,
    pub(crate) auth: RegistryAuth,
}

impl<'a> Session<'a> {
    /// A client for `registry` with its credentials from `settings`.
    pub(crate) fn new(settings: &'a RegistrySettings, registry: &str) -> Self {
        Self {
            settings,
            oci: settings.client(),
            auth: settings.auth_for(registry),
        }
    }
}

/// How a GET ended, short of an error.
enum Read {
    Body(Vec<u8>),
    NotFound,
    TooLarge,
}

/// What to read: `manifests/<digest or tag>` or `referrers/<digest>`.
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
    let Session { settings, oci, auth } = session;
    let registry_error = |source: OciDistributionError| OciError::Registry {
        reference: reference.to_string(),
        operation: document.operation,
        source,
    };
    let too_large = || OciError::Artifact {
        reference: reference.to_string(),
        reason: format!(
            "{}: the registry sent more than the {} bytes such a document may have",
            document.operation, document.limit
        ),
    };
    let client_ref = reference.to_client();
    let http = settings.http().map_err(registry_error)?;
    timed(settings, reference, document.operation, async {
        // The token oci-client negotiated (a bearer registry), else basic
        // credentials where we have them, else anonymous.
        let token = oci.auth(&client_ref, auth, RegistryOperation::Pull).await?;
        let url = format!(
            "https://{}/v2/{}/{}",
            client_ref.resolve_registry(),
            client_ref.repository(),
            document.path
        );
        let mut request = http
            .get(&url)
            .header(http::header::ACCEPT, document.accept.join(", "));
        request = match (token, auth) {
            (Some(token), _) => request.bearer_auth(token),
            (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
            (None, _) => request,
        };
        let mut response = request.send().await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Read::NotFound);
        }
        // Refused by its declared length before a byte is read, and cut
        // off past the limit when it declares none (or lies).
        if response.content_length().is_some_and(|n| n > document.limit) {
            return Ok(Read::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() as u64 + chunk.len() as u64 > document.limit {
                return Ok(Read::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        if status == reqwest::StatusCode::OK {
            return Ok(Read::Body(body));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(OciDistributionError::UnauthorizedError { url });
        }
        Err(match serde_json::from_slice::<OciEnvelope>(&body) {
            Ok(envelope) => OciDistributionError::RegistryError { envelope, url },
            Err(_) => OciDistributionError::ServerError {
                code: status.as_u16(),
                url,
                message: String::from_utf8_lossy(&body[..body.len().min(1024)]).into_owned(),
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
