//! The shipped examples: the release gate on the two example models.

use crate::support::*;

#[test]
fn pii_model_fails_with_findings_on_email_and_ssn_columns() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let meta = repo("examples/metadata/churn-model-pii.json");
    let out = check(&gate, &meta, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["decision"], "FAILED");
    let policy = &report["policies"][0];
    assert_eq!(policy["id"], "sealgate.pii");
    assert_eq!(policy["outcome"], "fail");
    let findings = policy["findings"].as_array().unwrap();
    let at = |ptr: &str| {
        findings
            .iter()
            .find(|f| f["pointer"] == ptr)
            .unwrap_or_else(|| panic!("no finding at {ptr}: {findings:#?}"))
    };
    assert_eq!(at("/schema/inputs/1/name")["rule_id"], "pii.column.email");
    assert_eq!(at("/schema/inputs/2/name")["rule_id"], "pii.column.ssn");
    assert_eq!(at("/schema/inputs/2/name")["severity"], "critical");
    assert_eq!(at("/schema/inputs/3/name")["rule_id"], "pii.column.phone");
    // The pointers resolve in the document they point into.
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert_eq!(doc.pointer("/schema/inputs/1/name").unwrap(), "email");
    // Non-identifying columns are not findings.
    assert_eq!(findings.len(), 3, "{findings:#?}");
    // Every finding says how to exempt.
    assert!(
        findings
            .iter()
            .all(|f| f["remediation"].as_str().unwrap().contains("privacy/treatment"))
    );
}

#[test]
fn clean_model_passes_and_text_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let meta = repo("examples/metadata/churn-model.json");
    let out = check(&gate, &meta, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.starts_with("gate ml-release: PASSED\n"), "{text}");
    assert!(text.contains("PASS  sealgate.pii 0.1.0"), "{text}");
    assert!(text.contains("PASS  sealgate.lineage 0.1.0"), "{text}");
}

#[test]
fn text_report_shows_pointer_and_remediation() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let meta = repo("examples/metadata/churn-model-pii.json");
    let out = check(&gate, &meta, &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("gate ml-release: FAILED\n"), "{text}");
    assert!(
        text.contains("critical  pii.column.ssn  at /schema/inputs/2/name"),
        "{text}"
    );
    assert!(text.contains("fix: drop or transform the column"), "{text}");
}

#[test]
fn policy_build_is_reproducible_so_the_example_pins_hold() {
    // The suite builds the policies in its own target dir, from a different
    // path than the README's command; the bytes must still match the pins.
    let text = std::fs::read_to_string(repo("examples/gates/ml-release.toml")).unwrap();
    let gate: toml::Value = toml::from_str(&text).unwrap();
    let policies = gate["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 2);
    for (entry, built) in policies.iter().zip([&guests().pii, &guests().lineage]) {
        assert_eq!(
            built.sha256.to_string(),
            entry["sha256"].as_str().unwrap(),
            "{} built to a different sha256 than examples/gates/ml-release.toml pins: \
             if the policy changed on purpose, update the pin",
            entry["module"]
        );
    }
}

#[test]
fn example_metadata_documents_are_valid() {
    for name in ["churn-model", "churn-model-pii"] {
        let path = repo(&format!("examples/metadata/{name}.json"));
        sealgate::MetadataDocument::load(&path, &sealgate::MetadataLimits::default())
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn example_metadata_documents_match_the_json_schema() {
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo("schemas/metadata-v1.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    for name in ["churn-model", "churn-model-pii"] {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(repo(&format!("examples/metadata/{name}.json"))).unwrap())
                .unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    // And the schema rejects what the loader rejects.
    let bad =
        serde_json::json!({"api_version": "sealgate/metadata/v1", "artifact": {"kind": "car", "name": 7}});
    assert!(!validator.is_valid(&bad));
}
