//! The verification checklist. Every step is a function, run in this order;
//! the first failure rejects the bundle and names its check. Only this module
//! can make a [`VerifiedAttestation`].
//!
//!  1) `bundle`: bounded size; every line a well-formed DSSE envelope
//!  2) `payload-type`: `application/vnd.in-toto+json`
//!  3) `signature`: a valid Ed25519 signature over the PAE by a trusted key,
//!     on the verdict and, by the same key, on every other line
//!     (keyid is only a hint; untrusted signatures are ignored)
//!  4) `statement-type`: in-toto Statement v1
//!  5) `subject`: a subject's sha256 equals the artifact's
//!  6) `predicate-type`: SLSA Verification Summary v1
//!  7) `binding`: one decision per bundle: line 1 is the only verdict, and
//!     the report statement (at most one) is bound to it (the sha256 of the
//!     verdict's signed bytes, the same subject, gate, policy digest, time
//!     and result), so lines of two evaluations never combine
//!  8) `verifier-id`: the required verifier
//!  9) `result`: `PASSED`
//! 10) `resource-uri`: the expected `resourceUri` (when one is required)
//! 11) `level`: `verifiedLevels` holds the expected gate's `SEALGATE_<GATE>`
//!     (when a gate is required)
//! 12) `policy-digest`: among the allowed ones (when any are required)
//! 13) `age`: within max-age, and not in the future beyond the skew
//! 14) `required-policies`: present and passed, each by a module accepted
//!     for it, in the report bound to the verdict
//!
//! `bundle`'s first parse also refuses a document with two readings
//! (`strict_json.rs`) and more envelopes or signatures than the caps.

use std::time::{Duration, SystemTime};

use ed25519_dalek::{Signature, VerifyingKey};
use sealgate_core::Sha256Digest;
use serde::Serialize;
use serde_json::Value;

use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, decode_base64, pae};
use crate::statement::{REPORT_PREDICATE_TYPE, STATEMENT_TYPE, Statement, VSA_PREDICATE_TYPE};
use crate::trust::TrustPolicy;

/// A check of the checklist (the module's list says what each one asks).
/// Serialized and displayed by its name (`payload-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Check {
    /// 1) The bundle is bounded and every line a well-formed DSSE envelope.
    Bundle,
    /// 2) The verdict's payload type is in-toto.
    PayloadType,
    /// 3) A trusted key signed the verdict and every other line.
    Signature,
    /// 4) The verdict is an in-toto Statement v1.
    StatementType,
    /// 5) A subject is the artifact.
    Subject,
    /// 6) The verdict is a SLSA Verification Summary v1.
    PredicateType,
    /// 7) One decision per bundle: the report is bound to the verdict.
    Binding,
    /// 8) The required verifier.
    VerifierId,
    /// 9) `PASSED`.
    Result,
    /// 10) The expected resource, when one is required.
    ResourceUri,
    /// 11) The expected gate's level, when a gate is required.
    Level,
    /// 12) An allowed policy digest, when any are required.
    PolicyDigest,
    /// 13) Not too old, not from the future.
    Age,
    /// 14) Required policies present and passed, by accepted modules.
    RequiredPolicies,
}

impl Check {
    /// Every check, in the order they run.
    pub const ALL: [Check; 14] = [
        Check::Bundle,
        Check::PayloadType,
        Check::Signature,
        Check::StatementType,
        Check::Subject,
        Check::PredicateType,
        Check::Binding,
        Check::VerifierId,
        Check::Result,
        Check::ResourceUri,
        Check::Level,
        Check::PolicyDigest,
        Check::Age,
        Check::RequiredPolicies,
    ];

