"""The documentation policy (policies/rego/model-card/model_card.rego) in
Python: the same rules, rule ids, severities and cases (tests/ is the Rego
policy's). Reads /governance (docs/metadata.md).

Params (all optional): `kinds`, the artifact kinds it applies to (default
["model"]); `require-team` (default false).
"""

import sealgate_policy as sg

KINDS = {"model", "dataset", "image", "pipeline", "other"}
RISK_CLASSES = {"minimal", "limited", "high", "unacceptable"}

PARAMS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "kinds": {"type": "array", "items": {"enum": sorted(KINDS)}, "default": ["model"]},
        "require-team": {"type": "boolean", "default": False},
    },
}


class ModelCard(sg.Rules):
    INFO = sg.Info(
        id="acme.model-card",
        version="0.1.0",
        summary="A model is documented: owner, intended and out-of-scope uses, EU AI Act risk class, model card.",
        params_schema=PARAMS_SCHEMA,
        rules=[
            sg.Rule("governance.owner.missing", sg.Severity.HIGH, "no owner is named"),
            sg.Rule("governance.team.missing", sg.Severity.HIGH, "no team is named (with `require-team`)"),
            sg.Rule("governance.intended-use.missing", sg.Severity.HIGH, "the intended use is not stated"),
            sg.Rule("governance.out-of-scope.missing", sg.Severity.MEDIUM, "no out-of-scope uses are listed"),
            sg.Rule("governance.risk-class.missing", sg.Severity.HIGH, "no EU AI Act risk class"),
            sg.Rule("governance.risk-class.invalid", sg.Severity.HIGH, "the risk class is not one of the AI Act's four"),
            sg.Rule("governance.risk-class.unacceptable", sg.Severity.CRITICAL, "the risk class is `unacceptable` (prohibited)"),
            sg.Rule("governance.risk-class.inconsistent", sg.Severity.HIGH, "the risk class contradicts /artifact/high_risk_system"),
            sg.Rule("governance.model-card.missing", sg.Severity.HIGH, "no model card or technical documentation"),
        ],
    )

    def validate(self, params):
        kinds = params.get("kinds", ["model"])
        if not isinstance(kinds, list) or any(k not in KINDS for k in kinds):
            raise sg.InvalidParams(
                "params.kinds must be a list of artifact kinds (model, dataset, image, pipeline, other)"
            )
        if not isinstance(params.get("require-team", False), bool):
            raise sg.InvalidParams("params.require-team must be true or false")

    def evaluate(self, doc, params, ctx):
        report = sg.Report()
        if doc.str("/artifact/kind") not in params.get("kinds", ["model"]):
            return report
        name = f"{doc.str('/artifact/kind')} {doc.str('/artifact/name') or '(unnamed)'}"
        gov = doc.get("/governance", {})
        gov = gov if isinstance(gov, dict) else {}

        def missing(field):
            value = gov.get(field)
            return not (isinstance(value, str) and value.strip())

        def deny(rule, pointer, message, remediation, severity=sg.Severity.HIGH):
            report.finding(rule, severity, pointer, message, remediation).fail()

        if missing("owner"):
            deny("governance.owner.missing", "", f"{name} has no owner: nobody answers for it",
                 "tag the model version compliance.owner with the accountable person or role")
        if params.get("require-team", False) and missing("team"):
            deny("governance.team.missing", "", f"{name} names no team", "tag the model version compliance.team")
        if missing("intended_use"):
            deny("governance.intended-use.missing", "",
                 f"{name} does not say what it is for (EU AI Act Art. 13(3)(b))",
                 "tag the model version compliance.intended_use with its intended purpose")
        if not gov.get("out_of_scope_uses"):
            report.finding("governance.out-of-scope.missing", sg.Severity.MEDIUM, "",
                           f"{name} lists no out-of-scope uses",
                           "tag the model version compliance.out_of_scope_uses (uses it must not be put to, separated by `;`)")
        risk = gov.get("ai_act_risk_class")
        if missing("ai_act_risk_class"):
            deny("governance.risk-class.missing", "", f"{name} has no EU AI Act risk class",
                 "tag the model version compliance.ai_act_risk_class: minimal, limited, high or unacceptable")
        elif risk not in RISK_CLASSES:
            deny("governance.risk-class.invalid", "/governance/ai_act_risk_class",
                 f"risk class `{risk}` is not one of minimal, limited, high, unacceptable",
                 "use one of the EU AI Act's classes: minimal, limited, high or unacceptable")
        elif risk == "unacceptable":
            deny("governance.risk-class.unacceptable", "/governance/ai_act_risk_class",
                 f"{name} is classed `unacceptable`: a prohibited AI practice (EU AI Act Art. 5) may not be placed on the market",
                 "do not promote it; withdraw the use case", sg.Severity.CRITICAL)
        else:
            high_risk = doc.get("/artifact/high_risk_system")
            if isinstance(high_risk, bool) and (risk == "high") != high_risk:
                deny("governance.risk-class.inconsistent", "/governance/ai_act_risk_class",
                     f"risk class `{risk}` contradicts /artifact/high_risk_system = {str(high_risk).lower()}",
                     "make compliance.ai_act_risk_class and compliance.high_risk_system agree")
        if missing("model_card_uri"):
            deny("governance.model-card.missing", "",
                 f"{name} has no model card or technical documentation (EU AI Act Art. 11)",
                 "tag the model version compliance.model_card_uri with where its documentation is")
        return report


Policy = sg.export(ModelCard)
