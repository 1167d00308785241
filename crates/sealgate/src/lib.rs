//! sealgate's library API: load a gate of sandboxed WebAssembly policies and
//! evaluate artifact metadata with it.
//!
//! ```no_run
//! use sealgate::{EngineConfig, EvaluationContext, Gate, MetadataDocument, MetadataLimits, PolicyEngine};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = PolicyEngine::new(EngineConfig::default())?;
//! let gate = Gate::load(&engine, "examples/gates/ml-release.toml".as_ref())?;
//! let metadata = MetadataDocument::load(
//!     "examples/metadata/churn-model.json".as_ref(),
//!     &MetadataLimits::default(),
//! )?;
//! let report = gate.evaluate(&metadata, &EvaluationContext::now(gate.name()));
//! println!("{:?}", report.decision);
//! # Ok(()) }
//! ```
//!
//! A gate may also come from memory, its components from anywhere (a
//! registry, a store, a test) through a resolver; each is refused unless its
//! bytes hash to the gate's pin, before anything parses or compiles them:
//!
//! ```
//! use std::path::Path;
//! use sealgate::{EngineConfig, Gate, GateConfig, GateError, LoadError, PolicyEngine, PolicyEntry};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let origin = Path::new("memory:release.toml");
//! let config = GateConfig::from_toml_str(
//!     r#"
//!     api-version = "sealgate/v1"
//!     name = "release"
//!     [[policies]]
//!     module = "pii.wasm"
//!     sha256 = "ffc10c2aed0bf44b629ff4dc010f8c846a1da4e6b3dd004527ba6014cc06eee3"
//!     "#,
//!     origin,
//! )?;
//! let engine = PolicyEngine::new(EngineConfig::default())?;
//! // A resolver that hands back other bytes than the ones pinned.
//! let swapped = |_: &Path, _: &PolicyEntry| Ok(b"\0asm, but not the pinned component".to_vec());
//! match Gate::from_config(&engine, config, origin, swapped) {
//!     Err(GateError::Load { error: LoadError::PinMismatch { actual, .. }, .. }) => {
//!         assert_eq!(actual, sealgate::Sha256Digest::of_bytes(b"\0asm, but not the pinned component"));
//!     }
//!     other => panic!("expected a pin mismatch, got {:?}", other.err()),
//! }
//! # Ok(()) }
//! ```
//!
//! `examples/embed.rs` runs a real gate this way, its components found by
//! their pins in a content-addressed store.
//!
//! The pieces: [`sealgate_core`] (configs, verdicts, reports, limits),
//! [`sealgate_metadata`] (the input document), [`sealgate_engine`] (the
//! wasmtime sandbox). This crate ties them into a [`Gate`].
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

pub mod findings;
mod parallel;
pub mod policy_test;
pub mod rego;
mod source;

/// Publishers' signatures on policies and gates in registries.
pub use sealgate_attest::{Publication, Publishers};
pub use source::{GateSource, RegistryOptions, pinned_files};

pub use sealgate_core::{
    ApiVersion, EvaluationContext, Finding, GateConfig, GateConfigError, GateDecision, GateReport,
    InputError, LogLine, PinnedFile, PolicyEntry, PolicyOutcome, PolicyResult, SandboxLimits, Severity,
    Sha256Digest, TomlFileError, Verdict, error_chain, open_regular, parse_toml, read_bounded,
    read_toml_file, toml_error, write_atomically_readable,
};
pub use sealgate_engine::host;
pub use sealgate_engine::{
    CacheStatus, Contract, EngineConfig, EvalError, EvalErrorKind, LoadError, PolicyEngine, PolicyInfo,
    PolicyModule, RuleInfo,
};
pub use sealgate_metadata::{MetadataDocument, MetadataError, MetadataLimits};
/// Policies in OCI registries: push, fetch by digest, the local store.
pub use sealgate_oci as oci;

/// The sealgate bundles attached to `image` in its registry, for
/// verification to decide on: its referrers, or when it has none, the
/// bundles rebuilt from its cosign `.att` layers (a verdict envelope with
/// the report after it). `verify --from` and admission from a registry
/// both read them here.
///
/// # Errors
///
/// Registry errors (a registry that is down is an error, never "none"),
/// and [`oci::OciError::Artifact`] for what is over the limits.
pub fn attached_bundles(
    settings: &oci::RegistrySettings,
    image: &oci::OciReference,
    max_candidates: usize,
    max_bundle_bytes: u64,
) -> Result<Vec<oci::FetchedAttestation>, oci::OciError> {
    let predicates = oci::BundlePredicates {
        verdict: sealgate_attest::VSA_PREDICATE_TYPE,
        report: sealgate_attest::REPORT_PREDICATE_TYPE,
    };
    oci::fetch_sealgate_bundles(settings, image, predicates, max_candidates, max_bundle_bytes)
}

