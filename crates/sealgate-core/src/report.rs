use serde::Serialize;

use crate::{Finding, Severity, Sha256Digest, Verdict};

/// What a pure policy cannot know, fixed by the host for one gate run.
///
/// Everything a policy may depend on besides its metadata and params is here,
/// so recording it makes an evaluation replayable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationContext {
    /// The gate's name.
    pub gate: String,
    /// The artifact's digest, when the caller knows it.
    pub artifact_digest: Option<Sha256Digest>,
    /// Evaluation time, seconds since the Unix epoch (UTC).
    pub evaluated_at_unix: i64,
}

impl EvaluationContext {
    /// A context at an explicit instant (for replays and tests).
    pub fn at(gate: impl Into<String>, evaluated_at_unix: i64) -> Self {
        Self {
            gate: gate.into(),
            artifact_digest: None,
            evaluated_at_unix,
        }
    }

    /// The context of one run of `gate` about `artifact` (when known): at
    /// `at` (Unix seconds, for a replay) or now. The CLI and the server
    /// both build theirs here.
    pub fn for_run(gate: impl Into<String>, at: Option<i64>, artifact: Option<Sha256Digest>) -> Self {
        let mut context = match at {
            Some(unix) => Self::at(gate, unix),
            None => Self::now(gate),
        };
        context.artifact_digest = artifact;
        context
    }

    /// A context at the current time, truncated to whole seconds.
    pub fn now(gate: impl Into<String>) -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self::at(gate, secs)
    }

    /// The same instant as RFC 3339 UTC, e.g. `2026-11-26T20:00:00Z`.
    pub fn evaluated_at(&self) -> String {
        rfc3339(self.evaluated_at_unix)
    }
}

/// Format Unix seconds as RFC 3339 UTC; instants before 1970 (meaningless
/// for an evaluation) print as the epoch.
fn rfc3339(unix: i64) -> String {
    let secs = u64::try_from(unix).unwrap_or(0);
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

/// How one policy's evaluation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyOutcome {
    /// The policy passed and no finding reached the gate's `fail-on` severity.
    Pass,
    /// The policy failed, or a finding reached the gate's `fail-on` severity.
    Fail,
    /// The policy could not give a verdict (trap, limit, bad output, error).
    Error,
}

impl PolicyOutcome {
    /// Judge a verdict under the gate's threshold. A policy can fail itself;
    /// the gate can additionally fail it on severity; it can never be passed
    /// by the gate against its own judgement.
    pub fn judge(verdict: &Verdict, fail_on: Severity) -> Self {
        let too_severe = verdict.max_severity().is_some_and(|s| s >= fail_on);
        if verdict.passed && !too_severe {
            Self::Pass
        } else {
            Self::Fail
        }
    }

    /// Upper-case label for reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Error => "ERROR",
        }
    }
}

/// A line a policy logged (host `log`, or captured stdout/stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// `debug`, `info`, `warn`, `error`, `stdout` or `stderr`.
    pub level: String,
    /// The text, possibly truncated.
    pub message: String,
}

/// One policy's part of a gate run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyResult {
    /// The policy's id (from its `info` export).
    pub id: String,
    /// The policy's version (from its `info` export).
    pub version: String,
    /// SHA-256 of the component file that ran.
    pub module_sha256: Sha256Digest,
    /// The Rego files it evaluated, as the gate pins them (none for a
    /// compiled policy).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rego: Vec<crate::PinnedFile>,
    /// Their data files, as the gate pins them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<crate::PinnedFile>,
    /// The params it ran with.
    pub params: serde_json::Value,
    /// How it ended.
    pub outcome: PolicyOutcome,
    /// What it found (empty on ERROR).
    pub findings: Vec<Finding>,
    /// Why it ended in ERROR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What it logged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogLine>,
    /// Fuel it consumed: a deterministic measure of its CPU work.
    pub fuel_consumed: u64,
}

/// The gate's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum GateDecision {
    /// Every policy passed.
    #[serde(rename = "PASSED")]
    Passed,
    /// At least one policy failed or ended in error.
    #[serde(rename = "FAILED")]
    Failed,
}

/// What a gate decided about one metadata document, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    /// The gate's name.
    pub gate: String,
    /// PASSED or FAILED.
    pub decision: GateDecision,
    /// The severity at which a finding fails its policy.
    pub fail_on: Severity,
    /// SHA-256 of the exact metadata bytes evaluated.
    pub metadata_sha256: Sha256Digest,
    /// The context handed to every policy.
    pub context: EvaluationContext,
    /// One entry per policy, in gate order.
    pub policies: Vec<PolicyResult>,
    /// The source files the metadata was collected from (its `/evidence`:
    /// path, sha256, tool), so a signed report names what the verdict was
    /// based on. Empty for hand-written metadata.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<serde_json::Value>,
}

impl GateReport {
    /// Assemble a report, deciding it: PASSED only if there is at least one
    /// policy and every policy passed. Fail closed: no policy is no pass.
    pub fn decide(
        gate: String,
        fail_on: Severity,
        metadata_sha256: Sha256Digest,
        context: EvaluationContext,
        policies: Vec<PolicyResult>,
    ) -> Self {
        let passed = !policies.is_empty() && policies.iter().all(|p| p.outcome == PolicyOutcome::Pass);
        let decision = if passed {
            GateDecision::Passed
        } else {
            GateDecision::Failed
        };
        Self {
            gate,
            decision,
            fail_on,
            metadata_sha256,
            context,
            policies,
            evidence: Vec::new(),
        }
    }

    /// Did any policy end in ERROR?
    pub fn has_errors(&self) -> bool {
        self.policies.iter().any(|p| p.outcome == PolicyOutcome::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding {
            rule_id: "r".into(),
            severity,
            pointer: String::new(),
            message: String::new(),
            remediation: String::new(),
        }
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_719_515), "2026-11-26T18:58:35Z");
        assert_eq!(rfc3339(-1), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn judge_respects_policy_and_threshold() {
        let pass_low = Verdict {
            passed: true,
            findings: vec![finding(Severity::Low)],
        };
        assert_eq!(
            PolicyOutcome::judge(&pass_low, Severity::High),
            PolicyOutcome::Pass
        );
        assert_eq!(
            PolicyOutcome::judge(&pass_low, Severity::Low),
            PolicyOutcome::Fail
        );
        let self_failed = Verdict {
            passed: false,
            findings: vec![],
        };
        assert_eq!(
            PolicyOutcome::judge(&self_failed, Severity::Critical),
            PolicyOutcome::Fail
        );
    }

    #[test]
    fn empty_gate_never_passes() {
        let r = GateReport::decide(
            "g".into(),
            Severity::High,
            Sha256Digest::of_bytes(b""),
            EvaluationContext::at("g", 0),
            vec![],
        );
        assert_eq!(r.decision, GateDecision::Failed);
    }
}
