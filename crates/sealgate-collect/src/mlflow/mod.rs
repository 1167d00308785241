//! MLflow: a file store (`mlruns/`). A registered model by name and version
//! or alias leads to its version record, the logged model's `MLmodel`, the
//! run that trained it and the run's dataset inputs.
//!
//! Both layouts are read: MLflow 3 keeps logged models under
//! `<experiment>/models/<model_id>/artifacts/` and the version records a
//! `model_id`; MLflow 2 keeps them in the run, `<experiment>/<run>/artifacts/<path>/`,
//! and the version's `source` points there.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::CollectError;
use crate::source::{Parsed, Reader, millis_rfc3339};

mod datasets;
use datasets::read_dataset_inputs;

/// Which registered model version to collect.
#[derive(Debug, Clone)]
pub struct ModelSelector {
    /// The file store's root (`mlruns/`).
    pub store: PathBuf,
    /// The registered model's name.
    pub name: String,
    /// The version, or …
    pub version: Option<String>,
    /// … an alias that points at one (`champion`).
    pub alias: Option<String>,
}

/// What MLflow says about a model version.
#[derive(Debug, Default)]
pub struct MlflowFacts {
    pub artifact: Map<String, Value>,
    pub schema: Option<Value>,
    pub samples: Vec<Value>,
    pub datasets: Vec<Value>,
    pub inputs: Vec<Value>,
    pub run: Map<String, Value>,
    pub code: Map<String, Value>,
    pub parameters: Map<String, Value>,
    pub metrics: Map<String, Value>,
    pub environment: Map<String, Value>,
    pub retention_days: Option<u64>,
    /// The model file the flavor loads, for the artifact's digest.
    pub model_file: Option<PathBuf>,
    /// Tags of the registered model and of the version, apart (the
    /// artifact's `tags` is both, the version's on top).
    pub registered_model_tags: Map<String, Value>,
    pub version_tags: Map<String, Value>,
}

/// Where a team's `compliance.*` tags are read from, most specific first:
/// what is said of this version outranks what is said of the model, which
/// outranks what the training run recorded.
const TAG_SOURCES: [&str; 3] = ["model_version", "registered_model", "run"];

impl MlflowFacts {
    fn tag_maps(&self) -> [Option<&Map<String, Value>>; 3] {
        [
            Some(&self.version_tags),
            Some(&self.registered_model_tags),
            self.run.get("tags").and_then(Value::as_object),
        ]
    }

    /// A team convention tag: the model version's, else the registered
    /// model's, else the run's.
    pub fn compliance_tag(&self, key: &str) -> Option<&str> {
        self.compliance_tag_from(key).map(|(value, _)| value)
    }

    /// [`MlflowFacts::compliance_tag`] with where it was found
    /// (`model_version`, `registered_model` or `run`).
    pub fn compliance_tag_from(&self, key: &str) -> Option<(&str, &'static str)> {
        TAG_SOURCES
            .iter()
            .zip(self.tag_maps())
            .find_map(|(source, m)| Some((m?.get(key)?.as_str()?, *source)))
    }

    /// Each `compliance.*` tag its sources disagree on, with every value:
    /// kept side by side for the lineage policy, never settled silently.
    fn tag_conflicts(&self) -> Vec<Value> {
        let mut keys: Vec<&String> = self
            .tag_maps()
            .into_iter()
            .flatten()
            .flat_map(|m| m.keys())
            .filter(|k| k.starts_with("compliance."))
            .collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|key| {
                let values: Map<String, Value> = TAG_SOURCES
                    .iter()
                    .zip(self.tag_maps())
                    .filter_map(|(source, m)| Some(((*source).to_owned(), m?.get(key)?.clone())))
                    .collect();
                let distinct: std::collections::BTreeSet<String> =
                    values.values().map(Value::to_string).collect();
                (distinct.len() > 1).then(|| json!({"tag": key, "values": values}))
            })
            .collect()
    }
}

/// Files and directories listed per directory at most (params, metrics, tags).
const MAX_ENTRIES: usize = 10_000;

