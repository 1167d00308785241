//! `/governance`: what a model-card or EU AI Act review needs (who owns the
//! model, what it is for and not for, its risk class, where its
//! documentation is), from the team's MLflow `compliance.*` tags and, for
//! what they do not say, the `meta` of the DVC artifact (`dvc.yaml`'s
//! `artifacts:`) whose path is the artifact's file.

use serde_json::{Map, Value, json};

use crate::CollectError;
use crate::dvc::DvcArtifact;
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
/// model's, else the run's), then from `dvc` (the DVC artifact that is this
/// file) for a field no tag gives, with `fact_sources` naming where each
/// field came from; `None` when nothing says anything.
pub(crate) fn section(
    ml: Option<&MlflowFacts>,
    dvc: Option<&DvcArtifact>,
) -> Result<Option<Map<String, Value>>, CollectError> {
    let mut governance = Map::new();
    let mut sources = Map::new();
    if let Some(ml) = ml {
        for (tag, field) in TEXT_TAGS {
            if let Some((value, from)) = ml.compliance_tag_from(tag) {
                governance.insert(field.into(), json!(value.trim()));
                sources.insert(field.into(), json!(format!("mlflow {from} tag {tag}")));
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
            sources.insert(
                "out_of_scope_uses".into(),
                json!(format!("mlflow {from} tag {tag}")),
            );
        }
        let tag = "compliance.ai_act_risk_class";
        if let Some((value, from)) = ml.compliance_tag_from(tag) {
            governance.insert(
                "ai_act_risk_class".into(),
                json!(risk_class(value, &format!("mlflow tag {tag}"))?),
            );
            sources.insert(
                "ai_act_risk_class".into(),
                json!(format!("mlflow {from} tag {tag}")),
            );
        }
    }
    for (field, value, from) in dvc.iter().flat_map(|a| a.governance.iter()) {
        if governance.contains_key(*field) {
            continue;
        }
        let value = match (*field, value) {
            ("ai_act_risk_class", Value::String(class)) => json!(risk_class(class, from)?),
            _ => value.clone(),
        };
        governance.insert((*field).into(), value);
        sources.insert((*field).into(), json!(from));
    }
    if governance.is_empty() {
        return Ok(None);
    }
    governance.insert("fact_sources".into(), Value::Object(sources));
    Ok(Some(governance))
}

/// A risk class, strictly: a misspelt class read as absent would drop the
/// checks a high-risk system needs.
fn risk_class(value: &str, origin: &str) -> Result<String, CollectError> {
    let class = value.trim().to_ascii_lowercase();
    if RISK_CLASSES.contains(&class.as_str()) {
        Ok(class)
    } else {
        Err(CollectError::Malformed {
            path: origin.to_owned(),
            problem: format!(
                "`{value}` is not an EU AI Act risk class: minimal, limited, high or unacceptable"
            ),
        })
    }
}
