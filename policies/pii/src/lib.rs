//! `sealgate.pii`: personal data in artifact metadata.
//!
//! - **Column names** in the artifact's schema (`/schema/inputs`,
//!   `/schema/outputs`) and in its datasets' schemas (`/datasets/*/columns`),
//!   matched against tiered rules (see `rules.rs`). A dataset column that the
//!   dataset itself declares in `pii_columns` is known, governed personal data:
//!   an `info` finding, not a violation.
//! - **Values** in sample rows (`/samples/*/data`), with validators that cut
//!   false positives: SSN area/group/serial rules, Luhn for card numbers,
//!   mod-97 for IBANs, a plausible domain for e-mail. Findings never repeat
//!   the value; they mask it.
//! - **Exemptions**: a column whose `privacy.treatment` is one of
//!   [`EXEMPT_TREATMENTS`], or whose name is in the `exempt-columns` param, is
//!   not a finding. Every finding says how to exempt.

mod rules;
mod validators;

use std::collections::BTreeSet;

use sealgate_policy_sdk::{
    Context, Metadata, Policy, PolicyInfo, Report, RuleInfo, Severity, export_policy, pointer_escape,
};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use rules::{ColumnRule, Tier};

/// Treatments that make a column's personal data acceptable to ship.
pub const EXEMPT_TREATMENTS: &[&str] = &[
    "reviewed",
    "pseudonymised",
    "pseudonymized",
    "hashed",
    "tokenised",
    "tokenized",
    "encrypted",
    "masked",
    "synthetic",
    "not-personal",
];

/// Params of `sealgate.pii`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Params {
    /// Replace the built-in column rules entirely.
    #[serde(default)]
    rules: Option<Vec<ColumnRule>>,
    /// Rules added after the built-in (or replacing) ones.
    #[serde(default)]
    extra_rules: Vec<ColumnRule>,
    /// Categories to switch off, e.g. `["ip-address"]`.
    #[serde(default)]
    disable: Vec<String>,
    /// Severity of `sensitive` columns without their own. Default: high.
    #[serde(
        default = "high",
        deserialize_with = "sealgate_policy_sdk::deserialize_severity"
    )]
    sensitive_severity: Severity,
    /// Severity of `non-sensitive` columns without their own. Default: medium.
    #[serde(
        default = "medium",
        deserialize_with = "sealgate_policy_sdk::deserialize_severity"
    )]
    non_sensitive_severity: Severity,
    /// Column names that are exempt wherever they appear (exact match).
    #[serde(default)]
    exempt_columns: Vec<String>,
    /// Scan sample values. Default: true.
    #[serde(default = "yes")]
    scan_values: bool,
    /// Most sample cells scanned; past it the log says so. Default: 10 000.
    #[serde(default = "max_values")]
    max_values: usize,
}

fn high() -> Severity {
    Severity::High
}
fn medium() -> Severity {
    Severity::Medium
}
fn yes() -> bool {
    true
}
fn max_values() -> usize {
    10_000
}

pub(crate) fn de_severity_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
    sealgate_policy_sdk::deserialize_severity(d).map(Some)
}

const PARAMS_SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "$defs": {
    "severity": {"enum": ["info", "low", "medium", "high", "critical"]},
    "rule": {
      "type": "object",
      "additionalProperties": false,
      "required": ["category", "pattern", "tier"],
      "properties": {
        "category": {"type": "string", "pattern": "^[a-z0-9-]+$"},
        "pattern": {"type": "string", "description": "Rust regex over the normalised column name (lowercase words joined by _)"},
        "unless": {"type": "string", "description": "Rust regex: names it matches are not this rule's (flags and counts such as email_opt_in)"},
        "tier": {"enum": ["sensitive", "non-sensitive"]},
        "severity": {"$ref": "#/$defs/severity"}
      }
    }
  },
  "properties": {
    "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}, "description": "replace the built-in column rules"},
    "extra-rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}, "description": "added after the built-in rules"},
    "disable": {"type": "array", "items": {"type": "string"}, "description": "categories to switch off"},
    "sensitive-severity": {"$ref": "#/$defs/severity", "default": "high"},
    "non-sensitive-severity": {"$ref": "#/$defs/severity", "default": "medium"},
    "exempt-columns": {"type": "array", "items": {"type": "string"}},
    "scan-values": {"type": "boolean", "default": true},
    "max-values": {"type": "integer", "minimum": 0, "default": 10000}
  }
}"##;

