//! `sealgate.drift`: no feature drifted, per the Evidently reports attached
//! at `/reports/drift`.
//!
//! Every shape Evidently writes is read:
//! - 0.7 (`metrics` list): `ValueDrift` metrics (`config.column`,
//!   `config.method`, `config.threshold`, `value`), and when the report was
//!   run with tests, the `drift` test bound to each (`status` FAIL/SUCCESS);
//! - legacy: `DataDriftTable.result.drift_by_columns.<col>` and
//!   `ColumnDriftMetric.result` (`stattest_name`, `stattest_threshold`,
//!   `drift_score`, `drift_detected`).
//!
//! Whether a score means drift depends on the test: a p-value drifts below
//! its threshold, a distance above it, and names do not say which (`TVD` and
//! `empirical_mmd` are p-values). [`stattests::STATTESTS`] holds every test
//! Evidently 0.7 registers, from its source. A column drifted when the table
//! says so at the report's threshold (Evidently's default for the test when
//! the report gives none), when the report itself says so, or, for a p-value,
//! when it is below `p-value-threshold` (a gate may only make the test
//! stricter). Where the report records its own decision and the table
//! disagrees, that is `drift.column.inconsistent`, and the column counts as
//! drifted. A column that cannot be judged (a test not in the table, no
//! score, a test only the report can decide without the report's decision)
//! is `drift.column.unjudged`: never a silent pass.
//!
//! | rule | checks |
//! |---|---|
//! | `drift.report.missing` | a drift report is attached (when `require-report`) |
//! | `drift.report.unreadable` | the report has per-column tests in a known shape |
//! | `drift.column.drifted` | each column's test, as above |
//! | `drift.column.inconsistent` | the report's own decision agrees with its test's reading |
//! | `drift.report.inconsistent` | the report's count of drifted columns (`DriftedColumnsCount`, `number_of_drifted_columns`) is what its columns give |
//! | `drift.column.unjudged` | each column's test can be judged (severity: `unjudged-severity`) |
//! | `drift.share.exceeded` | the share of drifted columns is below `max-drifted-share` (default 0.5) |

mod stattests;

use sealgate_policy_sdk::{
    Context, Metadata, Policy, PolicyInfo, Report, RuleInfo, Severity, deserialize_severity, export_policy,
    pointer_escape,
};
use serde::Deserialize;
use serde_json::Value;

use crate::stattests::StatTest;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Params {
    /// A p-value below this is drift too, whatever the report's threshold
    /// (only ever stricter than the report). Default: the report's.
    #[serde(default)]
    p_value_threshold: Option<f64>,
    /// Fail when this share of columns (or more) drifted. Default 0.5.
    #[serde(default = "max_drifted_share")]
    max_drifted_share: f64,
    /// A missing report is a finding. Default true.
    #[serde(default = "yes")]
    require_report: bool,
    /// Columns not judged (e.g. known seasonal ones).
    #[serde(default)]
    ignore_columns: Vec<String>,
    /// Severity of `drift.column.unjudged`. Default high (fails the gate at
    /// the default `fail-on`).
    #[serde(default = "high", deserialize_with = "deserialize_severity")]
    unjudged_severity: Severity,
}

fn max_drifted_share() -> f64 {
    0.5
}
fn yes() -> bool {
    true
}
fn high() -> Severity {
    Severity::High
}

const PARAMS_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "p-value-threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "max-drifted-share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.5},
    "require-report": {"type": "boolean", "default": true},
    "ignore-columns": {"type": "array", "items": {"type": "string"}},
    "unjudged-severity": {"enum": ["info", "low", "medium", "high", "critical"], "default": "high"}
  }
}"#;

/// One column's drift test, wherever it came from.
struct ColumnTest {
    column: String,
    method: String,
    score: Option<f64>,
    report_threshold: Option<f64>,
    /// The report's own decision, where it records one.
    reported: Option<bool>,
    pointer: String,
}

