//! Talking to a registry: settings (TLS roots, credentials, timeouts), and
//! pushing and fetching sealgate policies. Every fetch is by digest, bounded
//! in size and time, checked against the digest asked for, and kept in the
//! [`Store`]; what the store already has is never fetched again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, Config, ImageLayer,
};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use sealgate_core::{Sha256Digest, read_bounded};
use serde_json::Value;

use crate::documents::{Access, Session};
use crate::media_types::{
    GATE_ARTIFACT, GATE_CONFIG, GATE_FILE, GATE_MEMBER, OCI_MANIFEST, POLICY_ARTIFACT, POLICY_COMPONENT,
    POLICY_CONFIG,
};
use crate::{OciError, OciReference, Store};

/// Largest manifest read: ours are a few hundred bytes.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 10;
/// Largest config blob read.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Default for [`RegistrySettings::timeout`]: each registry operation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`RegistrySettings::max_component_bytes`] (the engine's default cap).
pub const DEFAULT_MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// How to reach registries.
#[derive(Clone)]
#[non_exhaustive]
pub struct RegistrySettings {
    /// Extra trusted roots (PEM), for registries with a private CA.
    pub ca_certificates: Vec<Vec<u8>>,
    /// Credentials by registry host, from a docker `config.json`.
    pub credentials: BTreeMap<String, (String, String)>,
    /// Limit on each registry operation (connect, read, the whole call).
    pub timeout: Duration,
    /// Largest component fetched.
    pub max_component_bytes: u64,
}

impl std::fmt::Debug for RegistrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySettings")
            .field("ca_certificates", &self.ca_certificates.len())
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            ca_certificates: Vec::new(),
            credentials: BTreeMap::new(),
            timeout: DEFAULT_TIMEOUT,
            max_component_bytes: DEFAULT_MAX_COMPONENT_BYTES,
        }
    }
}

impl RegistrySettings {
    /// From the environment: `SEALGATE_REGISTRY_CA` (a PEM file of extra
    /// roots) and the docker `config.json` in `$DOCKER_CONFIG`, else
    /// `$HOME/.docker` (no file: anonymous).
    ///
    /// # Errors
    ///
    /// [`OciError::Settings`] for a CA or config file that cannot be read.
    pub fn from_env() -> Result<Self, OciError> {
        let mut settings = Self::default();
        if let Some(ca) = std::env::var_os("SEALGATE_REGISTRY_CA").filter(|v| !v.is_empty()) {
            settings = settings.with_ca_file(Path::new(&ca))?;
        }
        let docker = std::env::var_os("DOCKER_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
            .map(|d| d.join("config.json"));
        if let Some(file) = docker.filter(|f| f.exists()) {
            settings.credentials = docker_credentials(&file)?;
        }
        Ok(settings)
    }

    /// Take credentials from this docker `config.json` instead (`auths`;
    /// credential helpers are not run).
    ///
    /// # Errors
    ///
    /// [`OciError::Settings`] when it cannot be read or is not JSON.
    pub fn with_docker_config(mut self, file: &Path) -> Result<Self, OciError> {
        self.credentials = docker_credentials(file)?;
        Ok(self)
    }

    /// Also trust the roots in the PEM file `path`.
    ///
    /// # Errors
    ///
    /// [`OciError::Settings`] when it cannot be read or holds no certificate.
    pub fn with_ca_file(mut self, path: &Path) -> Result<Self, OciError> {
        let pem = read_bounded(path, 1 << 20)
            .map_err(|e| OciError::Settings(format!("registry CA {}: {e}", path.display())))?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(OciError::Settings(format!(
                "registry CA {}: no PEM certificate in it",
                path.display()
            )));
        }
        self.ca_certificates.push(pem);
        Ok(self)
    }

