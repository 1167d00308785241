//! The decision log: an append-only file of JSON lines, one per decision
//! (`check`, `attest`, `verify`), each carrying the SHA-256 of the line
//! before it. A SIEM reads it as JSON lines; [`verify`] proves it whole.
//!
//! Appending ([`DecisionLog::append`]) takes an exclusive lock on the file
//! (so concurrent writers, threads or processes, queue), reads the last
//! line to chain to it, writes the new line with one `write` on a file
//! opened for appending, and `fsync`s before releasing the lock. A log whose
//! last line is incomplete (a crash mid-write) is refused for appending
//! until someone looks at it.
//!
//! What the chain proves, and what it cannot: any edited, removed or
//! reordered entry breaks it where it happened (`seq` and `prev` say
//! which). Removing or editing entries at the *end* leaves a shorter chain
//! that is intact; detect that by comparing with a head recorded elsewhere
//! ([`Expected`]), e.g. the head a SIEM last ingested.

#![deny(missing_docs)]

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sealgate_core::Sha256Digest;
use serde::{Deserialize, Serialize};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest line accepted when reading the log back (a decision is ~1 KB).
const MAX_LINE_BYTES: usize = 1 << 20;

/// A policy as the log names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedPolicy {
    /// The policy's id.
    pub id: String,
    /// The component's sha256 (its pin); for a verification, the module
    /// accepted for a required id (absent when the id was required of a
    /// pinned gate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// What made a decision: the CLI's commands and the server's endpoints.
/// Logged by the names shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LoggedCommand {
    /// `check`.
    #[serde(rename = "check")]
    Check,
    /// `attest`.
    #[serde(rename = "attest")]
    Attest,
    /// `verify`.
    #[serde(rename = "verify")]
    Verify,
    /// `serve check` (`POST /v1/check`).
    #[serde(rename = "serve check")]
    ServeCheck,
    /// `serve attest` (`POST /v1/attest`).
    #[serde(rename = "serve attest")]
    ServeAttest,
    /// `serve verify` (`POST /v1/verify`).
    #[serde(rename = "serve verify")]
    ServeVerify,
    /// `serve admission` (one image of a `POST /v1/admission` review).
    #[serde(rename = "serve admission")]
    ServeAdmission,
}

/// What was decided. Logged by the names shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LoggedOutcome {
    /// `PASSED`: the gate passed.
    #[serde(rename = "PASSED")]
    Passed,
    /// `FAILED`: the gate failed.
    #[serde(rename = "FAILED")]
    Failed,
    /// `ERROR`: a policy could not give a verdict (the gate failed too).
    #[serde(rename = "ERROR")]
    Error,
    /// `accepted`: the bundle verified.
    #[serde(rename = "accepted")]
    Accepted,
    /// `rejected`: a check failed.
    #[serde(rename = "rejected")]
    Rejected,
}

impl LoggedOutcome {
    /// A gate's outcome: `ERROR` when a policy could not give a verdict.
    pub fn of_report(report: &sealgate_core::GateReport) -> Self {
        if report.has_errors() {
            Self::Error
        } else if report.decision == sealgate_core::GateDecision::Passed {
            Self::Passed
        } else {
            Self::Failed
        }
    }

    /// The name logged (and used as a metrics label).
    pub fn name(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::Error => "ERROR",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }
}

/// One decision, as the caller describes it; the log adds `seq`, `time`
/// and `prev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What made it.
    pub command: LoggedCommand,
    /// The gate's name, for check and attest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// The policies that ran (or that a verification required).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<LoggedPolicy>,
    /// What the decision is about, by name, when that is not a file the
    /// caller hashed: the image reference an admission review named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The artifact's sha256, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_sha256: Option<String>,
    /// The metadata document's sha256, for check and attest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_sha256: Option<String>,
    /// `PASSED`, `FAILED` or `ERROR` (check, attest); `accepted` or
    /// `rejected` (verify, admission).
    pub outcome: LoggedOutcome,
    /// Findings across all policies (check, attest).
    pub findings: usize,
    /// The sha256 of the bundle written (attest) or verified (verify).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_sha256: Option<String>,
    /// Why a verification was rejected: the failed check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_check: Option<String>,
}

impl Decision {
    /// A decision with only its command and outcome; the caller fills in
    /// what it knows.
    pub fn new(command: LoggedCommand, outcome: LoggedOutcome) -> Self {
        Self {
            command,
            gate: None,
            policies: Vec::new(),
            subject: None,
            artifact_sha256: None,
            metadata_sha256: None,
            outcome,
            findings: 0,
            bundle_sha256: None,
            failed_check: None,
        }
    }