    /// The check's name, as reports and the documentation spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Check::Bundle => "bundle",
            Check::PayloadType => "payload-type",
            Check::Signature => "signature",
            Check::StatementType => "statement-type",
            Check::Subject => "subject",
            Check::PredicateType => "predicate-type",
            Check::Binding => "binding",
            Check::VerifierId => "verifier-id",
            Check::Result => "result",
            Check::ResourceUri => "resource-uri",
            Check::Level => "level",
            Check::PolicyDigest => "policy-digest",
            Check::Age => "age",
            Check::RequiredPolicies => "required-policies",
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl PartialEq<&str> for Check {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// The checks' names, in order.
pub const CHECKS: [&str; 14] = {
    let mut names = [""; 14];
    let mut i = 0;
    while i < names.len() {
        names[i] = Check::ALL[i].name();
        i += 1;
    }
    names
};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CheckStatus {
    /// It held.
    Passed,
    /// It did not: the bundle is rejected.
    Failed,
    /// Not required, or not reached after a failure.
    Skipped,
}

impl CheckStatus {
    /// `passed`, `failed` or `skipped`.
    pub fn name(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl PartialEq<&str> for CheckStatus {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// One check's outcome, for `--format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    /// The check.
    pub check: Check,
    /// Whether it held.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
}

/// A bundle was rejected.
#[derive(Debug, Clone, thiserror::Error)]
#[error("rejected by check `{check}`: {reason}")]
pub struct Rejection {
    /// The failed check.
    pub check: Check,
    /// Expected versus actual.
    pub reason: String,
    /// Every check's outcome up to and including the failure.
    pub checks: Vec<CheckOutcome>,
}

impl Rejection {
    /// The input is not a bundle at all (check 1 failed): callers treat it
    /// as bad input, like a missing file, not as a rejected attestation.
    pub fn is_malformed_bundle(&self) -> bool {
        self.check == Check::Bundle
    }
}

/// A bundle that passed every check. Only [`verify_bundle`] makes one.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    signer: String,
    statement: Statement,
    checks: Vec<CheckOutcome>,
}

impl VerifiedAttestation {
    /// The name of the trusted key that signed it.
    pub fn signer(&self) -> &str {
        &self.signer
    }
    /// The verdict statement.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }
    /// Every check's outcome.
    pub fn checks(&self) -> &[CheckOutcome] {
        &self.checks
    }
}

/// A verification's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum VerificationDecision {
    /// Every check held.
    Accepted,
    /// A check failed.
    Rejected,
}

impl VerificationDecision {
    /// The decision `result` is.
    pub fn of(result: &Result<VerifiedAttestation, Rejection>) -> Self {
        if result.is_ok() {
            Self::Accepted
        } else {
            Self::Rejected
        }
    }

    /// `accepted` or `rejected`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for VerificationDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// The decision as `sealgate verify --format json` and `POST /v1/verify`
/// report it: `decision`, `failed_check`, `reason`, `signer`,
/// `artifact_sha256` and every check's outcome. Callers add what only they
/// know (the bundle's path, the trust file's name).
pub fn verification_summary(
    result: &Result<VerifiedAttestation, Rejection>,
    artifact: &Sha256Digest,
) -> serde_json::Map<String, Value> {
    let checks = match result {
        Ok(v) => v.checks(),
        Err(r) => r.checks.as_slice(),
    };
    let mut summary = serde_json::Map::new();
    let mut put = |key: &str, value: Value| summary.insert(key.to_owned(), value);
    put("decision", serde_json::json!(VerificationDecision::of(result)));
    put(
        "failed_check",
        serde_json::json!(result.as_ref().err().map(|r| r.check)),
    );
    put(
        "reason",
        serde_json::json!(result.as_ref().err().map(|r| &r.reason)),
    );
    put(
        "signer",
        serde_json::json!(result.as_ref().ok().map(|v| v.signer())),
    );
    put("artifact_sha256", serde_json::json!(artifact));
    put("checks", serde_json::json!(checks));
    summary
}

/// What a check that holds found: it passed, or it was not required.
enum Held {
    Passed(String),
    Skipped(String),
}

/// The outcomes so far; the first failure ends the list (the checks after
/// it are "not reached").
#[derive(Default)]
struct Checklist {
    outcomes: Vec<CheckOutcome>,
}

impl Checklist {
    /// Record `check`'s result; a failure becomes the rejection.
    fn record(&mut self, check: Check, result: Result<Held, String>) -> Result<(), Rejection> {
        self.value(check, result.map(|held| ((), held)))
    }

    /// Record `check`'s result, keeping what it found for the next checks.
    fn value<T>(&mut self, check: Check, result: Result<(T, Held), String>) -> Result<T, Rejection> {
        let (value, status, detail) = match result {
            Ok((value, Held::Passed(detail))) => (value, CheckStatus::Passed, detail),
            Ok((value, Held::Skipped(detail))) => (value, CheckStatus::Skipped, detail),
            Err(reason) => return Err(self.fail(check, reason)),
        };
        self.outcomes.push(CheckOutcome {
            check,
            status,
            detail,
        });
        Ok(value)
    }

    fn fail(&mut self, check: Check, reason: String) -> Rejection {
        let mut checks = std::mem::take(&mut self.outcomes);
        checks.push(CheckOutcome {
            check,
            status: CheckStatus::Failed,
            detail: reason.clone(),
        });
        let reached = checks.len();
        checks.extend(Check::ALL[reached..].iter().map(|&check| CheckOutcome {
            check,
            status: CheckStatus::Skipped,
            detail: "not reached".into(),
        }));
        Rejection {
            check,
            reason,
            checks,
        }
    }
}

/// A bundle line, parsed and (from check 3 on) signed by a trusted key.
struct Line {
    envelope: Envelope,
    payload: Vec<u8>,
}

/// Verify an in-toto bundle (JSON Lines of DSSE envelopes; the first line is
/// the verdict) about the artifact with `artifact` digest, under `trust`, at
/// time `now`. The checks run in the order of the module's list, one
/// function each; the first that fails rejects the bundle.
///
/// # Errors
///
/// A [`Rejection`] naming the failed check, why, and every check's outcome.
pub fn verify_bundle(
    bundle: &[u8],
    artifact: &Sha256Digest,
    trust: &TrustPolicy,
    now: SystemTime,
) -> Result<VerifiedAttestation, Rejection> {
    let mut list = Checklist::default();
    let lines = list.value(Check::Bundle, bundle_lines(bundle, trust))?;
    let verdict = &lines[0];
    list.record(Check::PayloadType, payload_type(verdict))?;
    let signer = list.value(Check::Signature, signature(&lines, trust))?;
    let statement = list.value(Check::StatementType, statement_type(verdict))?;
    list.record(Check::Subject, subject(&statement, artifact))?;
    list.record(Check::PredicateType, predicate_type(&statement))?;
    let report = list.value(
        Check::Binding,
        bind(verdict, &statement, &lines[1..]).map(|(report, detail)| (report, Held::Passed(detail))),
    )?;
    list.record(Check::VerifierId, verifier_id(&statement, trust))?;
    list.record(Check::Result, result(&statement))?;
    list.record(Check::ResourceUri, resource_uri(&statement, trust))?;
    list.record(Check::Level, level(&statement, trust))?;
    list.record(Check::PolicyDigest, policy_digest(&statement, trust))?;
    list.record(Check::Age, age(&statement, trust, now))?;
    list.record(Check::RequiredPolicies, required_policies(report.as_ref(), trust))?;
    Ok(VerifiedAttestation {
        signer: trust.keys[signer].name.clone(),
        statement,
        checks: list.outcomes,
    })
}

/// 1) bundle: bounded, every line a well-formed DSSE envelope.
fn bundle_lines(bundle: &[u8], trust: &TrustPolicy) -> Result<(Vec<Line>, Held), String> {
    let lines = parse_bundle(bundle, trust.max_bundle_bytes)?;
    let detail = format!("{} envelope(s)", lines.len());
    Ok((lines, Held::Passed(detail)))
}

/// 2) payload-type.
fn payload_type(verdict: &Line) -> Result<Held, String> {
    let got = &verdict.envelope.payload_type;
    if got != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!("expected `{IN_TOTO_PAYLOAD_TYPE}`, got `{got}`"));
    }
    Ok(Held::Passed(IN_TOTO_PAYLOAD_TYPE.into()))
}

/// 3) signature: the index of the signing key.
///
/// The signer is a trusted key with a valid signature on the verdict and on
/// every other line: a bundle is accepted or rejected whole (a line not
/// signed by it was altered, or added by someone else). Every trusted key
/// that signed the verdict is tried, so the order in which keys are given
/// never changes the decision.
fn signature(lines: &[Line], trust: &TrustPolicy) -> Result<(usize, Held), String> {
    let verdict_signers = trusted_signers(&lines[0], trust);
    if verdict_signers.is_empty() {
        return Err(format!(
            "no valid signature by any of the {} trusted key(s)",
            trust.keys.len()
        ));
    }
    let others: Vec<SignedMessage> = lines[1..].iter().map(SignedMessage::of).collect();
    let signed_all = |k: &usize| others.iter().all(|l| l.by(&trust.keys[*k].key));
    // Deterministic whatever the order: the qualifying key with the lowest key id.
    let Some(signer) = verdict_signers
        .iter()
        .copied()
        .filter(signed_all)
        .min_by_key(|k| crate::keys::key_id(&trust.keys[*k].key))
    else {
        let first = verdict_signers[0];
        let n = others
            .iter()
            .position(|l| !l.by(&trust.keys[first].key))
            .map_or(2, |i| i + 2);
        return Err(format!(
            "line {n}: no valid signature by `{}`, who signed the verdict; the line was altered or added",
            trust.keys[first].name
        ));
    };
    let detail = format!("signed by `{}`", trust.keys[signer].name);
    Ok((signer, Held::Passed(detail)))
}

/// 4) statement-type: the verdict, parsed.
fn statement_type(verdict: &Line) -> Result<(Statement, Held), String> {
    let statement: Statement = serde_json::from_slice(&verdict.payload)
        .map_err(|e| format!("payload is not an in-toto Statement: {e}"))?;
    if statement.statement_type != STATEMENT_TYPE {
        let got = &statement.statement_type;
        return Err(format!("expected `{STATEMENT_TYPE}`, got `{got}`"));
    }
    Ok((statement, Held::Passed(STATEMENT_TYPE.into())))
}

/// 5) subject.
fn subject(statement: &Statement, artifact: &Sha256Digest) -> Result<Held, String> {
    if !about(statement, artifact) {
        let got: Vec<String> = statement
            .subject
            .iter()
            .map(|s| format!("{} sha256:{}", s.name, s.digest.get("sha256").map_or("-", |d| d)))
            .collect();
        return Err(format!(
            "expected sha256:{artifact}, the statement is about [{}]",
            got.join(", ")
        ));
    }
    Ok(Held::Passed(format!("sha256:{artifact}")))
}

/// 6) predicate-type.
fn predicate_type(statement: &Statement) -> Result<Held, String> {
    if statement.predicate_type != VSA_PREDICATE_TYPE {
        let got = &statement.predicate_type;
        return Err(format!("expected `{VSA_PREDICATE_TYPE}`, got `{got}`"));
    }
    Ok(Held::Passed(VSA_PREDICATE_TYPE.into()))
}

/// 8) verifier-id.
fn verifier_id(statement: &Statement, trust: &TrustPolicy) -> Result<Held, String> {
    let verifier = statement
        .predicate
        .pointer("/verifier/id")
        .and_then(Value::as_str)
        .unwrap_or("");
    if verifier != trust.verifier_id {
        return Err(format!("expected `{}`, got `{verifier}`", trust.verifier_id));
    }
    Ok(Held::Passed(verifier.into()))
}

/// 9) result.
fn result(statement: &Statement) -> Result<Held, String> {
    let result = statement
        .predicate
        .get("verificationResult")
        .and_then(Value::as_str)
        .unwrap_or("");
    if result != "PASSED" {
        return Err(format!("verificationResult is `{result}`, not `PASSED`"));
    }
    Ok(Held::Passed("PASSED".into()))
}

/// 10) resource-uri: the VSA names the resource the caller expects.
fn resource_uri(statement: &Statement, trust: &TrustPolicy) -> Result<Held, String> {
    let resource = statement
        .predicate
        .get("resourceUri")
        .and_then(Value::as_str)
        .unwrap_or("");
    match &trust.resource_uri {
        None => Ok(Held::Skipped(format!("any accepted (got `{resource}`)"))),
        Some(expected) if expected == resource => Ok(Held::Passed(resource.into())),
        Some(expected) => Err(format!("expected `{expected}`, got `{resource}`")),
    }
}

/// 11) level: `verifiedLevels` holds the expected gate's level.
fn level(statement: &Statement, trust: &TrustPolicy) -> Result<Held, String> {
    let levels: Vec<&str> = statement
        .predicate
        .get("verifiedLevels")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(gate) = &trust.gate else {
        return Ok(Held::Skipped(format!("any gate accepted (got {levels:?})")));
    };
    let want = crate::statement::verified_level(gate);
    if !levels.contains(&want.as_str()) {
        return Err(format!(
            "expected `{want}` (gate `{gate}`) in verifiedLevels, got {levels:?}"
        ));
    }
    Ok(Held::Passed(want))
}

/// 12) policy-digest.
fn policy_digest(statement: &Statement, trust: &TrustPolicy) -> Result<Held, String> {
    let digest = statement
        .predicate
        .pointer("/policy/digest/sha256")
        .and_then(Value::as_str)
        .unwrap_or("");
    if trust.allowed_policy_digests.is_empty() {
        return Ok(Held::Skipped(format!("any allowed (got sha256:{digest})")));
    }
    let ok = digest
        .parse::<Sha256Digest>()
        .is_ok_and(|d| trust.allowed_policy_digests.contains(&d));
    if !ok {
        return Err(format!(
            "sha256:{digest} is not among the {} allowed",
            trust.allowed_policy_digests.len()
        ));
    }
    Ok(Held::Passed(format!("sha256:{digest}")))
}

// 7) binding is `bind`, below with its helpers.

/// 13) age.
///
/// `timeVerified` is optional in SLSA VSA v1. Without it there is no age to
/// check: accepted when no max-age is asked for, refused when one is.
fn age(statement: &Statement, trust: &TrustPolicy, now: SystemTime) -> Result<Held, String> {
    let Some(time) = statement.predicate.get("timeVerified").and_then(Value::as_str) else {
        if trust.max_age.is_some() {
            return Err(
                "the verdict has no timeVerified, so its age cannot be checked against the maximum".into(),
            );
        }
        return Ok(Held::Skipped(
            "no timeVerified, and no maximum age required".into(),
        ));
    };
    let verified_at = humantime::parse_rfc3339(time)
        .map_err(|_| format!("timeVerified `{time}` is not an RFC 3339 UTC time"))?;
    if let Some(ahead) = verified_at
        .duration_since(now)
        .ok()
        .filter(|a| *a > trust.max_skew)
    {
        return Err(format!(
            "timeVerified {time} is {} in the future",
            fmt_duration(ahead)
        ));
    }
    let age = now.duration_since(verified_at).unwrap_or(Duration::ZERO);
    match trust.max_age {
        Some(max) if age > max => Err(format!(
            "verified {} ago, older than the maximum of {}",
            fmt_duration(age),
            fmt_duration(max)
        )),
        Some(max) => Ok(Held::Passed(format!(
            "verified {} ago (max {})",
            fmt_duration(age),
            fmt_duration(max)
        ))),
        None => Ok(Held::Passed(format!(
            "verified {} ago (no maximum)",
            fmt_duration(age)
        ))),
    }
}

/// 14) required-policies, read from the report bound to the verdict.
fn required_policies(report: Option<&Statement>, trust: &TrustPolicy) -> Result<Held, String> {
    if trust.required_policies.is_empty() {
        return Ok(Held::Skipped("none required".into()));
    }
    check_required_policies(report, trust).map(Held::Passed)
}

/// Most envelopes one bundle may hold. sealgate writes two (verdict and
/// report); the cap leaves room for more statements without letting a
/// hostile bundle multiply the signature checks.
pub const MAX_ENVELOPES_PER_BUNDLE: usize = 16;

/// Most signatures one envelope may carry. sealgate writes one; co-signers
/// add a few. Each is an Ed25519 verification per trusted key, so without a
/// cap one 16 MiB envelope of 150 000 signatures cost ~10 s to reject.
pub const MAX_SIGNATURES_PER_ENVELOPE: usize = 8;

fn parse_bundle(bundle: &[u8], max: u64) -> Result<Vec<Line>, String> {
    if bundle.len() as u64 > max {
        return Err(format!(
            "{} bytes is larger than the {max}-byte limit",
            bundle.len()
        ));
    }
    let text = std::str::from_utf8(bundle).map_err(|e| format!("not UTF-8 ({e})"))?;
    if text.starts_with('\u{feff}') {
        return Err("starts with a byte-order mark; JSON Lines must not".into());
    }
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return Err("empty: no envelope".into());
    }
    // A lone envelope may be pretty-printed (a `.dsse.json` file): accept the
    // whole text as one envelope when it parses as one.
    let lines: Vec<&str> = match serde_json::from_str::<Envelope>(text) {
        Ok(_) => vec![text],
        Err(_) => text.split('\n').collect(),
    };
    // Counted before anything is parsed or verified.
    if lines.len() > MAX_ENVELOPES_PER_BUNDLE {
        return Err(format!(
            "{} envelopes; a bundle holds at most {MAX_ENVELOPES_PER_BUNDLE}",
            lines.len()
        ));
    }
    let mut parsed = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            return Err(format!(
                "line {n} is blank; a bundle is one DSSE envelope per line"
            ));
        }
        // One reading before any field is read (`strict_json`): no member
        // twice, no number parsers disagree on, in the envelope or the payload.
        crate::strict_json::check(line.as_bytes())
            .map_err(|e| format!("line {n}: the envelope has more than one reading: {e}"))?;
        let envelope: Envelope =
            serde_json::from_str(line).map_err(|e| format!("line {n} is not a DSSE envelope: {e}"))?;
        let payload =
            decode_base64(&envelope.payload).ok_or_else(|| format!("line {n}: payload is not base64"))?;
        if envelope.payload_type == IN_TOTO_PAYLOAD_TYPE {
            crate::strict_json::check(&payload)
                .map_err(|e| format!("line {n}: the signed statement has more than one reading: {e}"))?;
        }
        if envelope.signatures.is_empty() {
            return Err(format!("line {n}: envelope has no signatures"));
        }
        if envelope.signatures.len() > MAX_SIGNATURES_PER_ENVELOPE {
            return Err(format!(
                "line {n}: {} signatures; an envelope carries at most {MAX_SIGNATURES_PER_ENVELOPE}",
                envelope.signatures.len()
            ));
        }
        parsed.push(Line { envelope, payload });
    }
    Ok(parsed)
}

