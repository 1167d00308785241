//! The CLI's contract: exit codes, errors naming their input, formats.

use crate::support::*;

#[test]
fn malformed_metadata_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, b"{\"api_version\": \"sealgate/metadata/v1\", ").unwrap();
    let out = check(&example_gate(dir.path()), &bad, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("broken.json") && err.contains("invalid JSON"),
        "{err}"
    );
    assert!(
        stdout(&out).is_empty(),
        "no verdict may be printed: {}",
        stdout(&out)
    );
}

#[test]
fn wrong_types_in_metadata_exit_2_with_pointers() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("types.json");
    std::fs::write(
        &bad,
        br#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":7},"schema":{"inputs":{}}}"#,
    )
    .unwrap();
    let out = check(&example_gate(dir.path()), &bad, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("types.json") && err.contains("/artifact/name") && err.contains("/schema/inputs"),
        "{err}"
    );
}

#[test]
fn missing_files_and_directories_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(&example_gate(dir.path()), &dir.path().join("nope.json"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.json"), "{}", stderr(&out));

    let out = check(dir.path(), &clean_metadata(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not a regular file"), "{}", stderr(&out));
}

#[test]
fn gate_with_unknown_key_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let g = &guests().hostile;
    let gate = write_gate(
        dir.path(),
        &g.path,
        &g.sha256,
        "{ mode = \"pass\" }",
        "fail_on = \"high\"",
    );
    let out = check(&gate, &clean_metadata(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("fail_on"), "{}", stderr(&out));
}

#[test]
fn params_refused_by_the_policy_exit_2_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(&hostile_gate(dir.path(), "refuse-params"), &clean_metadata(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("params refused") && err.contains("mode `refuse-params` is refused, as asked"),
        "{err}"
    );
}

#[test]
fn trapping_policy_is_error_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(
        &hostile_gate(dir.path(), "trap"),
        &clean_metadata(),
        &["--format", "json"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["decision"], "FAILED");
    assert_eq!(report["policies"][0]["outcome"], "error");
    let error = report["policies"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("policy trapped") && error.contains("unreachable"),
        "{error}"
    );
}

#[test]
fn looping_policy_is_error_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    // Default limits: the loop must be stopped by the default fuel budget.
    let started = std::time::Instant::now();
    let out = check(&hostile_gate(dir.path(), "spin"), &clean_metadata(), &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ERROR test.hostile"), "{text}");
    assert!(
        text.contains("CPU limit reached") || text.contains("time limit reached"),
        "{text}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn context_reaches_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let digest = "sha256:631bad177267272b20cf98269ca44cd773add1d7b8226a2659c2ed9ba1b9c6ad";
    let out = check(
        &hostile_gate(dir.path(), "context"),
        &clean_metadata(),
        &[
            "--format",
            "json",
            "--at",
            "2026-11-26T18:58:35Z",
            "--artifact-digest",
            digest,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["policies"][0]["findings"].as_array().unwrap();
    let seen = |rule: &str| findings.iter().find(|f| f["rule_id"] == rule).unwrap()["message"].clone();
    assert_eq!(seen("test.context.gate"), "test-gate");
    assert_eq!(seen("test.context.at"), "2026-11-26T18:58:35Z");
    assert_eq!(seen("test.context.unix"), "1795719515");
    assert_eq!(seen("test.context.digest"), digest);
}

#[test]
fn bad_at_time_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(
        &example_gate(dir.path()),
        &clean_metadata(),
        &["--at", "yesterday"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("RFC 3339"), "{}", stderr(&out));
}

#[test]
fn inspect_shows_identity_pin_imports_and_exports() {
    let g = &guests().pii;
    let out = sealgate(&["policy", "inspect", g.path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["id"], "sealgate.pii");
    assert_eq!(info["sha256"], g.sha256.to_string());
    assert_eq!(
        info["imports"],
        serde_json::json!(["sealgate:policy/host@0.2.0", "sealgate:policy/types@0.2.0"])
    );
    assert_eq!(
        info["exports"],
        serde_json::json!(["sealgate:policy/policy@0.2.0"])
    );
    assert_eq!(info["uses_wasi"], false);
    assert_eq!(info["params_schema"]["type"], "object");
    assert_eq!(info["contract"], "0.2.0");
    assert_eq!(
        info["rules"][0],
        serde_json::json!({"id": "pii.column.*", "severity": "high",
            "summary": "a column whose name looks like personal data (`pii.column.<category>`, e.g. `pii.column.email`) is not declared as such"})
    );
}

#[test]
fn policy_bench_reports_latency_fuel_and_memory() {
    let out = sealgate(&[
        "policy",
        "bench",
        guests().pii.path.to_str().unwrap(),
        "--metadata",
        clean_metadata().to_str().unwrap(),
        "-n",
        "20",
        "--warmup",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["policy"], "sealgate.pii");
    assert_eq!(doc["iterations"], 20);
    let ns = &doc["ns"];
    assert!(ns["min"].as_u64().unwrap() <= ns["p50"].as_u64().unwrap());
    assert!(ns["p50"].as_u64().unwrap() <= ns["p99"].as_u64().unwrap());
    // The same fuel as a gate evaluation of this policy on this document.
    assert!(doc["fuel"].as_u64().unwrap() > 100_000, "{doc}");
    assert!(doc["peak_memory_bytes"].as_u64().unwrap() >= 65_536, "{doc}");
    assert_eq!(doc["verdict"], "pass (0 findings)");

    let out = sealgate(&[
        "policy",
        "bench",
        guests().pii.path.to_str().unwrap(),
        "--metadata",
        clean_metadata().to_str().unwrap(),
        "--params",
        "{\"typo\": 1}",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown field `typo`"), "{}", stderr(&out));
}
