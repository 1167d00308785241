//! Rego policies: the pinned `.rego` and data files a gate hands to the Rego
//! engine component (`policies/rego-engine`), which evaluates them in the
//! sandbox. The host only reads, pins and packs them; it never evaluates Rego.

use std::collections::BTreeSet;
use std::path::Path;

use sealgate_core::{PinnedFile, Sha256Digest};
use sealgate_engine::LoadError;
use serde_json::{Value, json};

/// The id the Rego engine component reports: the only module a gate may
/// hand Rego files to.
pub const ENGINE_ID: &str = "sealgate.rego";

/// Largest Rego or data file a gate may pin (1 MiB): policies are text.
pub const MAX_SOURCE_BYTES: usize = 1 << 20;

/// Largest total of one policy's Rego and data files (8 MiB), and most
/// files (256): each is copied into the sandbox with the params, and the
/// host holds them for as long as the gate is loaded.
pub const MAX_TOTAL_SOURCE_BYTES: usize = 8 << 20;
/// See [`MAX_TOTAL_SOURCE_BYTES`].
pub const MAX_SOURCE_FILES: usize = 256;

/// A directory holding `.rego` files and no `Cargo.toml` is a Rego policy
/// (as one with `app.py` and no `Cargo.toml` is a Python one).
pub fn is_rego_policy(dir: &Path) -> bool {
    !dir.join("Cargo.toml").exists()
        && std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "rego"))
        })
}

/// The files of one Rego policy, read and checked.
#[derive(Debug, Clone, Default)]
pub struct RegoSources {
    rego: Vec<(String, String)>,
    data: Vec<(String, Value)>,
}

impl RegoSources {
    /// Files read by `read` (given each file's path resolved against
    /// `origin`), each refused unless its bytes hash to its pin; Rego files
    /// must be UTF-8, data files JSON objects with one reading (no member
    /// twice). `None` when the entry names no Rego file.
    ///
    /// # Errors
    ///
    /// What `read` returns, [`LoadError::PinMismatch`] for a file that is
    /// not the one pinned, [`LoadError::Source`] for one that is not what
    /// its kind must be.
    pub fn load(
        origin: &Path,
        rego: &[PinnedFile],
        data: &[PinnedFile],
        read: impl Fn(&Path) -> Result<Vec<u8>, LoadError>,
    ) -> Result<Option<Self>, LoadError> {
        if rego.is_empty() {
            return Ok(None);
        }
        if rego.len() + data.len() > MAX_SOURCE_FILES {
            return Err(LoadError::Source {
                path: origin.to_owned(),
                reason: format!(
                    "{} Rego and data files for one policy, over the limit of {MAX_SOURCE_FILES}",
                    rego.len() + data.len()
                ),
            });
        }
        let mut sources = Self::default();
        let mut budget = Budget::new(origin);
        for file in rego {
            let (path, bytes) = pinned(origin, file, &read)?;
            budget.take(bytes.len())?;
            sources
                .rego
                .push((file.path.display().to_string(), rego_text(&path, bytes)?));
        }
        for file in data {
            let (path, bytes) = pinned(origin, file, &read)?;
            budget.take(bytes.len())?;
            sources
                .data
                .push((file.path.display().to_string(), json_object(&path, &bytes)?));
        }
        Ok(Some(sources))
    }

    /// Every `.rego` file of `dir` (not `*_test.rego`: OPA's unit tests) and
    /// every `.json` data file, sorted by name, unpinned: what `policy test`
    /// runs while the files are being written.
    ///
    /// # Errors
    ///
    /// [`LoadError::Read`] for a file that cannot be read,
    /// [`LoadError::Source`] as for [`RegoSources::load`] or when `dir` has
    /// no `.rego` file.
    pub fn from_dir(dir: &Path) -> Result<Self, LoadError> {
        let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Source {
            path: dir.to_owned(),
            reason: format!("cannot list the directory: {e}"),
        })?;
        // Named .rego or .json: read (a FIFO or a directory so named is
        // refused by the read, not skipped).
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rego" || x == "json"))
            .take(MAX_SOURCE_FILES + 1)
            .collect();
        if paths.len() > MAX_SOURCE_FILES {
            return Err(LoadError::Source {
                path: dir.to_owned(),
                reason: format!("more than {MAX_SOURCE_FILES} .rego and .json files"),
            });
        }
        paths.sort();
        let mut sources = Self::default();
        let mut budget = Budget::new(dir);
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let extension = path.extension().and_then(|e| e.to_str());
            if extension == Some("rego") && !name.ends_with("_test.rego") {
                let bytes = sealgate_core::read_bounded(&path, MAX_SOURCE_BYTES as u64)?;
                budget.take(bytes.len())?;
                sources.rego.push((name, rego_text(&path, bytes)?));
            } else if extension == Some("json") {
                let bytes = sealgate_core::read_bounded(&path, MAX_SOURCE_BYTES as u64)?;
                budget.take(bytes.len())?;
                sources.data.push((name, json_object(&path, &bytes)?));
            }
        }
        if sources.rego.is_empty() {
            return Err(LoadError::Source {
                path: dir.to_owned(),
                reason: "no .rego file here".into(),
            });
        }
        Ok(sources)
    }

    /// The params the Rego engine component receives: the files, and the
    /// gate's params under `params` (`data.sealgate.params` to the policy).
    pub fn params_json(&self, params: &Value) -> String {
        self.params_value(params).to_string()
    }

    /// [`RegoSources::params_json`], asking the engine to log which lines
    /// of each file the evaluation reached (`policy test --coverage`).
    pub fn params_json_with_coverage(&self, params: &Value) -> String {
        let mut value = self.params_value(params);
        value["coverage"] = json!(true);
        value.to_string()
    }

    fn params_value(&self, params: &Value) -> Value {
        json!({
            "rego": self.rego.iter().map(|(path, source)| json!({"path": path, "source": source})).collect::<Vec<_>>(),
            "data": self.data.iter().map(|(path, value)| json!({"path": path, "value": value})).collect::<Vec<_>>(),
            "params": params,
        })
    }
}

