//! Storage and platform settings, recognised by content:
//!
//! | file | becomes |
//! |---|---|
//! | S3 API responses: `GetBucketEncryption`, `GetPublicAccessBlock`, `GetBucketPolicy` (the policy document, or the CLI's `{"Policy": "<json>"}`), `GetBucketLifecycleConfiguration` (with or without the `LifecycleConfiguration` wrapper), `GetObjectLockConfiguration`, `GetBucketVersioning` | one `s3` store, each document under `raw` by its API name |
//! | a GCS bucket resource (`"kind": "storage#bucket"`), or what `gcloud storage buckets describe --format=json` prints (snake_case: `storage_url`, `lifecycle_config`, `retention_policy`, `versioning_enabled`, …; converted to the JSON API's shape) | a `gcs` store with the resource as `raw`, merged into the team's store for that bucket when there is one |
//! | a Kubernetes `EncryptionConfiguration` (YAML or JSON) | `/platform/kubernetes/encryption_configuration` |
//! | a Docker `daemon.json` | `/platform/docker/daemon` |
//! | a store written by the team (`{"provider": ..., "holds": [...]}`) | a store; API documents of the same provider are merged into it |
//!
//! The S3 API documents given in one collection describe one bucket (only
//! the bucket policy names it), one document of each kind (a second is an
//! error, not last-wins); describe more buckets with one team-written store
//! each, carrying its own `raw`. An empty document `{}` is GetBucketVersioning's
//! answer for a never-versioned bucket or an empty `daemon.json`: the file's
//! name says which.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::CollectError;
use crate::source::{Reader, parse_yaml};

#[derive(Debug, Default)]
pub struct StorageFacts {
    pub stores: Vec<Value>,
    pub kubernetes_encryption: Option<Value>,
    pub docker_daemon: Option<Value>,
}

/// Keys only `dockerd`'s configuration file has (`dockerd --help`'s long
/// options as daemon.json names them). A file named `daemon.json` is read as
/// one whatever it holds; these recognise it under another name.
const DOCKERD_KEYS: [&str; 22] = [
    "insecure-registries",
    "registry-mirrors",
    "data-root",
    "storage-driver",
    "log-driver",
    "log-opts",
    "exec-opts",
    "live-restore",
    "default-runtime",
    "hosts",
    "tls",
    "tlsverify",
    "tlscacert",
    "tlscert",
    "tlskey",
    "userns-remap",
    "icc",
    "iptables",
    "max-concurrent-downloads",
    "default-address-pools",
    "features",
    "builder",
];

/// The S3 documents, by the key the API response wraps them in.
const S3_DOCUMENTS: [&str; 4] = [
    "ServerSideEncryptionConfiguration",
    "PublicAccessBlockConfiguration",
    "LifecycleConfiguration",
    "ObjectLockConfiguration",
];