    /// What the log records of a gate evaluation (`check`, `attest`).
    pub fn of_report(command: LoggedCommand, report: &sealgate_core::GateReport) -> Self {
        Self {
            gate: Some(report.gate.clone()),
            policies: report
                .policies
                .iter()
                .map(|p| LoggedPolicy {
                    id: p.id.clone(),
                    sha256: Some(p.module_sha256.to_string()),
                })
                .collect(),
            artifact_sha256: report.context.artifact_digest.map(|d| d.to_string()),
            metadata_sha256: Some(report.metadata_sha256.to_string()),
            findings: report.policies.iter().map(|p| p.findings.len()).sum(),
            ..Self::new(command, LoggedOutcome::of_report(report))
        }
    }

    /// What the log records of an attestation (`attest`): the report's
    /// decision and the bundle signed for it.
    pub fn of_attestation(
        command: LoggedCommand,
        report: &sealgate_core::GateReport,
        bundle: &Sha256Digest,
    ) -> Self {
        Self {
            bundle_sha256: Some(bundle.to_string()),
            ..Self::of_report(command, report)
        }
    }

    /// What the log records of a verification (`verify`): `failed_check` is
    /// `None` when the bundle was accepted; `required_policies` are the
    /// required ids with the module digest accepted for each (one entry per
    /// accepted module; `None` for an id required of a pinned gate).
    pub fn of_verification<'a>(
        command: LoggedCommand,
        artifact: &Sha256Digest,
        bundle: &Sha256Digest,
        required_policies: impl IntoIterator<Item = (&'a str, Option<&'a Sha256Digest>)>,
        failed_check: Option<&str>,
    ) -> Self {
        let outcome = if failed_check.is_none() {
            LoggedOutcome::Accepted
        } else {
            LoggedOutcome::Rejected
        };
        Self {
            policies: required_policies
                .into_iter()
                .map(|(id, module)| LoggedPolicy {
                    id: id.to_owned(),
                    sha256: module.map(Sha256Digest::to_string),
                })
                .collect(),
            artifact_sha256: Some(artifact.to_string()),
            bundle_sha256: Some(bundle.to_string()),
            failed_check: failed_check.map(str::to_owned),
            ..Self::new(command, outcome)
        }
    }
}

/// `PASSED`, `FAILED`, or `ERROR` when a policy could not give a verdict (the
/// gate then failed too): how the log and metrics name a gate's outcome.
pub fn gate_outcome(report: &sealgate_core::GateReport) -> &'static str {
    LoggedOutcome::of_report(report).name()
}

/// A line of the log.
// No `deny_unknown_fields`: serde cannot combine it with `flatten`. An
// added field changes the line's hash, which the next entry's `prev` catches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1 for the first entry, then one more per line.
    pub seq: u64,
    /// When it was appended (RFC 3339, UTC, seconds).
    pub time: String,
    /// What was decided.
    #[serde(flatten)]
    pub decision: Decision,
    /// SHA-256 (hex) of the previous line's bytes, without its newline;
    /// [`GENESIS`] for the first.
    pub prev: String,
}

