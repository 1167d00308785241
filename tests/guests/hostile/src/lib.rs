//! A hostile policy. Its `mode` param picks the attack; the suite checks that
//! each ends in an ERROR naming the limit or fault, and never in PASSED.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};

use sealgate_policy_sdk::{Context, Metadata, Policy, PolicyInfo, Report, RuleInfo, Severity, export_policy};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    mode: String,
    /// Size knob for modes that need one.
    #[serde(default)]
    n: u64,
}

/// Survives between evaluations only if the host reuses instances.
static EVALUATIONS: AtomicU32 = AtomicU32::new(0);

struct Hostile;

#[inline(never)]
#[allow(unconditional_recursion)] // the point: exhaust the stack
fn recurse(depth: u64) -> u64 {
    black_box(recurse(black_box(depth + 1)) + 1)
}

impl Policy for Hostile {
    type Params = Params;
    const INFO: PolicyInfo = PolicyInfo {
        id: "test.hostile",
        version: "0.0.0",
        summary: "Misbehaves on request.",
        params_schema: r#"{"type":"object","required":["mode"]}"#,
        // Every id it reports is under `test.`; `undeclared-rule` steps outside.
        rules: &[RuleInfo {
            id: "test.*",
            severity: Severity::Info,
            summary: "whatever the mode asks for",
        }],
    };

    fn validate(params: &Params) -> Result<(), String> {
        match params.mode.as_str() {
            "refuse-params" => Err("mode `refuse-params` is refused, as asked".into()),
            "trap-in-validate" => panic!("trap during validate-params"),
            _ => Ok(()),
        }
    }

    fn evaluate(_doc: &Metadata, params: &Params, ctx: &Context) -> Result<Report, String> {
        let mut report = Report::new();
        let count = EVALUATIONS.fetch_add(1, Ordering::SeqCst) + 1;
        match params.mode.as_str() {
            "pass" => {}
            "fail" => {
                report
                    .finding("test.fail", Severity::Low, "", "failed on purpose", "none")
                    .fail();
            }
            "finding" => {
                report.finding(
                    "test.finding",
                    Severity::High,
                    "/artifact/name",
                    "a high finding",
                    "none",
                );
            }
            "count" => {
                report.finding(
                    "test.count",
                    Severity::Info,
                    "",
                    format!("evaluation {count}"),
                    "none",
                );
            }
            "context" => {
                let digest = ctx.artifact_digest.clone().unwrap_or_default();
                for (k, v) in [
                    ("gate", ctx.gate.clone()),
                    ("at", ctx.evaluated_at.clone()),
                    ("unix", ctx.evaluated_at_unix.to_string()),
                    ("digest", digest),
                ] {
                    report.finding(&format!("test.context.{k}"), Severity::Info, "", v, "none");
                }
            }
            "spin" => loop {
                black_box(&mut report);
            },
            "host-spin" => loop {
                black_box(sealgate_policy_sdk::regex_is_match("a+b", "aaaaaaaaab").ok());
            },
            "trap" => core::arch::wasm32::unreachable(),
            "panic" => panic!("the policy panicked"),
            "recurse" => {
                black_box(recurse(0));
            }
            "grow-memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "huge-verdict" => {
                let big = "x".repeat(params.n as usize);
                report.finding("test.huge", Severity::Info, "", big, "none");
            }
            "many-findings" => {
                for i in 0..params.n {
                    report.finding("test.many", Severity::Info, "", format!("finding {i}"), "none");
                }
            }
            "error" => return Err("cannot judge this artifact".into()),
            "bad-pointer" => {
                report.finding(
                    "test.bad",
                    Severity::Low,
                    "artifact/name",
                    "pointer without a slash",
                    "none",
                );
            }
            "undeclared-rule" => {
                report.finding("other.rule", Severity::Low, "", "not in the catalogue", "none");
            }
            "bad-rule-id" => {
                report.finding("has spaces", Severity::Low, "", "bad rule id", "none");
            }
            "log-flood" => {
                for i in 0..params.n {
                    sealgate_policy_sdk::log(&format!("line {i} of a flood"));
                }
            }
            "bad-regex" => {
                sealgate_policy_sdk::regex_is_match("(unclosed", "x")?;
            }
            // A search that is linear in text × program, not in text alone:
            // `n` bytes of text against a ~500 KB program.
            "slow-regex" => {
                let text = "ab".repeat(params.n as usize / 2);
                let found = sealgate_policy_sdk::regex_is_match("[ab]*a[ab]{10000}c", &text)?;
                report.finding(
                    "test.slow-regex",
                    Severity::Info,
                    "",
                    format!("matched: {found}"),
                    "none",
                );
            }
            // `n` distinct patterns of large compiled programs, to grow the
            // host's pattern cache.
            "regex-flood" => {
                for i in 0..params.n {
                    let pattern = format!("[ab]*a[ab]{{5000}}c{i}");
                    black_box(sealgate_policy_sdk::regex_is_match(&pattern, "ab").ok());
                }
            }
            other => return Err(format!("unknown mode `{other}`")),
        }
        Ok(report)
    }
}

export_policy!(Hostile);
