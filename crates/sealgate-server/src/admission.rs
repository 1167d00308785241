//! `POST /v1/admission`: a Kubernetes validating admission webhook
//! (`AdmissionReview` v1). A Pod, or a workload with a pod template, is
//! admitted only if every image it can run or mount (init, regular and
//! ephemeral containers, and image volumes, `volumes[].image.reference`,
//! Kubernetes 1.31+) is pinned by digest and has a bundle in the attestation
//! store that verifies for that digest under the configured trust file.
//!
//! Fail closed: a kind whose pod spec cannot be found, a store error, or a
//! decision that cannot be logged is a denial, never an admission. The work
//! is bounded: at most [`MAX_IMAGES_PER_REVIEW`] distinct images (more is a
//! denial before any store read), each verified once, and the blocking work
//! stops between images once the request is abandoned (a timeout, a client
//! gone), so a review nobody waits for does not keep writing the log.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use sealgate::Sha256Digest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::api::{ApiError, json_response, read_json};
use crate::state::{AdmissionCheck, Loaded};

const API_VERSION: &str = "admission.k8s.io/v1";

/// Distinct images one review may name. A pod has a handful; more is a
/// denial, since each costs store reads, verifications and a log entry.
pub(crate) const MAX_IMAGES_PER_REVIEW: usize = 64;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionReview {
    api_version: String,
    kind: String,
    request: Option<AdmissionRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionRequest {
    uid: String,
    kind: GroupVersionKind,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    object: Option<Value>,
}

#[derive(Deserialize)]
struct GroupVersionKind {
    #[serde(default)]
    group: String,
    kind: String,
}

/// Where a kind keeps its pod spec.
fn pod_spec<'a>(group: &str, kind: &str, object: &'a Value) -> Option<&'a Value> {
    let pointer = match (group, kind) {
        ("", "Pod") => "/spec",
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job")
        | ("", "ReplicationController") => "/spec/template/spec",
        ("batch", "CronJob") => "/spec/jobTemplate/spec/template/spec",
        _ => return None,
    };
    object.pointer(pointer)
}

/// Every image a pod spec runs or mounts, once each, in a stable order.
fn images(spec: &Value) -> Result<BTreeSet<String>, String> {
    let mut found = BTreeSet::new();
    let mut add = |image: &str| {
        found.insert(image.to_owned());
        if found.len() > MAX_IMAGES_PER_REVIEW {
            Err(format!(
                "the pod spec names more than {MAX_IMAGES_PER_REVIEW} distinct images; not checking any"
            ))
        } else {
            Ok(())
        }
    };
    let list = |name: &str| -> Result<&[Value], String> {
        match spec.get(name) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(format!("{name} is not a list")),
        }
    };
    for name in ["initContainers", "containers", "ephemeralContainers"] {
        for c in list(name)? {
            let image = c
                .get("image")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("a container in {name} has no image"))?;
            add(image)?;
        }
    }
    // An image volume mounts another image's files into the pod: what is
    // mounted must be as attested as what runs.
    for volume in list("volumes")? {
        if let Some(source) = volume.get("image") {
            let reference = source
                .get("reference")
                .and_then(Value::as_str)
                .ok_or_else(|| "an image volume has no reference".to_owned())?;
            add(reference)?;
        }
    }
    Ok(found)
}

/// Set when the request that started a blocking check is dropped, so the
/// check stops at the next image instead of finishing for nobody.
struct Abandoned(Arc<AtomicBool>);

impl Drop for Abandoned {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The digest an image reference is pinned to: `name[:tag]@sha256:<hex>`.
pub(crate) fn pinned_digest(image: &str) -> Option<Sha256Digest> {
    let (_, digest) = image.rsplit_once('@')?;
    digest.strip_prefix("sha256:")?;
    digest.parse().ok()
}

/// `POST /v1/admission`. Always HTTP 200 with an `AdmissionReview` when the
/// review can be read (the API server expects that); a review that cannot be
/// read is a 4xx, which the webhook's `failurePolicy: Fail` turns into a denial.
pub(crate) async fn review(State(shared): State<Arc<Shared>>, req: Request) -> Result<Response, ApiError> {
    let loaded = shared.current();
    let Some(check) = &loaded.admission else {
        return Err(ApiError::disabled(
            "admission-disabled",
            "this server has no admission check: configure [admission] trust and store",
        ));
    };
    let review: AdmissionReview = read_json(&loaded, req).await?;
    if review.api_version != API_VERSION || review.kind != "AdmissionReview" {
        return Err(ApiError::bad_request(format!(
            "expected an AdmissionReview of {API_VERSION}, got kind `{}` of `{}`",
            review.kind, review.api_version
        )));
    }
    let request = review
        .request
        .ok_or_else(|| ApiError::bad_request("the AdmissionReview has no `request`"))?;
    let (allowed, message) = decide(&loaded, check, &request).await;
    shared
        .metrics
        .decision("admission", if allowed { "allowed" } else { "denied" });
    let mut response = json!({"uid": request.uid, "allowed": allowed});
    if !allowed {
        response["status"] = json!({"code": 403, "reason": "Forbidden", "message": message});
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}),
    ))
}

