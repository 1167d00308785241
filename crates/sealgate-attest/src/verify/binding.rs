//! Check 7: one decision per bundle.

use sealgate_core::Sha256Digest;
use serde_json::Value;

use crate::dsse::IN_TOTO_PAYLOAD_TYPE;
use crate::statement::{REPORT_PREDICATE_TYPE, STATEMENT_TYPE, Statement, VSA_PREDICATE_TYPE};

use super::Line;

/// Check 7, one decision per bundle. Line 1 is the verdict; no other line may be
/// one (two verdicts, or the verdict of another subject, would give the
/// bundle two meanings). A report statement is read only when it is bound
/// to that verdict: it names the sha256 of the verdict's signed bytes, and
/// its subject, gate, policy digest, time and decision are the verdict's.
/// So the verdict of one evaluation and the report of another (a lenient
/// gate's PASSED beside a full gate's report) never combine. Statements of
/// other predicate types (signed by the same key, per check 3) are carried
/// and not read.
pub(super) fn bind(
    verdict: &Line,
    vsa: &Statement,
    others: &[Line],
) -> Result<(Option<Statement>, String), String> {
    let verdict_digest = Sha256Digest::of_bytes(&verdict.payload);
    let mut report: Option<(usize, Statement)> = None;
    let mut ignored = 0;
    for (i, line) in others.iter().enumerate() {
        let n = i + 2;
        if line.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(format!(
                "line {n}: payload type `{}`, not `{IN_TOTO_PAYLOAD_TYPE}`; every line of a bundle is an in-toto statement",
                line.envelope.payload_type
            ));
        }
        let statement: Statement = serde_json::from_slice(&line.payload)
            .map_err(|e| format!("line {n} is not an in-toto Statement: {e}"))?;
        if statement.statement_type != STATEMENT_TYPE {
            return Err(format!(
                "line {n}: statement type `{}`, not `{STATEMENT_TYPE}`",
                statement.statement_type
            ));
        }
        match statement.predicate_type.as_str() {
            VSA_PREDICATE_TYPE => {
                return Err(format!(
                    "line {n} is a second verdict (about {}); a bundle holds exactly one, on line 1",
                    subjects(&statement)
                ));
            }
            REPORT_PREDICATE_TYPE => {
                if let Some((first, _)) = &report {
                    return Err(format!(
                        "line {n} is a second report statement (the first is line {first}); a bundle holds one, bound to its verdict"
                    ));
                }
                report_is_bound(&statement, vsa, &verdict_digest)
                    .map_err(|e| format!("line {n}: the report is not the verdict's: {e}"))?;
                report = Some((n, statement));
            }
            _ => ignored += 1,
        }
    }
    let mut detail = match &report {
        Some((n, _)) => format!("one verdict; the report on line {n} is bound to it"),
        None => "one verdict; no report".to_owned(),
    };
    if ignored > 0 {
        detail.push_str(&format!("; {ignored} statement(s) of other types not read"));
    }
    Ok((report.map(|(_, s)| s), detail))
}

/// Is the report statement `report` the one written with the verdict `vsa`
/// whose signed bytes have `verdict_digest`? Each field is compared so the
/// reason says what differs; the digest alone would bind them.
pub(super) fn report_is_bound(
    report: &Statement,
    vsa: &Statement,
    verdict_digest: &Sha256Digest,
) -> Result<(), String> {
    if subject_digests(report) != subject_digests(vsa) {
        return Err(format!(
            "it is about {}, the verdict about {}",
            subjects(report),
            subjects(vsa)
        ));
    }
    let r = &report.predicate;
    let v = &vsa.predicate;
    let fields = [
        ("gate", r.pointer("/gate/uri"), v.pointer("/policy/uri")),
        (
            "gate policy digest",
            r.pointer("/gate/policyDigest/sha256"),
            v.pointer("/policy/digest/sha256"),
        ),
        ("evaluation time", r.get("evaluatedAt"), v.get("timeVerified")),
        (
            "decision",
            r.pointer("/report/decision"),
            v.get("verificationResult"),
        ),
    ];
    for (what, in_report, in_verdict) in fields {
        if in_report != in_verdict {
            return Err(format!(
                "its {what} is {}, the verdict's {}",
                shown(in_report),
                shown(in_verdict)
            ));
        }
    }
    let named = r.pointer("/verdict/digest/sha256");
    if named.and_then(Value::as_str) != Some(verdict_digest.to_string().as_str()) {
        return Err(format!(
            "it names the verdict sha256:{}, line 1 is sha256:{verdict_digest} (a report of another evaluation)",
            named.and_then(Value::as_str).unwrap_or("(none)")
        ));
    }
    Ok(())
}

pub(super) fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), Value::to_string)
}

pub(super) fn subject_digests(statement: &Statement) -> std::collections::BTreeSet<&str> {
    statement
        .subject
        .iter()
        .filter_map(|s| s.digest.get("sha256").map(String::as_str))
        .collect()
}

pub(super) fn subjects(statement: &Statement) -> String {
    let all: Vec<String> = subject_digests(statement)
        .into_iter()
        .map(|d| format!("sha256:{d}"))
        .collect();
    format!("[{}]", all.join(", "))
}
