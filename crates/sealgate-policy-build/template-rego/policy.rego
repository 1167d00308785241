# {{id}}: every artifact carries the tags the gate requires (default: owner).
#
# `input` is the artifact's metadata document (docs/metadata.md);
# `data.sealgate.params` the gate's params, `data.sealgate.context` the gate,
# the artifact digest and the evaluation time. Each value of a `deny` rule
# fails the policy; `warn` values are findings the gate judges by severity.
package main

import rego.v1

params := data.sealgate.params

required := object.get(params, "required-tags", ["owner"])

tags := object.get(input.artifact, "tags", {})

# Params the gate gives are checked when it loads, not at the first run.
invalid_params contains sprintf("unknown param `%s`: this policy reads `required-tags`", [key]) if {
	some key, _ in params
	key != "required-tags"
}

invalid_params contains "required-tags must be a list of tag names" if {
	not is_array(required)
}

deny contains {
	"rule_id": "{{name}}.tag.missing",
	"severity": "high",
	"pointer": "/artifact",
	"msg": sprintf("%s %s has no `%s` tag", [input.artifact.kind, input.artifact.name, tag]),
	"remediation": sprintf("tag the artifact `%s` (in MLflow: a model version tag)", [tag]),
} if {
	some tag in required
	trim_space(object.get(tags, tag, "")) == ""
}
