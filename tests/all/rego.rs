//! Rego policies: evaluated by the Rego engine component inside the sandbox,
//! their files pinned like modules, their mistakes named at load.

use std::path::Path;

use sealgate::policy_test::{TestFile, test_files};
use sealgate::rego::RegoSources;
use sealgate::{EvaluationContext, Gate, GateError, LoadError, PolicyOutcome, SandboxLimits, Sha256Digest};

use crate::support::*;

/// A gate running the Rego engine on `files` (name, text), written into `dir`
/// and pinned; `params` is a TOML inline table.
fn rego_gate(dir: &Path, files: &[(&str, &str)], params: &str) -> std::path::PathBuf {
    let g = &guests().rego;
    let mut rego = String::new();
    let mut data = String::new();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
        let line = format!(
            "{{ path = {name:?}, sha256 = \"{}\" }},",
            Sha256Digest::of_bytes(text.as_bytes())
        );
        if name.ends_with(".json") {
            data.push_str(&line);
        } else {
            rego.push_str(&line);
        }
    }
    let extra = if data.is_empty() {
        String::new()
    } else {
        format!("data = [{data}]\n")
    };
    let gate = dir.join("gate.toml");
    std::fs::write(
        &gate,
        format!(
            "api-version = \"sealgate/v1\"\nname = \"rego\"\n[[policies]]\nmodule = {:?}\nsha256 = \"{}\"\nrego = [{rego}]\n{extra}params = {params}\n",
            g.path.display().to_string(),
            g.sha256
        ),
    )
    .unwrap();
    gate
}

/// A Rego policy directory: `p.rego`, one test file, and the minimal
/// document its cases name (`../doc.json`).
fn rego_policy_dir(policy: &str, cases: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("p.rego"), policy).unwrap();
    std::fs::write(dir.path().join("tests/cases.toml"), cases).unwrap();
    std::fs::write(
        dir.path().join("doc.json"),
        r#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":"m"}}"#,
    )
    .unwrap();
    dir
}

fn load(gate: &Path) -> Result<Gate, GateError> {
    Gate::load(engine(), gate)
}

fn params_refusal(gate: &Path) -> String {
    match load(gate) {
        Err(GateError::Params { message, .. }) => message,
        Err(other) => panic!("expected the params refused, got {other}"),
        Ok(_) => panic!("the gate loaded"),
    }
}

#[test]
fn the_shipped_rego_policies_pass_their_cases() {
    for name in ["model-card", "quality"] {
        let dir = repo(&format!("policies/rego/{name}"));
        let sources = RegoSources::from_dir(&dir).unwrap();
        let module = engine().load_unpinned(&guests().rego.path).unwrap();
        let files = test_files(&dir).unwrap();
        assert!(!files.is_empty(), "{name} has no cases");
        for file in files {
            for case in TestFile::load(&file).unwrap().run_with(&module, Some(&sources)) {
                assert!(case.passed, "{name}: {}: {case:#?}", case.name);
            }
        }
    }
}

/// The Rego port of the quality policy meets the Rust policy's own cases:
/// the same outcome and the same rule ids in each (error messages differ).
#[test]
fn the_rego_port_of_quality_gives_the_rust_policys_verdicts() {
    let rust = engine().load_unpinned(&guests().quality.path).unwrap();
    let rego = engine().load_unpinned(&guests().rego.path).unwrap();
    let sources = RegoSources::from_dir(&repo("policies/rego/quality")).unwrap();
    let cases = TestFile::load(&repo("policies/quality/tests/metrics.toml")).unwrap();
    let (by_rust, by_rego) = (cases.run(&rust), cases.run_with(&rego, Some(&sources)));
    assert_eq!(by_rust.len(), 15);
    for (r, g) in by_rust.iter().zip(&by_rego) {
        assert!(r.passed, "the Rust policy fails its own case {}", r.name);
        assert_eq!((r.outcome, &r.rules), (g.outcome, &g.rules), "{}: {g:#?}", r.name);
        let severities = |c: &sealgate::policy_test::CaseResult| {
            c.findings
                .iter()
                .map(|f| (f.rule_id.clone(), f.severity, f.pointer.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(severities(r), severities(g), "{}", r.name);
    }
}

/// conftest's conventions as public conftest policies write them, in OPA's
/// old (v0) syntax: `deny[msg]`, `violation[{"msg": …, "details": …}]`,
/// `warn[msg]`, a `_suffix`ed rule, and a helper package (in v1 syntax)
/// imported from a second file. The policy is not sealgate's; its input here is a
/// Kubernetes Deployment, as conftest would be given.
const CONFTEST_POLICY: &str = r#"package main

import data.kubernetes

name = input.metadata.name

deny[msg] {
  kubernetes.is_deployment
  not input.spec.template.spec.securityContext.runAsNonRoot
  msg = sprintf("Containers must not run as root in Deployment %s", [name])
}

violation[{"msg": msg, "details": {"image": image}}] {
  kubernetes.containers[container]
  image := container.image
  endswith(image, ":latest")
  msg = sprintf("%s uses the latest tag", [image])
}

warn_replicas[msg] {
  input.spec.replicas < 2
  msg = "a single replica is not highly available"
}
"#;

/// The helper package in OPA 1.0's syntax, as conftest's own examples mix
/// them: `import rego.v1` makes this file v1 while the others are read as v0.
const CONFTEST_LIB: &str = r#"package kubernetes
import rego.v1

is_deployment if {
  input.kind = "Deployment"
}

containers contains container if {
  container = input.spec.template.spec.containers[_]
}
"#;

const DEPLOYMENT: &str = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "scorer"},
 "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": "scorer:latest"}]}}}}"#;

