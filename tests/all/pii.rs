//! The PII policy through the real engine: values, validators, exemptions.

use sealgate::{Finding, Gate, PolicyOutcome};

use crate::support::*;

fn run(params: &str, doc: serde_json::Value) -> (PolicyOutcome, Vec<Finding>) {
    let p = evaluate_policy(&guests().pii, params, &doc);
    assert_ne!(p.outcome, PolicyOutcome::Error, "{:?}", p.error);
    (p.outcome, p.findings)
}

fn model(inputs: serde_json::Value, samples: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "api_version": "sealgate/metadata/v1",
        "artifact": {"kind": "model", "name": "m"},
        "schema": {"inputs": inputs},
        "samples": samples,
    })
}

fn rules_at(findings: &[Finding]) -> Vec<(String, String)> {
    findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.pointer.clone()))
        .collect()
}

#[test]
fn sample_values_are_found_only_when_validators_agree() {
    let doc = model(
        serde_json::json!([]),
        serde_json::json!([{
            "columns": ["a", "b", "c", "d", "e"],
            "data": [
                ["536-90-4399", "4111 1111 1111 1111", "DE89370400440532013000", "jane.doe@acme-corp.eu", "+441632960961"],
                ["666-12-3456", "4111 1111 1111 1112", "DE89370400440532013001", "jane@example.com", "12345"],
            ]
        }]),
    );
    let (outcome, findings) = run("{}", doc);
    assert_eq!(outcome, PolicyOutcome::Fail);
    assert_eq!(
        rules_at(&findings),
        [
            ("pii.value.ssn", "/samples/0/data/0/0"),
            ("pii.value.credit-card", "/samples/0/data/0/1"),
            ("pii.value.iban", "/samples/0/data/0/2"),
            ("pii.value.email", "/samples/0/data/0/3"),
            ("pii.value.phone", "/samples/0/data/0/4"),
        ]
        .map(|(r, p)| (r.to_owned(), p.to_owned()))
    );
    // Findings never carry the personal data itself.
    for f in &findings {
        assert!(
            !f.message.contains("536-90") && !f.message.contains("jane.doe"),
            "{}",
            f.message
        );
    }
}

#[test]
fn invalid_numbers_alone_are_not_findings() {
    let doc = model(
        serde_json::json!([{"name": "customer_id"}]),
        serde_json::json!([{"columns": ["x"], "data": [["000-12-3456"], ["123-45 6789"], ["4111111111111112"], ["GB00WEST12345698765432"]]}]),
    );
    let (outcome, findings) = run("{}", doc);
    assert_eq!(
        (outcome, findings.len()),
        (PolicyOutcome::Pass, 0),
        "{findings:#?}"
    );
}

