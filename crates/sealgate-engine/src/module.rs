use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealgate_core::{EvaluationContext, Finding, LogLine, SandboxLimits, Severity, Sha256Digest, Verdict};
use wasmtime::Store;

use crate::bindings::GatePolicyPre;
use crate::bindings::exports::sealgate::policy::policy as wit;
use crate::bindings::sealgate::policy::types as wit_types;
use crate::engine::PolicyEngine;
use crate::error::{EvalError, LoadError};
use crate::host::{DeadlinePassed, RegexCache};
use crate::sandbox::{HostState, new_store};

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
    pre: GatePolicyPre<HostState>,
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
        pre: GatePolicyPre<HostState>,
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
                .and_then(|i| i.sealgate_policy_policy().call_info(&mut store))
                .map_err(|e| info_err(classify(e, &store, &limits, started).to_string()))?
        };
        let params_schema = serde_json::from_str(&raw.params_schema)
            .map_err(|e| info_err(format!("params-schema is not JSON: {e}")))?;
        if raw.id.trim().is_empty() || raw.version.trim().is_empty() {
            return Err(info_err("id and version must not be empty".into()));
        }
        let info = PolicyInfo {
            id: raw.id,
            version: raw.version,
            summary: raw.summary,
            params_schema,
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
        let (result, log, _, _) = self.with_instance(limits, 0, |store, policy| {
            policy.call_validate_params(store, params)
        });
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
        let wit_context = wit_types::Context {
            gate: context.gate.clone(),
            artifact_digest: context.artifact_digest.map(|d| d.prefixed()),
            evaluated_at: context.evaluated_at(),
            evaluated_at_unix: context.evaluated_at_unix,
        };
        let (result, log, fuel_consumed, peak_memory_bytes) =
            self.with_instance(limits, context.evaluated_at_unix, |store, policy| {
                policy.call_evaluate(store, metadata, params, &wit_context)
            });
        let verdict = result
            .and_then(|r| r.map_err(EvalError::Policy))
            .and_then(|v| check_verdict(v, limits.output_bytes));
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
        f: impl FnOnce(&mut Store<HostState>, &wit::Guest) -> wasmtime::Result<R>,
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
            .and_then(|instance| f(&mut store, instance.sealgate_policy_policy()));
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

/// Enforce the output cap and the contract's rules on what comes back.
fn check_verdict(v: wit_types::Verdict, output_limit: u64) -> Result<Verdict, EvalError> {
    let verdict = Verdict {
        passed: v.passed,
        findings: v
            .findings
            .into_iter()
            .map(|f| Finding {
                rule_id: f.rule_id,
                severity: match f.severity {
                    wit_types::Severity::Info => Severity::Info,
                    wit_types::Severity::Low => Severity::Low,
                    wit_types::Severity::Medium => Severity::Medium,
                    wit_types::Severity::High => Severity::High,
                    wit_types::Severity::Critical => Severity::Critical,
                },
                pointer: f.pointer,
                message: f.message,
                remediation: f.remediation,
            })
            .collect(),
    };
    let bytes = verdict.text_bytes() as u64;
    if bytes > output_limit {
        return Err(EvalError::OutputTooLarge {
            bytes,
            limit: output_limit,
        });
    }
    for (i, f) in verdict.findings.iter().enumerate() {
        let rule_ok = !f.rule_id.is_empty()
            && f.rule_id.len() <= 128
            && f.rule_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !rule_ok {
            return Err(EvalError::MalformedVerdict(format!(
                "finding {i}: rule id `{}` must be 1-128 characters of A-Z, a-z, 0-9, `.`, `-`, `_`",
                f.rule_id.escape_debug()
            )));
        }
    }
    Ok(verdict)
}
