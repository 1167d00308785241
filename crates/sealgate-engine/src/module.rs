use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealgate_core::{EvaluationContext, LogLine, SandboxLimits, Severity, Sha256Digest, Verdict};
use wasmtime::Store;

use crate::bindings::{v0_1, v0_2};
use crate::engine::PolicyEngine;
use crate::error::{EvalError, LoadError};
use crate::host::{DeadlinePassed, RegexCache};
use crate::sandbox::{HostState, new_store};

/// The versions of the `sealgate:policy` contract the host loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum Contract {
    /// `sealgate:policy@0.1.0`: no rule catalogue.
    #[serde(rename = "0.1.0")]
    V0_1,
    /// `sealgate:policy@0.2.0`: `policy-info` carries the rule catalogue.
    #[serde(rename = "0.2.0")]
    V0_2,
}

impl Contract {
    /// Every version loaded, newest first.
    pub const ALL: [Contract; 2] = [Contract::V0_2, Contract::V0_1];
    /// What `wit/policy.wit` and the SDKs build against.
    pub const CURRENT: Contract = Contract::V0_2;

    /// `0.2.0`.
    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }

    /// The version named `version`, if the host loads it (exact: a 0.x minor
    /// version is a different contract, and a patch version was never issued).
    pub fn from_version(version: &str) -> Option<Contract> {
        Contract::ALL.into_iter().find(|c| c.version() == version)
    }

    /// The export a component of this version has: `sealgate:policy/policy@0.2.0`.
    pub(crate) fn policy_interface(self) -> String {
        format!("sealgate:policy/policy@{}", self.version())
    }
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.version())
    }
}

/// An entry of a policy's rule catalogue (contract 0.2.0).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleInfo {
    /// A rule id (`pii.column.email`) or a family of them (`pii.column.*`).
    pub id: String,
    /// The severity its findings usually carry.
    pub severity: Severity,
    /// One line: what it finds.
    pub summary: String,
}

impl RuleInfo {
    /// Does this entry cover findings with `rule_id`: the same id, or, for a
    /// family `prefix.*`, any id starting `prefix.`?
    pub fn covers(&self, rule_id: &str) -> bool {
        match self.id.strip_suffix('*') {
            Some(prefix) => rule_id.len() > prefix.len() && rule_id.starts_with(prefix),
            None => self.id == rule_id,
        }
    }
}

/// Most entries a catalogue may have: a bound on what a hostile `info` makes
/// the host keep and search for every finding.
pub const MAX_CATALOGUE_RULES: usize = 1024;

/// Longest summary a catalogue entry may have: one line, for people.
pub const MAX_RULE_SUMMARY_BYTES: usize = 1024;

/// What a policy says about itself (its `info` export).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyInfo {
    /// Stable identifier, e.g. `sealgate.pii`.
    pub id: String,
    /// Version of its rules.
    pub version: String,
    /// One line: what it checks.
    pub summary: String,
    /// JSON Schema of its params.
    pub params_schema: serde_json::Value,
    /// The contract version the component was built against.
    pub contract: Contract,
    /// Every rule it may report; empty when it declares no catalogue (contract
    /// 0.1.0, or rules that come from params or data). When not empty, a
    /// finding no entry covers makes the evaluation an ERROR.
    pub rules: Vec<RuleInfo>,
}

impl PolicyInfo {
    /// Is `rule_id` one this policy may report? Always, with no catalogue.
    pub fn declares(&self, rule_id: &str) -> bool {
        self.rules.is_empty() || self.rules.iter().any(|r| r.covers(rule_id))
    }
}

