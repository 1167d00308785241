//! `sealgate.retention`: is everything kept for a declared time that the rules
//! allow, and do the stores actually delete (or keep) it on time?
//!
//! Personal data is an entity (the artifact or a dataset) that says so:
//! `personal_data: true`, a non-empty `pii_columns`, a label in
//! `personal-labels` or a classification in `personal-classifications`.
//!
//! | rule | checks | reference |
//! |---|---|---|
//! | `retention.period.missing` | the artifact (`/retention/days`) and every dataset (`retention_days`) declare a retention period | GDPR Art. 5(1)(e), 30(1)(f) |
//! | `retention.personal-data.too-long` | personal data is kept at most `max-personal-days` (default 365; per classification in `max-personal-days-by-classification`) | GDPR Art. 5(1)(e) (no number: set yours) |
//! | `retention.purpose.missing` | personal data has a recorded purpose | GDPR Art. 5(1)(b), 30(1)(b) |
//! | `retention.legal-basis.missing` / `retention.legal-basis.unknown` | personal data has a legal basis, one of Art. 6(1)'s six | GDPR Art. 6(1), 30 |
//! | `retention.records.missing` / `retention.records.too-short` | an AI system's logs (`logs_days`) and lineage records (`lineage_days`) are kept at least `min-record-days` (default 183) | EU AI Act Art. 19(1), 26(6): at least six months |
//! | `retention.documentation.too-short` | a high-risk system's technical documentation is kept `min-documentation-days` (default 3650) | EU AI Act Art. 18(1): ten years |
//! | `retention.lifecycle.no-expiration` | a store holding personal data deletes it (and, when versioned, its old versions) by a lifecycle rule | GDPR Art. 5(1)(e) |
//! | `retention.lifecycle.too-long` | that rule does not keep personal data longer than declared or allowed | GDPR Art. 5(1)(e) |
//! | `retention.lifecycle.too-short` | no rule deletes anything before its declared retention or the record minimum | EU AI Act Art. 19 |
//! | `retention.object-lock.blocks-erasure` | a retention lock is not longer than what the locked data may be kept | GDPR Art. 17 |
//! | `retention.object-lock.invalid` | a lock has a mode (`GOVERNANCE`, `COMPLIANCE`) and a period | |
//! | `retention.storage.unmapped` | a store that does not say what it holds (no `holds`, no dataset or artifact URI in it) has bucket-wide settings that are lawful for any personal data of the document that may be there (severity: `unmapped-severity`) | GDPR Art. 5(1)(e), 17 |
//!
//! What a store holds comes from its `holds`, else from the document itself:
//! an artifact or dataset whose `uri` (or DVC `remote_uri`) lies in the
//! store's bucket is held at that key. A store with neither is judged by what is bucket-wide (a
//! default retention lock, lifecycle rules without a filter) against every
//! personal-data entity of the document, since any of them may be there;
//! what those settings cannot guarantee is `retention.storage.unmapped`,
//! never a silent pass.

mod stores;

use std::collections::BTreeMap;

use sealgate_policy_sdk::{
    Context, Metadata, Policy, PolicyInfo, Report, RuleInfo, Severity, deserialize_severity, export_policy,
};
use serde::Deserialize;
use serde_json::Value;

use stores::{Expiry, Held, StoreRetention};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Params {
    /// Longest retention of personal data, in days. Default 365.
    #[serde(default = "days_365")]
    max_personal_days: u64,
    /// Per-classification overrides of `max-personal-days`.
    #[serde(default)]
    max_personal_days_by_classification: BTreeMap<String, u64>,
    /// Labels that mark personal data. Default: pii, personal-data, gdpr.
    #[serde(default = "personal_labels")]
    personal_labels: Vec<String>,
    /// Classifications that always mean personal data. Default: none.
    #[serde(default)]
    personal_classifications: Vec<String>,
    /// Shortest retention of an AI system's logs and lineage records. Default 183.
    #[serde(default = "days_183")]
    min_record_days: u64,
    /// Shortest retention of a high-risk system's documentation. Default 3650.
    #[serde(default = "days_3650")]
    min_documentation_days: u64,
    /// Artifact kinds that are (part of) an AI system. Default: model.
    #[serde(default = "ai_system_kinds")]
    ai_system_kinds: Vec<String>,
    /// Severity of `retention.storage.unmapped`. Default high: personal
    /// data that may be kept too long fails the gate.
    #[serde(default = "high", deserialize_with = "deserialize_severity")]
    unmapped_severity: Severity,
}

