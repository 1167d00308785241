//! `sealgate.rego`: Rego policies, written as for OPA and conftest, evaluated
//! by regorus inside this component, so under the same sandbox, fuel,
//! memory and time limits as every other policy, never on the host.
//!
//! The gate names each `.rego` file (and data JSON) with its sha256; the host
//! reads them, refuses any that differ from their pins, and hands them to
//! this component with the gate's params:
//!
//! ```json
//! {"rego": [{"path": "model_card.rego", "source": "package main …"}],
//!  "data": [{"path": "owners.json", "value": {…}}],
//!  "params": {…the gate's [policies.params]…}}
//! ```
//!
//! conftest's conventions hold: in each namespace (`namespaces`, default
//! `["main"]`), every rule named `deny`, `violation` or `warn`, alone or with
//! a `_suffix`, is a check. Its values are messages (strings) or objects with
//! `msg` and, optionally, `rule_id`, `severity`, `pointer` and `remediation`;
//! `true` (a boolean rule) is a finding named after the rule. A `deny` or
//! `violation` value fails the policy; a `warn` value is a finding of
//! severity `low` unless it says otherwise. conftest's exceptions hold too:
//! a rule `exception` whose values are lists of names exempts the checks it
//! names (`deny_foo` and `violation_foo` by `"foo"`, others by their whole
//! name); what an exempted check reported stays in the report as `info`
//! findings marked excepted, so the signed report shows what was waived.
//! `input` is the metadata document, or the part of it `params.input` (a
//! JSON Pointer) names, as conftest is pointed at one configuration file;
//! `data.sealgate.context` the evaluation context, `data.sealgate.params` the
//! gate's params, which a rule `invalid_params` (a set of messages) may
//! refuse when the gate loads. Builtin errors are errors (OPA's `strict-builtin-errors`):
//! a check that cannot be evaluated ends in ERROR, never in a pass.

mod time;

use sealgate_policy_sdk::{Context, Metadata, Policy, PolicyInfo, Report, Severity, export_policy};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// What the host hands over: the pinned files and the gate's params.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    rego: Vec<RegoFile>,
    #[serde(default)]
    data: Vec<DataFile>,
    #[serde(default)]
    params: Map<String, Value>,
    /// Set by `sealgate policy test --coverage` only: log which lines of
    /// each file the evaluation reached.
    #[serde(default)]
    coverage: bool,
}

/// The prefix of the log line carrying a file's coverage (JSON).
const COVERAGE_LOG: &str = "sealgate-coverage ";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegoFile {
    path: String,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataFile {
    path: String,
    value: Value,
}

/// The gate params this component reads itself (all are also visible to
/// the policy as `data.sealgate.params`).
#[derive(Debug)]
struct Options {
    namespaces: Vec<String>,
    rego_v0: bool,
    /// JSON Pointer to the part of the metadata document that is `input`.
    input: String,
}

impl Options {
    fn of(params: &Map<String, Value>) -> Result<Self, String> {
        let namespaces = match params.get("namespaces") {
            None => vec!["main".to_owned()],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| match v.as_str() {
                    Some(s) if is_package_path(s) => Ok(s.to_owned()),
                    _ => Err(format!(
                        "params.namespaces: `{v}` is not a package name such as `main` or `compliance.model_card`"
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(format!(
                    "params.namespaces must be a non-empty list of package names, not `{other}`"
                ));
            }
        };
        let rego_v0 = match params.get("rego-version").map(|v| v.as_str()) {
            None | Some(Some("v1")) => false,
            Some(Some("v0")) => true,
            Some(_) => {
                return Err("params.rego-version must be \"v1\" (the default, as OPA 1.0) or \"v0\"".into());
            }
        };
        let input = match params.get("input") {
            None => String::new(),
            Some(Value::String(p)) if p.is_empty() || p.starts_with('/') => p.clone(),
            Some(other) => {
                return Err(format!(
                    "params.input must be a JSON Pointer into the metadata document (\"\" for all of it, or e.g. \"/platform/docker/daemon\"), not `{other}`"
                ));
            }
        };
        Ok(Self {
            namespaces,
            rego_v0,
            input,
        })
    }

    /// The part of the metadata document the policy sees as `input`. A
    /// pointer to nothing is an error: the policy applies to a document
    /// that is not there, so it cannot pass.
    fn input<'a>(&self, doc: &'a Value) -> Result<&'a Value, String> {
        doc.pointer(&self.input).ok_or_else(|| {
            format!(
                "params.input: the metadata document has nothing at `{}`, which this policy checks as its input",
                self.input
            )
        })
    }
}

fn is_package_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The kind of a conftest rule, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleKind {
    /// `deny`, `violation` (and `_suffix`ed): fails the policy.
    Deny,
    /// `warn` (and `_suffix`ed): a finding.
    Warn,
}

/// conftest's rule names: `^(deny|violation|warn)(_[a-zA-Z0-9]+)*$`.
fn rule_kind(name: &str) -> Option<RuleKind> {
    let (kind, rest) = if let Some(rest) = name.strip_prefix("deny") {
        (RuleKind::Deny, rest)
    } else if let Some(rest) = name.strip_prefix("violation") {
        (RuleKind::Deny, rest)
    } else if let Some(rest) = name.strip_prefix("warn") {
        (RuleKind::Warn, rest)
    } else {
        return None;
    };
    let suffix_ok = rest.is_empty()
        || (rest.starts_with('_')
            && rest[1..]
                .split('_')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric())));
    suffix_ok.then_some(kind)
}

