//! Policy tests as data: `sealgate policy test`.
//!
//! A policy's tests are TOML files next to it (`tests/*.toml`). Each names a
//! base metadata document, and each case patches it (RFC 6902 JSON Patch),
//! sets params, and states the expected outcome and the exact set of rule ids:
//!
//! ```toml
//! base = "../../../examples/metadata/churn-model.json"   # relative to this file
//! fail-on = "high"                                       # the gate threshold to judge with
//!
//! [[case]]
//! name = "an email column fails"
//! patch = [{ op = "add", path = "/schema/inputs/-", value = { name = "email" } }]
//! params = {}
//! expect = { outcome = "fail", rules = ["pii.column.email"] }
//! ```
//!
//! Cases run through the real engine and sandbox, exactly as a gate would.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sealgate_core::{
    EvaluationContext, Finding, LogLine, PolicyOutcome, SandboxLimits, Severity, read_bounded,
};
use sealgate_engine::{EvalError, PolicyInfo, PolicyModule, RuleInfo};
use sealgate_metadata::{MetadataDocument, MetadataLimits};

use crate::rego::{RegoCoverage, RegoSources};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A test file, parsed.
#[derive(Debug, Clone)]
pub struct TestFile {
    path: PathBuf,
    fail_on: Severity,
    evaluated_at_unix: i64,
    base: Option<Value>,
    cases: Vec<TestCase>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileSpec {
    #[serde(default)]
    base: Option<PathBuf>,
    #[serde(default = "high")]
    fail_on: Severity,
    /// Evaluation time for every case, RFC 3339 (default 2026-01-01T00:00:00Z),
    /// so date arithmetic in policies is reproducible.
    #[serde(default)]
    evaluated_at: Option<String>,
    #[serde(rename = "case")]
    cases: Vec<TestCase>,
}

fn high() -> Severity {
    Severity::High
}

/// One case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestCase {
    /// What it shows.
    pub name: String,
    /// A whole document instead of the base (relative to the test file).
    #[serde(default)]
    metadata: Option<PathBuf>,
    /// RFC 6902 operations applied to the document.
    #[serde(default)]
    patch: Vec<Value>,
    /// Params handed to the policy.
    #[serde(default = "empty_object")]
    params: Value,
    /// What must happen.
    pub expect: Expectation,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl TestCase {
    /// The params handed to the policy (`{}` when the case gives none).
    pub fn params(&self) -> &Value {
        &self.params
    }
}

/// How a case ended, or must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CaseOutcome {
    /// The policy passed (no finding at or above `fail-on`).
    Pass,
    /// The policy failed.
    Fail,
    /// The evaluation gave no verdict (a trap, a limit, bad output), or
    /// checking the params faulted.
    Error,
    /// `validate-params` refused the params.
    InvalidParams,
}

impl CaseOutcome {
    /// `pass`, `fail`, `error` or `invalid-params`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
            Self::InvalidParams => "invalid-params",
        }
    }
}

impl std::fmt::Display for CaseOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// The expected result of a case.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Expectation {
    /// What must happen.
    pub outcome: CaseOutcome,
    /// The exact set of rule ids found (omit to not check).
    #[serde(default)]
    pub rules: Option<BTreeSet<String>>,
    /// A substring of the error message (for `error` and `invalid-params`).
    #[serde(default)]
    pub message: Option<String>,
    /// Findings that must be among those found, each by rule id and, when
    /// given, severity and pointer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<ExpectedFinding>,
}

/// A finding a case expects: its rule id, and its severity and pointer when
/// given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFinding {
    /// The rule id.
    pub rule: String,
    /// Its severity, if the case says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Its JSON Pointer, if the case says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
}

impl ExpectedFinding {
    fn matches(&self, f: &Finding) -> bool {
        f.rule_id == self.rule
            && self.severity.is_none_or(|s| s == f.severity)
            && self.pointer.as_ref().is_none_or(|p| *p == f.pointer)
    }
}

impl std::fmt::Display for ExpectedFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.rule)?;
        if let Some(s) = self.severity {
            write!(f, " ({s})")?;
        }
        if let Some(p) = &self.pointer {
            write!(f, " at `{p}`")?;
        }
        Ok(())
    }
}