/// The indices of the trusted keys with a valid signature on `line`.
fn trusted_signers(line: &Line, trust: &TrustPolicy) -> Vec<usize> {
    let signed = SignedMessage::of(line);
    (0..trust.keys.len())
        .filter(|&k| signed.by(&trust.keys[k].key))
        .collect()
}

/// A line's PAE and its decodable signatures, computed once per line.
struct SignedMessage {
    message: Vec<u8>,
    signatures: Vec<Signature>,
}

impl SignedMessage {
    fn of(line: &Line) -> Self {
        Self {
            message: pae(&line.envelope.payload_type, &line.payload),
            signatures: line
                .envelope
                .signatures
                .iter()
                .filter_map(|s| decode_base64(&s.sig))
                .filter_map(|b| Signature::from_slice(&b).ok())
                .collect(),
        }
    }

    /// Is one of the signatures a valid one by `key`?
    fn by(&self, key: &VerifyingKey) -> bool {
        self.signatures
            .iter()
            .any(|sig| verifies(key, &self.message, sig))
    }
}

fn verifies(key: &VerifyingKey, message: &[u8], sig: &Signature) -> bool {
    // Strict: rejects small-order keys and non-canonical signatures.
    key.verify_strict(message, sig).is_ok()
}

fn about(statement: &Statement, artifact: &Sha256Digest) -> bool {
    statement
        .subject
        .iter()
        .any(|s| s.digest.get("sha256").is_some_and(|d| d == &artifact.to_string()))
}