fn high() -> Severity {
    Severity::High
}

fn days_365() -> u64 {
    365
}
fn days_183() -> u64 {
    183
}
fn days_3650() -> u64 {
    3650
}
fn personal_labels() -> Vec<String> {
    ["pii", "personal-data", "gdpr"].map(String::from).to_vec()
}
fn ai_system_kinds() -> Vec<String> {
    vec!["model".into()]
}

const PARAMS_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "max-personal-days": {"type": "integer", "minimum": 1, "default": 365},
    "max-personal-days-by-classification": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
    "personal-labels": {"type": "array", "items": {"type": "string"}, "default": ["pii", "personal-data", "gdpr"]},
    "personal-classifications": {"type": "array", "items": {"type": "string"}, "default": []},
    "min-record-days": {"type": "integer", "minimum": 0, "default": 183},
    "min-documentation-days": {"type": "integer", "minimum": 0, "default": 3650},
    "ai-system-kinds": {"type": "array", "items": {"type": "string"}, "default": ["model"]},
    "unmapped-severity": {"enum": ["info", "low", "medium", "high", "critical"], "default": "high"}
  }
}"#;

/// GDPR Art. 6(1)(a)–(f).
const LEGAL_BASES: [&str; 6] = [
    "consent",
    "contract",
    "legal-obligation",
    "vital-interests",
    "public-task",
    "legitimate-interests",
];

fn is_legal_basis(s: &str) -> bool {
    let norm = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    LEGAL_BASES.contains(&norm.as_str())
}

/// The artifact or one dataset, as far as retention is concerned.
struct Entity<'a> {
    label: String,
    pointer: String,
    /// Where its retention is (or should be) declared.
    retention_pointer: String,
    declared_days: Option<u64>,
    value: &'a Value,
}

impl Entity<'_> {
    fn classification(&self) -> Option<&str> {
        self.value.get("classification").and_then(Value::as_str)
    }

    fn is_personal(&self, params: &Params) -> bool {
        let v = self.value;
        v.get("personal_data").and_then(Value::as_bool) == Some(true)
            || v.get("pii_columns")
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty())
            || v.get("labels").and_then(Value::as_array).is_some_and(|ls| {
                ls.iter()
                    .filter_map(Value::as_str)
                    .any(|l| params.personal_labels.iter().any(|p| p.eq_ignore_ascii_case(l)))
            })
            || self
                .classification()
                .is_some_and(|c| params.personal_classifications.iter().any(|p| p == c))
    }

    /// Its size in bytes (`size_bytes`, DVC's `size`), when recorded.
    fn size(&self) -> Option<u64> {
        self.value.get("size_bytes").and_then(Value::as_u64)
    }

    /// The longest this personal data may be kept.
    fn personal_max(&self, params: &Params) -> u64 {
        self.classification()
            .and_then(|c| params.max_personal_days_by_classification.get(c))
            .copied()
            .unwrap_or(params.max_personal_days)
    }
}

