//! Every limit and fault ends in ERROR with a reason naming it, the gate never
//! passes, and the next evaluation in the same process is unaffected.

use sealgate::{EvaluationContext, Gate, GateDecision, GateReport, PolicyOutcome};

use crate::support::*;

/// Assert the single policy ended in ERROR with `needle` in its reason, and
/// that a healthy evaluation in the same process still passes afterwards.
fn assert_error(report: &GateReport, needle: &str) {
    let p = &report.policies[0];
    assert_eq!(p.outcome, PolicyOutcome::Error, "expected ERROR, got {p:#?}");
    assert_eq!(report.decision, GateDecision::Failed);
    let reason = p.error.as_deref().unwrap_or_default();
    assert!(
        reason.contains(needle),
        "reason `{reason}` does not mention `{needle}`"
    );
    assert!(p.findings.is_empty(), "an ERROR carries no findings");
    let after = run_hostile("pass", 0, "");
    assert_eq!(
        after.decision,
        GateDecision::Passed,
        "the engine was harmed: {after:#?}"
    );
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    assert_error(&run_hostile("spin", 0, "fuel = 50000000"), "limit `fuel`");
}

#[test]
fn infinite_loop_hits_the_deadline_when_fuel_is_plenty() {
    // An engine whose fuel ceiling is effectively unlimited, so only the
    // wall-clock deadline can stop the loop.
    let engine = sealgate::PolicyEngine::new(sealgate::EngineConfig::default().with_ceiling(
        sealgate::SandboxLimits {
            fuel: u64::MAX / 2,
            ..Default::default()
        },
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let g = &guests().hostile;
    let gate = write_gate(
        dir.path(),
        &g.path,
        &g.sha256,
        "{ mode = \"spin\" }",
        "[limits]\ntimeout-ms = 200",
    );
    let gate = sealgate::Gate::load(&engine, &gate).unwrap();
    let started = std::time::Instant::now();
    let report = gate.evaluate(
        &minimal_metadata(),
        &sealgate::EvaluationContext::at("test-gate", 0),
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_error(&report, "limit `timeout-ms`");
}

#[test]
fn tight_loop_of_host_calls_is_stopped() {
    let report = run_hostile("host-spin", 0, "fuel = 50000000\ntimeout-ms = 2000");
    let reason = report.policies[0].error.clone().unwrap_or_default();
    assert!(
        reason.contains("limit `fuel`") || reason.contains("limit `timeout-ms`"),
        "{reason}"
    );
    assert_error(&report, "limit");
}

#[test]
fn a_regex_search_cannot_run_past_the_deadline() {
    // Before: one call of `[ab]*a[ab]{10000}c` over 1 MiB ran for minutes
    // under `timeout-ms = 1000`, outside the guest's fuel and epoch checks.
    // Its worst case does not fit in the time left, so it runs on the lazy
    // DFA with the deadline checked as it goes: it answers in time or is
    // stopped at the deadline, never later and never wrongly.
    for timeout in [1000, 50] {
        let started = std::time::Instant::now();
        let report = run_hostile("slow-regex", 1 << 20, &format!("timeout-ms = {timeout}"));
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_millis(timeout + 2000),
            "took {took:?}"
        );
        let p = &report.policies[0];
        match p.outcome {
            PolicyOutcome::Pass => assert_eq!(p.findings[0].message, "matched: false"),
            PolicyOutcome::Error => {
                assert!(
                    p.error.as_deref().unwrap().contains("time limit reached"),
                    "{:?}",
                    p.error
                )
            }
            PolicyOutcome::Fail => panic!("{p:?}"),
        }
    }
    // The same program over a short text takes the regex's own fast path.
    let short = run_hostile("slow-regex", 64, "timeout-ms = 1000");
    assert_eq!(
        short.policies[0].outcome,
        PolicyOutcome::Pass,
        "{:?}",
        short.policies[0].error
    );
}

#[test]
fn a_policys_compiled_patterns_are_bounded_in_host_memory() {
    // Before: distinct large patterns were cached without a byte bound,
    // growing the host by gigabytes and never freeing them.
    let dir = tempfile::tempdir().unwrap();
    let g = &guests().hostile;
    let gate = write_gate(
        dir.path(),
        &g.path,
        &g.sha256,
        "{ mode = \"regex-flood\", n = 60 }",
        "",
    );
    let gate = Gate::load(engine(), &gate).unwrap_or_else(|e| panic!("{e}"));
    let report = gate.evaluate(
        &minimal_metadata(),
        &EvaluationContext::at("test-gate", 1_795_719_515),
    );
    assert_eq!(
        report.policies[0].outcome,
        PolicyOutcome::Pass,
        "{:?}",
        report.policies[0].error
    );
    let cached = gate.policies()[0].module.regex_cache_bytes();
    assert!(cached > 0);
    assert!(
        cached <= sealgate::host::MAX_CACHE_BYTES_PER_POLICY,
        "{cached} bytes cached"
    );
    // Each policy module has its own cache: another's is untouched.
    let other = Gate::load(engine(), &hostile_gate(dir.path(), "pass")).unwrap();
    assert_eq!(other.policies()[0].module.regex_cache_bytes(), 0);
}

#[test]
fn trap_and_panic_are_errors() {
    assert_error(&run_hostile("trap", 0, ""), "unreachable");
    let panicked = run_hostile("panic", 0, "");
    // The SDK routes the panic message to the log, so the author sees why.
    let log = &panicked.policies[0].log;
    assert!(
        log.iter()
            .any(|l| l.level == "error" && l.message.contains("the policy panicked")),
        "{log:?}"
    );
    assert_error(&panicked, "policy trapped");
}

#[test]
fn deep_recursion_exhausts_the_wasm_stack_not_the_host() {
    assert_error(&run_hostile("recurse", 0, ""), "stack");
}

/// Rust code cannot emit `table.grow`, but every table a component needs is
/// sized through the same limiter: a gate allowing one element refuses the
/// policy's function table, and allowing one instance refuses the component's
/// several core instances. The next evaluation is fine.
#[test]
fn table_and_instance_limits_are_enforced() {
    let g = &guests().hostile;
    for (limit, needle) in [
        ("table-elements = 1", "limit `table-elements`"),
        ("instances = 1", "limit `instances`"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let gate = write_gate(
            dir.path(),
            &g.path,
            &g.sha256,
            "{ mode = \"pass\" }",
            &format!("[limits]\n{limit}"),
        );
        // The limits apply from the first call, `validate-params` at load.
        let err = sealgate::Gate::load(engine(), &gate)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("validate-params did not complete") && err.contains(needle),
            "{err}"
        );
        assert_eq!(run_hostile("pass", 0, "").decision, GateDecision::Passed);
    }
}

#[test]
fn memory_growth_stops_at_the_limit() {
    assert_error(
        &run_hostile("grow-memory", 0, "memory-bytes = 16777216"),
        "limit `memory-bytes`",
    );
    // And at the default limit too.
    assert_error(&run_hostile("grow-memory", 0, ""), "over the 67108864-byte limit");
}

#[test]
fn oversized_verdict_is_refused() {
    assert_error(
        &run_hostile("huge-verdict", 300_000, "output-bytes = 100000"),
        "limit `output-bytes`",
    );
    assert_error(
        &run_hostile("many-findings", 20_000, "output-bytes = 100000"),
        "limit `output-bytes`",
    );
    // Within the cap it is fine.
    let ok = run_hostile("huge-verdict", 1_000, "output-bytes = 100000");
    assert_eq!(ok.policies[0].outcome, PolicyOutcome::Pass, "{ok:#?}");
}

#[test]
fn malformed_verdicts_are_errors() {
    assert_error(&run_hostile("bad-rule-id", 0, ""), "rule id");
}

/// A policy that declares a rule catalogue is held to it: a finding under a
/// rule id it did not declare is an ERROR, never a pass or a silent finding.
#[test]
fn a_finding_outside_the_rule_catalogue_is_an_error() {
    assert_error(
        &run_hostile("undeclared-rule", 0, ""),
        "rule id `other.rule` is not in the policy's rule catalogue",
    );
    // Ids under the family it declares (`test.*`) are its own.
    let ok = run_hostile("fail", 0, "");
    assert_eq!(ok.policies[0].outcome, PolicyOutcome::Fail, "{ok:#?}");
}

#[test]
fn a_pointer_that_does_not_resolve_is_kept_at_the_root_with_a_note() {
    // `artifact/name` (no leading slash) is no JSON Pointer: the finding
    // stays, and so does its severity, but it is located at the root.
    let report = run_hostile("bad-pointer", 0, "");
    let p = &report.policies[0];
    assert_eq!(p.outcome, PolicyOutcome::Pass, "{:?}", p.error);
    let f = &p.findings[0];
    assert_eq!((f.rule_id.as_str(), f.pointer.as_str()), ("test.bad", ""));
    assert!(
        f.message
            .ends_with("(the policy located this at `artifact/name`, which is not a JSON Pointer (RFC 6901); shown at the document root)"),
        "{}",
        f.message
    );
}

#[test]
fn findings_past_the_cap_are_dropped_and_say_so() {
    let report = run_hostile("many-findings", 5_000, "");
    let p = &report.policies[0];
    assert_eq!(p.findings.len(), sealgate::findings::MAX_FINDINGS_PER_POLICY + 1);
    let last = p.findings.last().unwrap();
    assert_eq!(last.rule_id, sealgate::findings::DROPPED_RULE_ID);
    assert!(
        last.message.starts_with("4000 more finding(s) were dropped"),
        "{}",
        last.message
    );
    // The outcome was judged on all 5 000 (all info: a pass).
    assert_eq!(p.outcome, PolicyOutcome::Pass);
}

#[test]
fn error_returned_by_the_policy_is_an_error_outcome() {
    assert_error(&run_hostile("error", 0, ""), "cannot judge this artifact");
    assert_error(&run_hostile("bad-regex", 0, ""), "invalid pattern");
}

#[test]
fn log_is_bounded_and_says_it_was_cut() {
    let report = run_hostile("log-flood", 100_000, "log-bytes = 4096");
    let p = &report.policies[0];
    assert_eq!(p.outcome, PolicyOutcome::Pass, "{:?}", p.error);
    let kept: usize = p.log.iter().map(|l| l.message.len()).sum();
    assert!(kept <= 4096 + 200, "kept {kept} bytes of log");
    assert!(
        p.log.last().unwrap().message.contains("log truncated"),
        "{:?}",
        p.log.last()
    );
}

#[test]
fn no_state_survives_between_evaluations() {
    // The guest counts evaluations in a static; a reused instance would say 2.
    for _ in 0..3 {
        let report = run_hostile("count", 0, "");
        assert_eq!(report.policies[0].findings[0].message, "evaluation 1");
    }
}

#[test]
fn policy_verdict_and_gate_threshold_both_decide() {
    // The policy fails itself on a low finding: FAIL though below `fail-on`.
    let failed = run_hostile("fail", 0, "");
    assert_eq!(failed.policies[0].outcome, PolicyOutcome::Fail);
    assert_eq!(failed.decision, GateDecision::Failed);
    // The policy passes but reports a high finding: the gate fails it.
    let high = run_hostile("finding", 0, "");
    assert_eq!(high.policies[0].outcome, PolicyOutcome::Fail);
}

#[test]
fn evaluation_is_deterministic() {
    let a = run_hostile("context", 0, "");
    let b = run_hostile("context", 0, "");
    assert_eq!(a, b);
    assert_eq!(a.policies[0].fuel_consumed, b.policies[0].fuel_consumed);
}

/// The regex limits the SDK tells policies (and the PII policy plans its
/// screening pattern by) are the host's, stated once on each side of the
/// boundary and checked here.
#[test]
fn the_sdk_states_the_hosts_regex_limits() {
    use sealgate::host;
    use sealgate_policy_sdk::limits;
    assert_eq!(limits::MAX_PATTERN_BYTES, host::MAX_PATTERN_BYTES);
    assert_eq!(limits::MAX_TEXT_BYTES, host::MAX_TEXT_BYTES);
    assert_eq!(limits::MAX_COMPILED_BYTES, host::MAX_COMPILED_BYTES);
    assert_eq!(limits::MAX_NESTING, host::MAX_NESTING);
    // The SDK's native stand-in enforces them as the host does.
    let long = "a".repeat(limits::MAX_PATTERN_BYTES + 1);
    assert!(sealgate_policy_sdk::regex_is_match(&long, "a").is_err());
    let text = "a".repeat(limits::MAX_TEXT_BYTES + 1);
    assert!(sealgate_policy_sdk::regex_is_match("a", &text).is_err());
}