/// Check 7, one decision per bundle. Line 1 is the verdict; no other line may be
/// one (two verdicts, or the verdict of another subject, would give the
/// bundle two meanings). A report statement is read only when it is bound
/// to that verdict: it names the sha256 of the verdict's signed bytes, and
/// its subject, gate, policy digest, time and decision are the verdict's.
/// So the verdict of one evaluation and the report of another (a lenient
/// gate's PASSED beside a full gate's report) never combine. Statements of
/// other predicate types (signed by the same key, per check 3) are carried
/// and not read.
fn bind(verdict: &Line, vsa: &Statement, others: &[Line]) -> Result<(Option<Statement>, String), String> {
    let verdict_digest = Sha256Digest::of_bytes(&verdict.payload);
    let mut report: Option<(usize, Statement)> = None;
    let mut ignored = 0;
    for (i, line) in others.iter().enumerate() {
        let n = i + 2;
        if line.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(format!(
                "line {n}: payload type `{}`, not `{IN_TOTO_PAYLOAD_TYPE}`; every line of a bundle is an in-toto statement",
                line.envelope.payload_type
            ));
        }
        let statement: Statement = serde_json::from_slice(&line.payload)
            .map_err(|e| format!("line {n} is not an in-toto Statement: {e}"))?;
        if statement.statement_type != STATEMENT_TYPE {
            return Err(format!(
                "line {n}: statement type `{}`, not `{STATEMENT_TYPE}`",
                statement.statement_type
            ));
        }
        match statement.predicate_type.as_str() {
            VSA_PREDICATE_TYPE => {
                return Err(format!(
                    "line {n} is a second verdict (about {}); a bundle holds exactly one, on line 1",
                    subjects(&statement)
                ));
            }
            REPORT_PREDICATE_TYPE => {
                if let Some((first, _)) = &report {
                    return Err(format!(
                        "line {n} is a second report statement (the first is line {first}); a bundle holds one, bound to its verdict"
                    ));
                }
                report_is_bound(&statement, vsa, &verdict_digest)
                    .map_err(|e| format!("line {n}: the report is not the verdict's: {e}"))?;
                report = Some((n, statement));
            }
            _ => ignored += 1,
        }
    }
    let mut detail = match &report {
        Some((n, _)) => format!("one verdict; the report on line {n} is bound to it"),
        None => "one verdict; no report".to_owned(),
    };
    if ignored > 0 {
        detail.push_str(&format!("; {ignored} statement(s) of other types not read"));
    }
    Ok((report.map(|(_, s)| s), detail))
}

