//! `{{id}}`: every artifact names the people accountable for it.
//!
//! A starting point: replace the rule with yours, keep the shape. Each
//! finding carries a stable rule id, a severity, the JSON Pointer of what it
//! is about, a message and a one-line fix. The gate's `fail-on` decides which
//! severities block a release.
//!
//! | rule | checks |
//! |---|---|
//! | `{{name}}.tag.missing` | each tag in `required-tags` (default `owner`) is set in `/artifact/tags` |

use sealgate_policy_sdk::{
    Context, Metadata, Policy, PolicyInfo, Report, RuleInfo, Severity, export_policy,
    pointer_escape,
};
use serde::Deserialize;

/// Params, from the gate's `[policies.params]`. `deny_unknown_fields` makes a
/// typo in a gate an error at load time instead of a silently ignored setting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Params {
    /// Tags every artifact must carry.
    #[serde(default = "owner")]
    required_tags: Vec<String>,
}

fn owner() -> Vec<String> {
    vec!["owner".into()]
}

/// The params' JSON Schema, shown by `sealgate policy inspect`.
const PARAMS_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "required-tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "default": ["owner"]}
  }
}"#;

struct RequiredTags;

impl Policy for RequiredTags {
    type Params = Params;

    const INFO: PolicyInfo = PolicyInfo {
        id: "{{id}}",
        version: "0.1.0",
        summary: "Every artifact names the people accountable for it.",
        params_schema: PARAMS_SCHEMA,
        // Every rule id a finding may carry: the host refuses any other, and
        // `sealgate policy test --coverage` lists the ones no case produced.
        rules: &[RuleInfo {
            id: "{{name}}.tag.missing",
            severity: Severity::High,
            summary: "a tag in `required-tags` is not set",
        }],
    };

    /// Checks beyond what deserialising enforces; an `Err` refuses the gate at load.
    fn validate(params: &Params) -> Result<(), String> {
        if params.required_tags.is_empty() {
            return Err("required-tags must name at least one tag".into());
        }
        Ok(())
    }

    fn evaluate(doc: &Metadata, params: &Params, _ctx: &Context) -> Result<Report, String> {
        let mut report = Report::new();
        for tag in &params.required_tags {
            let pointer = format!("/artifact/tags/{}", pointer_escape(tag));
            if doc.str(&pointer).is_none_or(|v| v.trim().is_empty()) {
                report.finding(
                    "{{name}}.tag.missing",
                    Severity::High,
                    "/artifact/tags",
                    format!("the artifact has no `{tag}` tag"),
                    format!("set {pointer} (e.g. an MLflow registered-model tag)"),
                );
            }
        }
        Ok(report)
    }
}

export_policy!(RequiredTags);