impl Params {
    fn rules(&self) -> Vec<ColumnRule> {
        let mut rules = self.rules.clone().unwrap_or_else(rules::builtin);
        rules.extend(self.extra_rules.iter().cloned());
        rules.retain(|r| !self.disable.contains(&r.category));
        rules
    }

    fn severity(&self, rule: &ColumnRule) -> Severity {
        rule.severity.unwrap_or(match rule.tier {
            Tier::Sensitive => self.sensitive_severity,
            Tier::NonSensitive => self.non_sensitive_severity,
        })
    }
}

/// Every rule this policy reports (its catalogue in `policy-info`).
const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "pii.column.*",
        severity: Severity::High,
        summary: "a column whose name looks like personal data (`pii.column.<category>`, e.g. `pii.column.email`) is not declared as such",
    },
    RuleInfo {
        id: "pii.declared.*",
        severity: Severity::Info,
        summary: "a column holds declared personal data (`pii.declared.<category>`): noted, not a failure",
    },
    RuleInfo {
        id: "pii.value.*",
        severity: Severity::High,
        summary: "sample values of a column not declared personal look like personal data (`pii.value.<category>`)",
    },
];

pub struct Pii;

impl Policy for Pii {
    type Params = Params;

    const INFO: PolicyInfo = PolicyInfo {
        id: "sealgate.pii",
        version: "0.1.0",
        summary: "No undeclared personal data in the artifact's schema, dataset schemas or sample values.",
        params_schema: PARAMS_SCHEMA,
        rules: RULES,
    };

