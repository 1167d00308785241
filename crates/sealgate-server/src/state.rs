//! What a configuration loads into: gates compiled, keys and trust files
//! read. Requests take the current [`Loaded`] and keep it to the end, so a
//! reload never changes a request half-way through.

use std::collections::BTreeMap;
use std::sync::Arc;

use sealgate::{Gate, PolicyEngine};
use sealgate_attest::TrustPolicy;
use tokio_rustls::TlsAcceptor;

use crate::ServeError;
use crate::config::AdmissionStore;
use crate::config::ServerConfig;
use crate::store::{AttestationStore, DirectoryStore, RegistryStore};

fn admission_store(store: &AdmissionStore) -> Result<Arc<dyn AttestationStore>, ServeError> {
    Ok(match store {
        // A missing store is a typo, not "no image has a bundle".
        AdmissionStore::Directory(dir) if !dir.is_dir() => {
            return Err(ServeError::AdmissionStore(dir.clone()));
        }
        AdmissionStore::Directory(dir) => Arc::new(DirectoryStore::new(dir.clone())),
        AdmissionStore::Registry {
            cache_ttl,
            timeout,
            ca,
            docker_config,
        } => {
            let mut settings = sealgate::oci::RegistrySettings::from_env().map_err(ServeError::Registry)?;
            if let Some(ca) = ca {
                settings = settings.with_ca_file(ca).map_err(ServeError::Registry)?;
            }
            if let Some(file) = docker_config {
                settings = settings.with_docker_config(file).map_err(ServeError::Registry)?;
            }
            settings.timeout = *timeout;
            Arc::new(RegistryStore::new(settings, *cache_ttl))
        }
    })
}

/// A configuration, loaded.
pub(crate) struct Loaded {
    /// 1 at start, one more per successful reload.
    pub generation: u64,
    pub config: ServerConfig,
    /// By the gate's `name`.
    pub gates: BTreeMap<String, Arc<Gate>>,
    pub trust: BTreeMap<String, TrustPolicy>,
    pub signing: Option<Signer>,
    pub admission: Option<AdmissionCheck>,
    pub tls: Option<TlsAcceptor>,
    /// `[auth]`: the API's accepted tokens.
    pub tokens: Option<crate::auth::ApiTokens>,
    pub decision_log: Option<sealgate_log::DecisionLog>,
}

pub(crate) struct Signer {
    pub key: ed25519_dalek::SigningKey,
    pub verifier_id: String,
}

pub(crate) struct AdmissionCheck {
    pub trust: String,
    pub store: Arc<dyn AttestationStore>,
}

impl Loaded {
    /// Load everything `config` names; any failure refuses the whole
    /// configuration (a reload then keeps the previous one).
    pub fn load(engine: &PolicyEngine, config: ServerConfig, generation: u64) -> Result<Self, ServeError> {
        let mut gates = BTreeMap::new();
        let mut options = sealgate::RegistryOptions::default();
        options.publishers = match &config.publishers {
            Some(path) => Some(
                sealgate::Publishers::load(path).map_err(|source| ServeError::Trust {
                    name: "publishers".into(),
                    source,
                })?,
            ),
            None => None,
        };
        for source in &config.gates {
            let gate = Gate::load_from(engine, source, &options)?;
            let name = gate.name().to_owned();
            if gates.insert(name.clone(), Arc::new(gate)).is_some() {
                return Err(ServeError::DuplicateGate {
                    config: config.path.clone(),
                    name,
                });
            }
        }
        let mut trust = BTreeMap::new();
        for (name, path) in &config.trust {
            let policy = TrustPolicy::load(path).map_err(|source| ServeError::Trust {
                name: name.clone(),
                source,
            })?;
            trust.insert(name.clone(), policy);
        }
        let signing = match &config.signing {
            None => None,
            Some(s) => Some(Signer {
                key: sealgate_attest::load_signing_key(&s.key).map_err(ServeError::SigningKey)?,
                verifier_id: s.verifier_id.clone(),
            }),
        };
        let admission = match &config.admission {
            None => None,
            Some(a) => Some(AdmissionCheck {
                trust: a.trust.clone(),
                store: admission_store(&a.store)?,
            }),
        };
        let tls = match &config.tls {
            None => None,
            Some(t) => Some(crate::tls::acceptor(t).map_err(|e| ServeError::Tls(e.into()))?),
        };
        let tokens = match &config.token_sha256_file {
            None => None,
            Some(path) => Some(crate::auth::ApiTokens::load(path).map_err(|e| ServeError::Auth(e.into()))?),
        };
        let decision_log = config.decision_log.as_deref().map(sealgate_log::DecisionLog::new);
        Ok(Self {
            generation,
            config,
            gates,
            trust,
            signing,
            admission,
            tls,
            tokens,
            decision_log,
        })
    }
}