    pub(crate) fn auth_for(&self, registry: &str) -> RegistryAuth {
        match self.credentials.get(registry) {
            Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }

    /// An HTTP client with the same TLS settings and timeouts as
    /// [`RegistrySettings::client`]'s, for the bounded reads of `documents`.
    pub(crate) fn http(&self) -> Result<reqwest::Client, oci_client::errors::OciDistributionError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let roots = self
            .ca_certificates
            .iter()
            .map(|pem| reqwest::Certificate::from_pem(pem))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(reqwest::Client::builder()
            .https_only(true)
            .tls_certs_merge(roots)
            .read_timeout(self.timeout)
            .connect_timeout(self.timeout)
            .build()?)
    }

    pub(crate) fn client(&self) -> oci_client::Client {
        // reqwest takes the process's default rustls provider: ring. An
        // embedding application that installed another keeps its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        oci_client::Client::new(ClientConfig {
            // TLS only: a policy fetched in plain text is anyone's on the path.
            protocol: ClientProtocol::Https,
            extra_root_certificates: self
                .ca_certificates
                .iter()
                .map(|pem| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: pem.clone(),
                })
                .collect(),
            read_timeout: Some(self.timeout),
            connect_timeout: Some(self.timeout),
            ..ClientConfig::default()
        })
    }
}

/// `auths` of a docker `config.json`: `{"auths": {"HOST": {"auth": base64("user:password")}}}`
/// (or `username`/`password`). Credential helpers are not run.
fn docker_credentials(file: &Path) -> Result<BTreeMap<String, (String, String)>, OciError> {
    use base64::Engine as _;
    let bad = |why: String| OciError::Settings(format!("{}: {why}", file.display()));
    let bytes = read_bounded(file, 1 << 20).map_err(|e| bad(e.to_string()))?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let mut out = BTreeMap::new();
    let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (host, entry) in auths {
        let pair = if let Some(encoded) = entry.get("auth").and_then(Value::as_str) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| bad(format!("auths.{host}.auth is not base64: {e}")))?;
            let text =
                String::from_utf8(decoded).map_err(|_| bad(format!("auths.{host}.auth is not UTF-8")))?;
            let (user, password) = text
                .split_once(':')
                .ok_or_else(|| bad(format!("auths.{host}.auth is not `user:password`")))?;
            (user.to_owned(), password.to_owned())
        } else {
            match (
                entry.get("username").and_then(Value::as_str),
                entry.get("password").and_then(Value::as_str),
            ) {
                (Some(u), Some(p)) => (u.to_owned(), p.to_owned()),
                _ => continue,
            }
        };
        // Docker writes `https://index.docker.io/v1/` style keys too.
        let host = host
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        out.insert(host.to_owned(), pair);
    }
    Ok(out)
}

/// A policy fetched from a registry (or the store).
#[derive(Debug, Clone)]
pub struct PulledPolicy {
    /// The artifact, by digest.
    pub reference: OciReference,
    /// The component's bytes (still to be pinned by the gate's `sha256`).
    pub component: Vec<u8>,
    /// The component's sha256, as its manifest and config give it.
    pub component_sha256: Sha256Digest,
    /// The config: `{"component": {...}, "info": {...}}`.
    pub config: Value,
    /// Was anything fetched (false: everything came from the store)?
    pub fetched: bool,
}

/// Run `f` on a runtime of its own, on a thread of its own: callable from
/// synchronous code and from inside another runtime alike.
pub(crate) fn block_on<T: Send>(f: impl std::future::Future<Output = T> + Send) -> Result<T, OciError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(f))
                    .map_err(|e| OciError::Settings(format!("cannot start an async runtime: {e}")))
            })
            .join()
            .unwrap_or_else(|_| Err(OciError::Settings("the registry client panicked".into())))
    })
}

/// The manifest `reference` names by digest, as the registry serves it
/// (of one of the `accept`ed media types, at most 4 MiB), checked against
/// that digest: what a referrer is attached to.
pub(crate) async fn subject_manifest(
    session: &Session<'_>,
    reference: &OciReference,
    accept: &[&str],
) -> Result<Vec<u8>, OciError> {
    crate::documents::manifest_by_digest(
        session,
        reference,
        accept,
        crate::documents::MAX_INDEX_BYTES,
        "fetching the manifest it is attached to",
    )
    .await
}