/// Seconds since the Unix epoch of an RFC 3339 time such as
/// `2026-11-26T20:00:00Z`, as an [`EvaluationContext`] carries it; `Err`
/// says why the text is not one.
///
/// # Errors
///
/// A message when `rfc3339` is not an RFC 3339 time, or is before 1970.
pub fn unix_seconds(rfc3339: &str) -> Result<i64, String> {
    let time = humantime::parse_rfc3339_weak(rfc3339)
        .map_err(|e| format!("`{rfc3339}` is not an RFC 3339 time such as 2026-11-26T20:00:00Z ({e})"))?;
    time.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .map_err(|_| format!("`{rfc3339}` is before 1970"))
}

/// A gate, loaded: every policy pinned, compiled and its params accepted.
pub struct Gate {
    config: GateConfig,
    path: PathBuf,
    policies: Vec<GatePolicy>,
}

// A loaded gate is shared across threads (a server evaluates many requests
// with one `Gate`); keep it that way.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Gate>();
};

/// One policy of a loaded gate.
pub struct GatePolicy {
    /// The compiled module.
    pub module: PolicyModule,
    /// Its params, as the gate gave them.
    pub params: serde_json::Value,
    /// The Rego files it evaluates, pinned (none for a compiled policy).
    pub rego: Vec<PinnedFile>,
    /// Their data files, pinned.
    pub data: Vec<PinnedFile>,
    /// The limits it runs under.
    pub limits: SandboxLimits,
    params_json: String,
}

/// Why a gate could not be loaded. Nothing was evaluated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// The gate file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] GateConfigError),
    /// A policy's component could not be loaded.
    // The cause is in the message, so it is not also a `source` (which
    // error-chain printers would show a second time).
    #[error("{}: policies[{index}]: {error}", gate.display())]
    Load {
        /// The gate file.
        gate: PathBuf,
        /// Which policy.
        index: usize,
        /// Why.
        error: LoadError,
    },
    /// A policy refused its params.
    #[error("{}: policies[{index}] ({policy}): params refused: {message}", gate.display())]
    Params {
        /// The gate file.
        gate: PathBuf,
        /// Which policy.
        index: usize,
        /// The policy's id.
        policy: String,
        /// The policy's message.
        message: String,
    },
    /// A policy's `validate-params` did not complete: it trapped or hit a
    /// sandbox limit (a policy fault, not a verdict on the params).
    #[error("{}: policies[{index}] ({policy}): validate-params did not complete: {error}", gate.display())]
    ParamsCheck {
        /// The gate file.
        gate: PathBuf,
        /// Which policy.
        index: usize,
        /// The policy's id.
        policy: String,
        /// What stopped it.
        error: EvalError,
    },
    /// A gate artifact could not be fetched, is not one, or is not signed
    /// by a trusted publisher when that is required.
    #[error("{reference}: {reason}")]
    Registry {
        /// The artifact.
        reference: String,
        /// Why it was refused.
        reason: String,
    },
    /// A limit in the gate exceeds the engine's ceiling.
    #[error("{}: policies[{index}]: {error}", gate.display())]
    Limits {
        /// The gate file.
        gate: PathBuf,
        /// Which policy.
        index: usize,
        /// Why.
        error: sealgate_core::LimitError,
    },
}

impl Gate {
    /// Read a gate file, load and pin every policy (its module read from the
    /// path the gate gives, relative to the gate file), and have each
    /// validate its params. Policies load in parallel (compiling or reading
    /// the precompiled cache dominates); if any cannot be used, the error is
    /// the one of the first such policy in the file.
    ///
    /// # Errors
    ///
    /// [`GateError::Config`] for a gate file that cannot be read or is
    /// invalid; else as [`Gate::from_config`].
    pub fn load(engine: &PolicyEngine, gate_file: &Path) -> Result<Self, GateError> {
        Self::load_file(engine, gate_file, &RegistryOptions::default())
    }

    fn load_file(
        engine: &PolicyEngine,
        gate_file: &Path,
        options: &RegistryOptions,
    ) -> Result<Self, GateError> {
        let config = GateConfig::load(gate_file)?;
        // A gate copied elsewhere with its relative paths now wrong: say
        // every file that is not there at once, not one per run.
        let missing = missing_files(&config, gate_file);
        if !missing.is_empty() {
            return Err(GateError::Config(GateConfigError::Invalid {
                path: gate_file.to_owned(),
                problems: missing,
            }));
        }
        let max = engine.config().max_component_bytes;
        // Registry settings only when some policy lives in a registry.
        let registry = if config.policies.iter().any(|p| p.oci_module().is_some()) {
            Some(source::Registry::open(options, max).map_err(|reason| {
                GateError::Config(GateConfigError::Invalid {
                    path: gate_file.to_owned(),
                    problems: vec![reason],
                })
            })?)
        } else {
            None
        };
        Self::from_config(engine, config, gate_file, |path, entry| {
            match (entry.oci_module(), &registry) {
                (Some(oci), Some(registry)) if path == entry.module => registry.component(oci),
                _ => Ok(read_bounded(path, max)?),
            }
        })
    }

