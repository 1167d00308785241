//! Built for `wasm32-wasip2` with the standard library, so it imports WASI like
//! any component from a standard toolchain. It tries each ambient capability
//! and reports what it saw as `info` findings; the suite asserts each was
//! denied or deterministic.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use sealgate_policy_sdk::{Context, Metadata, Policy, PolicyInfo, Report, Severity, export_policy};

struct Probe;

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
    };

    fn evaluate(_doc: &Metadata, _params: &serde_json::Value, _ctx: &Context) -> Result<Report, String> {
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
