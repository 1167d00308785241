//! How long a store keeps what it holds: lifecycle expiration rules and
//! minimum-retention locks, read from the provider's API documents (`raw`)
//! or from the provider-neutral fields (`lifecycle`, `object_lock`).

use std::collections::BTreeMap;

use serde_json::Value;

/// One enabled rule that deletes current objects after `days`.
pub struct Expiry {
    pub id: String,
    pub prefix: String,
    pub tags: BTreeMap<String, String>,
    pub days: u64,
    /// Days an object's old versions are kept after it is replaced or deleted.
    pub noncurrent_days: Option<u64>,
    pub pointer: String,
}

/// A retention lock: objects cannot be deleted for `days`.
pub struct Lock {
    pub mode: String,
    pub days: Option<u64>,
    pub pointer: String,
}

/// Something a store holds: `kind` (`dataset`, `model`, `logs`, `lineage`,
/// `documentation`…), optionally a `name`, and where in the store it lives.
pub struct Held {
    pub kind: String,
    pub name: Option<String>,
    pub prefix: String,
    pub tags: BTreeMap<String, String>,
    pub pointer: String,
}

pub struct StoreRetention {
    pub location: String,
    pub expiries: Vec<Expiry>,
    pub lock: Option<Lock>,
    /// Old versions are kept (versioning on; Object Lock implies it).
    pub versioned: bool,
    pub holds: Vec<Held>,
}

impl Expiry {
    /// The rule applies to all of `held`: its prefix contains the item's and
    /// each tag it filters on is one the item carries.
    pub fn covers(&self, held: &Held) -> bool {
        held.prefix.starts_with(&self.prefix) && self.tags.iter().all(|(k, v)| held.tags.get(k) == Some(v))
    }
}

