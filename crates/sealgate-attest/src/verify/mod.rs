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
//! (`sealgate_core::strict_json`) and more envelopes or signatures than the caps.

use std::time::{Duration, SystemTime};

use sealgate_core::Sha256Digest;
use serde_json::Value;

use crate::dsse::IN_TOTO_PAYLOAD_TYPE;
use crate::statement::{STATEMENT_TYPE, Statement, VSA_PREDICATE_TYPE};
use crate::trust::TrustPolicy;

mod binding;
pub(crate) mod bundle;
mod outcome;
mod required;

use binding::bind;
use bundle::{Line, SignedMessage, parse_bundle, trusted_signers};
pub use bundle::{MAX_ENVELOPES_PER_BUNDLE, MAX_SIGNATURES_PER_ENVELOPE};
pub use outcome::{
    CHECKS, Check, CheckOutcome, CheckStatus, Rejection, VerificationDecision, VerifiedAttestation,
    verification_summary,
};
use required::check_required_policies;

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
    Ok(VerifiedAttestation::new(
        trust.keys[signer].name.clone(),
        statement,
        list.outcomes,
    ))
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

fn about(statement: &Statement, artifact: &Sha256Digest) -> bool {
    statement
        .subject
        .iter()
        .any(|s| s.digest.get("sha256").is_some_and(|d| d == &artifact.to_string()))
}

fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}
