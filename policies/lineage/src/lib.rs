//! `sealgate.lineage`: can this artifact be traced back to exactly what made it?
//!
//! | rule | checks |
//! |---|---|
//! | `lineage.code.missing` / `lineage.code.not-pinned` | a code commit is recorded, as a full git hash (40 or 64 hex), not a branch or short hash |
//! | `lineage.input.missing` / `lineage.input.unhashed` | data inputs are recorded, each with a full content hash (md5: 32 hex, sha256: 64 hex); MLflow's 8-hex dataset digest is not one, nor an ETag |
//! | `lineage.input.path-only` | an input with no hash of its own is not vouched for by DVC's hash of the same path: nothing says the run read that version (severity: `path-only-severity`) |
//! | `lineage.run.missing` / `lineage.run.unfinished` | the training run is identified and finished (MLflow `FINISHED`, OpenLineage `COMPLETE`) |
//! | `lineage.run.deleted` | the training run is not deleted (MLflow `lifecycle_stage: deleted`) |
//! | `lineage.run.inconsistent` | an OpenLineage run that produced outputs and names an MLflow run (`mlflow_run_id`) names the document's MLflow run, and the two records agree on whether it succeeded |
//! | `lineage.tags.inconsistent` | the model version, registered model and run do not disagree on a `compliance.*` tag (`/artifact/tag_conflicts`) |
//! | `lineage.parameters.missing` | training parameters are recorded |
//! | `lineage.image.missing` / `lineage.image.not-pinned` | the serving image is pinned by digest (`@sha256:` + 64 hex), not only by tag |
//! | `lineage.hash.inconsistent` | where two sources record the same file (DVC pipeline, lineage inputs, datasets), their hashes agree |

use std::collections::BTreeMap;

use sealgate_policy_sdk::{
    Context, Metadata, Policy, PolicyInfo, Report, RuleInfo, Severity, deserialize_severity, export_policy,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Params {
    /// Run statuses that count as finished.
    #[serde(default = "finished_statuses")]
    finished_statuses: Vec<String>,
    /// Require a serving image (for artifacts that ship one). Default: false.
    #[serde(default)]
    require_image: bool,
    /// Require recorded parameters. Default: true.
    #[serde(default = "yes")]
    require_parameters: bool,
    /// Severity of `lineage.input.path-only`. Default: high (fails a
    /// `fail-on = "high"` gate), since a path names a file, not a version.
    #[serde(default = "high", deserialize_with = "deserialize_severity")]
    path_only_severity: Severity,
}

fn high() -> Severity {
    Severity::High
}

fn finished_statuses() -> Vec<String> {
    vec!["FINISHED".into(), "COMPLETE".into()]
}

fn yes() -> bool {
    true
}

const PARAMS_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "finished-statuses": {"type": "array", "items": {"type": "string"}, "default": ["FINISHED", "COMPLETE"]},
    "require-image": {"type": "boolean", "default": false},
    "require-parameters": {"type": "boolean", "default": true},
    "path-only-severity": {"enum": ["info", "low", "medium", "high", "critical"], "default": "high"}
  }
}"#;

/// A full git object name: SHA-1 (40 hex) or SHA-256 (64 hex).
fn is_full_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A content hash: md5 (32 hex, DVC's `.dir` manifests included) or sha256 (64 hex).
fn content_hash(hash: Option<&Value>) -> Option<String> {
    let h = hash?;
    if let Some(md5) = h.get("md5").and_then(Value::as_str) {
        let bare = md5.strip_suffix(".dir").unwrap_or(md5);
        if is_hex(bare, 32) {
            return Some(format!("md5:{}", md5.to_ascii_lowercase()));
        }
    }
    let sha = h.get("sha256").and_then(Value::as_str)?;
    is_hex(sha, 64).then(|| format!("sha256:{}", sha.to_ascii_lowercase()))
}

/// `repo@sha256:<64 hex>`.
fn is_pinned_image(image: &str) -> bool {
    image
        .rsplit_once("@sha256:")
        .is_some_and(|(repo, d)| !repo.is_empty() && is_hex(d, 64))
}

/// Every rule this policy reports (its catalogue in `policy-info`).
const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "lineage.code.missing",
        severity: Severity::High,
        summary: "no code commit is recorded",
    },
    RuleInfo {
        id: "lineage.code.not-pinned",
        severity: Severity::High,
        summary: "the code commit is a branch or short hash, not a full git hash",
    },
    RuleInfo {
        id: "lineage.input.missing",
        severity: Severity::High,
        summary: "no data inputs are recorded",
    },
    RuleInfo {
        id: "lineage.input.unhashed",
        severity: Severity::High,
        summary: "a data input has no full content hash",
    },
    RuleInfo {
        id: "lineage.input.path-only",
        severity: Severity::High,
        summary: "an input is known by path only, with no hash vouching for the version read (severity: `path-only-severity`)",
    },
    RuleInfo {
        id: "lineage.run.missing",
        severity: Severity::High,
        summary: "the training run is not identified",
    },
    RuleInfo {
        id: "lineage.run.unfinished",
        severity: Severity::High,
        summary: "the training run did not finish",
    },
    RuleInfo {
        id: "lineage.run.deleted",
        severity: Severity::High,
        summary: "the training run is deleted",
    },
    RuleInfo {
        id: "lineage.run.inconsistent",
        severity: Severity::High,
        summary: "the OpenLineage run and the MLflow run disagree (which run, or whether it succeeded)",
    },
    RuleInfo {
        id: "lineage.tags.inconsistent",
        severity: Severity::High,
        summary: "the model version, registered model and run disagree on a `compliance.*` tag",
    },
    RuleInfo {
        id: "lineage.parameters.missing",
        severity: Severity::Medium,
        summary: "no training parameters are recorded",
    },
    RuleInfo {
        id: "lineage.image.missing",
        severity: Severity::High,
        summary: "no serving image is recorded",
    },
    RuleInfo {
        id: "lineage.image.not-pinned",
        severity: Severity::High,
        summary: "the serving image is pinned by tag only, not by digest",
    },
    RuleInfo {
        id: "lineage.hash.inconsistent",
        severity: Severity::High,
        summary: "two sources record different hashes for the same file",
    },
];

