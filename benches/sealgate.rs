//! What a gate costs: `cargo bench --bench sealgate` (figures and the
//! commands behind them in docs/BENCHMARKS.md). Every number comes from the
//! release build of the same code the CLI runs; the policies are built from
//! `policies/` as `sealgate policy build` builds them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sealgate::{
    EngineConfig, EvaluationContext, Gate, MetadataDocument, MetadataLimits, PolicyEngine, PolicyModule,
    Sha256Digest,
};
use sealgate_policy_build::{BuildOptions, Target, build_policy};

fn main() {
    divan::main();
}

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const POLICIES: [&str; 6] = ["pii", "lineage", "encryption", "retention", "drift", "quality"];

fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// A built guest component and its pin.
struct Built {
    dir: String,
    path: PathBuf,
    pin: Sha256Digest,
}

/// The six policies and the hostile test guest, built once per run as the
/// suite builds them.
fn guests() -> &'static [Built] {
    static BUILT: OnceLock<Vec<Built>> = OnceLock::new();
    BUILT.get_or_init(|| {
        POLICIES
            .iter()
            .map(|p| format!("policies/{p}"))
            .chain(["tests/guests/hostile".to_owned()])
            .map(|dir| {
                let target = if dir.starts_with("policies") {
                    "policies-target"
                } else {
                    "guests-target"
                };
                let opts = BuildOptions {
                    target: Target::Wasm32UnknownUnknown,
                    target_dir: Some(tmp().join(target)),
                    out_dir: tmp().join("bench-components"),
                    verbose: false,
                };
                let b = build_policy(&Path::new(REPO).join(&dir), &opts)
                    .unwrap_or_else(|e| panic!("building {dir}: {e}"));
                Built {
                    dir,
                    path: b.path,
                    pin: b.sha256,
                }
            })
            .collect()
    })
}

fn built(dir: &str) -> &'static Built {
    guests().iter().find(|b| b.dir == dir).expect("a known guest")
}

fn engine() -> &'static PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PolicyEngine::new(EngineConfig::default()).expect("engine"))
}

fn module(dir: &str) -> &'static PolicyModule {
    static MODULES: OnceLock<Vec<PolicyModule>> = OnceLock::new();
    let all = MODULES.get_or_init(|| {
        guests()
            .iter()
            .map(|b| engine().load(&b.path, &b.pin).expect("load"))
            .collect()
    });
    let i = guests().iter().position(|b| b.dir == dir).expect("a known guest");
    &all[i]
}

fn clean() -> &'static MetadataDocument {
    static DOC: OnceLock<MetadataDocument> = OnceLock::new();
    DOC.get_or_init(|| {
        MetadataDocument::load(
            &Path::new(REPO).join("examples/metadata/churn-model.json"),
            &MetadataLimits::default(),
        )
        .expect("example")
    })
}

fn params(policy: &str) -> &'static str {
    match policy {
        "quality" => r#"{"metrics":{"accuracy":{"min":0.87}}}"#,
        "lineage" => r#"{"require-image":false}"#,
        _ => "{}",
    }
}

const AT: i64 = 1_795_719_515;

/// One policy on the clean example (10 KiB), fresh instance per evaluation.
#[divan::bench(args = POLICIES)]
fn evaluate_policy(bencher: divan::Bencher, policy: &str) {
    let m = module(&format!("policies/{policy}"));
    let ctx = EvaluationContext::at("bench", AT);
    let limits = engine().config().ceiling;
    bencher.bench(|| m.evaluate(clean().text(), params(policy), &ctx, &limits));
}

/// The per-evaluation sandbox overhead: a fresh store and instance and one
/// call of a policy that does nothing (the hostile guest's `pass`).
#[divan::bench]
fn sandbox_overhead(bencher: divan::Bencher) {
    let m = module("tests/guests/hostile");
    let ctx = EvaluationContext::at("bench", AT);
    let limits = engine().config().ceiling;
    let doc = r#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":"m"}}"#;
    bencher.bench(|| m.evaluate(doc, r#"{"mode":"pass"}"#, &ctx, &limits));
}

/// The example release gate (six policies) on the clean example.
#[divan::bench]
fn release_gate(bencher: divan::Bencher) {
    static GATE: OnceLock<Gate> = OnceLock::new();
    let gate = GATE.get_or_init(|| {
        let mut text =
            std::fs::read_to_string(Path::new(REPO).join("examples/gates/ml-release.toml")).unwrap();
        for p in POLICIES {
            let b = built(&format!("policies/{p}"));
            text = text.replace(
                &format!("\"../../target/policies/{p}.wasm\""),
                &format!("{:?}", b.path.display().to_string()),
            );
        }
        let file = tmp().join("bench-ml-release.toml");
        std::fs::write(&file, text).unwrap();
        Gate::load(engine(), &file).expect("gate")
    });
    let ctx = EvaluationContext::at("ml-release", AT);
    bencher.bench(|| gate.evaluate(clean(), &ctx));
}

/// Compiling a policy component (what an empty cache costs, per policy).
#[divan::bench(args = POLICIES, sample_count = 5, sample_size = 1)]
fn compile_policy(bencher: divan::Bencher, policy: &str) {
    let b = built(&format!("policies/{policy}"));
    let e = PolicyEngine::new(EngineConfig::default()).expect("engine");
    bencher.bench(|| e.load(&b.path, &b.pin).expect("load"));
}

/// Loading every shipped policy from a warm precompiled cache.
#[divan::bench(sample_count = 20)]
fn cache_load_all_policies(bencher: divan::Bencher) {
    let dir = tmp().join("bench-cache");
    let _ = std::fs::create_dir_all(&dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let e = PolicyEngine::new(EngineConfig {
        cache_dir: Some(dir),
        ..EngineConfig::default()
    })
    .expect("engine");
    let all: Vec<&Built> = POLICIES.iter().map(|p| built(&format!("policies/{p}"))).collect();
    for b in &all {
        e.load(&b.path, &b.pin).expect("warm the cache");
    }
    bencher.bench(|| {
        for b in &all {
            e.load(&b.path, &b.pin).expect("load");
        }
    });
}

/// Verifying a genuine two-line bundle (the CLI's work minus reading files).
#[divan::bench]
fn verify_bundle(bencher: divan::Bencher) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let bundle = std::fs::read(Path::new(REPO).join("fuzz/corpus/bundle/seed-passed.intoto.jsonl")).unwrap();
    let trust = sealgate_attest::TrustPolicy::new(vec![sealgate_attest::TrustedKey {
        name: "bench".into(),
        key: key.verifying_key(),
    }]);
    let subject: Sha256Digest = "631bad177267272b20cf98269ca44cd773add1d7b8226a2659c2ed9ba1b9c6ad"
        .parse()
        .unwrap();
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_719_600);
    bencher.bench(|| sealgate_attest::verify_bundle(&bundle, &subject, &trust, now).expect("accepted"));
}

/// The artifact digest, streamed from a 1 GiB file (compare `openssl dgst
/// -sha256` on the same file: docs/BENCHMARKS.md).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn digest_1gib(bencher: divan::Bencher) {
    let file = tmp().join("bench-1gib.bin");
    if std::fs::metadata(&file).map(|m| m.len()).ok() != Some(1 << 30) {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let block: Vec<u8> = (0..1 << 20)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        for _ in 0..1024 {
            f.write_all(&block).unwrap();
        }
    }
    bencher
        .counter(divan::counter::BytesCount::new(1u64 << 30))
        .bench(|| Sha256Digest::of_reader(std::fs::File::open(&file).unwrap()).unwrap());
}
