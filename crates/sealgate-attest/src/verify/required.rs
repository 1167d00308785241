//! Check 14: the required policies, read from the report bound to the
//! verdict.

use sealgate_core::Sha256Digest;
use serde_json::Value;

use crate::statement::Statement;
use crate::trust::TrustPolicy;

/// Check 14: each required policy ran and passed, in the report bound to the
/// verdict (check 7), and every result under its id came from a module
/// accepted for it: the id is only what a component calls itself. A Rego
/// policy's files must be accepted too (its module is the shared engine).
pub(super) fn check_required_policies(
    report: Option<&Statement>,
    trust: &TrustPolicy,
) -> Result<String, String> {
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
            // A Rego policy is its engine and its files: each must be one
            // accepted for the id (every Rego policy runs as `sealgate.rego`).
            if !required.modules.is_empty() {
                for file in ["rego", "data"]
                    .iter()
                    .flat_map(|key| p[*key].as_array().map(Vec::as_slice).unwrap_or_default())
                {
                    let pinned = file["sha256"].as_str().unwrap_or("");
                    let accepted = pinned.parse::<Sha256Digest>().is_ok_and(|d| required.accepts(&d));
                    if !accepted {
                        return Err(format!(
                            "required policy `{id}` evaluated {} (sha256:{pinned}), which is not among the {} accepted for it",
                            file["path"].as_str().unwrap_or("a file"),
                            required.modules.len()
                        ));
                    }
                }
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
