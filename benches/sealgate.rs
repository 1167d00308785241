//! What a gate costs: `cargo bench -p sealgate-benches` (figures and the
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

mod peers;

fn main() {
    divan::main();
}

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
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
                let opts = BuildOptions::new(Target::Wasm32UnknownUnknown, tmp().join("bench-components"))
                    .with_target_dir(Some(tmp().join(target)))
                    .with_verbose(false);
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
fn evaluate_policy(bencher: divan::Bencher<'_, '_>, policy: &str) {
    let m = module(&format!("policies/{policy}"));
    let ctx = EvaluationContext::at("bench", AT);
    let limits = engine().config().ceiling;
    bencher.bench(|| m.evaluate(clean().text(), params(policy), &ctx, &limits));
}

/// The per-evaluation sandbox overhead: a fresh store and instance and one
/// call of a policy that does nothing (the hostile guest's `pass`).
#[divan::bench]
fn sandbox_overhead(bencher: divan::Bencher<'_, '_>) {
    let m = module("tests/guests/hostile");
    let ctx = EvaluationContext::at("bench", AT);
    let limits = engine().config().ceiling;
    let doc = r#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":"m"}}"#;
    bencher.bench(|| m.evaluate(doc, r#"{"mode":"pass"}"#, &ctx, &limits));
}

/// The example release gate, its policies' paths pointed at this run's builds.
fn release_gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
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
    })
}

/// The example release gate (six policies) on the clean example.
#[divan::bench]
fn release_gate_example(bencher: divan::Bencher<'_, '_>) {
    let ctx = EvaluationContext::at("ml-release", AT);
    bencher.bench(|| release_gate().evaluate(clean(), &ctx));
}

// ---- Scaled documents, native code and Rego (docs/BENCHMARKS.md) ----

const SIZES: [usize; 3] = [10, 100, 1000];

/// The generated document with `columns` columns and lineage inputs.
fn scaled(columns: usize) -> &'static str {
    static DOCS: OnceLock<Vec<String>> = OnceLock::new();
    let docs = DOCS.get_or_init(|| {
        let docs: Vec<String> = SIZES
            .iter()
            .map(|&n| peers::scaled_document(Path::new(REPO), n))
            .collect();
        for (n, d) in SIZES.iter().zip(&docs) {
            std::fs::write(tmp().join(format!("bench-doc-{n}.json")), d).unwrap();
        }
        check_peers_agree(&docs);
        docs
    });
    &docs[SIZES.iter().position(|&n| n == columns).expect("a bench size")]
}

fn parse(text: &str) -> MetadataDocument {
    MetadataDocument::from_bytes("bench", text.as_bytes().to_vec(), &MetadataLimits::default())
        .expect("valid")
}

fn native_ctx() -> sealgate_policy_sdk::Context {
    sealgate_policy_sdk::Context {
        gate: "ml-release".into(),
        artifact_digest: None,
        evaluated_at: "2026-11-27T00:18:35Z".into(),
        evaluated_at_unix: AT,
    }
}

/// The gate's policies as native code, with the gate's params.
fn native_gate() -> &'static [(String, String, peers::NativePolicy)] {
    static NATIVE: OnceLock<Vec<(String, String, peers::NativePolicy)>> = OnceLock::new();
    NATIVE.get_or_init(|| {
        release_gate()
            .policies()
            .iter()
            .map(|p| {
                let id = p.module.info().id.clone();
                let f = peers::native_policy(&id);
                (id, p.params.to_string(), f)
            })
            .collect()
    })
}

/// The policies that have a Rego counterpart.
const REGO_POLICIES: [&str; 3] = ["sealgate.pii", "sealgate.encryption", "sealgate.lineage"];

/// Rule ids the Rego files implement (the PII value scan, and the
/// Kubernetes, registry and TLS-version encryption rules, are not ported).
fn ported(rule: &str) -> bool {
    (rule.starts_with("pii.column.") || rule.starts_with("pii.declared."))
        || (rule.starts_with("encryption.")
            && !rule.contains("kubernetes")
            && !rule.contains("registry")
            && !rule.contains("weak-tls"))
        || rule.starts_with("lineage.")
}