/// An engine with the files, the data and `data.sealgate` loaded.
fn engine(
    params: &Params,
    options: &Options,
    context: Value,
    now_unix: i64,
) -> Result<regorus::Engine, String> {
    if params.rego.is_empty() {
        return Err("no Rego files: name them in the gate's `rego = [{ path, sha256 }]`".into());
    }
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(options.rego_v0);
    engine.set_strict_builtin_errors(true);
    engine.set_gather_prints(true);
    time::register(&mut engine, now_unix)?;
    for file in &params.rego {
        engine
            .add_policy(file.path.clone(), file.source.clone())
            .map_err(|e| located(&e.to_string()))?;
    }
    for file in &params.data {
        match &file.value {
            Value::Object(map) if map.contains_key("sealgate") => {
                return Err(format!(
                    "{}: data.sealgate is sealgate's (the context and params); use another top-level key",
                    file.path
                ));
            }
            Value::Object(_) => engine
                .add_data(regorus::Value::from(file.value.clone()))
                .map_err(|e| format!("{}: {e}", file.path))?,
            _ => return Err(format!("{}: data must be a JSON object", file.path)),
        }
    }
    let sealgate = json!({"sealgate": {"params": Value::Object(params.params.clone()), "context": context}});
    engine
        .add_data(regorus::Value::from(sealgate))
        .map_err(|e| format!("data.sealgate: {e}"))?;
    Ok(engine)
}

/// Each namespace must be a package of the files, with at least one check.
fn check_namespaces(engine: &regorus::Engine, params: &Params, options: &Options) -> Result<(), String> {
    let packages = engine
        .get_policy_package_components()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|p| p.components.join("."))
        .collect::<Vec<_>>();
    // data.sealgate is the host's (context, params): no file may define it.
    if let Some(package) = packages
        .iter()
        .find(|p| *p == "sealgate" || p.starts_with("sealgate."))
    {
        return Err(format!(
            "`package {package}`: data.sealgate is sealgate's (the context and params); use another package"
        ));
    }
    for namespace in &options.namespaces {
        if !packages.contains(namespace) {
            return Err(format!(
                "no Rego file declares `package {namespace}` (packages: {}); conftest's default is `package main`, or set params.namespaces",
                if packages.is_empty() {
                    "none".to_owned()
                } else {
                    packages.join(", ")
                }
            ));
        }
    }
    let declared = params.rego.iter().any(|file| {
        file.source.lines().any(|line| {
            let head: String = line
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rule_kind(&head).is_some()
        })
    });
    if !declared {
        return Err(
            "no deny, violation or warn rule in the Rego files: a policy without one can fail nothing".into(),
        );
    }
    Ok(())
}

/// Evaluate every namespace; the checks' values become findings, and the
/// messages of `invalid_params` rules are returned.
fn run(engine: &mut regorus::Engine, options: &Options, report: &mut Report) -> Result<Vec<String>, String> {
    let mut invalid_params = Vec::new();
    for namespace in &options.namespaces {
        let value = eval_package(engine, namespace).map_err(|e| {
            let at = located(&e);
            if at == e.trim() {
                format!("evaluating data.{namespace}: {at}")
            } else {
                at
            }
        })?;
        for line in engine.take_prints().unwrap_or_default() {
            sealgate_policy_sdk::log(&line);
        }
        let Value::Object(rules) = value else { continue };
        let exceptions = exceptions_of(namespace, rules.get("exception"))?;
        for (rule, value) in &rules {
            if rule == "invalid_params" {
                invalid_params.extend(messages(namespace, value)?);
            } else if let Some(kind) = rule_kind(rule) {
                let excepted = exceptions.iter().any(|name| name == exception_name(rule));
                let check = Check {
                    namespace,
                    rule,
                    kind,
                    excepted,
                    input: &options.input,
                };
                findings_of(&check, value, report)?;
            }
        }
    }
    Ok(invalid_params)
}

