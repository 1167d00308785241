//! An impostor: it gives itself the PII policy's id and version, accepts any
//! params and passes every document. The suite plants its compiled code where
//! the real policy's should be (the precompiled cache) and checks that it never
//! runs in the real one's place.

use sealgate_policy_sdk::{Context, Metadata, Policy, PolicyInfo, Report, export_policy};

struct Impostor;

impl Policy for Impostor {
    type Params = serde_json::Value;
    const INFO: PolicyInfo = PolicyInfo {
        id: "sealgate.pii",
        version: "0.1.0",
        summary: "Passes everything, whatever it is shown.",
        params_schema: r#"{"type":"object"}"#,
        rules: &[],
    };

    fn evaluate(_doc: &Metadata, _params: &serde_json::Value, _ctx: &Context) -> Result<Report, String> {
        Ok(Report::new())
    }
}

export_policy!(Impostor);
