# The quality policy (policies/quality, in Rust) written in Rego: the model's
# metrics meet the floors and ceilings the gate sets. The same params, rule
# ids and verdicts: the suite runs the Rust policy's own cases against it.
#
# Findings are `warn` objects carrying their severity, so the gate judges
# them by its `fail-on` exactly as it judges the Rust policy's (a `deny`
# would fail the policy whatever its severity).
package main

import rego.v1

params := data.sealgate.params

metrics_at := object.get(params, "metrics-at", "/lineage/metrics")

bounds := object.get(params, "metrics", {})

# Where the metrics are: metrics-at read as a JSON Pointer.
metrics := object.get(input, pointer_path(metrics_at), null)

# Params are refused when the gate loads (sealgate's `invalid_params`).
invalid_params contains "params.metrics is required: name at least one metric with a min or max" if {
	not params.metrics
}

invalid_params contains "metrics must name at least one metric with a min or max" if {
	count(bounds) == 0
}

invalid_params contains sprintf("metrics-at `%s` is not a JSON Pointer", [metrics_at]) if {
	metrics_at != ""
	not startswith(metrics_at, "/")
}

invalid_params contains sprintf("metric `%s` needs a min, a max or both", [name]) if {
	some name, b in bounds
	not has_key(b, "min")
	not has_key(b, "max")
}

invalid_params contains sprintf("metric `%s`: min %v is above max %v", [name, b.min, b.max]) if {
	some name, b in bounds
	b.min > b.max
}

warn contains finding(name, "quality.metric.missing", metrics_at, sprintf("metric `%s` is not recorded", [name]), sprintf("log `%s` in the training run (it must be at %s)", [name, pointer(name)])) if {
	some name, _ in bounds
	not recorded(name)
}

warn contains finding(name, "quality.metric.invalid", pointer(name), sprintf("metric `%s` is %v, not a finite number", [name, metrics[name]]), "record the metric as a number") if {
	some name, _ in bounds
	recorded(name)
	not number(metrics[name])
}

warn contains finding(name, "quality.metric.below-min", pointer(name), sprintf("%s is %v, below the floor of %v", [name, x, b.min]), sprintf("improve the model until %s >= %v, or revisit the floor in the gate", [name, b.min])) if {
	some name, b in bounds
	x := number(metrics[name])
	x < b.min
}

warn contains finding(name, "quality.metric.above-max", pointer(name), sprintf("%s is %v, above the ceiling of %v", [name, x, b.max]), sprintf("improve the model until %s <= %v, or revisit the ceiling in the gate", [name, b.max])) if {
	some name, b in bounds
	x := number(metrics[name])
	x > b.max
}

finding(name, rule_id, ptr, msg, remediation) := {
	"rule_id": rule_id,
	"severity": object.get(bounds[name], "severity", "high"),
	"pointer": ptr,
	"msg": msg,
	"remediation": remediation,
}

recorded(name) if has_key(metrics, name)

has_key(obj, key) if {
	is_object(obj)
	_ = obj[key]
}

# A number, or a string holding one (MLflow tags and some exporters write
# metrics as text).
number(v) := v if is_number(v)

number(v) := to_number(trim_space(v)) if {
	is_string(v)
	regex.match(`^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$`, v)
}

pointer(name) := concat("/", [metrics_at, escape(name)])

escape(token) := replace(replace(token, "~", "~0"), "/", "~1")

unescape(token) := replace(replace(token, "~1", "/"), "~0", "~")

pointer_path(p) := [] if p == ""

pointer_path(p) := [unescape(t) | some t in split(substring(p, 1, -1), "/")] if startswith(p, "/")
