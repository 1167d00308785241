//! Evidently drift reports (both JSON shapes) and OpenLineage run events.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::CollectError;
use crate::source::{Reader, kind};

/// An Evidently report, attached as written after checking that it has one of
/// the two shapes the drift policy reads: the 0.7 `metrics` list of
/// `ValueDrift`/`DriftedColumnsCount` metrics, or the legacy preset's
/// `DataDriftTable` with `drift_by_columns`.
pub(crate) fn evidently(reader: &mut Reader, path: &Path) -> Result<Value, CollectError> {
    let report = reader.json(path, "evidently")?;
    let metrics = report.opt_array("/metrics")?;
    let current = metrics.iter().any(|m| {
        m.pointer("/config/type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("evidently:metric_v2:"))
    });
    let legacy = metrics.iter().any(|m| {
        m.pointer("/result/drift_by_columns")
            .is_some_and(Value::is_object)
    });
    if !current && !legacy {
        return Err(report.problem(
            "/metrics",
            "not an Evidently drift report: no `evidently:metric_v2:` metrics (0.7) and no `drift_by_columns` (legacy); \
             save it with `snapshot.dict()` / `report.as_dict()` as JSON",
        ));
    }
    Ok(report.value)
}

/// The run, code and datasets OpenLineage recorded: `RunEvent`s as a JSON
/// object, a JSON list, or JSON Lines.
#[derive(Debug, Default)]
pub struct OpenLineageFacts {
    /// One per run id, from its latest event.
    pub runs: Vec<Value>,
    pub code: Map<String, Value>,
    pub parameters: Map<String, Value>,
    pub inputs: Vec<Value>,
    pub outputs: Vec<Value>,
}

/// A run's state events, by how far along they are: a terminal state
/// outranks the rest when two events of a run share an instant. `OTHER` (and
/// an event without `eventType`, which the spec allows) carries metadata, not
/// state, so it never changes a run's status.
fn state_rank(event_type: &str) -> Option<u8> {
    match event_type {
        "COMPLETE" | "FAIL" | "ABORT" => Some(2),
        "RUNNING" => Some(1),
        "START" => Some(0),
        _ => None,
    }
}

pub(crate) fn openlineage(reader: &mut Reader, path: &Path) -> Result<OpenLineageFacts, CollectError> {
    let text = reader.text(path, "openlineage")?;
    let shown = reader.shown(path);
    let bad = |problem: String| CollectError::Malformed {
        path: shown.clone(),
        problem,
    };
    let events: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(events)) => events,
        Ok(event @ Value::Object(_)) => vec![event],
        Ok(other) => {
            return Err(bad(format!(
                "expected a RunEvent or a list of them, found {}",
                kind(&other)
            )));
        }
        // Not one JSON document: JSON Lines.
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| bad(format!("line {}: invalid JSON: {e}", i + 1)))
            })
            .collect::<Result<_, _>>()?,
    };
    if events.is_empty() {
        return Err(bad("no RunEvents".into()));
    }
    let mut facts = OpenLineageFacts {
        runs: runs(&events).map_err(bad)?,
        ..OpenLineageFacts::default()
    };
    facets_and_datasets(&events, &mut facts);
    Ok(facts)
}