/// Where an append went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The entry's `seq`.
    pub seq: u64,
    /// SHA-256 of the line written: the log's new head.
    pub head: Sha256Digest,
}

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Opening, locking, reading, writing or syncing failed.
    #[error("decision log {}: {source}", path.display())]
    Io {
        /// The log.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The log's end is not a complete entry; appending would hide that.
    #[error("decision log {}: {problem}; not appending (check it with `sealgate log verify`)", path.display())]
    Damaged {
        /// The log.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// An append-only decision log file.
#[derive(Debug, Clone)]
pub struct DecisionLog {
    path: PathBuf,
}

impl DecisionLog {
    /// The log at `path` (created on first append, mode 0600).
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `decision`, chained to the last entry; returns once the line
    /// is on disk.
    ///
    /// # Errors
    ///
    /// An [`AppendError`]: the log cannot be opened, locked, read to its head or written, or its last line is not a complete entry; nothing is appended then.
    pub fn append(&self, decision: &Decision, now: std::time::SystemTime) -> Result<Appended, AppendError> {
        let io = |source| AppendError::Io {
            path: self.path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // O_NONBLOCK: opening a FIFO must not wait for a reader.
            options
                .mode(0o600)
                .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
        }
        let mut file = options.open(&self.path).map_err(io)?;
        if !file.metadata().map_err(io)?.is_file() {
            return Err(io(std::io::Error::other("not a regular file")));
        }
        // Released when `file` is dropped, after the sync.
        file.lock().map_err(io)?;
        let (seq, prev) = match last_line(&mut file).map_err(io)? {
            None => (1, GENESIS.to_owned()),
            Some(Tail::Incomplete) => {
                return Err(AppendError::Damaged {
                    path: self.path.clone(),
                    problem: "the last line is incomplete (no newline: an interrupted write)".into(),
                });
            }
            Some(Tail::Line(line)) => {
                let last: Entry = serde_json::from_slice(&line).map_err(|e| AppendError::Damaged {
                    path: self.path.clone(),
                    problem: format!("the last line is not a decision entry: {e}"),
                })?;
                (last.seq + 1, Sha256Digest::of_bytes(&line).to_string())
            }
        };
        let entry = Entry {
            seq,
            time: humantime::format_rfc3339_seconds(now).to_string(),
            decision: decision.clone(),
            prev,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| io(std::io::Error::other(e)))?;
        let head = Sha256Digest::of_bytes(&line);
        line.push(b'\n');
        // One write of the whole line on a file opened for appending, under
        // the lock: readers see all of it or (after a crash) an incomplete
        // last line that `verify` reports and `append` refuses.
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(Appended { seq, head })
    }
}

enum Tail {
    Line(Vec<u8>),
    Incomplete,
}

/// The last complete line of the file (without its newline), read from the
/// end; `None` for an empty file.
fn last_line(file: &mut File) -> std::io::Result<Option<Tail>> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        return Ok(Some(Tail::Incomplete));
    }
    // Walk back in blocks to the newline before the last one.
    let end = len - 1;
    let mut start = end;
    let mut block = vec![0u8; 8192];
    'search: while start > 0 {
        let from = start.saturating_sub(block.len() as u64);
        let n = (start - from) as usize;
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut block[..n])?;
        for i in (0..n).rev() {
            if block[i] == b'\n' {
                start = from + i as u64 + 1;
                break 'search;
            }
        }
        start = from;
        if end - start > MAX_LINE_BYTES as u64 {
            return Err(std::io::Error::other(
                "the last line is over 1 MiB: not a decision entry",
            ));
        }
    }
    let mut line = vec![0u8; (end - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut line)?;
    Ok(Some(Tail::Line(line)))
}

/// What a verifier knows from elsewhere about the log's end, to catch
/// entries removed or edited at the end (which leave an intact chain).
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// At least this many entries.
    pub entries: Option<u64>,
    /// The sha256 of entry number `entries` (or of the last entry).
    pub head: Option<Sha256Digest>,
}

/// An intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How many entries.
    pub entries: u64,
    /// SHA-256 of the last line (the head), if any.
    pub head: Option<Sha256Digest>,
}

/// Where and how a log is broken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {problem}")]
pub struct Broken {
    /// The 1-based line where the problem shows.
    pub line: u64,
    /// What is wrong there, and what it means.
    pub problem: String,
}

/// Why a log could not be verified at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The file could not be read.
    #[error("decision log {}: {source}", path.display())]
    Io {
        /// The log.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The chain is broken.
    #[error("decision log {}: broken at {broken}", path.display())]
    Broken {
        /// The log.
        path: PathBuf,
        /// Where.
        broken: Broken,
    },
}

