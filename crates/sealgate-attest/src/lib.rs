//! Signed gate attestations.
//!
//! `sealgate attest` turns a [`sealgate_core::GateReport`] into an
//! in-toto bundle: JSON Lines, one DSSE envelope per line, signed with
//! Ed25519:
//!
//! 1. the **verdict**: an in-toto Statement v1 about the artifact (name +
//!    sha256) with a SLSA Verification Summary v1 predicate (`PASSED` or
//!    `FAILED`, the gate's policy digest, the time);
//! 2. the **report**: the same subject with sealgate's gate report
//!    (`https://sealgate.dev/attestation/gate-report/v1`): every policy's
//!    module digest, params, outcome and findings, the metadata digest and the
//!    evaluation context, enough to replay the evaluation.
//!
//! `sealgate verify` runs the checklist in [`verify`], in order, fail-closed.
//! Standard tools can check the same envelopes: the signature is pure Ed25519
//! over the DSSE PAE, the public key is SPKI PEM, the key id is
//! securesystemslib's.
#![deny(missing_docs)]

pub mod dsse;
pub mod keys;
pub mod publication;
pub mod statement;
pub mod trust;
pub mod verify;

use ed25519_dalek::SigningKey;
pub use sealgate_core::write_atomically;
use sealgate_core::{GateReport, Sha256Digest};

pub use dsse::Envelope;
pub use keys::{GeneratedKey, KeyError, generate, key_id, load_signing_key, load_verifying_key};
pub use publication::{Publication, Publishers};
pub use statement::{
    AttestationInputs, DEFAULT_VERIFIER_ID, REPORT_PREDICATE_TYPE, Statement, VSA_PREDICATE_TYPE,
    policy_digest,
};
pub use trust::{RequiredPolicy, TrustFileError, TrustPolicy, TrustedKey};
pub use verify::{
    Check, CheckOutcome, CheckStatus, Rejection, VerificationDecision, VerifiedAttestation,
    verification_summary, verify_bundle,
};

/// A bundle as written, and its sha256 (what decision logs and responses
/// name).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedBundle {
    /// The bundle's text: JSON Lines, the verdict then the report.
    pub text: String,
    /// The sha256 of `text`.
    pub sha256: Sha256Digest,
}

impl SignedBundle {
    /// Each envelope (one line of JSON) with its statement's predicate type,
    /// in order: what cosign's layout stores one per layer.
    pub fn envelopes(&self) -> Vec<(String, Vec<u8>)> {
        self.text
            .lines()
            .filter_map(|line| {
                let envelope: Envelope = serde_json::from_str(line).ok()?;
                let payload = dsse::decode_base64(&envelope.payload)?;
                let statement: Statement = serde_json::from_slice(&payload).ok()?;
                Some((statement.predicate_type, line.as_bytes().to_vec()))
            })
            .collect()
    }
}

/// The `resourceUri` a verdict names: the one asked for, else the URI the
/// metadata gives the artifact, else the subject's name. `sealgate attest`
/// and `POST /v1/attest` both decide it here.
pub fn resource_uri_for(asked: Option<&str>, artifact_uri: Option<&str>, subject_name: &str) -> String {
    asked.or(artifact_uri).unwrap_or(subject_name).to_owned()
}

/// Sign `report` into a bundle ([`attest`]) with its digest: the one signing
/// flow of `sealgate attest` and `POST /v1/attest`.
pub fn sign_report(report: &GateReport, inputs: &AttestationInputs<'_>, key: &SigningKey) -> SignedBundle {
    let text = attest(report, inputs, key);
    let sha256 = Sha256Digest::of_bytes(text.as_bytes());
    SignedBundle { text, sha256 }
}

/// Sign the verdict and report statements for `report` and return the bundle
/// text (two lines: the verdict, then the report bound to it by the digest of
/// the verdict's signed bytes).
pub fn attest(report: &GateReport, inputs: &AttestationInputs<'_>, key: &SigningKey) -> String {
    // Serializing a Statement of JSON values cannot fail.
    let to_payload = |s: &Statement| serde_json::to_vec(s).expect("statement serializes");
    let verdict = to_payload(&statement::verdict_statement(report, inputs));
    let report = to_payload(&statement::report_statement(report, inputs, &verdict));
    let mut bundle = String::new();
    for payload in [verdict, report] {
        let envelope = Envelope::sign(dsse::IN_TOTO_PAYLOAD_TYPE, &payload, key);
        bundle.push_str(&serde_json::to_string(&envelope).expect("envelope serializes"));
        bundle.push('\n');
    }
    bundle
}