/// One record per run: its latest state event, by instant (event times may
/// carry any offset and precision) then rank; its earliest START; whether
/// it wrote outputs; its parent run; the MLflow run it names. The run that
/// produced the outputs comes first (of several, the latest).
fn runs(events: &[Value]) -> Result<Vec<Value>, String> {
    struct RunSeen {
        state: Option<(i128, u8, usize)>,
        started: Option<(i128, usize)>,
        last_seen: i128,
        produced: bool,
        parent: Option<String>,
        mlflow_run: Option<String>,
        first: usize,
    }
    let mut seen: BTreeMap<String, RunSeen> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let field = |p: &str| e.pointer(p).and_then(Value::as_str);
        let (Some(run_id), Some(time)) = (field("/run/runId"), field("/eventTime")) else {
            return Err(format!(
                "event {i}: a RunEvent needs run.runId and eventTime (a DatasetEvent or JobEvent is not a run)"
            ));
        };
        let at = crate::source::rfc3339_nanos(time)
            .ok_or_else(|| format!("event {i}: eventTime `{time}` is not an RFC 3339 time"))?;
        let run = seen.entry(run_id.to_owned()).or_insert(RunSeen {
            state: None,
            started: None,
            last_seen: at,
            produced: false,
            parent: None,
            mlflow_run: None,
            first: i,
        });
        run.last_seen = run.last_seen.max(at);
        let event_type = field("/eventType").unwrap_or("OTHER");
        if let Some(rank) = state_rank(event_type) {
            if run.state.is_none_or(|(t, r, _)| (t, r) <= (at, rank)) {
                run.state = Some((at, rank, i));
            }
            if event_type == "START" && run.started.is_none_or(|(t, _)| at < t) {
                run.started = Some((at, i));
            }
        }
        if e.get("outputs")
            .and_then(Value::as_array)
            .is_some_and(|o| !o.is_empty())
        {
            run.produced = true;
        }
        if let Some(parent) = field("/run/facets/parent/run/runId") {
            run.parent = Some(parent.to_owned());
        }
        if let Some(id) = mlflow_run_named(e) {
            run.mlflow_run = Some(id.to_owned());
        }
    }
    let mut runs = Vec::new();
    // The run that produced the outputs comes first (of several, the latest):
    // a parent (an orchestrator's DAG run) or a run that only read is not the
    // one the artifact came from.
    let mut order: Vec<(&String, &RunSeen)> = seen.iter().collect();
    order.sort_by_key(|(_, r)| (std::cmp::Reverse(r.produced), std::cmp::Reverse(r.last_seen)));
    for (run_id, r) in order {
        let mut run = Map::new();
        run.insert("system".into(), json!("openlineage"));
        run.insert("id".into(), json!(run_id));
        let status = r.state.map_or("OTHER", |(_, _, i)| {
            events[i]["eventType"].as_str().unwrap_or("OTHER")
        });
        run.insert("status".into(), json!(status));
        let any = r.state.map_or(r.first, |(_, _, i)| i);
        if let Some(job) = events[any].pointer("/job/name").and_then(Value::as_str) {
            let ns = events[any]
                .pointer("/job/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            run.insert("job".into(), json!(format!("{ns}/{job}")));
        }
        if let Some((_, i)) = r.started {
            run.insert("started_at".into(), events[i]["eventTime"].clone());
        }
        if let Some((_, 2, i)) = r.state {
            run.insert("ended_at".into(), events[i]["eventTime"].clone());
        }
        if let Some(parent) = &r.parent {
            run.insert("parent".into(), json!(parent));
        }
        if let Some(id) = &r.mlflow_run {
            run.insert("mlflow_run_id".into(), json!(id));
        }
        run.insert("produced_outputs".into(), json!(r.produced));
        runs.push(Value::Object(run));
    }
    Ok(runs)
}

/// Facets and datasets accumulate over a run's events (producers send the
/// job's facets with START and the outputs with COMPLETE).
fn facets_and_datasets(events: &[Value], facts: &mut OpenLineageFacts) {
    let mut datasets: BTreeMap<(&str, String), Map<String, Value>> = BTreeMap::new();
    let mut order: Vec<(&str, String)> = Vec::new();
    for e in events {
        if let Some(loc) = e.pointer("/job/facets/sourceCodeLocation") {
            for (from, to) in [
                ("version", "commit"),
                ("branch", "branch"),
                ("repoUrl", "repository"),
                ("path", "entry_point"),
            ] {
                if let Some(v) = loc.get(from).and_then(Value::as_str) {
                    facts.code.entry(to).or_insert_with(|| json!(v));
                }
            }
            if let Some(url) = loc.get("url").and_then(Value::as_str) {
                facts.code.entry("repository").or_insert_with(|| json!(url));
            }
        }
        // Parameters: a run facet of key/value pairs, as Airflow and custom
        // producers write them (`executionParameters` or `parameters`).
        for name in ["executionParameters", "parameters"] {
            if let Some(params) = e.pointer(&format!("/run/facets/{name}")) {
                collect_parameters(params, &mut facts.parameters);
            }
        }
        for side in ["inputs", "outputs"] {
            for d in e.get(side).and_then(Value::as_array).into_iter().flatten() {
                let Value::Object(d) = dataset(d) else { continue };
                let key = (
                    side,
                    format!(
                        "{}/{}",
                        d["namespace"].as_str().unwrap_or(""),
                        d["name"].as_str().unwrap_or("")
                    ),
                );
                match datasets.get_mut(&key) {
                    Some(known) => known.extend(d),
                    None => {
                        order.push(key.clone());
                        datasets.insert(key, d);
                    }
                }
            }
        }
    }
    for key in order {
        let d = Value::Object(datasets.remove(&key).unwrap_or_default());
        if key.0 == "inputs" {
            facts.inputs.push(d);
        } else {
            facts.outputs.push(d);
        }
    }
}