#[test]
fn a_conftest_policy_in_old_syntax_runs_unchanged_and_its_denials_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    let gate = rego_gate(
        dir.path(),
        &[("deny.rego", CONFTEST_POLICY), ("kubernetes.rego", CONFTEST_LIB)],
        "{ rego-version = \"v0\" }",
    );
    let gate = load(&gate).unwrap_or_else(|e| panic!("{e}"));
    let policy = &gate.policies()[0];
    let eval = policy.module.evaluate(
        DEPLOYMENT,
        &RegoSources::load(
            dir.path().join("gate.toml").as_path(),
            &policy.rego,
            &policy.data,
            |p| Ok(std::fs::read(p).unwrap()),
        )
        .unwrap()
        .unwrap()
        .params_json(&policy.params),
        &EvaluationContext::at("rego", 1_795_719_515),
        &SandboxLimits::default(),
    );
    let verdict = eval.verdict.unwrap_or_else(|e| panic!("{e}"));
    assert!(!verdict.passed);
    let mut found: Vec<_> = verdict
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.severity, f.message.as_str()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (
                "main.deny",
                sealgate::Severity::High,
                "Containers must not run as root in Deployment scorer"
            ),
            (
                "main.violation",
                sealgate::Severity::High,
                "scorer:latest uses the latest tag"
            ),
            (
                "main.warn_replicas",
                sealgate::Severity::Low,
                "a single replica is not highly available"
            ),
        ]
    );
    // The same policy in OPA 1.0's default syntax is refused by default,
    // naming where: `rego-version = "v0"` is what conftest's
    // `--rego-version v0` is.
    let strict = rego_gate(
        dir.path(),
        &[("deny.rego", CONFTEST_POLICY), ("kubernetes.rego", CONFTEST_LIB)],
        "{}",
    );
    let message = params_refusal(&strict);
    assert!(message.contains("deny.rego:7:"), "{message}");
}

/// conftest's exceptions, as its documentation writes them: a rule
/// `exception` listing the names (without `deny_`) of the checks it waives
/// for the inputs it matches. The policy reads a Kubernetes Deployment; the
/// gate points `input` at the one the metadata document carries, as
/// conftest is pointed at a manifest file.
const CONFTEST_EXCEPTIONS: &str = r#"package main

import rego.v1

deny_run_as_root contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Containers must not run as root in Deployment %s", [input.metadata.name])
}

deny_latest_tag contains msg if {
	some container in input.spec.template.spec.containers
	endswith(container.image, ":latest")
	msg := sprintf("%s uses the latest tag", [container.image])
}

exception contains rules if {
	input.metadata.labels["example.com/runs-as-root"] == "approved"
	rules := ["run_as_root"]
}
"#;

/// Metadata carrying a Deployment at `/platform/kubernetes/deployment`.
fn with_deployment(labels: &str, image: &str) -> sealgate::MetadataDocument {
    let labels: serde_json::Value = serde_json::from_str(labels).unwrap();
    document(serde_json::json!({
        "api_version": "sealgate/metadata/v1",
        "artifact": {"kind": "image", "name": "scorer"},
        "platform": {"kubernetes": {"deployment": {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "scorer", "labels": labels},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
        }}}
    }))
}

/// A metadata document of `value`.
fn document(value: serde_json::Value) -> sealgate::MetadataDocument {
    sealgate::MetadataDocument::from_bytes(
        "metadata.json",
        value.to_string().into_bytes(),
        &sealgate::MetadataLimits::default(),
    )
    .unwrap()
}

