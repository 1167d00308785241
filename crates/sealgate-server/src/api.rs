//! The JSON API: `/v1/check`, `/v1/attest`, `/v1/verify`, and the health
//! and metrics endpoints. Every error is a JSON body with a 4xx or 5xx
//! status (`{"error": {"code", "message"}}`), never a dropped connection.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use sealgate::{EvaluationContext, Gate, MetadataDocument, MetadataLimits, Sha256Digest};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use serde_json::value::RawValue;

use crate::Shared;
use crate::config::names;
use crate::state::Loaded;

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", message)
    }

    /// An endpoint the configuration does not enable.
    pub fn disabled(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_response(
            self.status,
            &json!({"error": {"code": self.code, "message": self.message}}),
        );
        // Many errors are answered before the body is read (size, type,
        // token, route); the connection cannot carry another request after
        // that, so say so rather than let a client reuse it and fail.
        response
            .headers_mut()
            .insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
        response
    }
}

/// Largest answer the server gives. Everything in one is bounded already
/// (findings by `output-bytes` and the per-policy cap, logs by `log-bytes`,
/// `/evidence` by the metadata checks), so this is the backstop that keeps an
/// answer proportionate to what was asked, whatever changes later.
pub(crate) const MAX_RESPONSE_BYTES: usize = 32 << 20;

/// Compact JSON (a pretty-printer multiplies deeply nested values by their
/// indentation), one line, at most [`MAX_RESPONSE_BYTES`].
pub(crate) fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) if bytes.len() > MAX_RESPONSE_BYTES => ApiError::internal(format!(
            "the answer would be {} bytes, over the server's limit of {MAX_RESPONSE_BYTES}; \
             lower the gate's output-bytes or the document's size",
            bytes.len()
        ))
        .into_response(),
        Ok(mut bytes) => {
            bytes.push(b'\n');
            (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the answer: {e}"),
        )
            .into_response(),
    }
}

/// The request body as JSON `T`: content type, size and syntax checked.
pub(crate) async fn read_json<T: DeserializeOwned>(loaded: &Loaded, req: Request) -> Result<T, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the request as Content-Type: application/json (got `{content_type}`)"),
        ));
    }
    let limit = loaded.config.limits.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!(
                "the request body is larger than the server's limit of {limit} bytes ([limits] max-body-bytes)"
            ),
        )
    };
    // Refuse a declared length up front, without reading a byte of it.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let body = Limited::new(req.into_body(), usize::try_from(limit).unwrap_or(usize::MAX))
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                too_large()
            } else {
                ApiError::bad_request(format!("cannot read the request body: {e}"))
            }
        })?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ApiError::unprocessable(format!("invalid request: {e}"))
        } else {
            ApiError::bad_request(format!("the request body is not JSON: {e}"))
        }
    })
}

/// `GET /healthz`: the process is up and answering.
pub(crate) async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// `GET /readyz`: gates are loaded, the server is not shutting down, and its
/// evaluation slots are not all stuck (see [`Shared::is_stalled`]).
pub(crate) async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let loaded = shared.current();
    if shared.is_shutting_down() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "shutting-down"}),
        );
    }
    let (free, total) = shared.slots();
    if shared.is_stalled(loaded.config.limits.request_timeout) {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "status": "saturated",
                "evaluation-slots": {"free": free, "total": total},
                "message": "every evaluation slot is busy and none has changed hands for longer than the request timeout",
            }),
        );
    }
    json_response(
        StatusCode::OK,
        &json!({
            "status": "ready",
            "evaluation-slots": {"free": free, "total": total},
            "generation": loaded.generation,
            "gates": loaded.gates.keys().collect::<Vec<_>>(),
            "trust": loaded.trust.keys().collect::<Vec<_>>(),
            "attest": loaded.signing.is_some(),
            "auth": loaded.tokens.is_some(),
            "admission": loaded.admission.is_some(),
        }),
    )
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    match shared.metrics.render() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => ApiError::internal("cannot encode the metrics").into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    /// The gate's `name`.
    gate: String,
    /// The metadata document; its exact bytes are what is hashed and evaluated.
    metadata: Box<RawValue>,
    /// Handed to policies in their context.
    #[serde(default)]
    artifact_sha256: Option<Sha256Digest>,
    /// Evaluate as of this instant (RFC 3339) instead of now.
    #[serde(default)]
    at: Option<String>,
}