pub(crate) fn collect(reader: &mut Reader, files: &[impl AsRef<Path>]) -> Result<StorageFacts, CollectError> {
    let mut facts = StorageFacts::default();
    let mut s3_raw = Map::new();
    // Which file each S3 document came from.
    let mut s3_from: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let mut s3_bucket: Option<String> = None;
    // GCS bucket descriptions by bucket name, with the file each came from.
    let mut gcs_buckets: std::collections::BTreeMap<String, (Value, String)> =
        std::collections::BTreeMap::new();
    let mut declared: Vec<Value> = Vec::new();
    for file in files {
        let path = file.as_ref();
        let text = reader.text(path, "storage")?;
        let shown = reader.shown(path);
        let bad = |problem: String| CollectError::Malformed {
            path: shown.clone(),
            problem,
        };
        // JSON is YAML, but JSON's errors are clearer for JSON files.
        let doc: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(json_err) => parse_yaml(&text).map_err(|yaml_err| {
                if path.extension().is_some_and(|e| e == "json") {
                    bad(format!("invalid JSON: {json_err}"))
                } else {
                    bad(yaml_err)
                }
            })?,
        };
        let Some(obj) = doc.as_object() else {
            return Err(bad("expected a settings document (a mapping)".into()));
        };
        let kind = obj.get("kind").and_then(Value::as_str);
        // One document of each kind per bucket: a second would silently
        // replace the first, and which one a verdict was based on would
        // depend on argument order.
        let mut put_s3 = |key: &str, value: Value| -> Result<(), CollectError> {
            if let Some(first) = s3_from.insert(key.to_owned(), shown.clone()) {
                return Err(bad(format!(
                    "a second {key} document (the first is {first}); the S3 documents of one collection describe one bucket: \
                     give each bucket its own store with its own `raw`"
                )));
            }
            s3_raw.insert(key.into(), value);
            Ok(())
        };
        if obj.is_empty() {
            // `{}` is what GetBucketVersioning answers for a bucket never
            // versioned, and a valid empty daemon.json: the name says which.
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            if name.contains("versioning") {
                put_s3("Versioning", doc)?;
            } else if name == "daemon.json" {
                facts.docker_daemon = Some(doc);
            } else {
                return Err(bad(
                    "an empty document: name it after what it is (`…versioning….json` for GetBucketVersioning's \
                     answer for a never-versioned bucket, `daemon.json` for Docker's)"
                        .into(),
                ));
            }
        } else if kind == Some("EncryptionConfiguration") {
            if !obj.get("resources").is_some_and(Value::is_array) {
                return Err(bad(
                    "/resources: an EncryptionConfiguration needs a list of resources".into(),
                ));
            }
            facts.kubernetes_encryption = Some(doc);
        } else if !obj.contains_key("provider") && (kind == Some("storage#bucket") || is_gcloud_bucket(obj)) {
            let name = obj
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("/name: missing (the bucket's name)".into()))?
                .to_owned();
            let raw = if kind == Some("storage#bucket") {
                doc.clone()
            } else {
                gcloud_to_json_api(obj)
            };
            if let Some((_, first)) = gcs_buckets.insert(name.clone(), (raw, shown.clone())) {
                return Err(bad(format!(
                    "a second description of bucket `{name}` (the first is {first}): give one"
                )));
            }
        } else if obj.contains_key("provider") {
            declared.push(doc);
        } else if let Some(key) = S3_DOCUMENTS.iter().find(|k| obj.contains_key(**k)) {
            put_s3(key, obj[*key].clone())?;
        } else if obj.contains_key("Statement") {
            s3_bucket = s3_bucket.or_else(|| bucket_of_policy(&doc));
            put_s3("Policy", doc)?;
        } else if let Some(Value::String(policy)) = obj.get("Policy") {
            // `aws s3api get-bucket-policy` returns the document as a string.
            let policy: Value = serde_json::from_str(policy)
                .map_err(|e| bad(format!("/Policy: invalid JSON inside the string: {e}")))?;
            s3_bucket = s3_bucket.or_else(|| bucket_of_policy(&policy));
            put_s3("Policy", policy)?;
        } else if obj.get("Rules").is_some_and(Value::is_array) {
            // `aws s3api get-bucket-lifecycle-configuration` drops the wrapper.
            put_s3("LifecycleConfiguration", json!({"Rules": obj["Rules"]}))?;
        } else if obj.contains_key("Status") && obj.len() <= 2 {
            put_s3("Versioning", doc)?;
        } else if path.file_name().is_some_and(|n| n == "daemon.json")
            || DOCKERD_KEYS.iter().any(|k| obj.contains_key(*k))
        {
            facts.docker_daemon = Some(doc);
        } else {
            return Err(bad(
                "not a settings document sealgate reads: expected an S3 API response, a GCS bucket resource, \
                 a Kubernetes EncryptionConfiguration, a Docker daemon.json, or a store with `provider`"
                    .into(),
            ));
        }
    }
    for mut store in declared {
        // The API documents go under the team's store for that bucket (its own
        // `raw`, written for this store, wins).
        let merged = if store["provider"] == "s3" && !s3_raw.is_empty() {
            Some(std::mem::take(&mut s3_raw))
        } else if store["provider"] == "gcs" {
            let bucket = store
                .get("location")
                .and_then(Value::as_str)
                .and_then(|l| l.strip_prefix("gs://"))
                .map(|l| l.trim_end_matches('/').to_owned());
            bucket
                .and_then(|b| gcs_buckets.remove(&b))
                .and_then(|(raw, _)| raw.as_object().cloned())
        } else {
            None
        };
        if let Some(mut merged) = merged {
            if let Some(own) = store.get("raw").and_then(Value::as_object) {
                merged.extend(own.clone());
            }
            store["raw"] = Value::Object(merged);
        }
        facts.stores.push(store);
    }
    for (name, (raw, shown)) in gcs_buckets {
        facts.stores.push(
            json!({"provider": "gcs", "location": format!("gs://{name}"), "raw": raw, "source": shown}),
        );
    }
    if !s3_raw.is_empty() {
        let location = s3_bucket.map_or_else(
            || "s3://(bucket not named: no bucket policy given)".to_owned(),
            |b| format!("s3://{b}"),
        );
        facts
            .stores
            .insert(0, json!({"provider": "s3", "location": location, "raw": s3_raw}));
    }
    Ok(facts)
}