/// The MLflow run an event's run says it is: the run `tags` facet's
/// `mlflow.run_id` (or `mlflow_run_id`) tag. OpenLineage has no MLflow facet;
/// this is the tag a producer sets to link the two records of one run.
fn mlflow_run_named(e: &Value) -> Option<&str> {
    e.pointer("/run/facets/tags/tags")
        .and_then(Value::as_array)?
        .iter()
        .find(|t| {
            t.get("key").and_then(Value::as_str).is_some_and(|k| {
                k.eq_ignore_ascii_case("mlflow.run_id") || k.eq_ignore_ascii_case("mlflow_run_id")
            })
        })?
        .get("value")
        .and_then(Value::as_str)
}

fn collect_parameters(facet: &Value, out: &mut Map<String, Value>) {
    let list = facet.get("parameters").unwrap_or(facet);
    match list {
        Value::Array(kvs) => {
            for kv in kvs {
                if let (Some(k), Some(v)) = (kv.get("key").and_then(Value::as_str), kv.get("value")) {
                    out.insert(k.to_owned(), v.clone());
                }
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                if !k.starts_with('_') {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        _ => {}
    }
}

/// An OpenLineage dataset as a lineage input/output.
fn dataset(d: &Value) -> Value {
    let ns = d.get("namespace").and_then(Value::as_str).unwrap_or("");
    let name = d.get("name").and_then(Value::as_str).unwrap_or("?");
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    out.insert("namespace".into(), json!(ns));
    // The dataset's URI: under its dataSource's, else from the naming spec
    // (https://openlineage.io/docs/spec/naming): for object stores and files
    // the namespace is the bucket or host (`s3://bucket`, `gs://bucket`,
    // `abfss://…`, `hdfs://…`, `file`) and the name the path in it.
    let uri = d
        .pointer("/facets/dataSource/uri")
        .and_then(Value::as_str)
        .map(|u| format!("{}/{}", u.trim_end_matches('/'), name.trim_start_matches('/')))
        .or_else(|| {
            let scheme = ns.split_once("://").map(|(s, _)| s);
            match scheme {
                Some("s3" | "s3a" | "gs" | "abfss" | "wasbs" | "hdfs" | "file") => Some(format!(
                    "{}/{}",
                    ns.trim_end_matches('/'),
                    name.trim_start_matches('/')
                )),
                None if ns == "file" && name.starts_with('/') => Some(format!("file://{name}")),
                _ => None,
            }
        });
    if let Some(u) = uri {
        out.insert("uri".into(), json!(u));
    }
    if let Some(v) = d.pointer("/facets/version/datasetVersion") {
        out.insert("version".into(), v.clone());
        // A version that is a content digest (md5, sha256) is this record's
        // own hash of the data: compared with DVC's, never replaced by it.
        if let Some(v) = v.as_str() {
            let algo = if crate::source::is_hex(v, 32) {
                Some("md5")
            } else if crate::source::is_hex(v, 64) {
                Some("sha256")
            } else {
                None
            };
            if let Some(algo) = algo {
                out.insert("hash".into(), json!({algo: v.to_ascii_lowercase()}));
                out.insert("hash_source".into(), json!("openlineage datasetVersion"));
            }
        }
    }
    // Tags (the tags facet): a tag with `field` is a column's, the rest the
    // dataset's. A column tagged as personal data (key or value `pii`,
    // `personal`, `sensitive`, `gdpr`) is declared so.
    let tags: Vec<&Value> = d
        .pointer("/facets/tags/tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().collect())
        .unwrap_or_default();
    let tag_text = |t: &Value| -> Option<String> {
        let k = t.get("key")?.as_str()?;
        Some(match t.get("value").and_then(Value::as_str) {
            Some(v) if !v.is_empty() && v != "true" => format!("{k}:{v}"),
            _ => k.to_owned(),
        })
    };
    let is_personal = |t: &Value| {
        ["key", "value"].iter().any(|f| {
            t.get(*f).and_then(Value::as_str).is_some_and(|v| {
                matches!(
                    v.to_ascii_lowercase().as_str(),
                    "pii" | "personal" | "personal-data" | "personal_data" | "gdpr" | "sensitive"
                )
            })
        })
    };
    if let Some(fields) = d.pointer("/facets/schema/fields").and_then(Value::as_array) {
        let mut personal = Vec::new();
        let cols: Vec<Value> = fields
            .iter()
            .filter_map(|f| {
                let name = f.get("name")?.as_str()?;
                let mut col = json!({"name": name, "type": f.get("type").cloned().unwrap_or(Value::Null)});
                let mine: Vec<&&Value> = tags
                    .iter()
                    .filter(|t| t.get("field").and_then(Value::as_str) == Some(name))
                    .collect();
                if mine.iter().any(|t| is_personal(t)) {
                    personal.push(json!(name));
                }
                let texts: Vec<String> = mine.iter().filter_map(|t| tag_text(t)).collect();
                if !texts.is_empty() {
                    col["tags"] = json!(texts);
                }
                Some(col)
            })
            .collect();
        out.insert("columns".into(), Value::Array(cols));
        if !personal.is_empty() {
            out.insert("pii_columns".into(), Value::Array(personal));
        }
    }
    let labels: Vec<String> = tags
        .iter()
        .filter(|t| t.get("field").is_none_or(Value::is_null))
        .filter_map(|t| tag_text(t))
        .collect();
    if !labels.is_empty() {
        out.insert("labels".into(), json!(labels));
    }
    out.insert("source".into(), json!("openlineage"));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{reader, real};

    #[test]
    fn both_evidently_shapes_are_attached_as_written() {
        for f in [
            "evidently/drift_report_v07.json",
            "evidently/drift_report_legacy.json",
        ] {
            let report = evidently(&mut reader(), &real(f)).unwrap();
            let original: Value = serde_json::from_slice(&std::fs::read(real(f)).unwrap()).unwrap();
            assert_eq!(report, original, "{f}");
        }
    }

    #[test]
    fn other_json_is_not_a_drift_report() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("summary.json");
        std::fs::write(
            &f,
            r#"{"metrics": [{"metric": "ColumnSummaryMetric", "result": {}}]}"#,
        )
        .unwrap();
        let err = evidently(&mut reader(), &f).unwrap_err().to_string();
        assert!(
            err.contains("summary.json: /metrics: not an Evidently drift report"),
            "{err}"
        );
        std::fs::write(&f, r#"{"metrics": "#).unwrap();
        let err = evidently(&mut reader(), &f).unwrap_err().to_string();
        assert!(
            err.contains("summary.json: invalid JSON: EOF while parsing"),
            "{err}"
        );
    }

    /// RunEvents as the OpenLineage 2-0-2 spec writes them (no real capture
    /// ships in ../shared): a training job's START and COMPLETE.
    fn events(final_state: &str) -> String {
        let start = json!({
            "eventType": "START", "eventTime": "2026-11-26T18:58:24.100Z",
            "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.40.0/integration/airflow",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "0193b8b2-6c3e-7a4d-9f10-2b8c0e5d7a11",
                    "facets": {"executionParameters": {"parameters": [{"key": "C", "value": "0.5"}, {"key": "max_iter", "value": "200"}]}}},
            "job": {"namespace": "ml-pipelines", "name": "churn.train",
                    "facets": {"sourceCodeLocation": {"type": "git", "url": "https://github.com/acme/churn",
                               "repoUrl": "https://github.com/acme/churn.git", "path": "src/train.py",
                               "version": "9ba0bde30de83a486d22dff5b546a1245bfd9201", "branch": "main"}}},
            "inputs": [{"namespace": "file", "name": "data/features.csv",
                        "facets": {"schema": {"fields": [{"name": "customer_id", "type": "long"}, {"name": "age", "type": "long"}]},
                                   "dataSource": {"name": "local", "uri": "file:///srv/churn"},
                                   "version": {"datasetVersion": "ee37d23327e5c829648877fb4ad4498e"}}}],
            "outputs": []
        });
        let mut end = start.clone();
        end["eventType"] = json!(final_state);
        end["eventTime"] = json!("2026-11-26T18:58:35.900Z");
        end["outputs"] = json!([{"namespace": "mlflow", "name": "models/churn-model/1"}]);
        format!("{start}\n{end}\n")
    }

    #[test]
    fn openlineage_json_lines_latest_state_wins() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("events.jsonl");
        std::fs::write(&f, events("COMPLETE")).unwrap();
        let facts = openlineage(&mut reader(), &f).unwrap();
        assert_eq!(facts.runs.len(), 1);
        assert_eq!(facts.runs[0]["status"], "COMPLETE");
        assert_eq!(facts.runs[0]["started_at"], "2026-11-26T18:58:24.100Z");
        assert_eq!(facts.runs[0]["ended_at"], "2026-11-26T18:58:35.900Z");
        assert_eq!(facts.runs[0]["job"], "ml-pipelines/churn.train");
        assert_eq!(facts.code["commit"], "9ba0bde30de83a486d22dff5b546a1245bfd9201");
        assert_eq!(facts.code["entry_point"], "src/train.py");
        assert_eq!(facts.parameters["C"], "0.5");
        // Both events list the input: one entry, its facets merged.
        assert_eq!(facts.inputs.len(), 1);
        assert_eq!(facts.inputs[0]["uri"], "file:///srv/churn/data/features.csv");
        assert_eq!(facts.inputs[0]["version"], "ee37d23327e5c829648877fb4ad4498e");
        assert_eq!(facts.inputs[0]["columns"][1]["name"], "age");
        assert_eq!(facts.outputs[0]["name"], "models/churn-model/1");

        // A failed run, as a JSON list.
        let lines: Vec<Value> = events("FAIL")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        std::fs::write(&f, serde_json::to_string(&lines).unwrap()).unwrap();
        let facts = openlineage(&mut reader(), &f).unwrap();
        assert_eq!(facts.runs[0]["status"], "FAIL");
    }

    #[test]
    fn dataset_uris_follow_the_naming_spec() {
        let uri = |ns: &str, name: &str| dataset(&json!({"namespace": ns, "name": name}))["uri"].clone();
        assert_eq!(
            uri("s3://acme-ml-artifacts", "raw/customers.csv"),
            "s3://acme-ml-artifacts/raw/customers.csv"
        );
        assert_eq!(
            uri("gs://acme-ml-eu", "/raw/x.parquet"),
            "gs://acme-ml-eu/raw/x.parquet"
        );
        assert_eq!(
            uri("file", "/srv/churn/data/features.csv"),
            "file:///srv/churn/data/features.csv"
        );
        // A table is no object: no URI is made up for it.
        assert_eq!(
            uri("postgres://db.acme:5432", "crm.public.customers"),
            Value::Null
        );
    }

    #[test]
    fn malformed_openlineage_is_named_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("events.jsonl");
        std::fs::write(&f, format!("{}{{\"eventType\": \n", events("COMPLETE"))).unwrap();
        let err = openlineage(&mut reader(), &f).unwrap_err().to_string();
        assert!(err.contains("events.jsonl: line 3: invalid JSON"), "{err}");
        std::fs::write(
            &f,
            r#"{"eventTime": "2026-11-26T18:58:24Z", "dataset": {"name": "x"}}"#,
        )
        .unwrap();
        let err = openlineage(&mut reader(), &f).unwrap_err().to_string();
        assert!(err.contains("a RunEvent needs run.runId and eventTime"), "{err}");
        std::fs::write(&f, "").unwrap();
        let err = openlineage(&mut reader(), &f).unwrap_err().to_string();
        assert!(err.contains("no RunEvents"), "{err}");
    }
}