/// `op` within the settings' timeout.
pub(crate) async fn timed<T>(
    settings: &RegistrySettings,
    reference: &OciReference,
    operation: &'static str,
    op: impl std::future::Future<Output = Result<T, oci_client::errors::OciDistributionError>>,
) -> Result<T, OciError> {
    match tokio::time::timeout(settings.timeout, op).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(OciError::Registry {
            reference: reference.to_string(),
            operation,
            source,
        }),
        Err(_) => Err(OciError::Timeout {
            reference: reference.to_string(),
            operation,
            seconds: settings.timeout.as_secs(),
        }),
    }
}

/// Push `component` as a policy artifact to `target` (a tag, or a digest
/// which must then be the manifest's); `config` is its config blob. Returns
/// the artifact by digest. The manifest has no timestamp: the same component
/// and config push to the same digest.
///
/// # Errors
///
/// [`OciError`] for a registry that refuses or cannot be reached.
pub fn push_policy(
    settings: &RegistrySettings,
    target: &OciReference,
    component: &[u8],
    config: &Value,
    title: &str,
) -> Result<OciReference, OciError> {
    let layer = ImageLayer::new(
        component.to_vec(),
        POLICY_COMPONENT.to_owned(),
        Some(titled(title)),
    );
    push_artifact(
        settings,
        target,
        POLICY_ARTIFACT,
        POLICY_CONFIG,
        config,
        vec![layer],
    )
}

/// Push a gate as one artifact to `target`: the gate file (`gate_file`, as
/// written) and every file it pins, each titled with the path the gate
/// gives it (`members`: path as written, bytes). Returns the artifact by
/// digest; the same gate and files push to the same digest.
///
/// # Errors
///
/// As [`push_policy`]; [`OciError::Artifact`] for more members than
/// [`MAX_GATE_MEMBERS`] or two with one path.
pub fn push_gate(
    settings: &RegistrySettings,
    target: &OciReference,
    name: &str,
    gate_file: &[u8],
    members: &[(String, Vec<u8>)],
) -> Result<OciReference, OciError> {
    let mut titles = std::collections::BTreeSet::new();
    if members.len() > MAX_GATE_MEMBERS || !members.iter().all(|(t, _)| titles.insert(t.as_str())) {
        return Err(OciError::Artifact {
            reference: target.to_string(),
            reason: format!("a gate artifact holds at most {MAX_GATE_MEMBERS} files, each path once"),
        });
    }
    let mut layers = vec![ImageLayer::new(
        gate_file.to_vec(),
        GATE_FILE.to_owned(),
        Some(titled(GATE_FILE_TITLE)),
    )];
    layers.extend(
        members.iter().map(|(title, bytes)| {
            ImageLayer::new(bytes.clone(), GATE_MEMBER.to_owned(), Some(titled(title)))
        }),
    );
    let config = serde_json::json!({ "name": name });
    push_artifact(settings, target, GATE_ARTIFACT, GATE_CONFIG, &config, layers)
}

fn titled(title: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(TITLE.to_owned(), title.to_owned())])
}

/// The layer annotation that names a layer's file.
const TITLE: &str = "org.opencontainers.image.title";
/// The title of a gate artifact's gate file.
pub const GATE_FILE_TITLE: &str = "gate.toml";
/// Most files a gate artifact carries beside the gate file.
pub const MAX_GATE_MEMBERS: usize = 256;
/// Largest gate file read.
pub const MAX_GATE_FILE_BYTES: u64 = 1 << 20;
/// Largest sum of one artifact's layers.
pub const MAX_ARTIFACT_BYTES: u64 = 512 << 20;