/// Before timing anything: the three implementations must agree, on the
/// scaled documents (which pass) and on the failing examples.
fn check_peers_agree(scaled: &[String]) {
    let ctx = EvaluationContext::at("ml-release", AT);
    let mut docs: Vec<(String, String)> = SIZES
        .iter()
        .map(|n| format!("scaled-{n}"))
        .zip(scaled.iter().cloned())
        .collect();
    for name in [
        "churn-model",
        "churn-model-pii",
        "churn-model-exposed-storage",
        "churn-model-unvalidated",
    ] {
        let text =
            std::fs::read_to_string(Path::new(REPO).join(format!("examples/metadata/{name}.json"))).unwrap();
        docs.push((name.to_owned(), text));
    }
    let mut rego = [
        peers::RegoRules::new(Path::new(REPO), "pii_idiomatic.rego"),
        peers::RegoRules::new(Path::new(REPO), "pii_merged.rego"),
    ];
    for (name, text) in &docs {
        let report = release_gate().evaluate(&parse(text), &ctx);
        if name.starts_with("scaled") {
            assert_eq!(report.decision, sealgate::GateDecision::Passed, "{name}");
        }
        for (p, (id, params, f)) in report.policies.iter().zip(native_gate()) {
            let native = f(text, params, &native_ctx()).expect("native evaluation");
            assert_eq!(native, p.findings.len(), "{name}: {id} natively");
        }
        let mut want: Vec<String> = report
            .policies
            .iter()
            .filter(|p| REGO_POLICIES.contains(&p.id.as_str()))
            .flat_map(|p| p.findings.iter().map(|f| f.rule_id.clone()))
            .filter(|r| ported(r))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        want.sort();
        for r in &mut rego {
            let mut got = r.evaluate(text);
            got.dedup();
            assert_eq!(got, want, "{name}: Rego and sealgate disagree");
        }
        eprintln!("peers agree on {name}: {} ported rule(s) fire", want.len());
    }
}

/// The whole release gate (six policies, run on all cores) on a generated
/// document, parsing included: the host parses and checks the document once,
/// then every policy parses it again inside its sandbox.
#[divan::bench(args = SIZES)]
fn gate(bencher: divan::Bencher<'_, '_>, columns: usize) {
    let text = scaled(columns);
    let ctx = EvaluationContext::at("ml-release", AT);
    bencher.bench(|| release_gate().evaluate(&parse(text), &ctx));
}

/// The whole release gate on one core: the host's parse and checks, then
/// the six policies one after another (what `gate` does on a 1-core machine).
#[divan::bench(args = SIZES)]
fn gate_one_core(bencher: divan::Bencher<'_, '_>, columns: usize) {
    let text = scaled(columns);
    let ctx = EvaluationContext::at("ml-release", AT);
    bencher.bench(|| {
        let doc = parse(text);
        release_gate()
            .policies()
            .iter()
            .map(|p| {
                p.module
                    .evaluate(doc.text(), &p.params.to_string(), &ctx, &p.limits)
            })
            .collect::<Vec<_>>()
    });
}

/// The host's part of a gate evaluation: reading the document as
/// `MetadataDocument` (sha256, UTF-8, depth scan, JSON, structural checks).
#[divan::bench(args = SIZES)]
fn metadata_document(bencher: divan::Bencher<'_, '_>, columns: usize) {
    let text = scaled(columns);
    bencher.bench(|| parse(text));
}

/// The same six policies' code compiled natively and called in process: the
/// limit (each parses the document, as in the sandbox).
#[divan::bench(args = SIZES)]
fn gate_native(bencher: divan::Bencher<'_, '_>, columns: usize) {
    let text = scaled(columns);
    let ctx = native_ctx();
    bencher.bench(|| {
        native_gate()
            .iter()
            .map(|(_, params, f)| f(text, params, &ctx).expect("evaluates"))
            .sum::<usize>()
    });
}

/// The whole gate on every core: divan runs the benchmark on as many threads
/// as the machine has; throughput = threads / time per evaluation.
#[divan::bench(args = [100], threads = [1, 0])]
fn gate_all_cores(bencher: divan::Bencher<'_, '_>, columns: usize) {
    let text = scaled(columns);
    let ctx = EvaluationContext::at("ml-release", AT);
    bencher.bench(|| release_gate().evaluate(&parse(text), &ctx));
}

/// One policy at one size: `pii/100` and so on.
fn policy_cases() -> Vec<String> {
    POLICIES
        .iter()
        .flat_map(|p| SIZES.iter().map(move |n| format!("{p}/{n}")))
        .collect()
}

