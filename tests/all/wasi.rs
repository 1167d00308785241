//! Components from a standard toolchain (wasm32-wasip2, importing WASI) load
//! and run against a WASI context that grants nothing.

use sealgate::{EvaluationContext, Gate, PolicyOutcome};

use crate::support::*;

fn probe() -> std::collections::BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let g = &guests().wasi_probe;
    let gate = write_gate(dir.path(), &g.path, &g.sha256, "{}", "");
    let gate = Gate::load(engine(), &gate).unwrap_or_else(|e| panic!("{e}"));
    assert!(gate.policies()[0].module.uses_wasi());
    let report = gate.evaluate(
        &minimal_metadata(),
        &EvaluationContext::at("test-gate", 1_795_719_515),
    );
    let p = &report.policies[0];
    assert_eq!(p.outcome, PolicyOutcome::Pass, "{:?}", p.error);
    let log: Vec<String> = p
        .log
        .iter()
        .map(|l| format!("{}: {}", l.level, l.message.trim()))
        .collect();
    assert!(log.contains(&"stdout: hello from stdout".to_owned()), "{log:?}");
    assert!(log.contains(&"stderr: hello from stderr".to_owned()), "{log:?}");
    p.findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.message.clone()))
        .collect()
}

#[test]
fn wasi_component_sees_no_files_env_args_or_network() {
    let seen = probe();
    assert!(seen["probe.file"].starts_with("denied"), "{seen:?}");
    assert!(seen["probe.dir"].starts_with("denied"), "{seen:?}");
    assert_eq!(seen["probe.env"], "0 vars");
    assert_eq!(seen["probe.args"], "0 args");
    assert!(seen["probe.socket"].starts_with("denied"), "{seen:?}");
}

#[test]
fn wasi_clock_is_the_evaluation_time_and_randomness_is_fixed() {
    let a = probe();
    assert_eq!(a["probe.clock"], "ok: 1795719515");
    // Same "random" hash seed on every evaluation: no nondeterminism via WASI.
    let b = probe();
    assert_eq!(a["probe.random"], b["probe.random"]);
}
