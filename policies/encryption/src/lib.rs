//! `sealgate.encryption`: is the artifact's data encrypted at rest and in
//! transit, and closed to the public?
//!
//! Reads each store in `/storage` (see `stores.rs` for the S3 and GCS API
//! documents it understands) and the platform settings in `/platform`.
//!
//! | rule | checks |
//! |---|---|
//! | `encryption.storage.missing` | the document names where the artifact and its data are stored (when `require-storage`) |
//! | `encryption.at-rest.missing` | every store declares its at-rest encryption |
//! | `encryption.at-rest.algorithm-not-allowed` | the algorithm is in `allowed-algorithms` |
//! | `encryption.at-rest.customer-key-missing` | from `customer-managed-key-from` (default `confidential`) up, the key is customer-managed (KMS key, GCS CMEK), not the provider's |
//! | `encryption.in-transit.not-required` | every store and registry refuses plain-text connections (S3: a bucket policy denying `aws:SecureTransport` = false) |
//! | `encryption.in-transit.weak-tls` | a declared minimum TLS version is at least `min-tls-version` (default 1.2) |
//! | `encryption.in-transit.insecure-registry` | the Docker daemon trusts no insecure registry |
//! | `encryption.in-transit.docker-api-plaintext` | the Docker daemon does not serve its API on TCP without TLS client verification (`hosts` with `tcp://` needs `tlsverify`) |
//! | `encryption.public-access.not-blocked` | S3: all four public-access-block flags true; GCS: public access prevention `enforced` |
//! | `encryption.kubernetes.secrets-unencrypted` | the first provider for secrets in the API server's `EncryptionConfiguration` is not `identity` |

mod stores;

use sealgate_policy_sdk::{Context, Metadata, Policy, PolicyInfo, Report, RuleInfo, Severity, export_policy};
use serde::Deserialize;
use serde_json::Value;

use stores::{InTransit, Store, tls_version};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Params {
    /// At-rest algorithms accepted (S3 `SSEAlgorithm` names; `gcp:kms` for a
    /// GCS CMEK, `AES256` for provider-managed AES-256).
    #[serde(default = "allowed_algorithms")]
    allowed_algorithms: Vec<String>,
    /// From this classification up, keys must be customer-managed.
    #[serde(default = "confidential")]
    customer_managed_key_from: String,
    /// Lowest acceptable TLS version.
    #[serde(default = "tls_1_2")]
    min_tls_version: String,
    /// A document without `/storage` is a finding. Default: true.
    #[serde(default = "yes")]
    require_storage: bool,
}

fn allowed_algorithms() -> Vec<String> {
    ["aws:kms", "aws:kms:dsse", "AES256", "gcp:kms"]
        .map(String::from)
        .to_vec()
}
fn confidential() -> String {
    "confidential".into()
}
fn tls_1_2() -> String {
    "1.2".into()
}
fn yes() -> bool {
    true
}

const PARAMS_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "allowed-algorithms": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                           "default": ["aws:kms", "aws:kms:dsse", "AES256", "gcp:kms"]},
    "customer-managed-key-from": {"enum": ["public", "internal", "confidential", "restricted"], "default": "confidential"},
    "min-tls-version": {"type": "string", "default": "1.2"},
    "require-storage": {"type": "boolean", "default": true}
  }
}"#;

/// Data classifications, lowest first (docs/metadata.md).
const CLASSIFICATIONS: [&str; 4] = ["public", "internal", "confidential", "restricted"];

fn rank(classification: &str) -> Option<usize> {
    CLASSIFICATIONS.iter().position(|c| *c == classification)
}

/// Keys AWS manages for the customer (`aws/s3`) are not customer-managed.
fn is_customer_managed(key: Option<&str>) -> bool {
    key.is_some_and(|k| !k.is_empty() && !k.contains("alias/aws/"))
}

