//! Write a sealgate policy in Rust.
//!
//! A policy is a type implementing [`Policy`], exported with [`export_policy!`],
//! and built into a component with `sealgate policy build DIR`:
//!
//! ```ignore
//! use sealgate_policy_sdk::{export_policy, Context, Metadata, Policy, PolicyInfo, Report, RuleInfo, Severity};
//!
//! #[derive(serde::Deserialize, Default)]
//! #[serde(deny_unknown_fields)]
//! struct Params { max_days: Option<u64> }
//!
//! struct Retention;
//!
//! impl Policy for Retention {
//!     type Params = Params;
//!     const INFO: PolicyInfo = PolicyInfo {
//!         id: "example.retention",
//!         version: "0.1.0",
//!         summary: "A retention period is declared.",
//!         params_schema: r#"{"type":"object","properties":{"max_days":{"type":"integer"}}}"#,
//!         rules: &[RuleInfo {
//!             id: "retention.missing",
//!             severity: Severity::High,
//!             summary: "no retention period is declared",
//!         }],
//!     };
//!
//!     fn evaluate(doc: &Metadata, _params: &Params, _ctx: &Context) -> Result<Report, String> {
//!         let mut report = Report::new();
//!         if doc.get("/retention/days").is_none() {
//!             report.finding("retention.missing", Severity::High, "/retention",
//!                 "no retention period is declared",
//!                 "set /retention/days to the number of days the artifact may be kept");
//!         }
//!         Ok(report)
//!     }
//! }
//!
//! export_policy!(Retention);
//! ```
//!
//! Everything a policy needs from outside comes through its arguments; the
//! only other things it can reach are [`log`] and [`regex_is_match`], which the
//! host provides.

// Lets the generated bindings name this crate by its public path.
extern crate self as sealgate_policy_sdk;

use serde::de::DeserializeOwned;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Bindings generated from `wit/policy.wit`. Policy code rarely needs them.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "gate-policy",
        pub_export_macro: true,
        export_macro_name: "__export_gate_policy",
        default_bindings_module: "sealgate_policy_sdk::bindings",
        runtime_path: "sealgate_policy_sdk::__wit_bindgen::rt",
    });
}

mod metadata;
mod report;

pub use metadata::{Metadata, pointer_escape};
pub use report::Report;

use bindings::exports::sealgate::policy::policy as wit;
use bindings::sealgate::policy::{host, types as wit_types};

/// Severity of a finding, lowest first.
pub use bindings::sealgate::policy::types::Severity;

/// Parse a severity as written in params (`info`, `low`, `medium`, `high`, `critical`).
pub fn parse_severity(s: &str) -> Result<Severity, String> {
    Ok(match s {
        "info" => Severity::Info,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => {
            return Err(format!(
                "unknown severity `{s}`: expected info, low, medium, high or critical"
            ));
        }
    })
}

/// Deserialize a severity param: `#[serde(deserialize_with = "sealgate_policy_sdk::deserialize_severity")]`.
pub fn deserialize_severity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Severity, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    parse_severity(&s).map_err(serde::de::Error::custom)
}

/// What a policy says about itself.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInfo {
    /// Stable identifier, e.g. `sealgate.pii`.
    pub id: &'static str,
    /// Version of the rules (semver).
    pub version: &'static str,
    /// One line: what it checks.
    pub summary: &'static str,
    /// JSON Schema of the params object, as JSON text.
    pub params_schema: &'static str,
    /// Every rule the policy may report (its catalogue). The host refuses a
    /// finding no entry covers (an ERROR), and `sealgate policy test
    /// --coverage` lists the entries no case produced. `&[]`: no catalogue.
    pub rules: &'static [RuleInfo],
}

/// One entry of a policy's rule catalogue.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// The rule id findings carry (`pii.column.email`), or a family of ids
    /// ending `.*` (`pii.column.*`) for ids built from params.
    pub id: &'static str,
    /// The severity its findings usually carry.
    pub severity: Severity,
    /// One line: what it finds.
    pub summary: &'static str,
}

