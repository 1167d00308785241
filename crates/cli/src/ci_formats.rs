//! Reports in the formats CI systems read: SARIF 2.1.0 (GitHub code scanning
//! and other SARIF viewers), JUnit XML (test-report panes) and GitHub
//! workflow commands (annotations). Formats are documented in
//! docs/integration.md.
//!
//! Everything a policy wrote (rule ids, messages, fixes) is untrusted text:
//! it is escaped for each format here, so a finding cannot break the XML or
//! smuggle a workflow command onto its own line.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use sealgate::{GateReport, PolicyOutcome, Severity, Sha256Digest};
use sealgate_attest::{CheckOutcome, CheckStatus, Rejection, VerifiedAttestation};
use serde_json::{Value, json};

const TOOL: &str = "sealgate";
const INFO_URI: &str = "https://github.com/sealgate/sealgate";

/// Does this finding fail its policy under the gate's threshold?
fn blocks(severity: Severity, fail_on: Severity) -> bool {
    severity >= fail_on
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// SARIF level: what blocks is an error; the rest by severity.
fn sarif_level(s: Severity, fail_on: Severity) -> &'static str {
    if blocks(s, fail_on) {
        "error"
    } else if s >= Severity::Medium {
        "warning"
    } else {
        "note"
    }
}

/// `text`, then `. Fix: <remediation>` when the finding has one (a
/// message-only finding gets no empty "Fix:").
fn with_fix(text: &str, f: &sealgate::Finding) -> String {
    match f.fix() {
        Some(fix) => format!("{}. Fix: {fix}", text.trim_end_matches('.')),
        None => text.to_owned(),
    }
}

/// The 1-based line of the value at `pointer` in the JSON `text`, for
/// editors and code scanning. `None` if the pointer does not resolve.
#[cfg(test)]
pub(crate) fn line_of(text: &str, pointer: &str) -> Option<usize> {
    PointerLines::new(text, [pointer]).line(pointer)
}

/// The lines of many JSON Pointers into one JSON text, found in one pass over
/// the text: the pointers form a trie, and the walk descends only into the
/// members and elements some pointer names, skipping every other value once.
/// So rendering a report is linear in the document and its findings, however
/// many findings point into however large a document.
pub(crate) struct PointerLines {
    lines: HashMap<String, usize>,
}

#[derive(Default)]
struct PointerTrie {
    wanted: Option<String>,
    children: HashMap<String, PointerTrie>,
}

impl PointerLines {
    pub(crate) fn new<'a>(text: &str, pointers: impl IntoIterator<Item = &'a str>) -> Self {
        let mut root = PointerTrie::default();
        for pointer in pointers {
            let mut node = &mut root;
            if !pointer.is_empty() {
                let Some(rest) = pointer.strip_prefix('/') else {
                    continue;
                };
                for token in rest.split('/') {
                    let token = token.replace("~1", "/").replace("~0", "~");
                    node = node.children.entry(token).or_default();
                }
            }
            node.wanted = Some(pointer.to_owned());
        }
        let mut offsets: Vec<(usize, String)> = Vec::new();
        let bytes = text.as_bytes();
        let _ = walk(text, skip_ws(bytes, 0), &root, &mut offsets);
        // Offsets to lines in one more pass.
        offsets.sort_unstable_by_key(|(at, _)| *at);
        let (mut line, mut counted) = (1, 0);
        let mut lines = HashMap::with_capacity(offsets.len());
        for (at, pointer) in offsets {
            line += bytes[counted..at].iter().filter(|&&b| b == b'\n').count();
            counted = at;
            lines.insert(pointer, line);
        }
        Self { lines }
    }

    pub(crate) fn line(&self, pointer: &str) -> Option<usize> {
        self.lines.get(pointer).copied()
    }
}

