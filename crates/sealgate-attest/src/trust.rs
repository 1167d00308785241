//! What a verifier trusts and requires: from flags or a trust file.
//!
//! ```toml
//! api-version = "sealgate/trust/v1"
//! verifier-id = "https://sealgate.dev/verifier/v1"   # default
//! max-age = "7d"
//! policy-digests = ["sha256:…"]                      # allowed gate policy digests
//! [required-policies]                                # id = accepted module digests
//! "sealgate.pii" = ["sha256:…"]
//! [[keys]]
//! name = "release-ci"
//! public-key = "keys/release-ci.pub"                 # relative to this file
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use sealgate_core::{InputError, Sha256Digest};
use serde::Deserialize;

use crate::keys::{KeyError, load_verifying_key};
use crate::statement::DEFAULT_VERIFIER_ID;

/// A trusted public key with a name for reports.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Who holds it, e.g. `release-ci`.
    pub name: String,
    /// The key.
    pub key: VerifyingKey,
}

/// Everything a verification requires. Build it with [`TrustPolicy::new`] and
/// the setters, or from a trust file.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    /// Keys whose signatures count. At least one.
    pub keys: Vec<TrustedKey>,
    /// The `verifier.id` required. Default: [`DEFAULT_VERIFIER_ID`].
    pub verifier_id: String,
    /// Gate policy digests accepted; empty accepts any.
    pub allowed_policy_digests: Vec<Sha256Digest>,
    /// Policies that must have run and passed, according to the report
    /// statement bound to the verdict.
    pub required_policies: Vec<RequiredPolicy>,
    /// Oldest acceptable attestation; `None` accepts any age.
    pub max_age: Option<Duration>,
    /// The `resourceUri` the verdict must name (SLSA VSA's "expected
    /// resourceUri"); `None` accepts any.
    pub resource_uri: Option<String>,
    /// The gate whose level (`SEALGATE_<GATE>`) `verifiedLevels` must hold
    /// (the VSA's "expected verifiedLevels"); `None` accepts any passed gate.
    pub gate: Option<String>,
    /// How far in the future `timeVerified` may be (clock skew). Default 5 min.
    pub max_skew: Duration,
    /// Largest bundle read. Default: 16 MiB.
    pub max_bundle_bytes: u64,
}

impl TrustPolicy {
    /// Trust these keys, with the default requirements.
    pub fn new(keys: Vec<TrustedKey>) -> Self {
        Self {
            keys,
            verifier_id: DEFAULT_VERIFIER_ID.into(),
            allowed_policy_digests: Vec::new(),
            required_policies: Vec::new(),
            max_age: None,
            resource_uri: None,
            gate: None,
            max_skew: Duration::from_secs(300),
            max_bundle_bytes: 16 << 20,
        }
    }
}

/// A policy that must have run and passed: its id, and the module digests
/// trusted to be that policy.
///
/// The id alone is only what a component calls itself (its `info` export):
/// any component can say `sealgate.pii` and pass everything. So a
/// requirement names the modules accepted for the id; a bare id (no
/// modules) is accepted only when the gate itself is pinned by its policy
/// digest, which pins every module the gate ran ([`TrustPolicy::check_requirements`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequiredPolicy {
    /// The policy id, as the component reports it.
    pub id: String,
    /// sha256 of the component files accepted for `id`; empty accepts any
    /// module the pinned gate ran under that id.
    pub modules: Vec<Sha256Digest>,
}

impl RequiredPolicy {
    /// A requirement for `id`, satisfied only by these modules (empty: any
    /// module of a pinned gate).
    pub fn new(id: impl Into<String>, modules: Vec<Sha256Digest>) -> Self {
        Self {
            id: id.into(),
            modules,
        }
    }

    /// The requirement as (id, module) pairs, one per accepted module, or
    /// `(id, None)` for a bare id: how the decision log records it.
    pub fn pins(&self) -> Vec<(&str, Option<&Sha256Digest>)> {
        if self.modules.is_empty() {
            return vec![(self.id.as_str(), None)];
        }
        self.modules.iter().map(|m| (self.id.as_str(), Some(m))).collect()
    }

    /// Is the module with this digest trusted to be the policy?
    pub fn accepts(&self, module: &Sha256Digest) -> bool {
        self.modules.is_empty() || self.modules.contains(module)
    }
}

/// `ID` or `ID=sha256:HEX[,sha256:HEX…]` (the `--require-policy` syntax).
impl FromStr for RequiredPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (id, modules) = match s.split_once('=') {
            None => (s, Vec::new()),
            Some((id, digests)) => {
                let modules = digests
                    .split(',')
                    .map(|d| {
                        d.trim()
                            .parse::<Sha256Digest>()
                            .map_err(|e| format!("`{s}`: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (id, modules)
            }
        };
        let id = id.trim();
        if id.is_empty() {
            return Err(format!(
                "`{s}`: no policy id; write ID or ID=sha256:<module digest>"
            ));
        }
        Ok(Self::new(id, modules))
    }
}

impl fmt::Display for RequiredPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        for (i, m) in self.modules.iter().enumerate() {
            write!(f, "{}{}", if i == 0 { '=' } else { ',' }, m.prefixed())?;
        }
        Ok(())
    }
}

