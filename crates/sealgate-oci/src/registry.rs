//! Talking to a registry: settings (TLS roots, credentials, timeouts), and
//! pushing and fetching sealgate policies. Every fetch is by digest, bounded
//! in size and time, checked against the digest asked for, and kept in the
//! [`Store`]; what the store already has is never fetched again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, Config, ImageLayer,
};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use sealgate_core::{Sha256Digest, read_bounded};
use serde_json::Value;

use crate::media_types::{OCI_MANIFEST, POLICY_ARTIFACT, POLICY_COMPONENT, POLICY_CONFIG};
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
    let config_bytes = serde_json::to_vec(config).map_err(|e| OciError::Artifact {
        reference: target.to_string(),
        reason: format!("config: {e}"),
    })?;
    let layer = ImageLayer::new(
        component.to_vec(),
        POLICY_COMPONENT.to_owned(),
        Some(BTreeMap::from([(
            "org.opencontainers.image.title".to_owned(),
            title.to_owned(),
        )])),
    );
    let config_blob = Config::new(config_bytes.clone(), POLICY_CONFIG.to_owned(), None);
    let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config_blob, None);
    manifest.media_type = Some(OCI_MANIFEST.to_owned());
    manifest.artifact_type = Some(POLICY_ARTIFACT.to_owned());
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
    let client = settings.client();
    let reference = target.to_client();
    let auth = settings.auth_for(target.registry());
    block_on(async {
        client.store_auth_if_needed(target.registry(), &auth).await;
        timed(
            settings,
            target,
            "pushing the component",
            client.push_blob(&reference, layer.data.clone(), &manifest.layers[0].digest),
        )
        .await?;
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

/// An `AsyncWrite` into memory that refuses to grow past `limit`: a registry
/// cannot make the host hold more than a descriptor admits.
pub(crate) struct BoundedSink {
    pub(crate) bytes: Vec<u8>,
    pub(crate) limit: usize,
}

impl tokio::io::AsyncWrite for BoundedSink {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if self.bytes.len() + buf.len() > self.limit {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the registry sent more than the {} bytes the manifest gives",
                self.limit
            ))));
        }
        self.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
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
    let digest = reference.pinned("a policy fetched from a registry")?;
    let reference = reference.with_digest(digest);
    // All in the store already: no client, no runtime, no network.
    if let Some(stored) = stored_policy(settings, store, &reference, &digest)? {
        return Ok(stored);
    }
    let client = settings.client();
    let client_ref = reference.to_client();
    let auth = settings.auth_for(reference.registry());
    let mut fetched = false;
    let refname = reference.to_string();
    let artifact = |reason: String| OciError::Artifact {
        reference: refname.clone(),
        reason,
    };

    block_on(async {
        client.store_auth_if_needed(reference.registry(), &auth).await;
        // The manifest: from the store, or fetched and hashed here.
        let manifest_bytes = match store.get(&digest, MAX_MANIFEST_BYTES)? {
            Some(b) => b,
            None => {
                fetched = true;
                let (body, _) = timed(
                    settings,
                    &reference,
                    "fetching the manifest",
                    client.pull_manifest_raw(&client_ref, &auth, &[OCI_MANIFEST]),
                )
                .await?;
                if body.len() as u64 > MAX_MANIFEST_BYTES {
                    return Err(artifact(format!(
                        "the manifest is {} bytes; the limit is {MAX_MANIFEST_BYTES}",
                        body.len()
                    )));
                }
                check_digest(&reference, "the manifest", &digest, &body)?;
                body.to_vec()
            }
        };
        let manifest = parse_manifest(&manifest_bytes).map_err(&artifact)?;
        let config_bytes = fetch_blob(
            settings,
            store,
            &client,
            &reference,
            "the config",
            &manifest.config,
            MAX_CONFIG_BYTES,
            &mut fetched,
        )
        .await?;
        let layer = &manifest.layers[0];
        let component = fetch_blob(
            settings,
            store,
            &client,
            &reference,
            "the component",
            layer,
            settings.max_component_bytes,
            &mut fetched,
        )
        .await?;
        let pulled = assemble(&reference, component, &config_bytes, fetched)?;
        // The manifest is kept only once everything checked out.
        store.put(&manifest_bytes)?;
        Ok(pulled)
    })?
}