/// Admit or deny, and why (for a denial, every image's problem).
async fn decide(loaded: &Loaded, check: &AdmissionCheck, request: &AdmissionRequest) -> (bool, String) {
    let kind = &request.kind;
    let object = match (&request.object, request.operation.as_str()) {
        // DELETE and CONNECT start nothing.
        (_, "DELETE" | "CONNECT") => return (true, String::new()),
        (Some(object), _) => object,
        (None, _) => return (false, "sealgate: the review has no object to check".into()),
    };
    let Some(spec) = pod_spec(&kind.group, &kind.kind, object) else {
        return (
            false,
            format!(
                "sealgate: cannot find the pod spec of a {}{}{}; the webhook should only send Pods and workloads",
                kind.group,
                if kind.group.is_empty() { "" } else { "/" },
                kind.kind
            ),
        );
    };
    let images = match images(spec) {
        Ok(images) if images.is_empty() => {
            return (false, "sealgate: the pod spec has no container images".into());
        }
        Ok(images) => images,
        Err(e) => return (false, format!("sealgate: {e}")),
    };
    let Some(trust) = loaded.trust.get(&check.trust).cloned() else {
        return (false, format!("sealgate: trust `{}` is not loaded", check.trust));
    };
    let store = check.store.clone();
    let log = loaded.decision_log.clone();
    let images: Vec<String> = images.into_iter().collect();
    let abandoned = Abandoned(Arc::new(AtomicBool::new(false)));
    let stop = abandoned.0.clone();
    // Store reads, verification and log appends block: off the async workers.
    let verdicts = tokio::task::spawn_blocking(move || {
        let mut problems = Vec::new();
        for image in &images {
            if stop.load(Ordering::SeqCst) {
                problems.push("the review was abandoned before every image was checked".into());
                break;
            }
            let verdict = verify_image(image, store.as_ref(), &trust);
            let (digest, bundle, failed) = match &verdict {
                Ok((digest, bundle)) => (Some(*digest), Some(*bundle), None),
                Err((digest, check, _)) => (*digest, None, Some(*check)),
            };
            if let Some(log) = &log {
                let outcome = if failed.is_none() {
                    sealgate_log::LoggedOutcome::Accepted
                } else {
                    sealgate_log::LoggedOutcome::Rejected
                };
                let entry = sealgate_log::Decision {
                    artifact_sha256: digest.map(|d| d.to_string()),
                    bundle_sha256: bundle.map(|b| b.to_string()),
                    failed_check: failed.map(str::to_owned),
                    subject: Some(image.clone()),
                    ..sealgate_log::Decision::new(sealgate_log::LoggedCommand::ServeAdmission, outcome)
                };
                if let Err(e) = log.append(&entry, SystemTime::now()) {
                    problems.push(format!("the decision cannot be logged: {e}"));
                    break;
                }
            }
            if let Err((_, _, why)) = verdict {
                problems.push(format!("{image}: {why}"));
            }
        }
        problems
    })
    .await;
    drop(abandoned);
    match verdicts {
        Ok(problems) if problems.is_empty() => (true, String::new()),
        Ok(problems) => (false, format!("sealgate denied: {}", problems.join("; "))),
        Err(e) => (false, format!("sealgate: the check did not complete: {e}")),
    }
}

