//! The canonical artifact metadata document sealgate evaluates.
//!
//! One JSON object (`api_version: "sealgate/metadata/v1"`) describing the
//! artifact, its schema, datasets, storage, retention, lineage and attached
//! reports. See `docs/metadata.md` and `schemas/metadata-v1.schema.json`.
//!
//! This crate reads it safely: bounded size, bounded nesting (checked before
//! parsing, so a 100 000-deep file costs one linear scan), UTF-8, and the
//! structural rules every policy may rely on, each violation reported with
//! its JSON Pointer.
#![deny(missing_docs)]

use std::path::Path;

use sealgate_core::{InputError, Sha256Digest, read_bounded};
use serde_json::Value;

/// The version of the document format this build reads.
pub const API_VERSION: &str = "sealgate/metadata/v1";

/// Artifact kinds the format knows.
pub const ARTIFACT_KINDS: &[&str] = &["model", "dataset", "image", "pipeline", "other"];

/// Caps on what a metadata document may cost to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetadataLimits {
    /// Largest file in bytes. Default: 16 MiB (a model with 1 000 columns and
    /// full lineage is under 1 MiB).
    pub max_bytes: u64,
    /// Deepest nesting of arrays and objects. Default: 64 (the format itself
    /// needs 8; policies' JSON parsers stop at 128).
    pub max_depth: usize,
}

impl MetadataLimits {
    /// This, with `max_bytes` set.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// This, with `max_depth` set.
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }
}

impl Default for MetadataLimits {
    fn default() -> Self {
        Self {
            max_bytes: 16 << 20,
            max_depth: 64,
        }
    }
}

/// Why a metadata document was refused. Every variant names its origin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] InputError),
    /// The bytes are not UTF-8.
    #[error("{origin}: not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Where it came from.
        origin: String,
        /// First bad byte.
        offset: usize,
    },
    /// The bytes are too large.
    #[error("{origin}: {bytes} bytes is larger than the {limit}-byte limit for metadata")]
    TooLarge {
        /// Where it came from.
        origin: String,
        /// Its size.
        bytes: usize,
        /// The cap.
        limit: u64,
    },
    /// Nested deeper than allowed.
    #[error("{origin}: nested deeper than {limit} levels (at byte {offset}); refusing to parse it")]
    TooDeep {
        /// Where it came from.
        origin: String,
        /// The cap.
        limit: usize,
        /// Where the limit was crossed.
        offset: usize,
    },
    /// Not JSON.
    #[error("{origin}: invalid JSON: {message}")]
    Json {
        /// Where it came from.
        origin: String,
        /// serde_json's message, with line and column.
        message: String,
    },
    /// The document describes another artifact than the one evaluated for:
    /// its `/artifact/digest/sha256` is not the artifact's.
    #[error(
        "{origin}: describes the artifact sha256:{declared} (/artifact/digest/sha256), but the \
         artifact evaluated is sha256:{artifact}; give the metadata of this artifact, or the \
         artifact this metadata describes"
    )]
    DescribesAnotherArtifact {
        /// Where it came from.
        origin: String,
        /// The digest the document declares.
        declared: String,
        /// The artifact's digest.
        artifact: Sha256Digest,
    },
    /// JSON, but not a valid metadata document; every problem is listed.
    #[error("{origin}: not a valid sealgate metadata document: {}", problems.join("; "))]
    Invalid {
        /// Where it came from.
        origin: String,
        /// `pointer: problem` lines.
        problems: Vec<String>,
    },
}

/// A metadata document that passed every check.
#[derive(Debug, Clone)]
pub struct MetadataDocument {
    text: String,
    value: Value,
    sha256: Sha256Digest,
    origin: String,
}

impl MetadataDocument {
    /// Read and check a metadata file.
    ///
    /// # Errors
    ///
    /// A [`MetadataError`]: the file unreadable or over `limits`, not UTF-8 or JSON, too deep, or breaking the structure policies rely on (every problem listed).
    pub fn load(path: &Path, limits: &MetadataLimits) -> Result<Self, MetadataError> {
        let bytes = read_bounded(path, limits.max_bytes)?;
        Self::from_bytes(&path.display().to_string(), bytes, limits)
    }