/// Push layers and a config as one manifest of `artifact_type`.
fn push_artifact(
    settings: &RegistrySettings,
    target: &OciReference,
    artifact_type: &str,
    config_media_type: &str,
    config: &Value,
    layers: Vec<ImageLayer>,
) -> Result<OciReference, OciError> {
    let config_bytes = serde_json::to_vec(config).map_err(|e| OciError::Artifact {
        reference: target.to_string(),
        reason: format!("config: {e}"),
    })?;
    let config_blob = Config::new(config_bytes.clone(), config_media_type.to_owned(), None);
    let mut manifest = OciImageManifest::build(&layers, &config_blob, None);
    manifest.media_type = Some(OCI_MANIFEST.to_owned());
    manifest.artifact_type = Some(artifact_type.to_owned());
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| OciError::Artifact {
        reference: target.to_string(),
        reason: format!("manifest: {e}"),
    })?;
    let digest = Sha256Digest::of_bytes(&manifest_bytes);
    if let Some(named) = target.digest()
        && *named != digest
    {
        return Err(OciError::DigestMismatch {
            reference: target.to_string(),
            what: "the manifest it would push".into(),
            expected: named.prefixed(),
            actual: digest.prefixed(),
        });
    }
    let session = Session::new(settings, target.registry())?;
    let client = &session.oci;
    let reference = target.to_client();
    block_on(async {
        session
            .authorize_client(target, Access::Push, "authenticating to push")
            .await?;
        // One blob per digest: two members with the same bytes are one blob.
        let mut pushed = std::collections::BTreeSet::new();
        for (layer, descriptor) in layers.iter().zip(&manifest.layers) {
            if pushed.insert(descriptor.digest.clone()) {
                timed(
                    settings,
                    target,
                    "pushing a layer",
                    client.push_blob(&reference, layer.data.clone(), &descriptor.digest),
                )
                .await?;
            }
        }
        timed(
            settings,
            target,
            "pushing the config",
            client.push_blob(&reference, config_bytes, &manifest.config.digest),
        )
        .await?;
        let content_type = http::HeaderValue::from_static(OCI_MANIFEST);
        timed(
            settings,
            target,
            "pushing the manifest",
            client.push_manifest_raw(&reference, manifest_bytes, content_type),
        )
        .await
    })??;
    Ok(target.with_digest(digest))
}

/// What an artifact fetched by digest must be.
struct Shape {
    /// What it is called in errors: "a policy", "a gate".
    what: &'static str,
    artifact_type: &'static str,
    config: &'static str,
    /// Checks the layers' count, media types and titles.
    layers: fn(&[OciDescriptor]) -> Result<(), String>,
    /// Largest layer (each); the first layer may have its own.
    max_first_layer: u64,
    max_layer: u64,
}

/// An artifact fetched by digest (or read from the store), every piece
/// checked against the digest that names it.
struct Fetched {
    reference: OciReference,
    manifest: OciImageManifest,
    config: Vec<u8>,
    layers: Vec<Vec<u8>>,
    fetched: bool,
}

/// Fetch the policy artifact `reference` (by digest: a tag is refused) into
/// `store`, or read it from there, checking every digest and size and that
/// it is a sealgate policy.
///
/// # Errors
///
/// [`OciError::NotPinned`] for a tag; [`OciError::DigestMismatch`] for
/// content that is not what was asked for; [`OciError::Artifact`] for
/// anything but a sealgate policy or one over a limit; registry and store
/// errors as they come.
pub fn fetch_policy(
    settings: &RegistrySettings,
    store: &Store,
    reference: &OciReference,
) -> Result<PulledPolicy, OciError> {
    let shape = Shape {
        what: "a policy fetched from a registry",
        artifact_type: POLICY_ARTIFACT,
        config: POLICY_CONFIG,
        layers: |layers| match layers {
            [layer] if layer.media_type == POLICY_COMPONENT => Ok(()),
            layers => Err(format!(
                "a policy artifact has exactly one layer of media type {POLICY_COMPONENT}; this one has {}",
                layers.len()
            )),
        },
        max_first_layer: settings.max_component_bytes,
        max_layer: settings.max_component_bytes,
    };
    let Fetched {
        reference,
        config,
        layers,
        fetched,
        ..
    } = fetch_artifact(settings, store, reference, &shape)?;
    let component = layers.into_iter().next().unwrap_or_default();
    assemble(&reference, component, &config, fetched)
}