/// Is the report statement `report` the one written with the verdict `vsa`
/// whose signed bytes have `verdict_digest`? Each field is compared so the
/// reason says what differs; the digest alone would bind them.
fn report_is_bound(report: &Statement, vsa: &Statement, verdict_digest: &Sha256Digest) -> Result<(), String> {
    if subject_digests(report) != subject_digests(vsa) {
        return Err(format!(
            "it is about {}, the verdict about {}",
            subjects(report),
            subjects(vsa)
        ));
    }
    let r = &report.predicate;
    let v = &vsa.predicate;
    let fields = [
        ("gate", r.pointer("/gate/uri"), v.pointer("/policy/uri")),
        (
            "gate policy digest",
            r.pointer("/gate/policyDigest/sha256"),
            v.pointer("/policy/digest/sha256"),
        ),
        ("evaluation time", r.get("evaluatedAt"), v.get("timeVerified")),
        (
            "decision",
            r.pointer("/report/decision"),
            v.get("verificationResult"),
        ),
    ];
    for (what, in_report, in_verdict) in fields {
        if in_report != in_verdict {
            return Err(format!(
                "its {what} is {}, the verdict's {}",
                shown(in_report),
                shown(in_verdict)
            ));
        }
    }
    let named = r.pointer("/verdict/digest/sha256");
    if named.and_then(Value::as_str) != Some(verdict_digest.to_string().as_str()) {
        return Err(format!(
            "it names the verdict sha256:{}, line 1 is sha256:{verdict_digest} (a report of another evaluation)",
            named.and_then(Value::as_str).unwrap_or("(none)")
        ));
    }
    Ok(())
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), Value::to_string)
}

