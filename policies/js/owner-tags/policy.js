// acme.owner-tags, in JavaScript: every artifact carries the tags the gate requires.
import { log } from "sealgate:policy/host@0.2.0";

const RULES = [
  { id: "owner-tags.tag.missing", severity: "high", summary: "a tag in `required-tags` is not set" },
];

const escape = (token) => String(token).replaceAll("~", "~0").replaceAll("/", "~1");

function requiredTags(params) {
  const tags = params["required-tags"] ?? ["owner"];
  if (!Array.isArray(tags) || tags.length === 0 || !tags.every((t) => typeof t === "string")) {
    throw "required-tags must be a non-empty list of tag names";
  }
  return tags;
}

export const policy = {
  info() {
    return {
      id: "acme.owner-tags",
      version: "0.1.0",
      summary: "Every artifact names the people accountable for it.",
      paramsSchema: JSON.stringify({
        type: "object",
        additionalProperties: false,
        properties: { "required-tags": { type: "array", items: { type: "string" } } },
      }),
      rules: RULES,
    };
  },

  // A thrown string is the contract's `err`: the gate refuses the params at load.
  validateParams(params) {
    const p = JSON.parse(params);
    for (const key of Object.keys(p)) {
      if (key !== "required-tags") throw `unknown param \`${key}\`: this policy reads \`required-tags\``;
    }
    requiredTags(p);
  },

  evaluate(metadata, params, context) {
    const doc = JSON.parse(metadata);
    const tags = doc.artifact?.tags ?? {};
    const findings = [];
    for (const tag of requiredTags(JSON.parse(params))) {
      const value = tags[tag];
      if (typeof value !== "string" || value.trim() === "") {
        findings.push({
          ruleId: "owner-tags.tag.missing",
          severity: "high",
          pointer: "/artifact/tags",
          message: `the artifact has no \`${tag}\` tag`,
          remediation: `set /artifact/tags/${escape(tag)} (e.g. an MLflow registered-model tag)`,
        });
      }
    }
    log("info", `gate ${context.gate}: ${findings.length} finding(s)`);
    return { passed: true, findings };
  },
};