/// Check every line of the log at `path`: each is a complete entry, `seq`
/// counts from 1 without gaps, and each `prev` is the SHA-256 of the line
/// before; then compare the end with `expected`.
///
/// # Errors
///
/// [`VerifyError::Io`] if the log cannot be read, [`VerifyError::Broken`] with the first line that breaks the chain or the expectation.
pub fn verify(path: &Path, expected: &Expected) -> Result<Verified, VerifyError> {
    let (file, _) = sealgate_core::open_regular(path).map_err(|e| VerifyError::Io {
        path: path.to_owned(),
        source: match e {
            sealgate_core::InputError::Io { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        },
    })?;
    verify_reader(BufReader::new(file), expected).map_err(|e| match e {
        ReadOrBroken::Io(source) => VerifyError::Io {
            path: path.to_owned(),
            source,
        },
        ReadOrBroken::Broken(broken) => VerifyError::Broken {
            path: path.to_owned(),
            broken,
        },
    })
}

enum ReadOrBroken {
    Io(std::io::Error),
    Broken(Broken),
}

fn verify_reader(mut reader: impl BufRead, expected: &Expected) -> Result<Verified, ReadOrBroken> {
    let broken = |line: u64, problem: String| ReadOrBroken::Broken(Broken { line, problem });
    let mut prev_hash: Option<Sha256Digest> = None;
    // The hash of entry `expected.entries`, kept as the lines go by.
    let mut recorded: Option<Sha256Digest> = None;
    let mut n: u64 = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(ReadOrBroken::Io)?;
        if read == 0 {
            break;
        }
        n += 1;
        if buf.last() != Some(&b'\n') {
            return Err(broken(
                n,
                if buf.len() > MAX_LINE_BYTES {
                    "longer than 1 MiB: not a decision entry".into()
                } else {
                    "incomplete (no newline): the log was truncated mid-entry, or a write was interrupted"
                        .into()
                },
            ));
        }
        buf.pop();
        let entry: Entry = serde_json::from_slice(&buf).map_err(|e| {
            broken(
                n,
                format!("not a decision entry ({e}): the line was edited or corrupted"),
            )
        })?;
        if entry.seq != n {
            let what = if n == 1 && entry.seq > 1 {
                format!(
                    "entry 1 is missing: the log starts with entry {}; {} entr{} removed from its start",
                    entry.seq,
                    entry.seq - 1,
                    if entry.seq == 2 { "y was" } else { "ies were" }
                )
            } else if entry.seq > n {
                format!(
                    "entry {} follows entry {}: {} entr{} removed here, or entries reordered",
                    entry.seq,
                    n - 1,
                    entry.seq - n,
                    if entry.seq - n == 1 { "y was" } else { "ies were" }
                )
            } else {
                format!(
                    "entry {} appears where entry {n} belongs: entries were reordered or duplicated",
                    entry.seq
                )
            };
            return Err(broken(n, what));
        }
        let want = prev_hash
            .map(|h| h.to_string())
            .unwrap_or_else(|| GENESIS.to_owned());
        if entry.prev != want {
            let what = if n == 1 {
                "the first entry does not start the chain (its prev is not the genesis value): entries before it were removed".to_owned()
            } else {
                format!(
                    "its prev does not match line {}: line {} was edited after it was written",
                    n - 1,
                    n - 1
                )
            };
            return Err(broken(n, what));
        }
        let hash = Sha256Digest::of_bytes(&buf);
        prev_hash = Some(hash);
        if expected.entries == Some(n) {
            recorded = Some(hash);
        }
    }
    if let Some(want) = expected.entries
        && n < want
    {
        return Err(broken(
            n + 1,
            format!(
                "the log ends after {n} entries but {want} were recorded: entries at the end were removed"
            ),
        ));
    }
    if let Some(head) = expected.head {
        let at = expected.entries.unwrap_or(n);
        let got = if expected.entries.is_some() {
            recorded
        } else {
            prev_hash
        };
        if got != Some(head) {
            return Err(broken(
                at,
                format!(
                    "entry {at} is not the recorded head {head}: it was edited, or entries at the end were removed"
                ),
            ));
        }
    }
    Ok(Verified {
        entries: n,
        head: prev_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(i: usize) -> Decision {
        let outcome = if i.is_multiple_of(2) {
            LoggedOutcome::Passed
        } else {
            LoggedOutcome::Failed
        };
        Decision {
            gate: Some("g".into()),
            findings: i,
            ..Decision::new(LoggedCommand::Check, outcome)
        }
    }

    fn log_of(n: usize) -> (tempfile::TempDir, PathBuf, Vec<Appended>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let log = DecisionLog::new(&path);
        let appended = (0..n)
            .map(|i| log.append(&decision(i), std::time::UNIX_EPOCH).unwrap())
            .collect();
        (dir, path, appended)
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(path: &Path, lines: &[String]) {
        std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }

    fn broken_at(path: &Path, expected: &Expected) -> Broken {
        match verify(path, expected) {
            Err(VerifyError::Broken { broken, .. }) => broken,
            other => panic!("expected a break, got {other:?}"),
        }
    }

    #[test]
    fn an_untouched_log_verifies_and_its_head_is_the_last_append() {
        let (_d, path, appended) = log_of(5);
        let v = verify(&path, &Expected::default()).unwrap();
        assert_eq!(v.entries, 5);
        assert_eq!(v.head, Some(appended[4].head));
        assert_eq!(
            appended.iter().map(|a| a.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        let first: Entry = serde_json::from_str(&lines(&path)[0]).unwrap();
        assert_eq!(first.prev, GENESIS);
        assert_eq!(first.time, "1970-01-01T00:00:00Z");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn an_edited_entry_is_found_at_the_line_after_it() {
        let (_d, path, _) = log_of(5);
        let mut l = lines(&path);
        l[1] = l[1].replace("\"findings\":1", "\"findings\":0");
        write_lines(&path, &l);
        let b = broken_at(&path, &Expected::default());
        assert_eq!(b.line, 3);
        assert!(b.problem.contains("line 2 was edited"), "{}", b.problem);
    }

    #[test]
    fn removed_reordered_and_duplicated_entries_are_found_where_they_were() {
        let (_d, path, _) = log_of(5);
        let orig = lines(&path);
        let mut l = orig.clone();
        l.remove(2);
        write_lines(&path, &l);
        let b = broken_at(&path, &Expected::default());
        assert_eq!(b.line, 3);
        assert!(b.problem.contains("1 entry was removed"), "{}", b.problem);

        let mut l = orig.clone();
        l.swap(1, 3);
        write_lines(&path, &l);
        assert_eq!(broken_at(&path, &Expected::default()).line, 2);

        let mut l = orig.clone();
        l.insert(2, orig[1].clone());
        write_lines(&path, &l);
        let b = broken_at(&path, &Expected::default());
        assert_eq!(b.line, 3);
        assert!(b.problem.contains("reordered or duplicated"), "{}", b.problem);

        // Line 1 deleted: said as such, not as "entry 2 follows entry 0".
        let l = orig[1..].to_vec();
        write_lines(&path, &l);
        let b = broken_at(&path, &Expected::default());
        assert_eq!(b.line, 1);
        assert!(
            b.problem
                .starts_with("entry 1 is missing: the log starts with entry 2; 1 entry was removed"),
            "{}",
            b.problem
        );
        let l = orig[3..].to_vec();
        write_lines(&path, &l);
        assert!(
            broken_at(&path, &Expected::default())
                .problem
                .contains("3 entries were removed from its start")
        );
    }

    #[test]
    fn truncation_is_found_by_the_newline_or_by_the_recorded_head() {
        let (_d, path, appended) = log_of(4);
        let text = std::fs::read_to_string(&path).unwrap();
        // Mid-entry: no newline at the end.
        std::fs::write(&path, &text[..text.len() - 10]).unwrap();
        let b = broken_at(&path, &Expected::default());
        assert_eq!(b.line, 4);
        assert!(b.problem.contains("incomplete"), "{}", b.problem);
        // And appending refuses to paper over it.
        let err = DecisionLog::new(&path)
            .append(&decision(9), std::time::UNIX_EPOCH)
            .unwrap_err();
        assert!(err.to_string().contains("incomplete"), "{err}");

        // Whole entries removed at the end: the chain is intact, the
        // recorded count and head are not.
        let l: Vec<String> = text.lines().take(2).map(str::to_owned).collect();
        write_lines(&path, &l);
        assert_eq!(verify(&path, &Expected::default()).unwrap().entries, 2);
        let b = broken_at(
            &path,
            &Expected {
                entries: Some(4),
                head: None,
            },
        );
        assert_eq!(b.line, 3);
        let b = broken_at(
            &path,
            &Expected {
                entries: None,
                head: Some(appended[3].head),
            },
        );
        assert!(b.problem.contains("recorded head"), "{}", b.problem);
        // The head of an entry still present checks out.
        let ok = Expected {
            entries: Some(2),
            head: Some(appended[1].head),
        };
        assert_eq!(verify(&path, &ok).unwrap().entries, 2);
    }

    #[test]
    fn concurrent_writers_all_land_in_one_intact_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        std::thread::scope(|s| {
            for t in 0..8 {
                let path = &path;
                s.spawn(move || {
                    // Each writer opens the file itself, as separate
                    // processes would.
                    let log = DecisionLog::new(path);
                    for i in 0..25 {
                        log.append(&decision(t * 100 + i), std::time::UNIX_EPOCH).unwrap();
                    }
                });
            }
        });
        assert_eq!(verify(&path, &Expected::default()).unwrap().entries, 200);
    }
}
