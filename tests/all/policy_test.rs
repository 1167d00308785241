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
    // `--coverage`: and every rule of the policy's catalogue is reported by some case.
    let out = sealgate(&[
        "policy",
        "test",
        dir.to_str().unwrap(),
        "--module",
        built.path.to_str().unwrap(),
        "--coverage",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains(" 0 failed\n"), "{text}");
    assert!(
        text.trim_end().ends_with("was reported by some case"),
        "{name}'s cases leave rules of its catalogue untested:\n{text}"
    );
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
fn encryption_ships_passing_cases_for_every_rule() {
    assert_cases_pass_and_cover(
        "encryption",
        &guests().encryption,
        &[
            "encryption.storage.missing",
            "encryption.at-rest.missing",
            "encryption.at-rest.algorithm-not-allowed",
            "encryption.at-rest.customer-key-missing",
            "encryption.in-transit.not-required",
            "encryption.in-transit.weak-tls",
            "encryption.in-transit.insecure-registry",
            "encryption.public-access.not-blocked",
            "encryption.kubernetes.secrets-unencrypted",
        ],
    );
}

#[test]
fn retention_ships_passing_cases_for_every_rule() {
    assert_cases_pass_and_cover(
        "retention",
        &guests().retention,
        &[
            "retention.period.missing",
            "retention.personal-data.too-long",
            "retention.purpose.missing",
            "retention.legal-basis.missing",
            "retention.legal-basis.unknown",
            "retention.records.missing",
            "retention.records.too-short",
            "retention.documentation.too-short",
            "retention.lifecycle.no-expiration",
            "retention.lifecycle.too-long",
            "retention.lifecycle.too-short",
            "retention.object-lock.blocks-erasure",
            "retention.object-lock.invalid",
        ],
    );
}

#[test]
fn quality_ships_passing_cases_for_every_rule() {
    assert_cases_pass_and_cover(
        "quality",
        &guests().quality,
        &[
            "quality.metric.missing",
            "quality.metric.invalid",
            "quality.metric.below-min",
            "quality.metric.above-max",
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

#[test]
fn a_scaffolded_policy_builds_and_passes_its_own_cases() {
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("model-card");
    let sdk = repo("policies/sdk");
    let out = sealgate(&[
        "policy",
        "new",
        "model-card",
        "--id",
        "acme.model-card",
        "--dir",
        crate_dir.to_str().unwrap(),
        "--sdk",
        sdk.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("sealgate policy test"), "{}", stdout(&out));
    // Seeded with the shipped policies' locked versions, settled for this crate.
    let lock = std::fs::read_to_string(crate_dir.join("Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"model-card\""), "{lock}");
    assert!(!lock.contains("name = \"pii\""), "{lock}");

    // Built the way `policy test DIR` builds it (sharing the suite's target
    // dir for speed), then its shipped cases run and pass.
    let built = sealgate_policy_build::build_policy(
        &crate_dir,
        &sealgate_policy_build::BuildOptions::new(
            sealgate_policy_build::Target::Wasm32UnknownUnknown,
            dir.path().join("out"),
        )
        .with_target_dir(Some(
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("policies-target"),
        ))
        .with_verbose(false),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = policy_test(
        &crate_dir,
        &Built {
            path: built.path,
            sha256: built.sha256,
        },
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.trim_end().ends_with("acme.model-card: 5 passed, 0 failed"),
        "{text}"
    );

    // `policy build DIR` from elsewhere writes into DIR's own target, not
    // the current directory's, and the component is readable by all.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let cargo_target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("policies-target");
    let build = sealgate_in(
        &elsewhere,
        &[
            "policy",
            "build",
            crate_dir.to_str().unwrap(),
            "--target-dir",
            cargo_target.to_str().unwrap(),
        ],
    );
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let component = crate_dir.join("target/policies/model-card.wasm");
    assert!(component.is_file(), "{}", stdout(&build));
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "policy build wrote into the current directory"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&component).unwrap().permissions().mode() & 0o777,
        0o644
    );

    // Nothing is overwritten, and bad names are refused.
    let again = sealgate(&[
        "policy",
        "new",
        "model-card",
        "--dir",
        crate_dir.to_str().unwrap(),
        "--sdk",
        sdk.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
    let bad = sealgate(&["policy", "new", "Model_Card", "--sdk", sdk.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("is not a policy name"), "{}", stderr(&bad));
    let no_sdk = sealgate(&[
        "policy",
        "new",
        "x",
        "--dir",
        dir.path().join("x").to_str().unwrap(),
        "--sdk",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(no_sdk.status.code(), Some(2));
    assert!(stderr(&no_sdk).contains("pass --sdk"), "{}", stderr(&no_sdk));
}

/// A case's params are what a gate author would write: each shipped case
/// that expects the policy to run gives params its own `params-schema`
/// accepts, so the schema documents every knob the tests use (and a typo in
/// a test is not a silently ignored key).
#[test]
fn every_shipped_case_gives_params_its_policy_schema_accepts() {
    let mut checked = 0;
    for (name, built) in guests().shipped() {
        let module = engine().load(&built.path, &built.sha256).unwrap();
        let schema = &module.info().params_schema;
        let validator =
            jsonschema::validator_for(schema).unwrap_or_else(|e| panic!("{name}: params-schema: {e}"));
        let dir = repo(&format!("policies/{name}"));
        for file in sealgate::policy_test::test_files(&dir).unwrap() {
            let tests = sealgate::policy_test::TestFile::load(&file).unwrap_or_else(|e| panic!("{e}"));
            for case in tests.cases() {
                // A case about refused params gives what the schema may refuse.
                if case.expect.outcome == sealgate::policy_test::CaseOutcome::InvalidParams {
                    continue;
                }
                let problems: Vec<String> = validator
                    .iter_errors(case.params())
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect();
                assert!(
                    problems.is_empty(),
                    "{}: case `{}`: params {} break {name}'s params-schema: {problems:?}",
                    file.display(),
                    case.name,
                    case.params()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} cases checked");
}

/// A test file that breaks several rules is refused with all of them.
#[test]
fn a_test_file_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.toml");
    std::fs::write(
        &file,
        "evaluated-at = \"someday\"\n[[case]]\nname = \"a\"\nexpect = { outcome = \"pass\" }\n[[case]]\nname = \"b\"\nexpect = { outcome = \"fail\" }\n",
    )
    .unwrap();
    let err = sealgate::policy_test::TestFile::load(&file)
        .expect_err("refused")
        .to_string();
    for part in [
        "case `a`: no `metadata` and no `base`",
        "case `b`: no `metadata` and no `base`",
        "evaluated-at `someday` is not an RFC 3339 time",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
}

/// `policy new` with no flags, outside any checkout: the SDK and the
/// contract come with the binary (copied into the crate's `sdk/`), and the
/// same source builds to the same pin in two directories at different
/// depths, as a reviewer rebuilding it elsewhere would.
#[test]
fn a_scaffold_stands_alone_and_pins_the_same_wherever_it_is_built() {
    let root = tempfile::tempdir().unwrap();
    let here = root.path().join("a");
    let there = root.path().join("b/deeper/still");
    std::fs::create_dir_all(&here).unwrap();
    std::fs::create_dir_all(&there).unwrap();
    let new = sealgate_in(&here, &["policy", "new", "model-card", "--id", "acme.model-card"]);
    assert_eq!(new.status.code(), Some(0), "{}", stderr(&new));
    assert!(here.join("model-card/sdk/wit/policy.wit").is_file());
    let copy = std::process::Command::new("cp")
        .args(["-r", "model-card"])
        .arg(&there)
        .current_dir(&here)
        .status()
        .unwrap();
    assert!(copy.success());
    let cargo_target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("policies-target");
    let pin = |dir: &std::path::Path| {
        let out = sealgate_in(
            dir,
            &[
                "policy",
                "build",
                "model-card",
                "--target-dir",
                cargo_target.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
            .lines()
            .find_map(|l| l.strip_prefix("sha256 = ").map(str::to_owned))
            .unwrap()
    };
    let pinned = pin(&here);
    assert_eq!(
        pinned,
        pin(&there),
        "the same source pinned differently in two directories"
    );
    // docs/writing-policies.md quotes this scaffold's pin.
    let guide = std::fs::read_to_string(repo("docs/writing-policies.md")).unwrap();
    assert!(
        guide.contains(&format!("sha256 = {pinned}")),
        "docs/writing-policies.md does not quote {pinned}"
    );
    let module = here.join("model-card/target/policies/model-card.wasm");
    let test = sealgate_in(
        &here,
        &[
            "policy",
            "test",
            "model-card",
            "--module",
            module.to_str().unwrap(),
        ],
    );
    assert_eq!(test.status.code(), Some(0), "{}{}", stdout(&test), stderr(&test));
}

/// `policy test --coverage` of a compiled policy lists the rules of its
/// catalogue no case reported, with their severity and summary, in text and
/// JSON; the outcome is the cases' (coverage informs, it does not fail).
#[test]
fn coverage_lists_the_catalogue_rules_no_case_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/one.toml"),
        format!(
            "base = {:?}\n[[case]]\nname = \"below the floor\"\nparams = {{ metrics = {{ accuracy = {{ min = 0.99 }} }} }}\nexpect = {{ outcome = \"fail\", rules = [\"quality.metric.below-min\"] }}\n",
            repo("examples/metadata/churn-model.json").display().to_string()
        ),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let module = guests().quality.path.to_str().unwrap();
    let out = sealgate(&["policy", "test", d, "--module", module, "--coverage"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains(
            "coverage: 3 of 4 rules no case reported\n  quality.metric.missing (high): a metric the gate names is not recorded"
        ),
        "{text}"
    );
    assert!(text.contains("  quality.metric.invalid (high): "), "{text}");
    assert!(!text.contains("  quality.metric.below-min ("), "{text}");

    let out = sealgate(&[
        "policy",
        "test",
        d,
        "--module",
        module,
        "--coverage",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let never: Vec<&str> = json["rules_never_reported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        never,
        [
            "quality.metric.missing",
            "quality.metric.invalid",
            "quality.metric.above-max"
        ]
    );
}

/// docs/policies.md and the shipped policies' rule catalogues agree: every
/// catalogued rule is documented, and every rule id the page names is one a
/// policy declares (so the page cannot keep a rule a policy dropped).
#[test]
fn the_policies_page_names_exactly_the_catalogued_rules() {
    let page = std::fs::read_to_string(repo("docs/policies.md")).unwrap();
    let infos: Vec<sealgate::PolicyInfo> = guests()
        .shipped()
        .iter()
        .map(|(_, built)| engine().load(&built.path, &built.sha256).unwrap().info().clone())
        .collect();
    for info in &infos {
        assert!(!info.rules.is_empty(), "{} declares no catalogue", info.id);
        for rule in &info.rules {
            let named = match rule.id.strip_suffix('*') {
                Some(prefix) => format!("`{prefix}"),
                None => format!("`{}`", rule.id),
            };
            assert!(
                page.contains(&named),
                "docs/policies.md does not name {}'s {}",
                info.id,
                rule.id
            );
        }
    }
    let prefixes = [
        "pii.",
        "lineage.",
        "encryption.",
        "retention.",
        "drift.",
        "quality.",
    ];
    let named_ids = page
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| prefixes.iter().any(|p| t.starts_with(p)))
        // Rule ids are kebab-case; dotted snake_case names are metadata fields
        // (`encryption.in_transit.tls_required`).
        .filter(|t| {
            t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-".contains(&b))
        });
    for id in named_ids {
        assert!(
            infos.iter().any(|i| i.rules.iter().any(|r| r.covers(id))),
            "docs/policies.md names `{id}`, which no shipped policy's catalogue declares"
        );
    }
}
