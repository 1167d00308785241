//! `/lineage`: what made the artifact, from every source that records it:
//! the code (MLflow's tags, else OpenLineage's job facet), the runs (MLflow's
//! first), DVC's pipeline, every input each source says was read, the
//! outputs, parameters, metrics and environment.

use serde_json::{Map, Value, json};

use crate::{dvc, join, mlflow, reports};

/// The `/lineage` section.
pub(crate) fn section(
    dvc: Option<&dvc::DvcFacts>,
    ml: Option<&mlflow::MlflowFacts>,
    events: &[reports::OpenLineageFacts],
    image: Option<&str>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let ol_code = events.iter().find(|e| !e.code.is_empty()).map(|e| e.code.clone());
    let code = ml.map(|m| m.code.clone()).filter(|c| !c.is_empty()).or(ol_code);
    if let Some(code) = code {
        out.insert("code".into(), Value::Object(code));
    }
    // The run: MLflow's when there is one; every run is also listed.
    let mut runs: Vec<Value> = ml.iter().map(|m| Value::Object(m.run.clone())).collect();
    runs.extend(events.iter().flat_map(|e| e.runs.iter().cloned()));
    if let Some(first) = runs.first() {
        out.insert("run".into(), first.clone());
    }
    if runs.len() > 1 {
        out.insert("runs".into(), Value::Array(runs));
    }
    if let Some(d) = dvc
        && let Some(mut p) = d.pipeline.clone()
    {
        if let Some(params) = &d.params {
            p["params"] = params.clone();
        }
        out.insert("pipeline".into(), p);
    }
    let inputs = inputs(dvc, ml, events);
    if !inputs.is_empty() {
        out.insert("inputs".into(), Value::Array(inputs));
    }
    let outputs: Vec<Value> = events.iter().flat_map(|e| e.outputs.iter().cloned()).collect();
    if !outputs.is_empty() {
        out.insert("outputs".into(), Value::Array(outputs));
    }
    let parameters = ml
        .map(|m| m.parameters.clone())
        .filter(|p| !p.is_empty())
        .or_else(|| {
            events
                .iter()
                .map(|e| e.parameters.clone())
                .find(|p| !p.is_empty())
        })
        .or_else(|| dvc.and_then(|d| d.params.as_ref()).map(flatten_params))
        .filter(|p| !p.is_empty());
    if let Some(p) = parameters {
        out.insert("parameters".into(), Value::Object(p));
    }
    if let Some(m) = ml
        && !m.metrics.is_empty()
    {
        out.insert("metrics".into(), Value::Object(m.metrics.clone()));
    }
    let mut env = ml.map(|m| m.environment.clone()).unwrap_or_default();
    if let Some(img) = image {
        // The image given on the command line is the one being promoted; an
        // image the run recorded is kept beside it.
        if let Some(recorded) = env.insert("image".into(), json!(img))
            && recorded != json!(img)
        {
            env.insert("run_image".into(), recorded);
        }
    }
    if !env.is_empty() {
        out.insert("environment".into(), Value::Object(env));
    }
    out
}

/// `/lineage/inputs`: what each source says was read. MLflow's and
/// OpenLineage's records with DVC's hash for the same path beside them
/// (never as their own), then the dependencies of DVC's stages, then the
/// run's `data.dvc.md5` tag.
fn inputs(
    dvc: Option<&dvc::DvcFacts>,
    ml: Option<&mlflow::MlflowFacts>,
    events: &[reports::OpenLineageFacts],
) -> Vec<Value> {
    let empty = std::collections::BTreeMap::new();
    let dvc_hashes = dvc.map_or(&empty, |d| &d.hashes);
    let mut inputs: Vec<Value> = Vec::new();
    for input in ml
        .iter()
        .flat_map(|m| m.inputs.iter())
        .chain(events.iter().flat_map(|e| e.inputs.iter()))
    {
        let mut input = input.clone();
        join::note_dvc_hash(&mut input, dvc_hashes);
        inputs.push(input);
    }
    inputs.extend(dvc.iter().flat_map(|d| d.inputs.iter().cloned()));
    // A team tag on the MLflow run recording the data's DVC hash: a second
    // record of an input, matched to the path DVC gives that hash.
    if let Some(md5) = ml
        .and_then(|m| m.run.get("tags"))
        .and_then(|t| t.get("data.dvc.md5"))
        .and_then(Value::as_str)
    {
        let mut input = Map::new();
        input.insert("name".into(), json!("data.dvc.md5"));
        if let Some((path, _)) = dvc_hashes.iter().find(|(_, h)| h.as_str() == md5) {
            input.insert("uri".into(), json!(path));
        }
        input.insert("hash".into(), json!({"md5": md5}));
        input.insert("source".into(), json!("mlflow tag data.dvc.md5"));
        inputs.push(Value::Object(input));
    }
    inputs
}

/// `params.yaml` as `section.key` → value.
fn flatten_params(params: &Value) -> Map<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut Map<String, Value>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            other if !prefix.is_empty() => {
                out.insert(prefix.to_owned(), other.clone());
            }
            _ => {}
        }
    }
    let mut out = Map::new();
    walk("", params, &mut out);
    out
}