/// A gate fetched from a registry (or the store): its file and the files it
/// pins, by the paths it gives them. Nothing here is trusted yet: the gate
/// file is the one the manifest names, and each member, found by its path
/// only, must still be the file the gate pins.
#[derive(Debug, Clone)]
pub struct PulledGate {
    /// The artifact, by digest.
    pub reference: OciReference,
    /// The gate file's bytes (TOML).
    pub gate_file: Vec<u8>,
    /// The files it pins: path as the gate writes it, bytes.
    pub members: BTreeMap<String, Vec<u8>>,
    /// Was anything fetched (false: everything came from the store)?
    pub fetched: bool,
}

/// Fetch the gate artifact `reference` (by digest) into `store`, or read it
/// from there, as [`fetch_policy`] does a policy.
///
/// # Errors
///
/// As [`fetch_policy`].
pub fn fetch_gate(
    settings: &RegistrySettings,
    store: &Store,
    reference: &OciReference,
) -> Result<PulledGate, OciError> {
    let shape = Shape {
        what: "a gate fetched from a registry",
        artifact_type: GATE_ARTIFACT,
        config: GATE_CONFIG,
        layers: gate_layers,
        max_first_layer: MAX_GATE_FILE_BYTES,
        max_layer: settings.max_component_bytes,
    };
    let fetched = fetch_artifact(settings, store, reference, &shape)?;
    let mut layers = fetched.layers.into_iter();
    let gate_file = layers.next().unwrap_or_default();
    let members = fetched.manifest.layers[1..]
        .iter()
        .map(|d| title_of(d).unwrap_or_default().to_owned())
        .zip(layers)
        .collect();
    Ok(PulledGate {
        reference: fetched.reference,
        gate_file,
        members,
        fetched: fetched.fetched,
    })
}

fn title_of(descriptor: &OciDescriptor) -> Option<&str> {
    descriptor.annotations.as_ref()?.get(TITLE).map(String::as_str)
}

/// A gate artifact's layers: the gate file first, then each member, titled
/// once each.
fn gate_layers(layers: &[OciDescriptor]) -> Result<(), String> {
    let Some((first, members)) = layers.split_first() else {
        return Err("a gate artifact has no layers".into());
    };
    if first.media_type != GATE_FILE || title_of(first) != Some(GATE_FILE_TITLE) {
        return Err(format!(
            "a gate artifact's first layer is the gate file ({GATE_FILE}, titled {GATE_FILE_TITLE})"
        ));
    }
    if members.len() > MAX_GATE_MEMBERS {
        return Err(format!(
            "{} files beside the gate; at most {MAX_GATE_MEMBERS}",
            members.len()
        ));
    }
    let mut titles = std::collections::BTreeSet::new();
    for m in members {
        let title = title_of(m).filter(|t| !t.is_empty());
        match title {
            Some(t) if m.media_type == GATE_MEMBER && titles.insert(t) => {}
            _ => {
                return Err(format!(
                    "every layer after the gate file is a {GATE_MEMBER} titled with a path the gate gives, each path once; `{}` ({}) is not",
                    title.unwrap_or("(untitled)"),
                    m.media_type
                ));
            }
        }
    }
    Ok(())
}

