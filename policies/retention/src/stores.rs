//! How long a store keeps what it holds: lifecycle expiration rules and
//! minimum-retention locks, read from the provider's API documents (`raw`)
//! or from the provider-neutral fields (`lifecycle`, `object_lock`).

use std::collections::BTreeMap;

use serde_json::Value;

/// One enabled lifecycle rule that deletes objects: current ones `days`
/// after creation, old versions `noncurrent_days` after they were replaced.
pub struct Expiry {
    pub id: String,
    pub filter: Filter,
    /// `None` for a rule that only deletes old versions.
    pub days: Option<u64>,
    /// Days an object's old versions are kept after it is replaced or deleted.
    pub noncurrent_days: Option<u64>,
    pub pointer: String,
}

/// Which objects a rule applies to. A rule counts for an object only when
/// it surely applies: a condition sealgate cannot check against the object
/// (a size it does not know, a creation date) means it may not.
#[derive(Default)]
pub struct Filter {
    /// S3 `Prefix` (rule-level or in `Filter`/`And`), GCS `matchesPrefix`.
    pub prefix: String,
    /// GCS `matchesSuffix`: any of them.
    pub suffixes: Vec<String>,
    /// S3 `Tag` / `And.Tags`: all of them.
    pub tags: BTreeMap<String, String>,
    /// S3 `ObjectSizeGreaterThan`: bytes.
    pub size_above: Option<u64>,
    /// S3 `ObjectSizeLessThan`: bytes.
    pub size_below: Option<u64>,
    /// A condition no object description can satisfy for sure (GCS
    /// `createdBefore`, `noncurrentTimeBefore`…), named.
    pub unsure: Option<String>,
}

impl Filter {
    /// Why the rule may not apply to all of `held`, or `None` when it does.
    pub fn misses(&self, held: &Held) -> Option<String> {
        if !held.prefix.starts_with(&self.prefix) {
            return Some(format!("filters on prefix `{}`", self.prefix));
        }
        if !self.suffixes.is_empty()
            && !self
                .suffixes
                .iter()
                .any(|s| held.prefix.ends_with(s.as_str()) && !held.prefix.ends_with('/'))
        {
            return Some(format!("filters on suffix {:?}", self.suffixes));
        }
        if let Some((k, v)) = self.tags.iter().find(|(k, v)| held.tags.get(*k) != Some(v)) {
            return Some(format!("filters on tag {k}={v}"));
        }
        for (name, bound, inside) in [
            (
                "ObjectSizeGreaterThan",
                self.size_above,
                (|size, n| size > n) as fn(u64, u64) -> bool,
            ),
            ("ObjectSizeLessThan", self.size_below, |size, n| size < n),
        ] {
            if let Some(n) = bound {
                match held.size {
                    Some(size) if inside(size, n) => {}
                    Some(size) => return Some(format!("filters on {name} {n} and it is {size} bytes")),
                    None => return Some(format!("filters on {name} {n} and its size is not recorded")),
                }
            }
        }
        self.unsure
            .as_ref()
            .map(|c| format!("has a condition that may not match it ({c})"))
    }
}

/// A retention lock: objects cannot be deleted for `days`.
pub struct Lock {
    pub mode: String,
    pub days: Option<u64>,
    pub pointer: String,
}

