//! Shared fixtures: built guest components, temp gates, and the CLI binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use sealgate::{
    EngineConfig, EvaluationContext, Gate, GateReport, MetadataDocument, MetadataLimits, PolicyEngine,
    Sha256Digest,
};
use sealgate_policy_build::{BuildOptions, Target, build_policy};

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

pub fn repo(rel: &str) -> PathBuf {
    Path::new(REPO).join(rel)
}

/// The shared fixtures beside the checkout (`../shared`).
pub fn shared(rel: &str) -> PathBuf {
    Path::new(REPO).join("../shared").join(rel)
}

/// A component built for the suite.
pub struct Built {
    pub path: PathBuf,
    pub sha256: Sha256Digest,
}

pub struct Guests {
    pub pii: Built,
    pub lineage: Built,
    pub encryption: Built,
    pub retention: Built,
    pub drift: Built,
    pub quality: Built,
    /// The Rego engine (`policies/rego-engine`).
    pub rego: Built,
    pub hostile: Built,
    pub wasi_probe: Built,
    /// Calls itself `sealgate.pii` and passes everything.
    pub impostor: Built,
    /// A wasm32-wasip2 component whose `info` sleeps forever.
    pub sleepy_info: Built,
    /// Built against contract 0.1.0 (`wit/v0.1.0`): no rule catalogue.
    pub contract_v0_1: Built,
}

impl Guests {
    /// The shipped policies, in the example gate's order.
    pub fn shipped(&self) -> [(&'static str, &Built); 6] {
        [
            ("pii", &self.pii),
            ("lineage", &self.lineage),
            ("encryption", &self.encryption),
            ("retention", &self.retention),
            ("drift", &self.drift),
            ("quality", &self.quality),
        ]
    }
}

/// Build every guest once per test run (the first caller builds, the rest wait).
pub fn guests() -> &'static Guests {
    static GUESTS: OnceLock<Guests> = OnceLock::new();
    GUESTS.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let build = |dir: &str, target: Target, target_dir: &str| {
            let opts = BuildOptions::new(target, tmp.join("components"))
                .with_target_dir(Some(tmp.join(target_dir)))
                .with_verbose(false);
            let b = build_policy(&repo(dir), &opts).unwrap_or_else(|e| panic!("building {dir}: {e}"));
            Built {
                path: b.path,
                sha256: b.sha256,
            }
        };
        let policy = |name: &str| {
            build(
                &format!("policies/{name}"),
                Target::Wasm32UnknownUnknown,
                "policies-target",
            )
        };
        Guests {
            pii: policy("pii"),
            lineage: policy("lineage"),
            encryption: policy("encryption"),
            retention: policy("retention"),
            drift: policy("drift"),
            quality: policy("quality"),
            rego: policy("rego-engine"),
            hostile: build(
                "tests/guests/hostile",
                Target::Wasm32UnknownUnknown,
                "guests-target",
            ),
            wasi_probe: build("tests/guests/wasi-probe", Target::Wasm32Wasip2, "guests-target"),
            impostor: build(
                "tests/guests/impostor",
                Target::Wasm32UnknownUnknown,
                "guests-target",
            ),
            sleepy_info: build("tests/guests/sleepy-info", Target::Wasm32Wasip2, "guests-target"),
            contract_v0_1: build(
                "tests/guests/contract-v0-1",
                Target::Wasm32UnknownUnknown,
                "guests-target",
            ),
        }
    })
}

/// One engine for library-level tests (compiling is the slow part; the
/// engine is shared like a server would share it).
pub fn engine() -> &'static PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PolicyEngine::new(EngineConfig::default()).expect("engine"))
}

