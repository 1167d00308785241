//! The gate file: which policies run, pinned how, with what params and limits.
//!
//! ```toml
//! api-version = "sealgate/v1"
//! name = "ml-release"
//! fail-on = "high"
//!
//! [[policies]]
//! module = "../../target/policies/pii.wasm"
//! sha256 = "…64 hex…"
//! params = { min-severity = "low" }
//! limits = { fuel = 500000000 }
//! ```
//!
//! Parsing is strict: unknown keys are errors, and every unmet constraint is
//! reported at once, not just the first.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{InputError, LimitOverrides, SandboxLimits, Severity, Sha256Digest};

/// The only gate file version this build reads.
pub const API_VERSION: &str = "sealgate/v1";

/// Gate files are small; anything bigger is a mistake or an attack.
const MAX_GATE_FILE_BYTES: u64 = 1 << 20;

/// A parsed, checked gate file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GateConfig {
    /// Must be [`API_VERSION`].
    pub api_version: String,
    /// Short name: lowercase letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// What the gate is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A finding at or above this severity fails its policy. Default: `high`.
    #[serde(default = "default_fail_on")]
    pub fail_on: Severity,
    /// Limits for every policy in the gate (each only tightens the default).
    #[serde(default)]
    pub limits: LimitOverrides,
    /// The policies, run in this order.
    pub policies: Vec<PolicyEntry>,
}

/// One policy in a gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyEntry {
    /// Path of the component file, relative to the gate file.
    pub module: PathBuf,
    /// The pinned SHA-256 of the component file. Checked before compiling.
    pub sha256: Sha256Digest,
    /// Params handed to the policy (a JSON object).
    #[serde(default = "empty_object")]
    pub params: serde_json::Value,
    /// Limits for this policy only (each only tightens the gate's).
    #[serde(default)]
    pub limits: LimitOverrides,
    /// Rego files the component (the Rego engine, `policies/rego-engine`)
    /// evaluates, each pinned like the module.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rego: Vec<PinnedFile>,
    /// JSON data files for those Rego files (`data.*`), each pinned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<PinnedFile>,
}

impl PolicyEntry {
    /// The module's `oci://` reference, when the gate names one instead of a file.
    pub fn oci_module(&self) -> Option<&str> {
        self.module.to_str().filter(|m| m.starts_with("oci://"))
    }
}

/// A file a policy reads besides its component (a Rego module, its data),
/// pinned by sha256 like the component: refused before anything reads it
/// if it differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedFile {
    /// Where it is, relative to the gate file.
    pub path: PathBuf,
    /// Its pinned SHA-256.
    pub sha256: Sha256Digest,
}

fn default_fail_on() -> Severity {
    Severity::High
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Why a gate file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateConfigError {
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] InputError),
    /// The file is not valid TOML, or has unknown keys or wrong types.
    #[error("{}: invalid gate file: {message}", path.display())]
    Parse {
        /// The gate file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The file parsed but breaks one or more rules; all of them are listed.
    #[error("{}: invalid gate file: {}", path.display(), problems.join("; "))]
    Invalid {
        /// The gate file.
        path: PathBuf,
        /// Every unmet constraint.
        problems: Vec<String>,
    },
}

impl GateConfig {
    /// Read and check a gate file. Module paths stay as written; use
    /// [`GateConfig::module_path`] to resolve them.
    ///
    /// # Errors
    ///
    /// [`GateConfigError::Read`] if the file cannot be read (or is over
    /// 1 MiB), else as [`GateConfig::from_toml_str`].
    pub fn load(path: &Path) -> Result<Self, GateConfigError> {
        let config = crate::read_toml_file::<Self>(path, MAX_GATE_FILE_BYTES, None)
            .map_err(|e| GateConfigError::from_toml(e, path))?;
        config.checked(path)
    }

