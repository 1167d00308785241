//! `sealgate.quality`: the model's metrics meet the floors and ceilings the
//! gate sets, e.g. accuracy no lower than the last validated release's.
//!
//! Metrics are read from `/lineage/metrics` (the training run's, as MLflow
//! logs them: name → number); `metrics-at` points elsewhere.
//!
//! | rule | checks |
//! |---|---|
//! | `quality.metric.missing` | every metric the gate names is recorded |
//! | `quality.metric.invalid` | it is a finite number |
//! | `quality.metric.below-min` | it is at least its `min` |
//! | `quality.metric.above-max` | it is at most its `max` |

use std::collections::BTreeMap;

use sealgate_policy_sdk::{
    Context, Metadata, Policy, PolicyInfo, Report, RuleInfo, Severity, export_policy, pointer_escape,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Params {
    /// Metric name → its bounds. At least one.
    metrics: BTreeMap<String, Bounds>,
    /// Where the metrics are. Default: `/lineage/metrics`.
    #[serde(default = "lineage_metrics")]
    metrics_at: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bounds {
    min: Option<f64>,
    max: Option<f64>,
    /// Severity of a finding on this metric. Default: high.
    #[serde(
        default = "high",
        deserialize_with = "sealgate_policy_sdk::deserialize_severity"
    )]
    severity: Severity,
}

fn lineage_metrics() -> String {
    "/lineage/metrics".into()
}
fn high() -> Severity {
    Severity::High
}

const PARAMS_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "required": ["metrics"],
  "properties": {
    "metrics": {
      "type": "object",
      "minProperties": 1,
      "additionalProperties": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "min": {"type": "number"},
          "max": {"type": "number"},
          "severity": {"enum": ["info", "low", "medium", "high", "critical"], "default": "high"}
        }
      }
    },
    "metrics-at": {"type": "string", "default": "/lineage/metrics"}
  }
}"#;

/// Every rule this policy reports (its catalogue in `policy-info`).
const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "quality.metric.missing",
        severity: Severity::High,
        summary: "a metric the gate names is not recorded (severity: the bound's `severity`)",
    },
    RuleInfo {
        id: "quality.metric.invalid",
        severity: Severity::High,
        summary: "a metric is not a finite number",
    },
    RuleInfo {
        id: "quality.metric.below-min",
        severity: Severity::High,
        summary: "a metric is below its `min`",
    },
    RuleInfo {
        id: "quality.metric.above-max",
        severity: Severity::High,
        summary: "a metric is above its `max`",
    },
];

pub struct Quality;

impl Policy for Quality {
    type Params = Params;

    const INFO: PolicyInfo = PolicyInfo {
        id: "sealgate.quality",
        version: "0.1.0",
        summary: "Model metrics meet the gate's floors and ceilings.",
        params_schema: PARAMS_SCHEMA,
        rules: RULES,
    };

    fn validate(params: &Params) -> Result<(), String> {
        if params.metrics.is_empty() {
            return Err("metrics must name at least one metric with a min or max".into());
        }
        if !params.metrics_at.is_empty() && !params.metrics_at.starts_with('/') {
            return Err(format!(
                "metrics-at `{}` is not a JSON Pointer",
                params.metrics_at
            ));
        }
        for (name, b) in &params.metrics {
            let finite = |x: Option<f64>| x.is_none_or(f64::is_finite);
            if b.min.is_none() && b.max.is_none() {
                return Err(format!("metric `{name}` needs a min, a max or both"));
            }
            if !finite(b.min) || !finite(b.max) {
                return Err(format!("metric `{name}`: bounds must be finite numbers"));
            }
            if let (Some(lo), Some(hi)) = (b.min, b.max)
                && lo > hi
            {
                return Err(format!("metric `{name}`: min {lo} is above max {hi}"));
            }
        }
        Ok(())
    }

    fn evaluate(doc: &Metadata, params: &Params, _ctx: &Context) -> Result<Report, String> {
        let mut r = Report::new();
        let base = &params.metrics_at;
        for (name, b) in &params.metrics {
            let ptr = format!("{base}/{}", pointer_escape(name));
            let value = match doc.get(&ptr) {
                None => {
                    r.finding(
                        "quality.metric.missing",
                        b.severity,
                        base,
                        format!("metric `{name}` is not recorded"),
                        format!("log `{name}` in the training run (it must be at {ptr})"),
                    );
                    continue;
                }
                Some(v) => v,
            };
            let Some(x) = number(value).filter(|x| x.is_finite()) else {
                r.finding(
                    "quality.metric.invalid",
                    b.severity,
                    &ptr,
                    format!("metric `{name}` is {value}, not a finite number"),
                    "record the metric as a number",
                );
                continue;
            };
            if let Some(min) = b.min
                && x < min
            {
                r.finding(
                    "quality.metric.below-min",
                    b.severity,
                    &ptr,
                    format!("{name} is {x}, below the floor of {min}"),
                    format!("improve the model until {name} >= {min}, or revisit the floor in the gate"),
                );
            }
            if let Some(max) = b.max
                && x > max
            {
                r.finding(
                    "quality.metric.above-max",
                    b.severity,
                    &ptr,
                    format!("{name} is {x}, above the ceiling of {max}"),
                    format!("improve the model until {name} <= {max}, or revisit the ceiling in the gate"),
                );
            }
        }
        Ok(r)
    }
}

/// A number, or a string holding one (MLflow tags and some exporters write
/// metrics as text).
fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.trim().parse().ok())
}

export_policy!(Quality);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_numeric_strings() {
        assert_eq!(number(&serde_json::json!(0.96)), Some(0.96));
        assert_eq!(number(&serde_json::json!("0.5")), Some(0.5));
        assert_eq!(number(&serde_json::json!("high")), None);
        assert_eq!(number(&serde_json::json!(null)), None);
    }
}