/// Something a store holds: `kind` (`dataset`, `model`, `logs`, `lineage`,
/// `documentation`…), optionally a `name`, and where in the store it lives.
#[derive(Clone)]
pub struct Held {
    pub kind: String,
    pub name: Option<String>,
    pub prefix: String,
    pub tags: BTreeMap<String, String>,
    /// Bytes, when known (a `holds` entry's `size_bytes`, else the held
    /// dataset's): what S3 size filters are matched against.
    pub size: Option<u64>,
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
    /// The rule surely applies to all of `held`.
    pub fn covers(&self, held: &Held) -> bool {
        self.filter.misses(held).is_none()
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
                    size: u64_at(h, "/size_bytes"),
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
            if str_at(rule, "/Status") != Some("Enabled") {
                continue;
            }
            // `Expiration.Date` deletes on a day, not after an age: it does
            // not bound how long anything is kept, so it is not counted.
            let days = u64_at(rule, "/Expiration/Days");
            let noncurrent_days = u64_at(rule, "/NoncurrentVersionExpiration/NoncurrentDays");
            if days.is_none() && noncurrent_days.is_none() {
                continue;
            }
            // The filter: rule-level `Prefix` (the old form), or `Filter`
            // with one of `Prefix`, `Tag`, the size bounds, or `And` of them.
            let filter_doc = rule.get("Filter");
            let and = filter_doc.and_then(|f| f.get("And"));
            let pick = |key: &str| {
                and.and_then(|a| a.get(key))
                    .or_else(|| filter_doc.and_then(|f| f.get(key)))
            };
            let mut tags = s3_tags(pick("Tag"));
            tags.extend(s3_tags(pick("Tags")));
            let filter = Filter {
                prefix: pick("Prefix")
                    .and_then(Value::as_str)
                    .or_else(|| str_at(rule, "/Prefix"))
                    .unwrap_or("")
                    .to_owned(),
                tags,
                size_above: pick("ObjectSizeGreaterThan").and_then(Value::as_u64),
                size_below: pick("ObjectSizeLessThan").and_then(Value::as_u64),
                ..Filter::default()
            };
            self.expiries.push(Expiry {
                id: str_at(rule, "/ID").unwrap_or("").to_owned(),
                filter,
                days,
                noncurrent_days,
                pointer: format!("{pointer}/raw/LifecycleConfiguration/Rules/{i}"),
            });
        }
        if str_at(raw, "/Versioning/Status") == Some("Enabled") {
            self.versioned = true;
        }
        if str_at(raw, "/ObjectLockConfiguration/ObjectLockEnabled") == Some("Enabled") {
            self.versioned = true;
            if let Some(d) = raw.pointer("/ObjectLockConfiguration/Rule/DefaultRetention") {
                // One of Days and Years is set; some responses carry the
                // other as 0 (moto writes `"Days": 0` beside `"Years": 10`),
                // so the longer one is the lock.
                let days = u64_at(d, "/Days")
                    .into_iter()
                    .chain(u64_at(d, "/Years").map(|y| y * 365))
                    .filter(|d| *d > 0)
                    .max();
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
            if str_at(rule, "/action/type") != Some("Delete") {
                continue;
            }
            let Some(c) = rule.get("condition") else {
                continue;
            };
            // Old versions only: `isLive: false`, `numNewerVersions`,
            // `daysSinceNoncurrentTime`; the age of a noncurrent object is
            // at least its time since it became noncurrent.
            let noncurrent_only = c.get("isLive").and_then(Value::as_bool) == Some(false)
                || c.get("numNewerVersions").is_some()
                || c.get("daysSinceNoncurrentTime").is_some()
                || c.get("noncurrentTimeBefore").is_some();
            let age = u64_at(c, "/age");
            let (days, noncurrent_days) = if noncurrent_only {
                let since = u64_at(c, "/daysSinceNoncurrentTime").or(age);
                // `numNewerVersions` alone deletes by count, not time.
                (None, since.filter(|_| c.get("noncurrentTimeBefore").is_none()))
            } else {
                (age, age)
            };
            if days.is_none() && noncurrent_days.is_none() {
                continue;
            }
            let unsure = [
                "createdBefore",
                "customTimeBefore",
                "daysSinceCustomTime",
                "matchesStorageClass",
            ]
            .into_iter()
            .find(|k| c.get(*k).is_some())
            .map(str::to_owned);
            let list = |key: &str| -> Vec<String> {
                c.get(key)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default()
            };
            let mut prefixes = list("matchesPrefix");
            if prefixes.is_empty() {
                prefixes.push(String::new());
            }
            for prefix in prefixes {
                self.expiries.push(Expiry {
                    id: format!("rule {i}"),
                    filter: Filter {
                        prefix,
                        suffixes: list("matchesSuffix"),
                        unsure: unsure.clone(),
                        ..Filter::default()
                    },
                    days,
                    noncurrent_days,
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
                filter: Filter {
                    prefix: str_at(rule, "/prefix").unwrap_or("").to_owned(),
                    tags: tags(rule.get("tags")),
                    ..Filter::default()
                },
                days: Some(days),
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
            size: None,
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
