//! What a verification found: the checks by name, each one's outcome, the
//! rejection or the verified attestation, and the summary reports show.

use sealgate_core::Sha256Digest;
use serde::Serialize;
use serde_json::Value;

use crate::statement::Statement;

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

/// A bundle that passed every check. Only [`verify_bundle`](super::verify_bundle) makes one.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    signer: String,
    statement: Statement,
    checks: Vec<CheckOutcome>,
}

impl VerifiedAttestation {
    /// Only the checklist makes one, when every check held.
    pub(super) fn new(signer: String, statement: Statement, checks: Vec<CheckOutcome>) -> Self {
        Self {
            signer,
            statement,
            checks,
        }
    }

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