/// What `gcloud storage buckets describe --format=json` prints: the bucket
/// with snake_case top-level fields and no `kind`.
fn is_gcloud_bucket(obj: &Map<String, Value>) -> bool {
    obj.get("storage_url")
        .and_then(Value::as_str)
        .is_some_and(|u| u.starts_with("gs://"))
        || (obj.contains_key("name")
            && [
                "lifecycle_config",
                "retention_policy",
                "versioning_enabled",
                "default_kms_key",
                "public_access_prevention",
                "uniform_bucket_level_access",
            ]
            .iter()
            .any(|k| obj.contains_key(*k)))
}

/// gcloud's bucket description in the JSON API's shape (the one the
/// policies read): its nested documents (`lifecycle_config`,
/// `retention_policy`, `soft_delete_policy`) are the API's own, renamed;
/// its flags become the API's objects.
fn gcloud_to_json_api(obj: &Map<String, Value>) -> Value {
    let mut api = Map::new();
    api.insert("kind".into(), json!("storage#bucket"));
    for (gcloud, json_api) in [
        ("name", "name"),
        ("location", "location"),
        ("lifecycle_config", "lifecycle"),
        ("retention_policy", "retentionPolicy"),
        ("soft_delete_policy", "softDeletePolicy"),
        ("default_storage_class", "storageClass"),
    ] {
        if let Some(v) = obj.get(gcloud) {
            api.insert(json_api.into(), v.clone());
        }
    }
    if let Some(v) = obj.get("versioning_enabled").and_then(Value::as_bool) {
        api.insert("versioning".into(), json!({"enabled": v}));
    }
    if let Some(k) = obj.get("default_kms_key").and_then(Value::as_str) {
        api.insert("encryption".into(), json!({"defaultKmsKeyName": k}));
    }
    let mut iam = Map::new();
    if let Some(p) = obj.get("public_access_prevention") {
        iam.insert("publicAccessPrevention".into(), p.clone());
    }
    if let Some(u) = obj.get("uniform_bucket_level_access").and_then(Value::as_bool) {
        iam.insert("uniformBucketLevelAccess".into(), json!({"enabled": u}));
    }
    if !iam.is_empty() {
        api.insert("iamConfiguration".into(), Value::Object(iam));
    }
    api.insert("gcloud".into(), Value::Object(obj.clone()));
    Value::Object(api)
}

/// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/*` in a statement's Resource.
fn bucket_of_policy(policy: &Value) -> Option<String> {
    let statements = match policy.get("Statement")? {
        Value::Array(s) => s.clone(),
        s => vec![s.clone()],
    };
    statements.iter().find_map(|s| {
        let resources = match s.get("Resource")? {
            Value::Array(r) => r.clone(),
            r => vec![r.clone()],
        };
        resources.iter().find_map(|r| {
            let bucket = r.as_str()?.strip_prefix("arn:aws:s3:::")?.split('/').next()?;
            (!bucket.is_empty() && !bucket.contains('*')).then(|| bucket.to_owned())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{reader, real};

    #[test]
    fn the_real_s3_settings_make_one_store() {
        let files: Vec<_> = std::fs::read_dir(real("cloud"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let facts = collect(&mut reader(), &files).unwrap();
        assert_eq!(facts.stores.len(), 1);
        let s3 = &facts.stores[0];
        assert_eq!(s3["provider"], "s3");
        // Named by the bucket policy's resource.
        assert_eq!(s3["location"], "s3://acme-ml-artifacts");
        let raw = s3["raw"].as_object().unwrap();
        let mut keys: Vec<&str> = raw.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "LifecycleConfiguration",
                "ObjectLockConfiguration",
                "Policy",
                "PublicAccessBlockConfiguration",
                "ServerSideEncryptionConfiguration"
            ]
        );
        assert_eq!(
            raw["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "aws:kms"
        );
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn cli_shapes_gcs_kubernetes_docker_and_a_team_store() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let files = [
            // `aws s3api get-bucket-policy` and `get-bucket-lifecycle-configuration` output.
            write(
                d,
                "policy.json",
                r#"{"Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::ml-eu/*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}"}"#,
            ),
            write(
                d,
                "lifecycle.json",
                r#"{"TransitionDefaultMinimumObjectSize": "all_storage_classes_128K", "Rules": [{"ID": "raw", "Status": "Enabled", "Filter": {"Prefix": "raw/"}, "Expiration": {"Days": 30}}]}"#,
            ),
            write(
                d,
                "versioning.json",
                r#"{"Status": "Enabled", "MFADelete": "Disabled"}"#,
            ),
            write(
                d,
                "store.json",
                r#"{"provider": "s3", "location": "s3://ml-eu", "holds": [{"kind": "dataset", "name": "customers.csv", "prefix": "raw/"}]}"#,
            ),
            write(
                d,
                "bucket.json",
                r#"{"kind": "storage#bucket", "name": "acme-ml-eu", "iamConfiguration": {"publicAccessPrevention": "enforced"}}"#,
            ),
            write(
                d,
                "encryption-config.yaml",
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys:\n            - name: key1\n              secret: c2VjcmV0IGlzIHNlY3VyZQ==\n      - identity: {}\n",
            ),
            write(
                d,
                "daemon.json",
                r#"{"insecure-registries": ["registry.internal:5000"], "live-restore": true}"#,
            ),
        ];
        let facts = collect(&mut reader(), &files).unwrap();
        // The team's store carries the API documents of its bucket.
        let s3 = facts.stores.iter().find(|s| s["provider"] == "s3").unwrap();
        assert_eq!(s3["location"], "s3://ml-eu");
        assert_eq!(s3["holds"][0]["prefix"], "raw/");
        assert_eq!(s3["raw"]["Policy"]["Statement"][0]["Effect"], "Deny");
        assert_eq!(s3["raw"]["LifecycleConfiguration"]["Rules"][0]["ID"], "raw");
        assert_eq!(s3["raw"]["Versioning"]["Status"], "Enabled");
        assert_eq!(facts.stores.len(), 2);
        let gcs = facts.stores.iter().find(|s| s["provider"] == "gcs").unwrap();
        assert_eq!(gcs["location"], "gs://acme-ml-eu");
        let k8s = facts.kubernetes_encryption.unwrap();
        assert!(k8s["resources"][0]["providers"][0].get("aescbc").is_some());
        assert_eq!(
            facts.docker_daemon.unwrap()["insecure-registries"][0],
            "registry.internal:5000"
        );
    }

    #[test]
    fn unknown_and_malformed_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let f = write(d, "notes.json", r#"{"bucket": "acme"}"#);
        let err = collect(&mut reader(), &[f]).unwrap_err().to_string();
        assert!(
            err.contains("notes.json: not a settings document sealgate reads"),
            "{err}"
        );
        let f = write(d, "enc.json", r#"{"ServerSideEncryptionConfiguration": "#);
        let err = collect(&mut reader(), &[f]).unwrap_err().to_string();
        assert!(err.contains("enc.json: invalid JSON: EOF while parsing"), "{err}");
        let f = write(
            d,
            "enc.yaml",
            "kind: EncryptionConfiguration\nresources: {secrets: identity}\n",
        );
        let err = collect(&mut reader(), &[f]).unwrap_err().to_string();
        assert!(
            err.contains("enc.yaml: /resources: an EncryptionConfiguration needs a list"),
            "{err}"
        );
        let f = write(d, "k.yaml", "kind: [EncryptionConfiguration\n");
        let err = collect(&mut reader(), &[f]).unwrap_err().to_string();
        assert!(err.contains("k.yaml: invalid YAML"), "{err}");
        let err = collect(&mut reader(), &[d.join("absent.json")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("absent.json") && err.contains("No such file"),
            "{err}"
        );
        let err = collect(&mut reader(), &[d.to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a regular file"), "{err}");
    }
}