/// What the policy concluded about one column.
enum Judgement {
    Stable,
    Drifted(String),
    /// The report's decision and the test's reading disagree.
    Inconsistent(String),
    Unjudged(String),
}

impl ColumnTest {
    /// The column's judgement, with a gate's stricter p-value threshold
    /// (`strict`) applied on top of the report's.
    fn judge(&self, strict: Option<f64>) -> Judgement {
        let Some(test) = stattests::lookup(&self.method) else {
            let what = if self.method.is_empty() {
                "no test named".to_owned()
            } else {
                format!("test `{}` is not one sealgate knows how to read", self.method)
            };
            return match self.reported {
                Some(true) => Judgement::Drifted(format!("the report says it drifted ({what})")),
                _ => Judgement::Unjudged(what),
            };
        };
        let Some(score) = self.score.filter(|s| s.is_finite()) else {
            return match self.reported {
                Some(true) => Judgement::Drifted(format!("the report says {} drifted", test.display_name)),
                _ => Judgement::Unjudged(format!("{} has no numeric score", test.display_name)),
            };
        };
        let threshold = self.report_threshold.unwrap_or(test.default_threshold);
        match (test.drifted(score, threshold), self.reported) {
            (None, Some(true)) => Judgement::Drifted(format!(
                "{} = {score} (the report's decision; the test compares with a percentile it does not record)",
                test.display_name
            )),
            (None, Some(false)) => Judgement::Stable,
            (None, None) => Judgement::Unjudged(format!(
                "{} is decided against a percentile the report does not record, and the report carries no decision (run it with tests, or the legacy preset)",
                test.display_name
            )),
            (Some(read), Some(said)) if read != said => Judgement::Inconsistent(format!(
                "the report says {}, but {} = {score} against threshold {threshold} reads as {}",
                if said { "drifted" } else { "not drifted" },
                test.display_name,
                if read { "drifted" } else { "not drifted" },
            )),
            (Some(true), _) => Judgement::Drifted(describe(test, score, threshold)),
            (Some(false), _) => match strict {
                Some(strict) if test.is_p_value() && score < strict => Judgement::Drifted(format!(
                    "{} = {score:e}, below the gate's p-value-threshold {strict}",
                    test.display_name
                )),
                _ => Judgement::Stable,
            },
        }
    }
}

fn describe(test: &StatTest, score: f64, threshold: f64) -> String {
    let side = if test.is_p_value() {
        "p-value below"
    } else {
        "score above"
    };
    format!(
        "{} = {score:e} ({side} the threshold {threshold})",
        test.display_name
    )
}

/// The `drift` test a 0.7 report bound to the metric with id `metric_id`.
fn reported_status(report: &Value, metric_id: Option<&str>) -> Option<bool> {
    let id = metric_id?;
    report
        .get("tests")?
        .as_array()?
        .iter()
        .find(|t| {
            t.get("id").and_then(Value::as_str) == Some("drift")
                && t.pointer("/metric_config/metric_id").and_then(Value::as_str) == Some(id)
        })
        .and_then(|t| match t.get("status").and_then(Value::as_str) {
            Some("FAIL") => Some(true),
            Some("SUCCESS") => Some(false),
            _ => None,
        })
}

/// Column tests of a 0.7 report (`metrics[].config.type` ValueDrift).
fn current_shape(ptr: &str, report: &Value) -> Vec<ColumnTest> {
    let Some(metrics) = report.get("metrics").and_then(Value::as_array) else {
        return vec![];
    };
    metrics
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            m.pointer("/config/type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with(":ValueDrift"))
        })
        .filter_map(|(i, m)| {
            Some(ColumnTest {
                column: m.pointer("/config/column")?.as_str()?.to_owned(),
                method: text(m.pointer("/config/method")),
                score: m.get("value").and_then(Value::as_f64),
                report_threshold: m.pointer("/config/threshold").and_then(Value::as_f64),
                reported: reported_status(report, m.get("id").and_then(Value::as_str)),
                pointer: format!("{ptr}/metrics/{i}/value"),
            })
        })
        .collect()
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_owned()
}