fn entities(doc: &Metadata) -> Vec<Entity<'_>> {
    let mut out = Vec::new();
    if let Some(artifact) = doc.get("/artifact") {
        out.push(Entity {
            label: format!(
                "{} `{}`",
                doc.str("/artifact/kind").unwrap_or("artifact"),
                doc.str("/artifact/name").unwrap_or("?")
            ),
            pointer: "/artifact".into(),
            retention_pointer: "/retention/days".into(),
            declared_days: doc.get("/retention/days").and_then(Value::as_u64),
            value: artifact,
        });
    }
    for (ptr, ds) in doc.items("/datasets") {
        out.push(Entity {
            label: format!(
                "dataset `{}`",
                ds.get("name").and_then(Value::as_str).unwrap_or("?")
            ),
            retention_pointer: format!("{ptr}/retention_days"),
            declared_days: ds.get("retention_days").and_then(Value::as_u64),
            pointer: ptr,
            value: ds,
        });
    }
    out
}

/// Every rule this policy reports (its catalogue in `policy-info`).
const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "retention.period.missing",
        severity: Severity::High,
        summary: "the artifact or a dataset declares no retention period",
    },
    RuleInfo {
        id: "retention.personal-data.too-long",
        severity: Severity::High,
        summary: "personal data is kept longer than `max-personal-days`",
    },
    RuleInfo {
        id: "retention.purpose.missing",
        severity: Severity::High,
        summary: "personal data has no recorded purpose",
    },
    RuleInfo {
        id: "retention.legal-basis.missing",
        severity: Severity::High,
        summary: "personal data has no legal basis",
    },
    RuleInfo {
        id: "retention.legal-basis.unknown",
        severity: Severity::High,
        summary: "a legal basis is not one of GDPR Art. 6(1)'s six",
    },
    RuleInfo {
        id: "retention.records.missing",
        severity: Severity::High,
        summary: "an AI system declares no retention for its logs or lineage records",
    },
    RuleInfo {
        id: "retention.records.too-short",
        severity: Severity::High,
        summary: "logs or lineage records are kept less than `min-record-days`",
    },
    RuleInfo {
        id: "retention.documentation.too-short",
        severity: Severity::High,
        summary: "a high-risk system's technical documentation is kept less than `min-documentation-days`",
    },
    RuleInfo {
        id: "retention.lifecycle.no-expiration",
        severity: Severity::High,
        summary: "a store holding personal data has no lifecycle rule deleting it (or its old versions)",
    },
    RuleInfo {
        id: "retention.lifecycle.too-long",
        severity: Severity::High,
        summary: "a lifecycle rule keeps personal data longer than declared or allowed",
    },
    RuleInfo {
        id: "retention.lifecycle.too-short",
        severity: Severity::High,
        summary: "a lifecycle rule deletes data before its declared retention or the record minimum",
    },
    RuleInfo {
        id: "retention.object-lock.blocks-erasure",
        severity: Severity::High,
        summary: "a retention lock outlasts how long the locked data may be kept",
    },
    RuleInfo {
        id: "retention.object-lock.invalid",
        severity: Severity::Medium,
        summary: "a retention lock has no valid mode or period",
    },
    RuleInfo {
        id: "retention.storage.unmapped",
        severity: Severity::High,
        summary: "a store that does not say what it holds has settings unlawful for personal data that may be there (severity: `unmapped-severity`)",
    },
];

pub struct Retention;

impl Policy for Retention {
    type Params = Params;

    const INFO: PolicyInfo = PolicyInfo {
        id: "sealgate.retention",
        version: "0.1.0",
        summary: "Retention is declared and lawful (GDPR storage limitation, EU AI Act record-keeping), and storage enforces it.",
        params_schema: PARAMS_SCHEMA,
        rules: RULES,
    };

    fn validate(params: &Params) -> Result<(), String> {
        if params.max_personal_days == 0
            || params
                .max_personal_days_by_classification
                .values()
                .any(|d| *d == 0)
        {
            return Err("personal-data maximums must be at least one day".into());
        }
        Ok(())
    }