/// Gate, document and context of a check or attest request.
fn prepare(
    loaded: &Loaded,
    gate: &str,
    metadata: &RawValue,
    at: Option<&str>,
    artifact: Option<Sha256Digest>,
) -> Result<(Arc<Gate>, MetadataDocument, EvaluationContext), ApiError> {
    let name = gate;
    let gate = loaded.gates.get(name).cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-gate",
            format!(
                "no gate named `{name}`; this server has: {}",
                names(loaded.gates.keys())
            ),
        )
    })?;
    let metadata = MetadataDocument::from_bytes(
        "request metadata",
        metadata.get().as_bytes().to_vec(),
        &MetadataLimits::default(),
    )
    .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    if let Some(artifact) = &artifact {
        metadata
            .check_describes(artifact)
            .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    }
    let at = at
        .map(sealgate::unix_seconds)
        .transpose()
        .map_err(|e| ApiError::unprocessable(format!("at: {e}")))?;
    let context = EvaluationContext::for_run(gate.name(), at, artifact);
    Ok((gate, metadata, context))
}

/// `POST /v1/check`: the gate's report (HTTP 200 whatever the decision; read
/// `decision`).
pub(crate) async fn check(State(shared): State<Arc<Shared>>, req: Request) -> Result<Response, ApiError> {
    let loaded = shared.current();
    let request: CheckRequest = read_json(&loaded, req).await?;
    let (gate, metadata, context) = prepare(
        &loaded,
        &request.gate,
        &request.metadata,
        request.at.as_deref(),
        request.artifact_sha256,
    )?;
    let report = shared.evaluate(gate, metadata, context).await?;
    shared
        .metrics
        .decision("check", sealgate_log::gate_outcome(&report));
    shared
        .record(
            &loaded,
            sealgate_log::Decision::of_report(sealgate_log::LoggedCommand::ServeCheck, &report),
        )
        .await?;
    Ok(json_response(StatusCode::OK, &report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttestRequest {
    gate: String,
    metadata: Box<RawValue>,
    // No `at`: what the server signs is evaluated at the server's time, so a
    // caller cannot date a verdict to when a rule did not yet bite.
    /// The artifact the attestation is about.
    subject: Subject,
    /// `resourceUri` in the verdict [default: the metadata's artifact uri,
    /// else the subject's name].
    #[serde(default)]
    resource_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Subject {
    name: String,
    sha256: Sha256Digest,
}

/// `POST /v1/attest`: evaluate as `/v1/check` does and sign the result with
/// the server's key; the bundle is returned, never stored.
pub(crate) async fn attest(State(shared): State<Arc<Shared>>, req: Request) -> Result<Response, ApiError> {
    let loaded = shared.current();
    let Some(signer) = &loaded.signing else {
        return Err(ApiError::disabled(
            "attest-disabled",
            "this server does not sign: configure [signing] key = \"…\" to enable /v1/attest",
        ));
    };
    let request: AttestRequest = read_json(&loaded, req).await?;
    if request.subject.name.trim().is_empty() {
        return Err(ApiError::unprocessable("subject.name is empty"));
    }
    let (gate, metadata, context) = prepare(
        &loaded,
        &request.gate,
        &request.metadata,
        None,
        Some(request.subject.sha256),
    )?;
    let resource_uri = sealgate_attest::resource_uri_for(
        request.resource_uri.as_deref(),
        metadata.artifact_uri(),
        &request.subject.name,
    );
    let report = shared.evaluate(gate.clone(), metadata, context).await?;
    let bundle = sealgate_attest::sign_report(
        &report,
        &sealgate_attest::AttestationInputs {
            subject_name: &request.subject.name,
            subject_digest: request.subject.sha256,
            verifier_id: &signer.verifier_id,
            resource_uri: &resource_uri,
            gate: gate.config(),
            input_attestations: &[],
        },
        &signer.key,
    );
    shared
        .metrics
        .decision("attest", sealgate_log::gate_outcome(&report));
    shared
        .record(
            &loaded,
            sealgate_log::Decision::of_attestation(
                sealgate_log::LoggedCommand::ServeAttest,
                &report,
                &bundle.sha256,
            ),
        )
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "decision": report.decision,
            "bundle": bundle.text,
            "bundle_sha256": bundle.sha256,
            "key_id": sealgate_attest::key_id(&signer.key.verifying_key()),
            "report": report,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    /// The bundle's text (JSON Lines of DSSE envelopes).
    bundle: String,
    /// The artifact it must be about.
    artifact_sha256: Sha256Digest,
    /// A configured trust file's name [default: the only one configured].
    #[serde(default)]
    trust: Option<String>,
    /// More policies that must have run and passed (adds to the trust
    /// file's): `ID` or `ID=sha256:<module>[,sha256:…]`, as `--require-policy`.
    #[serde(default)]
    required_policies: Vec<String>,
    /// A tighter maximum age than the trust file's (e.g. `1h`).
    #[serde(default)]
    max_age: Option<String>,
    /// Gate policy digests to accept (narrows the trust file's list).
    #[serde(default)]
    policy_digests: Vec<Sha256Digest>,
    /// The `resourceUri` the verdict must name.
    #[serde(default)]
    resource_uri: Option<String>,
    /// The gate whose level (`SEALGATE_<GATE>`) the verdict must hold.
    #[serde(default)]
    gate: Option<String>,
}

/// `POST /v1/verify`: the verification checklist's decision (HTTP 200 for
/// accepted and rejected alike; read `decision`).
pub(crate) async fn verify(State(shared): State<Arc<Shared>>, req: Request) -> Result<Response, ApiError> {
    let loaded = shared.current();
    let request: VerifyRequest = read_json(&loaded, req).await?;
    let trust_name = match (&request.trust, loaded.trust.len()) {
        (Some(name), _) => name.clone(),
        (None, 1) => loaded.trust.keys().next().cloned().unwrap_or_default(),
        (None, _) => {
            return Err(ApiError::unprocessable(format!(
                "name the trust file to verify under in `trust`: one of {}",
                names(loaded.trust.keys())
            )));
        }
    };
    let mut trust = loaded.trust.get(&trust_name).cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-trust",
            format!(
                "no trust file named `{trust_name}`; this server has: {}",
                names(loaded.trust.keys())
            ),
        )
    })?;
    // A request may only add requirements, never loosen the trust file:
    // the same rule as verify's flags beside a trust file.
    let mut extra = sealgate_attest::trust::Tightening::default();
    extra.required_policies = request
        .required_policies
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, String>>()
        .map_err(ApiError::unprocessable)?;
    extra.allowed_policy_digests = request.policy_digests.clone();
    extra.resource_uri = request.resource_uri.clone();
    extra.gate = request.gate.clone();
    if let Some(age) = &request.max_age {
        extra.max_age = Some(sealgate_attest::trust::parse_duration(age).map_err(ApiError::unprocessable)?);
    }
    trust.tighten(&extra).map_err(ApiError::unprocessable)?;
    if request.bundle.len() as u64 > trust.max_bundle_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("the bundle is larger than {} bytes", trust.max_bundle_bytes),
        ));
    }
    let digest = request.artifact_sha256;
    let result =
        sealgate_attest::verify_bundle(request.bundle.as_bytes(), &digest, &trust, SystemTime::now());
    if let Err(r) = &result
        && r.is_malformed_bundle()
    {
        return Err(ApiError::unprocessable(format!(
            "not a valid bundle: {}",
            r.reason
        )));
    }
    let decision = sealgate_attest::VerificationDecision::of(&result);
    shared.metrics.decision("verify", decision.name());
    shared
        .record(
            &loaded,
            sealgate_log::Decision::of_verification(
                sealgate_log::LoggedCommand::ServeVerify,
                &digest,
                &Sha256Digest::of_bytes(request.bundle.as_bytes()),
                trust
                    .required_policies
                    .iter()
                    .flat_map(sealgate_attest::RequiredPolicy::pins),
                result.as_ref().err().map(|r| r.check.name()),
            ),
        )
        .await?;
    let mut summary = sealgate_attest::verification_summary(&result, &digest);
    summary.insert("trust".into(), json!(trust_name));
    Ok(json_response(StatusCode::OK, &summary))
}

/// 404 for anything else.
pub(crate) async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        format!(
            "no endpoint {} {}; see docs/integration.md for the API",
            req.method(),
            req.uri().path()
        ),
    )
}

/// 405 for a known path with the wrong method.
pub(crate) async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}