type ImageRejection = (Option<Sha256Digest>, &'static str, String);

/// The image's digest and the digest of the bundle that verified, or why none did.
fn verify_image(
    image: &str,
    store: &dyn crate::store::AttestationStore,
    trust: &sealgate_attest::TrustPolicy,
) -> Result<(Sha256Digest, Sha256Digest), ImageRejection> {
    let digest = pinned_digest(image).ok_or((
        None,
        "pinned",
        "not pinned by digest; deploy it as name@sha256:<digest> so what runs is what was attested".into(),
    ))?;
    let lookup = store
        .bundles_for(image, &digest, trust.max_bundle_bytes)
        .map_err(|e| (Some(digest), "store", e.to_string()))?;
    if lookup.bundles.is_empty() {
        let mut why = format!("no attestation for sha256:{digest} in {}", store.describe());
        if !lookup.skipped.is_empty() {
            why.push_str(&format!(" (unusable: {})", lookup.skipped.join(", ")));
        }
        return Err((Some(digest), "attestation", why));
    }
    let mut rejections = Vec::new();
    for bundle in &lookup.bundles {
        match sealgate_attest::verify_bundle(&bundle.bytes, &digest, trust, SystemTime::now()) {
            Ok(_) => return Ok((digest, Sha256Digest::of_bytes(&bundle.bytes))),
            Err(r) => rejections.push((
                r.check.name(),
                format!("{}: {} ({})", bundle.source, r.reason, r.check),
            )),
        }
    }
    let check = rejections.last().map_or("attestation", |(c, _)| *c);
    let reasons: Vec<String> = rejections.into_iter().map(|(_, why)| why).collect();
    Err((
        Some(digest),
        check,
        format!("no bundle verifies: {}", reasons.join("; ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digest_pinned_references_have_a_digest() {
        let hex = "a".repeat(64);
        for pinned in [
            format!("ghcr.io/acme/churn@sha256:{hex}"),
            format!("ghcr.io/acme/churn:1.2@sha256:{hex}"),
            format!("localhost:5000/churn:1.2@sha256:{hex}"),
        ] {
            assert!(pinned_digest(&pinned).is_some(), "{pinned}");
        }
        for unpinned in [
            "ghcr.io/acme/churn:1.2".to_owned(),
            "localhost:5000/churn".to_owned(),
            format!("churn@sha512:{hex}"),
            format!("churn@sha256:{}", "A".repeat(64)),
            format!("churn@sha256:{}", "a".repeat(63)),
            format!("churn@{hex}"),
        ] {
            assert!(pinned_digest(&unpinned).is_none(), "{unpinned}");
        }
    }

    #[test]
    fn pod_specs_are_found_for_pods_and_workloads_only() {
        let pod = json!({"spec": {"containers": [{"image": "a"}]}});
        let deployment = json!({"spec": {"template": {"spec": {"containers": [{"image": "b"}]}}}});
        let cronjob = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "c"}]}}}}}});
        assert!(pod_spec("", "Pod", &pod).is_some());
        assert!(pod_spec("apps", "Deployment", &deployment).is_some());
        assert!(pod_spec("batch", "CronJob", &cronjob).is_some());
        assert!(pod_spec("", "ConfigMap", &pod).is_none());
        assert!(pod_spec("apps", "Pod", &pod).is_none());
    }

    #[test]
    fn every_kind_of_container_is_checked() {
        let spec = json!({
            "initContainers": [{"image": "init"}],
            "containers": [{"image": "app"}, {"image": "app"}],
            "ephemeralContainers": [{"image": "debug"}],
        });
        assert_eq!(
            images(&spec).unwrap().into_iter().collect::<Vec<_>>(),
            ["app", "debug", "init"]
        );
        assert!(images(&json!({"containers": [{"name": "no-image"}]})).is_err());
    }

    #[test]
    fn image_volumes_are_checked_like_containers() {
        let spec = json!({
            "containers": [{"image": "app"}],
            "volumes": [
                {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "model", "image": {"reference": "models/churn:1", "pullPolicy": "IfNotPresent"}},
            ],
        });
        assert_eq!(
            images(&spec).unwrap().into_iter().collect::<Vec<_>>(),
            ["app", "models/churn:1"]
        );
        assert!(images(&json!({"containers": [{"image": "a"}], "volumes": [{"image": {}}]})).is_err());
    }

    #[test]
    fn a_review_names_a_bounded_number_of_images() {
        let many: Vec<Value> = (0..=MAX_IMAGES_PER_REVIEW)
            .map(|i| json!({"image": format!("img{i}")}))
            .collect();
        let err = images(&json!({ "containers": many })).unwrap_err();
        assert!(err.contains("more than 64"), "{err}");
        // Duplicates count once.
        let same: Vec<Value> = (0..1000).map(|_| json!({"image": "same"})).collect();
        assert_eq!(images(&json!({ "containers": same })).unwrap().len(), 1);
    }
}
