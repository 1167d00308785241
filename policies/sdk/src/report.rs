use crate::Severity;
use crate::bindings::sealgate::policy::types as wit_types;

/// The findings of one evaluation, turned into the verdict.
#[derive(Debug, Default)]
pub struct Report {
    findings: Vec<wit_types::Finding>,
    failed: bool,
}

impl Report {
    /// An empty report: passes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a finding. `pointer` is the JSON Pointer to the offending value;
    /// `remediation` is one line saying how to fix or exempt it.
    pub fn finding(
        &mut self,
        rule_id: &str,
        severity: Severity,
        pointer: &str,
        message: impl Into<String>,
        remediation: impl Into<String>,
    ) -> &mut Self {
        self.findings.push(wit_types::Finding {
            rule_id: rule_id.into(),
            severity,
            pointer: pointer.into(),
            message: message.into(),
            remediation: remediation.into(),
        });
        self
    }

    /// Fail the verdict regardless of severities.
    pub fn fail(&mut self) -> &mut Self {
        self.failed = true;
        self
    }

    /// How many findings so far.
    pub fn len(&self) -> usize {
        self.findings.len()
    }

    /// No findings so far?
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// The rule ids of the findings so far, in order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.findings.iter().map(|f| f.rule_id.as_str())
    }

    /// The verdict: passed unless [`Report::fail`] was called. Severities
    /// are judged by the gate: a finding at or above the gate's `fail-on`
    /// (default `high`) fails the policy there, so one threshold, in the gate
    /// file, decides what blocks a release.
    pub(crate) fn into_verdict(self) -> wit_types::Verdict {
        wit_types::Verdict {
            passed: !self.failed,
            findings: self.findings,
        }
    }
}