fn u64_at(v: &Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(Value::as_u64)
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn tags(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// S3 filter tags: `{Key, Value}` or a list of them.
fn s3_tags(v: Option<&Value>) -> BTreeMap<String, String> {
    let list: Vec<&Value> = match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(t @ Value::Object(_)) => vec![t],
        _ => vec![],
    };
    list.into_iter()
        .filter_map(|t| Some((str_at(t, "/Key")?.to_owned(), str_at(t, "/Value")?.to_owned())))
        .collect()
}

impl StoreRetention {
    pub fn read(pointer: &str, entry: &Value) -> Self {
        let provider = entry.get("provider").and_then(Value::as_str).unwrap_or("other");
        let raw = entry.get("raw");
        let mut s = StoreRetention {
            location: entry
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned(),
            expiries: vec![],
            lock: None,
            versioned: entry.get("versioned").and_then(Value::as_bool).unwrap_or(false),
            holds: entry
                .get("holds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, h)| Held {
                    kind: str_at(h, "/kind").unwrap_or("?").to_owned(),
                    name: str_at(h, "/name").map(str::to_owned),
                    prefix: str_at(h, "/prefix").unwrap_or("").to_owned(),
                    tags: tags(h.get("tags")),
                    pointer: format!("{pointer}/holds/{i}"),
                })
                .collect(),
        };
        match (provider, raw) {
            ("s3", Some(raw)) => s.read_s3(pointer, raw),
            ("gcs", Some(raw)) => s.read_gcs(pointer, raw),
            _ => {}
        }
        if s.expiries.is_empty() {
            s.read_neutral(pointer, entry);
        }
        if s.lock.is_none()
            && let Some(lock) = entry.get("object_lock")
        {
            s.lock = Some(Lock {
                mode: str_at(lock, "/mode").unwrap_or("").to_owned(),
                days: u64_at(lock, "/days"),
                pointer: format!("{pointer}/object_lock"),
            });
        }
        s
    }

    fn read_s3(&mut self, pointer: &str, raw: &Value) {
        let rules = raw
            .pointer("/LifecycleConfiguration/Rules")
            .and_then(Value::as_array);
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            let (Some("Enabled"), Some(days)) = (str_at(rule, "/Status"), u64_at(rule, "/Expiration/Days"))
            else {
                continue;
            };
            let prefix = str_at(rule, "/Filter/Prefix")
                .or_else(|| str_at(rule, "/Filter/And/Prefix"))
                .or_else(|| str_at(rule, "/Prefix"))
                .unwrap_or("");
            let mut tags = s3_tags(rule.pointer("/Filter/Tag"));
            tags.extend(s3_tags(rule.pointer("/Filter/And/Tags")));
            self.expiries.push(Expiry {
                id: str_at(rule, "/ID").unwrap_or("").to_owned(),
                prefix: prefix.to_owned(),
                tags,
                days,
                noncurrent_days: u64_at(rule, "/NoncurrentVersionExpiration/NoncurrentDays"),
                pointer: format!("{pointer}/raw/LifecycleConfiguration/Rules/{i}"),
            });
        }
        if str_at(raw, "/Versioning/Status") == Some("Enabled") {
            self.versioned = true;
        }
        if str_at(raw, "/ObjectLockConfiguration/ObjectLockEnabled") == Some("Enabled") {
            self.versioned = true;
            if let Some(d) = raw.pointer("/ObjectLockConfiguration/Rule/DefaultRetention") {
                let days = u64_at(d, "/Days").or_else(|| u64_at(d, "/Years").map(|y| y * 365));
                self.lock = Some(Lock {
                    mode: str_at(d, "/Mode").unwrap_or("").to_owned(),
                    days,
                    pointer: format!("{pointer}/raw/ObjectLockConfiguration/Rule/DefaultRetention"),
                });
            }
        }
    }

    fn read_gcs(&mut self, pointer: &str, raw: &Value) {
        let rules = raw.pointer("/lifecycle/rule").and_then(Value::as_array);
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            let (Some("Delete"), Some(days)) = (str_at(rule, "/action/type"), u64_at(rule, "/condition/age"))
            else {
                continue;
            };
            let prefixes: Vec<String> = rule
                .pointer("/condition/matchesPrefix")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_else(|| vec![String::new()]);
            for prefix in prefixes {
                self.expiries.push(Expiry {
                    id: format!("rule {i}"),
                    prefix,
                    tags: BTreeMap::new(),
                    days,
                    noncurrent_days: None,
                    pointer: format!("{pointer}/raw/lifecycle/rule/{i}"),
                });
            }
        }
        if raw.pointer("/versioning/enabled").and_then(Value::as_bool) == Some(true) {
            self.versioned = true;
        }
        // A bucket retention policy is a lock; its period is in seconds (a
        // string in the JSON API).
        if let Some(period) = raw.pointer("/retentionPolicy/retentionPeriod") {
            let seconds = period.as_u64().or_else(|| period.as_str()?.parse().ok());
            self.lock = Some(Lock {
                mode: "retention-policy".into(),
                days: seconds.map(|s| s.div_ceil(86_400)),
                pointer: format!("{pointer}/raw/retentionPolicy"),
            });
        }
    }

    fn read_neutral(&mut self, pointer: &str, entry: &Value) {
        let rules = entry.pointer("/lifecycle/rules").and_then(Value::as_array);
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            let Some(days) = u64_at(rule, "/expiration_days") else {
                continue;
            };
            self.expiries.push(Expiry {
                id: str_at(rule, "/id").unwrap_or("").to_owned(),
                prefix: str_at(rule, "/prefix").unwrap_or("").to_owned(),
                tags: tags(rule.get("tags")),
                days,
                noncurrent_days: u64_at(rule, "/noncurrent_expiration_days"),
                pointer: format!("{pointer}/lifecycle/rules/{i}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn held(prefix: &str, tags: &[(&str, &str)]) -> Held {
        Held {
            kind: "dataset".into(),
            name: None,
            prefix: prefix.into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            pointer: String::new(),
        }
    }

    #[test]
    fn rules_cover_by_prefix_and_tags() {
        let s = StoreRetention::read(
            "/storage/0",
            &json!({"provider": "s3", "raw": {"LifecycleConfiguration": {"Rules": [
                {"ID": "a", "Status": "Enabled", "Filter": {"Prefix": "raw/"}, "Expiration": {"Days": 30}},
                {"ID": "b", "Status": "Enabled", "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "t", "Value": "1"}]}}, "Expiration": {"Days": 400}},
                {"ID": "off", "Status": "Disabled", "Filter": {}, "Expiration": {"Days": 1}}
            ]}}}),
        );
        assert_eq!(s.expiries.len(), 2);
        assert!(s.expiries[0].covers(&held("raw/2026/", &[])));
        assert!(!s.expiries[0].covers(&held("", &[])));
        assert!(s.expiries[1].covers(&held("logs/", &[("t", "1")])));
        assert!(!s.expiries[1].covers(&held("logs/", &[])));
    }

    #[test]
    fn gcs_retention_policy_is_a_lock_in_days() {
        let s = StoreRetention::read(
            "/storage/0",
            &json!({"provider": "gcs", "raw": {"retentionPolicy": {"retentionPeriod": "15811200"},
                "lifecycle": {"rule": [{"action": {"type": "Delete"}, "condition": {"age": 365, "matchesPrefix": ["raw/", "tmp/"]}}]}}}),
        );
        assert_eq!(s.lock.and_then(|l| l.days), Some(183));
        assert_eq!(s.expiries.len(), 2);
    }
}