fn subject_digests(statement: &Statement) -> std::collections::BTreeSet<&str> {
    statement
        .subject
        .iter()
        .filter_map(|s| s.digest.get("sha256").map(String::as_str))
        .collect()
}

fn subjects(statement: &Statement) -> String {
    let all: Vec<String> = subject_digests(statement)
        .into_iter()
        .map(|d| format!("sha256:{d}"))
        .collect();
    format!("[{}]", all.join(", "))
}

/// Check 14: each required policy ran and passed, in the report bound to the
/// verdict (check 7), and every result under its id came from a module
/// accepted for it: the id is only what a component calls itself.
fn check_required_policies(report: Option<&Statement>, trust: &TrustPolicy) -> Result<String, String> {
    trust.check_requirements()?;
    let Some(report) = report else {
        return Err(
            "the bundle has no report statement bound to the verdict to show which policies ran".into(),
        );
    };
    let policies = report
        .predicate
        .pointer("/report/policies")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for required in &trust.required_policies {
        let id = required.id.as_str();
        let ran: Vec<&Value> = policies.iter().filter(|p| p["id"] == id).collect();
        if ran.is_empty() {
            return Err(format!("required policy `{id}` did not run"));
        }
        for p in ran {
            let module = p["module_sha256"].as_str().unwrap_or("");
            let Ok(digest) = module.parse::<Sha256Digest>() else {
                return Err(format!(
                    "the report names no module digest for required policy `{id}`"
                ));
            };
            if !required.accepts(&digest) {
                return Err(format!(
                    "required policy `{id}` ran as module sha256:{module}, which is not among the {} accepted for it \
                     (any component may call itself `{id}`)",
                    required.modules.len()
                ));
            }
            if p["outcome"] != "pass" {
                return Err(format!(
                    "required policy `{id}` did not pass (outcome `{}`)",
                    p["outcome"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    let ids: Vec<&str> = trust.required_policies.iter().map(|r| r.id.as_str()).collect();
    Ok(format!("{} present and passed", ids.join(", ")))
}

fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}
