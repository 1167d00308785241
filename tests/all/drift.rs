//! The drift policy on real Evidently output: every drift test Evidently 0.7
//! registers, drifted and not, in every report shape Evidently writes
//! (`tests/fixtures/evidently`, made by `tests/fixtures/generate.py` with the
//! pinned Evidently). The policy's verdict must be Evidently's own.

use std::collections::BTreeSet;

use sealgate::{EvaluationContext, Gate, MetadataDocument, MetadataLimits, PolicyOutcome};
use serde_json::Value;

use crate::support::*;

const SHAPES: [&str; 4] = ["v07", "v07-tests", "legacy-table", "legacy-column"];

fn manifest() -> Value {
    serde_json::from_slice(&std::fs::read(repo("tests/fixtures/evidently/manifest.json")).unwrap()).unwrap()
}

/// The clean example model's metadata with `reports` as its drift reports.
fn with_drift_reports(reports: Vec<Value>) -> MetadataDocument {
    let mut doc: Value = serde_json::from_slice(&std::fs::read(clean_metadata()).unwrap()).unwrap();
    doc["reports"]["drift"] = Value::Array(reports);
    MetadataDocument::from_bytes(
        "drift fixture",
        serde_json::to_vec(&doc).unwrap(),
        &MetadataLimits::default(),
    )
    .unwrap()
}

fn drift_gate(dir: &std::path::Path, params: &str) -> Gate {
    let g = &guests().drift;
    Gate::load(engine(), &write_gate(dir, &g.path, &g.sha256, params, "")).unwrap()
}