/// Every rule this policy reports (its catalogue in `policy-info`).
const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "encryption.storage.missing",
        severity: Severity::High,
        summary: "the document does not say where the artifact and its data are stored",
    },
    RuleInfo {
        id: "encryption.at-rest.missing",
        severity: Severity::High,
        summary: "a store does not declare its at-rest encryption",
    },
    RuleInfo {
        id: "encryption.at-rest.algorithm-not-allowed",
        severity: Severity::High,
        summary: "a store encrypts at rest with an algorithm not in `allowed-algorithms`",
    },
    RuleInfo {
        id: "encryption.at-rest.customer-key-missing",
        severity: Severity::High,
        summary: "data at or above `customer-managed-key-from` is encrypted with the provider's key, not a customer-managed one",
    },
    RuleInfo {
        id: "encryption.in-transit.not-required",
        severity: Severity::High,
        summary: "a store accepts plain-text connections",
    },
    RuleInfo {
        id: "encryption.in-transit.weak-tls",
        severity: Severity::High,
        summary: "a declared minimum TLS version is below `min-tls-version`",
    },
    RuleInfo {
        id: "encryption.in-transit.insecure-registry",
        severity: Severity::High,
        summary: "a registry is reached without verified TLS (or the Docker daemon trusts an insecure one)",
    },
    RuleInfo {
        id: "encryption.in-transit.docker-api-plaintext",
        severity: Severity::High,
        summary: "the Docker daemon serves its API on TCP without TLS client verification",
    },
    RuleInfo {
        id: "encryption.public-access.not-blocked",
        severity: Severity::High,
        summary: "a bucket's public access is not blocked",
    },
    RuleInfo {
        id: "encryption.kubernetes.secrets-unencrypted",
        severity: Severity::High,
        summary: "the API server stores Secrets unencrypted (first provider `identity`, or none)",
    },
];

pub struct Encryption;

impl Policy for Encryption {
    type Params = Params;

    const INFO: PolicyInfo = PolicyInfo {
        id: "sealgate.encryption",
        version: "0.1.0",
        summary: "Data is encrypted at rest (customer-managed keys for confidential data) and in transit, and not public.",
        params_schema: PARAMS_SCHEMA,
        rules: RULES,
    };

    fn validate(params: &Params) -> Result<(), String> {
        if params.allowed_algorithms.is_empty() {
            return Err("allowed-algorithms must name at least one algorithm".into());
        }
        if rank(&params.customer_managed_key_from).is_none() {
            return Err(format!(
                "customer-managed-key-from `{}` is not one of {}",
                params.customer_managed_key_from,
                CLASSIFICATIONS.join(", ")
            ));
        }
        if tls_version(&params.min_tls_version).is_none() {
            return Err(format!(
                "min-tls-version `{}` is not a TLS version like 1.2",
                params.min_tls_version
            ));
        }
        Ok(())
    }

    fn evaluate(doc: &Metadata, params: &Params, _ctx: &Context) -> Result<Report, String> {
        let mut r = Report::new();
        let stores: Vec<Store> = doc.items("/storage").map(|(p, e)| Store::new(p, e)).collect();
        if stores.is_empty() && params.require_storage {
            r.finding(
                "encryption.storage.missing",
                Severity::High,
                "/storage",
                "no storage is recorded, so encryption cannot be judged",
                "record where the artifact and its data are stored, with the store's settings, in /storage",
            );
        }
        let document_class = highest_classification(doc);
        for store in &stores {
            if !store.is_registry() {
                check_at_rest(store, document_class, params, &mut r);
            }
            check_in_transit(store, params, &mut r);
            check_public_access(store, &mut r);
        }
        check_docker_daemon(doc, &mut r);
        check_kubernetes_secrets(doc, &mut r);
        Ok(r)
    }
}