/// Record the offsets of the wanted values at and below the value starting
/// at `at`, whose trie node is `node`; the end of that value.
fn walk(text: &str, at: usize, node: &PointerTrie, out: &mut Vec<(usize, String)>) -> Option<usize> {
    let b = text.as_bytes();
    if let Some(pointer) = &node.wanted {
        out.push((at, pointer.clone()));
    }
    if node.children.is_empty() {
        return end_of_value(b, at);
    }
    match *b.get(at)? {
        b'{' => {
            let mut i = skip_ws(b, at + 1);
            while b.get(i) == Some(&b'"') {
                let end = end_of_string(b, i)?;
                let name: String = serde_json::from_str(&text[i..end]).ok()?;
                i = skip_ws(b, end);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                let value = skip_ws(b, i + 1);
                let value_end = match node.children.get(&name) {
                    Some(child) => walk(text, value, child, out)?,
                    None => end_of_value(b, value)?,
                };
                i = skip_ws(b, value_end);
                if b.get(i) == Some(&b',') {
                    i = skip_ws(b, i + 1);
                }
            }
            (b.get(i) == Some(&b'}')).then_some(i + 1)
        }
        b'[' => {
            let mut i = skip_ws(b, at + 1);
            let mut index = 0usize;
            while b.get(i).is_some_and(|&c| c != b']') {
                let value_end = match node.children.get(&index.to_string()) {
                    Some(child) => walk(text, i, child, out)?,
                    None => end_of_value(b, i)?,
                };
                index += 1;
                i = skip_ws(b, value_end);
                if b.get(i) == Some(&b',') {
                    i = skip_ws(b, i + 1);
                }
            }
            (b.get(i) == Some(&b']')).then_some(i + 1)
        }
        _ => end_of_value(b, at),
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The end of the string starting at `i` (its opening quote), after the closing quote.
fn end_of_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The end of the value starting at `i` (no recursion: nesting is counted).
fn end_of_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => end_of_string(b, i),
        b'{' | b'[' => {
            let (mut depth, mut j) = (0usize, i);
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = end_of_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1; // the first byte opened, so depth >= 1 here
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace() {
                j += 1;
            }
            Some(j)
        }
    }
}

/// The lines of every finding's pointer in the metadata `text`.
fn finding_lines(report: &GateReport, text: &str) -> PointerLines {
    PointerLines::new(
        text,
        report
            .policies
            .iter()
            .flat_map(|p| p.findings.iter().map(|f| f.pointer.as_str())),
    )
}

/// SARIF 2.1.0 for a gate report: one result per finding (located at the
/// metadata file, its line and JSON Pointer) and one per policy ERROR.
pub(crate) fn check_sarif(report: &GateReport, origin: &str, text: &str) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_indices: HashMap<String, usize> = HashMap::new();
    let mut results: Vec<Value> = Vec::new();
    let mut rule_index = |id: &str, policy: &str, rules: &mut Vec<Value>| -> usize {
        if let Some(&i) = rule_indices.get(id) {
            return i;
        }
        rules.push(json!({
            "id": id,
            "shortDescription": { "text": format!("{id} ({policy})") },
            "properties": { "policy": policy },
        }));
        rule_indices.insert(id.to_owned(), rules.len() - 1);
        rules.len() - 1
    };
    let lines = finding_lines(report, text);
    let location = |pointer: &str| {
        let mut physical = json!({ "artifactLocation": { "uri": origin } });
        if let Some(line) = lines.line(pointer) {
            physical["region"] = json!({ "startLine": line });
        }
        json!({
            "physicalLocation": physical,
            "logicalLocations": [{ "fullyQualifiedName": pointer, "kind": "member" }],
        })
    };
    for p in &report.policies {
        for f in &p.findings {
            let index = rule_index(&f.rule_id, &p.id, &mut rules);
            results.push(json!({
                "ruleId": f.rule_id,
                "ruleIndex": index,
                "level": sarif_level(f.severity, report.fail_on),
                "message": { "text": with_fix(&f.message, f) },
                "locations": [location(&f.pointer)],
                "properties": {
                    "policy": p.id,
                    "policyVersion": p.version,
                    "severity": severity_name(f.severity),
                    "pointer": f.pointer,
                    "remediation": f.remediation,
                },
            }));
        }
        if p.outcome == PolicyOutcome::Error {
            let id = "sealgate.policy-error";
            let index = rule_index(id, &p.id, &mut rules);
            results.push(json!({
                "ruleId": id,
                "ruleIndex": index,
                "level": "error",
                "message": { "text": format!("policy {} could not give a verdict: {}", p.id, p.error.as_deref().unwrap_or("error")) },
                "locations": [location("")],
                "properties": { "policy": p.id, "moduleSha256": p.module_sha256.prefixed() },
            }));
        }
    }
    let mut log = sarif_log(
        rules,
        results,
        json!({
            "executionSuccessful": !report.has_errors(),
            "properties": { "gate": report.gate, "decision": decision(report) },
        }),
    );
    log["runs"][0]["artifacts"] = json!([{
        "location": { "uri": origin },
        "hashes": { "sha-256": report.metadata_sha256.to_string() },
    }]);
    log
}