impl TrustPolicy {
    /// Refuse requirements that a forged component could satisfy: a required
    /// policy named by id alone, while any gate is accepted. Pin the module
    /// (`ID=sha256:…`) or the gate (`policy-digests`). `verify_bundle` checks
    /// this too, so a policy built in code fails closed as well.
    ///
    /// # Errors
    ///
    /// A message naming a required policy given by id alone without pinned gate digests, which any component could satisfy by calling itself that id.
    pub fn check_requirements(&self) -> Result<(), String> {
        if !self.allowed_policy_digests.is_empty() {
            return Ok(());
        }
        let bare: Vec<&str> = self
            .required_policies
            .iter()
            .filter(|r| r.modules.is_empty())
            .map(|r| r.id.as_str())
            .collect();
        if bare.is_empty() {
            return Ok(());
        }
        Err(format!(
            "required policy {} names no module digest, and no gate policy digest is pinned: any \
             component can call itself `{}` and pass everything. Pin the module \
             (--require-policy {}=sha256:<the gate file's pin for it>; trust file: \
             [required-policies] \"{}\" = [\"sha256:…\"]) or the gate (--policy-digest \
             $(sealgate gate digest GATE); trust file: policy-digests)",
            bare.iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", "),
            bare[0],
            bare[0],
            bare[0],
        ))
    }
}

/// What a caller adds to a trust policy (verify's flags beside a trust file,
/// a `/v1/verify` request beside the server's): each part only tightens it.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct Tightening {
    /// More policies that must have run and passed: a union of ids; for an
    /// id both require, only the modules both accept.
    pub required_policies: Vec<RequiredPolicy>,
    /// A maximum age (the smaller of the two applies).
    pub max_age: Option<Duration>,
    /// Gate policy digests to accept (the intersection with the policy's
    /// list; an empty list in the policy means any, so these alone apply).
    pub allowed_policy_digests: Vec<Sha256Digest>,
    /// A verifier id that must match (the policy's must be the same).
    pub verifier_id: Option<String>,
    /// A resource URI that must match (the policy's, if any, must be the same).
    pub resource_uri: Option<String>,
    /// A gate whose level must be verified (the policy's, if any, must be the same).
    pub gate: Option<String>,
}

impl TrustPolicy {
    /// Apply `extra` so that the result accepts no bundle this policy would
    /// refuse. `Err` when the two cannot both hold (no common digest, two
    /// verifier ids): nothing could verify, which is a usage error, not a
    /// rejection; or when the result requires a policy by a bare id of an
    /// unpinned gate ([`TrustPolicy::check_requirements`]).
    ///
    /// # Errors
    ///
    /// A message when `extra` would loosen the policy (another gate, another resource) or its requirements are then unsound ([`TrustPolicy::check_requirements`]).
    pub fn tighten(&mut self, extra: &Tightening) -> Result<(), String> {
        for added in &extra.required_policies {
            match self.required_policies.iter_mut().find(|r| r.id == added.id) {
                None => self.required_policies.push(added.clone()),
                Some(mine) => {
                    if mine.modules.is_empty() {
                        mine.modules = added.modules.clone();
                    } else if !added.modules.is_empty() {
                        mine.modules.retain(|m| added.modules.contains(m));
                        if mine.modules.is_empty() {
                            return Err(format!(
                                "no module of required policy `{}` is accepted by both the trust \
                                 policy and the added requirements, so no bundle could verify",
                                added.id
                            ));
                        }
                    }
                }
            }
        }
        if let Some(age) = extra.max_age {
            self.max_age = Some(self.max_age.map_or(age, |configured| configured.min(age)));
        }
        if !extra.allowed_policy_digests.is_empty() {
            if self.allowed_policy_digests.is_empty() {
                self.allowed_policy_digests = extra.allowed_policy_digests.clone();
            } else {
                self.allowed_policy_digests
                    .retain(|d| extra.allowed_policy_digests.contains(d));
                if self.allowed_policy_digests.is_empty() {
                    return Err(
                        "no gate policy digest is allowed by both the trust policy and the added \
                         requirements, so no bundle could verify"
                            .into(),
                    );
                }
            }
        }
        if let Some(id) = &extra.verifier_id
            && *id != self.verifier_id
        {
            return Err(format!(
                "verifier id `{id}` conflicts with the trust policy's `{}`; a bundle has one verifier",
                self.verifier_id
            ));
        }
        for (what, mine, theirs) in [
            ("resource URI", &mut self.resource_uri, &extra.resource_uri),
            ("gate", &mut self.gate, &extra.gate),
        ] {
            match (mine.as_ref(), theirs) {
                (Some(a), Some(b)) if a != b => {
                    return Err(format!(
                        "{what} `{b}` conflicts with the trust policy's `{a}`; a verdict names one"
                    ));
                }
                (None, Some(b)) => *mine = Some(b.clone()),
                _ => {}
            }
        }
        // What was added must still be trustworthy as a whole (a bare
        // required id needs a pinned gate).
        self.check_requirements()
    }
}

