//! What the bench compares sealgate with: metadata documents of three sizes
//! generated from the real example, the shipped policies' own code run
//! natively (no sandbox), and the same rules in Rego evaluated by regorus.

use std::path::Path;

use serde_json::{Value, json};

/// The clean example model (built from the real MLflow, DVC and Evidently
/// fixtures) grown to `columns` schema columns, sample columns, training
/// dataset columns and lineage inputs. Every added input is also a DVC stage
/// output with the same hash, so the cross-source checks have work to do; no
/// added name is personal data, so every policy runs all of its rules and
/// the document passes the gate.
pub fn scaled_document(repo: &Path, columns: usize) -> String {
    let text = std::fs::read_to_string(repo.join("examples/metadata/churn-model.json")).expect("example");
    let mut doc: Value = serde_json::from_str(&text).expect("example is JSON");
    // Feature names in the style of the real ones (age, income, churned, and
    // the drift report's segment), aggregated over windows.
    const BASES: [&str; 8] = [
        "age", "income", "churned", "segment", "tenure", "balance", "products", "activity",
    ];
    const AGGS: [&str; 6] = ["mean", "max", "min", "std", "count", "sum"];
    const WINDOWS: [&str; 4] = ["7d", "30d", "90d", "365d"];
    let real: Vec<Value> = doc["schema"]["inputs"].as_array().expect("inputs").clone();
    let mut names: Vec<String> = real
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    let mut i = 0;
    while names.len() < columns {
        let (b, a, w) = (BASES[i % 8], AGGS[(i / 8) % 6], WINDOWS[(i / 48) % 4]);
        let round = i / 192;
        names.push(if round == 0 {
            format!("{b}_{a}_{w}")
        } else {
            format!("{b}_{a}_{w}_v{round}")
        });
        i += 1;
    }
    names.truncate(columns);
    let cols: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "type": "double", "required": true}))
        .collect();
    doc["schema"]["inputs"] = Value::Array(cols.clone());
    doc["datasets"][1]["columns"] = Value::Array(cols);
    doc["samples"][0]["columns"] = json!(names);
    // Whole numbers, like the real sample's, so the PII value scan runs.
    let row = |seed: usize| -> Vec<Value> {
        (0..columns)
            .map(|j| json!((j * 7919 + seed * 104_729) % 100_000))
            .collect()
    };
    doc["samples"][0]["data"] = json!([row(1), row(2)]);

    let md5 = |k: usize| {
        format!(
            "{:032x}",
            (k as u128 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        )
    };
    let mut inputs = doc["lineage"]["inputs"].as_array().expect("inputs").clone();
    let outs = doc["lineage"]["pipeline"]["stages"][0]["outs"]
        .as_array_mut()
        .expect("outs");
    for k in inputs.len()..columns {
        let path = format!("data/features/part-{k:04}.parquet");
        outs.push(json!({"path": path, "md5": md5(k)}));
        inputs.push(json!({"name": format!("features-part-{k:04}"), "uri": path, "hash": {"md5": md5(k)}, "context": "training"}));
    }
    doc["lineage"]["inputs"] = Value::Array(inputs);
    serde_json::to_string_pretty(&doc).expect("serialises")
}

/// A policy's code compiled natively: parse params, validate, parse the
/// metadata, evaluate; the number of findings.
pub type NativePolicy = fn(&str, &str, &sealgate_policy_sdk::Context) -> Result<usize, String>;

fn native<P: sealgate_policy_sdk::Policy>(
    meta: &str,
    params: &str,
    ctx: &sealgate_policy_sdk::Context,
) -> Result<usize, String> {
    sealgate_policy_sdk::evaluate_in_process::<P>(meta, params, ctx).map(|r| r.len())
}

/// The native form of a shipped policy, by id.
pub fn native_policy(id: &str) -> NativePolicy {
    match id {
        "sealgate.pii" => native::<pii::Pii>,
        "sealgate.lineage" => native::<lineage::Lineage>,
        "sealgate.encryption" => native::<encryption::Encryption>,
        "sealgate.retention" => native::<retention::Retention>,
        "sealgate.drift" => native::<drift::Drift>,
        "sealgate.quality" => native::<quality::Quality>,
        other => panic!("no native form of {other}"),
    }
}

/// The PII column-name, encryption and lineage rules in Rego.
pub struct RegoRules {
    engine: regorus::Engine,
}

impl RegoRules {
    /// `pii` is `pii_idiomatic.rego` or `pii_merged.rego`.
    pub fn new(repo: &Path, pii: &str) -> Self {
        let mut engine = regorus::Engine::new();
        for file in ["common.rego", pii] {
            let path = repo.join("benches/rego").join(file);
            engine
                .add_policy_from_file(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        Self { engine }
    }

    /// Parse `metadata` (JSON text) and evaluate every rule: the rule ids found.
    pub fn evaluate(&mut self, metadata: &str) -> Vec<String> {
        self.engine.set_input_json(metadata).expect("input is JSON");
        let findings = self
            .engine
            .eval_rule("data.sealgate.findings".to_owned())
            .expect("rules evaluate");
        let mut ids: Vec<String> = findings
            .as_set()
            .expect("a set")
            .iter()
            .map(|f| f["rule"].as_string().expect("rule id").to_string())
            .collect();
        ids.sort();
        ids
    }
}
