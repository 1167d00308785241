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

/// A gate running the WASI probe with `params`, under `limits`.
fn sleeper_gate(dir: &std::path::Path, params: &str, limits: &str) -> std::path::PathBuf {
    let g = &guests().wasi_probe;
    write_gate(dir, &g.path, &g.sha256, params, &format!("[limits]\n{limits}"))
}

#[test]
fn a_sleep_returns_at_once_on_the_virtual_monotonic_clock() {
    // Before: `std::thread::sleep(30 s)` waited on a real timer inside a WASI
    // host call, where the epoch deadline cannot reach: 30 s under a 1 s limit.
    let dir = tempfile::tempdir().unwrap();
    let gate = sleeper_gate(
        dir.path(),
        r#"{ "sleep-ms" = 30000, in = "evaluate" }"#,
        "timeout-ms = 1000",
    );
    let gate = Gate::load(engine(), &gate).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let report = gate.evaluate(
        &minimal_metadata(),
        &EvaluationContext::at("test-gate", 1_795_719_515),
    );
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    let p = &report.policies[0];
    assert_eq!(p.outcome, PolicyOutcome::Pass, "{:?}", p.error);
    // The guest's own clock says it slept: time inside the sandbox is
    // consistent, it just costs no real time.
    assert_eq!(p.findings[0].message, "30000 ms of monotonic time");
}

#[test]
fn endless_sleeps_end_within_the_time_limit_in_evaluate_and_validate() {
    for stage in ["evaluate", "validate"] {
        let dir = tempfile::tempdir().unwrap();
        let gate = sleeper_gate(
            dir.path(),
            &format!(r#"{{ "sleep-ms" = 3600000, in = "{stage}", forever = true }}"#),
            "timeout-ms = 1000",
        );
        let started = std::time::Instant::now();
        let result = Gate::load(engine(), &gate).map(|gate| {
            gate.evaluate(
                &minimal_metadata(),
                &EvaluationContext::at("test-gate", 1_795_719_515),
            )
        });
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(5), "{stage}: took {took:?}");
        match (stage, result) {
            ("evaluate", Ok(report)) => {
                let p = &report.policies[0];
                assert_eq!(p.outcome, PolicyOutcome::Error);
                assert_eq!(report.decision, sealgate::GateDecision::Failed);
                let reason = p.error.as_deref().unwrap();
                // A sleep loop is a spin: fuel or the deadline ends it.
                assert!(
                    reason.contains("CPU limit reached") || reason.contains("time limit reached"),
                    "{reason}"
                );
            }
            ("validate", Err(e)) => {
                let e = e.to_string();
                assert!(e.contains("validate-params did not complete"), "{e}");
            }
            (stage, other) => panic!("{stage}: unexpected {:?}", other.map(|r| r.decision)),
        }
    }
}

#[test]
fn an_info_export_that_sleeps_forever_does_not_hang_loading() {
    let g = &guests().sleepy_info;
    let started = std::time::Instant::now();
    let err = match engine().load(&g.path, &g.sha256) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a component whose info never returns must not load"),
    };
    let took = started.elapsed();
    // The engine's ceiling applies to `info`: 5 s of time, 2e9 fuel.
    assert!(took < std::time::Duration::from_secs(8), "took {took:?}");
    assert!(err.contains("its `info` export failed"), "{err}");
    assert!(
        err.contains("CPU limit reached") || err.contains("time limit reached"),
        "{err}"
    );
}