    fn evaluate(doc: &Metadata, params: &Params, _ctx: &Context) -> Result<Report, String> {
        let mut r = Report::new();
        let entities = entities(doc);
        for e in &entities {
            check_entity(doc, e, params, &mut r);
        }
        check_records(doc, params, &mut r);
        for (ptr, entry) in doc.items("/storage") {
            let mut store = StoreRetention::read(&ptr, entry);
            if store.holds.is_empty() {
                store.holds = held_by_uri(&store.location, &entities);
            }
            if store.holds.is_empty() {
                check_unmapped(&ptr, &store, &entities, params, &mut r);
                check_lock_valid(&store, &mut r);
            } else {
                check_store(doc, &store, &entities, params, &mut r);
            }
        }
        Ok(r)
    }
}

fn check_entity(doc: &Metadata, e: &Entity, params: &Params, r: &mut Report) {
    let Some(days) = e.declared_days else {
        r.finding(
            "retention.period.missing",
            Severity::High,
            &e.pointer,
            format!("{} declares no retention period", e.label),
            format!("declare how long it is kept, in days, at {}", e.retention_pointer),
        );
        return;
    };
    if !e.is_personal(params) {
        return;
    }
    let max = e.personal_max(params);
    if days > max {
        r.finding(
            "retention.personal-data.too-long",
            Severity::High,
            &e.retention_pointer,
            format!(
                "{} holds personal data and is kept {days} days, longer than the {max} allowed",
                e.label
            ),
            format!("shorten the retention to at most {max} days, or anonymise the data"),
        );
    }
    // The purpose and basis of this processing: the entity's own, else the
    // document's (the processing that produced the artifact).
    let own_or_doc = |field: &str| {
        e.value
            .get(field)
            .and_then(Value::as_str)
            .or_else(|| doc.str(&format!("/retention/{field}")))
            .filter(|s| !s.trim().is_empty())
    };
    if own_or_doc("purpose").is_none() {
        r.finding(
            "retention.purpose.missing",
            Severity::High,
            &e.pointer,
            format!("{} holds personal data but records no purpose", e.label),
            format!(
                "record why it is processed in {}/purpose (or /retention/purpose)",
                e.pointer
            ),
        );
    }
    match own_or_doc("legal_basis") {
        None => {
            r.finding(
                "retention.legal-basis.missing",
                Severity::High,
                &e.pointer,
                format!("{} holds personal data but records no legal basis", e.label),
                format!(
                    "record the GDPR Art. 6(1) basis in {}/legal_basis (or /retention/legal_basis)",
                    e.pointer
                ),
            );
        }
        Some(basis) if !is_legal_basis(basis) => {
            let at = if e.value.get("legal_basis").is_some() {
                format!("{}/legal_basis", e.pointer)
            } else {
                "/retention/legal_basis".into()
            };
            r.finding(
                "retention.legal-basis.unknown",
                Severity::High,
                &at,
                format!(
                    "legal basis `{basis}` of {} is not one of GDPR Art. 6(1)'s",
                    e.label
                ),
                format!("use one of {}", LEGAL_BASES.join(", ")),
            );
        }
        Some(_) => {}
    }
}

/// Records an AI system must keep: its logs and lineage records (Art. 19,
/// 26(6)), and, when high-risk, its technical documentation (Art. 18).
fn check_records(doc: &Metadata, params: &Params, r: &mut Report) {
    let kind = doc.str("/artifact/kind").unwrap_or("");
    if !params.ai_system_kinds.iter().any(|k| k == kind) {
        return;
    }
    for (field, what) in [("logs_days", "logs"), ("lineage_days", "lineage records")] {
        let ptr = format!("/retention/{field}");
        match doc.get(&ptr).and_then(Value::as_u64) {
            None => {
                r.finding(
                    "retention.records.missing",
                    Severity::High,
                    "/retention",
                    format!("the AI system's {what} have no declared retention"),
                    format!(
                        "declare at {ptr} how long they are kept (at least {} days)",
                        params.min_record_days
                    ),
                );
            }
            Some(d) if d < params.min_record_days => {
                r.finding(
                    "retention.records.too-short",
                    Severity::High,
                    &ptr,
                    format!(
                        "the AI system's {what} are kept {d} days, less than {}",
                        params.min_record_days
                    ),
                    format!(
                        "keep them at least {} days (EU AI Act: at least six months)",
                        params.min_record_days
                    ),
                );
            }
            Some(_) => {}
        }
    }
    if doc.get("/artifact/high_risk_system").and_then(Value::as_bool) == Some(true) {
        let ptr = "/retention/documentation_days";
        let days = doc.get(ptr).and_then(Value::as_u64);
        if days.is_none_or(|d| d < params.min_documentation_days) {
            r.finding(
                "retention.documentation.too-short",
                Severity::High,
                if days.is_some() { ptr } else { "/retention" },
                format!(
                    "the high-risk system's technical documentation is kept {}, less than {} days",
                    days.map_or("for no declared time".into(), |d| format!("{d} days")),
                    params.min_documentation_days
                ),
                format!(
                    "keep it {} days (EU AI Act Art. 18: ten years) at {ptr}",
                    params.min_documentation_days
                ),
            );
        }
    }
}