/// conftest's `exception`: a set of lists of rule names
/// (`exception contains rules if { …; rules := ["foo"] }`).
fn exceptions_of(namespace: &str, value: Option<&Value>) -> Result<Vec<String>, String> {
    let refused = |v: &Value| {
        format!(
            "data.{namespace}.exception: values must be lists of rule names (conftest's `rules := [\"foo\"]`), not `{v}`"
        )
    };
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Array(lists) = value else {
        return Err(refused(value));
    };
    let mut names = Vec::new();
    for list in lists {
        let Value::Array(items) = list else {
            return Err(refused(list));
        };
        for item in items {
            names.push(item.as_str().ok_or_else(|| refused(item))?.to_owned());
        }
    }
    Ok(names)
}

/// The name an exception gives for a check, as conftest matches them:
/// `deny_foo` and `violation_foo` are `foo`; any other check (`deny`,
/// `violation`, `warn_foo`) is its whole name.
fn exception_name(rule: &str) -> &str {
    rule.strip_prefix("deny_")
        .or_else(|| rule.strip_prefix("violation_"))
        .unwrap_or(rule)
}

/// `invalid_params`: a set of messages (sealgate's convention for a Rego
/// policy to check its params when the gate loads).
fn messages(namespace: &str, value: &Value) -> Result<Vec<String>, String> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    items
        .iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or_else(|| {
                format!("data.{namespace}.invalid_params: values must be messages (strings), not `{v}`")
            })
        })
        .collect()
}

/// regorus' error (`--> file:line:col`, the source line, a caret, `error:
/// message`) on one line: `file:line:col: message, in `source line``, so it
/// reads the same in a gate's error, a report and a test's output.
fn located(error: &str) -> String {
    let lines: Vec<&str> = error.lines().map(str::trim_end).collect();
    let at = lines.iter().find_map(|l| l.trim_start().strip_prefix("--> "));
    let message = lines
        .iter()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("error: "));
    let code = lines
        .iter()
        .find_map(|l| {
            let (number, code) = l.split_once(" | ")?;
            number.trim().parse::<u32>().ok().map(|_| code.trim())
        })
        .filter(|c| !c.is_empty());
    match (at, message, code) {
        (Some(at), Some(message), Some(code)) => format!("{at}: {message}, in `{code}`"),
        (Some(at), Some(message), None) => format!("{at}: {message}"),
        _ => error.trim().to_owned(),
    }
}

/// `data.<namespace>` as JSON (sets as arrays; an undefined package as `{}`).
fn eval_package(engine: &mut regorus::Engine, namespace: &str) -> Result<Value, String> {
    let results = engine
        .eval_query(format!("data.{namespace}"), false)
        .map_err(|e| e.to_string())?;
    let Some(value) = results
        .result
        .into_iter()
        .next()
        .and_then(|r| r.expressions.into_iter().next())
        .map(|e| e.value)
    else {
        return Ok(json!({}));
    };
    serde_json::to_value(&value).map_err(|e| e.to_string())
}

/// One check (a `deny`, `violation` or `warn` rule) of a namespace.
struct Check<'a> {
    namespace: &'a str,
    rule: &'a str,
    kind: RuleKind,
    /// An `exception` names it for this input.
    excepted: bool,
    /// Where `input` is in the metadata document (a JSON Pointer).
    input: &'a str,
}