    /// A gate from a parsed config whose components come from `resolve`
    /// (memory, a registry, a test): called with each policy's module path
    /// (resolved against `origin` as a gate file's are; it also names the
    /// component in errors) and its entry, it returns the component's bytes.
    /// Each is pinned by the entry's sha256 before anything compiles it.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::collections::HashMap;
    /// use std::path::{Path, PathBuf};
    /// use sealgate::{EngineConfig, Gate, GateConfig, LoadError, PolicyEngine};
    ///
    /// let components: HashMap<PathBuf, Vec<u8>> = HashMap::new(); // e.g. pulled from a registry
    /// let origin = Path::new("memory:release.toml");
    /// let config = GateConfig::from_toml_str(&std::fs::read_to_string("release.toml")?, origin)?;
    /// let engine = PolicyEngine::new(EngineConfig::default())?;
    /// let gate = Gate::from_config(&engine, config, origin, |path, _entry| {
    ///     components.get(path).cloned().ok_or_else(|| LoadError::Unavailable {
    ///         path: path.to_owned(),
    ///         reason: "not in the store".into(),
    ///     })
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`GateError::Limits`] for a limit over the engine's ceiling,
    /// [`GateError::Load`] for a component `resolve` cannot give, whose
    /// digest is not its pin, or that cannot be used, [`GateError::Params`]
    /// when a policy refuses its params and [`GateError::ParamsCheck`] when
    /// checking them faulted.
    pub fn from_config(
        engine: &PolicyEngine,
        config: GateConfig,
        origin: &Path,
        resolve: impl Fn(&Path, &PolicyEntry) -> Result<Vec<u8>, LoadError> + Sync,
    ) -> Result<Self, GateError> {
        let gate_file = origin;
        let gate = gate_file.to_owned();
        let limits = (0..config.policies.len())
            .map(|index| {
                config
                    .limits_for(&engine.config().ceiling, index)
                    .map_err(|error| GateError::Limits {
                        gate: gate.clone(),
                        index,
                        error,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let workers = parallel::workers_for(config.policies.len());
        let policies = parallel::map_in_parallel(&config.policies, workers, |index, entry| {
            let limits = limits[index];
            let module_path = GateConfig::module_path(gate_file, entry);
            let load_error = |error| GateError::Load {
                gate: gate.clone(),
                index,
                error,
            };
            let module = resolve(&module_path, entry)
                .and_then(|bytes| engine.load_bytes(&module_path, bytes, &entry.sha256))
                .map_err(load_error)?;
            // Rego files go to the Rego engine and nowhere else: a report
            // must not list files as evaluated by a module that ignores them.
            let is_engine = module.info().id == rego::ENGINE_ID;
            if is_engine == entry.rego.is_empty() {
                return Err(GateError::Params {
                    gate: gate.clone(),
                    index,
                    policy: module.info().id.clone(),
                    message: if is_engine {
                        "the Rego engine evaluates Rego files: name them with `rego = [{ path, sha256 }]`".into()
                    } else {
                        format!(
                            "`rego` names Rego files, but this module is `{}`, not the Rego engine (`{}`, built from policies/rego-engine)",
                            module.info().id,
                            rego::ENGINE_ID
                        )
                    },
                });
            }
            // A Rego policy's files are pinned like its module and handed to
            // it with the params.
            let params_json =
                rego::RegoSources::load(gate_file, &entry.rego, &entry.data, |path| resolve(path, entry))
                    .map_err(load_error)?
                    .map_or_else(
                        || entry.params.to_string(),
                        |sources| sources.params_json(&entry.params),
                    );
            module
                .validate_params(&params_json, &limits)
                .map_err(|e| match e {
                    EvalError::Policy(message) => GateError::Params {
                        gate: gate.clone(),
                        index,
                        policy: module.info().id.clone(),
                        message,
                    },
                    error => GateError::ParamsCheck {
                        gate: gate.clone(),
                        index,
                        policy: module.info().id.clone(),
                        error,
                    },
                })?;
            Ok(GatePolicy {
                module,
                params: entry.params.clone(),
                rego: entry.rego.clone(),
                data: entry.data.clone(),
                limits,
                params_json,
            })
        })
        .into_iter()
        .collect::<Result<Vec<_>, GateError>>()?;
        Ok(Self {
            config,
            path: gate,
            policies,
        })
    }

    /// The gate's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The parsed gate file.
    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// Where it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its policies, in order.
    pub fn policies(&self) -> &[GatePolicy] {
        &self.policies
    }

    /// Evaluate every policy on `metadata` and decide. Never fails: a policy
    /// that cannot give a verdict is an ERROR outcome, and the gate fails.
    pub fn evaluate(&self, metadata: &MetadataDocument, context: &EvaluationContext) -> GateReport {
        // Independent policies run on all cores; each in its own sandbox, so
        // the results (kept in gate order) are those of a serial run.
        self.evaluate_observed(metadata, context, parallel::workers_for(self.policies.len()))
            .report
    }

    /// [`Gate::evaluate`] on up to `threads` threads (1: on the caller's
    /// thread, as a server running many evaluations at once wants), with how
    /// each policy's evaluation went, for metrics.
    pub fn evaluate_observed(
        &self,
        metadata: &MetadataDocument,
        context: &EvaluationContext,
        threads: usize,
    ) -> ObservedEvaluation {
        let observed = parallel::map_in_parallel(&self.policies, threads, |_, p| {
            let started = std::time::Instant::now();
            let eval = p
                .module
                .evaluate(metadata.text(), &p.params_json, context, &p.limits);
            let elapsed = started.elapsed();
            let info = p.module.info();
            let error_kind = eval.verdict.as_ref().err().map(EvalError::kind);
            let (outcome, findings, error) = match eval.verdict {
                // Judged on the findings as returned; then made safe to show.
                Ok(v) => (
                    PolicyOutcome::judge(&v, self.config.fail_on),
                    findings::normalize(v.findings, metadata.value()),
                    None,
                ),
                Err(e) => (PolicyOutcome::Error, Vec::new(), Some(e.to_string())),
            };
            let result = PolicyResult {
                id: info.id.clone(),
                version: info.version.clone(),
                module_sha256: *p.module.digest(),
                rego: p.rego.clone(),
                data: p.data.clone(),
                params: p.params.clone(),
                outcome,
                findings,
                error,
                log: eval.log,
                fuel_consumed: eval.fuel_consumed,
            };
            (result, PolicyTiming { elapsed, error_kind })
        });
        let (results, timings): (Vec<_>, Vec<_>) = observed.into_iter().unzip();
        let mut report = GateReport::decide(
            self.config.name.clone(),
            self.config.fail_on,
            *metadata.sha256(),
            context.clone(),
            results,
        );
        report.evidence = metadata
            .value()
            .get("evidence")
            .and_then(|e| e.as_array())
            .cloned()
            .unwrap_or_default();
        ObservedEvaluation { report, timings }
    }
}

/// Every module, Rego and data file the gate names that is not where the
/// gate says (paths resolved against the gate file's directory).
fn missing_files(config: &GateConfig, gate_file: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    for (i, p) in config.policies.iter().enumerate() {
        // A registry's module is fetched, not looked for on disk.
        let module = p
            .oci_module()
            .is_none()
            .then_some((format!("policies[{i}].module"), &p.module));
        let files = module
            .into_iter()
            .chain(
                p.rego
                    .iter()
                    .enumerate()
                    .map(|(j, f)| (format!("policies[{i}].rego[{j}]"), &f.path)),
            )
            .chain(
                p.data
                    .iter()
                    .enumerate()
                    .map(|(j, f)| (format!("policies[{i}].data[{j}]"), &f.path)),
            );
        for (key, path) in files {
            // Only what is not there: what is there but not a regular file
            // is refused by the reader, saying so.
            let resolved = GateConfig::resolve(gate_file, path);
            if std::fs::symlink_metadata(&resolved).is_err() {
                missing.push(format!(
                    "{key}: `{}` not found (looked at {}; paths are relative to the gate file)",
                    path.display(),
                    resolved.display()
                ));
            }
        }
    }
    missing
}

/// A gate report with how each policy's evaluation went.
#[derive(Debug, Clone)]
pub struct ObservedEvaluation {
    /// The report, as [`Gate::evaluate`] gives it.
    pub report: GateReport,
    /// One per policy, in gate order.
    pub timings: Vec<PolicyTiming>,
}

/// How one policy's evaluation went.
#[derive(Debug, Clone, Copy)]
pub struct PolicyTiming {
    /// Wall-clock time, instantiation included.
    pub elapsed: std::time::Duration,
    /// [`EvalError::kind`] when it ended in ERROR.
    pub error_kind: Option<EvalErrorKind>,
}
