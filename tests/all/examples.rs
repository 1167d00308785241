//! The shipped examples: the release gate on every example model.

use std::path::Path;
use std::process::Command;

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
    for id in ["pii", "lineage", "encryption", "retention", "drift", "quality"] {
        assert!(text.contains(&format!("PASS  sealgate.{id} 0.1.0")), "{text}");
    }
}

/// Each example document and the policies it fails (as docs/metadata.md
/// documents them); every other policy passes.
/// A policy id and the rule ids it must report.
type Failing = (&'static str, &'static [&'static str]);

const EXAMPLES: [(&str, &[Failing]); 6] = [
    ("churn-model", &[]),
    // The same model with its /governance documented (the model-card gate's
    // example): nothing the release gate reads changes.
    ("churn-model-documented", &[]),
    (
        "churn-model-pii",
        &[(
            "sealgate.pii",
            &["pii.column.email", "pii.column.ssn", "pii.column.phone"],
        )],
    ),
    (
        "churn-model-drifted",
        &[(
            "sealgate.drift",
            &["drift.column.drifted", "drift.share.exceeded"],
        )],
    ),
    (
        "churn-model-exposed-storage",
        &[
            (
                "sealgate.encryption",
                &[
                    "encryption.at-rest.customer-key-missing",
                    "encryption.in-transit.not-required",
                    "encryption.public-access.not-blocked",
                ],
            ),
            (
                "sealgate.retention",
                &[
                    "retention.lifecycle.too-long",
                    "retention.object-lock.blocks-erasure",
                ],
            ),
        ],
    ),
    (
        "churn-model-unvalidated",
        &[
            (
                "sealgate.lineage",
                &["lineage.code.not-pinned", "lineage.run.unfinished"],
            ),
            ("sealgate.quality", &["quality.metric.below-min"]),
        ],
    ),
];

#[test]
fn every_example_gives_its_documented_outcome_policy_by_policy() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let mut failed_somewhere = std::collections::BTreeSet::new();
    for (name, failing) in EXAMPLES {
        let out = check(
            &gate,
            &repo(&format!("examples/metadata/{name}.json")),
            &["--format", "json"],
        );
        let expected_exit = if failing.is_empty() { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(expected_exit), "{name}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let policies = report["policies"].as_array().unwrap();
        assert_eq!(policies.len(), 6, "{name}");
        for p in policies {
            let id = p["id"].as_str().unwrap();
            let rules: std::collections::BTreeSet<&str> = p["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["rule_id"].as_str().unwrap())
                .collect();
            match failing.iter().find(|(policy, _)| *policy == id) {
                Some((_, expected)) => {
                    assert_eq!(p["outcome"], "fail", "{name}: {id}");
                    assert_eq!(rules, expected.iter().copied().collect(), "{name}: {id}");
                    failed_somewhere.insert(id.to_owned());
                }
                None => {
                    assert_eq!(p["outcome"], "pass", "{name}: {id}: {p:#}");
                    assert!(rules.is_empty(), "{name}: {id}: {rules:?}");
                }
            }
        }
    }
    // Between them the examples show every policy failing (and the clean one
    // shows every policy passing).
    assert_eq!(failed_somewhere.len(), 6, "{failed_somewhere:?}");
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
    assert_eq!(policies.len(), 6);
    for (entry, (_, built)) in policies.iter().zip(guests().shipped()) {
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
    for name in EXAMPLES.map(|(name, _)| name) {
        let path = repo(&format!("examples/metadata/{name}.json"));
        sealgate::MetadataDocument::load(&path, &sealgate::MetadataLimits::default())
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn example_metadata_documents_match_the_json_schema() {
    for name in EXAMPLES.map(|(name, _)| name) {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(repo(&format!("examples/metadata/{name}.json"))).unwrap())
                .unwrap();
        let errors = metadata_schema_errors(&doc);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    // And the schema rejects what the loader rejects.
    let bad =
        serde_json::json!({"api_version": "sealgate/metadata/v1", "artifact": {"kind": "car", "name": 7}});
    assert!(!metadata_schema_errors(&bad).is_empty());
}

/// The docs and examples quote module digests (transcripts print the first
/// 16 hex digits; trust files and `--require-policy` the whole pin): each
/// must be the digest of the module the suite builds from `policies/` today,
/// so a pin copied from a page holds and a transcript shows what runs.
#[test]
fn every_module_digest_quoted_in_docs_and_examples_is_a_shipped_build() {
    let mut shipped: Vec<(String, String)> = guests()
        .shipped()
        .iter()
        .map(|(name, b)| (format!("sealgate.{name}"), b.sha256.to_string()))
        .collect();
    shipped.push(("sealgate.rego".into(), guests().rego.sha256.to_string()));
    let mut files = vec![repo("README.md"), repo("ARCHITECTURE.md")];
    for dir in [
        "docs",
        "examples/k8s",
        "examples/pipeline",
        "examples/serve",
        "examples/gates",
    ] {
        for entry in std::fs::read_dir(repo(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path
                .extension()
                .is_some_and(|x| x == "md" || x == "toml" || x == "yml" || x == "yaml")
            {
                files.push(path);
            }
        }
    }
    let hex_at = |text: &str, at: usize, n: usize| -> Option<String> {
        let s = text.get(at..at + n)?;
        s.bytes().all(|b| b.is_ascii_hexdigit()).then(|| s.to_owned())
    };
    let mut checked = 0;
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file.strip_prefix(repo("")).unwrap().display().to_string();
        // `(module sha256:<16 hex>`: a transcript's policy line. A test
        // guest's (`test.hostile` in docs/sandbox.md) is not checked: only the
        // shipped policies build to the same bytes in every checkout (their
        // pins hold on CI), the test guests' symbol hashes vary with it.
        for (i, _) in text.match_indices("(module sha256:") {
            let Some(prefix) = hex_at(&text, i + "(module sha256:".len(), 16) else {
                continue;
            };
            let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
            if text[line_start..i].contains(" test.") {
                continue;
            }
            checked += 1;
            if !shipped.iter().any(|(_, d)| d.starts_with(&prefix)) {
                wrong.push(format!("{shown}: module sha256:{prefix}… is no shipped build"));
            }
        }
        // `sealgate.<id>=sha256:<64>` and `"sealgate.<id>" = ["sha256:<64>"`.
        for (id, digest) in &shipped {
            for form in [format!("{id}=sha256:"), format!("\"{id}\" = [\"sha256:")] {
                for (i, _) in text.match_indices(&form) {
                    let Some(quoted) = hex_at(&text, i + form.len(), 64) else {
                        continue;
                    };
                    checked += 1;
                    if &quoted != digest {
                        wrong.push(format!(
                            "{shown}: {id} pinned to sha256:{quoted}, the build is sha256:{digest}"
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        checked >= 20,
        "only {checked} digests found: the scan no longer sees the docs' forms"
    );
}

/// `examples/embed.rs` (built by `cargo test` with the other targets): the
/// ml-release gate from memory, its components found by their pins in a
/// store, not by the paths the gate file gives.
#[test]
fn the_embedding_example_runs_a_gate_from_memory_and_a_store() {
    let bin = Path::new(env!("CARGO_BIN_EXE_sealgate"))
        .parent()
        .unwrap()
        .join("examples/embed");
    assert!(bin.is_file(), "{} was not built", bin.display());
    let store = tempfile::tempdir().unwrap();
    for (name, built) in guests().shipped() {
        std::fs::copy(&built.path, store.path().join(format!("{name}-component.wasm"))).unwrap();
    }
    let run = |metadata: &str, store: &Path| {
        Command::new(&bin)
            .args([
                repo("examples/gates/ml-release.toml").as_os_str(),
                store.as_os_str(),
                repo(&format!("examples/metadata/{metadata}.json")).as_os_str(),
            ])
            .output()
            .unwrap()
    };
    let clean = run("churn-model", store.path());
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert_eq!(stdout(&clean), "ml-release: PASSED (6 policies, 0 findings)\n");
    let pii = run("churn-model-pii", store.path());
    assert_eq!(pii.status.code(), Some(1), "{}", stderr(&pii));
    // A store without the pinned component: an error naming the pin.
    let empty = tempfile::tempdir().unwrap();
    let missing = run("churn-model", empty.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("component not available: no component with sha256:"),
        "{}",
        stderr(&missing)
    );
}

/// Policy digests quoted in the docs (`gate push`'s `policy digest sha256:…`,
/// verify's `policy-digest … (got sha256:…)`) are those of a shipped gate
/// file today: what an attestation from that gate records.
#[test]
fn every_policy_digest_quoted_in_docs_is_that_of_a_shipped_gate() {
    let mut gates = vec![repo("examples/pipeline/staging.toml")];
    for entry in std::fs::read_dir(repo("examples/gates")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            gates.push(path);
        }
    }
    let digests: Vec<String> = gates
        .iter()
        .map(|g| sealgate_attest::policy_digest(&sealgate::GateConfig::load(g).unwrap()).to_string())
        .collect();
    let mut checked = 0;
    let mut wrong = Vec::new();
    let mut files = vec![repo("README.md")];
    for entry in std::fs::read_dir(repo("docs")).unwrap() {
        files.push(entry.unwrap().path());
    }
    for file in files.iter().filter(|f| f.extension().is_some_and(|x| x == "md")) {
        let text = std::fs::read_to_string(file).unwrap();
        for form in ["policy digest sha256:", "any allowed (got sha256:"] {
            for (i, _) in text.match_indices(form) {
                let Some(quoted) = text.get(i + form.len()..i + form.len() + 64) else {
                    continue;
                };
                checked += 1;
                if !digests.iter().any(|d| d == quoted) {
                    wrong.push(format!(
                        "{}: policy digest sha256:{quoted} is no shipped gate's ({digests:?})",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        checked >= 4,
        "only {checked} found: the scan no longer sees the docs' forms"
    );
}
