//! Storage and platform settings as the tools write them, read by `collect
//! --storage` as a user would, judged by the retention and encryption
//! policies: what S3 really answers (`tests/fixtures/s3`, made by boto3
//! against moto's S3 with `tests/fixtures/generate.py s3`), with no
//! team-written store (what is bucket-wide is judged, what cannot be judged
//! is a finding), and Docker's daemon.json.

use std::collections::BTreeSet;

use sealgate::PolicyOutcome;
use serde_json::Value;

use crate::support::*;

/// The store `collect --storage` makes of one bucket's API responses.
fn collected_store(bucket: &str) -> Value {
    let dir = repo(&format!("tests/fixtures/s3/{bucket}"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let collected = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_storage(files)
            .with_base(repo("")),
    )
    .unwrap_or_else(|e| panic!("{bucket}: {e}"));
    let mut store = collected.document["storage"][0].clone();
    store["location"] = format!("s3://acme-{bucket}").into();
    store
}

/// The clean example's document with `store` as its only store; the
/// personal extract (customers.csv, 12 542 bytes, kept 365 days) at `uri`
/// when given.
fn judged(store: Value, uri: Option<&str>) -> (PolicyOutcome, BTreeSet<String>, Vec<String>) {
    let mut doc: Value = serde_json::from_slice(&std::fs::read(clean_metadata()).unwrap()).unwrap();
    doc["storage"] = Value::Array(vec![store]);
    if let Some(uri) = uri {
        doc["datasets"][0]["uri"] = uri.into();
    }
    let p = evaluate_policy(&guests().retention, "{}", &doc);
    (
        p.outcome,
        p.findings.iter().map(|f| f.rule_id.clone()).collect(),
        p.findings.iter().map(|f| f.message.clone()).collect(),
    )
}

#[test]
fn a_ten_year_lock_over_personal_data_never_passes() {
    // Before: no store said what it held, so nothing was checked, and moto's
    // `"Days": 0` beside `"Years": 10` read as a 0-day lock.
    let (outcome, rules, messages) = judged(collected_store("ten-year-lock"), None);
    assert_eq!(outcome, PolicyOutcome::Fail);
    assert_eq!(rules, BTreeSet::from(["retention.storage.unmapped".to_owned()]));
    assert!(
        messages[0].contains("locks every object for 3650 days"),
        "{messages:?}"
    );
    // Mapped by the dataset's own URI, it is the lock's own finding.
    let (_, rules, _) = judged(
        collected_store("ten-year-lock"),
        Some("s3://acme-ten-year-lock/raw/customers.csv"),
    );
    assert!(
        rules.contains("retention.object-lock.blocks-erasure"),
        "{rules:?}"
    );
}

#[test]
fn bucket_wide_settings_are_judged_without_a_team_store() {
    // Everything expires within a year and old versions a month later: any
    // personal data of the document that is there is deleted in time.
    for bucket in ["bucket-wide-365", "split-rules", "never-versioned"] {
        let (outcome, rules, messages) = judged(collected_store(bucket), None);
        assert_eq!(outcome, PolicyOutcome::Pass, "{bucket}: {rules:?} {messages:?}");
    }
    // GetBucketVersioning's `{}` is "never versioned", not "versioned".
    let store = collected_store("never-versioned");
    assert_eq!(store["raw"]["Versioning"], serde_json::json!({}), "{store}");
}

#[test]
fn a_rule_that_may_not_cover_the_data_does_not_count_and_the_finding_names_its_filter() {
    // Only objects over 1 MiB expire; unmapped, nothing bucket-wide deletes
    // the extract.
    let (outcome, rules, _) = judged(collected_store("large-objects-only"), None);
    assert_eq!(
        (outcome, rules),
        (
            PolicyOutcome::Fail,
            BTreeSet::from(["retention.storage.unmapped".to_owned()])
        )
    );
    // Mapped: its 12 542 bytes are under the bound, and the reason says so.
    let (_, rules, messages) = judged(
        collected_store("large-objects-only"),
        Some("s3://acme-large-objects-only/raw/customers.csv"),
    );
    assert!(rules.contains("retention.lifecycle.no-expiration"), "{rules:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("ObjectSizeGreaterThan 1048576 and it is 12542 bytes")),
        "{messages:?}"
    );
    // Prefix and tag: the extract is under raw/ but not tagged pii=true.
    let (_, rules, messages) = judged(
        collected_store("and-filter"),
        Some("s3://acme-and-filter/raw/customers.csv"),
    );
    assert!(rules.contains("retention.lifecycle.no-expiration"), "{rules:?}");
    assert!(
        messages.iter().any(|m| m.contains("filters on tag pii=true")),
        "{messages:?}"
    );
}

#[test]
fn two_documents_of_one_kind_for_one_bucket_are_an_error_not_last_wins() {
    let lifecycle = |bucket: &str| {
        repo(&format!(
            "tests/fixtures/s3/{bucket}/get-bucket-lifecycle-configuration.json"
        ))
    };
    let err = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_storage(vec![
                lifecycle("bucket-wide-365"),
                lifecycle("large-objects-only"),
            ])
            .with_base(repo("")),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("a second LifecycleConfiguration document"), "{err}");
    assert!(err.contains("bucket-wide-365"), "names the first: {err}");
    // An empty document is read by what its name says it is, else refused.
    let dir = tempfile::tempdir().unwrap();
    let unnamed = dir.path().join("settings.json");
    std::fs::write(&unnamed, "{}").unwrap();
    let err = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_storage(vec![unnamed])
            .with_base(repo("")),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("an empty document"), "{err}");
    let daemon = dir.path().join("daemon.json");
    std::fs::write(&daemon, "{}").unwrap();
    let collected = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_storage(vec![daemon])
            .with_base(repo("")),
    )
    .unwrap();
    assert_eq!(
        collected.document["platform"]["docker"]["daemon"],
        serde_json::json!({})
    );
}

