//! The hard limits of one policy evaluation.
//!
//! Every evaluation runs under a [`SandboxLimits`]. The defaults are safe for an
//! untrusted policy on a CI runner; a gate file may *tighten* any of them, per
//! gate or per policy, but never loosen one beyond the engine's ceiling (by
//! default, the defaults themselves). The engine applies them in exactly one
//! place, where it creates the `Store` for an evaluation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Hard limits for one evaluation of one policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SandboxLimits {
    /// CPU, deterministically: WebAssembly fuel (about one unit per
    /// instruction). Running out is an ERROR. Default: 2 000 000 000, 42x
    /// what the PII policy spends on a 1 000-column model (47.7 M); a tight
    /// loop burns it in about 0.16 s (docs/sandbox.md).
    pub fuel: u64,
    /// CPU, by the clock: a wall-clock deadline enforced with epoch
    /// interruption. A backstop for time fuel does not count (host calls).
    /// Default: 5 s.
    #[serde(with = "millis")]
    pub timeout: Duration,
    /// Largest size of any one linear memory, in bytes. Default: 64 MiB, 20x
    /// the PII policy's peak on a 1 000-column model.
    pub memory_bytes: u64,
    /// Largest number of elements in any one table. Default: 20 000.
    pub table_elements: u64,
    /// Most core instances, tables and memories a component may create.
    /// Default: 64 each: a Rust policy uses 2-4 core instances, a WASI
    /// component from a standard toolchain several, and componentize-py's
    /// output with `--stub-wasi` 38 (32 refused it). The engine reserves
    /// pool slots for this many per evaluation; 64 against 32 did not move
    /// `sealgate check`'s time (20 ms median) or peak RSS.
    pub instances: u32,
    /// Largest verdict, counted as the bytes of text in its findings.
    /// Default: 1 MiB.
    pub output_bytes: u64,
    /// Most bytes of log lines kept per evaluation (host `log` and captured
    /// stdout/stderr). Past it lines are dropped and the log says so.
    /// Default: 64 KiB.
    pub log_bytes: u64,
}

mod millis {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            fuel: 2_000_000_000,
            timeout: Duration::from_secs(5),
            memory_bytes: 64 << 20,
            table_elements: 20_000,
            instances: 64,
            output_bytes: 1 << 20,
            log_bytes: 64 << 10,
        }
    }
}

/// Limits a gate file sets; each only tightens the limit it names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitOverrides {
    /// See [`SandboxLimits::fuel`].
    pub fuel: Option<u64>,
    /// See [`SandboxLimits::timeout`], in milliseconds.
    pub timeout_ms: Option<u64>,
    /// See [`SandboxLimits::memory_bytes`].
    pub memory_bytes: Option<u64>,
    /// See [`SandboxLimits::table_elements`].
    pub table_elements: Option<u64>,
    /// See [`SandboxLimits::instances`].
    pub instances: Option<u32>,
    /// See [`SandboxLimits::output_bytes`].
    pub output_bytes: Option<u64>,
    /// See [`SandboxLimits::log_bytes`].
    pub log_bytes: Option<u64>,
}

/// A gate asked for more than the ceiling allows, or for nothing at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitError {
    /// The override would loosen a limit.
    #[error("limit `{name}` = {requested} exceeds the ceiling of {ceiling}: a gate may only tighten limits")]
    AboveCeiling {
        /// The limit's name as written in the gate file.
        name: &'static str,
        /// The value asked for.
        requested: u64,
        /// The most allowed.
        ceiling: u64,
    },
    /// Zero would make every evaluation fail; almost certainly a typo.
    #[error("limit `{name}` must be greater than 0")]
    Zero {
        /// The limit's name as written in the gate file.
        name: &'static str,
    },
}

impl SandboxLimits {
    /// These limits tightened by `overrides`. Refuses an override above the
    /// current value (`self` is the ceiling) or equal to zero.
    ///
    /// # Errors
    ///
    /// A [`LimitError`] for an override above this limit (a gate may only tighten).
    pub fn tightened(&self, overrides: &LimitOverrides) -> Result<Self, LimitError> {
        fn pick(name: &'static str, ceiling: u64, requested: Option<u64>) -> Result<u64, LimitError> {
            match requested {
                None => Ok(ceiling),
                Some(0) => Err(LimitError::Zero { name }),
                Some(r) if r > ceiling => Err(LimitError::AboveCeiling {
                    name,
                    requested: r,
                    ceiling,
                }),
                Some(r) => Ok(r),
            }
        }
        let o = overrides;
        Ok(Self {
            fuel: pick("fuel", self.fuel, o.fuel)?,
            timeout: Duration::from_millis(pick(
                "timeout-ms",
                self.timeout.as_millis() as u64,
                o.timeout_ms,
            )?),
            memory_bytes: pick("memory-bytes", self.memory_bytes, o.memory_bytes)?,
            table_elements: pick("table-elements", self.table_elements, o.table_elements)?,
            instances: pick("instances", self.instances.into(), o.instances.map(u64::from))? as u32,
            output_bytes: pick("output-bytes", self.output_bytes, o.output_bytes)?,
            log_bytes: pick("log-bytes", self.log_bytes, o.log_bytes)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_tighten() {
        let base = SandboxLimits::default();
        let t = base
            .tightened(&LimitOverrides {
                fuel: Some(1000),
                timeout_ms: Some(10),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(t.fuel, 1000);
        assert_eq!(t.timeout, Duration::from_millis(10));
        assert_eq!(t.memory_bytes, base.memory_bytes);
    }

    #[test]
    fn overrides_cannot_loosen_or_zero() {
        let base = SandboxLimits::default();
        let err = base
            .tightened(&LimitOverrides {
                memory_bytes: Some(base.memory_bytes + 1),
                ..Default::default()
            })
            .unwrap_err();
        assert!(
            matches!(
                err,
                LimitError::AboveCeiling {
                    name: "memory-bytes",
                    ..
                }
            ),
            "{err}"
        );
        let err = base
            .tightened(&LimitOverrides {
                fuel: Some(0),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err, LimitError::Zero { name: "fuel" });
    }
}