/// What a held item must satisfy: kept at least `floor` days, at most
/// `ceiling` days (personal data), with the reason for each.
struct Bounds {
    label: String,
    floor: Option<u64>,
    ceiling: Option<u64>,
    personal: bool,
}

/// The artifact or dataset a store says it holds: same kind, and the same
/// name when the holding names one.
fn entity_for<'e, 'a>(held: &Held, entities: &'e [Entity<'a>]) -> Option<&'e Entity<'a>> {
    entities.iter().find(|e| {
        let v = e.value;
        let name = v.get("name").and_then(Value::as_str);
        let kind_matches = if e.pointer.starts_with("/datasets/") {
            held.kind == "dataset"
        } else {
            v.get("kind").and_then(Value::as_str) == Some(held.kind.as_str())
        };
        kind_matches && (held.name.is_none() || held.name.as_deref() == name)
    })
}

fn bounds(doc: &Metadata, held: &Held, entities: &[Entity], params: &Params) -> Option<Bounds> {
    let record = |field: &str, min: u64, label: &str| {
        let declared = doc.get(&format!("/retention/{field}")).and_then(Value::as_u64);
        Some(Bounds {
            label: label.into(),
            floor: Some(declared.unwrap_or(0).max(min)),
            ceiling: None,
            personal: false,
        })
    };
    match held.kind.as_str() {
        "logs" => record("logs_days", params.min_record_days, "logs"),
        "lineage" => record("lineage_days", params.min_record_days, "lineage records"),
        "documentation" => record("documentation_days", 0, "technical documentation"),
        _ => {
            let e = entity_for(held, entities)?;
            let personal = e.is_personal(params);
            let ceiling = personal.then(|| {
                let max = e.personal_max(params);
                e.declared_days.map_or(max, |d| d.min(max))
            });
            Some(Bounds {
                label: e.label.clone(),
                // A declaration beyond the maximum is its own finding; the
                // store need only keep personal data up to the maximum.
                floor: e.declared_days.map(|d| ceiling.map_or(d, |c| d.min(c))),
                ceiling,
                personal,
            })
        }
    }
}

/// `s3://bucket/…` or `gs://bucket/…`: the bucket's root, `s3://bucket/`.
fn bucket_root(location: &str) -> Option<String> {
    let (scheme, rest) = location.split_once("://")?;
    let bucket = rest.split('/').next().filter(|b| !b.is_empty())?;
    Some(format!("{scheme}://{bucket}/"))
}

