use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is, ordered from `Info` to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a gate by itself unless `fail-on = "info"`.
    Info,
    /// Minor.
    Low,
    /// Should be fixed.
    Medium,
    /// Must be fixed before release.
    High,
    /// Must be fixed now.
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 5] = [Self::Info, Self::Low, Self::Medium, Self::High, Self::Critical];

    /// The lowercase name used in configs, reports and the WIT contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sev| sev.as_str() == s)
            .ok_or_else(|| {
                format!("unknown severity `{s}`: expected one of info, low, medium, high, critical")
            })
    }
}

/// One thing a policy found, as the host received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Stable rule identifier, e.g. `pii.column.email`.
    pub rule_id: String,
    /// How bad it is.
    pub severity: Severity,
    /// RFC 6901 JSON Pointer into the metadata document.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// How to fix or exempt it.
    pub remediation: String,
}

impl Finding {
    /// The remediation, if the policy gave one (conftest-style checks
    /// often give a message only): what every output writes as "fix".
    pub fn fix(&self) -> Option<&str> {
        let fix = self.remediation.trim();
        (!fix.is_empty()).then_some(fix)
    }
}

/// A policy's answer, as the host received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// The policy's own judgement.
    pub passed: bool,
    /// What it found.
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// Bytes of text the verdict carries: what the host had to copy out of the
    /// sandbox. Used to enforce the output cap.
    pub fn text_bytes(&self) -> usize {
        self.findings
            .iter()
            .map(|f| f.rule_id.len() + f.pointer.len() + f.message.len() + f.remediation.len() + 16)
            .sum()
    }

    /// The highest severity among the findings, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_ordered_and_round_trip() {
        assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
        assert!(
            "severe"
                .parse::<Severity>()
                .unwrap_err()
                .contains("expected one of")
        );
    }
}
