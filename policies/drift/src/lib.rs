//! `sealgate.drift`: no feature drifted beyond the thresholds, per the
//! Evidently reports attached at `/reports/drift`.
//!
//! Both shapes Evidently writes are read:
//! - current (0.7 `metrics` list): `ValueDrift` metrics with `config.column`,
//!   `config.method`, `config.threshold` and `value`;
//! - legacy preset: `DataDriftTable.result.drift_by_columns.<col>` with
//!   `stattest_name`, `stattest_threshold`, `drift_score`.
//!
//! A p-value test (method name containing `p_value`) drifts when the p-value
//! is below the policy's `p-value-threshold` (default 0.01); a distance test
//! drifts when its score reaches the report's own threshold.
//!
//! | rule | checks |
//! |---|---|
//! | `drift.report.missing` | a drift report is attached (when `require-report`) |
//! | `drift.report.unreadable` | the report has one of the two shapes |
//! | `drift.column.drifted` | each column's test, as above |
//! | `drift.share.exceeded` | the share of drifted columns is below `max-drifted-share` (default 0.5) |

use sealgate_policy_sdk::{
    Context, Metadata, Policy, PolicyInfo, Report, Severity, export_policy, pointer_escape,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Params {
    /// p-values below this mean drift. Default 0.01.
    #[serde(default = "p_value_threshold")]
    p_value_threshold: f64,
    /// Fail when this share of columns (or more) drifted. Default 0.5.
    #[serde(default = "max_drifted_share")]
    max_drifted_share: f64,
    /// A missing report is a finding. Default true.
    #[serde(default = "yes")]
    require_report: bool,
    /// Columns not judged (e.g. known seasonal ones).
    #[serde(default)]
    ignore_columns: Vec<String>,
}

fn p_value_threshold() -> f64 {
    0.01
}
fn max_drifted_share() -> f64 {
    0.5
}
fn yes() -> bool {
    true
}

const PARAMS_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "p-value-threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.01},
    "max-drifted-share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.5},
    "require-report": {"type": "boolean", "default": true},
    "ignore-columns": {"type": "array", "items": {"type": "string"}}
  }
}"#;

/// One column's drift test, wherever it came from.
struct ColumnTest {
    column: String,
    method: String,
    score: f64,
    report_threshold: Option<f64>,
    pointer: String,
}

impl ColumnTest {
    fn drifted(&self, p_value_threshold: f64) -> bool {
        if self.method.contains("p_value") {
            self.score < p_value_threshold
        } else {
            self.report_threshold.is_some_and(|t| self.score >= t)
        }
    }
}

/// Column tests of a current-shape report (`metrics[].config.type` ValueDrift).
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
                method: m
                    .pointer("/config/method")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                score: m.get("value")?.as_f64()?,
                report_threshold: m.pointer("/config/threshold").and_then(Value::as_f64),
                pointer: format!("{ptr}/metrics/{i}/value"),
            })
        })
        .collect()
}

/// Column tests of a legacy-shape report (`DataDriftTable` drift_by_columns).
fn legacy_shape(ptr: &str, report: &Value) -> Vec<ColumnTest> {
    let Some(metrics) = report.get("metrics").and_then(Value::as_array) else {
        return vec![];
    };
    let mut tests = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        let Some(by_col) = m.pointer("/result/drift_by_columns").and_then(Value::as_object) else {
            continue;
        };
        for (col, t) in by_col {
            let Some(score) = t.get("drift_score").and_then(Value::as_f64) else {
                continue;
            };
            tests.push(ColumnTest {
                column: col.clone(),
                method: t
                    .get("stattest_name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                score,
                report_threshold: t.get("stattest_threshold").and_then(Value::as_f64),
                pointer: format!(
                    "{ptr}/metrics/{i}/result/drift_by_columns/{}/drift_score",
                    pointer_escape(col)
                ),
            });
        }
    }
    tests
}

pub struct Drift;

impl Policy for Drift {
    type Params = Params;

    const INFO: PolicyInfo = PolicyInfo {
        id: "sealgate.drift",
        version: "0.1.0",
        summary: "No feature drifted beyond the thresholds in the attached Evidently drift reports.",
        params_schema: PARAMS_SCHEMA,
    };

    fn validate(p: &Params) -> Result<(), String> {
        let in_unit = |x: f64| x > 0.0 && x <= 1.0;
        if !in_unit(p.p_value_threshold) || !in_unit(p.max_drifted_share) {
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
            let drifted: Vec<&ColumnTest> = tests.iter().filter(|t| t.drifted(p.p_value_threshold)).collect();
            for t in &drifted {
                let threshold = if t.method.contains("p_value") {
                    format!("p-value below {}", p.p_value_threshold)
                } else {
                    format!("score at or above {}", t.report_threshold.unwrap_or(f64::NAN))
                };
                r.finding(
                    "drift.column.drifted",
                    Severity::High,
                    &t.pointer,
                    format!("column `{}` drifted: {} = {:e} ({threshold})", t.column, t.method, t.score),
                    "investigate the shift and retrain on current data, or list the column in ignore-columns with a reason",
                );
            }
            let share = drifted.len() as f64 / tests.len() as f64;
            if share >= p.max_drifted_share {
                r.finding(
                    "drift.share.exceeded",
                    Severity::High,
                    &ptr,
                    format!(
                        "{} of {} columns drifted ({:.0}%), at or above the {:.0}% limit",
                        drifted.len(),
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