/// A SARIF 2.1.0 log of one sealgate run.
fn sarif_log(rules: Vec<Value>, results: Vec<Value>, invocation: Value) -> Value {
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": TOOL,
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": INFO_URI,
                "rules": rules,
            }},
            "invocations": [invocation],
            "results": results,
        }],
    })
}

fn decision(report: &GateReport) -> &'static str {
    match report.decision {
        sealgate::GateDecision::Passed => "PASSED",
        sealgate::GateDecision::Failed => "FAILED",
    }
}

/// Text as XML 1.0 allows it: escaped, and characters XML cannot carry at
/// all (most control characters) replaced by U+FFFD.
fn xml(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect();
    quick_xml::escape::escape(clean.as_str()).into_owned()
}

/// JUnit XML for a gate report: a suite per policy; a test case for the
/// policy's verdict and one per rule that fired (failed if any of its
/// findings reaches `fail-on`).
pub(crate) fn check_junit(report: &GateReport, origin: &str, text: &str) -> String {
    let lines = finding_lines(report, text);
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for p in &report.policies {
        let mut cases = String::new();
        let (mut t, mut fl, mut er) = (1, 0, 0);
        let verdict = match p.outcome {
            PolicyOutcome::Pass => String::new(),
            PolicyOutcome::Fail => {
                fl += 1;
                format!(
                    "<failure message=\"{}\" type=\"fail\"/>",
                    xml(&format!("{} failed", p.id))
                )
            }
            PolicyOutcome::Error => {
                er += 1;
                let why = p.error.as_deref().unwrap_or("error");
                format!(
                    "<error message=\"{}\" type=\"policy-error\">{}</error>",
                    xml(why),
                    xml(why)
                )
            }
        };
        let _ = writeln!(
            cases,
            "    <testcase classname=\"{}\" name=\"verdict\" file=\"{}\">{verdict}</testcase>",
            xml(&p.id),
            xml(origin)
        );
        let mut fired: BTreeMap<&str, Vec<&sealgate::Finding>> = BTreeMap::new();
        for f in &p.findings {
            fired.entry(f.rule_id.as_str()).or_default().push(f);
        }
        for (rule, findings) in fired {
            t += 1;
            let body: String = findings
                .iter()
                .map(|f| {
                    format!(
                        "{} at {} (line {}): {}\n{}",
                        severity_name(f.severity),
                        f.pointer,
                        lines.line(&f.pointer).unwrap_or(1),
                        f.message,
                        f.fix().map(|fix| format!("fix: {fix}\n")).unwrap_or_default()
                    )
                })
                .collect();
            let failing = findings.iter().any(|f| blocks(f.severity, report.fail_on));
            let inner = if failing {
                fl += 1;
                format!(
                    "<failure message=\"{}\" type=\"{}\">{}</failure>",
                    xml(&findings[0].message),
                    severity_name(
                        findings
                            .iter()
                            .map(|f| f.severity)
                            .max()
                            .unwrap_or(Severity::Info)
                    ),
                    xml(&body)
                )
            } else {
                format!("<system-out>{}</system-out>", xml(&body))
            };
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\">{inner}</testcase>",
                xml(&p.id),
                xml(rule),
                xml(origin)
            );
        }
        tests += t;
        failures += fl;
        errors += er;
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{fl}\" errors=\"{er}\" skipped=\"0\">\n{cases}  </testsuite>\n",
            xml(&p.id)
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n{suites}</testsuites>\n",
        xml(&format!("sealgate gate {}: {}", report.gate, decision(report)))
    )
}

