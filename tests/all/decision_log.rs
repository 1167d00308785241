//! The decision log through the CLI: every check, attest and verify appends
//! a hash-chained line; `sealgate log verify` finds any tampering and says
//! where; concurrent processes append safely; a log that cannot be written
//! fails the command.

use serde_json::Value;

use crate::support::*;

fn entries(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn check_attest_and_verify_are_logged_and_tampering_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let log_arg = ["--decision-log", log.to_str().unwrap()];
    let gate = example_gate(dir.path());
    let mut check = vec![
        "check",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        "examples/metadata/churn-model-pii.json",
    ];
    check.extend(log_arg);
    let out = sealgate(&check);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let a = attest_example(dir.path(), &log_arg);
    let pii_pinned = format!("sealgate.pii={}", guests().pii.sha256.prefixed());
    let mut verify = vec![
        "verify",
        "--bundle",
        a.bundle.to_str().unwrap(),
        "--artifact",
        a.artifact.to_str().unwrap(),
        "--key",
        a.public.to_str().unwrap(),
        "--require-policy",
        &pii_pinned,
    ];
    verify.extend(log_arg);
    let out = sealgate(&verify);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let e = entries(&log);
    assert_eq!(e.len(), 3);
    assert_eq!(
        e.iter()
            .map(|x| (
                x["seq"].as_u64().unwrap(),
                x["command"].as_str().unwrap(),
                x["outcome"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [
            (1, "check", "FAILED"),
            (2, "attest", "PASSED"),
            (3, "verify", "accepted")
        ]
    );
    assert_eq!(e[0]["findings"], 3);
    assert_eq!(e[0]["policies"].as_array().unwrap().len(), 6);
    assert_eq!(e[0]["prev"], sealgate_log::GENESIS);
    let bundle = std::fs::read(&a.bundle).unwrap();
    let bundle_sha = sealgate::Sha256Digest::of_bytes(&bundle).to_string();
    assert_eq!(e[1]["bundle_sha256"], bundle_sha);
    assert_eq!(e[2]["bundle_sha256"], bundle_sha);
    assert_eq!(e[1]["artifact_sha256"], e[2]["artifact_sha256"]);

    let out = sealgate(&["log", "verify", log.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (v["intact"].as_bool(), v["entries"].as_u64()),
        (Some(true), Some(3))
    );
    let head = v["head"].as_str().unwrap().to_owned();

    // Each kind of tampering, found where it happened.
    let original = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let tamper = |text: String, extra: &[&str], line: u64, needle: &str| {
        std::fs::write(&log, text).unwrap();
        let mut args = vec!["log", "verify", log.to_str().unwrap(), "--format", "json"];
        args.extend(extra);
        let out = sealgate(&args);
        assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["line"], line, "{v}");
        assert!(v["problem"].as_str().unwrap().contains(needle), "{v}");
    };
    let join = |l: &[&str]| l.iter().map(|x| format!("{x}\n")).collect::<String>();
    tamper(
        join(&[&lines[0].replace("\"FAILED\"", "\"PASSED\""), lines[1], lines[2]]),
        &[],
        2,
        "line 1 was edited",
    );
    tamper(join(&[lines[0], lines[2]]), &[], 2, "removed");
    tamper(join(&[lines[1], lines[0], lines[2]]), &[], 1, "");
    tamper(original[..original.len() - 5].to_owned(), &[], 3, "incomplete");
    tamper(join(&lines[..2]), &["--expect-entries", "3"], 3, "removed");
    tamper(join(&lines[..2]), &["--expect-head", &head], 2, "recorded head");
    // Untouched, with what was recorded: intact.
    std::fs::write(&log, &original).unwrap();
    let out = sealgate(&[
        "log",
        "verify",
        log.to_str().unwrap(),
        "--expect-entries",
        "3",
        "--expect-head",
        &head,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("intact, 3 entries"), "{}", stdout(&out));
}

#[test]
fn concurrent_processes_append_to_one_intact_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let gate = example_gate(dir.path());
    let children: Vec<_> = (0..6)
        .map(|i| {
            let doc = if i % 2 == 0 {
                "churn-model"
            } else {
                "churn-model-pii"
            };
            std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
                .current_dir(repo(""))
                .args(["check", "--gate", gate.to_str().unwrap(), "--metadata"])
                .arg(format!("examples/metadata/{doc}.json"))
                .arg("--decision-log")
                .arg(&log)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(matches!(c.wait().unwrap().code(), Some(0 | 1)));
    }
    let out = sealgate(&["log", "verify", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("intact, 6 entries"), "{}", stdout(&out));
    let e = entries(&log);
    assert_eq!(e.iter().filter(|x| x["outcome"] == "PASSED").count(), 3);
}

#[test]
fn a_decision_that_cannot_be_logged_fails_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    // A directory where the log should be.
    let out = sealgate(&[
        "check",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        "examples/metadata/churn-model.json",
        "--decision-log",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("decision log"), "{}", stderr(&out));
}
