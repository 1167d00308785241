//! What each fuzz target does with its input. The suite replays every
//! corpus file through these same functions (tests/all/fuzz_corpus.rs), so a
//! crash found once stays a regression test. A target passes an input when
//! it returns: any error is fine, a panic or hang is a finding.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use sealgate_attest::{TrustPolicy, TrustedKey};
use sealgate_core::{GateConfig, Sha256Digest};
use sealgate_metadata::{MetadataDocument, MetadataLimits};

/// The key the corpus bundles are signed with (seed 7): fuzzed bundles can
/// reach every check, not only the parser.
pub fn corpus_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// The subject of the corpus bundles: the example model's `model.skops`.
pub fn corpus_subject() -> Sha256Digest {
    "631bad177267272b20cf98269ca44cd773add1d7b8226a2659c2ed9ba1b9c6ad"
        .parse()
        .expect("a digest")
}

/// A DSSE bundle, verified against one trusted key.
pub fn bundle(data: &[u8]) {
    static TRUST: OnceLock<TrustPolicy> = OnceLock::new();
    let trust = TRUST.get_or_init(|| {
        TrustPolicy::new(vec![TrustedKey {
            name: "corpus".into(),
            key: corpus_key().verifying_key(),
        }])
    });
    let now = UNIX_EPOCH + Duration::from_secs(1_795_719_600);
    let _ = sealgate_attest::verify_bundle(data, &corpus_subject(), trust, now);
}

/// A metadata document, with every host-side check.
pub fn metadata(data: &[u8]) {
    let _ = MetadataDocument::from_bytes("fuzz.json", data.to_vec(), &MetadataLimits::default());
}

/// A scratch directory per process: the config and collect targets go
/// through the same file-reading code users hit.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temp dir"))
        .path()
}

fn write(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("scratch dir");
    }
    std::fs::write(&path, data).expect("scratch write");
    path
}

/// A gate file and a trust file (both TOML).
pub fn config(data: &[u8]) {
    let gate = write("gate.toml", data);
    let _ = GateConfig::load(&gate);
    let trust = write("trust.toml", data);
    let _ = TrustPolicy::load(&trust);
}

/// One source file for `sealgate collect`; the first byte picks its kind.
pub fn collect(data: &[u8]) {
    let Some((&kind, file)) = data.split_first() else {
        return;
    };
    let mut sources = sealgate_collect::Sources::default().with_base(scratch().to_owned());
    match kind % 5 {
        0 => sources.storage = vec![write("settings.json", file)],
        1 => sources.evidently = vec![write("drift.json", file)],
        2 => sources.openlineage = vec![write("events.jsonl", file)],
        3 => {
            let dir = scratch().join("dvc-lock");
            write("dvc-lock/dvc.lock", file);
            sources.dvc = Some(dir);
        }
        _ => {
            let dir = scratch().join("dvc-file");
            write("dvc-file/data.csv.dvc", file);
            sources.dvc = Some(dir);
        }
    }
    let _ = sealgate_collect::collect(&sources);
}