    /// Check a document held in memory. `origin` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`MetadataDocument::load`], the bytes named by `origin`.
    pub fn from_bytes(origin: &str, bytes: Vec<u8>, limits: &MetadataLimits) -> Result<Self, MetadataError> {
        let origin = origin.to_owned();
        if bytes.len() as u64 > limits.max_bytes {
            return Err(MetadataError::TooLarge {
                origin,
                bytes: bytes.len(),
                limit: limits.max_bytes,
            });
        }
        let sha256 = Sha256Digest::of_bytes(&bytes);
        let text = String::from_utf8(bytes).map_err(|e| MetadataError::NotUtf8 {
            origin: origin.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        check_depth(&text, limits.max_depth).map_err(|offset| MetadataError::TooDeep {
            origin: origin.clone(),
            limit: limits.max_depth,
            offset,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| MetadataError::Json {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        let problems = structural_problems(&value);
        if !problems.is_empty() {
            return Err(MetadataError::Invalid { origin, problems });
        }
        Ok(Self {
            text,
            value,
            sha256,
            origin,
        })
    }

    /// The exact text, as handed to policies.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed document.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// SHA-256 of the exact bytes.
    pub fn sha256(&self) -> &Sha256Digest {
        &self.sha256
    }

    /// Where it came from (a path, or what the caller said).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Refuse to evaluate this document for an artifact it does not
    /// describe: when it declares `/artifact/digest/sha256`, that must be
    /// `artifact`. (A verdict signed for one file on the metadata of another
    /// would be a PASSED nobody earned; `resourceUri` comes from here too.)
    /// A document that declares no sha256 (an image's, a hand-written one)
    /// describes whatever it is evaluated for.
    ///
    /// # Errors
    ///
    /// [`MetadataError::DescribesAnotherArtifact`], naming both digests.
    pub fn check_describes(&self, artifact: &Sha256Digest) -> Result<(), MetadataError> {
        let Some(declared) = self.value.pointer("/artifact/digest/sha256") else {
            return Ok(());
        };
        let declared = declared.as_str().unwrap_or_default();
        if declared.eq_ignore_ascii_case(&artifact.to_string()) {
            return Ok(());
        }
        Err(MetadataError::DescribesAnotherArtifact {
            origin: self.origin.clone(),
            declared: declared.to_owned(),
            artifact: *artifact,
        })
    }

    /// The artifact's `uri`, if given.
    pub fn artifact_uri(&self) -> Option<&str> {
        self.value.pointer("/artifact/uri").and_then(Value::as_str)
    }
}

/// Scan for nesting depth without parsing, so hostile depth never reaches a
/// recursive parser. Returns the byte offset where the limit is crossed.
fn check_depth(text: &str, max_depth: usize) -> Result<(), usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The rules policies rely on. Sections are optional; when present they must
/// have the right shape, so a policy never mistakes a wrong type for absence.
fn structural_problems(doc: &Value) -> Vec<String> {
    let Some(root) = doc.as_object() else {
        return vec![format!("(root): must be an object, found {}", type_name(doc))];
    };
    let mut problems = Vec::new();
    header_problems(root, &mut problems);
    section_type_problems(doc, &mut problems);
    item_problems(doc, &mut problems);
    evidence_problems(doc, &mut problems);
    problems
}

/// `/api_version` and `/artifact`: what every document has.
fn header_problems(root: &serde_json::Map<String, Value>, problems: &mut Vec<String>) {
    match root.get("api_version").and_then(Value::as_str) {
        Some(API_VERSION) => {}
        Some(other) => problems.push(format!(
            "/api_version: is `{other}`; this sealgate reads `{API_VERSION}`"
        )),
        None => problems.push(format!("/api_version: missing; set it to \"{API_VERSION}\"")),
    }
    match root.get("artifact") {
        None => problems.push("/artifact: missing; every document describes one artifact".into()),
        Some(a) if !a.is_object() => {
            problems.push(format!("/artifact: must be an object, found {}", type_name(a)))
        }
        Some(a) => {
            match a.get("kind").and_then(Value::as_str) {
                Some(k) if ARTIFACT_KINDS.contains(&k) => {}
                Some(k) => problems.push(format!(
                    "/artifact/kind: `{k}` is not one of {}",
                    ARTIFACT_KINDS.join(", ")
                )),
                None => problems.push("/artifact/kind: missing (a string)".into()),
            }
            if !a.get("name").is_some_and(Value::is_string) {
                problems.push("/artifact/name: missing (a string)".into());
            }
        }
    }
}

/// Each optional section, when present, is of its type.
fn section_type_problems(doc: &Value, problems: &mut Vec<String>) {
    for (pointer, want, what) in [
        (
            "/artifact/digest",
            Value::is_object as fn(&Value) -> bool,
            "an object of algorithm to hex digest",
        ),
        ("/artifact/version", Value::is_string, "a string"),
        ("/artifact/uri", Value::is_string, "a string"),
        ("/artifact/tags", Value::is_object, "an object"),
        ("/schema", Value::is_object, "an object"),
        ("/schema/inputs", Value::is_array, "an array of columns"),
        ("/schema/outputs", Value::is_array, "an array of columns"),
        ("/samples", Value::is_array, "an array"),
        ("/datasets", Value::is_array, "an array"),
        ("/storage", Value::is_array, "an array"),
        ("/retention", Value::is_object, "an object"),
        ("/retention/days", Value::is_u64, "a whole number of days"),
        ("/retention/logs_days", Value::is_u64, "a whole number of days"),
        ("/retention/lineage_days", Value::is_u64, "a whole number of days"),
        (
            "/retention/documentation_days",
            Value::is_u64,
            "a whole number of days",
        ),
        ("/platform", Value::is_object, "an object"),
        ("/lineage", Value::is_object, "an object"),
        ("/lineage/inputs", Value::is_array, "an array"),
        ("/lineage/parameters", Value::is_object, "an object"),
        ("/reports", Value::is_object, "an object"),
        ("/sources", Value::is_array, "an array"),
    ] {
        if let Some(v) = doc.pointer(pointer).filter(|v| !want(v)) {
            problems.push(format!("{pointer}: must be {what}, found {}", type_name(v)));
        }
    }
}

/// The items of the lists policies walk: columns, datasets, stores and
/// samples have the fields they are read by; classifications are known.
fn item_problems(doc: &Value, problems: &mut Vec<String>) {
    for list in ["/schema/inputs", "/schema/outputs"] {
        for (i, col) in doc
            .pointer(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if !col.get("name").is_some_and(Value::is_string) {
                problems.push(format!(
                    "{list}/{i}: a column must be an object with a string `name`"
                ));
            }
        }
    }
    for (i, ds) in doc
        .pointer("/datasets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !ds.get("name").is_some_and(Value::is_string) {
            problems.push(format!(
                "/datasets/{i}: a dataset must be an object with a string `name`"
            ));
        }
        if ds.get("columns").is_some_and(|c| !c.is_array()) {
            problems.push(format!("/datasets/{i}/columns: must be an array"));
        }
        if let Some(v) = ds.get("retention_days").filter(|v| !v.is_u64()) {
            problems.push(format!(
                "/datasets/{i}/retention_days: must be a whole number of days, found {}",
                type_name(v)
            ));
        }
    }
    // A classification policies do not know must not read as "no
    // requirement": only the four levels are accepted.
    let classifications = std::iter::once("/artifact/classification".to_owned())
        .chain(indexed(doc, "/datasets").map(|i| format!("/datasets/{i}/classification")))
        .chain(indexed(doc, "/storage").map(|i| format!("/storage/{i}/classification")));
    for pointer in classifications {
        if let Some(v) = doc.pointer(&pointer)
            && !v.as_str().is_some_and(|c| CLASSIFICATIONS.contains(&c))
        {
            problems.push(format!(
                "{pointer}: must be one of {}, found {v}",
                CLASSIFICATIONS.join(", ")
            ));
        }
    }
    for (i, store) in doc
        .pointer("/storage")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !store.is_object() {
            problems.push(format!(
                "/storage/{i}: a store must be an object, found {}",
                type_name(store)
            ));
        } else if store.get("holds").is_some_and(|h| !h.is_array()) {
            problems.push(format!("/storage/{i}/holds: must be an array"));
        }
    }
    for (i, s) in doc
        .pointer("/samples")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !s.get("data").is_some_and(Value::is_array) {
            problems.push(format!(
                "/samples/{i}: a sample must have `data`, an array of rows"
            ));
        }
    }
}

/// Most `/evidence` entries a document may carry (a collect run reads tens).
pub const MAX_EVIDENCE_ENTRIES: usize = 1000;

/// Longest `/evidence/*/path`, and longest `tool`.
const MAX_EVIDENCE_PATH_BYTES: usize = 4096;
const MAX_EVIDENCE_TOOL_BYTES: usize = 64;

/// `/evidence` is copied into every report (and so into signed statements and
/// server answers): it must be exactly what the schema says, flat and bounded,
/// so a document cannot smuggle an arbitrarily nested or large value through it.
fn evidence_problems(doc: &Value, problems: &mut Vec<String>) {
    let Some(evidence) = doc.get("evidence") else {
        return;
    };
    let Some(entries) = evidence.as_array() else {
        problems.push(format!(
            "/evidence: must be an array, found {}",
            type_name(evidence)
        ));
        return;
    };
    if entries.len() > MAX_EVIDENCE_ENTRIES {
        problems.push(format!(
            "/evidence: {} entries; at most {MAX_EVIDENCE_ENTRIES} are accepted",
            entries.len()
        ));
        return;
    }
    for (i, entry) in entries.iter().enumerate() {
        let Some(fields) = entry.as_object() else {
            problems.push(format!(
                "/evidence/{i}: must be an object, found {}",
                type_name(entry)
            ));
            continue;
        };
        for (key, value) in fields {
            let ok = match (key.as_str(), value) {
                ("path", Value::String(p)) => !p.is_empty() && p.len() <= MAX_EVIDENCE_PATH_BYTES,
                ("tool", Value::String(t)) => t.len() <= MAX_EVIDENCE_TOOL_BYTES,
                ("sha256", Value::String(h)) => {
                    h.len() == 64
                        && h.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                }
                _ => false,
            };
            if !ok {
                problems.push(format!(
                    "/evidence/{i}/{}: must be `path` (a string of at most {MAX_EVIDENCE_PATH_BYTES} bytes), \
                     `sha256` (64 lowercase hex digits) or `tool` (at most {MAX_EVIDENCE_TOOL_BYTES} bytes)",
                    key.replace('~', "~0").replace('/', "~1").escape_debug()
                ));
            }
        }
        for required in ["path", "sha256"] {
            if !fields.contains_key(required) {
                problems.push(format!("/evidence/{i}/{required}: missing"));
            }
        }
    }
}

/// Data classifications, lowest first (docs/metadata.md).
pub const CLASSIFICATIONS: [&str; 4] = ["public", "internal", "confidential", "restricted"];

/// The indices of the array at `pointer` (none if absent or not an array).
fn indexed<'a>(doc: &'a Value, pointer: &str) -> impl Iterator<Item = usize> + 'a {
    0..doc.pointer(pointer).and_then(Value::as_array).map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<MetadataDocument, MetadataError> {
        MetadataDocument::from_bytes("m.json", text.as_bytes().to_vec(), &MetadataLimits::default())
    }

