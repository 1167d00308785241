//! Referrers: a document pushed as an OCI 1.1 referrer of another manifest
//! (its `subject`), listed by the registry's referrers API where it has one
//! and by the spec's tag schema (`sha256-<hex>` names an index of referrers)
//! where it does not; and fetched back, bounded, for verification. Two kinds
//! travel this way: attestations beside the image they judge, and
//! publishers' signatures beside the policy or gate they sign.

use std::collections::BTreeSet;

use oci_client::manifest::OciDescriptor;
use sealgate_core::Sha256Digest;
use serde_json::{Value, json};

use crate::documents::{Access, MAX_INDEX_BYTES, Session};
use crate::media_types::{
    ATTESTATION_ARTIFACT, ATTESTATION_BUNDLE, DSSE_ENVELOPE, EMPTY_CONFIG, IMAGE_MANIFESTS, OCI_INDEX,
    OCI_MANIFEST, SIGNATURE_ARTIFACT,
};
use crate::registry::{block_on, check_digest, sha256_of, strict_json, subject_manifest, timed};
use crate::{MAX_MANIFEST_BYTES, OciError, OciReference, RegistrySettings};

/// The empty config's bytes (`{}`), as the image spec defines it.
const EMPTY: &[u8] = b"{}";

fn to_json(image: &OciReference, value: &Value) -> Result<Vec<u8>, OciError> {
    serde_json::to_vec(value).map_err(|e| OciError::Artifact {
        reference: image.to_string(),
        reason: format!("cannot write JSON: {e}"),
    })
}

/// What a referrer is: its artifact type, its one layer's media type, the
/// manifests it may be attached to, and what to call it in errors.
struct ReferrerKind {
    artifact_type: &'static str,
    layer: &'static str,
    subjects: &'static [&'static str],
    what: &'static str,
}

/// A sealgate attestation bundle beside an image.
const ATTESTATION: ReferrerKind = ReferrerKind {
    artifact_type: ATTESTATION_ARTIFACT,
    layer: ATTESTATION_BUNDLE,
    subjects: IMAGE_MANIFESTS,
    what: "attestation",
};

/// A publisher's signature beside a sealgate policy or gate.
const SIGNATURE: ReferrerKind = ReferrerKind {
    artifact_type: SIGNATURE_ARTIFACT,
    layer: DSSE_ENVELOPE,
    subjects: &[OCI_MANIFEST],
    what: "signature",
};

/// Where a referrer was attached.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The referrer's manifest, by digest.
    pub attestation: OciReference,
    /// How the registry lists it: `referrers API` or `tag schema (sha256-…)`.
    pub listed_by: String,
}

/// A bundle fetched from beside an image (or a signature from beside an
/// artifact).
#[derive(Debug, Clone)]
pub struct FetchedAttestation {
    /// Its manifest, by digest.
    pub reference: OciReference,
    /// The bundle's bytes.
    pub bundle: Vec<u8>,
}

/// Attach `bundle` to `image` (by digest) as a referrer.
///
/// # Errors
///
/// [`OciError::NotPinned`] for an image named by tag; registry errors as
/// they come; [`OciError::DigestMismatch`] if the image manifest served is
/// not the one named.
pub fn attach_attestation(
    settings: &RegistrySettings,
    image: &OciReference,
    bundle: &[u8],
) -> Result<Attached, OciError> {
    attach(settings, image, &ATTESTATION, bundle)
}

/// Attach a publisher's signature (a DSSE envelope, JSON) to the sealgate
/// policy or gate `artifact` (by digest) as a referrer.
///
/// # Errors
///
/// As [`attach_attestation`].
pub fn attach_signature(
    settings: &RegistrySettings,
    artifact: &OciReference,
    envelope: &[u8],
) -> Result<Attached, OciError> {
    attach(settings, artifact, &SIGNATURE, envelope)
}