/// A gate file with one policy, written into `dir`.
pub fn write_gate(dir: &Path, module: &Path, pin: &Sha256Digest, params: &str, extra: &str) -> PathBuf {
    let gate = dir.join("gate.toml");
    let text = format!(
        "api-version = \"sealgate/v1\"\nname = \"test-gate\"\n{extra}\n[[policies]]\nmodule = {module:?}\nsha256 = \"{pin}\"\nparams = {params}\n",
        module = module.display().to_string(),
    );
    std::fs::write(&gate, text).unwrap();
    gate
}

/// Evaluate the hostile guest in `mode` through the library, with `limits`
/// (a TOML table body, e.g. `fuel = 1000`) applied by the gate.
pub fn run_hostile(mode: &str, n: u64, limits: &str) -> GateReport {
    let dir = tempfile::tempdir().unwrap();
    let g = &guests().hostile;
    let gate = write_gate(
        dir.path(),
        &g.path,
        &g.sha256,
        &format!("{{ mode = \"{mode}\", n = {n} }}"),
        &format!("[limits]\n{limits}"),
    );
    let gate = Gate::load(engine(), &gate).unwrap_or_else(|e| panic!("loading gate: {e}"));
    gate.evaluate(
        &minimal_metadata(),
        &EvaluationContext::at("test-gate", 1_795_719_515),
    )
}

pub fn minimal_metadata() -> MetadataDocument {
    MetadataDocument::from_bytes(
        "minimal.json",
        br#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":"m"}}"#.to_vec(),
        &MetadataLimits::default(),
    )
    .unwrap()
}

/// The built CLI.
pub fn sealgate(args: &[&str]) -> Output {
    sealgate_in(Path::new(REPO), args)
}

/// The CLI as the suite runs it: the suite's own precompiled cache and cache
/// key (`$XDG_CONFIG_HOME/sealgate/cache.key`), never the user's.
pub fn sealgate_command() -> Command {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_sealgate"));
    command
        .current_dir(REPO)
        .env("SEALGATE_CACHE_DIR", tmp.join("cli-cache"))
        .env("XDG_CONFIG_HOME", tmp.join("config"));
    command
}

/// The CLI run from `dir` (paths in its output are relative to where it ran).
pub fn sealgate_in(dir: &Path, args: &[&str]) -> Output {
    let out = sealgate_command()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run sealgate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "sealgate panicked: {stderr}");
    out
}

/// `sealgate check --gate GATE --metadata META EXTRA…`.
pub fn check(gate: &Path, metadata: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "check",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        metadata.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    sealgate(&args)
}

/// A gate running the hostile guest in `mode`, written into `dir`.
pub fn hostile_gate(dir: &Path, mode: &str) -> PathBuf {
    let g = &guests().hostile;
    write_gate(dir, &g.path, &g.sha256, &format!("{{ mode = \"{mode}\" }}"), "")
}

/// The clean example model's metadata.
pub fn clean_metadata() -> PathBuf {
    repo("examples/metadata/churn-model.json")
}

/// The model file `examples/metadata/{example}.json` describes (its
/// `/artifact/digest`), copied from the real MLflow store into `dir`.
pub fn model_file(dir: &Path, example: &str) -> PathBuf {
    let id = match example {
        "churn-model-pii" => "m-b418c6a56775426ea86364aa6121a6b2",
        _ => "m-adc4bb85122d4bb8865ef4a378276603",
    };
    let src = shared(&format!(
        "fixtures/real/mlflow3-mlruns/358768659074516099/models/{id}/artifacts/model.skops"
    ));
    let dst = dir.join(format!("{example}.skops"));
    std::fs::copy(src, &dst).unwrap();
    dst
}