#[test]
fn real_input_example_has_no_personal_values() {
    // The input example MLflow logged with churn-model.
    let example: serde_json::Value = serde_json::from_slice(
        &std::fs::read(shared(
            "fixtures/real/mlflow3-mlruns/358768659074516099/models/m-adc4bb85122d4bb8865ef4a378276603/artifacts/input_example.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let doc = model(serde_json::json!([]), serde_json::json!([example]));
    let (outcome, findings) = run("{}", doc);
    assert_eq!(
        (outcome, findings.len()),
        (PolicyOutcome::Pass, 0),
        "{findings:#?}"
    );
}

#[test]
fn column_spellings_and_tiers() {
    let doc = model(
        serde_json::json!([
            {"name": "customerEmail"}, {"name": "Date-Of-Birth"}, {"name": "zip_code"}, {"name": "income"},
            {"name": "passport_no"}, {"name": "last_name"}, {"name": "client_ip"}
        ]),
        serde_json::json!([]),
    );
    let (_, findings) = run("{}", doc);
    let got: Vec<(String, String)> = findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.severity.to_string()))
        .collect();
    let want = [
        ("pii.column.email", "high"),
        ("pii.column.date-of-birth", "medium"),
        ("pii.column.address", "medium"),
        ("pii.column.passport", "critical"),
        ("pii.column.person-name", "high"),
        ("pii.column.ip-address", "medium"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()));
    assert_eq!(got, want);
}

#[test]
fn reviewed_or_hashed_columns_and_param_exemptions_are_not_findings() {
    let doc = model(
        serde_json::json!([
            {"name": "email", "privacy": {"treatment": "hashed"}},
            {"name": "ssn", "privacy": {"treatment": "reviewed", "note": "tokenised upstream"}},
            {"name": "phone", "privacy": {"treatment": "forgotten"}},
            {"name": "customer_name"}
        ]),
        serde_json::json!([]),
    );
    let (_, findings) = run(r#"{ exempt-columns = ["customer_name"] }"#, doc);
    assert_eq!(
        rules_at(&findings),
        [("pii.column.phone".to_owned(), "/schema/inputs/2/name".to_owned())]
    );
}

#[test]
fn declared_dataset_columns_are_info_and_undeclared_ones_are_findings() {
    let doc = serde_json::json!({
        "api_version": "sealgate/metadata/v1",
        "artifact": {"kind": "dataset", "name": "customers"},
        "datasets": [{"name": "customers.csv", "pii_columns": ["email"], "columns": [{"name": "email"}, {"name": "phone"}]}]
    });
    let (outcome, findings) = run("{}", doc);
    assert_eq!(outcome, PolicyOutcome::Fail);
    assert_eq!(findings[0].rule_id, "pii.declared.email");
    assert_eq!(findings[0].severity, sealgate::Severity::Info);
    assert_eq!(findings[1].rule_id, "pii.column.phone");
    assert_eq!(findings[1].pointer, "/datasets/0/columns/1/name");
}

#[test]
fn params_tune_rules_and_severities() {
    let doc = model(
        serde_json::json!([{"name": "phone"}, {"name": "badge_code"}]),
        serde_json::json!([]),
    );
    let params = r#"{ disable = ["phone"], extra-rules = [{ category = "badge", pattern = "(^|_)badge", tier = "non-sensitive" }], non-sensitive-severity = "low" }"#;
    let (outcome, findings) = run(params, doc);
    assert_eq!(outcome, PolicyOutcome::Pass);
    assert_eq!(
        rules_at(&findings),
        [("pii.column.badge".to_owned(), "/schema/inputs/1/name".to_owned())]
    );
    assert_eq!(findings[0].severity, sealgate::Severity::Low);
}

#[test]
fn bad_params_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let g = &guests().pii;
    for (params, needle) in [
        (r#"{ disable = ["nonsense"] }"#, "unknown category `nonsense`"),
        (
            r#"{ extra-rules = [{ category = "x", pattern = "(", tier = "sensitive" }] }"#,
            "invalid pattern",
        ),
        (r#"{ sensitive-severity = "severe" }"#, "unknown severity"),
        (r#"{ typo = 1 }"#, "unknown field `typo`"),
    ] {
        let gate = write_gate(dir.path(), &g.path, &g.sha256, params, "");
        let err = Gate::load(engine(), &gate).err().expect("refused");
        assert!(err.to_string().contains(needle), "{params}: {err}");
    }
}

/// Each column of `names` that the policy flags, with its category.
fn flagged(names: &[&str]) -> Vec<(String, String)> {
    let inputs: Vec<serde_json::Value> = names.iter().map(|n| serde_json::json!({"name": n})).collect();
    let (_, findings) = run(
        "{}",
        model(serde_json::Value::Array(inputs), serde_json::json!([])),
    );
    findings
        .iter()
        .map(|f| {
            let i: usize = f.pointer.split('/').nth(3).unwrap().parse().unwrap();
            (
                names[i].to_owned(),
                f.rule_id.trim_start_matches("pii.column.").to_owned(),
            )
        })
        .collect()
}

#[test]
fn real_column_lists_are_classified_as_a_reviewer_would() {
    // The header rows of public datasets (tests/fixtures/column-names): the
    // personal data in each, and nothing else (Telco's `PhoneService` is a
    // yes/no product flag, Bank Marketing's `contact` a channel).
    let cases: [(&str, &[(&str, &str)]); 5] = [
        (
            "uci-adult",
            &[
                ("race", "ethnicity"),
                ("sex", "gender"),
                ("native-country", "nationality"),
            ],
        ),
        ("titanic", &[("Sex", "gender")]),
        ("ibm-telco-churn", &[("gender", "gender")]),
        (
            "uci-diabetes-130",
            &[
                ("race", "ethnicity"),
                ("gender", "gender"),
                ("num_medications", "health"),
                ("diag_1", "health"),
                ("diag_2", "health"),
                ("diag_3", "health"),
                ("number_diagnoses", "health"),
                ("diabetesMed", "health"),
            ],
        ),
        ("uci-bank-marketing", &[]),
    ];
    for (list, want) in cases {
        let text = std::fs::read_to_string(repo(&format!("tests/fixtures/column-names/{list}.txt"))).unwrap();
        let names: Vec<&str> = text.lines().collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(c, k)| ((*c).to_owned(), (*k).to_owned()))
            .collect();
        assert_eq!(flagged(&names), want, "{list}");
    }
}

#[test]
fn the_names_a_reviewer_expects_are_personal_data() {
    let cases: &[(&str, &str)] = &[
        ("password", "password"),
        ("password_hash", "password"),
        ("pwd", "password"),
        ("SSN", "ssn"),
        ("soc_sec_no", "ssn"),
        ("ss_number", "ssn"),
        ("national_insurance_number", "ssn"),
        ("emails", "email"),
        ("EmailAddresses", "email"),
        ("e-mail address", "email"),
        ("contact_email", "email"),
        ("email_2", "email"),
        ("national_id", "national-id"),
        ("tax_id_number", "national-id"),
        ("TIN", "national-id"),
        ("codice_fiscale", "national-id"),
        ("driver_license_number", "driver-license"),
        ("drivers_licence", "driver-license"),
        ("passport_number", "passport"),
        ("medical_history", "health"),
        ("blood_type", "health"),
        ("religion", "religion"),
        ("ethnic_origin", "ethnicity"),
        ("sexual_orientation", "sexual-orientation"),
        ("political_party", "political-opinion"),
        ("trade_union_membership", "trade-union"),
        ("fingerprint", "biometric"),
        ("face_embedding", "biometric"),
        ("dna_sequence", "genetic"),
        ("genotype", "genetic"),
        ("gender", "gender"),
        ("nationality", "nationality"),
        ("citizenship", "nationality"),
        ("mobile_number", "phone"),
        ("phone_home", "phone"),
        ("cellPhone", "phone"),
        ("email_lower", "email"),
        ("phone_raw", "phone"),
    ];
    let names: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
    let want: Vec<(String, String)> = cases
        .iter()
        .map(|(n, k)| ((*n).to_owned(), (*k).to_owned()))
        .collect();
    assert_eq!(flagged(&names), want);
    // Flags and counts that are not the identifier.
    let not_personal = [
        "email_opt_in",
        "email_verified",
        "PhoneService",
        "is_mobile",
        "phone_type_count",
        "email_count",
    ];
    assert_eq!(flagged(&not_personal), Vec::<(String, String)>::new());
}
