//! Attestations in cosign's layout, for the admission controllers clusters
//! already run (cosign, Kyverno's `verifyImages.attestations`): the image's
//! `sha256-<hex>.att` tag names an OCI image manifest whose layers are DSSE
//! envelopes (`application/vnd.dsse.envelope.v1+json`), one per layer, each
//! annotated with its statement's `predicateType`. A new attestation is
//! added to the layers already there (as cosign does), never replaces them.
//!
//! Cosign's layout has no `subject`: what an envelope is about is the
//! statement's subject, which a verifier checks against the image (ours
//! does, check 5; cosign and Kyverno do too).

use std::collections::BTreeSet;

use sealgate_core::Sha256Digest;
use serde_json::{Value, json};

use crate::documents::{Access, Session};
use crate::media_types::{DSSE_ENVELOPE, IMAGE_MANIFESTS, OCI_MANIFEST};
use crate::registry::{block_on, strict_json, subject_manifest, timed};
use crate::{OciError, OciReference, RegistrySettings};

/// The config of a cosign attestation manifest.
const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The layer annotation naming the statement's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// The annotation cosign puts on every signature layer (empty for DSSE:
/// the signature is inside the envelope).
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Most layers an `.att` manifest may hold before sealgate refuses to add
/// to it (each a signed envelope a verifier may read).
pub const MAX_COSIGN_LAYERS: usize = 64;
/// Largest `.att` manifest read.
const MAX_ATT_MANIFEST_BYTES: u64 = 1 << 20;

/// One envelope to attach, with the predicate type of its statement.
#[derive(Debug, Clone)]
pub struct CosignEnvelope {
    /// The statement's `predicateType`.
    pub predicate_type: String,
    /// The DSSE envelope (JSON).
    pub envelope: Vec<u8>,
}

/// The `.att` tag of an image digest.
pub fn cosign_tag(image: &Sha256Digest) -> String {
    format!("sha256-{image}.att")
}

/// Add `envelopes` to `image`'s cosign attestations (its `sha256-<hex>.att`
/// tag), keeping the layers already there. Returns the new manifest.
///
/// # Errors
///
/// [`OciError::NotPinned`] for an image named by tag; registry errors as
/// they come; [`OciError::Artifact`] for an existing `.att` manifest that
/// is not one, or one that would pass [`MAX_COSIGN_LAYERS`].
pub fn attach_cosign_attestations(
    settings: &RegistrySettings,
    image: &OciReference,
    envelopes: &[CosignEnvelope],
) -> Result<OciReference, OciError> {
    let image_digest = image.pinned("an image attested in cosign's layout")?;
    let image = image.with_digest(image_digest);
    let tag = cosign_tag(&image_digest);
    let tag_ref =
        oci_client::Reference::with_tag(image.registry().into(), image.repository().into(), tag.clone());
    let session = Session::new(settings, image.registry())?;
    let client = &session.oci;
    let artifact = |reason: String| att_error(&image, &tag, reason);
    block_on(async {
        session
            .authorize_client(&image, Access::Push, "authenticating to push")
            .await?;
        // The image must be there: an attestation beside nothing helps no one.
        subject_manifest(&session, &image, IMAGE_MANIFESTS).await?;
        // The layers already there (none when the tag is new; any other
        // failure stops here rather than overwrite what is there).
        let mut layers = att_manifest(&session, &image, &tag)
            .await?
            .map(|(_, layers)| layers)
            .unwrap_or_default();
        let known: BTreeSet<String> = layers
            .iter()
            .filter_map(|l| l["digest"].as_str().map(str::to_owned))
            .collect();
        let reference = image.to_client();
        for e in envelopes {
            let digest = Sha256Digest::of_bytes(&e.envelope);
            if known.contains(&digest.prefixed()) {
                continue;
            }
            timed(
                settings,
                &image,
                "pushing an attestation layer",
                client.push_blob(&reference, e.envelope.clone(), &digest.prefixed()),
            )
            .await?;
            layers.push(json!({
                "mediaType": DSSE_ENVELOPE,
                "digest": digest.prefixed(),
                "size": e.envelope.len(),
                "annotations": {
                    PREDICATE_TYPE_ANNOTATION: e.predicate_type,
                    SIGNATURE_ANNOTATION: "",
                },
            }));
        }
        if layers.len() > MAX_COSIGN_LAYERS {
            return Err(artifact(format!(
                "{} layers; at most {MAX_COSIGN_LAYERS}",
                layers.len()
            )));
        }
        // An image config whose rootfs lists the layers, as cosign writes.
        let diff_ids: Vec<&Value> = layers.iter().map(|l| &l["digest"]).collect();
        let config = serde_json::to_vec(&json!({
            "architecture": "",
            "config": {},
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .map_err(|e| artifact(e.to_string()))?;
        let config_digest = Sha256Digest::of_bytes(&config);
        timed(
            settings,
            &image,
            "pushing the attestation config",
            client.push_blob(&reference, config.clone(), &config_digest.prefixed()),
        )
        .await?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": IMAGE_CONFIG, "digest": config_digest.prefixed(), "size": config.len()},
            "layers": layers,
        }))
        .map_err(|e| artifact(e.to_string()))?;
        let manifest_digest = Sha256Digest::of_bytes(&manifest);
        timed(
            settings,
            &image,
            "writing the .att tag",
            client.push_manifest_raw(&tag_ref, manifest, http::HeaderValue::from_static(OCI_MANIFEST)),
        )
        .await?;
        Ok(image.with_digest(manifest_digest))
    })?
}