#[divan::bench(args = policy_cases())]
fn policy(bencher: divan::Bencher<'_, '_>, case: &str) {
    let (p, n) = case.split_once('/').unwrap();
    let text = scaled(n.parse().unwrap());
    let id = format!("sealgate.{p}");
    let gp = release_gate()
        .policies()
        .iter()
        .find(|g| g.module.info().id == id)
        .unwrap();
    let params = gp.params.to_string();
    let ctx = EvaluationContext::at("ml-release", AT);
    bencher.bench(|| gp.module.evaluate(text, &params, &ctx, &gp.limits));
}

#[divan::bench(args = policy_cases())]
fn policy_native(bencher: divan::Bencher<'_, '_>, case: &str) {
    let (p, n) = case.split_once('/').unwrap();
    let text = scaled(n.parse().unwrap());
    let id = format!("sealgate.{p}");
    let (_, params, f) = native_gate().iter().find(|(i, _, _)| *i == id).unwrap();
    let ctx = native_ctx();
    bencher.bench(|| f(text, params, &ctx).expect("evaluates"));
}

/// The PII, encryption and lineage policies in the sandbox: what the Rego
/// rules are compared with (the policies check more than the Rego does: the
/// PII value scan, Kubernetes and registry rules).
#[divan::bench(args = SIZES)]
fn rego_peer_sealgate(bencher: divan::Bencher<'_, '_>, columns: usize) {
    let text = scaled(columns);
    let ctx = EvaluationContext::at("ml-release", AT);
    let subset: Vec<_> = release_gate()
        .policies()
        .iter()
        .filter(|p| REGO_POLICIES.contains(&p.module.info().id.as_str()))
        .map(|p| (p, p.params.to_string()))
        .collect();
    bencher.bench(|| {
        let doc = parse(text);
        subset
            .iter()
            .map(|(p, params)| p.module.evaluate(doc.text(), params, &ctx, &p.limits))
            .collect::<Vec<_>>()
    });
}

/// The same rules in Rego, idiomatic: every PII pattern tried on every column.
#[divan::bench(args = SIZES, sample_count = 20)]
fn rego_idiomatic(bencher: divan::Bencher<'_, '_>, columns: usize) {
    let text = scaled(columns);
    let mut r = peers::RegoRules::new(Path::new(REPO), "pii_idiomatic.rego");
    bencher.bench_local(|| r.evaluate(text));
}

/// The same rules in Rego, the PII patterns merged into one screening regex.
#[divan::bench(args = SIZES, sample_count = 20)]
fn rego_merged(bencher: divan::Bencher<'_, '_>, columns: usize) {
    let text = scaled(columns);
    let mut r = peers::RegoRules::new(Path::new(REPO), "pii_merged.rego");
    bencher.bench_local(|| r.evaluate(text));
}

/// Compiling a policy component (what an empty cache costs, per policy).
#[divan::bench(args = POLICIES, sample_count = 5, sample_size = 1)]
fn compile_policy(bencher: divan::Bencher<'_, '_>, policy: &str) {
    let b = built(&format!("policies/{policy}"));
    let e = PolicyEngine::new(EngineConfig::default()).expect("engine");
    bencher.bench(|| e.load(&b.path, &b.pin).expect("load"));
}

/// Loading every shipped policy from a warm precompiled cache.
#[divan::bench(sample_count = 20)]
fn cache_load_all_policies(bencher: divan::Bencher<'_, '_>) {
    let dir = tmp().join("bench-cache");
    let _ = std::fs::create_dir_all(&dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let e = PolicyEngine::new(EngineConfig::default().with_cache_dir(Some(dir))).expect("engine");
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

/// Loading the release gate from a warm cache, as `sealgate check` does:
/// the six policies loaded (and their params validated) on all cores.
#[divan::bench(sample_count = 20)]
fn gate_load_warm_cache(bencher: divan::Bencher<'_, '_>) {
    let dir = tmp().join("bench-cache");
    let e = PolicyEngine::new(EngineConfig::default().with_cache_dir(Some(dir))).expect("engine");
    release_gate(); // writes the gate file
    let file = tmp().join("bench-ml-release.toml");
    Gate::load(&e, &file).expect("warm the cache");
    bencher.bench(|| Gate::load(&e, &file).expect("gate"));
}

/// Verifying a genuine two-line bundle (the CLI's work minus reading files).
#[divan::bench]
fn verify_bundle(bencher: divan::Bencher<'_, '_>) {
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
fn digest_1gib(bencher: divan::Bencher<'_, '_>) {
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