/// What the document itself says is in the store at `location`: each
/// artifact or dataset whose `uri` is an object of its bucket, held at that
/// key (the prefix lifecycle rules match).
fn held_by_uri(location: &str, entities: &[Entity]) -> Vec<Held> {
    let Some(root) = bucket_root(location) else {
        return vec![];
    };
    entities
        .iter()
        .filter_map(|e| {
            // Its own URI, or where DVC pushes it (`remote_uri`).
            let (field, key) = ["uri", "remote_uri"]
                .into_iter()
                .find_map(|f| Some((f, e.value.get(f).and_then(Value::as_str)?.strip_prefix(&root)?)))?;
            let is_dataset = e.pointer.starts_with("/datasets/");
            Some(Held {
                kind: if is_dataset {
                    "dataset".into()
                } else {
                    e.value.get("kind").and_then(Value::as_str).unwrap_or("?").into()
                },
                name: e.value.get("name").and_then(Value::as_str).map(str::to_owned),
                prefix: key.to_owned(),
                tags: BTreeMap::new(),
                size: e.size(),
                pointer: format!("{}/{field}", e.pointer),
            })
        })
        .collect()
}

/// A store that does not say what it holds: what is bucket-wide applies to
/// every object in it, so it is judged against each personal-data entity
/// of the document, any of which may be there. What it cannot guarantee is
/// a finding (never a pass for want of a mapping).
fn check_unmapped(ptr: &str, store: &StoreRetention, entities: &[Entity], params: &Params, r: &mut Report) {
    let loc = &store.location;
    // An object at the bucket's root with no tags: only rules without a
    // filter are sure to cover it.
    let anywhere = Held {
        kind: String::new(),
        name: None,
        prefix: String::new(),
        tags: BTreeMap::new(),
        size: None,
        pointer: ptr.to_owned(),
    };
    let (expiry, keeps_old_versions) = expiry_for(store, &anywhere);
    for e in entities.iter().filter(|e| e.is_personal(params)) {
        let max = e.personal_max(params);
        let max = e.declared_days.map_or(max, |d| d.min(max));
        let mut problems = Vec::new();
        match expiry {
            None => problems.push("no lifecycle rule without a filter deletes what it holds".to_owned()),
            Some((x, days)) if days > max => problems.push(format!(
                "its bucket-wide rule `{}` deletes objects after {days} days",
                x.id
            )),
            Some(_) if keeps_old_versions => {
                problems.push("it is versioned and no bucket-wide rule deletes old versions".to_owned());
            }
            Some(_) => {}
        }
        if let Some(days) = store.lock.as_ref().and_then(|l| l.days)
            && days > max
        {
            problems.push(format!("it locks every object for {days} days"));
        }
        if problems.is_empty() {
            continue;
        }
        r.finding(
            "retention.storage.unmapped",
            params.unmapped_severity,
            ptr,
            format!(
                "`{loc}` does not say what it holds, and {}, personal data to be kept at most {max} days, may be there: {}",
                e.label,
                problems.join("; ")
            ),
            format!(
                "say what the store holds ({ptr}/holds with prefixes, or the data's `uri` in the bucket), \
                 or make its bucket-wide settings lawful for personal data (expire within {max} days, no longer lock)"
            ),
        );
    }
}