/// An error about `image`'s `.att` tag `tag`.
fn att_error(image: &OciReference, tag: &str, reason: String) -> OciError {
    OciError::Artifact {
        reference: format!("{}/{}:{tag}", image.registry(), image.repository()),
        reason,
    }
}

/// `image`'s `.att` manifest (tag `tag`): its digest and layers, or `None`
/// when there is no such tag. A tag that cannot be read, or a manifest that
/// is not one, is an error (never "none": a writer would overwrite it).
async fn att_manifest(
    session: &Session<'_>,
    image: &OciReference,
    tag: &str,
) -> Result<Option<(Sha256Digest, Vec<Value>)>, OciError> {
    let Some(body) = crate::documents::tagged(
        session,
        image,
        tag,
        &[OCI_MANIFEST],
        MAX_ATT_MANIFEST_BYTES,
        "fetching the .att manifest",
    )
    .await?
    else {
        return Ok(None);
    };
    let manifest =
        strict_json(&body).map_err(|e| att_error(image, tag, format!("not JSON with one reading: {e}")))?;
    let layers = manifest["layers"]
        .as_array()
        .cloned()
        .ok_or_else(|| att_error(image, tag, "a manifest without layers".into()))?;
    Ok(Some((Sha256Digest::of_bytes(&body), layers)))
}

/// The predicate types of a sealgate bundle's two envelopes, as the `.att`
/// layers' annotations name them.
#[derive(Debug, Clone, Copy)]
pub struct BundlePredicates<'a> {
    /// The verdict's (the SLSA VSA's).
    pub verdict: &'a str,
    /// The report's, bound to its verdict.
    pub report: &'a str,
}