/// Is `id` a rule id the contract allows: 1-128 characters of A-Z, a-z, 0-9,
/// `.`, `-`, `_`?
fn is_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Hold a catalogue to the contract: valid ids or families, each once, bounded.
fn check_catalogue(rules: &[RuleInfo]) -> Result<(), String> {
    if rules.len() > MAX_CATALOGUE_RULES {
        return Err(format!(
            "its rule catalogue has {} entries; the limit is {MAX_CATALOGUE_RULES}",
            rules.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let plain = rule.id.strip_suffix(".*").unwrap_or(&rule.id);
        if !is_rule_id(plain) || plain.ends_with('.') {
            return Err(format!(
                "rule {i} of its catalogue: `{}` must be a rule id (1-128 characters of A-Z, a-z, 0-9, \
                 `.`, `-`, `_`) or a family of them (`prefix.*`)",
                rule.id.escape_debug()
            ));
        }
        if rule.summary.len() > MAX_RULE_SUMMARY_BYTES {
            return Err(format!(
                "rule {i} of its catalogue (`{}`): its summary is {} bytes; the limit is {MAX_RULE_SUMMARY_BYTES}",
                rule.id.escape_debug(),
                rule.summary.len()
            ));
        }
        if !seen.insert(rule.id.as_str()) {
            return Err(format!(
                "rule {i} of its catalogue: `{}` is listed twice",
                rule.id
            ));
        }
    }
    Ok(())
}

/// A component ready to instantiate, by the contract version it implements.
pub(crate) enum PolicyPre {
    V0_1(v0_1::GatePolicyPre<HostState>),
    V0_2(v0_2::GatePolicyPre<HostState>),
}

/// One instance's exports, by contract version.
enum Instance {
    V0_1(v0_1::GatePolicy),
    V0_2(v0_2::GatePolicy),
}

/// The conversions between one contract version's generated types and the
/// host's own: the same code for each version, whose types differ only in name.
macro_rules! convert_types {
    ($module:ident, $version:ident) => {
        mod $module {
            use sealgate_core::{Finding, Severity, Verdict};

            use crate::bindings::$version::sealgate::policy::types as wit;

            pub(super) fn severity(s: wit::Severity) -> Severity {
                match s {
                    wit::Severity::Info => Severity::Info,
                    wit::Severity::Low => Severity::Low,
                    wit::Severity::Medium => Severity::Medium,
                    wit::Severity::High => Severity::High,
                    wit::Severity::Critical => Severity::Critical,
                }
            }

            pub(super) fn verdict(v: wit::Verdict) -> Verdict {
                Verdict {
                    passed: v.passed,
                    findings: v
                        .findings
                        .into_iter()
                        .map(|f| Finding {
                            rule_id: f.rule_id,
                            severity: severity(f.severity),
                            pointer: f.pointer,
                            message: f.message,
                            remediation: f.remediation,
                        })
                        .collect(),
                }
            }

            pub(super) fn context(c: &sealgate_core::EvaluationContext) -> wit::Context {
                wit::Context {
                    gate: c.gate.clone(),
                    artifact_digest: c.artifact_digest.map(|d| d.prefixed()),
                    evaluated_at: c.evaluated_at(),
                    evaluated_at_unix: c.evaluated_at_unix,
                }
            }
        }
    };
}

convert_types!(convert_v0_1, v0_1);
convert_types!(convert_v0_2, v0_2);

/// What `info` answered, before the host checks it.
struct RawInfo {
    id: String,
    version: String,
    summary: String,
    params_schema: String,
    rules: Vec<RuleInfo>,
}

impl PolicyPre {
    fn contract(&self) -> Contract {
        match self {
            PolicyPre::V0_1(_) => Contract::V0_1,
            PolicyPre::V0_2(_) => Contract::V0_2,
        }
    }

    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Instance> {
        Ok(match self {
            PolicyPre::V0_1(pre) => Instance::V0_1(pre.instantiate(store)?),
            PolicyPre::V0_2(pre) => Instance::V0_2(pre.instantiate(store)?),
        })
    }
}

impl Instance {
    fn info(&self, store: &mut Store<HostState>) -> wasmtime::Result<RawInfo> {
        Ok(match self {
            Instance::V0_1(i) => {
                let raw = i.sealgate_policy_policy().call_info(store)?;
                RawInfo {
                    id: raw.id,
                    version: raw.version,
                    summary: raw.summary,
                    params_schema: raw.params_schema,
                    rules: Vec::new(),
                }
            }
            Instance::V0_2(i) => {
                let raw = i.sealgate_policy_policy().call_info(store)?;
                RawInfo {
                    id: raw.id,
                    version: raw.version,
                    summary: raw.summary,
                    params_schema: raw.params_schema,
                    rules: raw
                        .rules
                        .into_iter()
                        .map(|r| RuleInfo {
                            id: r.id,
                            severity: convert_v0_2::severity(r.severity),
                            summary: r.summary,
                        })
                        .collect(),
                }
            }
        })
    }

    fn validate_params(
        &self,
        store: &mut Store<HostState>,
        params: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Instance::V0_1(i) => i.sealgate_policy_policy().call_validate_params(store, params),
            Instance::V0_2(i) => i.sealgate_policy_policy().call_validate_params(store, params),
        }
    }

    fn evaluate(
        &self,
        store: &mut Store<HostState>,
        metadata: &str,
        params: &str,
        context: &EvaluationContext,
    ) -> wasmtime::Result<Result<Verdict, String>> {
        Ok(match self {
            Instance::V0_1(i) => i
                .sealgate_policy_policy()
                .call_evaluate(store, metadata, params, &convert_v0_1::context(context))?
                .map(convert_v0_1::verdict),
            Instance::V0_2(i) => i
                .sealgate_policy_policy()
                .call_evaluate(store, metadata, params, &convert_v0_2::context(context))?
                .map(convert_v0_2::verdict),
        })
    }
}

/// Where the compiled code of a module came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheStatus {
    /// No cache configured: compiled in this process.
    Disabled,
    /// Loaded from a valid cache entry.
    Hit(PathBuf),
    /// Not cached yet: compiled and stored.
    Stored(PathBuf),
    /// An entry existed but was unusable; compiled again and replaced.
    Recompiled {
        /// The entry.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// Compiled, but the cache could not be used.
    Unavailable(String),
}

/// A loaded, compiled, pinned policy. Evaluate it as often as you like, from
/// any thread: each evaluation gets a fresh instance in a fresh `Store`.
pub struct PolicyModule {
    engine: PolicyEngine,
    path: PathBuf,
    digest: Sha256Digest,
    pre: PolicyPre,
    /// This policy's compiled regex patterns (bounded, see `host.rs`).
    regex: Arc<RegexCache>,
    info: PolicyInfo,
    imports: Vec<String>,
    exports: Vec<String>,
    uses_wasi: bool,
    cache_status: CacheStatus,
}

/// The result of one evaluation: a verdict or the reason there is none, and
/// what the policy logged and spent.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The verdict, or why the evaluation is an ERROR.
    pub verdict: Result<Verdict, EvalError>,
    /// Log lines (host `log`, stdout, stderr), bounded.
    pub log: Vec<LogLine>,
    /// Fuel consumed.
    pub fuel_consumed: u64,
    /// The largest the policy's linear memory grew to, in bytes.
    pub peak_memory_bytes: u64,
}