/// Why a trust file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustFileError {
    /// Unreadable.
    #[error(transparent)]
    Read(#[from] InputError),
    /// Invalid.
    #[error("{}: invalid trust file: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A key it names is unusable.
    #[error("{}: {source}", path.display())]
    Key {
        /// The trust file.
        path: PathBuf,
        /// The key's problem.
        source: KeyError,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TrustFile {
    api_version: String,
    #[serde(default)]
    verifier_id: Option<String>,
    #[serde(default)]
    max_age: Option<String>,
    #[serde(default)]
    required_policies: RequiredPoliciesTable,
    #[serde(default)]
    policy_digests: Vec<Sha256Digest>,
    #[serde(default)]
    resource_uri: Option<String>,
    #[serde(default)]
    gate: Option<String>,
    keys: Vec<TrustFileKey>,
}

/// `[required-policies]`: policy id to the module digests accepted for it.
/// The list form of earlier versions (ids alone) is refused with a message
/// saying why, rather than read as "any module".
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum RequiredPoliciesTable {
    #[default]
    Absent,
    Table(BTreeMap<String, Vec<String>>),
    Ids(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TrustFileKey {
    name: String,
    public_key: PathBuf,
}

impl TrustPolicy {
    /// Load a trust file; key paths are relative to it.
    ///
    /// # Errors
    ///
    /// A [`TrustFileError`]: unreadable, invalid (with the line and column, or the rule broken), or a key it names unusable.
    pub fn load(path: &Path) -> Result<Self, TrustFileError> {
        let invalid = |message: String| TrustFileError::Invalid {
            path: path.to_owned(),
            message,
        };
        let version = sealgate_core::ApiVersion::<TrustFile> {
            expected: "sealgate/trust/v1",
            of: |f| &f.api_version,
        };
        let file: TrustFile =
            sealgate_core::read_toml_file(path, 1 << 20, Some(version)).map_err(|e| match e {
                sealgate_core::TomlFileError::Read(e) => TrustFileError::Read(e),
                other => invalid(other.to_string()),
            })?;
        // Every problem of the file itself is listed, not only the first;
        // its keys are read once it has none.
        let mut problems = Vec::new();
        if file.keys.is_empty() {
            problems.push("no [[keys]]: a trust file must trust at least one key".to_owned());
        }
        let max_age = match file.max_age.as_deref().map(parse_duration) {
            Some(Err(e)) => {
                problems.push(e);
                None
            }
            Some(Ok(age)) => Some(age),
            None => None,
        };
        let required_policies = match file.required_policies {
            RequiredPoliciesTable::Absent => Vec::new(),
            RequiredPoliciesTable::Table(table) => {
                let mut required = Vec::new();
                for (id, modules) in table {
                    let mut accepted = Vec::new();
                    for m in &modules {
                        match m.parse() {
                            Ok(digest) => accepted.push(digest),
                            Err(e) => problems.push(format!("required-policies.\"{id}\": {e}")),
                        }
                    }
                    required.push(RequiredPolicy::new(id, accepted));
                }
                required
            }
            RequiredPoliciesTable::Ids(ids) => {
                problems.push(format!(
                    "required-policies is a list of ids; a policy id alone is what any component \
                     may call itself, so write a table of ids and the module digests accepted for \
                     each:\n[required-policies]\n{}",
                    ids.iter()
                        .map(|id| format!("\"{id}\" = [\"sha256:<module>\"]"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ));
                Vec::new()
            }
        };
        if !problems.is_empty() {
            return Err(invalid(problems.join("; ")));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut keys = Vec::new();
        for k in file.keys {
            let key_path = if k.public_key.is_relative() {
                dir.join(&k.public_key)
            } else {
                k.public_key
            };
            let key = load_verifying_key(&key_path).map_err(|source| TrustFileError::Key {
                path: path.to_owned(),
                source,
            })?;
            keys.push(TrustedKey { name: k.name, key });
        }
        let mut policy = Self::new(keys);
        if let Some(id) = file.verifier_id {
            policy.verifier_id = id;
        }
        policy.max_age = max_age;
        policy.required_policies = required_policies;
        policy.allowed_policy_digests = file.policy_digests;
        policy.resource_uri = file.resource_uri;
        policy.gate = file.gate;
        policy.check_requirements().map_err(invalid)?;
        Ok(policy)
    }
}

/// Parse a duration such as `7d`, `12h`, `30m`.
///
/// # Errors
///
/// A message when `s` is not a duration such as `90d` or `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration such as 7d, 12h or 30m ({e})"))
}