#[test]
fn conftest_exceptions_waive_the_checks_they_name_and_the_report_keeps_what_was_waived() {
    let dir = tempfile::tempdir().unwrap();
    let gate_file = rego_gate(
        dir.path(),
        &[("deny.rego", CONFTEST_EXCEPTIONS)],
        "{ input = \"/platform/kubernetes/deployment\" }",
    );
    let gate = load(&gate_file).unwrap_or_else(|e| panic!("{e}"));
    let context = EvaluationContext::at("rego", 1_795_719_515);
    let findings = |report: &sealgate::GateReport| {
        let mut found: Vec<_> = report.policies[0]
            .findings
            .iter()
            .map(|f| (f.rule_id.clone(), f.severity, f.message.clone()))
            .collect();
        found.sort();
        found
    };
    let root = "Containers must not run as root in Deployment scorer";

    // No exception applies: both checks deny.
    let report = gate.evaluate(&with_deployment("{}", "scorer:latest"), &context);
    assert_eq!(report.policies[0].outcome, PolicyOutcome::Fail);
    assert_eq!(
        findings(&report),
        [
            (
                "main.deny_latest_tag".into(),
                sealgate::Severity::High,
                "scorer:latest uses the latest tag".into()
            ),
            (
                "main.deny_run_as_root".into(),
                sealgate::Severity::High,
                root.into()
            ),
        ]
    );

    // Findings point at the Deployment the policy was given as its input.
    assert!(
        report.policies[0]
            .findings
            .iter()
            .all(|f| f.pointer == "/platform/kubernetes/deployment"),
        "{report:#?}"
    );

    // The exception waives run_as_root, and only it: the waived denial is
    // an info finding in the signed report, and the latest tag still fails.
    let approved = r#"{"example.com/runs-as-root":"approved"}"#;
    let report = gate.evaluate(&with_deployment(approved, "scorer:latest"), &context);
    assert_eq!(report.policies[0].outcome, PolicyOutcome::Fail);
    let report = gate.evaluate(&with_deployment(approved, "scorer:1.4.2"), &context);
    assert_eq!(report.decision, sealgate::GateDecision::Passed, "{report:#?}");
    assert_eq!(
        findings(&report),
        [(
            "main.deny_run_as_root".into(),
            sealgate::Severity::Info,
            format!("excepted by data.main.exception (high waived): {root}")
        )]
    );

    // The Deployment is not where the gate says: the policy cannot look at
    // what it checks, which is an error, not a pass.
    let elsewhere = rego_gate(
        dir.path(),
        &[("deny.rego", CONFTEST_EXCEPTIONS)],
        "{ input = \"/platform/kubernetes/daemonset\" }",
    );
    let report = load(&elsewhere)
        .unwrap()
        .evaluate(&with_deployment(approved, "scorer:1.4.2"), &context);
    assert_eq!(report.policies[0].outcome, PolicyOutcome::Error);
    let error = report.policies[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("/platform/kubernetes/daemonset"), "{error}");

    // An exception that is not a list of names is an error, not a waiver
    // of everything or of nothing.
    let malformed = CONFTEST_EXCEPTIONS.replace("rules := [\"run_as_root\"]", "rules := \"run_as_root\"");
    let malformed = rego_gate(
        dir.path(),
        &[("deny.rego", &malformed)],
        "{ input = \"/platform/kubernetes/deployment\" }",
    );
    let report = load(&malformed)
        .unwrap()
        .evaluate(&with_deployment(approved, "scorer:1.4.2"), &context);
    assert_eq!(report.policies[0].outcome, PolicyOutcome::Error);
    let error = report.policies[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("data.main.exception"), "{error}");
}

/// A policy on the age of an artifact, with OPA's time builtins.
const AGE_POLICY: &str = r#"package main
import rego.v1

deny contains msg if {
	created := time.parse_rfc3339_ns(input.artifact.created_at)
	time.now_ns() - created > time.parse_duration_ns("8760h")
	[y, m, d] := time.date(created)
	msg := sprintf("created %d-%02d-%02d, a %s, over a year ago", [y, m, d, time.weekday(created)])
}

deny contains "created after it was evaluated" if {
	time.parse_rfc3339_ns(input.artifact.created_at) > time.now_ns()
}

warn contains sprintf("review by %v", [time.date(time.add_date(time.parse_rfc3339_ns(input.artifact.created_at), 0, 6, 0))]) if {
	input.artifact.created_at
}
"#;

/// A document created at `created_at`.
fn created(created_at: &str) -> sealgate::MetadataDocument {
    document(serde_json::json!({
        "api_version": "sealgate/metadata/v1",
        "artifact": {"kind": "model", "name": "m", "created_at": created_at}
    }))
}