/// What one case did.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Did it meet its expectation?
    pub passed: bool,
    /// What was expected.
    pub expected: Expectation,
    /// The actual outcome.
    pub outcome: CaseOutcome,
    /// The rule ids found.
    pub rules: BTreeSet<String>,
    /// The findings, whole.
    pub findings: Vec<Finding>,
    /// Expected findings none of the findings matched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmatched: Vec<ExpectedFinding>,
    /// The error, if any.
    pub message: Option<String>,
    /// What the policy logged (a panic's message is logged), shown for a
    /// case that did not meet its expectation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogLine>,
}

/// The entries of `info`'s rule catalogue no case reported: `policy test
/// --coverage` for a compiled policy. `None` when it declares no catalogue
/// (contract 0.1.0, or an empty `rules`): there is nothing to compare with.
pub fn rules_never_reported<'a, 'r>(
    info: &'a PolicyInfo,
    results: impl IntoIterator<Item = &'r CaseResult>,
) -> Option<Vec<&'a RuleInfo>> {
    if info.rules.is_empty() {
        return None;
    }
    let reported: BTreeSet<&str> = results
        .into_iter()
        .flat_map(|r| r.findings.iter().map(|f| f.rule_id.as_str()))
        .collect();
    Some(
        info.rules
            .iter()
            .filter(|rule| !reported.iter().any(|id| rule.covers(id)))
            .collect(),
    )
}