impl RuleInfo {
    /// Does this entry cover findings with `rule_id` (the same id, or an id
    /// under a `prefix.*` family)? The host's rule, for native tests.
    pub fn covers(&self, rule_id: &str) -> bool {
        match self.id.strip_suffix('*') {
            Some(prefix) => rule_id.len() > prefix.len() && rule_id.starts_with(prefix),
            None => self.id == rule_id,
        }
    }
}

/// What the host tells a policy about this evaluation.
#[derive(Debug, Clone)]
pub struct Context {
    /// The gate's name.
    pub gate: String,
    /// The artifact's digest (`sha256:<hex>`), when known.
    pub artifact_digest: Option<String>,
    /// Evaluation time, RFC 3339 UTC.
    pub evaluated_at: String,
    /// Evaluation time, seconds since the Unix epoch.
    pub evaluated_at_unix: i64,
}

/// A sealgate policy. Implement it, then `export_policy!(YourType);`.
pub trait Policy {
    /// The params, deserialised from the gate's `params` table. Use
    /// `#[serde(deny_unknown_fields)]` so a typo in a gate is refused.
    type Params: DeserializeOwned;

    /// Who this policy is.
    const INFO: PolicyInfo;

    /// Extra checks on params beyond what deserialising enforces.
    fn validate(_params: &Self::Params) -> Result<(), String> {
        Ok(())
    }

    /// Evaluate the metadata. `Err` means "I cannot judge this" (an ERROR
    /// outcome, so the gate fails); findings go in the [`Report`].
    fn evaluate(doc: &Metadata, params: &Self::Params, ctx: &Context) -> Result<Report, String>;
}

/// Write a line to the evaluation's log (bounded by the host).
pub fn log(message: &str) {
    imp::log(host::LogLevel::Info, message);
}

/// Write a warning to the evaluation's log.
pub fn warn(message: &str) {
    imp::log(host::LogLevel::Warn, message);
}

/// Does `pattern` (Rust `regex` syntax) match anywhere in `text`? The host
/// compiles and caches the pattern; `Err` for an invalid or oversized pattern.
pub fn regex_is_match(pattern: &str, text: &str) -> Result<bool, String> {
    imp::regex_is_match(pattern, text)
}

fn parse_params<P: Policy>(params: &str) -> Result<P::Params, String> {
    serde_json::from_str(params).map_err(|e| format!("invalid params for {}: {e}", P::INFO.id))
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    pub fn info<P: Policy>() -> wit_types::PolicyInfo {
        wit_types::PolicyInfo {
            id: P::INFO.id.into(),
            version: P::INFO.version.into(),
            summary: P::INFO.summary.into(),
            params_schema: P::INFO.params_schema.into(),
            rules: P::INFO
                .rules
                .iter()
                .map(|r| wit_types::RuleInfo {
                    id: r.id.into(),
                    severity: r.severity,
                    summary: r.summary.into(),
                })
                .collect(),
        }
    }

    /// Send panic messages to the host log: with `panic = "abort"` and no
    /// stderr, they would otherwise be lost, leaving only "unreachable".
    fn log_panics() {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            std::panic::set_hook(Box::new(|info| {
                host::log(host::LogLevel::Error, &info.to_string())
            }));
        });
    }

    pub fn validate_params<P: Policy>(params: String) -> Result<(), String> {
        log_panics();
        P::validate(&parse_params::<P>(&params)?)
    }

    pub fn evaluate<P: Policy>(
        metadata: String,
        params: String,
        ctx: wit_types::Context,
    ) -> Result<wit_types::Verdict, String> {
        log_panics();
        let params = parse_params::<P>(&params)?;
        let doc = Metadata::parse(&metadata)?;
        let ctx = Context {
            gate: ctx.gate,
            artifact_digest: ctx.artifact_digest,
            evaluated_at: ctx.evaluated_at,
            evaluated_at_unix: ctx.evaluated_at_unix,
        };
        P::evaluate(&doc, &params, &ctx).map(Report::into_verdict)
    }

    /// The `Guest` implementation `export_policy!` wires up.
    pub struct Adapter<P>(core::marker::PhantomData<P>);

    impl<P: Policy> wit::Guest for Adapter<P> {
        fn info() -> wit_types::PolicyInfo {
            info::<P>()
        }
        fn validate_params(params: String) -> Result<(), String> {
            validate_params::<P>(params)
        }
        fn evaluate(
            metadata: String,
            params: String,
            ctx: wit_types::Context,
        ) -> Result<wit_types::Verdict, String> {
            evaluate::<P>(metadata, params, ctx)
        }
    }
}