#[test]
fn rego_reads_dates_and_the_evaluations_time_the_same_way_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let gate =
        load(&rego_gate(dir.path(), &[("age.rego", AGE_POLICY)], "{}")).unwrap_or_else(|e| panic!("{e}"));
    // date -u -d 2026-11-30T01:15:22Z +%s
    let context = EvaluationContext::at("rego", 1_796_001_322);
    let messages = |report: &sealgate::GateReport| {
        let mut m: Vec<_> = report.policies[0]
            .findings
            .iter()
            .map(|f| (f.severity, f.message.clone()))
            .collect();
        m.sort();
        m
    };

    let old = gate.evaluate(&created("2024-02-29T08:00:00Z"), &context);
    assert_eq!(old.policies[0].outcome, PolicyOutcome::Fail);
    assert_eq!(
        messages(&old),
        [
            (sealgate::Severity::Low, "review by [2024, 8, 29]".to_owned()),
            (
                sealgate::Severity::High,
                "created 2024-02-29, a Thursday, over a year ago".to_owned()
            ),
        ]
    );
    // time.now_ns() is the evaluation's time, so a replay reads the same.
    assert_eq!(
        messages(&gate.evaluate(&created("2024-02-29T08:00:00Z"), &context)),
        messages(&old)
    );
    // A year later the recent model is old too.
    let recent = created("2026-06-01T00:00:00+02:00");
    let report = gate.evaluate(&recent, &context);
    assert_eq!(report.decision, sealgate::GateDecision::Passed, "{report:#?}");
    assert_eq!(
        messages(&report),
        [(sealgate::Severity::Low, "review by [2026, 12, 1]".to_owned())]
    );
    let later = EvaluationContext::at("rego", 1_796_001_322 + 366 * 86_400);
    assert_eq!(
        gate.evaluate(&recent, &later).policies[0].outcome,
        PolicyOutcome::Fail
    );
    assert_eq!(
        gate.evaluate(&created("2027-01-01T00:00:00Z"), &context).policies[0].outcome,
        PolicyOutcome::Fail
    );

    // A date that cannot be read is an error naming it, not a pass.
    for unreadable in ["30/11/2026", "2026-11-30", "2025-02-29T00:00:00Z"] {
        let report = gate.evaluate(&created(unreadable), &context);
        assert_eq!(report.policies[0].outcome, PolicyOutcome::Error, "{unreadable}");
        let error = report.policies[0].error.as_deref().unwrap_or_default();
        assert!(
            error.contains(&format!("`{unreadable}` is not an RFC 3339 time")),
            "{error}"
        );
    }

    // There is no time zone database in the sandbox: another zone is an
    // error, never a guess (here, found when the gate loads).
    let zoned =
        "package main\nimport rego.v1\ndeny contains \"x\" if time.date([0, \"Europe/Berlin\"])[0] == 1970\n";
    let message = params_refusal(&rego_gate(dir.path(), &[("zoned.rego", zoned)], "{}"));
    assert!(
        message.contains("time zone `Europe/Berlin` is not available"),
        "{message}"
    );
}

/// A finding without a remediation (what conftest-style checks give) has
/// no empty "fix" in any output format.
#[test]
fn a_finding_without_a_remediation_has_no_empty_fix_in_any_format() {
    let dir = tempfile::tempdir().unwrap();
    let policy =
        "package main\nimport rego.v1\n\ndeny contains \"m has no owner\" if not input.governance.owner\n";
    let gate = rego_gate(dir.path(), &[("owner.rego", policy)], "{}");
    let metadata = dir.path().join("m.json");
    std::fs::write(
        &metadata,
        r#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":"m"}}"#,
    )
    .unwrap();
    for format in ["text", "sarif", "junit", "github"] {
        let out = sealgate(&[
            "check",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            metadata.to_str().unwrap(),
            "--format",
            format,
        ]);
        assert_eq!(out.status.code(), Some(1), "{format}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("m has no owner"), "{format}: {text}");
        assert!(!text.to_lowercase().contains("fix:"), "{format}: {text}");
    }
}

#[test]
fn a_rego_policy_decides_the_gate_and_the_report_and_digest_name_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "package main\nimport rego.v1\n\ndeny contains sprintf(\"%s has no owner\", [input.artifact.name]) if not input.governance.owner\n";
    let gate_file = rego_gate(dir.path(), &[("owner.rego", policy)], "{}");
    let gate = load(&gate_file).unwrap_or_else(|e| panic!("{e}"));
    let context = EvaluationContext::at("rego", 1_795_719_515);
    let report = gate.evaluate(&minimal_metadata(), &context);
    assert_eq!(report.decision, sealgate::GateDecision::Failed);
    let result = &report.policies[0];
    assert_eq!(result.outcome, PolicyOutcome::Fail);
    assert_eq!(result.findings[0].message, "m has no owner");
    assert_eq!(result.rego[0].sha256, Sha256Digest::of_bytes(policy.as_bytes()));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["policies"][0]["rego"][0]["sha256"],
        Sha256Digest::of_bytes(policy.as_bytes()).to_string()
    );

    let owned = governed(r#"{"owner":"risk-ml-team"}"#);
    assert_eq!(
        gate.evaluate(&owned, &context).decision,
        sealgate::GateDecision::Passed
    );

    // Another policy text under another pin: another policy digest, so a
    // verifier pinning the gate's digest refuses it.
    let digest = sealgate_attest::policy_digest(gate.config());
    let other = rego_gate(
        dir.path(),
        &[("owner.rego", &policy.replace("owner", "team"))],
        "{}",
    );
    let other = sealgate::GateConfig::load(&other).unwrap();
    assert_ne!(digest, sealgate_attest::policy_digest(&other));
}

