//! Built for `wasm32-wasip2` with the standard library, so it imports WASI like
//! any component from a standard toolchain. It tries each ambient capability
//! and reports what it saw as `info` findings; the suite asserts each was
//! denied or deterministic.
//!
//! With `{"sleep-ms": N, "in": "validate" | "evaluate"}` it sleeps instead
//! (`std::thread::sleep`, a wait on a `wasi:clocks/monotonic-clock`
//! pollable), forever when `"forever": true`, and then reports how much
//! monotonic time it saw pass.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sealgate_policy_sdk::{Context, Metadata, Policy, PolicyInfo, Report, Severity, export_policy};

struct Probe;

/// Sleep as `params` ask when `params.in` is `stage`; the monotonic time seen to pass.
fn sleep_if_asked(params: &serde_json::Value, stage: &str) -> Option<Duration> {
    if params.get("in").and_then(|v| v.as_str()) != Some(stage) {
        return None;
    }
    let ms = params.get("sleep-ms").and_then(|v| v.as_u64()).unwrap_or(0);
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(ms));
        if params.get("forever") != Some(&serde_json::Value::Bool(true)) {
            return Some(start.elapsed());
        }
    }
}

fn outcome<T: std::fmt::Debug, E: std::fmt::Display>(r: Result<T, E>) -> String {
    match r {
        Ok(v) => format!("ok: {v:?}"),
        Err(e) => format!("denied: {e}"),
    }
}

impl Policy for Probe {
    type Params = serde_json::Value;
    const INFO: PolicyInfo = PolicyInfo {
        id: "test.wasi-probe",
        version: "0.0.0",
        summary: "Reports which ambient capabilities it could reach.",
        params_schema: r#"{"type":"object"}"#,
        rules: &[],
    };

    fn validate(params: &serde_json::Value) -> Result<(), String> {
        sleep_if_asked(params, "validate");
        Ok(())
    }

    fn evaluate(_doc: &Metadata, params: &serde_json::Value, _ctx: &Context) -> Result<Report, String> {
        if let Some(slept) = sleep_if_asked(params, "evaluate") {
            let mut report = Report::new();
            let saw = format!("{} ms of monotonic time", slept.as_millis());
            report.finding("probe.slept", Severity::Info, "", saw, "none");
            return Ok(report);
        }
        let mut seen: Vec<(&str, String)> = Vec::new();
        seen.push(("file", outcome(std::fs::read_to_string("/etc/passwd"))));
        seen.push(("dir", outcome(std::fs::read_dir(".").map(|d| d.count()))));
        seen.push(("env", format!("{} vars", std::env::vars().count())));
        seen.push(("args", format!("{} args", std::env::args().count())));
        seen.push(("socket", outcome(std::net::TcpStream::connect("127.0.0.1:80"))));
        seen.push((
            "clock",
            outcome(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs())),
        ));
        seen.push(("random", format!("{}", RandomState::new().hash_one(42u64))));
        println!("hello from stdout");
        let _ = writeln!(std::io::stderr(), "hello from stderr");
        let mut report = Report::new();
        for (what, saw) in seen {
            report.finding(&format!("probe.{what}"), Severity::Info, "", saw, "none");
        }
        Ok(report)
    }
}

export_policy!(Probe);
