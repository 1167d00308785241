//! The fuzz targets' corpora (fuzz/corpus/TARGET/), replayed through the
//! same harness on stable: every input a fuzzer found interesting, and every
//! input that once crashed, must be handled without a panic.

#[path = "../../fuzz/harness.rs"]
pub mod harness;

use crate::support::*;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = repo(&format!("fuzz/corpus/{target}"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
        n += 1;
    }
    assert!(n > 0, "{target}: empty corpus");
}

#[test]
fn bundle_corpus() {
    replay("bundle", harness::bundle);
}

#[test]
fn metadata_corpus() {
    replay("metadata", harness::metadata);
}

#[test]
fn config_corpus() {
    replay("config", harness::config);
}

#[test]
fn collect_corpus() {
    replay("collect", harness::collect);
}

/// The seeds are what they claim: a genuine bundle the harness's trust accepts.
#[test]
fn bundle_seeds_verify() {
    let data = std::fs::read(repo("fuzz/corpus/bundle/seed-passed.intoto.jsonl")).unwrap();
    let trust = sealgate_attest::TrustPolicy::new(vec![sealgate_attest::TrustedKey {
        name: "corpus".into(),
        key: harness::corpus_key().verifying_key(),
    }]);
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_719_600);
    sealgate_attest::verify_bundle(&data, &harness::corpus_subject(), &trust, now).unwrap();
}