/// Why a test file could not be run at all.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct TestFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl TestFile {
    /// Read a test file and its base document.
    ///
    /// # Errors
    ///
    /// A [`TestFileError`] naming the file: unreadable, invalid TOML, no case, a case without a document, or a base document that is not JSON.
    pub fn load(path: &Path) -> Result<Self, TestFileError> {
        let err = |message: String| TestFileError {
            path: path.to_owned(),
            message,
        };
        let spec: FileSpec =
            sealgate_core::read_toml_file(path, 4 << 20, None).map_err(|e| err(e.to_string()))?;
        // Every problem is listed, as a gate file's are.
        let mut problems = Vec::new();
        let dir = path.parent().unwrap_or(Path::new("."));
        let base = match &spec.base {
            Some(b) => read_json(&dir.join(b)).map_err(|e| problems.push(e)).ok(),
            None => None,
        };
        if spec.cases.is_empty() {
            problems.push("no [[case]]".into());
        }
        if spec.base.is_none() {
            for c in spec.cases.iter().filter(|c| c.metadata.is_none()) {
                problems.push(format!("case `{}`: no `metadata` and no `base` to patch", c.name));
            }
        }
        let evaluated_at_unix = match &spec.evaluated_at {
            None => 1_767_225_600, // 2026-01-01T00:00:00Z
            Some(t) => crate::unix_seconds(t).unwrap_or_else(|e| {
                problems.push(format!("evaluated-at {e}"));
                0
            }),
        };
        if !problems.is_empty() {
            return Err(err(problems.join("; ")));
        }
        Ok(Self {
            path: path.to_owned(),
            fail_on: spec.fail_on,
            evaluated_at_unix,
            base,
            cases: spec.cases,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its cases, in order.
    pub fn cases(&self) -> &[TestCase] {
        &self.cases
    }

    /// Run every case against `module`.
    pub fn run(&self, module: &PolicyModule) -> Vec<CaseResult> {
        self.run_with(module, None)
    }

    /// Run every case against `module`, the Rego engine when `rego` gives
    /// the files it evaluates (each case's params go with them, as a gate
    /// hands them over).
    pub fn run_with(&self, module: &PolicyModule, rego: Option<&RegoSources>) -> Vec<CaseResult> {
        self.cases
            .iter()
            .map(|c| self.run_case(module, rego, None, c))
            .collect()
    }

    /// [`TestFile::run_with`] for a Rego policy, adding to `coverage` the
    /// lines of its files each case's evaluation reached.
    pub fn run_with_coverage(
        &self,
        module: &PolicyModule,
        rego: &RegoSources,
        coverage: &mut RegoCoverage,
    ) -> Vec<CaseResult> {
        self.cases
            .iter()
            .map(|c| self.run_case(module, Some(rego), Some(&mut *coverage), c))
            .collect()
    }

    fn run_case(
        &self,
        module: &PolicyModule,
        rego: Option<&RegoSources>,
        coverage: Option<&mut RegoCoverage>,
        case: &TestCase,
    ) -> CaseResult {
        let mut ran = match self.document(case) {
            Err(e) => Ran::error(format!("test setup: {e}"), Vec::new()),
            Ok(doc) => {
                let params = match (rego, &coverage) {
                    (Some(sources), Some(_)) => sources.params_json_with_coverage(&case.params),
                    (Some(sources), None) => sources.params_json(&case.params),
                    (None, _) => case.params.to_string(),
                };
                evaluate(module, &doc, &params, self.fail_on, self.evaluated_at_unix)
            }
        };
        if let Some(coverage) = coverage {
            ran.log.retain(|line| !coverage.take_log_line(&line.message));
        }
        let e = &case.expect;
        let rules: BTreeSet<String> = ran.findings.iter().map(|f| f.rule_id.clone()).collect();
        let unmatched: Vec<ExpectedFinding> = e
            .findings
            .iter()
            .filter(|want| !ran.findings.iter().any(|f| want.matches(f)))
            .cloned()
            .collect();
        let passed = ran.outcome == e.outcome
            && e.rules.as_ref().is_none_or(|want| *want == rules)
            && unmatched.is_empty()
            && e.message
                .as_ref()
                .is_none_or(|m| ran.message.as_deref().is_some_and(|got| got.contains(m.as_str())));
        CaseResult {
            name: case.name.clone(),
            passed,
            expected: e.clone(),
            outcome: ran.outcome,
            rules,
            findings: ran.findings,
            unmatched,
            message: ran.message,
            log: if passed { Vec::new() } else { ran.log },
        }
    }

    fn document(&self, case: &TestCase) -> Result<MetadataDocument, String> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut doc = match &case.metadata {
            Some(m) => read_json(&dir.join(m))?,
            None => self.base.clone().unwrap_or(Value::Null),
        };
        if !case.patch.is_empty() {
            // Extension: `value-file = "PATH"` (relative to the test file) in an
            // operation stands for `value = <that file's JSON>`, so real tool
            // output can be patched in without copying it into the test.
            let mut ops = case.patch.clone();
            for op in &mut ops {
                if let Some(file) = op.as_object_mut().and_then(|o| o.remove("value-file")) {
                    let file = file.as_str().ok_or("value-file must be a path")?;
                    op["value"] = read_json(&dir.join(file))?;
                }
            }
            let patch: json_patch::Patch =
                serde_json::from_value(Value::Array(ops)).map_err(|e| format!("invalid patch: {e}"))?;
            json_patch::patch(&mut doc, &patch).map_err(|e| format!("patch does not apply: {e}"))?;
        }
        MetadataDocument::from_bytes(
            &case.name,
            doc.to_string().into_bytes(),
            &MetadataLimits::default(),
        )
        .map_err(|e| e.to_string())
    }
}

fn evaluate(module: &PolicyModule, doc: &MetadataDocument, params: &str, fail_on: Severity, at: i64) -> Ran {
    let limits = SandboxLimits::default();
    let (validated, mut log) = module.validate_params_logged(params, &limits);
    if let Err(e) = validated {
        // A refusal is the policy's verdict on the params; a fault while
        // checking them (a panic, an exception) is an error, as in a gate.
        let outcome = match e {
            EvalError::Policy(_) => CaseOutcome::InvalidParams,
            _ => CaseOutcome::Error,
        };
        let msg = match e {
            EvalError::Policy(m) => m,
            other => format!("validate-params did not complete: {other}"),
        };
        return Ran {
            outcome,
            findings: Vec::new(),
            message: Some(msg),
            log,
        };
    }
    let eval = module.evaluate(
        doc.text(),
        params,
        &EvaluationContext::at("policy-test", at),
        &limits,
    );
    log.extend(eval.log);
    match eval.verdict {
        Err(e) => Ran::error(e.to_string(), log),
        Ok(v) => Ran {
            outcome: match PolicyOutcome::judge(&v, fail_on) {
                PolicyOutcome::Pass => CaseOutcome::Pass,
                _ => CaseOutcome::Fail,
            },
            findings: v.findings,
            message: None,
            log,
        },
    }
}

/// How one case's evaluation ended.
struct Ran {
    outcome: CaseOutcome,
    findings: Vec<Finding>,
    message: Option<String>,
    log: Vec<LogLine>,
}

impl Ran {
    fn error(message: String, log: Vec<LogLine>) -> Self {
        Self {
            outcome: CaseOutcome::Error,
            findings: Vec::new(),
            message: Some(message),
            log,
        }
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = read_bounded(path, MetadataLimits::default().max_bytes).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))
}

/// The test files of a policy directory: `DIR/tests/*.toml`, sorted.
///
/// # Errors
///
/// The I/O error of listing `DIR/tests`.
pub fn test_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}