/// One legacy per-column result (`drift_by_columns.<col>` or a
/// `ColumnDriftMetric`'s `result`).
fn legacy_column(column: &str, t: &Value, pointer: String) -> ColumnTest {
    ColumnTest {
        column: column.to_owned(),
        method: text(t.get("stattest_name")),
        score: t.get("drift_score").and_then(Value::as_f64),
        report_threshold: t.get("stattest_threshold").and_then(Value::as_f64),
        reported: t.get("drift_detected").and_then(Value::as_bool),
        pointer,
    }
}

/// Column tests of a legacy report (`DataDriftTable`, `ColumnDriftMetric`).
fn legacy_shape(ptr: &str, report: &Value) -> Vec<ColumnTest> {
    let Some(metrics) = report.get("metrics").and_then(Value::as_array) else {
        return vec![];
    };
    let mut tests = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        if let Some(by_col) = m.pointer("/result/drift_by_columns").and_then(Value::as_object) {
            for (col, t) in by_col {
                let pointer = format!(
                    "{ptr}/metrics/{i}/result/drift_by_columns/{}/drift_score",
                    pointer_escape(col)
                );
                tests.push(legacy_column(col, t, pointer));
            }
        } else if m.get("metric").and_then(Value::as_str) == Some("ColumnDriftMetric")
            && let Some(result) = m.get("result")
            && let Some(col) = result.get("column_name").and_then(Value::as_str)
        {
            tests.push(legacy_column(
                col,
                result,
                format!("{ptr}/metrics/{i}/result/drift_score"),
            ));
        }
    }
    tests
}

/// Evidently's own count of drifted columns (0.7 `DriftedColumnsCount`,
/// legacy `number_of_drifted_columns`) must be the count its per-column
/// results give at the report's thresholds: a report whose summary and
/// columns disagree was edited or is not what it claims. Skipped when a
/// column cannot be judged (its own finding).
fn check_reported_count(ptr: &str, report: &Value, tests: &[ColumnTest], r: &mut Report) {
    let metrics = report
        .get("metrics")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let reported = metrics.iter().enumerate().find_map(|(i, m)| {
        let v7 = m
            .pointer("/config/type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with(":DriftedColumnsCount"))
            .then(|| {
                m.pointer("/value/count")
                    .and_then(Value::as_f64)
                    .map(|c| (c, format!("{ptr}/metrics/{i}/value/count")))
            })
            .flatten();
        v7.or_else(|| {
            m.pointer("/result/number_of_drifted_columns")
                .and_then(Value::as_f64)
                .map(|c| (c, format!("{ptr}/metrics/{i}/result/number_of_drifted_columns")))
        })
    });
    let Some((count, at)) = reported else {
        return;
    };
    let mut ours = 0.0;
    for t in tests {
        match t.judge(None) {
            Judgement::Drifted(_) | Judgement::Inconsistent(_) => ours += 1.0,
            Judgement::Stable => {}
            Judgement::Unjudged(_) => return,
        }
    }
    if count != ours {
        r.finding(
            "drift.report.inconsistent",
            Severity::High,
            &at,
            format!("the report counts {count} drifted column(s), its per-column results {ours}"),
            "regenerate the report with Evidently; a report edited after it was written is not evidence",
        );
    }
}

/// Every rule this policy reports (its catalogue in `policy-info`).
const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "drift.report.missing",
        severity: Severity::High,
        summary: "no drift report is attached (with `require-report`)",
    },
    RuleInfo {
        id: "drift.report.unreadable",
        severity: Severity::High,
        summary: "a report has no per-column tests in a known shape",
    },
    RuleInfo {
        id: "drift.column.drifted",
        severity: Severity::High,
        summary: "a column drifted, by its test's own reading",
    },
    RuleInfo {
        id: "drift.column.inconsistent",
        severity: Severity::High,
        summary: "a report's decision for a column disagrees with its test's reading",
    },
    RuleInfo {
        id: "drift.report.inconsistent",
        severity: Severity::High,
        summary: "a report's count of drifted columns is not what its columns give",
    },
    RuleInfo {
        id: "drift.column.unjudged",
        severity: Severity::High,
        summary: "a column's test cannot be judged (severity: `unjudged-severity`)",
    },
    RuleInfo {
        id: "drift.share.exceeded",
        severity: Severity::High,
        summary: "the share of drifted columns reaches `max-drifted-share`",
    },
];