/// A minimal metadata document with `/governance` set.
fn governed(governance: &str) -> sealgate::MetadataDocument {
    let governance: serde_json::Value = serde_json::from_str(governance).unwrap();
    document(serde_json::json!({
        "api_version": "sealgate/metadata/v1",
        "artifact": {"kind": "model", "name": "m"},
        "governance": governance
    }))
}

#[test]
fn a_rego_or_data_file_that_is_not_the_pinned_one_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "package main\nimport rego.v1\ndeny contains \"x\" if data.limits.max < 1\n";
    let gate = rego_gate(
        dir.path(),
        &[("p.rego", policy), ("limits.json", r#"{"limits": {"max": 5}}"#)],
        "{}",
    );
    load(&gate).unwrap_or_else(|e| panic!("{e}"));
    for (file, tampered) in [
        ("p.rego", policy.replace("< 1", "< 100")),
        ("limits.json", r#"{"limits": {"max": 0}}"#.to_owned()),
    ] {
        let original = std::fs::read(dir.path().join(file)).unwrap();
        std::fs::write(dir.path().join(file), &tampered).unwrap();
        match load(&gate) {
            Err(GateError::Load {
                error: LoadError::PinMismatch { path, actual, .. },
                ..
            }) => {
                assert!(path.ends_with(file), "{}", path.display());
                assert_eq!(actual, Sha256Digest::of_bytes(tampered.as_bytes()));
            }
            Err(other) => panic!("{file}: expected a pin mismatch, got {other}"),
            Ok(_) => panic!("{file}: a tampered file was accepted"),
        }
        std::fs::write(dir.path().join(file), original).unwrap();
    }
}

#[test]
fn data_with_two_readings_or_that_claims_data_sealgate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "package main\nimport rego.v1\ndeny contains \"x\" if data.limits.max < 1\n";
    // Pinned, but a member twice: which `max` would the policy read?
    let gate = rego_gate(
        dir.path(),
        &[
            ("p.rego", policy),
            ("limits.json", r#"{"limits": {"max": 5, "max": 0}}"#),
        ],
        "{}",
    );
    match load(&gate) {
        Err(GateError::Load {
            error: LoadError::Source { reason, .. },
            ..
        }) => {
            assert!(reason.contains("one reading"), "{reason}")
        }
        other => panic!("expected the data refused, got {:?}", other.err()),
    }
    let gate = rego_gate(
        dir.path(),
        &[
            ("p.rego", policy),
            ("limits.json", r#"{"sealgate": {"params": {}}}"#),
        ],
        "{}",
    );
    assert!(params_refusal(&gate).contains("data.sealgate is sealgate's"));
}

/// Mistakes in Rego are refused when the gate loads, with file:line:column,
/// not found at the first evaluation.
#[test]
fn rego_mistakes_are_named_with_file_line_and_column_at_load() {
    let dir = tempfile::tempdir().unwrap();
    for (what, policy, at) in [
        (
            "syntax",
            "package main\nimport rego.v1\n\ndeny contains msg if {\n  msg := input.x +\n}\n",
            "bad.rego:5:7",
        ),
        (
            "undefined function",
            "package main\nimport rego.v1\n\ndeny contains msg if {\n  msg := no_such_fn(1)\n}\n",
            "bad.rego:5:20",
        ),
        (
            "conflicting rules",
            "package main\nimport rego.v1\n\nx := 1\nx := 2\ndeny contains \"d\" if x == 3\n",
            "bad.rego:5:1",
        ),
    ] {
        let gate = rego_gate(dir.path(), &[("bad.rego", policy)], "{}");
        let message = params_refusal(&gate);
        assert!(message.contains(at), "{what}: {message}");
    }
    for (what, policy, said) in [
        (
            "no package main",
            "package other\nimport rego.v1\ndeny contains \"d\" if false\n",
            "no Rego file declares `package main`",
        ),
        (
            "no check at all",
            "package main\nimport rego.v1\nallow if true\n",
            "no deny, violation or warn rule",
        ),
    ] {
        let gate = rego_gate(dir.path(), &[("bad.rego", policy)], "{}");
        let message = params_refusal(&gate);
        assert!(message.contains(said), "{what}: {message}");
    }
}

/// A check that cannot be evaluated ends in ERROR: a builtin's error is an
/// error (OPA's strict mode), never an undefined rule that lets it pass.
#[test]
fn a_builtin_error_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let policy =
        "package main\nimport rego.v1\n\ndeny contains \"too old\" if to_number(input.artifact.name) > 3\n";
    let gate = load(&rego_gate(dir.path(), &[("p.rego", policy)], "{}")).unwrap_or_else(|e| panic!("{e}"));
    let report = gate.evaluate(&minimal_metadata(), &EvaluationContext::at("rego", 1_795_719_515));
    assert_eq!(
        report.policies[0].outcome,
        PolicyOutcome::Error,
        "{:#?}",
        report.policies[0]
    );
    assert_eq!(report.decision, sealgate::GateDecision::Failed);
}

/// `data.sealgate.context` and `data.sealgate.params`, and the sandbox's
/// limits: a Rego loop that never ends runs out of fuel.
#[test]
fn rego_sees_the_context_and_params_and_runs_under_the_sandboxs_limits() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "package main\nimport rego.v1\n\nwarn contains sprintf(\"%s %s %d %v\", [data.sealgate.context.gate, data.sealgate.context.evaluated_at, data.sealgate.context.evaluated_at_unix, data.sealgate.params.team])\n";
    let gate = load(&rego_gate(
        dir.path(),
        &[("p.rego", policy)],
        "{ team = \"risk\" }",
    ))
    .unwrap();
    let report = gate.evaluate(
        &minimal_metadata(),
        &EvaluationContext::at("ctx-gate", 1_795_719_515),
    );
    assert_eq!(
        report.policies[0].findings[0].message,
        "ctx-gate 2026-11-26T18:58:35Z 1795719515 risk"
    );
    assert_eq!(
        report.policies[0].outcome,
        PolicyOutcome::Pass,
        "a warn does not fail"
    );

    // 400 million iterations over two small arrays: CPU, not memory.
    let spin = "package main\nimport rego.v1\n\ndeny contains \"n\" if {\n  some i in numbers.range(1, 20000)\n  some j in numbers.range(1, 20000)\n  i + j < 0\n}\n";
    let gate = load(&rego_gate(dir.path(), &[("p.rego", spin)], "{}"));
    // Refused at load (validation ran it on `{}` and ran out of fuel), or
    // ERROR at evaluation: never a pass.
    match gate {
        Err(GateError::ParamsCheck { error, .. }) => {
            assert_eq!(error.kind(), sealgate::EvalErrorKind::OutOfFuel, "{error}")
        }
        Err(other) => panic!("{other}"),
        Ok(gate) => {
            let report = gate.evaluate(&minimal_metadata(), &EvaluationContext::at("rego", 0));
            assert_eq!(report.policies[0].outcome, PolicyOutcome::Error);
        }
    }
}

/// The Rego engine imports nothing but the host interface: no WASI, no
/// clock, no randomness.
#[test]
fn the_rego_engine_imports_only_the_host_interface() {
    let module = engine().load_unpinned(&guests().rego.path).unwrap();
    assert_eq!(module.info().id, "sealgate.rego");
    assert_imports_only_the_host_interface(&guests().rego.path);
}

/// `policy test` on a directory of Rego files: the case's failing finding
/// expectations and the policy's log are shown.
#[test]
fn policy_test_runs_a_rego_directory_and_explains_a_failing_case() {
    let dir = rego_policy_dir(
        "package main\nimport rego.v1\n\nwarn contains {\"msg\": \"no owner\", \"rule_id\": \"x.owner\", \"severity\": \"medium\", \"pointer\": \"/artifact\"} if {\n  print(\"checking\", input.artifact.name)\n  not input.governance.owner\n}\n",
        "[[case]]\nname = \"wrong severity\"\nmetadata = \"../doc.json\"\nexpect = { outcome = \"pass\", findings = [{ rule = \"x.owner\", severity = \"high\", pointer = \"/artifact\" }] }\n",
    );
    let d = dir.path().display().to_string();
    let without = sealgate(&["policy", "test", &d]);
    assert_eq!(without.status.code(), Some(2));
    assert!(stderr(&without).contains("--module"), "{}", stderr(&without));
    let out = sealgate(&[
        "policy",
        "test",
        &d,
        "--module",
        &guests().rego.path.display().to_string(),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("- no finding x.owner (high) at `/artifact`"),
        "{text}"
    );
    assert!(text.contains("found x.owner (medium) at `/artifact`"), "{text}");
    assert!(text.contains("checking m"), "{text}");
}

/// `examples/gates/model-card.toml` as shipped: its engine pin is the
/// suite's build of `policies/rego-engine`, its Rego pin the file's; the
/// documented model passes, the undocumented one fails with every missing
/// field named.
#[test]
fn the_model_card_example_gate_passes_the_documented_model_and_fails_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo("examples/gates/model-card.toml")).unwrap();
    let engine_path = "\"../../target/policies/rego.wasm\"";
    let policies = "\"../../policies/rego/";
    assert!(text.contains(engine_path) && text.contains(policies));
    let gate = dir.path().join("model-card.toml");
    std::fs::write(
        &gate,
        text.replace(
            engine_path,
            &format!("{:?}", guests().rego.path.display().to_string()),
        )
        .replace(policies, &format!("\"{}/", repo("policies/rego").display())),
    )
    .unwrap();
    let config = sealgate::GateConfig::load(&gate).unwrap();
    assert_eq!(
        config.policies[0].sha256,
        guests().rego.sha256,
        "policies/rego-engine built to another sha256 than examples/gates/model-card.toml pins"
    );
    let documented = check(&gate, &repo("examples/metadata/churn-model-documented.json"), &[]);
    assert_eq!(
        documented.status.code(),
        Some(0),
        "{}{}",
        stdout(&documented),
        stderr(&documented)
    );
    let bare = check(
        &gate,
        &repo("examples/metadata/churn-model.json"),
        &["--format", "json"],
    );
    assert_eq!(bare.status.code(), Some(1), "{}", stderr(&bare));
    let report: serde_json::Value = serde_json::from_slice(&bare.stdout).unwrap();
    let mut rules: Vec<&str> = report["policies"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "governance.intended-use.missing",
            "governance.model-card.missing",
            "governance.out-of-scope.missing",
            "governance.owner.missing",
            "governance.risk-class.missing",
            "governance.team.missing",
        ]
    );
}