/// MLflow's `RunStatus` codes in a file store's `meta.yaml`.
fn run_status(code: i64) -> &'static str {
    match code {
        1 => "RUNNING",
        2 => "SCHEDULED",
        3 => "FINISHED",
        4 => "FAILED",
        5 => "KILLED",
        _ => "UNKNOWN",
    }
}

pub(super) fn entries(dir: &Path, files: bool) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_type()
                .is_ok_and(|t| if files { t.is_file() } else { t.is_dir() })
        })
        .map(|e| e.path())
        .take(MAX_ENTRIES)
        .collect();
    out.sort();
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A directory of one-value files (`tags/`, `params/`): name → trimmed content.
fn key_values(reader: &mut Reader, dir: &Path) -> Result<Map<String, Value>, CollectError> {
    let mut out = Map::new();
    for f in entries(dir, true) {
        let text = reader.text(&f, "mlflow")?;
        out.insert(file_name(&f), json!(text.trim_end_matches(['\n', '\r'])));
    }
    Ok(out)
}

/// Experiment directories: everything at the top but the registry and trash.
fn experiments(store: &Path) -> Vec<PathBuf> {
    entries(store, false)
        .into_iter()
        .filter(|d| !matches!(file_name(d).as_str(), "models" | ".trash"))
        .collect()
}

