//! `sealgate policy test`: policies' test cases as data.

use crate::support::*;

/// `sealgate policy test DIR --module BUILT`.
fn policy_test(dir: &std::path::Path, built: &Built) -> std::process::Output {
    sealgate(&[
        "policy",
        "test",
        dir.to_str().unwrap(),
        "--module",
        built.path.to_str().unwrap(),
    ])
}

/// Run `sealgate policy test policies/NAME` on the suite's build; assert that
/// every case passed and that each of `rules` is expected by some case.
fn assert_cases_pass_and_cover(name: &str, built: &Built, rules: &[&str]) {
    let dir = repo(&format!("policies/{name}"));
    let out = policy_test(&dir, built);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.trim_end().ends_with(" 0 failed"), "{text}");
    let cases: String = std::fs::read_dir(dir.join("tests"))
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    for rule in rules {
        assert!(
            cases.contains(&format!("\"{rule}\"")),
            "no test case of {name} expects {rule}"
        );
    }
}

#[test]
fn pii_ships_passing_cases_for_every_rule() {
    assert_cases_pass_and_cover(
        "pii",
        &guests().pii,
        &[
            "pii.column.email",
            "pii.column.ssn",
            "pii.column.credit-card",
            "pii.column.bank-account",
            "pii.column.passport",
            "pii.column.phone",
            "pii.column.person-name",
            "pii.column.date-of-birth",
            "pii.column.address",
            "pii.column.ip-address",
            "pii.value.ssn",
            "pii.value.credit-card",
            "pii.value.iban",
            "pii.value.email",
            "pii.value.phone",
            "pii.declared.email",
        ],
    );
}

#[test]
fn lineage_ships_passing_cases_for_every_rule() {
    assert_cases_pass_and_cover(
        "lineage",
        &guests().lineage,
        &[
            "lineage.code.missing",
            "lineage.code.not-pinned",
            "lineage.input.missing",
            "lineage.input.unhashed",
            "lineage.run.missing",
            "lineage.run.unfinished",
            "lineage.parameters.missing",
            "lineage.image.missing",
            "lineage.image.not-pinned",
            "lineage.hash.inconsistent",
        ],
    );
}

#[test]
fn drift_ships_passing_cases_for_every_rule_on_real_evidently_reports() {
    assert_cases_pass_and_cover(
        "drift",
        &guests().drift,
        &[
            "drift.report.missing",
            "drift.report.unreadable",
            "drift.column.drifted",
            "drift.share.exceeded",
        ],
    );
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    let base = repo("examples/metadata/churn-model.json");
    std::fs::write(
        dir.path().join("tests/wrong.toml"),
        format!(
            "base = {base:?}\n\
             [[case]]\nname = \"expects the wrong rule\"\n\
             patch = [{{ op = \"add\", path = \"/schema/inputs/-\", value = {{ name = \"ssn\" }} }}]\n\
             expect = {{ outcome = \"fail\", rules = [\"pii.column.email\"] }}\n\
             [[case]]\nname = \"right\"\nexpect = {{ outcome = \"pass\" }}\n",
            base = base.display().to_string()
        ),
    )
    .unwrap();
    let out = policy_test(dir.path(), &guests().pii);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("FAIL  expects the wrong rule"), "{text}");
    assert!(text.contains("- missing rules: pii.column.email"), "{text}");
    assert!(text.contains("+ unexpected rules: pii.column.ssn"), "{text}");
    assert!(text.contains("ok    right"), "{text}");
    assert!(
        text.trim_end().ends_with("sealgate.pii: 1 passed, 1 failed"),
        "{text}"
    );
}

#[test]
fn a_broken_test_file_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/bad.toml"),
        "[[case]]\nname = \"x\"\nexpect = { outcome = \"maybe\" }\n",
    )
    .unwrap();
    let out = policy_test(dir.path(), &guests().pii);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.toml"), "{}", stderr(&out));
}