impl PolicyModule {
    #[allow(clippy::too_many_arguments)] // one private constructor, called once
    pub(crate) fn new(
        engine: PolicyEngine,
        path: PathBuf,
        digest: Sha256Digest,
        pre: PolicyPre,
        imports: Vec<String>,
        exports: Vec<String>,
        uses_wasi: bool,
        cache_status: CacheStatus,
    ) -> Result<Self, LoadError> {
        let info_err = |reason: String| LoadError::Info {
            path: path.clone(),
            reason,
        };
        let limits = engine.config.ceiling;
        let regex = Arc::new(RegexCache::default());
        let raw = {
            let _slot = engine.slots.acquire(); // declared first: dropped after the store
            let started = std::time::Instant::now();
            let mut store = new_store(&engine.engine, &limits, regex.clone(), 0)
                .map_err(|e| info_err(format!("{e:#}")))?;
            pre.instantiate(&mut store)
                .and_then(|i| i.info(&mut store))
                .map_err(|e| info_err(classify(e, &store, &limits, started).to_string()))?
        };
        let params_schema = serde_json::from_str(&raw.params_schema)
            .map_err(|e| info_err(format!("params-schema is not JSON: {e}")))?;
        if raw.id.trim().is_empty() || raw.version.trim().is_empty() {
            return Err(info_err("id and version must not be empty".into()));
        }
        check_catalogue(&raw.rules).map_err(info_err)?;
        let info = PolicyInfo {
            id: raw.id,
            version: raw.version,
            summary: raw.summary,
            params_schema,
            contract: pre.contract(),
            rules: raw.rules,
        };
        Ok(Self {
            engine,
            path,
            digest,
            pre,
            regex,
            info,
            imports,
            exports,
            uses_wasi,
            cache_status,
        })
    }