pub(crate) fn collect(reader: &mut Reader, sel: &ModelSelector) -> Result<MlflowFacts, CollectError> {
    let registry = sel.store.join("models");
    let model_dir = registry.join(&sel.name);
    let model_meta_path = model_dir.join("meta.yaml");
    if !model_meta_path.is_file() {
        let known: Vec<String> = entries(&registry, false).iter().map(|d| file_name(d)).collect();
        return Err(CollectError::Selection(format!(
            "{}: no registered model `{}` (registered: {})",
            reader.shown(&registry),
            sel.name,
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )));
    }
    let model_meta = reader.yaml(&model_meta_path, "mlflow")?;
    let version = match (&sel.version, &sel.alias) {
        (Some(v), _) => v.clone(),
        (None, Some(alias)) => resolve_alias(reader, &model_dir, &model_meta, alias)?,
        (None, None) => {
            return Err(CollectError::Selection(
                "an MLflow model needs --version N or --alias NAME".into(),
            ));
        }
    };
    let version_dir = model_dir.join(format!("version-{version}"));
    let version_meta_path = version_dir.join("meta.yaml");
    if !version_meta_path.is_file() {
        let known: Vec<String> = entries(&model_dir, false)
            .iter()
            .filter_map(|d| file_name(d).strip_prefix("version-").map(str::to_owned))
            .collect();
        return Err(CollectError::Selection(format!(
            "{}: model `{}` has no version {version} (versions: {})",
            reader.shown(&model_dir),
            sel.name,
            known.join(", ")
        )));
    }
    let vmeta = reader.yaml(&version_meta_path, "mlflow")?;
    let mut facts = MlflowFacts::default();

    // The artifact: the registered version.
    let a = &mut facts.artifact;
    a.insert("kind".into(), json!("model"));
    a.insert("name".into(), json!(sel.name));
    a.insert("version".into(), json!(version));
    a.insert("uri".into(), json!(format!("models:/{}/{version}", sel.name)));
    if let Some(status) = vmeta.opt_str("/status")? {
        a.insert("registry_status".into(), json!(status));
    }
    if let Some(t) = vmeta.opt_i64("/creation_timestamp")?.and_then(millis_rfc3339) {
        a.insert("created_at".into(), json!(t));
    }
    let aliases: Vec<String> = model_meta
        .opt_object("/aliases")?
        .into_iter()
        .flatten()
        .filter(|(_, v)| scalar_text(v).as_deref() == Some(version.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    if !aliases.is_empty() {
        a.insert("aliases".into(), json!(aliases));
    }
    // Registered-model tags, then version tags (more specific) on top.
    facts.registered_model_tags = key_values(reader, &model_dir.join("tags"))?;
    facts.version_tags = key_values(reader, &version_dir.join("tags"))?;
    let mut tags = facts.registered_model_tags.clone();
    tags.extend(facts.version_tags.clone());
    if !tags.is_empty() {
        facts.artifact.insert("tags".into(), Value::Object(tags));
    }

    let run_id = vmeta.req_str("/run_id")?.to_owned();
    let run_dir = find_run(&sel.store, &run_id).ok_or_else(|| {
        CollectError::Selection(format!(
            "{}: the run {run_id} that version {version} names is not in this store",
            reader.shown(&sel.store)
        ))
    })?;

    let model_dir = locate_model(&sel.store, &vmeta, &run_dir)?.ok_or_else(|| {
        vmeta.problem(
            "/source",
            "the logged model's MLmodel is not in this store (looked for model_id, runs:/ and artifact paths)",
        )
    })?;
    read_mlmodel(reader, &model_dir, &mut facts)?;
    read_run(reader, &run_dir, &mut facts)?;
    read_dataset_inputs(reader, &run_dir, &mut facts)?;
    if let Some(c) = facts.compliance_tag("compliance.data_classification") {
        facts.artifact.insert("classification".into(), json!(c));
    }
    if let Some(d) = facts.compliance_tag("compliance.retention_days") {
        facts.retention_days = Some(d.trim().parse().map_err(|_| CollectError::Malformed {
            path: "mlflow tag compliance.retention_days".into(),
            problem: format!("`{d}` is not a whole number of days"),
        })?);
    }
    let conflicts = facts.tag_conflicts();
    if !conflicts.is_empty() {
        facts
            .artifact
            .insert("tag_conflicts".into(), Value::Array(conflicts));
    }
    Ok(facts)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn resolve_alias(
    reader: &mut Reader,
    model_dir: &Path,
    meta: &Parsed,
    alias: &str,
) -> Result<String, CollectError> {
    if let Some(v) = meta
        .opt_object("/aliases")?
        .and_then(|m| m.get(alias))
        .and_then(scalar_text)
    {
        return Ok(v);
    }
    // Some versions keep aliases as files, `aliases/<alias>` holding the version.
    let file = model_dir.join("aliases").join(alias);
    if file.is_file() {
        return Ok(reader.text(&file, "mlflow")?.trim().to_owned());
    }
    Err(CollectError::Selection(format!(
        "{}: no alias `{alias}` on this model",
        reader.shown(model_dir)
    )))
}

fn find_run(store: &Path, run_id: &str) -> Option<PathBuf> {
    if run_id.is_empty() || run_id.contains(['/', '\\', '.']) {
        return None;
    }
    experiments(store)
        .into_iter()
        .map(|e| e.join(run_id))
        .find(|d| d.join("meta.yaml").is_file())
}

/// The directory holding the logged model's `MLmodel`.
fn locate_model(store: &Path, vmeta: &Parsed, run_dir: &Path) -> Result<Option<PathBuf>, CollectError> {
    let safe = |id: &str| !id.is_empty() && !id.contains(['/', '\\']) && id != "..";
    // MLflow 3: the version names the logged model.
    let model_id = vmeta.opt_str("/model_id")?.map(str::to_owned).or(vmeta
        .opt_str("/source")?
        .and_then(|s| s.strip_prefix("models:/"))
        .map(str::to_owned));
    if let Some(id) = model_id.filter(|id| safe(id))
        && let Some(dir) = experiments(store)
            .into_iter()
            .map(|e| e.join("models").join(&id).join("artifacts"))
            .find(|d| d.join("MLmodel").is_file())
    {
        return Ok(Some(dir));
    }
    // MLflow 2: `runs:/<run>/<path>`, or an artifact URI ending in
    // `<run>/artifacts/<path>` (absolute paths of another machine are ignored).
    let source = vmeta.opt_str("/source")?.unwrap_or("");
    let rel = if let Some(rest) = source.strip_prefix("runs:/") {
        rest.split_once('/').map(|(_, p)| p.to_owned())
    } else {
        source.split_once("/artifacts/").map(|(_, p)| p.to_owned())
    };
    if let Some(rel) = rel {
        let candidate = rel
            .split('/')
            .filter(|c| !c.is_empty() && *c != "." && *c != "..")
            .fold(run_dir.join("artifacts"), |p, c| p.join(c));
        if candidate.join("MLmodel").is_file() {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

pub(super) fn columns(spec: &Value, parsed: &Parsed, pointer: &str) -> Result<Vec<Value>, CollectError> {
    let list = spec
        .as_array()
        .ok_or_else(|| parsed.problem(pointer, "the signature must be a JSON list of column specs"))?;
    Ok(list
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut col = Map::new();
            // Tensor specs may be unnamed: name them by position.
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("[{i}]"), str::to_owned);
            col.insert("name".into(), json!(name));
            if let Some(t) = c.get("type") {
                col.insert("type".into(), t.clone());
            }
            if let Some(r) = c.get("required") {
                col.insert("required".into(), r.clone());
            }
            if let Some(t) = c.get("tensor-spec") {
                col.insert("tensor_spec".into(), t.clone());
            }
            Value::Object(col)
        })
        .collect())
}

fn read_mlmodel(reader: &mut Reader, dir: &Path, facts: &mut MlflowFacts) -> Result<(), CollectError> {
    let mlmodel = reader.yaml(&dir.join("MLmodel"), "mlflow")?;
    let mut schema = Map::new();
    schema.insert("source".into(), json!("mlflow.signature"));
    for side in ["inputs", "outputs"] {
        let ptr = format!("/signature/{side}");
        if let Some(spec) = mlmodel.embedded_json(&ptr)? {
            schema.insert(side.into(), Value::Array(columns(&spec, &mlmodel, &ptr)?));
        }
    }
    if schema.len() > 1 {
        facts.schema = Some(Value::Object(schema));
    }
    let flavors = mlmodel.opt_object("/flavors")?;
    let names: Vec<&String> = flavors.into_iter().flat_map(|f| f.keys()).collect();
    let format = names
        .iter()
        .find(|n| n.as_str() != "python_function")
        .or(names.first())
        .map(|n| n.to_string());
    if let Some(mut format) = format {
        if let Some(ser) = mlmodel.opt_str(&format!("/flavors/{format}/serialization_format"))? {
            format = format!("{format} ({ser})");
        }
        facts.artifact.insert("format".into(), json!(format));
    }
    // The file the flavor loads is the artifact a digest is about.
    let model_path = mlmodel
        .opt_str("/flavors/python_function/model_path")?
        .or(mlmodel.opt_str("/flavors/sklearn/pickled_model")?);
    if let Some(p) = model_path.filter(|p| !p.contains("..")) {
        let file = dir.join(p);
        if file.is_file() {
            facts.model_file = Some(file);
        }
    }
    let id = mlmodel.opt_str("/model_id")?.or(mlmodel.opt_str("/model_uuid")?);
    if let Some(id) = id {
        facts.artifact.insert("model_id".into(), json!(id));
    }
    if let Some(v) = mlmodel.opt_str("/mlflow_version")? {
        facts.environment.insert("mlflow".into(), json!(v));
    }
    if let Some(v) = mlmodel.opt_str("/flavors/python_function/python_version")? {
        facts.environment.insert("python".into(), json!(v));
    }
    if let Some(v) = mlmodel.opt_str("/flavors/sklearn/sklearn_version")? {
        facts.environment.insert("scikit-learn".into(), json!(v));
    }
    // The input example MLflow saved (pandas "split" orient) is a sample.
    if mlmodel.opt_str("/saved_input_example_info/type")? == Some("dataframe")
        && let Some(p) = mlmodel.opt_str("/saved_input_example_info/artifact_path")?
        && !p.contains("..")
        && dir.join(p).is_file()
    {
        let example = reader.json(&dir.join(p), "mlflow")?;
        let columns = example.opt_array("/columns")?;
        let data = example.opt_array("/data")?;
        if !data.is_empty() {
            facts
                .samples
                .push(json!({"source": "mlflow.input_example", "columns": columns, "data": data}));
        }
    }
    Ok(())
}

fn read_run(reader: &mut Reader, run_dir: &Path, facts: &mut MlflowFacts) -> Result<(), CollectError> {
    let meta = reader.yaml(&run_dir.join("meta.yaml"), "mlflow")?;
    let run = &mut facts.run;
    run.insert("system".into(), json!("mlflow"));
    run.insert("id".into(), json!(meta.req_str("/run_id")?));
    if let Some(name) = meta.opt_str("/run_name")? {
        run.insert("name".into(), json!(name));
    }
    if let Some(exp) = meta.opt_scalar("/experiment_id")? {
        run.insert("experiment_id".into(), json!(exp));
    }
    let status = meta
        .opt_i64("/status")?
        .ok_or_else(|| meta.problem("/status", "missing (a run status code)"))?;
    run.insert("status".into(), json!(run_status(status)));
    // A deleted run (`mlflow gc` has not purged it yet) is recorded as such:
    // promoting what it made is a lineage finding.
    if let Some(stage) = meta.opt_str("/lifecycle_stage")? {
        run.insert("lifecycle_stage".into(), json!(stage));
    }
    for (field, key) in [("/start_time", "started_at"), ("/end_time", "ended_at")] {
        if let Some(t) = meta.opt_i64(field)?.and_then(millis_rfc3339) {
            run.insert(key.into(), json!(t));
        }
    }
    let tags = key_values(reader, &run_dir.join("tags"))?;
    let tag = |k: &str| tags.get(k).and_then(Value::as_str).map(str::to_owned);
    for (t, key) in [
        ("mlflow.source.git.commit", "commit"),
        ("mlflow.source.git.branch", "branch"),
        ("mlflow.source.git.repoURL", "repository"),
        ("mlflow.source.name", "entry_point"),
    ] {
        if let Some(v) = tag(t) {
            facts.code.insert(key.into(), json!(v));
        }
    }
    // The image an MLflow Project ran in (`mlflow.docker.image.uri`, as
    // MLflow's `mlflow_tags.py` names it), as recorded: pinned only if the
    // URI itself carries `@sha256:`. `mlflow.docker.image.id` is the local
    // image ID (the sha256 of the image's config), not a registry manifest
    // digest, so it is kept beside the image and never made its pin.
    if let Some(image) = tag("mlflow.docker.image.uri") {
        facts.environment.insert("image".into(), json!(image));
    }
    if let Some(id) = tag("mlflow.docker.image.id") {
        facts.environment.insert("image_id".into(), json!(id));
    }
    facts.run.insert("tags".into(), Value::Object(tags));
    facts.parameters = key_values(reader, &run_dir.join("params"))?;
    for f in entries(&run_dir.join("metrics"), true) {
        let text = reader.text(&f, "mlflow")?;
        if let Some(v) = latest_metric(&text) {
            // MLflow logs NaN and infinities (`nan`, `inf`); JSON has no such
            // numbers, so they are kept as text for the quality policy to
            // judge (`quality.metric.invalid`), not dropped or refused.
            let value = if v.is_finite() {
                json!(v)
            } else if v.is_nan() {
                json!("NaN")
            } else if v > 0.0 {
                json!("Infinity")
            } else {
                json!("-Infinity")
            };
            facts.metrics.insert(file_name(&f), value);
        } else {
            return Err(CollectError::Malformed {
                path: reader.shown(&f),
                problem: "no `timestamp value step` line".into(),
            });
        }
    }
    Ok(())
}

/// A metric file's lines are `timestamp value step`; the value at the
/// highest step (then the latest timestamp) is the metric.
fn latest_metric(text: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let ts: i64 = parts.next()?.parse().ok()?;
            let value: f64 = parts.next()?.parse().ok()?;
            let step: i64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            Some(((step, ts), value))
        })
        .max_by_key(|(k, _)| *k)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{copy_tree, reader, real};

    const EXP: &str = "358768659074516099";
    const RUN: &str = "65788ebeec5e4c52b0d2dc9d15c5ff98";

    fn select(store: &Path, name: &str, version: Option<&str>, alias: Option<&str>) -> ModelSelector {
        ModelSelector {
            store: store.to_owned(),
            name: name.into(),
            version: version.map(Into::into),
            alias: alias.map(Into::into),
        }
    }

    #[test]
    fn an_mlflow3_registered_model_by_alias() {
        let f = collect(
            &mut reader(),
            &select(&real("mlflow3-mlruns"), "churn-model", None, Some("champion")),
        )
        .unwrap();
        assert_eq!(f.artifact["version"], "1");
        assert_eq!(f.artifact["aliases"], json!(["champion"]));
        assert_eq!(f.artifact["tags"]["owner"], "risk-ml-team");
        assert_eq!(f.artifact["tags"]["compliance.pii_reviewed"], "true");
        assert_eq!(f.artifact["model_id"], "m-adc4bb85122d4bb8865ef4a378276603");
        assert_eq!(f.artifact["format"], "sklearn (skops)");
        assert_eq!(f.artifact["classification"], "confidential");
        // The signature is a JSON string inside YAML: parsed twice.
        let inputs = f.schema.as_ref().unwrap()["inputs"].as_array().unwrap().clone();
        let names: Vec<&str> = inputs.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["customer_id", "age", "income"]);
        // An unnamed tensor output is named by position.
        assert_eq!(f.schema.as_ref().unwrap()["outputs"][0]["name"], "[0]");
        assert_eq!(f.samples[0]["data"][0], json!([114, 35, 185692]));
        assert_eq!(f.run["status"], "FINISHED");
        assert_eq!(f.run["started_at"], "2026-11-26T18:58:24Z");
        assert_eq!(f.code["commit"], "9ba0bde30de83a486d22dff5b546a1245bfd9201");
        assert_eq!(f.parameters["C"], "0.5");
        assert_eq!(f.metrics["accuracy"], 0.96);
        assert_eq!(f.retention_days, Some(365));
        // MLflow's dataset digest is kept apart from content hashes.
        assert_eq!(f.datasets[0]["mlflow_digest"], "5459aec5");
        assert!(f.datasets[0].get("hash").is_none());
        assert_eq!(f.inputs[0]["uri"], "data/features.csv");
        assert!(f.model_file.unwrap().ends_with("model.skops"));
    }

    #[test]
    fn the_pii_model_by_version() {
        let f = collect(
            &mut reader(),
            &select(&real("mlflow3-mlruns"), "churn-model-pii", Some("1"), None),
        )
        .unwrap();
        let inputs = f.schema.unwrap()["inputs"].as_array().unwrap().clone();
        assert!(inputs.iter().any(|c| c["name"] == "ssn"));
        assert!(f.artifact.get("aliases").is_none());
    }

    /// The same run and model laid out as MLflow 2.x file stores do: the
    /// model inside the run's artifacts, the version pointing there by
    /// `source`, `model_uuid` without `model_id`.
    #[test]
    fn an_mlflow2_layout() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path();
        copy_tree(
            &real(&format!("mlflow3-mlruns/{EXP}/{RUN}")),
            &store.join(EXP).join(RUN),
        );
        std::fs::copy(
            real(&format!("mlflow3-mlruns/{EXP}/meta.yaml")),
            store.join(EXP).join("meta.yaml"),
        )
        .unwrap();
        copy_tree(
            &real(&format!("mlflow3-mlruns/{EXP}/datasets")),
            &store.join(EXP).join("datasets"),
        );
        let model = store.join(EXP).join(RUN).join("artifacts/model");
        copy_tree(
            &real(&format!(
                "mlflow3-mlruns/{EXP}/models/m-adc4bb85122d4bb8865ef4a378276603/artifacts"
            )),
            &model,
        );
        let mlmodel = std::fs::read_to_string(model.join("MLmodel")).unwrap();
        let v2: String = mlmodel
            .lines()
            .filter(|l| !l.starts_with("model_id:"))
            .map(|l| {
                if l.starts_with("model_uuid:") {
                    "model_uuid: 1f0e9b8c2d6a4e5f8a7b6c5d4e3f2a1b"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(model.join("MLmodel"), v2).unwrap();
        let reg = store.join("models/churn-model/version-3");
        std::fs::create_dir_all(&reg).unwrap();
        std::fs::write(
            store.join("models/churn-model/meta.yaml"),
            "name: churn-model\ncreation_timestamp: 1795719511113\n",
        )
        .unwrap();
        std::fs::write(
            reg.join("meta.yaml"),
            format!(
                "name: churn-model\nversion: 3\ncreation_timestamp: 1795719511115\ncurrent_stage: Production\n\
                 run_id: {RUN}\nsource: file:///srv/mlflow/mlruns/{EXP}/{RUN}/artifacts/model\nstatus: READY\n"
            ),
        )
        .unwrap();
        std::fs::create_dir_all(store.join("models/churn-model/aliases")).unwrap();
        std::fs::write(store.join("models/churn-model/aliases/prod"), "3").unwrap();

        let f = collect(&mut reader(), &select(store, "churn-model", None, Some("prod"))).unwrap();
        assert_eq!(f.artifact["version"], "3");
        assert_eq!(f.artifact["model_id"], "1f0e9b8c2d6a4e5f8a7b6c5d4e3f2a1b");
        assert_eq!(f.schema.unwrap()["inputs"][1]["name"], "age");
        assert_eq!(f.run["id"], RUN);
        assert!(f.model_file.unwrap().starts_with(&model));

        // `runs:/` sources resolve the same way.
        std::fs::write(
            reg.join("meta.yaml"),
            format!("version: 3\nrun_id: {RUN}\nsource: runs:/{RUN}/model\n"),
        )
        .unwrap();
        assert!(collect(&mut reader(), &select(store, "churn-model", Some("3"), None)).is_ok());
    }

    #[test]
    fn a_run_without_a_git_commit_is_collected_with_the_gap() {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&real("mlflow3-mlruns"), dir.path());
        std::fs::remove_file(
            dir.path()
                .join(format!("{EXP}/{RUN}/tags/mlflow.source.git.commit")),
        )
        .unwrap();
        let f = collect(&mut reader(), &select(dir.path(), "churn-model", Some("1"), None)).unwrap();
        assert!(f.code.get("commit").is_none());
        assert_eq!(f.code["branch"], "main");
    }

    #[test]
    fn selection_errors_say_what_exists() {
        let store = real("mlflow3-mlruns");
        let err = collect(&mut reader(), &select(&store, "churn", Some("1"), None))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no registered model `churn` (registered: churn-model, churn-model-pii)"),
            "{err}"
        );
        let err = collect(&mut reader(), &select(&store, "churn-model", Some("7"), None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no version 7 (versions: 1)"), "{err}");
        let err = collect(
            &mut reader(),
            &select(&store, "churn-model", None, Some("canary")),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no alias `canary`"), "{err}");
    }

    #[test]
    fn malformed_files_are_named_with_the_field() {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&real("mlflow3-mlruns"), dir.path());
        let run_meta = dir.path().join(format!("{EXP}/{RUN}/meta.yaml"));
        let text = std::fs::read_to_string(&run_meta).unwrap();
        std::fs::write(&run_meta, text.replace("status: 3", "status: finished")).unwrap();
        let err = collect(&mut reader(), &select(dir.path(), "churn-model", Some("1"), None))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "{RUN}/meta.yaml: /status: must be a whole number, found a string"
            )),
            "{err}"
        );

        std::fs::write(&run_meta, text).unwrap();
        let mlmodel = dir.path().join(format!(
            "{EXP}/models/m-adc4bb85122d4bb8865ef4a378276603/artifacts/MLmodel"
        ));
        let text = std::fs::read_to_string(&mlmodel).unwrap();
        std::fs::write(&mlmodel, text.replace("inputs: '[{\"type\"", "inputs: '[{type\"")).unwrap();
        let err = collect(&mut reader(), &select(dir.path(), "churn-model", Some("1"), None))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MLmodel: /signature/inputs: invalid JSON inside the string"),
            "{err}"
        );

        std::fs::write(&mlmodel, "flavors: [unclosed\n").unwrap();
        let err = collect(&mut reader(), &select(dir.path(), "churn-model", Some("1"), None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("MLmodel: invalid YAML"), "{err}");
    }

    #[test]
    fn latest_metric_by_step_then_time() {
        assert_eq!(latest_metric("1 0.5 0\n2 0.7 1\n3 0.6 0\n"), Some(0.7));
        assert_eq!(latest_metric("1795719505274 0.96 0\n"), Some(0.96));
        assert_eq!(latest_metric("garbage"), None);
        assert!(
            latest_metric("1 nan 0").is_some_and(f64::is_nan),
            "MLflow writes NaN as `nan`"
        );
        assert_eq!(latest_metric("1 inf 0"), Some(f64::INFINITY));
    }
}