    /// Parse and check a gate from TOML text (from memory, a registry, a
    /// test); `origin` names it in errors. Module paths stay as written.
    ///
    /// # Errors
    ///
    /// [`GateConfigError::Read`] for text over the gate file's cap (1 MiB),
    /// [`GateConfigError::Parse`] for TOML that does not parse or has an
    /// unknown key, [`GateConfigError::Invalid`] listing every rule it
    /// breaks.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Self, GateConfigError> {
        if text.len() as u64 > MAX_GATE_FILE_BYTES {
            return Err(GateConfigError::Read(InputError::TooLarge {
                path: origin.to_owned(),
                limit: MAX_GATE_FILE_BYTES,
            }));
        }
        let config =
            crate::parse_toml::<Self>(text, None).map_err(|e| GateConfigError::from_toml(e, origin))?;
        config.checked(origin)
    }

    /// Every rule the parsed gate breaks, all listed (the api-version
    /// among them).
    fn checked(self, origin: &Path) -> Result<Self, GateConfigError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(GateConfigError::Invalid {
                path: origin.to_owned(),
                problems,
            })
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.api_version != API_VERSION {
            problems.push(format!(
                "api-version is `{}`; this sealgate reads `{API_VERSION}`",
                self.api_version
            ));
        }
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.'));
        if !name_ok {
            problems.push(format!(
                "name `{}` must be 1-64 characters of a-z, 0-9, `-`, `_`, `.`",
                self.name
            ));
        }
        if self.policies.is_empty() {
            problems.push("no [[policies]]: a gate with no policy cannot pass anything".into());
        }
        if let Err(e) = SandboxLimits::default().tightened(&self.limits) {
            problems.push(format!("[limits]: {e}"));
        }
        for (i, p) in self.policies.iter().enumerate() {
            if !p.params.is_object() {
                problems.push(format!("policies[{i}].params must be a table"));
            }
            if p.module.as_os_str().is_empty() {
                problems.push(format!("policies[{i}].module is empty"));
            }
            // A tag names whatever was pushed last; a gate must name one
            // artifact for good (its component is pinned by `sha256` too).
            if let Some(oci) = p.oci_module()
                && !oci.contains("@sha256:")
            {
                problems.push(format!(
                    "policies[{i}].module `{oci}` names a tag, which can move: name the artifact by \
                     digest (`oci://REGISTRY/REPO@sha256:<manifest digest>`, as `sealgate policy push` prints it)"
                ));
            }
            if p.rego.is_empty() && !p.data.is_empty() {
                problems.push(format!(
                    "policies[{i}].data names data files but no `rego` file reads them"
                ));
            }
            for (key, files, extension) in [("rego", &p.rego, "rego"), ("data", &p.data, "json")] {
                for (j, file) in files.iter().enumerate() {
                    if file.path.extension().and_then(|e| e.to_str()) != Some(extension) {
                        problems.push(format!(
                            "policies[{i}].{key}[{j}].path `{}` must name a .{extension} file",
                            file.path.display()
                        ));
                    }
                }
            }
            if let Err(e) = SandboxLimits::default()
                .tightened(&self.limits)
                .and_then(|l| l.tightened(&p.limits))
            {
                problems.push(format!("policies[{i}].limits: {e}"));
            }
        }
        problems
    }

    /// The limits for policy `index`: the ceiling tightened by the gate's
    /// `[limits]`, then by the policy's own.
    ///
    /// # Errors
    ///
    /// A [`crate::LimitError`] when the gate's or the policy's limits exceed `ceiling`.
    pub fn limits_for(
        &self,
        ceiling: &SandboxLimits,
        index: usize,
    ) -> Result<SandboxLimits, crate::LimitError> {
        let gate = ceiling.tightened(&self.limits)?;
        match self.policies.get(index) {
            Some(p) => gate.tightened(&p.limits),
            None => Ok(gate),
        }
    }

    /// Resolve a policy's module path against the directory of the gate file
    /// (an `oci://` reference is kept as it is).
    pub fn module_path(gate_file: &Path, entry: &PolicyEntry) -> PathBuf {
        match entry.oci_module() {
            Some(_) => entry.module.clone(),
            None => Self::resolve(gate_file, &entry.module),
        }
    }

    /// Resolve a path the gate gives (a module, a Rego or data file)
    /// against the directory of the gate file.
    pub fn resolve(gate_file: &Path, path: &Path) -> PathBuf {
        match gate_file.parent() {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_owned(),
        }
    }
}

impl GateConfigError {
    fn from_toml(e: crate::TomlFileError, path: &Path) -> Self {
        match e {
            crate::TomlFileError::Read(e) => Self::Read(e),
            other => Self::Parse {
                path: path.to_owned(),
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn parse(text: &str) -> Result<GateConfig, GateConfigError> {
        GateConfig::from_toml_str(text, Path::new("g.toml"))
    }

    #[test]
    fn parses_a_complete_gate() {
        let g = parse(&format!(
            r#"
            api-version = "sealgate/v1"
            name = "ml-release"
            fail-on = "medium"
            limits = {{ fuel = 1000 }}
            [[policies]]
            module = "pii.wasm"
            sha256 = "sha256:{PIN}"
            params = {{ columns = ["x"] }}
            limits = {{ timeout-ms = 100 }}
            "#
        ))
        .ok()
        .unwrap();
        assert_eq!(g.fail_on, Severity::Medium);
        assert_eq!(g.policies[0].params["columns"][0], "x");
        let l = g.limits_for(&SandboxLimits::default(), 0).unwrap();
        assert_eq!((l.fuel, l.timeout.as_millis()), (1000, 100));
        let path = GateConfig::module_path(Path::new("examples/gates/g.toml"), &g.policies[0]);
        assert_eq!(path, Path::new("examples/gates/pii.wasm"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let Err(GateConfigError::Parse { message: msg, .. }) = parse(&format!(
            "api-version = \"sealgate/v1\"\nname = \"g\"\nfial-on = \"high\"\n[[policies]]\nmodule = \"m\"\nsha256 = \"{PIN}\""
        )) else {
            panic!("unknown key accepted")
        };
        assert!(msg.contains("fial-on"), "{msg}");
    }

    #[test]
    fn every_problem_is_listed() {
        let Err(GateConfigError::Invalid { problems, .. }) = parse(
            "api-version = \"sealgate/v9\"\nname = \"Bad Name\"\npolicies = []\nlimits = { fuel = 99999999999999 }",
        ) else {
            panic!("invalid gate accepted")
        };
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }

    #[test]
    fn bad_pin_is_a_parse_error() {
        let Err(GateConfigError::Parse { message: msg, .. }) = parse(
            "api-version = \"sealgate/v1\"\nname = \"g\"\n[[policies]]\nmodule = \"m\"\nsha256 = \"abc\"",
        ) else {
            panic!("bad pin accepted")
        };
        assert!(msg.contains("not a sha256 digest"), "{msg}");
    }
}
