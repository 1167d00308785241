//! What a storage entry says about encryption and exposure, read from the
//! provider's own API documents (`raw`) when present, else from the
//! provider-neutral fields (`encryption`, `public_access`, `insecure`).
//!
//! The provider documents win because they are what the cloud returned; the
//! neutral fields are for stores sealgate does not read natively.

use serde_json::Value;

/// Encryption at rest as configured.
pub struct AtRest {
    pub algorithm: String,
    /// The key, when one is named (KMS key ARN or id, GCS CMEK name).
    pub key: Option<String>,
    pub pointer: String,
}

/// Is TLS required for every request, and from which version?
pub enum InTransit {
    Required {
        min_version: Option<String>,
        pointer: String,
    },
    NotRequired {
        pointer: String,
        why: String,
    },
}

/// Public access prevention: `Ok` when fully blocked, else what is open.
pub struct PublicAccess {
    pub blocked: Result<(), String>,
    pub pointer: String,
}

pub struct Store<'a> {
    pub pointer: String,
    pub provider: &'a str,
    pub location: &'a str,
    entry: &'a Value,
}

impl<'a> Store<'a> {
    pub fn new(pointer: String, entry: &'a Value) -> Self {
        Store {
            provider: entry.get("provider").and_then(Value::as_str).unwrap_or("other"),
            location: entry.get("location").and_then(Value::as_str).unwrap_or("?"),
            pointer,
            entry,
        }
    }

    fn raw(&self, path: &str) -> Option<&'a Value> {
        self.entry.pointer(&format!("/raw{path}"))
    }

    fn neutral(&self, path: &str) -> Option<&'a Value> {
        self.entry.pointer(path)
    }

    /// A container registry: judged on transport only.
    pub fn is_registry(&self) -> bool {
        self.provider == "registry"
    }

    /// The store's own classification, when it declares one.
    pub fn classification(&self) -> Option<&'a str> {
        self.entry.get("classification").and_then(Value::as_str)
    }

    pub fn at_rest(&self) -> Option<AtRest> {
        match self.provider {
            "s3" => {
                // S3 applies the first rule; a bucket has exactly one.
                let path = "/ServerSideEncryptionConfiguration/Rules/0/ApplyServerSideEncryptionByDefault";
                if let Some(sse) = self.raw(path) {
                    return Some(AtRest {
                        algorithm: sse.get("SSEAlgorithm")?.as_str()?.to_owned(),
                        key: sse
                            .get("KMSMasterKeyID")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        pointer: format!("{}/raw{path}", self.pointer),
                    });
                }
            }
            // GCS always encrypts; a default KMS key makes it customer-managed.
            "gcs" if self.raw("").is_some() => {
                let key = self.raw("/encryption/defaultKmsKeyName").and_then(Value::as_str);
                return Some(AtRest {
                    algorithm: if key.is_some() { "gcp:kms" } else { "AES256" }.to_owned(),
                    key: key.map(str::to_owned),
                    pointer: format!("{}/raw/encryption", self.pointer),
                });
            }
            _ => {}
        }
        let at_rest = self.neutral("/encryption/at_rest")?;
        Some(AtRest {
            algorithm: at_rest.get("algorithm")?.as_str()?.to_owned(),
            key: at_rest.get("key_id").and_then(Value::as_str).map(str::to_owned),
            pointer: format!("{}/encryption/at_rest", self.pointer),
        })
    }

    pub fn in_transit(&self) -> InTransit {
        if self.entry.get("insecure").and_then(Value::as_bool) == Some(true) {
            return InTransit::NotRequired {
                pointer: format!("{}/insecure", self.pointer),
                why: "it is marked insecure (plain HTTP or unverified TLS)".into(),
            };
        }
        if self.provider == "s3"
            && let Some(policy) = self.raw("/Policy")
        {
            return s3_policy_transport(policy, &format!("{}/raw/Policy", self.pointer));
        }
        // The GCS JSON and XML APIs are served over HTTPS only.
        if self.provider == "gcs" && self.raw("").is_some() {
            return InTransit::Required {
                min_version: None,
                pointer: format!("{}/raw", self.pointer),
            };
        }
        let pointer = format!("{}/encryption/in_transit", self.pointer);
        match self.neutral("/encryption/in_transit") {
            Some(t) if t.get("tls_required").and_then(Value::as_bool) == Some(true) => InTransit::Required {
                min_version: t
                    .get("min_tls_version")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                pointer,
            },
            Some(_) => InTransit::NotRequired {
                pointer,
                why: "tls_required is not true".into(),
            },
            None => InTransit::NotRequired {
                pointer: self.pointer.clone(),
                why: "nothing records that TLS is required".into(),
            },
        }
    }

    /// `None` when the provider has no notion of public access sealgate reads.
    pub fn public_access(&self) -> Option<PublicAccess> {
        match self.provider {
            "s3" if self.raw("/PublicAccessBlockConfiguration").is_some() => {
                let pab = self.raw("/PublicAccessBlockConfiguration")?;
                let open: Vec<&str> = S3_BLOCK_FLAGS
                    .iter()
                    .copied()
                    .filter(|f| pab.get(*f).and_then(Value::as_bool) != Some(true))
                    .collect();
                return Some(PublicAccess {
                    blocked: if open.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("{} not true", open.join(", ")))
                    },
                    pointer: format!("{}/raw/PublicAccessBlockConfiguration", self.pointer),
                });
            }
            "gcs" if self.raw("").is_some() => {
                let prevention = self
                    .raw("/iamConfiguration/publicAccessPrevention")
                    .and_then(Value::as_str)
                    .unwrap_or("unspecified");
                return Some(PublicAccess {
                    blocked: if prevention == "enforced" {
                        Ok(())
                    } else {
                        Err(format!(
                            "publicAccessPrevention is `{prevention}`, not `enforced`"
                        ))
                    },
                    pointer: format!("{}/raw/iamConfiguration", self.pointer),
                });
            }
            _ => {}
        }
        let pointer = format!("{}/public_access", self.pointer);
        match self.neutral("/public_access/blocked").and_then(Value::as_bool) {
            Some(true) => Some(PublicAccess {
                blocked: Ok(()),
                pointer,
            }),
            Some(false) => Some(PublicAccess {
                blocked: Err("public_access.blocked is false".into()),
                pointer,
            }),
            // A bucket store that says nothing about public access is open
            // until shown otherwise.
            None if matches!(self.provider, "s3" | "gcs" | "azure-blob") => Some(PublicAccess {
                blocked: Err("no public access block is recorded".into()),
                pointer: self.pointer.clone(),
            }),
            None => None,
        }
    }
}