/// The rule that deletes `held` first (S3 and GCS apply the earliest of
/// overlapping expirations) with its days, and whether old versions of it
/// are kept for ever (the store is versioned and no rule that surely
/// covers it deletes noncurrent versions).
fn expiry_for<'s>(store: &'s StoreRetention, held: &Held) -> (Option<(&'s Expiry, u64)>, bool) {
    let covering = || store.expiries.iter().filter(|x| x.covers(held));
    let first = covering()
        .filter_map(|x| Some((x, x.days?)))
        .min_by_key(|(_, days)| *days);
    let keeps_old_versions = store.versioned && !covering().any(|x| x.noncurrent_days.is_some());
    (first, keeps_old_versions)
}

/// The size of a held item: its own `size_bytes`, else its entity's.
fn with_size(held: &Held, entities: &[Entity]) -> Option<u64> {
    held.size
        .or_else(|| entity_for(held, entities).and_then(Entity::size))
}

fn check_store(doc: &Metadata, store: &StoreRetention, entities: &[Entity], params: &Params, r: &mut Report) {
    let loc = &store.location;
    for held in &store.holds {
        let Some(b) = bounds(doc, held, entities, params) else {
            continue;
        };
        let held = &Held {
            size: with_size(held, entities),
            ..held.clone()
        };
        let (expiry, keeps_old_versions) = expiry_for(store, held);
        match (expiry, b.ceiling) {
            (None, Some(_)) => {
                // Name the rules that might have applied, and why they do not count.
                let missed: Vec<String> = store
                    .expiries
                    .iter()
                    .filter(|x| x.days.is_some())
                    .filter_map(|x| Some(format!("rule `{}` {}", x.id, x.filter.misses(held)?)))
                    .collect();
                let why = if missed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", missed.join("; "))
                };
                r.finding(
                    "retention.lifecycle.no-expiration",
                    Severity::High,
                    &held.pointer,
                    format!(
                        "`{loc}` holds {}, personal data, but no lifecycle rule surely deletes it{why}",
                        b.label
                    ),
                    "add a lifecycle expiration rule covering its prefix, no longer than its declared retention",
                );
            }
            (Some((x, days)), ceiling) => {
                if let Some(max) = ceiling
                    && days > max
                {
                    r.finding(
                        "retention.lifecycle.too-long",
                        Severity::High,
                        &x.pointer,
                        format!(
                            "lifecycle rule `{}` on `{loc}` keeps {} {days} days, longer than the {max} allowed",
                            x.id, b.label
                        ),
                        format!("expire it after at most {max} days"),
                    );
                }
                if let Some(min) = b.floor
                    && days < min
                {
                    r.finding(
                        "retention.lifecycle.too-short",
                        Severity::High,
                        &x.pointer,
                        format!("lifecycle rule `{}` on `{loc}` deletes {} after {days} days, before the {min} it must be kept", x.id, b.label),
                        format!("expire it no sooner than {min} days"),
                    );
                }
                if b.personal && keeps_old_versions {
                    r.finding(
                        "retention.lifecycle.no-expiration",
                        Severity::High,
                        &x.pointer,
                        format!("`{loc}` is versioned and no rule covering {} deletes its old versions (rule `{}` deletes current ones only), so deleted personal data is kept", b.label, x.id),
                        "add a noncurrent-version expiration (S3 NoncurrentVersionExpiration; GCS daysSinceNoncurrentTime) covering it",
                    );
                }
            }
            (None, None) => {}
        }
        if let Some(lock) = &store.lock
            && let (Some(days), Some(max)) = (lock.days, b.ceiling)
            && days > max
        {
            r.finding(
                "retention.object-lock.blocks-erasure",
                Severity::High,
                &lock.pointer,
                format!("`{loc}` locks objects for {days} days, so {} cannot be erased after the {max} it may be kept", b.label),
                format!("lower the default retention lock to at most {max} days, or keep personal data in an unlocked store"),
            );
        }
    }
    check_lock_valid(store, r);
}

/// A lock without a mode or a period is its own finding, whatever the store
/// holds (or whether it says).
fn check_lock_valid(store: &StoreRetention, r: &mut Report) {
    let loc = &store.location;
    if let Some(lock) = &store.lock {
        let mode_ok = matches!(
            lock.mode.as_str(),
            "GOVERNANCE" | "COMPLIANCE" | "retention-policy"
        );
        if !mode_ok || lock.days.is_none() {
            r.finding(
                "retention.object-lock.invalid",
                Severity::Medium,
                &lock.pointer,
                format!(
                    "`{loc}` has a retention lock without a valid mode and period (mode `{}`)",
                    lock.mode
                ),
                "set the default retention's Mode to GOVERNANCE or COMPLIANCE and its Days or Years",
            );
        }
    }
}

export_policy!(Retention);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_bases_are_gdpr_article_6() {
        assert!(is_legal_basis("legitimate-interests"));
        assert!(is_legal_basis("Legal obligation"));
        assert!(is_legal_basis("public_task"));
        assert!(!is_legal_basis("business need"));
    }
}
