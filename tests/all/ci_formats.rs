//! `check` and `verify` in the formats CI systems read: SARIF validated
//! against the SARIF 2.1.0 JSON Schema, JUnit parsed as XML, GitHub workflow
//! commands that untrusted text cannot break out of.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// The PII example with the name of its second input column replaced by
/// `column` (which the PII policy quotes in its finding), written into `dir`.
fn pii_metadata_with_column(dir: &Path, column: &str) -> std::path::PathBuf {
    let doc = dir.join("evil.json");
    let mut meta: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("examples/metadata/churn-model-pii.json")).unwrap(),
    )
    .unwrap();
    meta["schema"]["inputs"][1]["name"] = Value::String(column.into());
    std::fs::write(&doc, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    doc
}

/// The SARIF 2.1.0 JSON Schema: the OASIS file, kept as a fixture with its
/// source and licence (tests/fixtures/sarif/README.md).
fn sarif_validator() -> jsonschema::Validator {
    let bytes = std::fs::read(repo("tests/fixtures/sarif/sarif-schema-2.1.0.json")).unwrap();
    assert_eq!(
        sealgate::Sha256Digest::of_bytes(&bytes).to_string(),
        "af47e7b67f24efe74076621fd3a5fbe7398add9e84fe820c971219a385895cea",
        "the SARIF schema fixture is not the file its README describes"
    );
    let schema: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    // The OASIS file's `language` patterns have a typo (a stray `]`) that
    // the meta-schema's `format: regex` check refuses. sealgate never emits
    // `language`, so they are corrected in memory and everything else is
    // validated as published.
    let mut schema = schema;
    let mut fixed = 0;
    for def in ["run", "toolComponent"] {
        let language = &mut schema["definitions"][def]["properties"]["language"]["pattern"];
        if language == "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$" {
            *language = Value::String("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$".into());
            fixed += 1;
        }
    }
    assert_eq!(
        fixed, 2,
        "the schema is not the one this workaround was written for"
    );
    jsonschema::options().build(&schema).unwrap()
}

fn assert_valid_sarif(doc: &Value) {
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid SARIF 2.1.0: {errors:#?}\n{doc:#}");
}

fn check(gate: &Path, doc: &str, format: &str) -> std::process::Output {
    sealgate(&[
        "check",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        &format!("examples/metadata/{doc}.json"),
        "--format",
        format,
    ])
}

/// Every element of a JUnit document, with its attributes, in order.
fn xml_elements(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("not XML: {e}\n{text}"))
        {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        let raw: &str = &a.value;
                        let value = quick_xml::escape::unescape(raw).unwrap().into_owned();
                        (a.key.as_ref().to_owned(), value)
                    })
                    .collect();
                out.push((e.name().as_ref().to_owned(), attrs));
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> &'a str {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

#[test]
fn sarif_is_valid_and_points_at_the_metadata_line() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let out = check(&gate, "churn-model-pii", "sarif");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_valid_sarif(&doc);
    // The validator does refuse what SARIF does not allow.
    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["level"] = Value::String("fatal".into());
    assert!(!sarif_validator().is_valid(&bad));
    let run = &doc["runs"][0];
    assert_eq!(run["invocations"][0]["properties"]["decision"], "FAILED");
    let results = run["results"].as_array().unwrap();
    let ids: Vec<&str> = results.iter().map(|r| r["ruleId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["pii.column.email", "pii.column.ssn", "pii.column.phone"]);
    let text = std::fs::read_to_string(repo("examples/metadata/churn-model-pii.json")).unwrap();
    for (r, column) in results.iter().zip(["email", "ssn", "phone"]) {
        assert_eq!(r["level"], "error");
        let loc = &r["locations"][0];
        assert_eq!(
            loc["physicalLocation"]["artifactLocation"]["uri"],
            "examples/metadata/churn-model-pii.json"
        );
        let line = loc["physicalLocation"]["region"]["startLine"].as_u64().unwrap() as usize;
        assert_eq!(
            text.lines().nth(line - 1).unwrap().trim(),
            format!("\"name\": \"{column}\","),
            "line {line}"
        );
        assert!(
            loc["logicalLocations"][0]["fullyQualifiedName"]
                .as_str()
                .unwrap()
                .starts_with("/schema/inputs/")
        );
        // Each result names its rule in the driver's rule list.
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][index]["id"], r["ruleId"]);
    }

    // A clean model: valid, no results, PASSED.
    let out = check(&gate, "churn-model", "sarif");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_valid_sarif(&doc);
    assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 0);
    assert_eq!(
        doc["runs"][0]["invocations"][0]["properties"]["decision"],
        "PASSED"
    );
}

