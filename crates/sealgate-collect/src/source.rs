//! Reading source files: bounded, hashed for the evidence list, parsed with
//! errors that name the file and the field.

use std::path::{Path, PathBuf};

use sealgate_core::{InputError, Sha256Digest, read_bounded};
use serde_json::Value;

use crate::CollectError;

/// Largest source file read (a drift report with distributions is the
/// biggest real one: tens of KiB; MLflow metric histories can grow).
pub const MAX_SOURCE_BYTES: u64 = 16 * 1024 * 1024;

/// One file the document was built from: where (relative to where collect
/// ran, as given) and its sha256, so an attestation can name its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The path as the user would type it (relative when under `base`).
    pub path: String,
    /// sha256 of the exact bytes read.
    pub sha256: Sha256Digest,
    /// The tool that wrote it (`dvc`, `mlflow`, `evidently`, `s3`, ...).
    pub tool: &'static str,
}

impl Evidence {
    pub(crate) fn to_json(&self) -> Value {
        serde_json::json!({"path": self.path, "sha256": self.sha256.to_string(), "tool": self.tool})
    }
}

/// Reads files and records each one as evidence.
pub(crate) struct Reader {
    base: PathBuf,
    pub evidence: Vec<Evidence>,
}

/// A parsed source file, for field errors that name it.
pub(crate) struct Parsed {
    pub shown: String,
    pub value: Value,
}

impl Reader {
    pub fn new(base: &Path) -> Self {
        Reader {
            base: base.to_owned(),
            evidence: Vec::new(),
        }
    }

    /// `path` as shown in messages and evidence: relative to the base when under it.
    pub fn shown(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.base).unwrap_or(path);
        rel.to_string_lossy().replace('\\', "/")
    }

    /// Read and record a file.
    pub fn bytes(&mut self, path: &Path, tool: &'static str) -> Result<Vec<u8>, CollectError> {
        let bytes = read_bounded(path, MAX_SOURCE_BYTES).map_err(|e| match e {
            InputError::Io { source, .. } => CollectError::Unreadable {
                path: self.shown(path),
                reason: source.to_string(),
            },
            other => CollectError::Input(other),
        })?;
        self.evidence.push(Evidence {
            path: self.shown(path),
            sha256: Sha256Digest::of_bytes(&bytes),
            tool,
        });
        Ok(bytes)
    }

    pub fn text(&mut self, path: &Path, tool: &'static str) -> Result<String, CollectError> {
        let bytes = self.bytes(path, tool)?;
        String::from_utf8(bytes).map_err(|e| CollectError::Malformed {
            path: self.shown(path),
            problem: format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        })
    }

    pub fn json(&mut self, path: &Path, tool: &'static str) -> Result<Parsed, CollectError> {
        let text = self.text(path, tool)?;
        let shown = self.shown(path);
        let value = serde_json::from_str(&text).map_err(|e| CollectError::Malformed {
            path: shown.clone(),
            problem: format!("invalid JSON: {e}"),
        })?;
        Ok(Parsed { shown, value })
    }

    pub fn yaml(&mut self, path: &Path, tool: &'static str) -> Result<Parsed, CollectError> {
        let text = self.text(path, tool)?;
        let shown = self.shown(path);
        let value = parse_yaml(&text).map_err(|problem| CollectError::Malformed {
            path: shown.clone(),
            problem,
        })?;
        Ok(Parsed { shown, value })
    }
}

/// YAML into a JSON value. An empty document is `null`.
pub(crate) fn parse_yaml(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        // The first line names the problem and where; the rest is a snippet.
        let msg = e.to_string();
        format!(
            "invalid YAML: {}",
            msg.lines().next().unwrap_or("unreadable").trim()
        )
    })
}

impl Parsed {
    fn err(&self, pointer: &str, problem: impl std::fmt::Display) -> CollectError {
        CollectError::Malformed {
            path: self.shown.clone(),
            problem: format!("{}: {problem}", if pointer.is_empty() { "/" } else { pointer }),
        }
    }

