//! A policy built against `wit/v0.1.0/policy.wit`, the contract before the
//! rule catalogue, as components built by earlier sealgate SDKs are: the host
//! must still load and run it, and say it declares no catalogue.

// The SDK's wit-bindgen, pointed at the old contract.
sealgate_policy_sdk::__wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "gate-policy",
    runtime_path: "sealgate_policy_sdk::__wit_bindgen::rt",
});

use exports::sealgate::policy::policy::Guest;
use sealgate::policy::types::{Context, Finding, PolicyInfo, Severity, Verdict};

struct OldContract;

impl Guest for OldContract {
    fn info() -> PolicyInfo {
        PolicyInfo {
            id: "test.contract-v0-1".into(),
            version: "0.0.0".into(),
            summary: "Built against sealgate:policy@0.1.0.".into(),
            params_schema: r#"{"type":"object"}"#.into(),
        }
    }

    fn validate_params(_params: String) -> Result<(), String> {
        Ok(())
    }

    /// One finding, whatever the input: any rule id is its own to choose.
    fn evaluate(_metadata: String, _params: String, ctx: Context) -> Result<Verdict, String> {
        sealgate::policy::host::log(
            sealgate::policy::host::LogLevel::Info,
            &format!("gate {}", ctx.gate),
        );
        Ok(Verdict {
            passed: true,
            findings: vec![Finding {
                rule_id: "anything.goes".into(),
                severity: Severity::High,
                pointer: String::new(),
                message: "a 0.1.0 policy's finding".into(),
                remediation: "none".into(),
            }],
        })
    }
}

export!(OldContract);
