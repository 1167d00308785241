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

/// The checks, in order.
pub const CHECKS: [&str; 14] = [
    "bundle",
    "payload-type",
    "signature",
    "statement-type",
    "subject",
    "predicate-type",
    "binding",
    "verifier-id",
    "result",
    "resource-uri",
    "level",
    "policy-digest",
    "age",
    "required-policies",
];

/// One check's outcome, for `--format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    /// The check's name (see [`CHECKS`]).
    pub check: &'static str,
    /// `passed`, `failed` or `skipped` (not reached, or not required).
    pub status: &'static str,
    /// What was found.
    pub detail: String,
}

/// A bundle was rejected.
#[derive(Debug, Clone, thiserror::Error)]
#[error("rejected by check `{check}`: {reason}")]
pub struct Rejection {
    /// The failed check.
    pub check: &'static str,
    /// Expected versus actual.
    pub reason: String,
    /// Every check's outcome up to and including the failure.
    pub checks: Vec<CheckOutcome>,
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

struct Checklist {
    outcomes: Vec<CheckOutcome>,
}

impl Checklist {
    fn pass(&mut self, check: &'static str, detail: impl Into<String>) {
        self.outcomes.push(CheckOutcome {
            check,
            status: "passed",
            detail: detail.into(),
        });
    }
    fn skip(&mut self, check: &'static str, detail: impl Into<String>) {
        self.outcomes.push(CheckOutcome {
            check,
            status: "skipped",
            detail: detail.into(),
        });
    }
    fn fail(mut self, check: &'static str, reason: impl Into<String>) -> Rejection {
        let reason = reason.into();
        self.outcomes.push(CheckOutcome {
            check,
            status: "failed",
            detail: reason.clone(),
        });
        let reached = self.outcomes.len();
        self.outcomes
            .extend(CHECKS[reached..].iter().map(|c| CheckOutcome {
                check: c,
                status: "skipped",
                detail: "not reached".into(),
            }));
        Rejection {
            check,
            reason,
            checks: self.outcomes,
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
/// time `now`.
pub fn verify_bundle(
    bundle: &[u8],
    artifact: &Sha256Digest,
    trust: &TrustPolicy,
    now: SystemTime,
) -> Result<VerifiedAttestation, Rejection> {
    let mut list = Checklist { outcomes: Vec::new() };

    // 1) bundle
    let lines = match parse_bundle(bundle, trust.max_bundle_bytes) {
        Ok(l) => l,
        Err(e) => return Err(list.fail("bundle", e)),
    };
    list.pass("bundle", format!("{} envelope(s)", lines.len()));
    let verdict = &lines[0];

    // 2) payload-type
    if verdict.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        let got = &verdict.envelope.payload_type;
        return Err(list.fail(
            "payload-type",
            format!("expected `{IN_TOTO_PAYLOAD_TYPE}`, got `{got}`"),
        ));
    }
    list.pass("payload-type", IN_TOTO_PAYLOAD_TYPE);

    // 3) signature
    // The signer is a trusted key with a valid signature on the verdict and
    // on every other line: a bundle is accepted or rejected whole (a line
    // not signed by it was altered, or added by someone else). Every trusted
    // key that signed the verdict is tried, so the order in which keys are
    // given never changes the decision.
    let verdict_signers = trusted_signers(verdict, trust);
    if verdict_signers.is_empty() {
        return Err(list.fail(
            "signature",
            format!(
                "no valid signature by any of the {} trusted key(s)",
                trust.keys.len()
            ),
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
        return Err(list.fail(
            "signature",
            format!(
                "line {n}: no valid signature by `{}`, who signed the verdict; the line was altered or added",
                trust.keys[first].name
            ),
        ));
    };
    list.pass("signature", format!("signed by `{}`", trust.keys[signer].name));

    // 4) statement-type
    let statement: Statement = match serde_json::from_slice(&verdict.payload) {
        Ok(s) => s,
        Err(e) => {
            return Err(list.fail(
                "statement-type",
                format!("payload is not an in-toto Statement: {e}"),
            ));
        }
    };
    if statement.statement_type != STATEMENT_TYPE {
        let got = &statement.statement_type;
        return Err(list.fail(
            "statement-type",
            format!("expected `{STATEMENT_TYPE}`, got `{got}`"),
        ));
    }
    list.pass("statement-type", STATEMENT_TYPE);

    // 5) subject
    if !about(&statement, artifact) {
        let got: Vec<String> = statement
            .subject
            .iter()
            .map(|s| format!("{} sha256:{}", s.name, s.digest.get("sha256").map_or("-", |d| d)))
            .collect();
        return Err(list.fail(
            "subject",
            format!(
                "expected sha256:{artifact}, the statement is about [{}]",
                got.join(", ")
            ),
        ));
    }
    list.pass("subject", format!("sha256:{artifact}"));

    // 6) predicate-type
    if statement.predicate_type != VSA_PREDICATE_TYPE {
        let got = &statement.predicate_type;
        return Err(list.fail(
            "predicate-type",
            format!("expected `{VSA_PREDICATE_TYPE}`, got `{got}`"),
        ));
    }
    list.pass("predicate-type", VSA_PREDICATE_TYPE);

    // 7) binding
    let report = match bind(verdict, &statement, &lines[1..]) {
        Ok((report, detail)) => {
            list.pass("binding", detail);
            report
        }
        Err(reason) => return Err(list.fail("binding", reason)),
    };

    // 8) verifier-id
    let verifier = statement
        .predicate
        .pointer("/verifier/id")
        .and_then(Value::as_str)
        .unwrap_or("");
    if verifier != trust.verifier_id {
        return Err(list.fail(
            "verifier-id",
            format!("expected `{}`, got `{verifier}`", trust.verifier_id),
        ));
    }
    list.pass("verifier-id", verifier);

    // 9) result
    let result = statement
        .predicate
        .get("verificationResult")
        .and_then(Value::as_str)
        .unwrap_or("");
    if result != "PASSED" {
        return Err(list.fail(
            "result",
            format!("verificationResult is `{result}`, not `PASSED`"),
        ));
    }
    list.pass("result", "PASSED");

    // 10) resource-uri: the VSA names the resource the caller expects.
    let resource = statement
        .predicate
        .get("resourceUri")
        .and_then(Value::as_str)
        .unwrap_or("");
    match &trust.resource_uri {
        None => list.skip("resource-uri", format!("any accepted (got `{resource}`)")),
        Some(expected) if expected == resource => list.pass("resource-uri", resource),
        Some(expected) => {
            return Err(list.fail("resource-uri", format!("expected `{expected}`, got `{resource}`")));
        }
    }

    // 11) level: `verifiedLevels` holds the expected gate's level.
    let levels: Vec<&str> = statement
        .predicate
        .get("verifiedLevels")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match &trust.gate {
        None => list.skip("level", format!("any gate accepted (got {levels:?})")),
        Some(gate) => {
            let want = crate::statement::verified_level(gate);
            if levels.contains(&want.as_str()) {
                list.pass("level", want);
            } else {
                return Err(list.fail(
                    "level",
                    format!("expected `{want}` (gate `{gate}`) in verifiedLevels, got {levels:?}"),
                ));
            }
        }
    }

    // 12) policy-digest
    let digest = statement
        .predicate
        .pointer("/policy/digest/sha256")
        .and_then(Value::as_str)
        .unwrap_or("");
    if trust.allowed_policy_digests.is_empty() {
        list.skip("policy-digest", format!("any allowed (got sha256:{digest})"));
    } else {
        let ok = digest
            .parse::<Sha256Digest>()
            .is_ok_and(|d| trust.allowed_policy_digests.contains(&d));
        if !ok {
            return Err(list.fail(
                "policy-digest",
                format!(
                    "sha256:{digest} is not among the {} allowed",
                    trust.allowed_policy_digests.len()
                ),
            ));
        }
        list.pass("policy-digest", format!("sha256:{digest}"));
    }

    // 13) age
    // `timeVerified` is optional in SLSA VSA v1. Without it there is no age
    // to check: accepted when no max-age is asked for, refused when one is.
    let Some(time) = statement.predicate.get("timeVerified").and_then(Value::as_str) else {
        if trust.max_age.is_some() {
            return Err(list.fail(
                "age",
                "the verdict has no timeVerified, so its age cannot be checked against the maximum",
            ));
        }
        list.skip("age", "no timeVerified, and no maximum age required");
        return check_required(list, report.as_ref(), trust, signer, statement);
    };
    let verified_at = match humantime::parse_rfc3339(time) {
        Ok(t) => t,
        Err(_) => {
            return Err(list.fail(
                "age",
                format!("timeVerified `{time}` is not an RFC 3339 UTC time"),
            ));
        }
    };
    if let Some(ahead) = verified_at
        .duration_since(now)
        .ok()
        .filter(|a| *a > trust.max_skew)
    {
        return Err(list.fail(
            "age",
            format!("timeVerified {time} is {} in the future", fmt_duration(ahead)),
        ));
    }
    let age = now.duration_since(verified_at).unwrap_or(Duration::ZERO);
    match trust.max_age {
        Some(max) if age > max => {
            return Err(list.fail(
                "age",
                format!(
                    "verified {} ago, older than the maximum of {}",
                    fmt_duration(age),
                    fmt_duration(max)
                ),
            ));
        }
        Some(max) => list.pass(
            "age",
            format!("verified {} ago (max {})", fmt_duration(age), fmt_duration(max)),
        ),
        None => list.pass("age", format!("verified {} ago (no maximum)", fmt_duration(age))),
    }

    check_required(list, report.as_ref(), trust, signer, statement)
}

/// 14) required-policies, then the accepted attestation.
fn check_required(
    mut list: Checklist,
    report: Option<&Statement>,
    trust: &TrustPolicy,
    signer: usize,
    statement: Statement,
) -> Result<VerifiedAttestation, Rejection> {
    if trust.required_policies.is_empty() {
        list.skip("required-policies", "none required");
    } else {
        match check_required_policies(report, trust) {
            Ok(detail) => list.pass("required-policies", detail),
            Err(reason) => return Err(list.fail("required-policies", reason)),
        }
    }
    Ok(VerifiedAttestation {
        signer: trust.keys[signer].name.clone(),
        statement,
        checks: list.outcomes,
    })
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