/// Export a [`Policy`] implementation as the component's `policy` interface.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        type __SealgatePolicyExport = $crate::__private::Adapter<$policy>;
        // Component-model export names do not link on native targets, so a
        // host build (`cargo test` of the policy's pure logic) only references
        // the adapter, keeping the policy's code "used".
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_gate_policy!(__SealgatePolicyExport with_types_in $crate::bindings);
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = <__SealgatePolicyExport as $crate::bindings::exports::sealgate::policy::policy::Guest>::evaluate;
            let _ = <__SealgatePolicyExport as $crate::bindings::exports::sealgate::policy::policy::Guest>::validate_params;
        };
    };
}

/// Run a policy in this process, as its component runs it (params parsed
/// and validated, metadata parsed, then [`Policy::evaluate`]) but with no
/// sandbox: for a policy's native unit tests, and for measuring what the
/// sandbox costs (the host's `benches/`). Never a way to run a gate.
#[cfg(not(target_arch = "wasm32"))]
pub fn evaluate_in_process<P: Policy>(metadata: &str, params: &str, ctx: &Context) -> Result<Report, String> {
    let params = parse_params::<P>(params)?;
    P::validate(&params)?;
    let doc = Metadata::parse(metadata)?;
    let report = P::evaluate(&doc, &params, ctx)?;
    // The host refuses a finding the catalogue does not declare: so do native tests.
    let rules = P::INFO.rules;
    if let Some(id) = report
        .rule_ids()
        .find(|id| !rules.is_empty() && !rules.iter().any(|r| r.covers(id)))
    {
        return Err(format!(
            "rule id `{id}` is not in {}'s rule catalogue (PolicyInfo::rules)",
            P::INFO.id
        ));
    }
    Ok(report)
}

// The host interface. (Kept at the end of the file: code above it must not
// move, since line numbers reach the component and so its pin.)
#[cfg(target_arch = "wasm32")]
mod imp {
    pub use super::host::{log, regex_is_match};
}

/// Native stand-ins for the host interface, so policy code also runs as
/// ordinary Rust. Regexes are compiled once per thread, with the host's
/// limits; log lines go to stderr.
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::host::LogLevel;

    pub fn log(level: LogLevel, message: &str) {
        eprintln!("{level:?}: {message}");
    }

    pub fn regex_is_match(pattern: &str, text: &str) -> Result<bool, String> {
        thread_local! {
            static COMPILED: RefCell<HashMap<String, regex::Regex>> = RefCell::default();
        }
        use crate::limits::{MAX_COMPILED_BYTES, MAX_NESTING, MAX_PATTERN_BYTES, MAX_TEXT_BYTES};
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(format!(
                "pattern is {} bytes; the limit is {MAX_PATTERN_BYTES}",
                pattern.len()
            ));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(format!(
                "text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                text.len()
            ));
        }
        COMPILED.with(|c| {
            let mut map = c.borrow_mut();
            if !map.contains_key(pattern) {
                let re = regex::RegexBuilder::new(pattern)
                    .size_limit(MAX_COMPILED_BYTES)
                    .dfa_size_limit(MAX_COMPILED_BYTES)
                    .nest_limit(MAX_NESTING)
                    .build()
                    .map_err(|e| format!("invalid pattern: {e}"))?;
                map.insert(pattern.to_owned(), re);
            }
            Ok(map[pattern].is_match(text))
        })
    }
}

// Last in the file: code above keeps its line numbers (and so the panic
// locations compiled into every policy, and their pins).
pub mod limits;