    const MINIMAL: &str = r#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":"m"}}"#;

    #[test]
    fn accepts_a_minimal_document_and_hashes_exact_bytes() {
        let doc = load(MINIMAL).unwrap();
        assert_eq!(doc.sha256(), &Sha256Digest::of_bytes(MINIMAL.as_bytes()));
        assert_eq!(doc.text(), MINIMAL);
    }

    #[test]
    fn names_every_structural_problem_with_its_pointer() {
        let err = load(
            r#"{"api_version":"sealgate/metadata/v0","artifact":{"kind":"car"},
                "schema":{"inputs":[{"type":"long"}]},"retention":{"days":"forever","logs_days":-1},
                "datasets":[{"name":"d","retention_days":"365","classification":"Secret"}],"storage":["s3://bucket"]}"#,
        )
        .unwrap_err();
        let msg = err.to_string();
        for needle in [
            "/api_version",
            "/artifact/kind",
            "/artifact/name",
            "/schema/inputs/0",
            "/retention/days",
            "/retention/logs_days",
            "/datasets/0/retention_days",
            "/datasets/0/classification: must be one of public, internal, confidential, restricted, found \"Secret\"",
            "/storage/0: a store must be an object",
        ] {
            assert!(msg.contains(needle), "{needle} missing from: {msg}");
        }
    }

    #[test]
    fn refuses_deep_nesting_before_parsing() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = load(&deep).unwrap_err();
        assert!(
            matches!(
                err,
                MetadataError::TooDeep {
                    limit: 64,
                    offset: 64,
                    ..
                }
            ),
            "{err}"
        );
        // Brackets inside strings do not count.
        let in_string = format!(
            r#"{{"api_version":"sealgate/metadata/v1","artifact":{{"kind":"model","name":"{}"}}}}"#,
            "[".repeat(1000)
        );
        load(&in_string).unwrap();
    }

    #[test]
    fn refuses_non_utf8_non_json_and_non_objects() {
        let err = MetadataDocument::from_bytes(
            "m.json",
            b"{\"a\": \"\xff\"}".to_vec(),
            &MetadataLimits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, MetadataError::NotUtf8 { offset: 7, .. }), "{err}");
        assert!(
            load("{")
                .unwrap_err()
                .to_string()
                .starts_with("m.json: invalid JSON")
        );
        assert!(load("[]").unwrap_err().to_string().contains("must be an object"));
        assert!(load("").unwrap_err().to_string().contains("invalid JSON"));
    }

    #[test]
    fn refuses_oversized_input() {
        let limits = MetadataLimits {
            max_bytes: 10,
            max_depth: 64,
        };
        let err = MetadataDocument::from_bytes("m.json", MINIMAL.as_bytes().to_vec(), &limits).unwrap_err();
        assert!(matches!(err, MetadataError::TooLarge { .. }), "{err}");
    }
}
