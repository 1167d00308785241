//! Human-readable output.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use sealgate::{GateReport, PolicyModule, PolicyOutcome};

/// Colour for people at a terminal; plain text everywhere else.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paint {
    pub(crate) enabled: bool,
}

impl Paint {
    fn paint(self, text: &str, style: Style) -> String {
        if self.enabled {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }
}

const GOOD: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const BROKEN: Style = AnsiColor::Magenta.on_default().bold();
const QUIET: Style = Style::new().dimmed();

fn outcome_style(o: PolicyOutcome) -> Style {
    match o {
        PolicyOutcome::Pass => GOOD,
        PolicyOutcome::Fail => BAD,
        PolicyOutcome::Error => BROKEN,
    }
}

/// Text a policy wrote, safe to print on a terminal: control characters
/// (escape sequences could move the cursor and overwrite the verdict) become
/// U+FFFD.
fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

pub(crate) fn write_text(
    out: &mut dyn Write,
    report: &GateReport,
    metadata_origin: &str,
    paint: Paint,
) -> io::Result<()> {
    let decision = match (report.decision, report.has_errors()) {
        (_, true) => paint.paint("FAILED", BROKEN),
        (sealgate::GateDecision::Passed, false) => paint.paint("PASSED", GOOD),
        (sealgate::GateDecision::Failed, false) => paint.paint("FAILED", BAD),
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
            "  {} {} {}  (module sha256:{}, {} fuel)",
            paint.paint(&format!("{:<5}", p.outcome.label()), outcome_style(p.outcome)),
            clean(&p.id),
            clean(&p.version),
            &p.module_sha256.to_string()[..16],
            p.fuel_consumed
        )?;
        for (kind, file) in p
            .rego
            .iter()
            .map(|f| ("rego", f))
            .chain(p.data.iter().map(|f| ("data", f)))
        {
            writeln!(
                out,
                "        {kind} {} (sha256:{})",
                clean(&file.path.display().to_string()),
                &file.sha256.to_string()[..16]
            )?;
        }
        if let Some(e) = &p.error {
            writeln!(out, "        error: {}", clean(e))?;
        }
        for f in &p.findings {
            let at = if f.pointer.is_empty() {
                "(document)"
            } else {
                f.pointer.as_str()
            };
            let severity = format!("{:<8}", f.severity);
            let severity = if f.severity >= report.fail_on {
                paint.paint(&severity, BAD)
            } else {
                severity
            };
            writeln!(out, "        {severity}  {}  at {}", clean(&f.rule_id), clean(at))?;
            writeln!(out, "                  {}", clean(&f.message))?;
            if let Some(fix) = f.fix() {
                writeln!(out, "                  fix: {}", clean(fix))?;
            }
        }
        for l in &p.log {
            let line = format!("log[{}] {}", l.level, clean(l.message.trim_end()));
            writeln!(out, "        {}", paint.paint(&line, QUIET))?;
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
            "contract": info.contract,
            "rules": info.rules,
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
    writeln!(out, "contract sealgate:policy@{}", info.contract)?;
    if info.rules.is_empty() {
        writeln!(
            out,
            "rules    none declared (no catalogue: any rule id may appear)"
        )?;
    } else {
        writeln!(out, "rules    ({})", info.rules.len())?;
        for rule in &info.rules {
            write_rule(out, rule)?;
        }
    }
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
    paint: Paint,
) -> io::Result<()> {
    let checks = match result {
        Ok(v) => {
            writeln!(
                out,
                "{} {} for sha256:{artifact}, signed by `{}`",
                paint.paint("ACCEPTED", GOOD),
                bundle.display(),
                clean(v.signer())
            )?;
            v.checks()
        }
        Err(r) => {
            writeln!(
                out,
                "{} {} for sha256:{artifact}",
                paint.paint("REJECTED", BAD),
                bundle.display()
            )?;
            writeln!(out, "  failed check `{}`: {}", r.check, clean(&r.reason))?;
            r.checks.as_slice()
        }
    };
    for c in checks {
        let mark = match c.status {
            sealgate_attest::CheckStatus::Passed => paint.paint("ok  ", GOOD),
            sealgate_attest::CheckStatus::Failed => paint.paint("FAIL", BAD),
            _ => paint.paint("skip", QUIET),
        };
        writeln!(out, "  [{mark}] {:<17} {}", c.check, clean(&c.detail))?;
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
            if c.expected.outcome != c.outcome {
                writeln!(
                    out,
                    "          expected outcome {}, got {}",
                    c.expected.outcome, c.outcome
                )?;
            }
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
            for want in &c.unmatched {
                writeln!(out, "          - no finding {want}")?;
            }
            if !c.unmatched.is_empty() {
                for f in &c.findings {
                    writeln!(
                        out,
                        "            found {} ({}) at `{}`",
                        clean(&f.rule_id),
                        f.severity,
                        clean(&f.pointer)
                    )?;
                }
            }
            if let Some(m) = &c.message {
                writeln!(out, "          message: {}", clean(m))?;
            }
            if let Some(m) = &c.expected.message {
                writeln!(out, "          expected message containing: {m}")?;
            }
            for line in &c.log {
                writeln!(out, "          log {}: {}", line.level, clean(&line.message))?;
            }
        }
    }
    writeln!(out, "{policy}: {passed} passed, {failed} failed")
}

/// `policy test --coverage`: the lines of each Rego file no case reached.
pub(crate) fn write_rego_coverage(
    out: &mut dyn Write,
    coverage: &sealgate::rego::RegoCoverage,
) -> io::Result<()> {
    let never = coverage.never_reached();
    if coverage.is_empty() {
        writeln!(out, "coverage: no evaluation reported any")?;
    } else if never.is_empty() {
        writeln!(
            out,
            "coverage: every line of every Rego file was reached by some case"
        )?;
    } else {
        writeln!(out, "coverage: lines no case reached")?;
        for (file, lines) in never {
            let lines: Vec<String> = lines.iter().map(u32::to_string).collect();
            writeln!(out, "  {}: {}", clean(&file), lines.join(", "))?;
        }
    }
    if coverage.unreadable > 0 {
        writeln!(
            out,
            "coverage: {} report(s) cut by the log's bound were left out",
            coverage.unreadable
        )?;
    }
    Ok(())
}

/// `policy test --coverage` of a compiled policy: the entries of its rule
/// catalogue (`declared` of them) no case reported.
pub(crate) fn write_rule_coverage(
    out: &mut dyn Write,
    declared: usize,
    never: &[&sealgate::RuleInfo],
) -> io::Result<()> {
    if never.is_empty() {
        return writeln!(
            out,
            "coverage: every rule of the catalogue ({declared}) was reported by some case"
        );
    }
    writeln!(
        out,
        "coverage: {} of {declared} rules no case reported",
        never.len()
    )?;
    for rule in never {
        write_rule(out, rule)?;
    }
    Ok(())
}

/// One catalogue entry: `  id (severity): summary` (what a policy wrote, escaped).
fn write_rule(out: &mut dyn Write, rule: &sealgate::RuleInfo) -> io::Result<()> {
    writeln!(
        out,
        "  {} ({}): {}",
        clean(&rule.id),
        rule.severity,
        clean(&rule.summary)
    )
}

fn join(items: &[&String]) -> String {
    items.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}
