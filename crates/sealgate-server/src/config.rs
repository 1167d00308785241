//! The server's configuration file.
//!
//! ```toml
//! api-version = "sealgate/server/v1"
//! listen = "0.0.0.0:8443"                      # --listen overrides
//! health-listen = "0.0.0.0:8081"               # /healthz, /readyz, /metrics on their own listener
//! gates = ["../gates/ml-release.toml"]          # requests name them by their `name`;
//!                                              # or "oci://REGISTRY/REPO@sha256:…" (`gate push`)
//! publishers = "publishers.toml"               # gates and policies from registries must be signed by one
//! decision-log = "/var/log/sealgate/decisions.jsonl"
//!
//! [trust]                                      # named trust files for /v1/verify
//! release = "trust/release.toml"
//!
//! [signing]                                    # enables /v1/attest
//! key = "keys/server.key"
//!
//! [admission]                                  # enables /v1/admission
//! trust = "release"
//! store = "/var/lib/sealgate/attestations"     # <store>/sha256/<hex>/*.intoto.jsonl, or:
//! # registry = { cache-ttl = "5m", timeout = "10s", ca = "registry-ca.pem", docker-config = "config.json" }
//! #   bundles attached to each image in its own registry (`attest --push`);
//! #   credentials from that docker config.json (default: $DOCKER_CONFIG, else ~/.docker)
//!
//! [tls]
//! certificate = "tls/tls.crt"
//! private-key = "tls/tls.key"
//!
//! [auth]                                       # callers of /v1/check, /v1/attest, /v1/verify
//! token-sha256-file = "tokens.sha256"          # send `Authorization: Bearer <token>`
//!
//! [limits]
//! max-body-bytes = 4194304
//! request-timeout = "10s"
//! header-timeout = "10s"                       # TLS handshake + request headers; idle keep-alive
//! write-timeout = "10s"                        # a client that reads nothing of the answer for this long is cut off
//! shutdown-grace = "30s"
//! reload-timeout = "60s"                       # a reload still loading then is abandoned
//! max-connections = 1024
//! ```
//!
//! Paths are relative to the file. Everything but `listen`, `health-listen`,
//! `tls` on/off and `max-connections` is re-read on SIGHUP.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The `api-version` this server reads.
pub const API_VERSION: &str = "sealgate/server/v1";

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ConfigError {
    /// The configuration file.
    pub path: PathBuf,
    /// What is wrong, and what to do.
    pub message: String,
}

/// A server configuration, read and checked (the files it names are read
/// when it is loaded).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The file it came from.
    pub path: PathBuf,
    /// Where to listen, unless `--listen` says otherwise.
    pub listen: Option<SocketAddr>,
    /// A second listener, plain HTTP, serving only `/healthz`, `/readyz` and
    /// `/metrics` with connections of its own, so probes are answered while
    /// the API's connections are all taken (a flood of slow clients).
    pub health_listen: Option<SocketAddr>,
    /// Gate files.
    pub gates: Vec<sealgate::GateSource>,
    /// `publishers`: whom gates and policies from registries must be signed by.
    pub publishers: Option<PathBuf>,
    /// Trust files by name.
    pub trust: BTreeMap<String, PathBuf>,
    /// The attestation signing key, if `/v1/attest` is enabled.
    pub signing: Option<Signing>,
    /// The admission check, if enabled.
    pub admission: Option<Admission>,
    /// Where decisions are appended.
    pub decision_log: Option<PathBuf>,
    /// TLS certificate and key.
    pub tls: Option<Tls>,
    /// The file of accepted API tokens' SHA-256 digests, if the API
    /// requires a token.
    pub token_sha256_file: Option<PathBuf>,
    /// Request limits.
    pub limits: Limits,
}

/// `[signing]`.
#[derive(Debug, Clone)]
pub struct Signing {
    /// PKCS#8 PEM Ed25519 private key.
    pub key: PathBuf,
    /// `verifier.id` written into verdicts.
    pub verifier_id: String,
}

/// `[admission]`.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The name of the trust file images must verify under.
    pub trust: String,
    /// Where the bundles are.
    pub store: AdmissionStore,
}

