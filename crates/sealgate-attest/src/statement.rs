//! What sealgate attests: an in-toto Statement v1 with a SLSA Verification
//! Summary (the verdict) and one with sealgate's gate report (the evidence).

use std::collections::BTreeMap;

use sealgate_core::{GateConfig, GateDecision, GateReport, Sha256Digest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA Verification Summary Attestation v1.
pub const VSA_PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// sealgate's gate report, version 1 (docs/attestations.md).
pub const REPORT_PREDICATE_TYPE: &str = "https://sealgate.dev/attestation/gate-report/v1";
/// The verifier id sealgate writes and expects unless told otherwise.
pub const DEFAULT_VERIFIER_ID: &str = "https://sealgate.dev/verifier/v1";

/// An in-toto Statement v1. Strict parsers reject unknown fields at this
/// level, so sealgate adds none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Must be [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// How to read `predicate`.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The claim.
    pub predicate: Value,
}

/// A statement's subject: a name and digests (lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Usually the file name. Optional in in-toto v1 (a subject needs only
    /// its digest), so a statement without it reads as an empty name.
    #[serde(default)]
    pub name: String,
    /// Algorithm to hex digest.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject with a sha256 digest.
    pub fn sha256(name: &str, digest: &Sha256Digest) -> Self {
        Self {
            name: name.to_owned(),
            digest: BTreeMap::from([("sha256".to_owned(), digest.to_string())]),
        }
    }
}

/// The digest that identifies a gate's policy: sha256 over the compact,
/// key-sorted JSON of everything that decides a verdict: the gate's name,
/// version, threshold and limits, and for every policy in order its pinned
/// module digest, params and limits, and the digests of the Rego and data
/// files it reads (in order; the keys only when there are some, so a gate
/// without them keeps the digest it always had). File paths and
/// descriptions are left out, so moving a gate file does not change it.
pub fn policy_digest(config: &GateConfig) -> Sha256Digest {
    let canonical = json!({
        "api_version": config.api_version,
        "name": config.name,
        "fail_on": config.fail_on,
        "limits": config.limits,
        "policies": config.policies.iter().map(|p| {
            let mut policy = json!({
                "sha256": p.sha256,
                "params": p.params,
                "limits": p.limits,
            });
            for (key, files) in [("rego", &p.rego), ("data", &p.data)] {
                if !files.is_empty() {
                    policy[key] = files.iter().map(|f| json!(f.sha256)).collect();
                }
            }
            policy
        }).collect::<Vec<_>>(),
    });
    // serde_json's map is a BTreeMap (no `preserve_order`): keys come out sorted.
    Sha256Digest::of_bytes(canonical.to_string().as_bytes())
}

/// The custom level a passed gate earns: `SEALGATE_` + the gate name in
/// upper case, other characters as `_` (never `SLSA_…`, which SLSA reserves).
pub fn verified_level(gate: &str) -> String {
    let name: String = gate
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("SEALGATE_{name}")
}

/// What goes into the two statements besides the report itself.
#[derive(Debug, Clone)]
pub struct AttestationInputs<'a> {
    /// The artifact's name in the subject.
    pub subject_name: &'a str,
    /// The artifact's sha256.
    pub subject_digest: Sha256Digest,
    /// `verifier.id`.
    pub verifier_id: &'a str,
    /// `resourceUri`.
    pub resource_uri: &'a str,
    /// The gate that ran.
    pub gate: &'a GateConfig,
    /// Attestations the gate consumed (`inputAttestations`), as (uri, sha256).
    pub input_attestations: &'a [(String, Sha256Digest)],
}

/// The verdict statement: a SLSA VSA about the artifact.
pub fn verdict_statement(report: &GateReport, inputs: &AttestationInputs<'_>) -> Statement {
    let passed = report.decision == GateDecision::Passed;
    let mut predicate = json!({
        "verifier": {"id": inputs.verifier_id, "version": {"sealgate": env!("CARGO_PKG_VERSION")}},
        "timeVerified": report.context.evaluated_at(),
        "resourceUri": inputs.resource_uri,
        "policy": {
            "uri": gate_uri(&inputs.gate.name),
            "digest": {"sha256": policy_digest(inputs.gate).to_string()},
        },
        "verificationResult": if passed { "PASSED" } else { "FAILED" },
        "verifiedLevels": if passed { vec![verified_level(&report.gate)] } else { vec!["FAILED".to_owned()] },
    });
    if !inputs.input_attestations.is_empty() {
        predicate["inputAttestations"] = inputs
            .input_attestations
            .iter()
            .map(|(uri, d)| json!({"uri": uri, "digest": {"sha256": d.to_string()}}))
            .collect();
    }
    Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject: vec![Subject::sha256(inputs.subject_name, &inputs.subject_digest)],
        predicate_type: VSA_PREDICATE_TYPE.into(),
        predicate,
    }
}

/// The report statement: every policy's outcome and findings, with what is
/// needed to replay the evaluation, bound to the verdict it explains by
/// `verdict.digest.sha256`, the sha256 of the verdict statement's exact
/// signed bytes (`verdict_payload`). A report is evidence for that verdict
/// only: verify refuses to read it beside any other.
pub fn report_statement(
    report: &GateReport,
    inputs: &AttestationInputs<'_>,
    verdict_payload: &[u8],
) -> Statement {
    let predicate = json!({
        "sealgateVersion": env!("CARGO_PKG_VERSION"),
        "verdict": {
            "predicateType": VSA_PREDICATE_TYPE,
            "digest": {"sha256": Sha256Digest::of_bytes(verdict_payload).to_string()},
        },
        "gate": {
            "name": report.gate,
            "uri": gate_uri(&inputs.gate.name),
            "policyDigest": {"sha256": policy_digest(inputs.gate).to_string()},
        },
        "evaluatedAt": report.context.evaluated_at(),
        "report": report,
    });
    Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject: vec![Subject::sha256(inputs.subject_name, &inputs.subject_digest)],
        predicate_type: REPORT_PREDICATE_TYPE.into(),
        predicate,
    }
}

/// The URI naming a gate in `policy.uri`.
pub fn gate_uri(name: &str) -> String {
    format!("urn:sealgate:gate:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_never_start_with_slsa() {
        assert_eq!(verified_level("ml-release"), "SEALGATE_ML_RELEASE");
        assert!(!verified_level("slsa").starts_with("SLSA_"));
    }
}