#[test]
fn a_policy_error_is_a_sarif_error_and_a_junit_error() {
    let dir = tempfile::tempdir().unwrap();
    let g = &guests().hostile;
    let gate = write_gate(dir.path(), &g.path, &g.sha256, "{ mode = \"trap\" }", "");
    let meta = repo("examples/metadata/churn-model.json");
    let run = |format: &str| {
        sealgate(&[
            "check",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            meta.to_str().unwrap(),
            "--format",
            format,
        ])
    };
    let out = run("sarif");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_valid_sarif(&doc);
    assert_eq!(doc["runs"][0]["invocations"][0]["executionSuccessful"], false);
    assert_eq!(doc["runs"][0]["results"][0]["ruleId"], "sealgate.policy-error");
    assert!(
        doc["runs"][0]["results"][0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );

    let out = run("junit");
    assert_eq!(out.status.code(), Some(3));
    let elements = xml_elements(&stdout(&out));
    assert_eq!(attr(&elements[0].1, "errors"), "1");
    assert!(elements.iter().any(|(name, _)| name == "error"));

    let out = run("github");
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("::error ") && l.contains("policy error")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn junit_has_a_case_per_policy_verdict_and_per_rule() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let out = check(&gate, "churn-model-exposed-storage", "junit");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let elements = xml_elements(&stdout(&out));
    let cases: Vec<&Vec<(String, String)>> = elements
        .iter()
        .filter(|(n, _)| n == "testcase")
        .map(|(_, a)| a)
        .collect();
    let failures = elements.iter().filter(|(n, _)| n == "failure").count();
    let (root, root_attrs) = &elements[0];
    assert_eq!(root, "testsuites");
    // The counts in the root agree with the elements.
    assert_eq!(attr(root_attrs, "tests"), cases.len().to_string());
    assert_eq!(attr(root_attrs, "failures"), failures.to_string());
    // Six verdicts; encryption fails three rules and its verdict, retention two and its verdict.
    assert_eq!(cases.iter().filter(|a| attr(a, "name") == "verdict").count(), 6);
    let failed: Vec<&str> = cases
        .iter()
        .filter(|a| attr(a, "name") != "verdict")
        .map(|a| attr(a, "name"))
        .collect();
    for rule in [
        "encryption.at-rest.customer-key-missing",
        "encryption.in-transit.not-required",
        "encryption.public-access.not-blocked",
        "retention.lifecycle.too-long",
        "retention.object-lock.blocks-erasure",
    ] {
        assert!(failed.contains(&rule), "{rule} missing from {failed:?}");
    }
    assert_eq!(failures, 7);
    // Every suite's counts agree with its cases.
    let suites: Vec<_> = elements.iter().filter(|(n, _)| n == "testsuite").collect();
    assert_eq!(suites.len(), 6);
    let total: usize = suites
        .iter()
        .map(|(_, a)| attr(a, "tests").parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, cases.len());
}

#[test]
fn github_annotations_carry_file_and_line_and_cannot_be_injected() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let out = check(&gate, "churn-model-pii", "github");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with(
            "::error file=examples/metadata/churn-model-pii.json,line=26,title=pii.column.email (high)::"
        ),
        "{text}"
    );
    assert!(
        lines[3].starts_with("::error title=sealgate gate ml-release::FAILED"),
        "{text}"
    );

    // A policy's message is untrusted: a newline and a workflow command in
    // it stay inside the annotation.
    let doc = pii_metadata_with_column(dir.path(), "ssn\n::warning::pwned,%0A");
    let out = sealgate(&[
        "check",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        doc.to_str().unwrap(),
        "--format",
        "github",
    ]);
    let text = stdout(&out);
    assert!(
        text.lines()
            .all(|l| l.starts_with("::error ") || l.starts_with("::notice ") || l.starts_with("::warning ")),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("::warning::pwned")), "{text}");
    assert!(text.contains("ssn%0A::warning::pwned,%250A"), "{text}");
}