    /// The component file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the component file.
    pub fn digest(&self) -> &Sha256Digest {
        &self.digest
    }

    /// What the policy says about itself.
    pub fn info(&self) -> &PolicyInfo {
        &self.info
    }

    /// The component's imports, e.g. `sealgate:policy/host@0.1.0`.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// The component's exports, e.g. `sealgate:policy/policy@0.1.0`.
    pub fn exports(&self) -> &[String] {
        &self.exports
    }

    /// Does it import WASI (a component from a standard toolchain)?
    pub fn uses_wasi(&self) -> bool {
        self.uses_wasi
    }

    /// Bytes of compiled regex patterns this policy keeps cached in the host
    /// (at most [`crate::host::MAX_CACHE_BYTES_PER_POLICY`]).
    pub fn regex_cache_bytes(&self) -> usize {
        self.regex.cached_bytes()
    }

    /// Where its compiled code came from.
    pub fn cache_status(&self) -> &CacheStatus {
        &self.cache_status
    }

    /// Ask the policy whether `params` (JSON text) are acceptable, under
    /// `limits`. Run at gate load time; `Err` carries the policy's message or
    /// the fault.
    ///
    /// # Errors
    ///
    /// [`EvalError::Policy`] with the policy's message when it refuses the params; any other [`EvalError`] when it faulted (a trap, a limit).
    pub fn validate_params(&self, params: &str, limits: &SandboxLimits) -> Result<(), EvalError> {
        self.validate_params_logged(params, limits).0
    }

    /// [`PolicyModule::validate_params`], with what the policy logged while
    /// checking (a panic's message, a Python exception's frames): for
    /// `policy test`, which shows it.
    pub fn validate_params_logged(
        &self,
        params: &str,
        limits: &SandboxLimits,
    ) -> (Result<(), EvalError>, Vec<LogLine>) {
        let (result, log, _, _) =
            self.with_instance(limits, 0, |store, policy| policy.validate_params(store, params));
        (result.and_then(|r| r.map_err(EvalError::Policy)), log)
    }

    /// Evaluate `metadata` with `params` (both JSON text) under `limits`.
    ///
    /// Never panics and never passes by default: any fault, limit or malformed
    /// answer comes back as `Err` in [`Evaluation::verdict`].
    pub fn evaluate(
        &self,
        metadata: &str,
        params: &str,
        context: &EvaluationContext,
        limits: &SandboxLimits,
    ) -> Evaluation {
        let (result, log, fuel_consumed, peak_memory_bytes) =
            self.with_instance(limits, context.evaluated_at_unix, |store, policy| {
                policy.evaluate(store, metadata, params, context)
            });
        let verdict = result
            .and_then(|r| r.map_err(EvalError::Policy))
            .and_then(|v| check_verdict(v, &self.info, limits.output_bytes));
        Evaluation {
            verdict,
            log,
            fuel_consumed,
            peak_memory_bytes,
        }
    }

    /// Instantiate in a fresh store under `limits`, call `f`, and classify any
    /// failure. Returns the result, the log and the fuel consumed.
    fn with_instance<R>(
        &self,
        limits: &SandboxLimits,
        now_unix: i64,
        f: impl FnOnce(&mut Store<HostState>, &Instance) -> wasmtime::Result<R>,
    ) -> (Result<R, EvalError>, Vec<LogLine>, u64, u64) {
        // Declared before the store so it is released after the store has
        // returned its instances to the pool.
        let _slot = self.engine.slots.acquire();
        let started = std::time::Instant::now();
        let mut store = match new_store(&self.engine.engine, limits, self.regex.clone(), now_unix) {
            Ok(s) => s,
            Err(e) => return (Err(EvalError::Host(format!("{e:#}"))), Vec::new(), 0, 0),
        };
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(&mut store, &instance));
        let result = result.map_err(|e| classify(e, &store, limits, started));
        let fuel_consumed = limits.fuel - store.get_fuel().unwrap_or(0);
        let log = store.data_mut().take_log();
        let peak_memory = store.data().limiter.peak_memory as u64;
        (result, log, fuel_consumed, peak_memory)
    }
}