/// The highest classification of the artifact and its datasets: a store is
/// assumed to hold the most sensitive data unless it says otherwise.
fn highest_classification(doc: &Metadata) -> Option<usize> {
    let artifact = doc.str("/artifact/classification");
    let datasets = doc
        .items("/datasets")
        .filter_map(|(_, d)| d.get("classification").and_then(Value::as_str));
    artifact.into_iter().chain(datasets).filter_map(rank).max()
}

fn check_at_rest(store: &Store, document_class: Option<usize>, params: &Params, r: &mut Report) {
    let Some(at_rest) = store.at_rest() else {
        r.finding(
            "encryption.at-rest.missing",
            Severity::High,
            &store.pointer,
            format!("{} store `{}` declares no encryption at rest", store.provider, store.location),
            "enable default encryption (S3: aws:kms with a customer-managed key) and record it in the store's settings",
        );
        return;
    };
    if !params.allowed_algorithms.contains(&at_rest.algorithm) {
        r.finding(
            "encryption.at-rest.algorithm-not-allowed",
            Severity::High,
            &at_rest.pointer,
            format!(
                "`{}` encrypts with `{}`, which is not one of {}",
                store.location,
                at_rest.algorithm,
                params.allowed_algorithms.join(", ")
            ),
            "switch the store to an allowed algorithm, or add it to allowed-algorithms if it has been approved",
        );
    }
    let class = store.classification().and_then(rank).or(document_class);
    if let (Some(class), Some(floor)) = (class, rank(&params.customer_managed_key_from))
        && class >= floor
        && !is_customer_managed(at_rest.key.as_deref())
    {
        r.finding(
            "encryption.at-rest.customer-key-missing",
            Severity::High,
            &at_rest.pointer,
            format!(
                "`{}` holds {} data but is encrypted with a provider-managed key",
                store.location,
                CLASSIFICATIONS[class]
            ),
            "encrypt with a customer-managed key (S3: aws:kms with KMSMasterKeyID set to your key's ARN; GCS: defaultKmsKeyName)",
        );
    }
}

fn check_in_transit(store: &Store, params: &Params, r: &mut Report) {
    if store.provider == "local" {
        return;
    }
    match store.in_transit() {
        InTransit::NotRequired { pointer, why } => {
            let (rule, fix) = if store.is_registry() {
                (
                    "encryption.in-transit.insecure-registry",
                    "serve the registry over verified TLS only",
                )
            } else {
                (
                    "encryption.in-transit.not-required",
                    "deny requests without TLS (S3: a bucket policy statement denying s3:* when aws:SecureTransport is false)",
                )
            };
            r.finding(
                rule,
                Severity::High,
                &pointer,
                format!(
                    "{} `{}` does not require TLS: {why}",
                    store.provider, store.location
                ),
                fix,
            );
        }
        InTransit::Required {
            min_version: Some(v),
            pointer,
        } => {
            let floor = tls_version(&params.min_tls_version);
            if tls_version(&v).is_none_or(|have| Some(have) < floor) {
                r.finding(
                    "encryption.in-transit.weak-tls",
                    Severity::High,
                    &pointer,
                    format!(
                        "`{}` accepts TLS from version `{v}`, below {}",
                        store.location, params.min_tls_version
                    ),
                    format!(
                        "refuse TLS below {} (S3: deny when s3:TlsVersion is NumericLessThan {})",
                        params.min_tls_version, params.min_tls_version
                    ),
                );
            }
        }
        InTransit::Required {
            min_version: None, ..
        } => {}
    }
}

fn check_public_access(store: &Store, r: &mut Report) {
    if let Some(public) = store.public_access()
        && let Err(open) = public.blocked
    {
        r.finding(
            "encryption.public-access.not-blocked",
            Severity::High,
            &public.pointer,
            format!("`{}` is not closed to the public: {open}", store.location),
            "S3: set all four public access block flags to true; GCS: set publicAccessPrevention to enforced",
        );
    }
}