pub struct Lineage;

impl Policy for Lineage {
    type Params = Params;

    const INFO: PolicyInfo = PolicyInfo {
        id: "sealgate.lineage",
        version: "0.1.0",
        summary: "Lineage is complete and pinned: full commit, content-hashed inputs, finished run, parameters, image digest.",
        params_schema: PARAMS_SCHEMA,
        rules: RULES,
    };

    fn validate(params: &Params) -> Result<(), String> {
        if params.finished_statuses.is_empty() {
            return Err("finished-statuses must name at least one status".into());
        }
        Ok(())
    }

    fn evaluate(doc: &Metadata, params: &Params, _ctx: &Context) -> Result<Report, String> {
        let mut r = Report::new();
        check_code(doc, &mut r);
        check_inputs(doc, params, &mut r);
        check_run(doc, params, &mut r);
        check_linked_runs(doc, params, &mut r);
        if params.require_parameters {
            let empty = doc
                .get("/lineage/parameters")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty());
            if empty {
                r.finding(
                    "lineage.parameters.missing",
                    Severity::Medium,
                    "/lineage/parameters",
                    "no training parameters are recorded",
                    "record the run's parameters (MLflow params or dvc.lock params) in /lineage/parameters",
                );
            }
        }
        check_image(doc, params, &mut r);
        check_consistency(doc, &mut r);
        check_tag_conflicts(doc, &mut r);
        Ok(r)
    }
}

fn check_code(doc: &Metadata, r: &mut Report) {
    match doc.str("/lineage/code/commit") {
        None => {
            r.finding(
                "lineage.code.missing",
                Severity::High,
                "/lineage/code",
                "no code commit is recorded",
                "record the full git commit the artifact was built from (MLflow tag mlflow.source.git.commit)",
            );
        }
        Some(c) if !is_full_commit(c) => {
            r.finding(
                "lineage.code.not-pinned",
                Severity::High,
                "/lineage/code/commit",
                format!("code commit `{c}` is not a full git hash (a branch, tag or short hash can move)"),
                "record the full 40- or 64-hex commit hash",
            );
        }
        Some(_) => {}
    }
}

