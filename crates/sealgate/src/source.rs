//! Where a gate comes from (a file, or a gate artifact in a registry by
//! digest), and what must hold of everything that comes from a registry:
//! fetched by digest into the user's store, and, when the loader names
//! publishers, signed by one of them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sealgate_attest::{Publication, Publishers};
use sealgate_core::{GateConfig, error_chain};
use sealgate_engine::{LoadError, PolicyEngine};
use sealgate_oci::media_types::{GATE_ARTIFACT, POLICY_ARTIFACT};
use sealgate_oci::{OciError, OciReference, RegistrySettings, Store};

use crate::{Gate, GateError};

/// Where a gate is loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateSource {
    /// A gate file; the files it pins are found relative to it.
    File(PathBuf),
    /// A gate artifact (`sealgate gate push`), by manifest digest.
    Registry(OciReference),
}

impl GateSource {
    /// `oci://REGISTRY/REPOSITORY@sha256:…` is a gate artifact (a tag is
    /// refused: it can be moved to other content); anything else a file.
    ///
    /// # Errors
    ///
    /// [`OciError`] for an `oci://` reference that is invalid or a tag.
    pub fn parse(text: &str) -> Result<Self, OciError> {
        if text.starts_with("oci://") {
            let reference = OciReference::parse(text)?;
            let digest = reference.pinned("a gate loaded from a registry")?;
            return Ok(Self::Registry(reference.with_digest(digest)));
        }
        Ok(Self::File(PathBuf::from(text)))
    }
}

impl fmt::Display for GateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Registry(reference) => write!(f, "{reference}"),
        }
    }
}

/// How artifacts from registries are fetched and whom they must come from.
/// Nothing here is read (no environment, no docker `config.json`) unless
/// something does come from a registry.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RegistryOptions {
    /// How to reach registries; `None`: [`RegistrySettings::from_env`],
    /// with `ca_file` and `timeout` applied.
    pub settings: Option<RegistrySettings>,
    /// Also trust the CA certificates in this PEM file (with `settings: None`).
    pub ca_file: Option<PathBuf>,
    /// Limit on each registry operation (with `settings: None`).
    pub timeout: Option<std::time::Duration>,
    /// The store; `None`: [`Store::default_dir`].
    pub store: Option<PathBuf>,
    /// When set, every gate and policy that comes from a registry must be
    /// signed by one of these publishers, or the gate does not load.
    pub publishers: Option<Publishers>,
}

/// The settings and store, opened: made only when something comes from a
/// registry, so a gate of files needs neither.
pub(crate) struct Registry<'a> {
    settings: RegistrySettings,
    store: Store,
    publishers: Option<&'a Publishers>,
}

impl RegistryOptions {
    /// The settings registries are reached with: `settings`, else the
    /// environment's ([`RegistrySettings::from_env`]) with `ca_file` and
    /// `timeout` applied. Reads the environment and files only then.
    ///
    /// # Errors
    ///
    /// [`OciError::Settings`] for a CA or docker config file that cannot be read.
    pub fn registry_settings(&self) -> Result<RegistrySettings, OciError> {
        if let Some(settings) = &self.settings {
            return Ok(settings.clone());
        }
        let mut settings = RegistrySettings::from_env()?;
        if let Some(ca) = &self.ca_file {
            settings = settings.with_ca_file(ca)?;
        }
        if let Some(timeout) = self.timeout {
            settings.timeout = timeout;
        }
        Ok(settings)
    }
}

impl<'a> Registry<'a> {
    pub(crate) fn open(options: &'a RegistryOptions, max_component_bytes: u64) -> Result<Self, String> {
        let mut settings = options.registry_settings().map_err(|e| e.to_string())?;
        settings.max_component_bytes = max_component_bytes;
        let dir = options.store.clone().or_else(Store::default_dir).ok_or_else(|| {
            "artifacts from a registry need a store: set SEALGATE_OCI_STORE (or HOME)".to_owned()
        })?;
        let store = Store::open(&dir).map_err(|e| e.to_string())?;
        Ok(Self {
            settings,
            store,
            publishers: options.publishers.as_ref(),
        })
    }

    /// A gate's `oci://…@sha256:…` module: from the store, or fetched into
    /// it, and published by a trusted publisher when that is required. The
    /// gate's `sha256` pin is checked after, as for a file.
    pub(crate) fn component(&self, oci: &str) -> Result<Vec<u8>, LoadError> {
        // The whole chain (a refused connection says why), without the
        // reference again: the error names it already.
        let unavailable = |chain: String| LoadError::Unavailable {
            path: PathBuf::from(oci),
            reason: chain
                .strip_prefix(&format!("{oci}: "))
                .map_or_else(|| chain.clone(), str::to_owned),
        };
        let reference = OciReference::parse(oci).map_err(|e| unavailable(error_chain(&e)))?;
        // Whose it is is known from its digest alone: checked before a byte
        // of it is fetched.
        self.check_published(&reference, POLICY_ARTIFACT)
            .map_err(unavailable)?;
        let pulled = sealgate_oci::fetch_policy(&self.settings, &self.store, &reference)
            .map_err(|e| unavailable(error_chain(&e)))?;
        Ok(pulled.component)
    }

