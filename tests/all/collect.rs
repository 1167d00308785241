//! `sealgate collect`, and `check`/`attest` reading the same sources: the
//! metadata document assembled from the real tool output in ../shared alone.

use crate::support::*;

/// The sources of the registered model `model`, relative to
/// `../shared/fixtures/real` (where these tests run the CLI from).
fn sources<'a>(model: &'a str, select: &'a [&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--dvc",
        "dvc-project",
        "--mlflow",
        "mlflow3-mlruns",
        "--model",
        model,
        "--evidently",
        "evidently/drift_report_v07.json",
        "--storage",
        "cloud/s3_bucket_encryption.json",
        "cloud/s3_bucket_policy_tls.json",
        "cloud/s3_lifecycle.json",
        "cloud/s3_object_lock.json",
        "cloud/s3_public_access_block.json",
    ];
    args.extend_from_slice(select);
    args
}

fn fixtures() -> std::path::PathBuf {
    shared("fixtures/real")
}

#[test]
fn collect_writes_a_schema_valid_document_with_evidence() {
    let mut args = vec!["collect"];
    args.extend(sources("churn-model-pii", &["--model-version", "1"]));
    let out = sealgate_in(&fixtures(), &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = metadata_schema_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");
    // The document the host accepts as a gate input.
    sealgate::MetadataDocument::from_bytes("collected", out.stdout.clone(), &Default::default()).unwrap();

    // Every file read, relative to where collect ran, with its sha256.
    let evidence = doc["evidence"].as_array().unwrap();
    for e in evidence {
        let path = e["path"].as_str().unwrap();
        assert!(!path.starts_with('/'), "{path}");
        let bytes = std::fs::read(fixtures().join(path)).unwrap();
        assert_eq!(
            e["sha256"],
            sealgate::Sha256Digest::of_bytes(&bytes).to_string(),
            "{path}"
        );
    }
    for must in [
        "dvc-project/dvc.lock",
        "dvc-project/data/customers.csv.dvc",
        "mlflow3-mlruns/models/churn-model-pii/version-1/meta.yaml",
        "mlflow3-mlruns/358768659074516099/models/m-b418c6a56775426ea86364aa6121a6b2/artifacts/MLmodel",
        "evidently/drift_report_v07.json",
        "cloud/s3_object_lock.json",
    ] {
        assert!(
            evidence.iter().any(|e| e["path"] == must),
            "{must} not in evidence"
        );
    }
    assert_eq!(
        doc["artifact"]["digest"]["sha256"],
        "44631031f560fe2573321e156438405709f596182d1b9afa07c963d68fabe60d"
    );
}

#[test]
fn check_on_collected_sources_reports_pii_and_drift_and_passes_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let mut args = vec!["check", "--gate", gate.to_str().unwrap(), "--format", "json"];
    args.extend(sources("churn-model-pii", &["--model-version", "1"]));
    let out = sealgate_in(&fixtures(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let policy = |id: &str| {
        report["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()
            .clone()
    };
    let pii = policy("sealgate.pii");
    assert_eq!(pii["outcome"], "fail");
    let pointers: Vec<&str> = pii["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"].as_str().unwrap().starts_with("pii.column."))
        .map(|f| f["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/schema/inputs/1/name",
            "/schema/inputs/2/name",
            "/schema/inputs/3/name"
        ]
    );
    let drift = policy("sealgate.drift");
    assert_eq!(drift["outcome"], "fail");
    assert!(
        drift["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == "drift.column.drifted")
    );
    let encryption = policy("sealgate.encryption");
    assert_eq!(encryption["outcome"], "pass", "{encryption:#}");
    assert_eq!(encryption["findings"], serde_json::json!([]));
    // The lineage DVC and MLflow record together is consistent, but MLflow
    // names its input by path only: DVC's hash of that path is not this
    // run's record of what it read (before, it was copied in as the input's
    // own hash, and the gate passed on it).
    let lineage = policy("sealgate.lineage");
    let rules: Vec<&str> = lineage["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["lineage.input.path-only"], "{lineage:#}");
    assert_eq!(lineage["outcome"], "fail");
}

#[test]
fn the_champion_model_passes_the_pii_policy() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let mut args = vec!["check", "--gate", gate.to_str().unwrap(), "--format", "json"];
    args.extend(sources("churn-model", &["--alias", "champion"]));
    let out = sealgate_in(&fixtures(), &args);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pii = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "sealgate.pii")
        .unwrap();
    assert_eq!(pii["outcome"], "pass", "{pii:#}");
    assert_eq!(report["context"]["gate"], "ml-release");
}

#[test]
fn attest_collects_and_signs_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let keys = dir.path().join("keys");
    let out = sealgate(&["keygen", "--out", keys.to_str().unwrap(), "--name", "ci"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let model = fixtures().join(
        "mlflow3-mlruns/358768659074516099/models/m-adc4bb85122d4bb8865ef4a378276603/artifacts/model.skops",
    );
    let bundle = dir.path().join("churn-model.intoto.jsonl");
    let key = keys.join("ci.key");
    let mut args = vec![
        "attest",
        "--gate",
        gate.to_str().unwrap(),
        "--artifact",
        model.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
    ];
    args.extend(sources("churn-model", &["--alias", "champion"]));
    let out = sealgate_in(&fixtures(), &args);
    // FAILED (drift, retention), and still a signed record of it.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The signed report names the files the verdict was based on.
    let lines = std::fs::read_to_string(&bundle).unwrap();
    let envelope: serde_json::Value = serde_json::from_str(lines.lines().nth(1).unwrap()).unwrap();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let evidence = statement["predicate"]["report"]["evidence"].as_array().unwrap();
    let lock = evidence
        .iter()
        .find(|e| e["path"] == "dvc-project/dvc.lock")
        .unwrap();
    let bytes = std::fs::read(fixtures().join("dvc-project/dvc.lock")).unwrap();
    assert_eq!(
        lock["sha256"],
        sealgate::Sha256Digest::of_bytes(&bytes).to_string()
    );
    let out = sealgate(&[
        "verify",
        "--bundle",
        bundle.to_str().unwrap(),
        "--artifact",
        model.to_str().unwrap(),
        "--key",
        keys.join("ci.pub").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("failed check `result`"), "{}", stdout(&out));
}

#[test]
fn bad_sources_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("drift.json");
    std::fs::write(&bad, "{\"metrics\": [").unwrap();
    let out = sealgate(&["collect", "--evidently", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("drift.json: invalid JSON"),
        "{}",
        stderr(&out)
    );

    let out = sealgate_in(
        &fixtures(),
        &["collect", "--mlflow", "mlflow3-mlruns", "--model", "churn-model"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("give --model-version N or --alias NAME"),
        "{}",
        stderr(&out)
    );

    let out = sealgate(&["collect", "--model", "churn-model"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses --model without --mlflow"
    );

    let gate = dir.path().join("gate.toml");
    std::fs::write(&gate, "").unwrap();
    let out = sealgate(&[
        "check",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        clean_metadata().to_str().unwrap(),
        "--dvc",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not both"), "{}", stderr(&out));

    let out = sealgate(&["check", "--gate", gate.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("give --metadata META.json, or sources"),
        "{}",
        stderr(&out)
    );

    // `--out` is written atomically, and not at all on error.
    let target = dir.path().join("metadata.json");
    std::fs::write(&target, "previous").unwrap();
    let out = sealgate(&[
        "collect",
        "--evidently",
        bad.to_str().unwrap(),
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous");
}

#[test]
fn the_example_sources_collect_and_pass_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let src = |f: &str| repo(&format!("examples/sources/{f}")).display().to_string();
    let (gcs, k8s, daemon, store, events) = (
        src("gcs-bucket.json"),
        src("encryption-config.yaml"),
        src("daemon.json"),
        src("s3-store.json"),
        src("churn-train.openlineage.jsonl"),
    );
    let mut args = vec![
        "collect",
        "--dvc",
        "dvc-project",
        "--openlineage",
        &events,
        "--storage",
    ];
    args.extend([gcs.as_str(), k8s.as_str(), daemon.as_str(), store.as_str()]);
    args.extend([
        "cloud/s3_bucket_encryption.json",
        "cloud/s3_bucket_policy_tls.json",
        "cloud/s3_lifecycle.json",
        "cloud/s3_object_lock.json",
        "cloud/s3_public_access_block.json",
    ]);
    let out = sealgate_in(&fixtures(), &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        metadata_schema_errors(&doc).is_empty(),
        "{:#?}",
        metadata_schema_errors(&doc)
    );
    // OpenLineage names the input by path: DVC's hash goes beside it, not
    // in it.
    assert!(doc["lineage"]["inputs"][0].get("hash").is_none());
    assert_eq!(
        doc["lineage"]["inputs"][0]["dvc_hash"]["md5"],
        "ee37d23327e5c829648877fb4ad4498e"
    );
    assert_eq!(doc["lineage"]["run"]["status"], "COMPLETE");
    assert_eq!(doc["storage"].as_array().unwrap().len(), 2);

    let meta = dir.path().join("collected.json");
    std::fs::write(&meta, &out.stdout).unwrap();
    let out = check(&gate, &meta, &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let encryption = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "sealgate.encryption")
        .unwrap();
    assert_eq!(encryption["outcome"], "pass", "{encryption:#}");
    // The bucket's team-written `holds` let retention match lifecycle rules to data.
    let retention = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "sealgate.retention")
        .unwrap();
    let rules: Vec<&str> = retention["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert!(
        !rules.iter().any(|r| r.starts_with("retention.lifecycle")),
        "{rules:?}"
    );
}

/// The document `collect` makes of version `version` of `churn` in the
/// MLflow file store mlflow-skinny wrote (tests/fixtures/mlflow).
fn collected_mlflow_version(version: &str) -> serde_json::Value {
    let collected = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_mlflow(Some(sealgate_collect::ModelSelector {
                store: repo("tests/fixtures/mlflow/mlruns"),
                name: "churn".into(),
                version: Some(version.into()),
                alias: None,
            }))
            .with_base(repo("")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    collected.document
}

/// The rules `policy` (a shipped guest) reports on `doc`, with `params`.
fn rules_of(policy: &Built, params: &str, doc: &serde_json::Value) -> Vec<String> {
    let p = evaluate_policy(policy, params, doc);
    p.findings.iter().map(|f| f.rule_id.clone()).collect()
}

#[test]
fn mlflow_tags_by_precedence_with_every_disagreement_kept() {
    let doc = collected_mlflow_version("1");
    // The version says restricted, the registered model confidential, the
    // run internal: the version's applies (before: the run's, so a
    // restricted model was judged as internal data).
    assert_eq!(doc["artifact"]["classification"], "restricted");
    assert_eq!(
        doc["artifact"]["tag_conflicts"],
        serde_json::json!([{"tag": "compliance.data_classification",
            "values": {"model_version": "restricted", "registered_model": "confidential", "run": "internal"}}])
    );
    assert!(
        metadata_schema_errors(&doc).is_empty(),
        "{:?}",
        metadata_schema_errors(&doc)
    );
    let lineage = rules_of(&guests().lineage, "{}", &doc);
    assert!(
        lineage.contains(&"lineage.tags.inconsistent".to_owned()),
        "{lineage:?}"
    );
    // The MLflow Project image, by its URI: a tag, not a pin. The image id is
    // the config's sha256, never made a registry digest.
    assert_eq!(
        doc["lineage"]["environment"]["image"],
        "ghcr.io/acme/churn-train:1.4"
    );
    assert!(
        doc["lineage"]["environment"]["image_id"]
            .as_str()
            .unwrap()
            .starts_with("sha256:abab")
    );
    assert!(
        lineage.contains(&"lineage.image.not-pinned".to_owned()),
        "{lineage:?}"
    );
    // A NaN metric is collected and judged, not a collect failure.
    assert_eq!(doc["lineage"]["metrics"]["loss"], "NaN");
    let quality = rules_of(&guests().quality, "{ metrics = { loss = { max = 0.5 } } }", &doc);
    assert_eq!(quality, ["quality.metric.invalid"]);
}

#[test]
fn a_deleted_mlflow_run_is_a_lineage_finding() {
    let doc = collected_mlflow_version("2");
    assert_eq!(doc["lineage"]["run"]["lifecycle_stage"], "deleted");
    let lineage = rules_of(&guests().lineage, "{}", &doc);
    assert!(lineage.contains(&"lineage.run.deleted".to_owned()), "{lineage:?}");
    let live = collected_mlflow_version("1");
    assert!(!rules_of(&guests().lineage, "{}", &live).contains(&"lineage.run.deleted".to_owned()));
}

#[test]
fn openlineage_as_the_spec_says_run_state_instants_parents_and_field_tags() {
    let collect = |dvc: bool| {
        sealgate_collect::collect(
            &sealgate_collect::Sources::default()
                .with_openlineage(vec![repo("tests/fixtures/openlineage/dag-and-train.jsonl")])
                .with_dvc(dvc.then(|| shared("fixtures/real/dvc-project")))
                .with_base(repo("")),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .document
    };
    let doc = collect(true);
    let run = &doc["lineage"]["run"];
    // The training run that wrote the model, not the DAG run that parents
    // it; COMPLETE, though an OTHER event and one without eventType came
    // after (metadata, not state); its START the earliest, compared as
    // instants across +00:00 and +02:00.
    assert_eq!(run["id"], "01930f5e-8a3c-7c1e-9a55-3b6f0a0e0002", "{run}");
    assert_eq!(run["status"], "COMPLETE", "{run}");
    assert_eq!(run["parent"], "01930f5e-8a3c-7c1e-9a55-3b6f0a0e0001");
    assert_eq!(run["started_at"], "2026-11-26T20:58:24.000000+02:00");
    assert!(
        metadata_schema_errors(&doc).is_empty(),
        "{:?}",
        metadata_schema_errors(&doc)
    );
    // datasetVersion is the record's own md5: kept, DVC's beside it, and
    // the lineage policy reports the disagreement.
    let input = &doc["lineage"]["inputs"][0];
    assert_eq!(input["hash"]["md5"], "9e107d9d372bb6826bd81d3542a419d6");
    assert_eq!(input["dvc_hash"]["md5"], "04f1fe7337c75fba118ed4fac9249ab2");
    let lineage = rules_of(&guests().lineage, "{}", &doc);
    assert!(
        lineage.contains(&"lineage.hash.inconsistent".to_owned()),
        "{lineage:?}"
    );
    // Another version of DVC's customers.csv: its own dataset record, with
    // the column its field tag declares personal and DVC's hash beside it,
    // but none of DVC's annotations (they describe another version).
    let datasets = doc["datasets"].as_array().unwrap();
    let by_openlineage = datasets
        .iter()
        .find(|d| d["name"] == "data/customers.csv")
        .unwrap_or_else(|| panic!("{datasets:?}"));
    assert_eq!(by_openlineage["pii_columns"], serde_json::json!(["contact"]));
    assert_eq!(
        by_openlineage["dvc_hash"]["md5"],
        "04f1fe7337c75fba118ed4fac9249ab2"
    );
    assert!(by_openlineage.get("retention_days").is_none(), "{by_openlineage}");
    assert!(
        !datasets[0]["pii_columns"]
            .as_array()
            .unwrap()
            .contains(&"contact".into())
    );
    // A file of the same base name elsewhere is another dataset, not DVC's.
    let dir = tempfile::tempdir().unwrap();
    let moved = dir.path().join("moved.jsonl");
    let text = std::fs::read_to_string(repo("tests/fixtures/openlineage/dag-and-train.jsonl")).unwrap();
    std::fs::write(
        &moved,
        text.replace("\"data/customers.csv\"", "\"other/customers.csv\""),
    )
    .unwrap();
    let elsewhere = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_openlineage(vec![moved])
            .with_dvc(Some(shared("fixtures/real/dvc-project")))
            .with_base(repo("")),
    )
    .unwrap()
    .document;
    let names: Vec<&str> = elsewhere["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(
        names.contains(&"other/customers.csv") && names.contains(&"customers.csv"),
        "{names:?}"
    );
    assert!(
        !elsewhere["datasets"][0]["pii_columns"]
            .as_array()
            .unwrap()
            .contains(&"contact".into())
    );
    // Without DVC, the input is a dataset of its own, with its columns.
    let alone = collect(false);
    let ds = &alone["datasets"][0];
    assert_eq!(ds["name"], "data/customers.csv");
    assert_eq!(ds["pii_columns"], serde_json::json!(["contact"]));
    assert_eq!(
        ds["columns"][1]["tags"],
        serde_json::json!(["classification:PII"])
    );
}

#[test]
fn a_dvc_project_with_a_sub_project_and_an_import_is_read_whole() {
    // Made by DVC 3.59.1 (tests/fixtures/generate.py dvc). Before: only the
    // root's dvc.lock was read, so the sub-project's stage was not lineage.
    let doc = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_dvc(Some(repo("tests/fixtures/dvc/project")))
            .with_base(repo("")),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .document;
    let stage = &doc["lineage"]["pipeline"]["stages"][0];
    assert_eq!(stage["name"], "features/dvc.yaml:build", "{stage}");
    assert!(
        stage["deps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "features/data/raw.csv"),
        "{stage}"
    );
    assert_eq!(stage["outs"][0]["path"], "features/data/features.csv");
    assert!(stage["outs"][0]["md5"].as_str().is_some_and(|m| m.len() == 32));
    // `dvc import-url`: the dataset says where it came from.
    let holidays = doc["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "holidays.csv")
        .unwrap_or_else(|| panic!("{}", doc["datasets"]));
    assert_eq!(
        holidays["imported_from"]["path"],
        "/tmp/sealgate-dvc-external/holidays.csv"
    );
    assert_eq!(holidays["imported_from"]["md5"], holidays["hash"]["md5"]);
    assert!(
        metadata_schema_errors(&doc).is_empty(),
        "{:?}",
        metadata_schema_errors(&doc)
    );
}

/// The DVC project, MLflow store and OpenLineage events the real tools wrote
/// (tests/fixtures/generate.py), collected together.
fn collected_dvc_mlflow_openlineage(openlineage: std::path::PathBuf) -> serde_json::Value {
    sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_dvc(Some(repo("tests/fixtures/dvc/project")))
            .with_mlflow(Some(sealgate_collect::ModelSelector {
                store: repo("tests/fixtures/mlflow/mlruns"),
                name: "churn".into(),
                version: Some("1".into()),
                alias: None,
            }))
            .with_openlineage(vec![openlineage])
            .with_base(repo("")),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .document
}

#[test]
fn one_file_many_records_join_only_on_the_same_path_and_hash() {
    let doc = collected_dvc_mlflow_openlineage(repo("tests/fixtures/openlineage/dag-and-train.jsonl"));
    assert!(
        metadata_schema_errors(&doc).is_empty(),
        "{:?}",
        metadata_schema_errors(&doc)
    );
    let datasets = doc["datasets"].as_array().unwrap();
    let record = |source_part: &str, name: &str| {
        datasets
            .iter()
            .find(|d| d["name"] == name && d["source"].as_str().unwrap_or("").contains(source_part))
            .unwrap_or_else(|| panic!("no {name} from {source_part} in {datasets:?}"))
    };
    // MLflow logged customers.csv with its md5 as digest: the same path and
    // hash as DVC's record, so DVC's annotations reach it, each naming its
    // source.
    let customers = record("datasets", "customers");
    assert_eq!(customers["hash"]["md5"], "17dca85d6406690926b3081dbd02d410");
    assert_eq!(customers["hash_source"], "mlflow dataset digest");
    assert_eq!(customers["dvc_hash"], customers["hash"]);
    assert_eq!(customers["pii_columns"], serde_json::json!(["email"]));
    assert_eq!(customers["retention_days"], 365);
    assert_eq!(
        customers["fact_sources"],
        serde_json::json!({"retention_days": "tests/fixtures/dvc/project/data/customers.csv.dvc",
            "pii_columns": "tests/fixtures/dvc/project/data/customers.csv.dvc"})
    );
    // features.csv by path only: DVC's hash beside it, its annotations
    // (from dvc.yaml) not, and no hash of its own.
    let features = record("datasets", "features");
    assert!(features.get("hash").is_none(), "{features}");
    assert!(
        features["dvc_hash"]["md5"]
            .as_str()
            .is_some_and(|m| m.len() == 32)
    );
    assert!(features.get("classification").is_none(), "{features}");
    // dvc.yaml's annotation of the stage output is a dataset of its own,
    // hashed by the lock beside it.
    let annotated = record("dvc.yaml", "features.csv");
    assert_eq!(annotated["path"], "features/data/features.csv");
    assert_eq!(annotated["classification"], "internal");
    assert_eq!(annotated["retention_days"], 90);
    assert_eq!(annotated["purpose"], "churn-model-training");
    assert_eq!(annotated["hash"], features["dvc_hash"]);
    // The stage's external dependency is a hashed lineage input.
    let inputs = doc["lineage"]["inputs"].as_array().unwrap();
    let external = inputs
        .iter()
        .find(|i| i["uri"] == "/tmp/sealgate-dvc-external/holidays.csv")
        .unwrap_or_else(|| panic!("{inputs:?}"));
    assert_eq!(external["stage"], "features/dvc.yaml:build");
    assert!(external["hash"]["md5"].as_str().is_some_and(|m| m.len() == 32));
    // OpenLineage's customers.csv is another version (its datasetVersion
    // differs): no DVC annotation reaches it.
    let by_openlineage = record("openlineage", "data/customers.csv");
    assert!(by_openlineage.get("retention_days").is_none(), "{by_openlineage}");
    // The OpenLineage training run names this MLflow run.
    let mlflow_run = doc["lineage"]["run"]["id"].as_str().unwrap();
    let ol_run = doc["lineage"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["system"] == "openlineage" && r["produced_outputs"] == true)
        .unwrap();
    assert_eq!(ol_run["mlflow_run_id"], mlflow_run);

    let rules = rules_of(&guests().lineage, "{}", &doc);
    // A path is not a hash: MLflow's features input is path-only.
    assert!(rules.contains(&"lineage.input.path-only".to_owned()), "{rules:?}");
    assert!(
        rules.contains(&"lineage.hash.inconsistent".to_owned()),
        "{rules:?}"
    );
    assert!(
        !rules.contains(&"lineage.run.inconsistent".to_owned()),
        "{rules:?}"
    );

    // Events of another MLflow run's training: the records disagree.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-run.jsonl");
    let text = std::fs::read_to_string(repo("tests/fixtures/openlineage/dag-and-train.jsonl")).unwrap();
    assert!(text.contains(mlflow_run));
    std::fs::write(
        &other,
        text.replace(mlflow_run, "0123456789abcdef0123456789abcdef"),
    )
    .unwrap();
    let doc = collected_dvc_mlflow_openlineage(other);
    let rules = rules_of(&guests().lineage, "{}", &doc);
    assert!(
        rules.contains(&"lineage.run.inconsistent".to_owned()),
        "{rules:?}"
    );
}

/// A dvc.lock as large as the YAML budget lets through (40 000 hashed
/// dependencies) is collected in bounded time: each dependency becomes a
/// lineage input once, without comparing it to every other (before: 4 min
/// 22 s, quadratic).
#[test]
fn a_huge_dvc_lock_is_collected_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut lock = String::from("schema: '2.0'\nstages:\n  s:\n    cmd: x\n    deps:\n");
    for i in 0..40_000 {
        lock.push_str(&format!("    - path: d/f{i}.csv\n      md5: \"{i:032x}\"\n"));
    }
    std::fs::write(dir.path().join("dvc.lock"), lock).unwrap();
    let started = std::time::Instant::now();
    let doc = sealgate_collect::collect(
        &sealgate_collect::Sources::default().with_dvc(Some(dir.path().to_owned())),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .document;
    let took = started.elapsed();
    assert_eq!(doc["lineage"]["inputs"].as_array().unwrap().len(), 40_000);
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
}