    fn validate(params: &Params) -> Result<(), String> {
        let mut problems = Vec::new();
        for r in params.rules() {
            for pattern in std::iter::once(&r.pattern).chain(&r.unless) {
                if let Err(e) = sealgate_policy_sdk::regex_is_match(pattern, "") {
                    problems.push(format!("rule `{}`: {e}", r.category));
                }
            }
            if r.category.is_empty()
                || !r
                    .category
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                problems.push(format!(
                    "rule category `{}` must be lowercase letters, digits and `-`",
                    r.category
                ));
            }
        }
        let known: BTreeSet<String> = params
            .rules
            .clone()
            .unwrap_or_else(rules::builtin)
            .into_iter()
            .chain(params.extra_rules.iter().cloned())
            .map(|r| r.category)
            .collect();
        for d in &params.disable {
            if !known.contains(d) {
                problems.push(format!("disable: unknown category `{d}`"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    fn evaluate(doc: &Metadata, params: &Params, _ctx: &Context) -> Result<Report, String> {
        let rules = params.rules();
        let screen = screen_pattern(&rules);
        let rules = (rules.as_slice(), screen.as_deref());
        let mut report = Report::new();
        for list in ["/schema/inputs", "/schema/outputs"] {
            for (ptr, col) in doc.items(list) {
                check_column(&mut report, params, rules, &ptr, col, None)?;
            }
        }
        for (ds_ptr, ds) in doc.items("/datasets") {
            let declared: BTreeSet<&str> = ds
                .get("pii_columns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (ptr, col) in doc.items(&format!("{ds_ptr}/columns")) {
                check_column(&mut report, params, rules, &ptr, col, Some(&declared))?;
            }
        }
        if params.scan_values {
            scan_samples(&mut report, params, doc)?;
        }
        Ok(report)
    }
}

fn column_name(col: &Value) -> Option<&str> {
    match col {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("name").and_then(Value::as_str),
        _ => None,
    }
}

fn is_exempt(params: &Params, col: &Value, name: &str) -> bool {
    let treatment = col.pointer("/privacy/treatment").and_then(Value::as_str);
    treatment.is_some_and(|t| EXEMPT_TREATMENTS.contains(&t))
        || params.exempt_columns.iter().any(|c| c == name)
}

/// All the rules' patterns as one regex, to screen each column with one host
/// call instead of one per rule (most columns match none). `None` if it would
/// pass the host's 4 KiB pattern limit; then every rule is tried in turn.
fn screen_pattern(rules: &[ColumnRule]) -> Option<String> {
    let merged = rules
        .iter()
        .map(|r| format!("(?:{})", r.pattern))
        .collect::<Vec<_>>()
        .join("|");
    (!rules.is_empty() && merged.len() <= sealgate_policy_sdk::limits::MAX_PATTERN_BYTES).then_some(merged)
}

/// The rules, and the screen over all of them.
type Rules<'r> = (&'r [ColumnRule], Option<&'r str>);

/// Which rule, if any, a column name falls under: the first that matches.
fn classify<'r>((rules, screen): Rules<'r>, name: &str) -> Result<Option<&'r ColumnRule>, String> {
    let normalised = rules::normalise(name);
    // A screen that cannot be compiled (a bad custom pattern) is skipped, so
    // the error names the rule at fault.
    if let Some(Ok(false)) = screen.map(|s| sealgate_policy_sdk::regex_is_match(s, &normalised)) {
        return Ok(None);
    }
    for r in rules {
        if sealgate_policy_sdk::regex_is_match(&r.pattern, &normalised)?
            && !r
                .unless
                .as_deref()
                .map(|u| sealgate_policy_sdk::regex_is_match(u, &normalised))
                .transpose()?
                .unwrap_or(false)
        {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

fn check_column(
    report: &mut Report,
    params: &Params,
    rules: Rules<'_>,
    ptr: &str,
    col: &Value,
    declared: Option<&BTreeSet<&str>>,
) -> Result<(), String> {
    let Some(name) = column_name(col) else {
        return Ok(());
    };
    let Some(rule) = classify(rules, name)? else {
        return Ok(());
    };
    let name_ptr = if col.is_object() {
        format!("{ptr}/name")
    } else {
        ptr.to_owned()
    };
    if is_exempt(params, col, name) {
        return Ok(());
    }
    let tier = match rule.tier {
        Tier::Sensitive => "sensitive",
        Tier::NonSensitive => "non-sensitive",
    };
    if declared.is_some_and(|d| d.contains(name)) {
        report.finding(
            &format!("pii.declared.{}", rule.category),
            Severity::Info,
            &name_ptr,
            format!(
                "column `{name}` holds declared personal data ({}, {tier})",
                rule.category
            ),
            "declared personal data is governed by the retention policy; nothing to do here",
        );
        return Ok(());
    }
    let exempt_hint = if col.is_object() {
        format!("set {ptr}/privacy/treatment to \"hashed\", \"pseudonymised\" or \"reviewed\"")
    } else {
        format!("add \"{name}\" to the policy's exempt-columns param")
    };
    report.finding(
        &format!("pii.column.{}", rule.category),
        params.severity(rule),
        &name_ptr,
        format!(
            "column `{name}` looks like personal data: {} ({tier})",
            rule.category
        ),
        format!("drop or transform the column before release; if it is already protected, {exempt_hint}"),
    );
    Ok(())
}

/// A kind of personal value: a cheap shape (host regex), then a validator.
struct ValueCheck {
    category: &'static str,
    shape: &'static str,
    valid: fn(&str) -> bool,
    severity: Severity,
}

/// Value categories, checked in this order; the first that matches wins.
const VALUE_CHECKS: &[ValueCheck] = &[
    ValueCheck {
        category: "ssn",
        shape: r"^\d{3}[- ]\d{2}[- ]\d{4}$",
        valid: validators::is_valid_ssn,
        severity: Severity::Critical,
    },
    ValueCheck {
        category: "credit-card",
        shape: r"^\d[\d -]{11,22}\d$",
        valid: validators::is_valid_card_number,
        severity: Severity::Critical,
    },
    ValueCheck {
        category: "iban",
        shape: r"^[A-Z]{2}\d{2}( ?[A-Z0-9]){11,30}$",
        valid: validators::is_valid_iban,
        severity: Severity::Critical,
    },
    ValueCheck {
        category: "email",
        shape: r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$",
        valid: validators::is_plausible_email,
        severity: Severity::High,
    },
    // International (`+` and a country code) or national with a trunk `0`
    // or a bracketed area code, digits grouped by spaces, dots, dashes or
    // brackets as people write them. Bare digit strings are too often ids.
    ValueCheck {
        category: "phone",
        shape: r"^(\+[1-9][\d ().-]{6,22}\d|\(\d{2,5}\) ?\d[\d .-]{4,16}\d|0\d{1,4}[ .-]\d[\d .-]{3,16}\d)$",
        valid: validators::is_plausible_phone,
        severity: Severity::High,
    },
];

fn scan_samples(report: &mut Report, params: &Params, doc: &Metadata) -> Result<(), String> {
    let shapes = VALUE_CHECKS
        .iter()
        .map(|c| format!("(?:{})", c.shape))
        .collect::<Vec<_>>()
        .join("|");
    let mut scanned = 0usize;
    for (sample_ptr, sample) in doc.items("/samples") {
        let columns: Vec<&str> = sample
            .get("columns")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| c.as_str().unwrap_or(""))
            .collect();
        // One finding per (column, category) per sample: a thousand rows of
        // e-mails are one problem, not a thousand.
        let mut seen: BTreeSet<(usize, &str)> = BTreeSet::new();
        for (row_ptr, row) in doc.items(&format!("{sample_ptr}/data")) {
            let Some(cells) = row.as_array() else { continue };
            for (c, cell) in cells.iter().enumerate() {
                if scanned >= params.max_values {
                    sealgate_policy_sdk::warn(&format!(
                        "stopped after {} sample values (max-values)",
                        params.max_values
                    ));
                    return Ok(());
                }
                scanned += 1;
                let text = match cell {
                    Value::String(s) => s.clone(),
                    Value::Number(n) if n.is_u64() => n.to_string(),
                    _ => continue,
                };
                let col_name = columns.get(c).copied().unwrap_or("");
                if params.exempt_columns.iter().any(|e| e == col_name) {
                    continue;
                }
                // One host call screens most values out (see `screen_pattern`).
                if !sealgate_policy_sdk::regex_is_match(&shapes, &text)? {
                    continue;
                }
                for check in VALUE_CHECKS {
                    if !sealgate_policy_sdk::regex_is_match(check.shape, &text)? || !(check.valid)(&text) {
                        continue;
                    }
                    let category = check.category;
                    if seen.insert((c, category)) {
                        let where_ = if col_name.is_empty() {
                            format!("column {c}")
                        } else {
                            format!("column `{col_name}`")
                        };
                        report.finding(
                            &format!("pii.value.{category}"),
                            check.severity,
                            &format!("{row_ptr}/{c}"),
                            format!("sample value in {where_} looks like a real {category} ({})", validators::mask(&text)),
                            format!(
                                "remove personal data from the sample (or replace it with synthetic values); if the column is exempt, add \"{}\" to exempt-columns",
                                pointer_escape(col_name)
                            ),
                        );
                    }
                    break;
                }
            }
        }
    }
    Ok(())
}

export_policy!(Pii);

#[cfg(test)]
mod tests {
    use sealgate_policy_sdk::{Context, evaluate_in_process};

    /// The policy's code runs natively too (the SDK answers `regex-is-match`
    /// in process), as the host's benchmarks use it.
    #[test]
    fn runs_in_process_with_native_regexes() {
        let ctx = Context {
            gate: "test".into(),
            artifact_digest: None,
            evaluated_at: "2026-11-27T00:00:00Z".into(),
            evaluated_at_unix: 1_795_737_600,
        };
        let doc = r#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":"m"},
            "schema":{"inputs":[{"name":"customerEmail"},{"name":"age"}]}}"#;
        let report = evaluate_in_process::<super::Pii>(doc, "{}", &ctx).unwrap();
        assert_eq!(report.len(), 1);
        let clean = doc.replace("customerEmail", "tenure");
        assert!(
            evaluate_in_process::<super::Pii>(&clean, "{}", &ctx)
                .unwrap()
                .is_empty()
        );
        assert!(evaluate_in_process::<super::Pii>(doc, r#"{"nope":1}"#, &ctx).is_err());
    }
}