fn attach(
    settings: &RegistrySettings,
    image: &OciReference,
    kind: &ReferrerKind,
    bundle: &[u8],
) -> Result<Attached, OciError> {
    let image_digest = image.pinned("what a referrer is attached to")?;
    let image = image.with_digest(image_digest);
    let session = Session::new(settings, image.registry())?;
    let client = &session.oci;
    block_on(async {
        session
            .authorize_client(&image, Access::Push, "authenticating to push")
            .await?;
        // The subject: the manifest as the registry has it.
        let body = subject_manifest(&session, &image, kind.subjects).await?;
        let media_type = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("mediaType").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| OciError::Artifact {
                reference: image.to_string(),
                reason: "its manifest does not give its mediaType".into(),
            })?;
        let bundle_digest = Sha256Digest::of_bytes(bundle);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": kind.artifact_type,
            "config": {"mediaType": EMPTY_CONFIG, "digest": Sha256Digest::of_bytes(EMPTY).prefixed(), "size": EMPTY.len()},
            "layers": [{"mediaType": kind.layer, "digest": bundle_digest.prefixed(), "size": bundle.len()}],
            "subject": {"mediaType": media_type, "digest": image_digest.prefixed(), "size": body.len()},
        });
        // serde_json sorts keys: the same bundle and image give the same digest.
        let manifest_bytes = to_json(&image, &manifest)?;
        let manifest_digest = Sha256Digest::of_bytes(&manifest_bytes);
        let attestation = image.with_digest(manifest_digest);
        let at = attestation.to_client();
        timed(
            settings,
            &attestation,
            "pushing the referrer's layer",
            client.push_blob(&at, bundle.to_vec(), &bundle_digest.prefixed()),
        )
        .await?;
        timed(
            settings,
            &attestation,
            "pushing the empty config",
            client.push_blob(&at, EMPTY.to_vec(), &Sha256Digest::of_bytes(EMPTY).prefixed()),
        )
        .await?;
        timed(
            settings,
            &attestation,
            "pushing the referrer's manifest",
            client.push_manifest_raw(
                &at,
                manifest_bytes.clone(),
                http::HeaderValue::from_static(OCI_MANIFEST),
            ),
        )
        .await?;
        // Listed by the registry's referrers API? Then it is done. If not,
        // add it to the tag schema's index (read, append, write back).
        let listed = crate::documents::referrers(&session, &image).await?;
        if listed
            .manifests
            .iter()
            .any(|m| m.digest == manifest_digest.prefixed())
        {
            return Ok(Attached {
                attestation,
                listed_by: "referrers API".into(),
            });
        }
        let tag = format!("sha256-{image_digest}");
        let tag_ref =
            oci_client::Reference::with_tag(image.registry().into(), image.repository().into(), tag.clone());
        // The index already there (none when the tag is new; any other
        // failure stops here rather than overwrite the referrers listed).
        let existing = crate::documents::tagged(
            &session,
            &image,
            &tag,
            &[OCI_INDEX],
            MAX_INDEX_BYTES,
            "reading the referrers tag",
        )
        .await?;
        let mut index = match existing {
            Some(body) => strict_json(&body).map_err(|e| OciError::Artifact {
                reference: image.to_string(),
                reason: format!("its referrers index (tag {tag}) is not JSON with one reading: {e}"),
            })?,
            None => json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
        };
        let entries = index
            .get_mut("manifests")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| OciError::Artifact {
                reference: image.to_string(),
                reason: format!("its referrers index (tag {tag}) has no manifests list"),
            })?;
        if !entries
            .iter()
            .any(|e| e["digest"] == json!(manifest_digest.prefixed()))
        {
            entries.push(json!({
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest.prefixed(),
                "size": manifest_bytes.len(),
                "artifactType": kind.artifact_type,
            }));
        }
        let index_bytes = to_json(&image, &index)?;
        timed(
            settings,
            &image,
            "writing the referrers tag",
            client.push_manifest_raw(&tag_ref, index_bytes, http::HeaderValue::from_static(OCI_INDEX)),
        )
        .await?;
        Ok(Attached {
            attestation,
            listed_by: format!("tag schema ({tag})"),
        })
    })?
}

