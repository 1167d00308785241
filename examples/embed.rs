//! Embedding sealgate: a gate read from memory, its components taken from a
//! content-addressed store (here a directory of built policies; in an
//! application, a registry or a database), the metadata evaluated in
//! process. No path in the gate file is opened: each policy is found by the
//! sha256 the gate pins, and checked against it again before it compiles.
//!
//! ```console
//! $ cargo run --example embed -- examples/gates/ml-release.toml target/policies examples/metadata/churn-model.json
//! ml-release: PASSED (6 policies, 0 findings)
//! ```
//!
//! Exit: 0 passed, 1 failed, 2 an error (printed).

use std::collections::HashMap;
use std::error::Error;
use std::path::Path;
use std::process::ExitCode;

use sealgate::{
    EngineConfig, EvaluationContext, Gate, GateConfig, GateDecision, LoadError, MetadataDocument,
    MetadataLimits, PolicyEngine, Sha256Digest,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [gate, store, metadata] = args.as_slice() else {
        eprintln!("usage: embed GATE.toml STORE_DIR METADATA.json");
        return ExitCode::from(2);
    };
    match run(Path::new(gate), Path::new(store), Path::new(metadata)) {
        Ok(GateDecision::Passed) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(gate_file: &Path, store_dir: &Path, metadata_file: &Path) -> Result<GateDecision, Box<dyn Error>> {
    // The store: every `.wasm` in the directory, by its sha256.
    let mut store: HashMap<Sha256Digest, Vec<u8>> = HashMap::new();
    for entry in std::fs::read_dir(store_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let bytes = std::fs::read(&path)?;
            store.insert(Sha256Digest::of_bytes(&bytes), bytes);
        }
    }

    // The gate, from text: where it came from only names it in errors.
    let text = std::fs::read_to_string(gate_file)?;
    let config = GateConfig::from_toml_str(&text, gate_file)?;
    let engine = PolicyEngine::new(EngineConfig::default())?;
    let gate = Gate::from_config(&engine, config, gate_file, |path, entry| {
        store
            .get(&entry.sha256)
            .cloned()
            .ok_or_else(|| LoadError::Unavailable {
                path: path.to_owned(),
                reason: format!(
                    "no component with sha256:{} in {}",
                    entry.sha256,
                    store_dir.display()
                ),
            })
    })?;

    let metadata = MetadataDocument::load(metadata_file, &MetadataLimits::default())?;
    let report = gate.evaluate(&metadata, &EvaluationContext::now(gate.name()));
    let findings: usize = report.policies.iter().map(|p| p.findings.len()).sum();
    println!(
        "{}: {} ({} policies, {findings} findings)",
        report.gate,
        sealgate_log::gate_outcome(&report),
        report.policies.len()
    );
    Ok(report.decision)
}
