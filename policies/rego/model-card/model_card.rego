# Model documentation an EU AI Act / model-card review needs, read from the
# metadata's /governance section (docs/metadata.md; `sealgate collect` fills
# it from MLflow's `compliance.*` tags): who owns the model, what it is for
# and not for, its AI Act risk class, and where its model card is.
#
# Params (all optional): `kinds`, the artifact kinds it applies to (default
# ["model"]); `require-team` (default false).
package main

import rego.v1

params := data.sealgate.params

governance := object.get(input, "governance", {})

applies if input.artifact.kind in object.get(params, "kinds", ["model"])

risk_classes := {"minimal", "limited", "high", "unacceptable"}

invalid_params contains "params.kinds must be a list of artifact kinds (model, dataset, image, pipeline, other)" if {
	some kind in object.get(params, "kinds", [])
	not kind in {"model", "dataset", "image", "pipeline", "other"}
}

deny contains {
	"rule_id": "governance.owner.missing",
	"pointer": "",
	"msg": sprintf("%s has no owner: nobody answers for it", [name]),
	"remediation": "tag the model version compliance.owner with the accountable person or role",
} if {
	applies
	missing("owner")
}

deny contains {
	"rule_id": "governance.team.missing",
	"pointer": "",
	"msg": sprintf("%s names no team", [name]),
	"remediation": "tag the model version compliance.team",
} if {
	applies
	object.get(params, "require-team", false)
	missing("team")
}

deny contains {
	"rule_id": "governance.intended-use.missing",
	"pointer": "",
	"msg": sprintf("%s does not say what it is for (EU AI Act Art. 13(3)(b))", [name]),
	"remediation": "tag the model version compliance.intended_use with its intended purpose",
} if {
	applies
	missing("intended_use")
}

warn contains {
	"rule_id": "governance.out-of-scope.missing",
	"severity": "medium",
	"pointer": "",
	"msg": sprintf("%s lists no out-of-scope uses", [name]),
	"remediation": "tag the model version compliance.out_of_scope_uses (uses it must not be put to, separated by `;`)",
} if {
	applies
	count(object.get(governance, "out_of_scope_uses", [])) == 0
}

deny contains {
	"rule_id": "governance.risk-class.missing",
	"pointer": "",
	"msg": sprintf("%s has no EU AI Act risk class", [name]),
	"remediation": "tag the model version compliance.ai_act_risk_class: minimal, limited, high or unacceptable",
} if {
	applies
	missing("ai_act_risk_class")
}

deny contains {
	"rule_id": "governance.risk-class.invalid",
	"pointer": "/governance/ai_act_risk_class",
	"msg": sprintf("risk class `%v` is not one of minimal, limited, high, unacceptable", [governance.ai_act_risk_class]),
	"remediation": "use one of the EU AI Act's classes: minimal, limited, high or unacceptable",
} if {
	applies
	not governance.ai_act_risk_class in risk_classes
	not missing("ai_act_risk_class")
}

deny contains {
	"rule_id": "governance.risk-class.unacceptable",
	"severity": "critical",
	"pointer": "/governance/ai_act_risk_class",
	"msg": sprintf("%s is classed `unacceptable`: a prohibited AI practice (EU AI Act Art. 5) may not be placed on the market", [name]),
	"remediation": "do not promote it; withdraw the use case",
} if {
	applies
	governance.ai_act_risk_class == "unacceptable"
}

deny contains {
	"rule_id": "governance.risk-class.inconsistent",
	"pointer": "/governance/ai_act_risk_class",
	"msg": sprintf("risk class `%s` contradicts /artifact/high_risk_system = %v", [governance.ai_act_risk_class, input.artifact.high_risk_system]),
	"remediation": "make compliance.ai_act_risk_class and compliance.high_risk_system agree",
} if {
	applies
	is_boolean(input.artifact.high_risk_system)
	(governance.ai_act_risk_class == "high") != input.artifact.high_risk_system
	governance.ai_act_risk_class in {"minimal", "limited", "high"}
}

deny contains {
	"rule_id": "governance.model-card.missing",
	"pointer": "",
	"msg": sprintf("%s has no model card or technical documentation (EU AI Act Art. 11)", [name]),
	"remediation": "tag the model version compliance.model_card_uri with where its documentation is",
} if {
	applies
	missing("model_card_uri")
}

name := sprintf("%s %s", [input.artifact.kind, object.get(input.artifact, "name", "(unnamed)")])

missing(field) if {
	value := object.get(governance, field, "")
	not non_empty(value)
}

non_empty(value) if {
	is_string(value)
	trim_space(value) != ""
}