/// Where admission finds an image's bundles.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdmissionStore {
    /// `store = DIR`: `<DIR>/sha256/<hex>/*.intoto.jsonl`.
    Directory(PathBuf),
    /// `registry = {…}`: attached to the image in its own registry.
    Registry {
        /// How long a lookup that found bundles is reused.
        cache_ttl: Duration,
        /// Limit on each registry operation.
        timeout: Duration,
        /// Extra CA certificates (PEM) for the registries.
        ca: Option<PathBuf>,
        /// The docker `config.json` with the registries' credentials.
        docker_config: Option<PathBuf>,
    },
}

/// `[tls]`.
#[derive(Debug, Clone)]
pub struct Tls {
    /// PEM certificate chain, leaf first.
    pub certificate: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
}

/// `[limits]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body; larger gets 413.
    pub max_body_bytes: u64,
    /// A request not answered by then gets 503 (evaluation, body read and
    /// waiting for a sandbox slot included).
    pub request_timeout: Duration,
    /// A client has this long to finish its TLS handshake, and to send a
    /// request's headers (an idle keep-alive connection is closed after it).
    pub header_timeout: Duration,
    /// A connection whose client reads nothing of an answer for this long is
    /// closed, so clients that never read cannot pin answers in memory.
    pub write_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// A reload (SIGHUP) not loaded by then is abandoned: the previous
    /// configuration keeps serving and later reloads are not blocked.
    pub reload_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 << 20,
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            reload_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ConfigFile {
    api_version: String,
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    health_listen: Option<String>,
    gates: Vec<String>,
    #[serde(default)]
    publishers: Option<PathBuf>,
    #[serde(default)]
    decision_log: Option<PathBuf>,
    #[serde(default)]
    trust: BTreeMap<String, PathBuf>,
    #[serde(default)]
    signing: Option<SigningFile>,
    #[serde(default)]
    admission: Option<AdmissionFile>,
    #[serde(default)]
    tls: Option<TlsFile>,
    #[serde(default)]
    auth: Option<AuthFile>,
    #[serde(default)]
    limits: LimitsFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AuthFile {
    token_sha256_file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SigningFile {
    key: PathBuf,
    #[serde(default)]
    verifier_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AdmissionFile {
    trust: String,
    #[serde(default)]
    store: Option<PathBuf>,
    #[serde(default)]
    registry: Option<RegistryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RegistryFile {
    #[serde(default)]
    cache_ttl: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    ca: Option<PathBuf>,
    #[serde(default)]
    docker_config: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TlsFile {
    certificate: PathBuf,
    private_key: PathBuf,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LimitsFile {
    max_body_bytes: Option<u64>,
    request_timeout: Option<String>,
    header_timeout: Option<String>,
    write_timeout: Option<String>,
    shutdown_grace: Option<String>,
    reload_timeout: Option<String>,
    max_connections: Option<usize>,
}

impl ServerConfig {
    /// Read and check the configuration file at `path`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the file and what to change.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError {
            path: path.to_owned(),
            message,
        };
        let version = sealgate::ApiVersion::<ConfigFile> {
            expected: API_VERSION,
            of: |f| &f.api_version,
        };
        let file: ConfigFile =
            sealgate::read_toml_file(path, 1 << 20, Some(version)).map_err(|e| invalid(e.to_string()))?;
        // Every problem is listed, not only the first (as a gate file's are).
        let mut problems = Vec::new();
        if file.gates.is_empty() {
            problems.push("`gates` is empty: name at least one gate file".to_owned());
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: PathBuf| if p.is_relative() { dir.join(p) } else { p };
        let mut gates = Vec::new();
        for gate in &file.gates {
            match sealgate::GateSource::parse(gate) {
                Ok(sealgate::GateSource::File(path)) => gates.push(sealgate::GateSource::File(resolve(path))),
                Ok(source) => gates.push(source),
                Err(e) => problems.push(format!("gates: {e}")),
            }
        }
        let listen = address("listen", file.listen, &mut problems);
        let health_listen = address("health-listen", file.health_listen, &mut problems);
        let admission = match file.admission {
            None => None,
            Some(a) if !file.trust.contains_key(&a.trust) => {
                problems.push(format!(
                    "[admission] trust = `{}` is not one of [trust]: {}",
                    a.trust,
                    names(file.trust.keys())
                ));
                None
            }
            Some(a) => {
                let store = match (a.store, a.registry) {
                    (Some(dir), None) => Some(AdmissionStore::Directory(resolve(dir))),
                    (None, Some(r)) => Some(AdmissionStore::Registry {
                        cache_ttl: limit_duration(
                            "[admission.registry] cache-ttl",
                            r.cache_ttl,
                            &mut problems,
                        )
                        .unwrap_or(Duration::from_secs(300)),
                        timeout: limit_duration("[admission.registry] timeout", r.timeout, &mut problems)
                            .unwrap_or(Duration::from_secs(10)),
                        ca: r.ca.map(resolve),
                        docker_config: r.docker_config.map(resolve),
                    }),
                    _ => {
                        problems.push(
                            "[admission] names where bundles are: `store = DIR` or `registry = { … }`, one of them"
                                .into(),
                        );
                        None
                    }
                };
                store.map(|store| Admission {
                    trust: a.trust,
                    store,
                })
            }
        };
        let defaults = Limits::default();
        let mut duration = |key: &str, value: Option<String>, default: Duration| {
            limit_duration(&format!("[limits] {key}"), value, &mut problems).unwrap_or(default)
        };
        let limits = Limits {
            max_body_bytes: file.limits.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            request_timeout: duration(
                "request-timeout",
                file.limits.request_timeout,
                defaults.request_timeout,
            ),
            header_timeout: duration(
                "header-timeout",
                file.limits.header_timeout,
                defaults.header_timeout,
            ),
            write_timeout: duration("write-timeout", file.limits.write_timeout, defaults.write_timeout),
            shutdown_grace: duration(
                "shutdown-grace",
                file.limits.shutdown_grace,
                defaults.shutdown_grace,
            ),
            reload_timeout: duration(
                "reload-timeout",
                file.limits.reload_timeout,
                defaults.reload_timeout,
            ),
            max_connections: file.limits.max_connections.unwrap_or(defaults.max_connections),
        };
        if limits.max_body_bytes == 0 || limits.max_connections == 0 {
            problems.push("[limits] max-body-bytes and max-connections must be more than zero".into());
        }
        if !problems.is_empty() {
            return Err(invalid(problems.join("; ")));
        }
        Ok(Self {
            path: path.to_owned(),
            listen,
            health_listen,
            gates,
            publishers: file.publishers.map(resolve),
            trust: file.trust.into_iter().map(|(k, v)| (k, resolve(v))).collect(),
            signing: file.signing.map(|s| Signing {
                key: resolve(s.key),
                verifier_id: s
                    .verifier_id
                    .unwrap_or_else(|| sealgate_attest::DEFAULT_VERIFIER_ID.into()),
            }),
            admission,
            decision_log: file.decision_log.map(resolve),
            token_sha256_file: file.auth.map(|a| resolve(a.token_sha256_file)),
            tls: file.tls.map(|t| Tls {
                certificate: resolve(t.certificate),
                private_key: resolve(t.private_key),
            }),
            limits,
        })
    }
}

/// An address setting, or the problem with it.
fn address(key: &str, value: Option<String>, problems: &mut Vec<String>) -> Option<SocketAddr> {
    let text = value?;
    match text.parse() {
        Ok(address) => Some(address),
        Err(e) => {
            problems.push(format!(
                "{key} `{text}` is not an address such as 0.0.0.0:8443 ({e})"
            ));
            None
        }
    }
}

/// A `[limits]` duration, or the problem with it (`None` for either: the
/// default stands in, and the problem fails the load).
fn limit_duration(key: &str, value: Option<String>, problems: &mut Vec<String>) -> Option<Duration> {
    let text = value?;
    match humantime::parse_duration(&text) {
        Err(e) => problems.push(format!("{key} `{text}` is not a duration such as 10s ({e})")),
        Ok(d) if d.is_zero() => problems.push(format!("{key} must be more than zero")),
        Ok(d) => return Some(d),
    }
    None
}

/// `a, b, c` for a message.
pub(crate) fn names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<&str> = names.map(String::as_str).collect();
    if list.is_empty() {
        "(none configured)".into()
    } else {
        list.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ServerConfig, ConfigError> {
        let dir = std::env::temp_dir().join(format!("sealgate-server-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!(
            "{}.toml",
            sealgate::Sha256Digest::of_bytes(text.as_bytes())
        ));
        std::fs::write(&path, text).unwrap();
        let config = ServerConfig::load(&path);
        std::fs::remove_file(&path).unwrap();
        config
    }

    #[test]
    fn paths_are_relative_to_the_file_and_limits_default() {
        let config = load(
            "api-version = \"sealgate/server/v1\"\ngates = [\"g.toml\", \"/abs/h.toml\"]\n[trust]\nt = \"trust.toml\"\n[admission]\ntrust = \"t\"\nstore = \"store\"\n[limits]\nrequest-timeout = \"2s\"\n",
        )
        .unwrap();
        let dir = config.path.parent().unwrap();
        assert_eq!(
            config.gates,
            [
                sealgate::GateSource::File(dir.join("g.toml")),
                sealgate::GateSource::File(PathBuf::from("/abs/h.toml"))
            ]
        );
        assert_eq!(config.trust["t"], dir.join("trust.toml"));
        assert_eq!(
            config.admission.unwrap().store,
            AdmissionStore::Directory(dir.join("store"))
        );
        assert_eq!(config.limits.request_timeout, Duration::from_secs(2));
        assert_eq!(config.limits.max_body_bytes, Limits::default().max_body_bytes);
        assert!(config.listen.is_none() && config.tls.is_none() && config.signing.is_none());
    }

    #[test]
    fn every_problem_is_listed() {
        let err = load(
            "api-version = \"sealgate/server/v1\"\ngates = []\nlisten = \"localhost\"\n[limits]\nrequest-timeout = \"soon\"\nmax-connections = 0\n",
        )
        .unwrap_err()
        .message;
        for part in [
            "`gates` is empty",
            "listen `localhost` is not an address",
            "request-timeout `soon` is not a duration",
            "max-connections must be more than zero",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
    }

    #[test]
    fn admission_reads_bundles_from_one_place() {
        let config = load(
            "api-version = \"sealgate/server/v1\"\ngates = [\"oci://r.example/g@sha256:0000000000000000000000000000000000000000000000000000000000000000\"]\n[trust]\nt = \"t.toml\"\n[admission]\ntrust = \"t\"\nregistry = { ca = \"ca.pem\", cache-ttl = \"1m\" }\n",
        )
        .unwrap();
        match config.admission.unwrap().store {
            AdmissionStore::Registry {
                cache_ttl,
                timeout,
                ca,
                ..
            } => {
                assert_eq!(cache_ttl, Duration::from_secs(60));
                assert_eq!(timeout, Duration::from_secs(10));
                assert!(ca.unwrap().ends_with("ca.pem"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(config.gates[0], sealgate::GateSource::Registry(_)));
        for (text, needle) in [
            ("store = \"s\"\nregistry = {}", "one of them"),
            ("", "one of them"),
            (
                "registry = { cache-ttl = \"0s\" }",
                "cache-ttl must be more than zero",
            ),
        ] {
            let err = load(&format!(
                "api-version = \"sealgate/server/v1\"\ngates = [\"g\"]\n[trust]\nt = \"t.toml\"\n[admission]\ntrust = \"t\"\n{text}\n"
            ))
            .unwrap_err()
            .message;
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let err = load("api-version = \"sealgate/server/v1\"\ngates = [\"oci://r.example/g:latest\"]\n")
            .unwrap_err()
            .message;
        assert!(err.contains("names a tag"), "{err}");
    }

    #[test]
    fn refusals_say_what_to_fix() {
        for (text, expected) in [
            (
                "api-version = \"sealgate/server/v1\"\ngates = [\"g\"]\nlisten = \"localhost\"\n",
                "not an address",
            ),
            (
                "api-version = \"sealgate/server/v1\"\ngates = [\"g\"]\n[limits]\nrequest-timeout = \"soon\"\n",
                "not a duration",
            ),
            (
                "api-version = \"sealgate/server/v1\"\ngates = [\"g\"]\n[limits]\nrequest-timeout = \"0s\"\n",
                "more than zero",
            ),
            (
                "api-version = \"sealgate/server/v1\"\ngates = [\"g\"]\n[limits]\nmax-connections = 0\n",
                "more than zero",
            ),
        ] {
            let e = load(text).unwrap_err();
            assert!(e.to_string().contains(expected), "{e}");
        }
    }
}