/// `policy new --lang rego` works anywhere (no SDK, no checkout, no
/// compiler) and what it writes passes its own cases.
#[test]
fn a_scaffolded_rego_policy_passes_its_own_cases_outside_a_checkout() {
    let dir = tempfile::tempdir().unwrap();
    // As docs/writing-policies.md does it.
    let new = sealgate_in(
        dir.path(),
        &[
            "policy",
            "new",
            "model-card",
            "--lang",
            "rego",
            "--id",
            "acme.model-card",
        ],
    );
    assert_eq!(new.status.code(), Some(0), "{}", stderr(&new));
    let rego = guests().rego.path.display().to_string();
    let test = sealgate_in(dir.path(), &["policy", "test", "model-card", "--module", &rego]);
    assert_eq!(test.status.code(), Some(0), "{}{}", stdout(&test), stderr(&test));
    assert!(stdout(&test).contains("5 passed, 0 failed"), "{}", stdout(&test));
    // The guide quotes the scaffold's pin and the engine's: both still true.
    let guide = std::fs::read_to_string(repo("docs/writing-policies.md")).unwrap();
    let pin = Sha256Digest::of_bytes(&std::fs::read(dir.path().join("model-card/policy.rego")).unwrap());
    assert!(
        guide.contains(&format!("{pin}  model-card/policy.rego")),
        "docs/writing-policies.md quotes another sha256 of the scaffold's policy.rego than {pin}"
    );
    assert!(
        guide.contains(&format!("sha256 = \"{}\"", rego_engine_pin())),
        "docs/writing-policies.md quotes another pin of the Rego engine than the build's"
    );
}

