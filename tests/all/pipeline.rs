//! `examples/pipeline/`: the script runs here on the real MLflow, DVC and S3
//! records of `../shared`, and the GitHub workflow's sealgate commands must
//! still parse, so neither can rot.

use std::path::{Path, PathBuf};
use std::process::Output;

use clap::Parser as _;

use crate::support::*;

/// `pipeline.sh ARGS` with the suite's sealgate and policy builds.
fn pipeline(work: &Path, args: &[&str]) -> Output {
    let gate = gate_with_suite_builds(&repo("examples/pipeline/staging.toml"), work.parent().unwrap(), 4);
    let out = std::process::Command::new("bash")
        .arg(repo("examples/pipeline/pipeline.sh"))
        .args(args)
        .env("SEALGATE", env!("CARGO_BIN_EXE_sealgate"))
        .env("FIXTURES", shared("fixtures/real"))
        .env("GATE", gate)
        .env_remove("SEALGATE_DECISION_LOG")
        .env_remove("SEALGATE_SIGNING_KEY")
        .env_remove("TRUST")
        .env(
            "SEALGATE_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"),
        )
        .output()
        .expect("run bash");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

/// The model file MLflow logged for `model` version 1.
fn logged_model(model_id: &str) -> PathBuf {
    shared("fixtures/real/mlflow3-mlruns/358768659074516099/models")
        .join(model_id)
        .join("artifacts/model.skops")
}

fn promoted(work: &Path) -> Vec<PathBuf> {
    let registry = work.join("registry");
    if !registry.exists() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for model in std::fs::read_dir(registry).unwrap() {
        for version in std::fs::read_dir(model.unwrap().path()).unwrap() {
            found.push(version.unwrap().path());
        }
    }
    found
}

#[test]
fn a_model_that_passes_is_attested_verified_and_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let out = pipeline(&work, &[work.to_str().unwrap(), "churn-model", "champion"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("gate staging-promotion: PASSED"), "{text}");
    assert!(text.contains("ACCEPTED"), "{text}");

    // What was promoted is the logged model's exact bytes, with the bundle
    // for them, under its digest.
    let model = std::fs::read(logged_model("m-adc4bb85122d4bb8865ef4a378276603")).unwrap();
    let digest = sealgate::Sha256Digest::of_bytes(&model);
    let [dest] = promoted(&work).try_into().unwrap();
    assert!(
        dest.ends_with(format!("churn-model/sha256-{digest}")),
        "{}",
        dest.display()
    );
    assert_eq!(std::fs::read(dest.join("model.skops")).unwrap(), model);
    let verify = sealgate(&[
        "verify",
        "--bundle",
        dest.join("model.skops.intoto.jsonl").to_str().unwrap(),
        "--digest",
        &format!("sha256:{digest}"),
        "--trust",
        work.join("trust.toml").to_str().unwrap(),
    ]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));

    // Both decisions are in the log, chained.
    let log = std::fs::read_to_string(work.join("decisions.jsonl")).unwrap();
    let commands: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["command"].to_string())
        .collect();
    assert_eq!(commands, [r#""attest""#, r#""verify""#]);
    assert!(text.contains("intact, 2 entries"), "{text}");
}

#[test]
fn a_model_that_fails_the_gate_is_never_promoted_even_if_train_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let w = work.to_str().unwrap();
    // churn-model-pii's signature has email, ssn and phone: the train job stops.
    let out = pipeline(&work, &[w, "churn-model-pii", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("gate staging-promotion: FAILED"));
    assert!(stderr(&out).contains("churn-model-pii is not promoted"));
    assert!(!stdout(&out).contains("== deploy"));
    assert!(promoted(&work).is_empty());

    // Had the deploy job run anyway, the signed FAILED verdict refuses it.
    let out = pipeline(&work, &["deploy", w, "churn-model-pii", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("failed check `result`"), "{}", stdout(&out));
    assert!(promoted(&work).is_empty());
}

#[test]
fn deploy_refuses_a_model_swapped_after_attestation() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let w = work.to_str().unwrap();
    let out = pipeline(&work, &["train", w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Another model's bytes put where the attested one was.
    std::fs::copy(
        logged_model("m-b418c6a56775426ea86364aa6121a6b2"),
        work.join("model.skops"),
    )
    .unwrap();
    let out = pipeline(&work, &["deploy", w]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("failed check `subject`"),
        "{}",
        stdout(&out)
    );
    assert!(promoted(&work).is_empty());
}

/// The commands of the workflow's `run:` blocks, continuation lines joined.
fn workflow_commands(run: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in run.lines() {
        let line = line.trim();
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
}

#[test]
fn the_github_workflow_runs_the_same_commands_with_pinned_actions() {
    let text = std::fs::read_to_string(repo("examples/pipeline/github-workflow.yml")).unwrap();
    let workflow: serde_json::Value = serde_saphyr::from_str(&text).expect("the workflow is YAML");
    let jobs = &workflow["jobs"];
    assert_eq!(jobs["deploy"]["needs"], "train", "deploy runs after train");

    let mut subcommands = Vec::new();
    for job in ["train", "deploy"] {
        for step in jobs[job]["steps"].as_array().unwrap() {
            if let Some(uses) = step["uses"].as_str() {
                // Actions are pinned by commit, not by a tag that can move.
                let (_, rev) = uses.split_once('@').unwrap();
                assert!(
                    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{uses}"
                );
            }
            let Some(run) = step["run"].as_str() else { continue };
            for command in workflow_commands(run) {
                let Some(rest) = command.strip_prefix("sealgate ") else {
                    continue;
                };
                let words = shlex::split(rest).unwrap_or_else(|| panic!("unbalanced quotes: {command}"));
                let argv = std::iter::once("sealgate".to_owned()).chain(words);
                if let Err(e) = sealgate_cli::Cli::try_parse_from(argv) {
                    panic!("the workflow's `{command}` no longer parses:\n{e}");
                }
                subcommands.push(format!("{job}: {}", rest.split(' ').next().unwrap()));
            }
        }
    }
    assert_eq!(
        subcommands,
        ["train: collect", "train: attest", "deploy: verify", "deploy: log"]
    );

    // The script runs the same steps.
    let script = std::fs::read_to_string(repo("examples/pipeline/pipeline.sh")).unwrap();
    for step in [
        "sealgate collect",
        "sealgate attest",
        "sealgate verify",
        "sealgate log verify",
    ] {
        assert!(script.contains(step), "pipeline.sh lost `{step}`");
    }
}