/// A workflow command's message: `%`, CR and LF escaped, so untrusted text
/// stays on its own line.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub workflow commands: an annotation per finding (error if it blocks,
/// warning or notice otherwise) at the metadata file's line, an error per
/// policy ERROR, and a notice with the decision.
pub(crate) fn check_github(report: &GateReport, origin: &str, text: &str) -> String {
    let lines = finding_lines(report, text);
    let mut out = String::new();
    for p in &report.policies {
        for f in &p.findings {
            let command = if blocks(f.severity, report.fail_on) {
                "error"
            } else if f.severity >= Severity::Medium {
                "warning"
            } else {
                "notice"
            };
            let _ = writeln!(
                out,
                "::{command} file={},line={},title={}::{}",
                gh_property(origin),
                lines.line(&f.pointer).unwrap_or(1),
                gh_property(&format!("{} ({})", f.rule_id, severity_name(f.severity))),
                gh_data(&with_fix(
                    &format!("{} (at {})", f.message.trim_end_matches('.'), f.pointer),
                    f
                )),
            );
        }
        if p.outcome == PolicyOutcome::Error {
            let _ = writeln!(
                out,
                "::error file={},title={}::{}",
                gh_property(origin),
                gh_property(&format!("{}: policy error", p.id)),
                gh_data(p.error.as_deref().unwrap_or("error")),
            );
        }
    }
    let failed = report
        .policies
        .iter()
        .filter(|p| p.outcome != PolicyOutcome::Pass)
        .count();
    let _ = writeln!(
        out,
        "::{}title={}::{}",
        if report.decision == sealgate::GateDecision::Passed {
            "notice "
        } else {
            "error "
        },
        gh_property(&format!("sealgate gate {}", report.gate)),
        gh_data(&format!(
            "{}: {} of {} policies did not pass",
            decision(report),
            failed,
            report.policies.len()
        )),
    );
    out
}

type VerifyResult = Result<VerifiedAttestation, Rejection>;

fn checks(result: &VerifyResult) -> &[CheckOutcome] {
    match result {
        Ok(v) => v.checks(),
        Err(r) => &r.checks,
    }
}

/// SARIF for a verification: no result when accepted; one at the bundle
/// naming the failed check when rejected.
pub(crate) fn verify_sarif(bundle: &Path, digest: &Sha256Digest, result: &VerifyResult) -> Value {
    let uri = bundle.display().to_string();
    let results: Vec<Value> = match result {
        Ok(_) => Vec::new(),
        Err(r) => vec![json!({
            "ruleId": format!("verify.{}", r.check),
            "ruleIndex": 0,
            "level": "error",
            "message": { "text": format!("attestation rejected for sha256:{digest}: {}: {}", r.check, r.reason) },
            "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri } } }],
        })],
    };
    let rules: Vec<Value> = match result {
        Ok(_) => Vec::new(),
        Err(r) => vec![json!({
            "id": format!("verify.{}", r.check),
            "shortDescription": { "text": format!("verification check `{}`", r.check) },
        })],
    };
    sarif_log(
        rules,
        results,
        json!({
            "executionSuccessful": true,
            "properties": {
                "decision": if result.is_ok() { "accepted" } else { "rejected" },
                "artifactSha256": digest.to_string(),
            },
        }),
    )
}

