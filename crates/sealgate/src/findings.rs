//! What the host does to a policy's findings before they reach a report.
//!
//! The policy decides; the host only makes what it said safe to show and to
//! store, without changing any decision (the outcome is judged on the
//! findings as returned, before anything here runs):
//!
//! - **Pointers resolve.** A finding's `pointer` must be an RFC 6901 JSON
//!   Pointer into the metadata document that resolves, or names a missing
//!   member of an object that exists (where a missing field should go). Any
//!   other pointer is replaced by the document root and the message says what
//!   the policy gave (escaped and shortened), so reports, SARIF locations and
//!   annotations never carry a location the document does not have.
//! - **A bounded number per policy.** At most [`MAX_FINDINGS_PER_POLICY`] are
//!   kept; the rest are summarised in one finding, `sealgate.findings-dropped`,
//!   with the highest severity among those dropped, so the report (and every
//!   output format rendered from it) stays proportionate while a dropped
//!   critical finding still shows as critical.

use sealgate_core::{Finding, Severity};
use serde_json::Value;

/// Findings kept per policy and evaluation; more are summarised in one.
pub const MAX_FINDINGS_PER_POLICY: usize = 1000;

/// Rule id of the finding that stands for the dropped ones.
pub const DROPPED_RULE_ID: &str = "sealgate.findings-dropped";

/// Longest pointer accepted (a real one into a 64-level document is far shorter).
const MAX_POINTER_BYTES: usize = 4096;

/// How much of an unusable pointer the note quotes.
const QUOTED_POINTER_CHARS: usize = 120;

/// Apply the rules above to one policy's findings.
pub(crate) fn normalize(findings: Vec<Finding>, document: &Value) -> Vec<Finding> {
    let total = findings.len();
    let mut kept = Vec::with_capacity(total.min(MAX_FINDINGS_PER_POLICY + 1));
    let mut dropped_max: Option<Severity> = None;
    for (i, mut finding) in findings.into_iter().enumerate() {
        if i >= MAX_FINDINGS_PER_POLICY {
            dropped_max = dropped_max.max(Some(finding.severity));
            continue;
        }
        if let Err(problem) = check_pointer(&finding.pointer, document) {
            let quoted: String = finding.pointer.chars().take(QUOTED_POINTER_CHARS).collect();
            let more = if finding.pointer.chars().count() > QUOTED_POINTER_CHARS {
                "…"
            } else {
                ""
            };
            finding.message = format!(
                "{} (the policy located this at `{}{more}`, which {problem}; shown at the document root)",
                finding.message,
                quoted.escape_debug()
            );
            finding.pointer = String::new();
        }
        kept.push(finding);
    }
    if let Some(severity) = dropped_max {
        let dropped = total - MAX_FINDINGS_PER_POLICY;
        kept.push(Finding {
            rule_id: DROPPED_RULE_ID.into(),
            severity,
            pointer: String::new(),
            message: format!(
                "{dropped} more finding(s) were dropped: at most {MAX_FINDINGS_PER_POLICY} are kept per policy; \
                 the highest severity among the dropped is {severity}"
            ),
            remediation: "fix the findings shown and evaluate again to see the rest".into(),
        });
    }
    kept
}

/// `Ok` if `pointer` is usable in `document` (see the module docs), else why not.
fn check_pointer(pointer: &str, document: &Value) -> Result<(), &'static str> {
    if pointer.is_empty() {
        return Ok(());
    }
    if pointer.len() > MAX_POINTER_BYTES {
        return Err("is too long to be a pointer into the document");
    }
    if !pointer.starts_with('/') || !escapes_are_valid(pointer) {
        return Err("is not a JSON Pointer (RFC 6901)");
    }
    if document.pointer(pointer).is_some() {
        return Ok(());
    }
    // A missing member of an existing object: where the field should be.
    let (parent, _) = pointer.rsplit_once('/').expect("starts with '/'");
    match document.pointer(parent) {
        Some(Value::Object(_)) => Ok(()),
        _ => Err("does not resolve in the document"),
    }
}

/// Every `~` is followed by `0` or `1` (RFC 6901 §3).
fn escapes_are_valid(pointer: &str) -> bool {
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finding(pointer: &str, severity: Severity) -> Finding {
        Finding {
            rule_id: "t.rule".into(),
            severity,
            pointer: pointer.into(),
            message: "m".into(),
            remediation: "r".into(),
        }
    }

    #[test]
    fn pointers_that_resolve_or_name_a_missing_member_are_kept() {
        let doc = json!({"a": {"b~/c": [1, {"d": 2}]}, "e": null});
        for ok in ["", "/a", "/a/b~0~1c/1/d", "/e", "/a/missing", "/a/b~0~1c/1/new"] {
            let out = normalize(vec![finding(ok, Severity::Low)], &doc);
            assert_eq!(out[0].pointer, ok, "{ok}");
            assert_eq!(out[0].message, "m");
        }
    }

    #[test]
    fn other_pointers_go_to_the_root_with_a_note() {
        let doc = json!({"a": [1, 2], "s": "text"});
        for (bad, why) in [
            ("a", "is not a JSON Pointer"),
            ("/a/~2", "is not a JSON Pointer"),
            ("/a/~", "is not a JSON Pointer"),
            ("/a/5", "does not resolve"),
            ("/nope/deeper", "does not resolve"),
            ("/s/x", "does not resolve"),
            ("/a/-", "does not resolve"),
        ] {
            let out = normalize(vec![finding(bad, Severity::High)], &doc);
            assert_eq!(out[0].pointer, "", "{bad}");
            assert!(out[0].message.contains(why), "{bad}: {}", out[0].message);
            assert_eq!(out[0].severity, Severity::High);
        }
        // What the policy gave is quoted escaped and shortened, never as given.
        let hostile = format!("/x\n::error::{}", "y".repeat(500));
        let out = normalize(vec![finding(&hostile, Severity::Low)], &doc);
        assert!(!out[0].message.contains('\n'), "{}", out[0].message);
        assert!(out[0].message.len() < 400, "{}", out[0].message);
    }

    #[test]
    fn findings_past_the_cap_are_summarised_with_their_highest_severity() {
        let doc = json!({});
        let mut many: Vec<Finding> = (0..MAX_FINDINGS_PER_POLICY + 250)
            .map(|_| finding("", Severity::Info))
            .collect();
        many[MAX_FINDINGS_PER_POLICY + 7].severity = Severity::Critical;
        let out = normalize(many, &doc);
        assert_eq!(out.len(), MAX_FINDINGS_PER_POLICY + 1);
        let last = out.last().unwrap();
        assert_eq!(last.rule_id, DROPPED_RULE_ID);
        assert_eq!(last.severity, Severity::Critical);
        assert!(
            last.message.starts_with("250 more finding(s)"),
            "{}",
            last.message
        );
        // At the cap exactly, nothing is dropped.
        let exact: Vec<Finding> = (0..MAX_FINDINGS_PER_POLICY)
            .map(|_| finding("", Severity::Low))
            .collect();
        assert_eq!(normalize(exact, &doc).len(), MAX_FINDINGS_PER_POLICY);
    }
}
