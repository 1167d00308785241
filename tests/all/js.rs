//! JavaScript policies: built with componentize-js (pinned in
//! `policies/sdk-js`) with every WASI feature disabled, so the component
//! imports nothing but the host interface, and run in the same sandbox.
//!
//! componentize-js is an external toolchain: where it is not installed these
//! tests say so and skip, except under CI (`CI` set), which installs it
//! (`.ci/run`: `npm ci --prefix policies/sdk-js`) and so must not skip.

use std::path::PathBuf;
use std::process::Command;

use crate::support::*;

/// The pinned componentize-js, or `None` (after saying why) where it is not
/// installed and this is not CI.
fn componentize_js() -> Option<PathBuf> {
    let bin = repo("policies/sdk-js/node_modules/.bin/componentize-js");
    if bin.is_file() {
        return Some(bin);
    }
    let why = format!(
        "{} is missing: `npm ci --prefix policies/sdk-js` installs it",
        bin.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("CI installs componentize-js, yet {why}");
    }
    eprintln!("skipping a JavaScript policy test: {why}");
    None
}

/// `policies/js/owner-tags/policy.js`, built as docs/writing-policies.md
/// shows: it imports only `sealgate:policy/host@0.2.0`, declares its rule
/// catalogue, meets its cases (a thrown string refuses params at load), and
/// its cases cover the catalogue.
#[test]
fn a_javascript_policy_built_without_wasi_features_meets_its_cases() {
    let Some(componentize) = componentize_js() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("owner-tags.wasm");
    let policy = repo("policies/js/owner-tags");
    let built = Command::new(&componentize)
        .arg(policy.join("policy.js"))
        .args([
            "--wit",
            repo("wit").to_str().unwrap(),
            "--world-name",
            "gate-policy",
        ])
        .args(["-d", "stdio", "random", "clocks", "http", "fetch-event"])
        .arg("-o")
        .arg(&component)
        .output()
        .expect("componentize-js runs");
    assert!(built.status.success(), "{}{}", stdout(&built), stderr(&built));
    assert_imports_only_the_host_interface(&component);

    let test = sealgate(&[
        "policy",
        "test",
        policy.to_str().unwrap(),
        "--module",
        component.to_str().unwrap(),
        "--coverage",
    ]);
    let text = stdout(&test);
    assert_eq!(test.status.code(), Some(0), "{text}{}", stderr(&test));
    assert!(text.contains("acme.owner-tags: 6 passed, 0 failed"), "{text}");
    assert!(
        text.contains("coverage: every rule of the catalogue (1) was reported by some case"),
        "{text}"
    );
}
