//! `/governance`: what a model-card or EU AI Act review needs (who owns the
//! model, what it is for and not for, its risk class, where its
//! documentation is), from the team's MLflow `compliance.*` tags.

use serde_json::{Map, Value, json};

use crate::CollectError;
use crate::mlflow::MlflowFacts;

/// The EU AI Act's risk classes, as the metadata writes them.
pub const RISK_CLASSES: [&str; 4] = ["minimal", "limited", "high", "unacceptable"];

/// MLflow tag → `/governance` field, for the text fields.
const TEXT_TAGS: [(&str, &str); 4] = [
    ("compliance.owner", "owner"),
    ("compliance.team", "team"),
    ("compliance.intended_use", "intended_use"),
    ("compliance.model_card_uri", "model_card_uri"),
];

/// `/governance` from the tags (the model version's, else the registered
/// model's, else the run's), with `fact_sources` naming the tag each field
/// came from; `None` when no tag says anything.
pub(crate) fn section(ml: Option<&MlflowFacts>) -> Result<Option<Map<String, Value>>, CollectError> {
    let Some(ml) = ml else { return Ok(None) };
    let mut governance = Map::new();
    let mut sources = Map::new();
    let mut note = |field: &str, tag: &str, from: &str| {
        sources.insert(field.into(), json!(format!("mlflow {from} tag {tag}")));
    };
    for (tag, field) in TEXT_TAGS {
        if let Some((value, from)) = ml.compliance_tag_from(tag) {
            governance.insert(field.into(), json!(value.trim()));
            note(field, tag, from);
        }
    }
    let tag = "compliance.out_of_scope_uses";
    if let Some((value, from)) = ml.compliance_tag_from(tag) {
        // One tag, several uses: `;` between them (a use may contain commas).
        let uses: Vec<&str> = value
            .split(';')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        governance.insert("out_of_scope_uses".into(), json!(uses));
        note("out_of_scope_uses", tag, from);
    }
    let tag = "compliance.ai_act_risk_class";
    if let Some((value, from)) = ml.compliance_tag_from(tag) {
        // Strict, as for high_risk_system: a misspelt class read as absent
        // would drop the checks a high-risk system needs.
        let class = value.trim().to_ascii_lowercase();
        if !RISK_CLASSES.contains(&class.as_str()) {
            return Err(CollectError::Malformed {
                path: format!("mlflow tag {tag}"),
                problem: format!(
                    "`{value}` is not an EU AI Act risk class: minimal, limited, high or unacceptable"
                ),
            });
        }
        governance.insert("ai_act_risk_class".into(), json!(class));
        note("ai_act_risk_class", tag, from);
    }
    if governance.is_empty() {
        return Ok(None);
    }
    governance.insert("fact_sources".into(), Value::Object(sources));
    Ok(Some(governance))
}