/// JUnit XML for a verification: one test case per check of the checklist.
pub(crate) fn verify_junit(bundle: &Path, result: &VerifyResult) -> String {
    let list = checks(result);
    let mut cases = String::new();
    let (mut failures, mut skipped) = (0, 0);
    for c in list {
        let inner = match c.status {
            CheckStatus::Failed => {
                failures += 1;
                format!("<failure message=\"{}\" type=\"rejected\"/>", xml(&c.detail))
            }
            CheckStatus::Skipped => {
                skipped += 1;
                format!("<skipped message=\"{}\"/>", xml(&c.detail))
            }
            _ => format!("<system-out>{}</system-out>", xml(&c.detail)),
        };
        let _ = writeln!(
            cases,
            "    <testcase classname=\"sealgate.verify\" name=\"{}\" file=\"{}\">{inner}</testcase>",
            xml(c.check.name()),
            xml(&bundle.display().to_string())
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sealgate verify\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\">\n  <testsuite name=\"sealgate.verify\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n{cases}  </testsuite>\n</testsuites>\n",
        n = list.len()
    )
}

/// GitHub workflow commands for a verification.
pub(crate) fn verify_github(bundle: &Path, digest: &Sha256Digest, result: &VerifyResult) -> String {
    let file = gh_property(&bundle.display().to_string());
    match result {
        Ok(v) => format!(
            "::notice file={file},title=sealgate verify::{}\n",
            gh_data(&format!("accepted: sha256:{digest} attested by {}", v.signer()))
        ),
        Err(r) => format!(
            "::error file={file},title={}::{}\n",
            gh_property(&format!("sealgate verify: {}", r.check)),
            gh_data(&format!("rejected at check `{}`: {}", r.check, r.reason))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_pointers_into_a_large_document_resolve_in_one_pass() {
        // 20 000 members over ~2 MB, and a pointer to each: resolving them one
        // by one scanned the document per pointer (minutes); one pass is quick.
        let n = 20_000;
        let mut text = String::from("{\n");
        for i in 0..n {
            text.push_str(&format!(
                "  \"k{i}\": {{\"v\": [\"{}\", {i}]}},\n",
                "x".repeat(80)
            ));
        }
        text.push_str("  \"end\": 0\n}\n");
        let pointers: Vec<String> = (0..n).map(|i| format!("/k{i}/v/1")).collect();
        let started = std::time::Instant::now();
        let lines = PointerLines::new(&text, pointers.iter().map(String::as_str));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(lines.line("/k0/v/1"), Some(2));
        assert_eq!(lines.line(&format!("/k{}/v/1", n - 1)), Some(n + 1));
        assert_eq!(lines.line("/k5/v/7"), None);
    }

    #[test]
    fn pointers_resolve_to_lines() {
        let text = "{\n  \"a\": {\n    \"b\": [\n      1,\n      {\"c\": \"x,}]\\\"\"},\n      [2, 3]\n    ],\n    \"d~/e\": true\n  }\n}\n";
        assert_eq!(line_of(text, ""), Some(1));
        assert_eq!(line_of(text, "/a"), Some(2));
        assert_eq!(line_of(text, "/a/b/0"), Some(4));
        assert_eq!(line_of(text, "/a/b/1/c"), Some(5));
        assert_eq!(line_of(text, "/a/b/2"), Some(6));
        assert_eq!(line_of(text, "/a/d~0~1e"), Some(8));
        assert_eq!(line_of(text, "/a/b/3"), None);
        assert_eq!(line_of(text, "/a/zz"), None);
        assert_eq!(line_of(text, "/a/b/x"), None);
        assert_eq!(line_of("[1,2]", "/1"), Some(1));
    }

    #[test]
    fn untrusted_text_cannot_escape_its_format() {
        assert_eq!(gh_data("a\n::error::owned%"), "a%0A::error::owned%25");
        assert_eq!(gh_property("x,y:z"), "x%2Cy%3Az");
        assert_eq!(xml("<a>&\u{1}\"b\""), "&lt;a&gt;&amp;\u{FFFD}&quot;b&quot;");
    }
}
