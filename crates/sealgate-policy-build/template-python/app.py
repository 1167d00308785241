"""{{id}}: every artifact carries the tags the gate requires (default: owner).

Built by `sealgate policy build .` with componentize-py; `sealgate_policy`
(the SDK) and the contract come with sealgate.
"""

import sealgate_policy as sg

PARAMS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "required-tags": {"type": "array", "items": {"type": "string"}, "default": ["owner"]},
    },
}


class RequiredTags(sg.Rules):
    INFO = sg.Info(
        id="{{id}}",
        version="0.1.0",
        summary="Every artifact names the people accountable for it.",
        params_schema=PARAMS_SCHEMA,
        # Every rule id a finding may carry: the host refuses any other, and
        # `sealgate policy test --coverage` lists the ones no case produced.
        rules=[sg.Rule("{{name}}.tag.missing", sg.Severity.HIGH, "a tag in `required-tags` is not set")],
    )

    def validate(self, params):
        # A typo in a gate is refused when the gate loads, not ignored.
        for key in params:
            if key != "required-tags":
                raise sg.InvalidParams(f"unknown param `{key}`: this policy reads `required-tags`")
        tags = params.get("required-tags", ["owner"])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise sg.InvalidParams("required-tags must be a list of tag names")

    def evaluate(self, doc, params, ctx):
        report = sg.Report()
        kind = doc.str("/artifact/kind") or "artifact"
        name = doc.str("/artifact/name") or "(unnamed)"
        for tag in params.get("required-tags", ["owner"]):
            if not doc.str(f"/artifact/tags/{sg.pointer_escape(tag)}"):
                report.finding(
                    "{{name}}.tag.missing",
                    sg.Severity.HIGH,
                    "/artifact",
                    f"{kind} {name} has no `{tag}` tag",
                    f"tag the artifact `{tag}` (in MLflow: a model version tag)",
                )
        return report


Policy = sg.export(RequiredTags)