    /// A string at `pointer`; absent or null is `None`, another type an error.
    pub fn opt_str(&self, pointer: &str) -> Result<Option<&str>, CollectError> {
        match self.value.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(pointer, format!("must be a string, found {}", kind(other)))),
        }
    }

    pub fn req_str(&self, pointer: &str) -> Result<&str, CollectError> {
        self.opt_str(pointer)?
            .ok_or_else(|| self.err(pointer, "missing (a string)"))
    }

    /// A string or a number, as text (YAML writes `version: 1` and `'1'` alike).
    pub fn opt_scalar(&self, pointer: &str) -> Result<Option<String>, CollectError> {
        match self.value.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(self.err(
                pointer,
                format!("must be a string or number, found {}", kind(other)),
            )),
        }
    }

    pub fn opt_u64(&self, pointer: &str) -> Result<Option<u64>, CollectError> {
        match self.value.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.err(pointer, format!("must be a whole number, found {}", kind(v)))),
        }
    }

    pub fn opt_i64(&self, pointer: &str) -> Result<Option<i64>, CollectError> {
        match self.value.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.err(pointer, format!("must be a whole number, found {}", kind(v)))),
        }
    }

    /// An array at `pointer` (absent is empty).
    pub fn opt_array(&self, pointer: &str) -> Result<&[Value], CollectError> {
        match self.value.pointer(pointer) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(self.err(pointer, format!("must be a list, found {}", kind(other)))),
        }
    }

    /// An object at `pointer` (absent is empty).
    pub fn opt_object(&self, pointer: &str) -> Result<Option<&serde_json::Map<String, Value>>, CollectError> {
        match self.value.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(self.err(pointer, format!("must be a mapping, found {}", kind(other)))),
        }
    }

    /// A JSON document inside a string field (MLflow writes signatures,
    /// dataset schemas and sources this way).
    pub fn embedded_json(&self, pointer: &str) -> Result<Option<Value>, CollectError> {
        self.opt_str(pointer)?
            .map(|s| {
                serde_json::from_str(s)
                    .map_err(|e| self.err(pointer, format!("invalid JSON inside the string: {e}")))
            })
            .transpose()
    }

    pub fn problem(&self, pointer: &str, problem: impl std::fmt::Display) -> CollectError {
        self.err(pointer, problem)
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Milliseconds since the epoch (MLflow's timestamps) as RFC 3339 UTC.
pub(crate) fn millis_rfc3339(ms: i64) -> Option<String> {
    let secs = u64::try_from(ms / 1000).ok()?;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    Some(humantime::format_rfc3339_seconds(t).to_string())
}

/// An RFC 3339 time (`Z` or any `±HH:MM` offset, fractional seconds to
/// nanoseconds) as nanoseconds since the Unix epoch: what lets event times
/// written with different offsets or precisions be compared as instants.
pub(crate) fn rfc3339_nanos(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        if frac.is_empty() {
            return None;
        }
        let nine: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = nine.parse().ok()?;
    }
    let offset = match &s[i..] {
        "Z" | "z" => 0,
        rest => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

/// A full content hash: md5 (32 hex, `.dir` allowed) or sha256 (64 hex).
pub(crate) fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_are_compared_as_instants() {
        let z = rfc3339_nanos("2026-11-26T18:58:35Z").unwrap();
        assert_eq!(z, 1_795_719_515 * 1_000_000_000);
        assert_eq!(rfc3339_nanos("2026-11-26T19:58:35+01:00"), Some(z));
        assert_eq!(rfc3339_nanos("2026-11-26T18:58:35.000000+00:00"), Some(z));
        assert_eq!(rfc3339_nanos("2026-11-26T18:58:35.5Z"), Some(z + 500_000_000));
        // As strings these sort the other way round.
        assert!(
            rfc3339_nanos("2026-11-26T20:00:00+05:00").unwrap()
                < rfc3339_nanos("2026-11-26T18:00:00Z").unwrap()
        );
        for bad in [
            "2026-11-26",
            "2026-13-01T00:00:00Z",
            "2026-11-26T18:58:35",
            "2026-11-26T18:58:35+0100",
            "2026-11-26T18:58:35.Z",
        ] {
            assert_eq!(rfc3339_nanos(bad), None, "{bad}");
        }
    }
}