/// Turn a wasmtime error into the ERROR reason a user can act on.
fn classify(
    err: wasmtime::Error,
    store: &Store<HostState>,
    limits: &SandboxLimits,
    started: std::time::Instant,
) -> EvalError {
    if let Some(hit) = &store.data().limiter.hit {
        return EvalError::ResourceLimit(hit.clone());
    }
    if err.downcast_ref::<DeadlinePassed>().is_some() {
        return EvalError::Timeout {
            millis: limits.timeout.as_millis() as u64,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
    }
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => EvalError::OutOfFuel { fuel: limits.fuel },
        Some(wasmtime::Trap::Interrupt) => EvalError::Timeout {
            millis: limits.timeout.as_millis() as u64,
            elapsed_ms: started.elapsed().as_millis() as u64,
        },
        Some(wasmtime::Trap::StackOverflow) => {
            EvalError::ResourceLimit("wasm stack exhausted (deep recursion)".into())
        }
        Some(trap) => EvalError::Trap(trap.to_string()),
        None => {
            let msg = format!("{err:#}");
            // wasmtime's wording when an instance, table or memory count
            // passes the limiter's cap.
            if msg.contains("resource limit exceeded") {
                EvalError::ResourceLimit(format!("{msg} (limit `instances`)"))
            } else {
                EvalError::Trap(msg)
            }
        }
    }
}

/// Enforce the output cap and the contract's rules on what comes back: rule
/// ids well formed and, when the policy declares a catalogue, in it.
fn check_verdict(verdict: Verdict, info: &PolicyInfo, output_limit: u64) -> Result<Verdict, EvalError> {
    let bytes = verdict.text_bytes() as u64;
    if bytes > output_limit {
        return Err(EvalError::OutputTooLarge {
            bytes,
            limit: output_limit,
        });
    }
    for (i, f) in verdict.findings.iter().enumerate() {
        if !is_rule_id(&f.rule_id) {
            return Err(EvalError::MalformedVerdict(format!(
                "finding {i}: rule id `{}` must be 1-128 characters of A-Z, a-z, 0-9, `.`, `-`, `_`",
                f.rule_id.escape_debug()
            )));
        }
        if !info.declares(&f.rule_id) {
            return Err(EvalError::MalformedVerdict(format!(
                "finding {i}: rule id `{}` is not in the policy's rule catalogue (its `info` lists {} rules): \
                 a finding the catalogue does not declare is refused, so exemptions and coverage can trust it",
                f.rule_id,
                info.rules.len()
            )));
        }
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str) -> RuleInfo {
        RuleInfo {
            id: id.into(),
            severity: Severity::High,
            summary: String::new(),
        }
    }

    #[test]
    fn a_family_covers_the_ids_under_it_and_nothing_else() {
        let family = rule("pii.column.*");
        assert!(family.covers("pii.column.email"));
        assert!(family.covers("pii.column.a.b"));
        assert!(!family.covers("pii.column."));
        assert!(!family.covers("pii.column"));
        assert!(!family.covers("pii.columnx"));
        assert!(rule("pii.column").covers("pii.column"));
        assert!(!rule("pii.column").covers("pii.column.email"));
    }

    #[test]
    fn a_catalogue_is_held_to_the_contract() {
        assert!(check_catalogue(&[rule("a.b"), rule("a.*")]).is_ok());
        for bad in ["", "*", ".*", "a.b*", "a b", "a..*", "a.*.*"] {
            assert!(check_catalogue(&[rule(bad)]).is_err(), "{bad:?} accepted");
        }
        assert!(
            check_catalogue(&[rule("a.b"), rule("a.b")])
                .unwrap_err()
                .contains("twice")
        );
        let mut long = rule("a.b");
        long.summary = "x".repeat(MAX_RULE_SUMMARY_BYTES + 1);
        assert!(check_catalogue(&[long]).unwrap_err().contains("summary"));
        let many: Vec<_> = (0..=MAX_CATALOGUE_RULES)
            .map(|i| rule(&format!("r.{i}")))
            .collect();
        assert!(check_catalogue(&many).unwrap_err().contains("limit"));
    }
}