/// The prefix of the engine's log line carrying a file's coverage.
const COVERAGE_LOG: &str = "sealgate-coverage ";

/// Which lines of a Rego policy's files some evaluation reached, merged
/// over a test run: regorus' coverage, reported by the engine.
#[derive(Debug, Clone, Default)]
pub struct RegoCoverage {
    files: std::collections::BTreeMap<String, (BTreeSet<u32>, BTreeSet<u32>)>,
    /// Coverage lines that could not be read (cut by the log's bound).
    pub unreadable: usize,
}

impl RegoCoverage {
    /// Take `line` if it is the engine's coverage line (and merge it).
    pub fn take_log_line(&mut self, line: &str) -> bool {
        let Some(json) = line.strip_prefix(COVERAGE_LOG) else {
            return false;
        };
        #[derive(serde::Deserialize)]
        struct File {
            path: String,
            covered: BTreeSet<u32>,
            not_covered: BTreeSet<u32>,
        }
        match serde_json::from_str::<File>(json) {
            Ok(file) => {
                let entry = self.files.entry(file.path).or_default();
                entry.0.extend(file.covered);
                entry.1.extend(file.not_covered);
            }
            Err(_) => self.unreadable += 1,
        }
        true
    }

    /// Per file, the lines no evaluation reached (rule bodies the cases
    /// never exercised), in order; files with none are left out.
    pub fn never_reached(&self) -> Vec<(String, Vec<u32>)> {
        self.files
            .iter()
            .map(|(path, (covered, not_covered))| {
                (
                    path.clone(),
                    not_covered.difference(covered).copied().collect::<Vec<_>>(),
                )
            })
            .filter(|(_, lines)| !lines.is_empty())
            .collect()
    }

    /// Did any evaluation report coverage?
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// What one policy's files may add up to ([`MAX_TOTAL_SOURCE_BYTES`]),
/// counted as they are read so the host never holds more.
struct Budget<'a> {
    origin: &'a Path,
    used: usize,
}

impl<'a> Budget<'a> {
    fn new(origin: &'a Path) -> Self {
        Self { origin, used: 0 }
    }

    fn take(&mut self, bytes: usize) -> Result<(), LoadError> {
        self.used += bytes;
        if self.used > MAX_TOTAL_SOURCE_BYTES {
            return Err(LoadError::Source {
                path: self.origin.to_owned(),
                reason: format!("over {MAX_TOTAL_SOURCE_BYTES} bytes of Rego and data files for one policy"),
            });
        }
        Ok(())
    }
}

fn pinned(
    origin: &Path,
    file: &PinnedFile,
    read: &impl Fn(&Path) -> Result<Vec<u8>, LoadError>,
) -> Result<(std::path::PathBuf, Vec<u8>), LoadError> {
    let path = sealgate_core::GateConfig::resolve(origin, &file.path);
    let bytes = read(&path)?;
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(LoadError::Source {
            path,
            reason: format!(
                "{} bytes, over the {MAX_SOURCE_BYTES}-byte limit for a policy file",
                bytes.len()
            ),
        });
    }
    let actual = Sha256Digest::of_bytes(&bytes);
    if actual != file.sha256 {
        return Err(LoadError::PinMismatch {
            path,
            expected: file.sha256,
            actual,
        });
    }
    Ok((path, bytes))
}

fn rego_text(path: &Path, bytes: Vec<u8>) -> Result<String, LoadError> {
    String::from_utf8(bytes).map_err(|_| LoadError::Source {
        path: path.to_owned(),
        reason: "a Rego file must be UTF-8 text".into(),
    })
}

fn json_object(path: &Path, bytes: &[u8]) -> Result<Value, LoadError> {
    let bad = |reason: String| LoadError::Source {
        path: path.to_owned(),
        reason,
    };
    sealgate_core::strict_json::check(bytes).map_err(|e| bad(format!("not JSON with one reading: {e}")))?;
    match serde_json::from_slice(bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(bad("Rego data must be a JSON object".into())),
        Err(e) => Err(bad(format!("not JSON: {e}"))),
    }
}