fn fetch_artifact(
    settings: &RegistrySettings,
    store: &Store,
    reference: &OciReference,
    shape: &Shape,
) -> Result<Fetched, OciError> {
    let digest = reference.pinned(shape.what)?;
    let reference = reference.with_digest(digest);
    // All in the store already: no client, no runtime, no network.
    if let Some(stored) = stored_artifact(store, &reference, &digest, shape)? {
        return Ok(stored);
    }
    let session = Session::new(settings, reference.registry())?;
    let mut fetched = false;
    let refname = reference.to_string();
    let artifact = |reason: String| OciError::Artifact {
        reference: refname.clone(),
        reason,
    };

    block_on(async {
        // The manifest: from the store, or fetched and hashed here.
        let manifest_bytes = match store.get(&digest, MAX_MANIFEST_BYTES)? {
            Some(b) => b,
            None => {
                fetched = true;
                crate::documents::manifest_by_digest(
                    &session,
                    &reference,
                    &[OCI_MANIFEST],
                    MAX_MANIFEST_BYTES,
                    "fetching the manifest",
                )
                .await?
            }
        };
        let manifest = parse_manifest(&manifest_bytes, shape).map_err(&artifact)?;
        let config = fetch_blob(
            &session,
            store,
            &reference,
            "the config",
            &manifest.config,
            MAX_CONFIG_BYTES,
            &mut fetched,
        )
        .await?;
        let mut layers = Vec::with_capacity(manifest.layers.len());
        for (i, layer) in manifest.layers.iter().enumerate() {
            let limit = if i == 0 {
                shape.max_first_layer
            } else {
                shape.max_layer
            };
            let what = title_of(layer).map_or_else(|| format!("layer {i}"), |t| format!("`{t}`"));
            layers.push(fetch_blob(&session, store, &reference, &what, layer, limit, &mut fetched).await?);
        }
        // The manifest is kept only once everything checked out.
        store.put(&manifest_bytes)?;
        Ok(Fetched {
            reference: reference.clone(),
            manifest,
            config,
            layers,
            fetched,
        })
    })?
}

/// The artifact from the store alone, if it holds the manifest and every blob.
fn stored_artifact(
    store: &Store,
    reference: &OciReference,
    digest: &Sha256Digest,
    shape: &Shape,
) -> Result<Option<Fetched>, OciError> {
    let Some(manifest_bytes) = store.get(digest, MAX_MANIFEST_BYTES)? else {
        return Ok(None);
    };
    let manifest = parse_manifest(&manifest_bytes, shape).map_err(|reason| OciError::Artifact {
        reference: reference.to_string(),
        reason,
    })?;
    let blob = |d: &OciDescriptor, limit: u64| -> Result<Option<Vec<u8>>, OciError> {
        match descriptor_digest(d) {
            Some(digest) => store.get(&digest, limit),
            None => Ok(None),
        }
    };
    let Some(config) = blob(&manifest.config, MAX_CONFIG_BYTES)? else {
        return Ok(None);
    };
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for (i, layer) in manifest.layers.iter().enumerate() {
        let limit = if i == 0 {
            shape.max_first_layer
        } else {
            shape.max_layer
        };
        let Some(bytes) = blob(layer, limit)? else {
            return Ok(None);
        };
        layers.push(bytes);
    }
    Ok(Some(Fetched {
        reference: reference.clone(),
        manifest,
        config,
        layers,
        fetched: false,
    }))
}

fn descriptor_digest(d: &OciDescriptor) -> Option<Sha256Digest> {
    sha256_of(&d.digest)
}

/// A descriptor's `sha256:<hex>` digest; any other algorithm is `None`.
pub(crate) fn sha256_of(digest: &str) -> Option<Sha256Digest> {
    digest.strip_prefix("sha256:").and_then(|h| h.parse().ok())
}

/// The checks between the pieces: the config is one JSON object that gives
/// the component's sha256.
fn assemble(
    reference: &OciReference,
    component: Vec<u8>,
    config_bytes: &[u8],
    fetched: bool,
) -> Result<PulledPolicy, OciError> {
    let artifact = |reason: String| OciError::Artifact {
        reference: reference.to_string(),
        reason,
    };
    let config = strict_json(config_bytes)
        .map_err(|e| artifact(format!("its config is not JSON with one reading: {e}")))?;
    let component_sha256 = Sha256Digest::of_bytes(&component);
    let claimed = config
        .pointer("/component/sha256")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Sha256Digest>().ok());
    if claimed.as_ref() != Some(&component_sha256) {
        return Err(artifact(format!(
            "its config does not give the component's sha256 ({component_sha256}) as /component/sha256"
        )));
    }
    Ok(PulledPolicy {
        reference: reference.clone(),
        component,
        component_sha256,
        config,
        fetched,
    })
}