/// The sealgate attestations attached to `image` (by digest): at most
/// `max_candidates` referrers are read (the first ones listed), each bundle
/// at most `max_bundle_bytes`, every digest checked, and only manifests of
/// our artifact type whose subject is this image are returned.
///
/// # Errors
///
/// Registry errors (a registry that is down is an error, never "none");
/// [`OciError::Artifact`] when more referrers are listed than may be read.
pub fn fetch_attestations(
    settings: &RegistrySettings,
    image: &OciReference,
    max_candidates: usize,
    max_bundle_bytes: u64,
) -> Result<Vec<FetchedAttestation>, OciError> {
    fetch(settings, image, &ATTESTATION, max_candidates, max_bundle_bytes)
}

/// Most signatures read for one artifact.
pub const MAX_SIGNATURES: usize = 16;
/// Largest signature envelope read.
pub const MAX_SIGNATURE_BYTES: u64 = 64 << 10;

/// The publishers' signatures attached to the sealgate policy or gate
/// `artifact` (by digest): at most [`MAX_SIGNATURES`], each at most
/// [`MAX_SIGNATURE_BYTES`], every digest checked. Whether any is valid, and
/// by whom, is for the caller to verify.
///
/// # Errors
///
/// As [`fetch_attestations`].
pub fn fetch_signatures(
    settings: &RegistrySettings,
    artifact: &OciReference,
) -> Result<Vec<FetchedAttestation>, OciError> {
    fetch(
        settings,
        artifact,
        &SIGNATURE,
        MAX_SIGNATURES,
        MAX_SIGNATURE_BYTES,
    )
}

fn fetch(
    settings: &RegistrySettings,
    image: &OciReference,
    kind: &ReferrerKind,
    max_candidates: usize,
    max_bundle_bytes: u64,
) -> Result<Vec<FetchedAttestation>, OciError> {
    let image_digest = image.pinned("what referrers are fetched for")?;
    let image = image.with_digest(image_digest);
    let session = Session::new(settings, image.registry())?;
    block_on(async {
        let listed = crate::documents::referrers(&session, &image).await?;
        let mut seen = BTreeSet::new();
        let mut found = Vec::new();
        for entry in listed
            .manifests
            .iter()
            .filter(|m| seen.insert(m.digest.clone()))
            .take(max_candidates)
        {
            let Some(digest) = sha256_of(&entry.digest) else {
                continue;
            };
            let reference = image.with_digest(digest);
            let body = crate::documents::manifest_by_digest(
                &session,
                &reference,
                &[OCI_MANIFEST],
                MAX_MANIFEST_BYTES,
                "fetching a referrer",
            )
            .await?;
            let Ok(manifest) = strict_json(&body) else {
                continue;
            };
            let ours = manifest["artifactType"] == kind.artifact_type
                && manifest["subject"]["digest"] == json!(image_digest.prefixed());
            let layer: Option<OciDescriptor> = manifest["layers"]
                .as_array()
                .filter(|l| l.len() == 1)
                .and_then(|l| serde_json::from_value(l[0].clone()).ok());
            let Some(layer) = layer.filter(|l| ours && l.media_type == kind.layer) else {
                continue;
            };
            let Some(bundle_digest) = sha256_of(&layer.digest) else {
                continue;
            };
            let size = u64::try_from(layer.size).unwrap_or(u64::MAX);
            if size > max_bundle_bytes {
                return Err(OciError::Artifact {
                    reference: reference.to_string(),
                    reason: format!(
                        "its {} is {size} bytes; the limit is {max_bundle_bytes}",
                        kind.what
                    ),
                });
            }
            let bundle = crate::documents::get_blob(
                &session,
                &reference,
                &bundle_digest,
                size,
                "fetching a referrer's layer",
            )
            .await?;
            check_digest(&reference, kind.what, &bundle_digest, &bundle)?;
            found.push(FetchedAttestation { reference, bundle });
        }
        Ok(found)
    })?
}