pub struct Drift;

impl Policy for Drift {
    type Params = Params;

    const INFO: PolicyInfo = PolicyInfo {
        id: "sealgate.drift",
        version: "0.1.0",
        summary: "No feature drifted in the attached Evidently drift reports, read per test as Evidently reads it.",
        params_schema: PARAMS_SCHEMA,
        rules: RULES,
    };

    fn validate(p: &Params) -> Result<(), String> {
        let in_unit = |x: f64| x > 0.0 && x <= 1.0;
        if !p.p_value_threshold.is_none_or(in_unit) || !in_unit(p.max_drifted_share) {
            return Err("p-value-threshold and max-drifted-share must be in (0, 1]".into());
        }
        Ok(())
    }

    fn evaluate(doc: &Metadata, p: &Params, _ctx: &Context) -> Result<Report, String> {
        let mut r = Report::new();
        let reports: Vec<(String, &Value)> = doc.items("/reports/drift").collect();
        if reports.is_empty() && p.require_report {
            r.finding(
                "drift.report.missing",
                Severity::High,
                "/reports",
                "no drift report is attached",
                "run an Evidently drift report on current vs reference data and attach it at /reports/drift",
            );
        }
        for (ptr, report) in reports {
            let mut tests = current_shape(&ptr, report);
            if tests.is_empty() {
                tests = legacy_shape(&ptr, report);
            }
            check_reported_count(&ptr, report, &tests, &mut r);
            tests.retain(|t| !p.ignore_columns.contains(&t.column));
            if tests.is_empty() {
                r.finding(
                    "drift.report.unreadable",
                    Severity::High,
                    &ptr,
                    "the drift report has no per-column tests in a known Evidently shape",
                    "attach the JSON of an Evidently DataDriftPreset report (0.7 `metrics` or the legacy `drift_by_columns`)",
                );
                continue;
            }
            let mut drifted: u32 = 0;
            for t in &tests {
                let column = &t.column;
                match t.judge(p.p_value_threshold) {
                    Judgement::Stable => {}
                    Judgement::Drifted(why) => {
                        drifted += 1;
                        r.finding(
                            "drift.column.drifted",
                            Severity::High,
                            &t.pointer,
                            format!("column `{column}` drifted: {why}"),
                            "investigate the shift and retrain on current data, or list the column in ignore-columns with a reason",
                        );
                    }
                    Judgement::Inconsistent(why) => {
                        drifted += 1;
                        r.finding(
                            "drift.column.inconsistent",
                            Severity::High,
                            &t.pointer,
                            format!("column `{column}`: {why}; counted as drifted"),
                            "regenerate the report with Evidently; a report edited after it was written is not evidence",
                        );
                    }
                    Judgement::Unjudged(why) => {
                        r.finding(
                            "drift.column.unjudged",
                            p.unjudged_severity,
                            &t.pointer,
                            format!("column `{column}` cannot be judged: {why}"),
                            "use one of Evidently's registered drift tests (docs/policies.md lists them), or list the column in ignore-columns with a reason",
                        );
                    }
                }
            }
            let share = f64::from(drifted) / tests.len() as f64;
            if share >= p.max_drifted_share {
                r.finding(
                    "drift.share.exceeded",
                    Severity::High,
                    &ptr,
                    format!(
                        "{} of {} columns drifted ({:.0}%), at or above the {:.0}% limit",
                        drifted,
                        tests.len(),
                        share * 100.0,
                        p.max_drifted_share * 100.0
                    ),
                    "the data changed broadly: retrain and re-validate before release",
                );
            }
        }
        Ok(r)
    }
}

export_policy!(Drift);