fn rego_engine_pin() -> String {
    guests().rego.sha256.to_string()
}

/// Rego files go to the Rego engine only, and the engine only with them: a
/// report must never list files a module ignored as evaluated. And no file
/// may define `data.sealgate` (the context and params).
#[test]
fn rego_files_and_the_engine_go_together_and_data_sealgate_is_the_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "package main\nimport rego.v1\ndeny contains \"x\" if false\n";
    let gate = rego_gate(dir.path(), &[("p.rego", policy)], "{}");
    let text = std::fs::read_to_string(&gate).unwrap();
    // The quality policy given Rego files.
    let q = &guests().quality;
    let swapped = text
        .replace(
            &format!("{:?}", guests().rego.path.display().to_string()),
            &format!("{:?}", q.path.display().to_string()),
        )
        .replace(&guests().rego.sha256.to_string(), &q.sha256.to_string());
    std::fs::write(&gate, swapped).unwrap();
    let message = params_refusal(&gate);
    assert!(message.contains("not the Rego engine"), "{message}");
    // The engine without Rego files.
    std::fs::write(
        &gate,
        format!(
            "api-version = \"sealgate/v1\"\nname = \"rego\"\n[[policies]]\nmodule = {:?}\nsha256 = \"{}\"\n",
            guests().rego.path.display().to_string(),
            guests().rego.sha256
        ),
    )
    .unwrap();
    assert!(params_refusal(&gate).contains("name them with `rego = "));
    // A file that would define data.sealgate.context.
    let fake = "package sealgate\nimport rego.v1\ncontext := {\"evaluated_at_unix\": 0}\n";
    let gate = rego_gate(dir.path(), &[("p.rego", policy), ("fake.rego", fake)], "{}");
    assert!(params_refusal(&gate).contains("data.sealgate is sealgate's"));
}