#[test]
fn any_valid_daemon_json_is_read_and_a_plaintext_api_socket_is_judged() {
    // A daemon.json with none of the registry keys (only hosts and debug):
    // refused before; now read, and its TCP socket without TLS verification
    // fails the encryption policy.
    let dir = tempfile::tempdir().unwrap();
    let daemon = dir.path().join("daemon.json");
    std::fs::write(
        &daemon,
        r#"{"debug": true, "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]}"#,
    )
    .unwrap();
    let collected = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_storage(vec![daemon])
            .with_base(repo("")),
    )
    .unwrap();
    let mut doc: Value = serde_json::from_slice(&std::fs::read(clean_metadata()).unwrap()).unwrap();
    doc["platform"] = collected.document["platform"].clone();
    let p = evaluate_policy(&guests().encryption, "{}", &doc);
    let rules: Vec<&str> = p.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(rules, ["encryption.in-transit.docker-api-plaintext"]);
    assert_eq!(p.findings[0].pointer, "/platform/docker/daemon/hosts/1");
}

#[test]
fn a_gcloud_bucket_description_merges_with_the_team_store_and_is_judged() {
    let gcs = |f: &str| repo(&format!("tests/fixtures/gcs/{f}"));
    let collected = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_storage(vec![gcs("gcloud-describe.json"), gcs("store.json")])
            .with_base(repo("")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let stores = collected.document["storage"].as_array().unwrap();
    assert_eq!(stores.len(), 1, "one bucket, one store: {stores:?}");
    let store = &stores[0];
    assert_eq!(store["location"], "gs://acme-gcs");
    assert_eq!(store["raw"]["retentionPolicy"]["retentionPeriod"], "15811200");
    assert_eq!(store["raw"]["versioning"]["enabled"], true);
    assert_eq!(
        store["raw"]["iamConfiguration"]["publicAccessPrevention"],
        "enforced"
    );
    // Delete after 365 days under raw/, old versions 30 days on; a 183-day
    // retention policy: lawful for the 365-day personal extract.
    let (outcome, rules, messages) = judged(store.clone(), None);
    assert_eq!(outcome, PolicyOutcome::Pass, "{rules:?} {messages:?}");
    // Without its delete rules (only Google's storage-class sample left),
    // nothing deletes the personal data.
    let mut transitions_only = store.clone();
    transitions_only["raw"]["lifecycle"]["rule"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    let (_, rules, _) = judged(transitions_only, None);
    assert!(rules.contains("retention.lifecycle.no-expiration"), "{rules:?}");
    // Without the team store, the bucket's own description is judged as unmapped.
    let alone = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_storage(vec![gcs("gcloud-describe.json")])
            .with_base(repo("")),
    )
    .unwrap();
    let (_, rules, _) = judged(alone.document["storage"][0].clone(), None);
    assert_eq!(rules, BTreeSet::from(["retention.storage.unmapped".to_owned()]));
}

#[test]
fn dvc_remote_paths_say_which_bucket_holds_a_dataset() {
    // DVC pushes customers.csv (personal data, kept 365 days) to
    // s3://acme-ml-artifacts/dvcstore/files/md5/…: that is where it is held,
    // so a lifecycle rule for dvcstore/ covers it, one for raw/ does not.
    let collected = sealgate_collect::collect(
        &sealgate_collect::Sources::default()
            .with_dvc(Some(repo("tests/fixtures/dvc/project")))
            .with_base(repo("")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let customers = collected.document["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "customers.csv")
        .unwrap()
        .clone();
    let remote = customers["remote_uri"].as_str().unwrap();
    assert!(
        remote.starts_with("s3://acme-ml-artifacts/dvcstore/files/md5/"),
        "{remote}"
    );
    let bucket = |prefix: &str| {
        serde_json::json!({"provider": "s3", "location": "s3://acme-ml-artifacts", "raw": {
            "Versioning": {"Status": "Enabled"},
            "LifecycleConfiguration": {"Rules": [{"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": prefix},
                "Expiration": {"Days": 365}, "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]}}})
    };
    let judge = |store: Value| {
        let mut doc: Value = serde_json::from_slice(&std::fs::read(clean_metadata()).unwrap()).unwrap();
        doc["datasets"] = Value::Array(vec![customers.clone()]);
        doc["storage"] = Value::Array(vec![store]);
        let p = evaluate_policy(&guests().retention, "{}", &doc);
        p.findings
            .iter()
            .map(|f| (f.rule_id.clone(), f.pointer.clone()))
            .collect::<Vec<_>>()
    };
    let covered = judge(bucket("dvcstore/"));
    assert!(
        !covered
            .iter()
            .any(|(r, _)| r.starts_with("retention.lifecycle") || r == "retention.storage.unmapped"),
        "{covered:?}"
    );
    let other = judge(bucket("raw/"));
    assert!(
        other.contains(&(
            "retention.lifecycle.no-expiration".to_owned(),
            "/datasets/0/remote_uri".to_owned()
        )),
        "{other:?}"
    );
}
