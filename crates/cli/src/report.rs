//! Human-readable output.

use std::io::{self, Write};

use sealgate::{GateReport, PolicyModule, PolicyOutcome};

pub(crate) fn write_text(out: &mut dyn Write, report: &GateReport, metadata_origin: &str) -> io::Result<()> {
    let decision = match report.decision {
        sealgate::GateDecision::Passed => "PASSED",
        sealgate::GateDecision::Failed => "FAILED",
    };
    writeln!(out, "gate {}: {decision}", report.gate)?;
    writeln!(
        out,
        "metadata {metadata_origin} (sha256:{})",
        report.metadata_sha256
    )?;
    writeln!(out, "evaluated at {}", report.context.evaluated_at())?;
    for p in &report.policies {
        writeln!(out)?;
        writeln!(
            out,
            "  {:<5} {} {}  (module sha256:{}, {} fuel)",
            p.outcome.label(),
            p.id,
            p.version,
            &p.module_sha256.to_string()[..16],
            p.fuel_consumed
        )?;
        if let Some(e) = &p.error {
            writeln!(out, "        error: {e}")?;
        }
        for f in &p.findings {
            let at = if f.pointer.is_empty() {
                "(document)"
            } else {
                f.pointer.as_str()
            };
            writeln!(out, "        {:<8}  {}  at {at}", f.severity, f.rule_id)?;
            writeln!(out, "                  {}", f.message)?;
            writeln!(out, "                  fix: {}", f.remediation)?;
        }
        for l in &p.log {
            writeln!(out, "        log[{}] {}", l.level, l.message.trim_end())?;
        }
    }
    let count = |o| report.policies.iter().filter(|p| p.outcome == o).count();
    writeln!(out)?;
    writeln!(
        out,
        "{} polic{}: {} passed, {} failed, {} errors. A finding of severity {} or above fails its policy.",
        report.policies.len(),
        if report.policies.len() == 1 { "y" } else { "ies" },
        count(PolicyOutcome::Pass),
        count(PolicyOutcome::Fail),
        count(PolicyOutcome::Error),
        report.fail_on
    )
}

pub(crate) fn write_inspect(out: &mut dyn Write, m: &PolicyModule, size: u64, json: bool) -> io::Result<()> {
    let info = m.info();
    if json {
        let doc = serde_json::json!({
            "id": info.id,
            "version": info.version,
            "summary": info.summary,
            "params_schema": info.params_schema,
            "sha256": m.digest(),
            "size_bytes": size,
            "imports": m.imports(),
            "exports": m.exports(),
            "uses_wasi": m.uses_wasi(),
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        return writeln!(out);
    }
    writeln!(out, "{} {}", info.id, info.version)?;
    writeln!(out, "  {}", info.summary)?;
    writeln!(out, "file     {}", m.path().display())?;
    writeln!(out, "sha256   {}", m.digest())?;
    writeln!(out, "size     {size} bytes")?;
    writeln!(out, "imports  {}", m.imports().join(", "))?;
    writeln!(out, "exports  {}", m.exports().join(", "))?;
    writeln!(
        out,
        "wasi     {}",
        if m.uses_wasi() {
            "imported (answered by a context that grants nothing)"
        } else {
            "not imported"
        }
    )?;
    writeln!(out, "params   (JSON Schema)")?;
    let schema = serde_json::to_string_pretty(&info.params_schema).unwrap_or_default();
    for line in schema.lines() {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

pub(crate) fn write_verification(
    out: &mut dyn Write,
    bundle: &std::path::Path,
    artifact: &sealgate::Sha256Digest,
    result: &Result<sealgate_attest::VerifiedAttestation, sealgate_attest::Rejection>,
) -> io::Result<()> {
    let checks = match result {
        Ok(v) => {
            writeln!(
                out,
                "ACCEPTED {} for sha256:{artifact}, signed by `{}`",
                bundle.display(),
                v.signer()
            )?;
            v.checks()
        }
        Err(r) => {
            writeln!(out, "REJECTED {} for sha256:{artifact}", bundle.display())?;
            writeln!(out, "  failed check `{}`: {}", r.check, r.reason)?;
            r.checks.as_slice()
        }
    };
    for c in checks {
        let mark = match c.status {
            "passed" => "ok  ",
            "failed" => "FAIL",
            _ => "skip",
        };
        writeln!(out, "  [{mark}] {:<17} {}", c.check, c.detail)?;
    }
    Ok(())
}

pub(crate) fn write_policy_tests(
    out: &mut dyn Write,
    policy: &str,
    results: &[(std::path::PathBuf, Vec<sealgate::policy_test::CaseResult>)],
) -> io::Result<()> {
    let (mut passed, mut failed) = (0, 0);
    for (file, cases) in results {
        writeln!(out, "{}", file.display())?;
        for c in cases {
            if c.passed {
                passed += 1;
                writeln!(out, "  ok    {}", c.name)?;
                continue;
            }
            failed += 1;
            writeln!(out, "  FAIL  {}", c.name)?;
            writeln!(
                out,
                "          expected outcome {}, got {}",
                c.expected.outcome, c.outcome
            )?;
            if let Some(want) = &c.expected.rules {
                let missing: Vec<_> = want.difference(&c.rules).collect();
                let unexpected: Vec<_> = c.rules.difference(want).collect();
                if !missing.is_empty() {
                    writeln!(out, "          - missing rules: {}", join(&missing))?;
                }
                if !unexpected.is_empty() {
                    writeln!(out, "          + unexpected rules: {}", join(&unexpected))?;
                }
            }
            if let Some(m) = &c.message {
                writeln!(out, "          message: {m}")?;
            }
            if let Some(m) = &c.expected.message {
                writeln!(out, "          expected message containing: {m}")?;
            }
        }
    }
    writeln!(out, "{policy}: {passed} passed, {failed} failed")
}

fn join(items: &[&String]) -> String {
    items.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}