/// The four settings of an S3 public access block; all must be true.
pub const S3_BLOCK_FLAGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

/// Does the bucket policy deny every request made without TLS, and does it
/// deny old TLS versions? AWS's documented pattern: `Effect: Deny`,
/// `Principal: *`, `Action: s3:*`, `Condition: {Bool: {aws:SecureTransport:
/// false}}`; and `NumericLessThan: {s3:TlsVersion: 1.2}` for the version.
fn s3_policy_transport(policy: &Value, pointer: &str) -> InTransit {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(s)) => s.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => vec![],
    };
    let mut denies_plain = None;
    let mut min_version = None;
    for (i, s) in statements.iter().enumerate() {
        if !(is(s.get("Effect"), "Deny") && applies_to_everyone(s) && covers_all_s3_actions(s)) {
            continue;
        }
        if s.pointer("/Condition/Bool/aws:SecureTransport")
            .is_some_and(is_false)
        {
            denies_plain = Some(i);
        }
        if let Some(v) = s
            .pointer("/Condition/NumericLessThan/s3:TlsVersion")
            .and_then(one_string)
        {
            min_version = Some(v);
        }
    }
    match denies_plain {
        Some(i) => InTransit::Required {
            min_version,
            pointer: format!("{pointer}/Statement/{i}"),
        },
        None => InTransit::NotRequired {
            pointer: pointer.to_owned(),
            why: "the bucket policy does not deny requests with aws:SecureTransport = false".into(),
        },
    }
}

fn is(v: Option<&Value>, want: &str) -> bool {
    v.and_then(Value::as_str) == Some(want)
}

fn applies_to_everyone(s: &Value) -> bool {
    match s.get("Principal") {
        Some(Value::String(p)) => p == "*",
        Some(Value::Object(p)) => p.get("AWS").and_then(one_string).as_deref() == Some("*"),
        _ => false,
    }
}

fn covers_all_s3_actions(s: &Value) -> bool {
    let all = |a: &str| a == "*" || a == "s3:*";
    match s.get("Action") {
        Some(Value::String(a)) => all(a),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(all),
        _ => false,
    }
}

/// IAM condition values are a string, a bool, or a list of one.
fn one_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) if a.len() == 1 => one_string(&a[0]),
        _ => None,
    }
}

fn is_false(v: &Value) -> bool {
    one_string(v).is_some_and(|s| s.eq_ignore_ascii_case("false"))
}

/// `1.2`, `TLSv1.2`, `TLS1.2`, `tls 1.3` → (major, minor).
pub fn tls_version(s: &str) -> Option<(u32, u32)> {
    let digits = s.trim_start_matches(|c: char| !c.is_ascii_digit());
    let (major, minor) = digits.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tls_versions() {
        assert_eq!(tls_version("1.2"), Some((1, 2)));
        assert_eq!(tls_version("TLSv1.3"), Some((1, 3)));
        assert_eq!(tls_version("TLS1.0"), Some((1, 0)));
        assert_eq!(tls_version("modern"), None);
    }

    #[test]
    fn a_policy_that_allows_plain_http_does_not_count() {
        let allow = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        assert!(matches!(
            s3_policy_transport(&allow, ""),
            InTransit::NotRequired { .. }
        ));
        let one_user = json!({"Statement": {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::1:user/x"},
            "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": false}}}});
        assert!(matches!(
            s3_policy_transport(&one_user, ""),
            InTransit::NotRequired { .. }
        ));
        let everyone = json!({"Statement": {"Effect": "Deny", "Principal": {"AWS": ["*"]},
            "Action": ["s3:*"], "Condition": {"Bool": {"aws:SecureTransport": [false]}}}});
        assert!(matches!(
            s3_policy_transport(&everyone, ""),
            InTransit::Required { .. }
        ));
    }
}