/// The policy from the store alone, if it holds the manifest and both blobs.
fn stored_policy(
    settings: &RegistrySettings,
    store: &Store,
    reference: &OciReference,
    digest: &Sha256Digest,
) -> Result<Option<PulledPolicy>, OciError> {
    let Some(manifest_bytes) = store.get(digest, MAX_MANIFEST_BYTES)? else {
        return Ok(None);
    };
    let manifest = parse_manifest(&manifest_bytes).map_err(|reason| OciError::Artifact {
        reference: reference.to_string(),
        reason,
    })?;
    let blob = |d: &OciDescriptor, limit: u64| -> Result<Option<Vec<u8>>, OciError> {
        match d
            .digest
            .strip_prefix("sha256:")
            .and_then(|h| h.parse::<Sha256Digest>().ok())
        {
            Some(digest) => store.get(&digest, limit),
            None => Ok(None),
        }
    };
    let (Some(config), Some(component)) = (
        blob(&manifest.config, MAX_CONFIG_BYTES)?,
        blob(&manifest.layers[0], settings.max_component_bytes)?,
    ) else {
        return Ok(None);
    };
    assemble(reference, component, &config, false).map(Some)
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

/// A sealgate policy manifest, read strictly: one reading (no member twice),
/// our artifact and media types, one component layer.
fn parse_manifest(bytes: &[u8]) -> Result<OciImageManifest, String> {
    let value = strict_json(bytes).map_err(|e| format!("its manifest: {e}"))?;
    let manifest: OciImageManifest = serde_json::from_value(value)
        .map_err(|e| format!("its manifest is not an OCI image manifest: {e}"))?;
    if manifest.schema_version != 2 || manifest.media_type.as_deref() != Some(OCI_MANIFEST) {
        return Err(format!(
            "its manifest is not an OCI image manifest ({OCI_MANIFEST}, schemaVersion 2)"
        ));
    }
    if manifest.artifact_type.as_deref() != Some(POLICY_ARTIFACT) {
        return Err(format!(
            "it is not a sealgate policy: artifactType {:?}, expected {POLICY_ARTIFACT}",
            manifest.artifact_type.as_deref().unwrap_or("(none)")
        ));
    }
    if manifest.config.media_type != POLICY_CONFIG {
        return Err(format!(
            "its config has media type {}, expected {POLICY_CONFIG}",
            manifest.config.media_type
        ));
    }
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == POLICY_COMPONENT => Ok(manifest),
        layers => Err(format!(
            "a policy artifact has exactly one layer of media type {POLICY_COMPONENT}; this one has {}",
            layers.len()
        )),
    }
}

/// A blob `descriptor` names: from the store, or fetched (bounded by the
/// descriptor's size and `limit`), hashed and kept.
#[allow(clippy::too_many_arguments)] // one private helper, called twice
async fn fetch_blob(
    settings: &RegistrySettings,
    store: &Store,
    client: &oci_client::Client,
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
    let digest: Sha256Digest = descriptor
        .digest
        .strip_prefix("sha256:")
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| artifact(format!("{what}: digest `{}` is not sha256", descriptor.digest)))?;
    let size = u64::try_from(descriptor.size).map_err(|_| artifact(format!("{what}: negative size")))?;
    if size > limit {
        return Err(artifact(format!("{what} is {size} bytes; the limit is {limit}")));
    }
    if let Some(bytes) = store.get(&digest, limit)? {
        return Ok(bytes);
    }
    *fetched = true;
    let mut sink = BoundedSink {
        bytes: Vec::new(),
        limit: size as usize,
    };
    timed(
        settings,
        reference,
        "fetching a blob",
        client.pull_blob(&reference.to_client(), descriptor, &mut sink),
    )
    .await?;
    check_digest(reference, what, &digest, &sink.bytes)?;
    if sink.bytes.len() as u64 != size {
        return Err(artifact(format!(
            "{what} is {} bytes; its manifest says {size}",
            sink.bytes.len()
        )));
    }
    store.put(&sink.bytes)?;
    Ok(sink.bytes)
}
