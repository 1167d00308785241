//! One file, many records: DVC, MLflow and OpenLineage may each describe a
//! file the model was trained on. Records are kept side by side, never
//! merged into one, and join only on evidence:
//!
//! - the **same path** (a URI ending in the project path DVC records, never
//!   a base name alone) puts DVC's hash *beside* the record (`dvc_hash`),
//!   for the lineage policy to compare; it never becomes the record's own
//!   `hash`, since nothing says the record's run read that version;
//! - the same path **and the same content hash** make the records one file:
//!   DVC's annotations (`meta`: classification, retention, purpose, legal
//!   basis, personal columns; labels) reach the other record, each copied
//!   fact naming where it came from in `fact_sources`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Facts a DVC record's annotations state about the file itself.
const FACTS: [&str; 4] = ["classification", "retention_days", "purpose", "legal_basis"];
/// Lists that gather from every record of the file.
const LISTS: [&str; 2] = ["pii_columns", "labels"];

/// Whether `uri` (a record's URI or name) is the project path `path`: the
/// same, or an absolute or remote form ending in it.
pub(crate) fn same_path(uri: &str, path: &str) -> bool {
    let uri = uri.strip_prefix("file://").unwrap_or(uri);
    !path.is_empty() && (uri == path || uri.ends_with(&format!("/{path}")))
}

/// The content hash DVC records for the file at `uri`: the paths
/// [`same_path`] accepts are `uri` and its suffixes after a `/`, looked up
/// longest (most specific) first, so the cost is the URI's depth, not the
/// number of files DVC hashes.
pub(crate) fn dvc_hash<'a>(hashes: &'a BTreeMap<String, String>, uri: &str) -> Option<&'a String> {
    let uri = uri.strip_prefix("file://").unwrap_or(uri);
    std::iter::once(uri)
        .chain(uri.match_indices('/').map(|(i, _)| &uri[i + 1..]))
        .filter(|p| !p.is_empty())
        .find_map(|p| hashes.get(p))
}

/// A record's own md5, if it has one.
fn own_md5(record: &Value) -> Option<&str> {
    record.pointer("/hash/md5").and_then(Value::as_str)
}

/// The names a record gives its file: its `uri`, `path` and `name`.
fn names(record: &Value) -> impl Iterator<Item = &str> {
    ["uri", "path", "name"]
        .into_iter()
        .filter_map(|k| record.get(k).and_then(Value::as_str))
}

/// Put DVC's hash for the same path beside `record` (`dvc_hash`).
pub(crate) fn note_dvc_hash(record: &mut Value, hashes: &BTreeMap<String, String>) {
    let found = names(record).find_map(|n| dvc_hash(hashes, n)).cloned();
    if let Some(md5) = found {
        record["dvc_hash"] = json!({ "md5": md5 });
    }
}

/// Copy the annotations of the DVC record of the same file (same path,
/// same md5) into `record`, where it states none of its own.
pub(crate) fn share_dvc_facts(record: &mut Value, dvc_datasets: &[Value]) {
    let Some(md5) = own_md5(record) else { return };
    let Some(dvc) = dvc_datasets.iter().find(|d| {
        own_md5(d) == Some(md5)
            && d.get("path")
                .and_then(Value::as_str)
                .is_some_and(|p| names(record).any(|n| same_path(n, p)))
    }) else {
        return;
    };
    let origin = dvc
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or("dvc")
        .to_owned();
    let mut sources = record
        .get("fact_sources")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let copy = |record: &mut Value, key: &str, value: Value, sources: &mut Map<String, Value>| {
        record[key] = value;
        sources.insert(key.into(), json!(origin));
    };
    for key in FACTS {
        if record.get(key).is_none()
            && let Some(v) = dvc.get(key)
        {
            copy(record, key, v.clone(), &mut sources);
        }
    }
    for key in LISTS {
        let mut merged: Vec<Value> = record
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let before = merged.len();
        for v in dvc.get(key).and_then(Value::as_array).into_iter().flatten() {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        if merged.len() > before {
            copy(record, key, Value::Array(merged), &mut sources);
        }
    }
    if !sources.is_empty() {
        record["fact_sources"] = Value::Object(sources);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes() -> BTreeMap<String, String> {
        BTreeMap::from([(
            "data/customers.csv".to_owned(),
            "04f1fe7337c75fba118ed4fac9249ab2".to_owned(),
        )])
    }

    fn dvc_record() -> Value {
        json!({"name": "customers.csv", "path": "data/customers.csv",
            "hash": {"md5": "04f1fe7337c75fba118ed4fac9249ab2"},
            "classification": "confidential", "pii_columns": ["email"],
            "source": "data/customers.csv.dvc"})
    }

    #[test]
    fn a_path_puts_dvc_hash_beside_never_in_hash() {
        let mut by_path = json!({"name": "customers", "uri": "file:///srv/churn/data/customers.csv"});
        note_dvc_hash(&mut by_path, &hashes());
        assert_eq!(by_path["dvc_hash"]["md5"], "04f1fe7337c75fba118ed4fac9249ab2");
        assert!(by_path.get("hash").is_none());
        // The most specific of two DVC paths a URI ends in.
        let mut both = hashes();
        both.insert("customers.csv".into(), "0".repeat(32));
        let mut nested = json!({"uri": "s3://b/data/customers.csv"});
        note_dvc_hash(&mut nested, &both);
        assert_eq!(nested["dvc_hash"]["md5"], "04f1fe7337c75fba118ed4fac9249ab2");
        // A base name alone is another file.
        let mut elsewhere = json!({"name": "customers", "uri": "other/customers.csv"});
        note_dvc_hash(&mut elsewhere, &hashes());
        assert!(elsewhere.get("dvc_hash").is_none());
        // A path alone shares no annotation.
        share_dvc_facts(&mut by_path, &[dvc_record()]);
        assert!(by_path.get("classification").is_none(), "{by_path}");
    }

    #[test]
    fn the_same_path_and_hash_share_annotations_with_their_source() {
        let mut same = json!({"name": "customers", "uri": "data/customers.csv",
            "hash": {"md5": "04f1fe7337c75fba118ed4fac9249ab2"}, "pii_columns": ["contact"]});
        share_dvc_facts(&mut same, &[dvc_record()]);
        assert_eq!(same["classification"], "confidential");
        assert_eq!(same["pii_columns"], json!(["contact", "email"]));
        assert_eq!(
            same["fact_sources"],
            json!({"classification": "data/customers.csv.dvc", "pii_columns": "data/customers.csv.dvc"})
        );
        // Another version of the same path: nothing shared.
        let mut other = json!({"name": "customers", "uri": "data/customers.csv",
            "hash": {"md5": "9e107d9d372bb6826bd81d3542a419d6"}});
        share_dvc_facts(&mut other, &[dvc_record()]);
        assert!(other.get("classification").is_none());
        // A record's own statement is kept, not overwritten.
        let mut own = json!({"name": "customers", "uri": "data/customers.csv",
            "hash": {"md5": "04f1fe7337c75fba118ed4fac9249ab2"}, "classification": "restricted"});
        share_dvc_facts(&mut own, &[dvc_record()]);
        assert_eq!(own["classification"], "restricted");
        assert_eq!(
            own["fact_sources"],
            json!({"pii_columns": "data/customers.csv.dvc"})
        );
    }
}