/// Docker's `insecure-registries`: images pulled over plain HTTP or
/// unverified TLS, which anyone on the path can swap. And its API on TCP
/// (`hosts: ["tcp://…"]`): without `tlsverify`, anyone who reaches the port
/// controls the daemon, in plain text (`tls` alone encrypts but lets any
/// client in). Docker's own documentation: "Protect the Docker daemon socket".
fn check_docker_daemon(doc: &Metadata, r: &mut Report) {
    let daemon = "/platform/docker/daemon";
    let verified = doc.get(&format!("{daemon}/tlsverify")).and_then(Value::as_bool) == Some(true);
    for (ptr, host) in doc.items(&format!("{daemon}/hosts")) {
        let host = host.as_str().unwrap_or("");
        if host.starts_with("tcp://") && !verified {
            r.finding(
                "encryption.in-transit.docker-api-plaintext",
                Severity::High,
                &ptr,
                format!("the Docker daemon serves its API on `{host}` without TLS client verification"),
                "set \"tlsverify\": true with tlscacert, tlscert and tlskey in daemon.json, or serve the API on the unix socket only",
            );
        }
    }
    for (ptr, reg) in doc.items("/platform/docker/daemon/insecure-registries") {
        let reg = reg.as_str().unwrap_or("?");
        r.finding(
            "encryption.in-transit.insecure-registry",
            Severity::High,
            &ptr,
            format!("the Docker daemon trusts the insecure registry `{reg}`"),
            "remove it from insecure-registries in daemon.json and serve the registry over TLS",
        );
    }
}

/// The API server uses the first `resources` entry that names a resource,
/// and encrypts new writes with that entry's first provider only; `identity`
/// there means secrets are written to etcd in plain text.
fn check_kubernetes_secrets(doc: &Metadata, r: &mut Report) {
    let base = "/platform/kubernetes/encryption_configuration";
    if doc.get(base).is_none() {
        return;
    }
    let covers_secrets = |entry: &Value| {
        entry
            .get("resources")
            .and_then(Value::as_array)
            .is_some_and(|rs| {
                rs.iter()
                    .filter_map(Value::as_str)
                    .any(|s| matches!(s, "secrets" | "*." | "*.*"))
            })
    };
    let Some((ptr, entry)) = doc
        .items(&format!("{base}/resources"))
        .find(|(_, e)| covers_secrets(e))
    else {
        r.finding(
            "encryption.kubernetes.secrets-unencrypted",
            Severity::High,
            base,
            "the EncryptionConfiguration has no entry for secrets, so they are stored unencrypted",
            "add a resources entry for secrets whose first provider is kms (v2), aesgcm, aescbc or secretbox",
        );
        return;
    };
    let first = entry
        .pointer("/providers/0")
        .and_then(Value::as_object)
        .and_then(|p| p.keys().next().cloned());
    if first.as_deref().is_none_or(|p| p == "identity") {
        r.finding(
            "encryption.kubernetes.secrets-unencrypted",
            Severity::High,
            &format!("{ptr}/providers/0"),
            format!(
                "the first provider for secrets is `{}`, so new secrets are written unencrypted",
                first.as_deref().unwrap_or("none")
            ),
            "put an encrypting provider (kms v2, aesgcm, aescbc, secretbox) first; keep identity last only to read old data",
        );
    }
}

export_policy!(Encryption);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_managed_keys() {
        assert!(is_customer_managed(Some(
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        )));
        assert!(is_customer_managed(Some(
            "projects/p/locations/eu/keyRings/r/cryptoKeys/k"
        )));
        assert!(!is_customer_managed(Some("alias/aws/s3")));
        assert!(!is_customer_managed(Some(
            "arn:aws:kms:eu-west-1:111122223333:alias/aws/s3"
        )));
        assert!(!is_customer_managed(None));
    }

    #[test]
    fn classifications_are_ordered() {
        assert!(rank("restricted") > rank("confidential"));
        assert!(rank("internal") < rank("confidential"));
        assert_eq!(rank("secret"), None);
    }
}
