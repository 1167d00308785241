//! Signed gate attestations.
//!
//! `sealgate attest` turns a [`GateReport`](sealgate_core::GateReport) into an
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
pub mod statement;
mod strict_json;
pub mod trust;
pub mod verify;

use ed25519_dalek::SigningKey;
use sealgate_core::GateReport;
pub use sealgate_core::write_atomically;

pub use dsse::Envelope;
pub use keys::{GeneratedKey, KeyError, generate, key_id, load_signing_key, load_verifying_key};
pub use statement::{AttestationInputs, DEFAULT_VERIFIER_ID, Statement, policy_digest};
pub use trust::{RequiredPolicy, TrustFileError, TrustPolicy, TrustedKey};
pub use verify::{Check, CheckOutcome, CheckStatus, Rejection, VerifiedAttestation, verify_bundle};

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
