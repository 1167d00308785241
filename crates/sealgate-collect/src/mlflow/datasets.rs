//! The run's dataset inputs: `inputs/<id>/meta.yaml` links to
//! `<experiment>/datasets/<id>/meta.yaml`, MLflow's record of each dataset.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::{MlflowFacts, columns, entries};
use crate::CollectError;
use crate::source::{Reader, is_hex};

pub(super) fn read_dataset_inputs(
    reader: &mut Reader,
    run_dir: &Path,
    facts: &mut MlflowFacts,
) -> Result<(), CollectError> {
    let Some(exp_dir) = run_dir.parent() else {
        return Ok(());
    };
    for input in entries(&run_dir.join("inputs"), false) {
        let link = reader.yaml(&input.join("meta.yaml"), "mlflow")?;
        if link.opt_str("/source_type")? != Some("DATASET") {
            continue;
        }
        let id = link.req_str("/source_id")?;
        if id.contains(['/', '\\']) || id == ".." {
            return Err(link.problem("/source_id", "not a dataset id"));
        }
        let ds_path = exp_dir.join("datasets").join(id).join("meta.yaml");
        if !ds_path.is_file() {
            return Err(link.problem(
                "/source_id",
                format!("dataset {id} is not in {}", reader.shown(exp_dir)),
            ));
        }
        let ds = reader.yaml(&ds_path, "mlflow")?;
        let name = ds.req_str("/name")?.to_owned();
        let context = link.opt_str("/tags/mlflow.data.context")?.map(str::to_owned);
        let uri = ds
            .embedded_json("/source")?
            .and_then(|s| s.get("uri").and_then(Value::as_str).map(str::to_owned));
        let mut entry = Map::new();
        entry.insert("name".into(), json!(name));
        if let Some(u) = &uri {
            entry.insert("uri".into(), json!(u));
        }
        if let Some(c) = &context {
            entry.insert("role".into(), json!(c));
        }
        // MLflow computes an 8-hex identifier over the first rows, not a
        // content hash; it keeps a digest it is given (`from_pandas(...,
        // digest=)`), so a full md5 or sha256 there is the team's record of
        // the file's content, and the record's own hash.
        if let Some(d) = ds.opt_str("/digest")? {
            entry.insert("mlflow_digest".into(), json!(d));
            let algorithm = match d.len() {
                32 => Some("md5"),
                64 => Some("sha256"),
                _ => None,
            };
            if let Some(algorithm) = algorithm
                && is_hex(d, d.len())
            {
                entry.insert("hash".into(), json!({ algorithm: d.to_ascii_lowercase() }));
                entry.insert("hash_source".into(), json!("mlflow dataset digest"));
            }
        }
        if let Some(rows) = ds
            .embedded_json("/profile")?
            .and_then(|p| p.get("num_rows").and_then(Value::as_u64))
        {
            entry.insert("rows".into(), json!(rows));
        }
        if let Some(schema) = ds.embedded_json("/schema")?
            && let Some(cols) = schema.get("mlflow_colspec")
        {
            entry.insert("columns".into(), Value::Array(columns(cols, &ds, "/schema")?));
        }
        entry.insert("source".into(), json!(ds.shown));
        let mut lineage_input = Map::new();
        lineage_input.insert("name".into(), json!(name));
        for (k, v) in [("uri", uri.as_deref()), ("context", context.as_deref())] {
            if let Some(v) = v {
                lineage_input.insert(k.into(), json!(v));
            }
        }
        for key in ["mlflow_digest", "hash", "hash_source"] {
            if let Some(v) = entry.get(key) {
                lineage_input.insert(key.into(), v.clone());
            }
        }
        lineage_input.insert("source".into(), json!("mlflow"));
        facts.inputs.push(Value::Object(lineage_input));
        facts.datasets.push(Value::Object(entry));
    }
    Ok(())
}