    /// When publishers are required: the name of the one whose signature
    /// on `artifact` verifies, from the store's record or else the
    /// registry's referrers; else why none does.
    fn check_published(
        &self,
        artifact: &OciReference,
        artifact_type: &str,
    ) -> Result<Option<String>, String> {
        let Some(publishers) = self.publishers else {
            return Ok(None);
        };
        let digest = artifact
            .digest()
            .copied()
            .ok_or_else(|| format!("{artifact}: not pinned by digest"))?;
        let expected = Publication {
            repository: format!("{}/{}", artifact.registry(), artifact.repository()),
            manifest: digest,
            artifact_type: artifact_type.to_owned(),
        };
        let recorded = self
            .store
            .recorded_signature(&digest, sealgate_oci::MAX_SIGNATURE_BYTES)
            .map_err(|e| error_chain(&e))?;
        if let Some(envelope) = recorded
            && let Ok(name) = publishers.verify(&envelope, &expected)
        {
            return Ok(Some(name.to_owned()));
        }
        let signatures = sealgate_oci::fetch_signatures(&self.settings, artifact).map_err(|e| {
            format!(
                "its publisher's signature could not be fetched: {}",
                error_chain(&e)
            )
        })?;
        let mut why = Vec::new();
        for signature in &signatures {
            match publishers.verify(&signature.bundle, &expected) {
                Ok(name) => {
                    self.store
                        .record_signature(&digest, &signature.bundle)
                        .map_err(|e| error_chain(&e))?;
                    return Ok(Some(name.to_owned()));
                }
                Err(reason) => why.push(format!("{}: {reason}", signature.reference)),
            }
        }
        Err(if why.is_empty() {
            format!(
                "not signed: no publisher's signature is attached, and the publishers file requires one of {} (sign it with `--key` when pushing)",
                publishers.names().join(", ")
            )
        } else {
            format!(
                "no signature by a trusted publisher ({}): {}",
                publishers.names().join(", "),
                why.join("; ")
            )
        })
    }
}

impl Gate {
    /// Load a gate from `source`: a gate file (as [`Gate::load`]) or a gate
    /// artifact in a registry (fetched by digest into the store, or read
    /// from there offline; the gate file it carries and every file that
    /// file pins, each still checked against its pin). Whatever comes from
    /// a registry (the gate artifact, `oci://` modules) must be signed by
    /// one of `options.publishers` when that is set.
    ///
    /// # Errors
    ///
    /// As [`Gate::load`]; [`GateError::Registry`] for a gate artifact that
    /// cannot be fetched, is not one, does not carry exactly the files its
    /// gate pins, or is not signed by a trusted publisher when required.
    pub fn load_from(
        engine: &PolicyEngine,
        source: &GateSource,
        options: &RegistryOptions,
    ) -> Result<Self, GateError> {
        match source {
            GateSource::File(path) => Self::load_file(engine, path, options),
            GateSource::Registry(reference) => Self::load_artifact(engine, reference, options),
        }
    }

    fn load_artifact(
        engine: &PolicyEngine,
        reference: &OciReference,
        options: &RegistryOptions,
    ) -> Result<Self, GateError> {
        let refused = |reason: String| GateError::Registry {
            reference: reference.to_string(),
            reason,
        };
        let registry = Registry::open(options, engine.config().max_component_bytes).map_err(refused)?;
        // The publisher's signature is over the manifest digest the
        // reference names: checked before anything else is fetched.
        registry
            .check_published(reference, GATE_ARTIFACT)
            .map_err(refused)?;
        let pulled = sealgate_oci::fetch_gate(&registry.settings, &registry.store, reference)
            .map_err(|e| refused(error_chain(&e)))?;
        let text =
            String::from_utf8(pulled.gate_file).map_err(|_| refused("its gate file is not UTF-8".into()))?;
        // Paths in the gate resolve under the artifact, never on this disk.
        let origin = PathBuf::from(format!("{}/{}", pulled.reference, sealgate_oci::GATE_FILE_TITLE));
        let config = GateConfig::from_toml_str(&text, &origin)?;
        let members = members_by_path(&config, &origin, pulled.members).map_err(refused)?;
        Self::from_config(engine, config, &origin, |path, entry| match entry.oci_module() {
            Some(oci) if path == entry.module => registry.component(oci),
            _ => members.get(path).cloned().ok_or_else(|| LoadError::Unavailable {
                path: path.to_owned(),
                reason: "not in the gate artifact".into(),
            }),
        })
    }
}

/// The artifact's files by the path the gate resolves them to; exactly the
/// files the gate names (outside a registry), no more, no fewer.
fn members_by_path(
    config: &GateConfig,
    origin: &Path,
    members: BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<PathBuf, Vec<u8>>, String> {
    let named = pinned_files(config);
    let carried: Vec<&String> = members.keys().collect();
    let missing: Vec<_> = named.keys().filter(|p| !members.contains_key(*p)).collect();
    let extra: Vec<_> = carried.iter().filter(|p| !named.contains_key(**p)).collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(format!(
            "it does not carry exactly the files its gate pins: missing {missing:?}, not named by the gate {extra:?}"
        ));
    }
    Ok(members
        .into_iter()
        .map(|(path, bytes)| (GateConfig::resolve(origin, Path::new(&path)), bytes))
        .collect())
}

/// Every file a gate pins that travels with it in a gate artifact (modules
/// not in a registry, Rego and data files), as the gate writes its path,
/// with its pin. A path pinned twice keeps its first pin (a gate pinning
/// one file two ways does not load).
pub fn pinned_files(config: &GateConfig) -> BTreeMap<String, sealgate_core::Sha256Digest> {
    let mut named = BTreeMap::new();
    for p in &config.policies {
        if p.oci_module().is_none() {
            named.entry(p.module.display().to_string()).or_insert(p.sha256);
        }
        for f in p.rego.iter().chain(&p.data) {
            named.entry(f.path.display().to_string()).or_insert(f.sha256);
        }
    }
    named
}