/// The sealgate bundles in `image`'s cosign attestations (its `.att` tag),
/// rebuilt from its layers, newest first: each verdict envelope with the
/// report envelope after it (`attest --push` appends them in that order),
/// or alone when none follows. At most `max_candidates`, each at most
/// `max_bundle_bytes` (its envelopes together), every digest checked; none
/// when there is no `.att` tag. They are proposals, as referrers are:
/// verification decides (a report is bound to its verdict, so a wrong pair
/// is rejected).
///
/// # Errors
///
/// [`OciError::NotPinned`] for an image named by tag; registry errors (a
/// registry that is down is an error, never "none"); [`OciError::Artifact`]
/// for an `.att` manifest that is not one, has more than
/// [`MAX_COSIGN_LAYERS`] layers, or an envelope over the limit.
pub fn fetch_cosign_bundles(
    settings: &RegistrySettings,
    image: &OciReference,
    predicates: BundlePredicates<'_>,
    max_candidates: usize,
    max_bundle_bytes: u64,
) -> Result<Vec<crate::FetchedAttestation>, OciError> {
    let image_digest = image.pinned("an image whose cosign attestations are read")?;
    let image = image.with_digest(image_digest);
    let tag = cosign_tag(&image_digest);
    let session = Session::new(settings, image.registry())?;
    let artifact = |reason: String| att_error(&image, &tag, reason);
    block_on(async {
        let Some((att_digest, layers)) = att_manifest(&session, &image, &tag).await? else {
            return Ok(Vec::new());
        };
        if layers.len() > MAX_COSIGN_LAYERS {
            return Err(artifact(format!(
                "{} layers; at most {MAX_COSIGN_LAYERS}",
                layers.len()
            )));
        }
        let predicate = |i: usize| {
            layers.get(i).and_then(|l| {
                (l["mediaType"] == DSSE_ENVELOPE)
                    .then(|| l["annotations"][PREDICATE_TYPE_ANNOTATION].as_str())
                    .flatten()
            })
        };
        let att = image.with_digest(att_digest);
        let mut found = Vec::new();
        for i in (0..layers.len()).rev() {
            if found.len() >= max_candidates {
                break;
            }
            if predicate(i) != Some(predicates.verdict) {
                continue;
            }
            let mut bundle = Vec::new();
            let members = if predicate(i + 1) == Some(predicates.report) {
                vec![i, i + 1]
            } else {
                vec![i]
            };
            // The envelopes of one bundle together within a bundle's limit.
            let mut total = 0u64;
            for member in members {
                let layer = &layers[member];
                let digest = layer["digest"]
                    .as_str()
                    .and_then(crate::registry::sha256_of)
                    .ok_or_else(|| artifact(format!("layer {member}: its digest is not sha256")))?;
                let size = layer["size"]
                    .as_u64()
                    .ok_or_else(|| artifact(format!("layer {member}: no size")))?;
                total = total.saturating_add(size);
                if total > max_bundle_bytes {
                    return Err(artifact(format!(
                        "the bundle of layer {i} is over {max_bundle_bytes} bytes, the limit for a bundle"
                    )));
                }
                let envelope = crate::documents::get_blob(
                    &session,
                    &image,
                    &digest,
                    size,
                    "fetching an attestation layer",
                )
                .await?;
                crate::registry::check_digest(&image, "an attestation layer", &digest, &envelope)?;
                // One envelope a line, as a bundle has them.
                bundle.extend(envelope.iter().filter(|b| **b != b'\n'));
                bundle.push(b'\n');
            }
            found.push(crate::FetchedAttestation {
                reference: att.clone(),
                bundle,
            });
        }
        Ok(found)
    })?
}

/// The sealgate bundles attached to `image`: its referrers
/// ([`crate::fetch_attestations`]), or, when it has none, the bundles
/// rebuilt from its cosign `.att` layers ([`fetch_cosign_bundles`]): what
/// a copy that kept only cosign's tags still carries.
///
/// # Errors
///
/// As [`crate::fetch_attestations`] and [`fetch_cosign_bundles`].
pub fn fetch_sealgate_bundles(
    settings: &RegistrySettings,
    image: &OciReference,
    predicates: BundlePredicates<'_>,
    max_candidates: usize,
    max_bundle_bytes: u64,
) -> Result<Vec<crate::FetchedAttestation>, OciError> {
    let referrers = crate::fetch_attestations(settings, image, max_candidates, max_bundle_bytes)?;
    if !referrers.is_empty() {
        return Ok(referrers);
    }
    fetch_cosign_bundles(settings, image, predicates, max_candidates, max_bundle_bytes)
}