/// JSON with one reading: no member twice (`sealgate_core::strict_json`).
pub(crate) fn strict_json(bytes: &[u8]) -> Result<Value, String> {
    sealgate_core::strict_json::check(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

pub(crate) fn check_digest(
    reference: &OciReference,
    what: &str,
    expected: &Sha256Digest,
    bytes: &[u8],
) -> Result<(), OciError> {
    let actual = Sha256Digest::of_bytes(bytes);
    if actual != *expected {
        return Err(OciError::DigestMismatch {
            reference: reference.to_string(),
            what: what.to_owned(),
            expected: expected.prefixed(),
            actual: actual.prefixed(),
        });
    }
    Ok(())
}

/// A sealgate artifact's manifest, read strictly: one reading (no member
/// twice), the shape's artifact and media types and layers, and a sum of
/// layer sizes within [`MAX_ARTIFACT_BYTES`].
fn parse_manifest(bytes: &[u8], shape: &Shape) -> Result<OciImageManifest, String> {
    let value = strict_json(bytes).map_err(|e| format!("its manifest: {e}"))?;
    let manifest: OciImageManifest = serde_json::from_value(value)
        .map_err(|e| format!("its manifest is not an OCI image manifest: {e}"))?;
    if manifest.schema_version != 2 || manifest.media_type.as_deref() != Some(OCI_MANIFEST) {
        return Err(format!(
            "its manifest is not an OCI image manifest ({OCI_MANIFEST}, schemaVersion 2)"
        ));
    }
    if manifest.artifact_type.as_deref() != Some(shape.artifact_type) {
        return Err(format!(
            "it is not {}: artifactType {:?}, expected {}",
            shape.what.split(" fetched").next().unwrap_or(shape.what),
            manifest.artifact_type.as_deref().unwrap_or("(none)"),
            shape.artifact_type
        ));
    }
    if manifest.config.media_type != shape.config {
        return Err(format!(
            "its config has media type {}, expected {}",
            manifest.config.media_type, shape.config
        ));
    }
    (shape.layers)(&manifest.layers)?;
    let total = manifest
        .layers
        .iter()
        .try_fold(0u64, |sum, l| sum.checked_add(u64::try_from(l.size).ok()?));
    match total {
        Some(t) if t <= MAX_ARTIFACT_BYTES => Ok(manifest),
        _ => Err(format!(
            "its layers add up to more than {MAX_ARTIFACT_BYTES} bytes"
        )),
    }
}

/// A blob `descriptor` names: from the store, or fetched (bounded by the
/// descriptor's size and `limit`), hashed and kept.
async fn fetch_blob(
    session: &Session<'_>,
    store: &Store,
    reference: &OciReference,
    what: &str,
    descriptor: &OciDescriptor,
    limit: u64,
    fetched: &mut bool,
) -> Result<Vec<u8>, OciError> {
    let artifact = |reason: String| OciError::Artifact {
        reference: reference.to_string(),
        reason,
    };
    let digest: Sha256Digest = descriptor_digest(descriptor)
        .ok_or_else(|| artifact(format!("{what}: digest `{}` is not sha256", descriptor.digest)))?;
    let size = u64::try_from(descriptor.size).map_err(|_| artifact(format!("{what}: negative size")))?;
    if size > limit {
        return Err(artifact(format!("{what} is {size} bytes; the limit is {limit}")));
    }
    if let Some(bytes) = store.get(&digest, limit)? {
        return Ok(bytes);
    }
    *fetched = true;
    let bytes = crate::documents::get_blob(session, reference, &digest, size, "fetching a blob").await?;
    check_digest(reference, what, &digest, &bytes)?;
    if bytes.len() as u64 != size {
        return Err(artifact(format!(
            "{what} is {} bytes; its manifest says {size}",
            bytes.len()
        )));
    }
    store.put(&bytes)?;
    Ok(bytes)
}