/// The findings of one check. An excepted check's values are `info`
/// findings marked as excepted and fail nothing.
fn findings_of(check: &Check<'_>, value: &Value, report: &mut Report) -> Result<(), String> {
    let Check {
        namespace,
        rule,
        kind,
        excepted,
        input,
    } = *check;
    let default_id = format!("{namespace}.{rule}");
    let default_severity = match kind {
        RuleKind::Deny => Severity::High,
        RuleKind::Warn => Severity::Low,
    };
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Bool(false) => Vec::new(),
        other => vec![other],
    };
    for item in items {
        let finding = match item {
            Value::String(msg) => Finding::message(msg),
            Value::Bool(true) => Finding::message(&format!("{default_id} is true")),
            Value::Object(fields) => {
                Finding::of_object(fields).map_err(|e| format!("data.{namespace}.{rule}: {e}"))?
            }
            other => {
                return Err(format!(
                    "data.{namespace}.{rule}: a value must be a message, an object with `msg`, or true, not `{other}`"
                ));
            }
        };
        let severity = match finding.severity {
            Some(s) => sealgate_policy_sdk::parse_severity(s)
                .map_err(|e| format!("data.{namespace}.{rule}: severity: {e}"))?,
            None => default_severity,
        };
        // The policy sees `input`: a pointer it gives is into that.
        let pointer = format!("{input}{}", finding.pointer.unwrap_or(""));
        if excepted {
            report.finding(
                finding.rule_id.unwrap_or(&default_id),
                Severity::Info,
                &pointer,
                format!(
                    "excepted by data.{namespace}.exception ({} waived): {}",
                    finding.severity.unwrap_or(match kind {
                        RuleKind::Deny => "high",
                        RuleKind::Warn => "low",
                    }),
                    finding.msg
                ),
                finding.remediation.unwrap_or(""),
            );
            continue;
        }
        report.finding(
            finding.rule_id.unwrap_or(&default_id),
            severity,
            &pointer,
            finding.msg,
            finding.remediation.unwrap_or(""),
        );
        if kind == RuleKind::Deny {
            report.fail();
        }
    }
    Ok(())
}

/// One value of a check.
struct Finding<'a> {
    msg: String,
    rule_id: Option<&'a str>,
    severity: Option<&'a str>,
    pointer: Option<&'a str>,
    remediation: Option<&'a str>,
}

impl<'a> Finding<'a> {
    fn message(msg: &str) -> Self {
        Self {
            msg: msg.to_owned(),
            rule_id: None,
            severity: None,
            pointer: None,
            remediation: None,
        }
    }

    /// conftest's object form; other members (conftest's `details`, …) are
    /// kept by conftest for its output and ignored here.
    fn of_object(fields: &'a Map<String, Value>) -> Result<Self, String> {
        let text = |key: &str| -> Result<Option<&'a str>, String> {
            match fields.get(key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(other) => Err(format!("`{key}` must be a string, not `{other}`")),
            }
        };
        Ok(Self {
            msg: text("msg")?
                .ok_or("an object value needs `msg` (conftest's convention)")?
                .to_owned(),
            rule_id: text("rule_id")?,
            severity: text("severity")?,
            pointer: text("pointer")?,
            remediation: text("remediation")?,
        })
    }
}

/// The lines of each file the evaluation reached, one log line a file, for
/// `sealgate policy test --coverage` to merge over the cases.
fn log_coverage(engine: &regorus::Engine) -> Result<(), String> {
    let coverage = engine.get_coverage_report().map_err(|e| e.to_string())?;
    for file in coverage.files {
        let line = json!({"path": file.path, "covered": file.covered, "not_covered": file.not_covered});
        sealgate_policy_sdk::log(&format!("{COVERAGE_LOG}{line}"));
    }
    Ok(())
}

/// The context as `data.sealgate.context`.
fn context_value(ctx: &Context) -> Value {
    json!({
        "gate": ctx.gate,
        "artifact_digest": ctx.artifact_digest,
        "evaluated_at": ctx.evaluated_at,
        "evaluated_at_unix": ctx.evaluated_at_unix,
    })
}

pub struct Rego;

impl Policy for Rego {
    type Params = Params;
    const INFO: PolicyInfo = PolicyInfo {
        id: "sealgate.rego",
        // 0.2.0: conftest's exceptions, params.input, OPA's time builtins.
        version: "0.2.0",
        summary: "Rego policies (OPA and conftest conventions), pinned by the gate and evaluated in the sandbox.",
        params_schema: PARAMS_SCHEMA,
        // The rules are the gate's Rego files': no catalogue of its own
        // (`policy test --coverage` reports the Rego engine's line coverage).
        rules: &[],
    };

    /// Parse and load every file, then evaluate each namespace once on an
    /// empty document: syntax errors, conflicting rules and calls to
    /// undefined functions on that path are refused here, at gate load,
    /// with the file, line and column; so are params an `invalid_params`
    /// rule has messages for.
    fn validate(params: &Params) -> Result<(), String> {
        let options = Options::of(&params.params)?;
        let context = json!({"gate": "", "artifact_digest": null, "evaluated_at": "1970-01-01T00:00:00Z", "evaluated_at_unix": 0});
        let mut engine = engine(params, &options, context, 0)?;
        check_namespaces(&engine, params, &options)?;
        engine.set_input(regorus::Value::from(json!({})));
        let invalid = run(&mut engine, &options, &mut Report::new())?;
        if params.coverage {
            // What checking params reaches: the `invalid_params` rules alone
            // (the run above on `{}` would count every rule as reached).
            engine.set_enable_coverage(true);
            for namespace in &options.namespaces {
                let _ = engine.eval_query(format!("data.{namespace}.invalid_params"), false);
            }
            log_coverage(&engine)?;
        }
        if invalid.is_empty() {
            Ok(())
        } else {
            Err(invalid.join("; "))
        }
    }