fn check_inputs(doc: &Metadata, params: &Params, r: &mut Report) {
    let inputs: Vec<(String, &Value)> = doc.items("/lineage/inputs").collect();
    if inputs.is_empty() {
        r.finding(
            "lineage.input.missing",
            Severity::High,
            "/lineage/inputs",
            "no data inputs are recorded",
            "record every dataset the artifact was trained on, with its content hash, in /lineage/inputs",
        );
    }
    for (ptr, input) in inputs {
        if content_hash(input.get("hash")).is_some() {
            continue;
        }
        let name = input
            .get("name")
            .or_else(|| input.get("uri"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        let uri = input.get("uri").and_then(Value::as_str).unwrap_or(name);
        if let Some(dvc) = content_hash(input.get("dvc_hash")) {
            // DVC hashes the file at this path; this record does not say it
            // read that version. A path is not a hash.
            r.finding(
                "lineage.input.path-only",
                params.path_only_severity,
                &ptr,
                format!(
                    "input `{name}` names `{uri}`, which DVC records as {dvc}, but has no hash of its own: nothing shows this run read that version"
                ),
                "log the dataset with its content hash (MLflow: mlflow.data.from_pandas(..., digest=<DVC md5>)); a gate that accepts DVC's record of the path sets path-only-severity",
            );
        } else {
            let id = ["dvc_etag", "dvc_checksum"]
                .into_iter()
                .find(|k| input.get(*k).is_some())
                .map(|k| format!(" (DVC identifies it by {}, which is not a content hash)", &k[4..]))
                .unwrap_or_default();
            r.finding(
                "lineage.input.unhashed",
                Severity::High,
                &ptr,
                format!("input `{name}` has no full content hash (md5 of 32 hex or sha256 of 64 hex){id}"),
                "record the file's content hash (e.g. its DVC md5); MLflow's 8-hex dataset digest does not identify content",
            );
        }
    }
}

/// An OpenLineage run names the MLflow run it is (`mlflow_run_id`): the one
/// that produced the outputs must be the document's MLflow run, and the two
/// records of one run must agree on whether it succeeded.
fn check_linked_runs(doc: &Metadata, params: &Params, r: &mut Report) {
    let Some(mlflow) = doc
        .items("/lineage/runs")
        .map(|(_, run)| run)
        .find(|run| run.get("system").and_then(Value::as_str) == Some("mlflow"))
        .or_else(|| {
            doc.get("/lineage/run")
                .filter(|run| run.get("system").and_then(Value::as_str) == Some("mlflow"))
        })
    else {
        return;
    };
    let mlflow_id = mlflow.get("id").and_then(Value::as_str).unwrap_or("");
    let finished = |run: &Value| {
        let status = run.get("status").and_then(Value::as_str).unwrap_or("");
        params
            .finished_statuses
            .iter()
            .any(|s| s.eq_ignore_ascii_case(status))
    };
    let failed = |run: &Value| {
        let status = run.get("status").and_then(Value::as_str).unwrap_or("");
        ["FAIL", "ABORT", "FAILED", "KILLED"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(status))
    };
    for (ptr, run) in doc.items("/lineage/runs") {
        let (Some(named), Some(id)) = (
            run.get("mlflow_run_id").and_then(Value::as_str),
            run.get("id").and_then(Value::as_str),
        ) else {
            continue;
        };
        let produced = run.get("produced_outputs").and_then(Value::as_bool) == Some(true);
        if named != mlflow_id {
            if produced {
                r.finding(
                    "lineage.run.inconsistent",
                    Severity::High,
                    &format!("{ptr}/mlflow_run_id"),
                    format!(
                        "OpenLineage run {id}, which produced the outputs, says it is MLflow run {named}, but the model's run is {mlflow_id}"
                    ),
                    "collect the OpenLineage events of the run that trained this model version",
                );
            }
        } else if (finished(mlflow) && failed(run)) || (failed(mlflow) && finished(run)) {
            let status = |v: &Value| v.get("status").and_then(Value::as_str).unwrap_or("?").to_owned();
            r.finding(
                "lineage.run.inconsistent",
                Severity::High,
                &format!("{ptr}/status"),
                format!(
                    "MLflow records run {mlflow_id} as {}, its OpenLineage run {id} as {}",
                    status(mlflow),
                    status(run)
                ),
                "the two records of one run disagree on its outcome: find which is wrong before promoting",
            );
        }
    }
}

fn check_run(doc: &Metadata, params: &Params, r: &mut Report) {
    if doc.str("/lineage/run/id").is_none_or(str::is_empty) {
        r.finding(
            "lineage.run.missing",
            Severity::High,
            "/lineage/run",
            "the training run is not identified",
            "record the run id (MLflow run_id or OpenLineage runId) in /lineage/run/id",
        );
        return;
    }
    if doc.str("/lineage/run/lifecycle_stage") == Some("deleted") {
        r.finding(
            "lineage.run.deleted",
            Severity::High,
            "/lineage/run/lifecycle_stage",
            "the training run was deleted from its tracking server",
            "restore the run (mlflow runs restore) or promote an artifact of a run that is kept",
        );
    }
    let status = doc.str("/lineage/run/status").unwrap_or("");
    if !params
        .finished_statuses
        .iter()
        .any(|s| s.eq_ignore_ascii_case(status))
    {
        r.finding(
            "lineage.run.unfinished",
            Severity::High,
            "/lineage/run/status",
            format!(
                "the training run's status is `{status}`, not one of {}",
                params.finished_statuses.join(", ")
            ),
            "promote only artifacts of runs that finished successfully",
        );
    }
}

fn check_image(doc: &Metadata, params: &Params, r: &mut Report) {
    match doc.str("/lineage/environment/image") {
        None if params.require_image => {
            r.finding(
                "lineage.image.missing",
                Severity::High,
                "/lineage/environment",
                "no serving image is recorded",
                "record the image as repo@sha256:<digest> in /lineage/environment/image",
            );
        }
        Some(image) if !is_pinned_image(image) => {
            r.finding(
                "lineage.image.not-pinned",
                Severity::High,
                "/lineage/environment/image",
                format!("image `{image}` is not pinned by digest; a tag can be moved"),
                "reference the image as repo@sha256:<64 hex>",
            );
        }
        _ => {}
    }
}

/// Where MLflow's model version, registered model and run disagree on a team
/// tag (`compliance.data_classification`…), the collector kept every value:
/// the most specific one applies, but the records contradict each other.
fn check_tag_conflicts(doc: &Metadata, r: &mut Report) {
    for (ptr, c) in doc.items("/artifact/tag_conflicts") {
        let tag = c.get("tag").and_then(Value::as_str).unwrap_or("?");
        let values = c
            .get("values")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(source, v)| format!("{source} `{}`", v.as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        r.finding(
            "lineage.tags.inconsistent",
            Severity::High,
            &ptr,
            format!("the records disagree on `{tag}`: {values}"),
            "set the tag once (on the model version) or make the registered model's and the run's agree",
        );
    }
}

/// Every place a file's hash is recorded, by path: the DVC pipeline's deps and
/// outs, lineage inputs and datasets. Two different hashes for one path is a
/// broken record.
fn check_consistency(doc: &Metadata, r: &mut Report) {
    let mut seen: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut record = |path: Option<&str>, hash: Option<String>, ptr: String| {
        if let (Some(p), Some(h)) = (path, hash) {
            seen.entry(p.to_owned()).or_default().push((h, ptr));
        }
    };
    for (sptr, _) in doc.items("/lineage/pipeline/stages") {
        for kind in ["deps", "outs"] {
            for (ptr, f) in doc.items(&format!("{sptr}/{kind}")) {
                let md5 = f.get("md5").map(|m| serde_json::json!({ "md5": m }));
                record(
                    f.get("path").and_then(Value::as_str),
                    content_hash(md5.as_ref()),
                    ptr,
                );
            }
        }
    }
    for (ptr, input) in doc.items("/lineage/inputs") {
        record(
            input.get("uri").and_then(Value::as_str),
            content_hash(input.get("hash")),
            ptr,
        );
    }
    for (ptr, ds) in doc.items("/datasets") {
        record(
            ds.get("path").and_then(Value::as_str),
            content_hash(ds.get("hash")),
            ptr,
        );
    }
    // A record with its own hash (OpenLineage's datasetVersion) beside
    // DVC's for the same file.
    for (ptr, input) in doc.items("/lineage/inputs") {
        let (own, dvc) = (
            content_hash(input.get("hash")),
            content_hash(input.get("dvc_hash")),
        );
        if let (Some(own), Some(dvc)) = (own, dvc)
            && own != dvc
        {
            let name = input
                .get("uri")
                .or(input.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            r.finding(
                "lineage.hash.inconsistent",
                Severity::High,
                &format!("{ptr}/hash"),
                format!("`{name}` is recorded as {own} here but DVC records {dvc}"),
                "regenerate the metadata from one pipeline run; two hashes for one file mean the records disagree",
            );
        }
    }
    for (path, records) in seen {
        let first = &records[0];
        if let Some(other) = records.iter().find(|(h, _)| h != &first.0) {
            r.finding(
                "lineage.hash.inconsistent",
                Severity::High,
                &other.1,
                format!("`{path}` is recorded as {} at {} but as {} here", first.0, first.1, other.0),
                "regenerate the metadata from one pipeline run; two hashes for one file mean the records disagree",
            );
        }
    }
}

export_policy!(Lineage);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_hashes_and_images() {
        assert!(is_full_commit("9ba0bde30de83a486d22dff5b546a1245bfd9201"));
        assert!(!is_full_commit("9ba0bde"));
        assert!(!is_full_commit("main"));
        assert_eq!(
            content_hash(Some(
                &serde_json::json!({"md5": "04f1fe7337c75fba118ed4fac9249ab2"})
            ))
            .as_deref(),
            Some("md5:04f1fe7337c75fba118ed4fac9249ab2")
        );
        assert!(
            content_hash(Some(
                &serde_json::json!({"md5": "6ff0ea064bdb1d3a537e2ee151aa13f7.dir"})
            ))
            .is_some()
        );
        assert!(content_hash(Some(&serde_json::json!({"md5": "5459aec5"}))).is_none());
        assert!(is_pinned_image(&format!(
            "ghcr.io/acme/churn@sha256:{}",
            "a".repeat(64)
        )));
        assert!(!is_pinned_image("ghcr.io/acme/churn:1.2"));
    }
}
