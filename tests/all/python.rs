//! Python policies: scaffolded anywhere, built with componentize-py (the
//! SDK and the contract supplied by sealgate), run in the same sandbox.
//!
//! componentize-py is an external toolchain: where it cannot be found these
//! tests say so and skip, except under CI (`CI` set), which installs it
//! (`.ci/run`) and so must not skip.

use std::path::Path;

use crate::support::*;

/// Is componentize-py here? `None` (after saying why) where it is not and
/// this is not CI.
fn toolchain() -> Option<String> {
    match sealgate_policy_build::python::toolchain_version() {
        Ok(version) => Some(version),
        Err(e) if std::env::var_os("CI").is_some() => panic!("CI installs componentize-py, yet: {e}"),
        Err(e) => {
            eprintln!("skipping a Python policy test: {e}");
            None
        }
    }
}

/// `policy new --lang python` outside a checkout, then `policy test`
/// (which builds it): the scaffold passes its cases; the build names its
/// toolchain and says the output is not reproducible; the component imports
/// nothing but the host interface (WASI stubbed out).
#[test]
fn a_python_policy_is_scaffolded_built_and_tested_outside_a_checkout() {
    let Some(version) = toolchain() else { return };
    let dir = tempfile::tempdir().unwrap();
    let new = sealgate_in(
        dir.path(),
        &[
            "policy",
            "new",
            "owner-tags",
            "--lang",
            "python",
            "--id",
            "acme.owner-tags",
        ],
    );
    assert_eq!(new.status.code(), Some(0), "{}", stderr(&new));
    let build = sealgate_in(dir.path(), &["policy", "build", "owner-tags"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let text = stdout(&build);
    assert!(
        text.contains(&format!("toolchain {version}: its output is not reproducible")),
        "{text}"
    );
    let component = dir.path().join("owner-tags/target/policies/owner-tags.wasm");
    assert_imports_only_the_host_interface(&component);
    let test = sealgate_in(
        dir.path(),
        &[
            "policy",
            "test",
            "owner-tags",
            "--module",
            component.to_str().unwrap(),
        ],
    );
    assert_eq!(test.status.code(), Some(0), "{}{}", stdout(&test), stderr(&test));
    assert!(
        stdout(&test).contains("acme.owner-tags: 5 passed, 0 failed"),
        "{}",
        stdout(&test)
    );

    // An exception is an ERROR whose reason names it, and `print` and the
    // frames are in the log `policy test` shows.
    let app = dir.path().join("owner-tags/app.py");
    let source = std::fs::read_to_string(&app).unwrap();
    std::fs::write(
        &app,
        source.replace(
            "        report = sg.Report()\n",
            "        report = sg.Report()\n        print(\"checking\", doc.str(\"/artifact/name\"))\n        raise KeyError(\"no such thing\")\n",
        ),
    )
    .unwrap();
    let test = sealgate_in(dir.path(), &["policy", "test", "owner-tags"]);
    let text = stdout(&test);
    assert_eq!(test.status.code(), Some(1), "{text}{}", stderr(&test));
    assert!(
        text.contains("message: policy returned an error: KeyError: 'no such thing'"),
        "{text}"
    );
    assert!(text.contains("log info: checking churn-model"), "{text}");
    assert!(
        text.contains("app.py:") && text.contains(" in evaluate"),
        "{text}"
    );
}

/// The model-card policy in Python meets the Rego policy's cases (the same
/// file).
#[test]
fn the_python_model_card_policy_meets_the_rego_policys_cases() {
    if toolchain().is_none() {
        return;
    }
    let cases = |dir: &str| std::fs::read_to_string(repo(&format!("{dir}/tests/model_card.toml"))).unwrap();
    assert_eq!(
        cases("policies/python/model-card"),
        cases("policies/rego/model-card"),
        "the Python and Rego model-card policies must be held to the same cases"
    );
    let out_dir = tempfile::tempdir().unwrap();
    let test = sealgate(&[
        "policy",
        "test",
        repo("policies/python/model-card").to_str().unwrap(),
        "--out-dir",
        out_dir.path().to_str().unwrap(),
        "--coverage",
    ]);
    let text = stdout(&test);
    assert_eq!(test.status.code(), Some(0), "{text}{}", stderr(&test));
    assert!(text.contains("acme.model-card: 10 passed, 0 failed"), "{text}");
    // Its `Info(rules=...)` reaches the host as the catalogue, and the cases cover it.
    assert!(
        text.contains("coverage: every rule of the catalogue (9) was reported by some case"),
        "{text}"
    );
    assert!(Path::new(&out_dir.path().join("model-card.wasm")).is_file());
}

/// The version CI installs is the one the build says it drives.
#[test]
fn ci_installs_the_componentize_py_the_build_expects() {
    let pins = std::fs::read_to_string(repo("policies/sdk-python/requirements.txt")).unwrap();
    let pinned = format!(
        "componentize-py=={}",
        sealgate_policy_build::python::COMPONENTIZE_PY_VERSION
    );
    assert!(pins.lines().any(|l| l.trim() == pinned), "{pins}");
}