/// `examples/metadata/{example}.json` rewritten into `dir` to describe the
/// artifact `digest` (an image, a file of the test's): what a team's metadata
/// for that artifact says. sealgate refuses metadata of another artifact.
pub fn metadata_describing(dir: &Path, example: &str, digest: &Sha256Digest) -> PathBuf {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo(&format!("examples/metadata/{example}.json"))).unwrap())
            .unwrap();
    doc["artifact"]["digest"] = serde_json::json!({"sha256": digest.to_string()});
    let out = dir.join(format!("{example}.{}.json", &digest.to_string()[..12]));
    std::fs::write(&out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What `policy inspect` says `component` imports is the contract's host
/// interface and nothing else (no WASI).
pub fn assert_imports_only_the_host_interface(component: &Path) {
    let out = sealgate(&[
        "policy",
        "inspect",
        "--format",
        "json",
        component.to_str().unwrap(),
    ]);
    let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let imports: Vec<&str> = inspect["imports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        !imports.is_empty() && imports.iter().all(|i| i.starts_with("sealgate:policy/")),
        "{}: {imports:?}",
        component.display()
    );
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The example release gate with its module paths pointed at the suite's
/// builds of the policies (the pins are kept as written).
pub fn example_gate(dir: &Path) -> PathBuf {
    gate_with_suite_builds(&repo("examples/gates/ml-release.toml"), dir, 6)
}

/// A shipped gate file rewritten into `dir` with its `count` module paths
/// (`../../target/policies/NAME.wasm`) pointed at the suite's builds.
pub fn gate_with_suite_builds(gate: &Path, dir: &Path, count: usize) -> PathBuf {
    let mut text = std::fs::read_to_string(gate).unwrap();
    let mut replaced = 0;
    for (name, built) in guests().shipped() {
        let written = format!("\"../../target/policies/{name}.wasm\"");
        if text.contains(&written) {
            text = text.replace(&written, &format!("{:?}", built.path.display().to_string()));
            replaced += 1;
        }
    }
    assert_eq!(
        replaced,
        count,
        "{} no longer names its {count} policies",
        gate.display()
    );
    let out = dir.join(gate.file_name().unwrap());
    std::fs::write(&out, text).unwrap();
    out
}

/// Where `doc` breaks `schemas/metadata-v1.schema.json`, one line per error.
pub fn metadata_schema_errors(doc: &serde_json::Value) -> Vec<String> {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = SCHEMA.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_slice(&std::fs::read(repo("schemas/metadata-v1.schema.json")).unwrap()).unwrap();
        jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
    });
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// What [`attest_example`] made.
pub struct Attested {
    pub bundle: PathBuf,
    pub artifact: PathBuf,
    pub public: PathBuf,
}

/// A key pair in `dir/keys`, an artifact, and a PASSED bundle for it from the
/// example gate on the clean model; `extra` goes to `attest`.
pub fn attest_example(dir: &Path, extra: &[&str]) -> Attested {
    let d = |p: &str| dir.join(p);
    let out = sealgate(&["keygen", "--out", d("keys").to_str().unwrap(), "--name", "ci"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let gate = example_gate(dir);
    // The model the example metadata describes, under another name.
    let artifact = d("model.bin");
    std::fs::rename(model_file(dir, "churn-model"), &artifact).unwrap();
    let bundle = d("model.intoto.jsonl");
    let mut args = vec![
        "attest",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        "examples/metadata/churn-model.json",
        "--artifact",
        artifact.to_str().unwrap(),
        "--key",
        d("keys/ci.key").to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let out = sealgate(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    Attested {
        bundle,
        artifact,
        public: d("keys/ci.pub"),
    }
}

/// Evaluate one built policy, alone in a gate with `params`, on the
/// metadata document `doc`: its result (outcome, findings).
pub fn evaluate_policy(policy: &Built, params: &str, doc: &serde_json::Value) -> sealgate::PolicyResult {
    let dir = tempfile::tempdir().unwrap();
    let gate = Gate::load(
        engine(),
        &write_gate(dir.path(), &policy.path, &policy.sha256, params, ""),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let meta = MetadataDocument::from_bytes(
        "test document",
        serde_json::to_vec(doc).unwrap(),
        &MetadataLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut report = gate.evaluate(&meta, &EvaluationContext::at("test-gate", 1_795_719_515));
    report.policies.remove(0)
}