    fn evaluate(doc: &Metadata, params: &Params, ctx: &Context) -> Result<Report, String> {
        let options = Options::of(&params.params)?;
        let mut engine = engine(params, &options, context_value(ctx), ctx.evaluated_at_unix)?;
        engine.set_input(regorus::Value::from(options.input(doc.root())?.clone()));
        engine.set_enable_coverage(params.coverage);
        let mut report = Report::new();
        run(&mut engine, &options, &mut report)?;
        if params.coverage {
            log_coverage(&engine)?;
        }
        Ok(report)
    }
}

const PARAMS_SCHEMA: &str = r#"{
  "type": "object",
  "description": "The gate's params for a Rego policy; all of them are data.sealgate.params. The host adds the pinned files.",
  "properties": {
    "namespaces": {"type": "array", "items": {"type": "string"}, "minItems": 1, "default": ["main"]},
    "rego-version": {"enum": ["v1", "v0"], "default": "v1"},
    "input": {"type": "string", "description": "JSON Pointer to the part of the metadata document that is `input` (conftest's one configuration file)", "default": ""}
  }
}"#;

export_policy!(Rego);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conftest_rule_names() {
        assert_eq!(rule_kind("deny"), Some(RuleKind::Deny));
        assert_eq!(rule_kind("violation_no_owner"), Some(RuleKind::Deny));
        assert_eq!(rule_kind("warn_old_2"), Some(RuleKind::Warn));
        for not_a_check in ["denyall", "deny_", "deny__x", "allow", "warning", "deny-x"] {
            assert_eq!(rule_kind(not_a_check), None, "{not_a_check}");
        }
    }

    #[test]
    fn regorus_errors_on_one_line() {
        let e = "\n--> policy.rego:35:15\n   |\n35 | \tstartswith(tag)\n   |               ^\nerror: `startswith` expects 2 arguments";
        assert_eq!(
            located(e),
            "policy.rego:35:15: `startswith` expects 2 arguments, in `startswith(tag)`"
        );
        assert_eq!(located("plain failure"), "plain failure");
    }

    #[test]
    fn conftest_exception_names() {
        assert_eq!(exception_name("deny_foo"), "foo");
        assert_eq!(exception_name("violation_foo_bar"), "foo_bar");
        assert_eq!(exception_name("deny"), "deny");
        assert_eq!(exception_name("violation"), "violation");
        assert_eq!(exception_name("warn_foo"), "warn_foo");
    }

    #[test]
    fn conftest_exceptions_are_lists_of_names() {
        assert!(exceptions_of("main", None).unwrap().is_empty());
        assert_eq!(
            exceptions_of("main", Some(&json!([["a", "b"], ["c"]]))).unwrap(),
            ["a", "b", "c"]
        );
        for bad in [json!(true), json!(["a"]), json!([[1]]), json!({"a": ["b"]})] {
            let e = exceptions_of("main", Some(&bad)).unwrap_err();
            assert!(e.contains("data.main.exception"), "{e}");
        }
    }

    #[test]
    fn input_is_a_pointer_into_the_document() {
        let doc = json!({"platform": {"docker": {"daemon": {"tls": true}}}});
        let options = |input: Value| Options::of(&json!({"input": input}).as_object().unwrap().clone());
        let whole = Options::of(&Map::new()).unwrap();
        assert_eq!(whole.input(&doc).unwrap(), &doc);
        let daemon = options(json!("/platform/docker/daemon")).unwrap();
        assert_eq!(daemon.input(&doc).unwrap(), &json!({"tls": true}));
        let absent = options(json!("/platform/kubernetes")).unwrap();
        assert!(absent.input(&doc).unwrap_err().contains("/platform/kubernetes"));
        for bad in [json!("platform"), json!(3)] {
            assert!(options(bad).unwrap_err().contains("params.input"));
        }
    }

    #[test]
    fn package_names() {
        assert!(is_package_path("main"));
        assert!(is_package_path("compliance.model_card"));
        assert!(!is_package_path("main."));
        assert!(!is_package_path("1x"));
        assert!(!is_package_path("a-b"));
    }
}