#[test]
fn verify_speaks_sarif_junit_and_github() {
    let dir = tempfile::tempdir().unwrap();
    let Attested {
        bundle,
        artifact,
        public: key,
    } = attest_example(dir.path(), &[]);
    let verify = |artifact: &Path, format: &str| {
        sealgate(&[
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
            "--artifact",
            artifact.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--format",
            format,
        ])
    };
    // Accepted.
    let out = verify(&artifact, "sarif");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_valid_sarif(&doc);
    assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 0);
    let out = verify(&artifact, "junit");
    let elements = xml_elements(&stdout(&out));
    let cases = elements.iter().filter(|(n, _)| n == "testcase").count();
    assert!(cases >= 10, "one case per check: {}", stdout(&out));
    assert!(!elements.iter().any(|(n, _)| n == "failure"));
    assert!(stdout(&verify(&artifact, "github")).starts_with("::notice "));

    // Another artifact: rejected by the subject check, in every format.
    let other = dir.path().join("other.bin");
    std::fs::write(&other, b"other bytes").unwrap();
    let out = verify(&other, "sarif");
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_valid_sarif(&doc);
    assert_eq!(doc["runs"][0]["results"][0]["ruleId"], "verify.subject");
    let out = verify(&other, "junit");
    let elements = xml_elements(&stdout(&out));
    let failed: Vec<&str> = elements
        .iter()
        .filter(|(n, _)| n == "testcase")
        .map(|(_, a)| attr(a, "name"))
        .collect();
    assert!(failed.contains(&"subject"), "{failed:?}");
    assert_eq!(elements.iter().filter(|(n, _)| n == "failure").count(), 1);
    let out = verify(&other, "github");
    assert!(stdout(&out).starts_with("::error file="), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("title=sealgate verify%3A subject"),
        "{}",
        stdout(&out)
    );
}

/// Run `sealgate ARGS` on a pseudo-terminal (util-linux `script`), as a
/// person at a terminal would; what it printed.
fn on_a_terminal(args: &[&str], no_color: bool) -> String {
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_sealgate"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qefc", &quoted.join(" "), "/dev/null"])
        .current_dir(repo(""))
        .env_remove("NO_COLOR")
        .env(
            "SEALGATE_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"),
        );
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd.output().expect("util-linux `script` runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn text_is_coloured_only_on_a_terminal_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let pii = repo("examples/metadata/churn-model-pii.json");
    let args = [
        "check",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        pii.to_str().unwrap(),
    ];
    const RED_FAILED: &str = "\x1b[1m\x1b[31mFAILED\x1b[0m";

    let piped = crate::support::check(&gate, &pii, &[]);
    assert_eq!(piped.status.code(), Some(1));
    assert!(stdout(&piped).starts_with("gate ml-release: FAILED\n"));
    assert!(!stdout(&piped).contains('\x1b'), "colour into a pipe");

    let tty = on_a_terminal(&args, false);
    assert!(tty.contains(&format!("gate ml-release: {RED_FAILED}")), "{tty:?}");
    let no_color = on_a_terminal(&args, true);
    assert!(no_color.contains("gate ml-release: FAILED"), "{no_color:?}");
    assert!(
        !no_color.contains('\x1b'),
        "colour despite NO_COLOR: {no_color:?}"
    );

    let mut never = args.to_vec();
    never.extend(["--color", "never"]);
    assert!(!on_a_terminal(&never, false).contains('\x1b'));
    let always = crate::support::check(&gate, &pii, &["--color", "always"]);
    assert!(stdout(&always).contains(RED_FAILED), "{}", stdout(&always));
    // Other formats are for machines: never coloured.
    let json = crate::support::check(&gate, &pii, &["--color", "always", "--format", "json"]);
    assert!(!stdout(&json).contains('\x1b'));
}

#[test]
fn policy_text_cannot_drive_the_terminal() {
    // An escape sequence in a finding's message (here via a column name the
    // PII policy quotes) could erase the line and print a verdict of its own.
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let doc = pii_metadata_with_column(dir.path(), "ssn\x1b[2K\rgate ml-release: PASSED");
    for color in ["never", "always"] {
        let out = crate::support::check(&gate, &doc, &["--color", color]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(!text.contains("\x1b[2K"), "{text:?}");
        assert!(
            text.contains("ssn\u{FFFD}[2K\u{FFFD}gate ml-release: PASSED"),
            "{text:?}"
        );
    }
}