#[test]
fn every_evidently_test_is_judged_as_evidently_judged_it_in_every_shape() {
    let manifest = manifest();
    let reports = manifest["reports"].as_array().unwrap();
    // Complete: each registered test, drifted and stable, in each shape.
    let tests: BTreeSet<&str> = reports.iter().map(|r| r["stattest"].as_str().unwrap()).collect();
    assert_eq!(tests.len(), 20, "{tests:?}");
    assert_eq!(reports.len(), tests.len() * 2 * SHAPES.len());

    let dir = tempfile::tempdir().unwrap();
    let gate = drift_gate(dir.path(), "{}");
    let ctx = EvaluationContext::at("test-gate", 1_795_719_515);
    let mut wrong = Vec::new();
    for entry in reports {
        let file = entry["file"].as_str().unwrap();
        let report: Value = serde_json::from_slice(
            &std::fs::read(repo(&format!("tests/fixtures/evidently/{file}"))).unwrap(),
        )
        .unwrap();
        let result = gate.evaluate(&with_drift_reports(vec![report]), &ctx);
        let p = &result.policies[0];
        let rules: BTreeSet<&str> = p.findings.iter().map(|f| f.rule_id.as_str()).collect();
        let drifted = entry["drift_detected"].as_bool().unwrap();
        // The percentile text test compares with a bootstrapped percentile no
        // report records: in the 0.7 shape without tests nothing says what
        // Evidently decided, so the only right answer is "cannot judge".
        let right = if file.starts_with("v07/perc_text_content_drift") {
            p.outcome == PolicyOutcome::Fail && rules == BTreeSet::from(["drift.column.unjudged"])
        } else if drifted {
            p.outcome == PolicyOutcome::Fail && rules.contains("drift.column.drifted")
        } else {
            p.outcome == PolicyOutcome::Pass && rules.is_empty()
        };
        if !right {
            wrong.push(format!(
                "{file}: Evidently says drifted={drifted}, the policy {:?} {rules:?} {:?}",
                p.outcome,
                p.findings.iter().map(|f| &f.message).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        reports.len(),
        wrong.join("\n")
    );
}

/// A report's JSON from the fixtures.
fn fixture(file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo(&format!("tests/fixtures/evidently/{file}"))).unwrap())
        .unwrap()
}

fn rules_for(gate: &Gate, report: Value) -> (PolicyOutcome, Vec<String>) {
    let result = gate.evaluate(
        &with_drift_reports(vec![report]),
        &EvaluationContext::at("test-gate", 1_795_719_515),
    );
    let p = &result.policies[0];
    (p.outcome, p.findings.iter().map(|f| f.rule_id.clone()).collect())
}

#[test]
fn what_cannot_be_judged_is_a_finding_and_a_report_that_contradicts_itself_fails() {
    let dir = tempfile::tempdir().unwrap();
    let gate = drift_gate(dir.path(), "{}");
    let unjudged = (PolicyOutcome::Fail, vec!["drift.column.unjudged".to_owned()]);

    // A test sealgate does not know (a custom function): never a guess.
    let mut custom = fixture("v07/ks-stable.json");
    custom["metrics"][1]["config"]["method"] = "custom function 'my_test'".into();
    assert_eq!(rules_for(&gate, custom.clone()), unjudged);
    // ...unless the report itself says it drifted.
    let mut custom_tests = fixture("v07-tests/ks-drifted.json");
    custom_tests["metrics"][1]["config"]["method"] = "custom function 'my_test'".into();
    assert_eq!(
        rules_for(&gate, custom_tests).1,
        ["drift.column.drifted", "drift.share.exceeded"]
    );
    // Its severity is a param: a team may downgrade it to a warning.
    let lenient = drift_gate(dir.path(), "{ unjudged-severity = \"low\" }");
    assert_eq!(rules_for(&lenient, custom).0, PolicyOutcome::Pass);

    // The percentile text test without the report's decision (0.7, no tests).
    assert_eq!(
        rules_for(&gate, fixture("v07/perc_text_content_drift-stable.json")),
        unjudged
    );
    // No score.
    let mut scoreless = fixture("legacy-column/psi-stable.json");
    scoreless["metrics"][0]["result"]
        .as_object_mut()
        .unwrap()
        .remove("drift_score");
    scoreless["metrics"][0]["result"]["drift_detected"] = false.into();
    assert_eq!(rules_for(&gate, scoreless), unjudged);

    // A report whose decision contradicts its own score: counted as drifted.
    let mut edited = fixture("legacy-table/wasserstein-drifted.json");
    edited["metrics"][0]["result"]["drift_by_columns"]["x"]["drift_detected"] = false.into();
    assert_eq!(
        rules_for(&gate, edited).1,
        ["drift.column.inconsistent", "drift.share.exceeded"]
    );
}

#[test]
fn names_that_do_not_say_p_value_are_read_as_evidently_reads_them() {
    // The old reading ("p-value if the name says p_value") judged these
    // backwards: a tiny TVD or MMD p-value (drift) read as a tiny distance.
    let dir = tempfile::tempdir().unwrap();
    let gate = drift_gate(dir.path(), "{}");
    for test in [
        "TVD",
        "empirical_mmd",
        "anderson",
        "cramer_von_mises",
        "es",
        "fisher_exact",
        "g_test",
        "mannw",
        "t_test",
    ] {
        for shape in SHAPES {
            let (outcome, rules) = rules_for(&gate, fixture(&format!("{shape}/{test}-drifted.json")));
            assert_eq!(outcome, PolicyOutcome::Fail, "{shape}/{test}: {rules:?}");
        }
    }
    // A gate may only make a p-value test stricter than the report's.
    let mut borderline = fixture("v07/ks-stable.json");
    borderline["metrics"][1]["value"] = 0.1.into();
    assert_eq!(rules_for(&gate, borderline.clone()).0, PolicyOutcome::Pass);
    let strict = drift_gate(dir.path(), "{ p-value-threshold = 0.2 }");
    assert_eq!(
        rules_for(&strict, borderline.clone()).1[0],
        "drift.column.drifted"
    );
    let loose = drift_gate(dir.path(), "{ p-value-threshold = 0.001 }");
    borderline["metrics"][1]["value"] = 0.01.into();
    borderline["metrics"][0]["value"]["count"] = 1.0.into(); // as Evidently would count it
    assert_eq!(
        rules_for(&loose, borderline).1[0],
        "drift.column.drifted",
        "0.01 < the report's 0.05"
    );
}