/// What a Rego policy's files may cost the host is bounded: 1 MiB a file,
/// 8 MiB and 256 files a policy, refused before more is held.
#[test]
fn a_rego_policys_files_are_bounded_in_size_and_number() {
    let dir = tempfile::tempdir().unwrap();
    let big = format!(
        "package main\nimport rego.v1\ndeny contains \"x\" if false\n# {}\n",
        "x".repeat(1 << 20)
    );
    let message = match load(&rego_gate(dir.path(), &[("big.rego", &big)], "{}")) {
        Err(GateError::Load {
            error: LoadError::Source { reason, .. },
            ..
        }) => reason,
        other => panic!("a 1 MiB+ Rego file was accepted: {:?}", other.err()),
    };
    assert!(message.contains("over the 1048576-byte limit"), "{message}");

    let part = format!("# {}\n", "y".repeat((1 << 20) - 16));
    let names: Vec<String> = (0..9).map(|i| format!("part{i}.rego")).collect();
    let mut files: Vec<(&str, &str)> = vec![(
        "p.rego",
        "package main\nimport rego.v1\ndeny contains \"x\" if false\n",
    )];
    files.extend(names.iter().map(|n| (n.as_str(), part.as_str())));
    let message = match load(&rego_gate(dir.path(), &files, "{}")) {
        Err(GateError::Load {
            error: LoadError::Source { reason, .. },
            ..
        }) => reason,
        other => panic!("9 MiB of Rego was accepted: {:?}", other.err()),
    };
    assert!(
        message.contains("bytes of Rego and data files for one policy"),
        "{message}"
    );

    let many: Vec<String> = (0..300).map(|i| format!("m{i}.rego")).collect();
    let files: Vec<(&str, &str)> = many.iter().map(|n| (n.as_str(), "package main\n")).collect();
    let message = match load(&rego_gate(dir.path(), &files, "{}")) {
        Err(GateError::Load {
            error: LoadError::Source { reason, .. },
            ..
        }) => reason,
        other => panic!("300 Rego files were accepted: {:?}", other.err()),
    };
    assert!(message.contains("over the limit of 256"), "{message}");
}

/// `policy test --coverage`: the lines of a Rego policy no case reached
/// (at evaluation, or while checking params), from the engine's coverage;
/// a compiled policy's is its rule catalogue's (see `policy_test`).
#[test]
fn policy_test_coverage_names_the_rego_lines_no_case_reached() {
    let dir = rego_policy_dir(
        "package main\nimport rego.v1\n\ndeny contains \"no owner\" if {\n  not input.artifact.tags.owner\n}\n\ndeny contains \"bad name\" if {\n  input.artifact.name == \"never in any case\"\n  true\n}\n",
        "[[case]]\nname = \"no owner\"\nmetadata = \"../doc.json\"\nexpect = { outcome = \"fail\", rules = [\"main.deny\"] }\n",
    );
    let d = dir.path().display().to_string();
    let rego = guests().rego.path.display().to_string();
    let out = sealgate(&["policy", "test", &d, "--module", &rego, "--coverage"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    // The second rule never matched: its head (8) and what follows the
    // condition no case met (10).
    assert!(
        text.contains("coverage: lines no case reached\n  p.rego: 8, 10\n"),
        "{text}"
    );
    let out = sealgate(&[
        "policy",
        "test",
        &d,
        "--module",
        &rego,
        "--coverage",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["never_reached"]["p.rego"],
        serde_json::json!([8, 10]),
        "{json:#}"
    );

    let rust = sealgate(&[
        "policy",
        "test",
        repo("policies/quality").to_str().unwrap(),
        "--module",
        guests().quality.path.to_str().unwrap(),
        "--coverage",
    ]);
    // A compiled policy's coverage is its rule catalogue's, not lines.
    assert_eq!(rust.status.code(), Some(0), "{}", stderr(&rust));
    assert!(
        stdout(&rust).contains("coverage: every rule of the catalogue (4) was reported by some case"),
        "{}",
        stdout(&rust)
    );
}
