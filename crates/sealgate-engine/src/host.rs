//! The `sealgate:policy/host` interface: what a policy may ask of the host.
//!
//! `regex-is-match` runs the `regex` crate's engine (regex-automata's meta
//! regex, which `regex::Regex` wraps) in the host, so a policy need not ship
//! one. It is bounded three ways, because the call runs outside the guest's
//! fuel and epoch checks:
//!
//! - **Size**: patterns of at most [`MAX_PATTERN_BYTES`], compiled programs of
//!   at most [`MAX_COMPILED_BYTES`], texts of at most [`MAX_TEXT_BYTES`].
//! - **Time**: the engine is linear in text length *times* program size, not
//!   in text length alone (`[ab]*a[ab]{10000}c` over 64 KiB takes seconds). So
//!   before searching, the host bounds the call's work by `program bytes × text
//!   bytes` at [`WORST_CASE_WORK_PER_SEC`] (a floor measured on the worst
//!   patterns, docs/sandbox.md) and refuses the call, with an error to the
//!   guest, if that could outlast the evaluation's deadline. A call made after
//!   the deadline traps as a timeout. Compilation happens inside the call, so
//!   its time is the caller's.
//! - **Memory**: compiled patterns are cached per policy module, least
//!   recently used first out, within [`MAX_CACHE_BYTES_PER_POLICY`]; across
//!   every module of every engine the cache holds at most
//!   [`MAX_CACHE_BYTES_TOTAL`], past which patterns are compiled per call and
//!   dropped. One policy's patterns therefore never evict another's, and the
//!   memory goes when the module is dropped (a reload, for `serve`).
//!   Compiling happens outside the cache's lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use regex_automata::meta;
use regex_automata::util::syntax;

use crate::bindings::sealgate::policy::host::{Host, LogLevel};
use crate::sandbox::HostState;

/// Longest pattern a policy may compile.
pub const MAX_PATTERN_BYTES: usize = 4 << 10;
/// Longest text one `regex-is-match` call may scan.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Cap on one compiled program (the NFA), and on each lazy-DFA cache.
pub const MAX_COMPILED_BYTES: usize = 1 << 20;
/// Compiled patterns one policy module keeps, in bytes.
pub const MAX_CACHE_BYTES_PER_POLICY: usize = 16 << 20;
/// Compiled patterns all modules of the process keep together, in bytes.
pub const MAX_CACHE_BYTES_TOTAL: usize = 256 << 20;
/// Regex work (program bytes × text bytes) the host assumes it can do per
/// second in the worst case. Measured: about 1.3e10 for the worst patterns in
/// a release build (docs/sandbox.md); a debug build is several times slower,
/// so this floor keeps the bound true for both.
pub const WORST_CASE_WORK_PER_SEC: f64 = 1e9;

/// Bytes cached by every [`RegexCache`] of the process.
static CACHED_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// A compiled pattern and what it costs to keep.
struct Compiled {
    regex: Arc<meta::Regex>,
    /// Program bytes plus one lazy-DFA cache: what keeping it costs and the
    /// per-byte factor of its worst-case search.
    bytes: usize,
    last_used: u64,
}

/// One policy module's compiled patterns, shared by all its evaluations.
/// Compiling is pure, so sharing leaks nothing between evaluations.
#[derive(Default)]
pub(crate) struct RegexCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<String, Compiled>,
    bytes: usize,
    clock: u64,
}

impl Drop for RegexCache {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        CACHED_TOTAL.fetch_sub(inner.bytes, Ordering::Relaxed);
    }
}

fn compile(pattern: &str) -> Result<(Arc<meta::Regex>, usize), String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "pattern is {} bytes; the limit is {MAX_PATTERN_BYTES}",
            pattern.len()
        ));
    }
    // The settings `regex::Regex` uses, with sealgate's limits.
    let regex = meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(regex_automata::MatchKind::LeftmostFirst)
                .utf8_empty(true)
                .nfa_size_limit(Some(MAX_COMPILED_BYTES))
                .onepass_size_limit(Some(MAX_COMPILED_BYTES))
                .dfa_size_limit(Some(MAX_COMPILED_BYTES))
                .hybrid_cache_capacity(MAX_COMPILED_BYTES),
        )
        .syntax(syntax::Config::new().utf8(true).nest_limit(64))
        .build(pattern)
        .map_err(|e| format!("invalid pattern: {e}"))?;
    let bytes = regex.memory_usage() + MAX_COMPILED_BYTES;
    Ok((Arc::new(regex), bytes))
}

impl RegexCache {
    /// The compiled `pattern` and its size, from the cache or compiled now
    /// (outside the lock) and cached if there is room.
    fn get(&self, pattern: &str) -> Result<(Arc<meta::Regex>, usize), String> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            inner.clock += 1;
            let now = inner.clock;
            if let Some(hit) = inner.entries.get_mut(pattern) {
                hit.last_used = now;
                return Ok((hit.regex.clone(), hit.bytes));
            }
        }
        let (regex, bytes) = compile(pattern)?;
        self.insert(pattern, &regex, bytes);
        Ok((regex, bytes))
    }

    fn insert(&self, pattern: &str, regex: &Arc<meta::Regex>, bytes: usize) {
        if bytes > MAX_CACHE_BYTES_PER_POLICY {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.entries.contains_key(pattern) {
            return; // another evaluation compiled it meanwhile
        }
        // Make room in this policy's share, least recently used first.
        while inner.bytes + bytes > MAX_CACHE_BYTES_PER_POLICY {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            let gone = inner.entries.remove(&oldest).map_or(0, |c| c.bytes);
            inner.bytes -= gone;
            CACHED_TOTAL.fetch_sub(gone, Ordering::Relaxed);
        }
        // Then the process-wide share: no room, no caching.
        let reserved = CACHED_TOTAL.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
            (total + bytes <= MAX_CACHE_BYTES_TOTAL).then_some(total + bytes)
        });
        if reserved.is_err() {
            return;
        }
        inner.bytes += bytes;
        let last_used = inner.clock;
        inner.entries.insert(
            pattern.to_owned(),
            Compiled {
                regex: regex.clone(),
                bytes,
                last_used,
            },
        );
    }

    /// Bytes this cache holds.
    pub(crate) fn cached_bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).bytes
    }
}

/// The trap of a host call made after the evaluation's deadline; classified
/// as a timeout.
#[derive(Debug)]
pub(crate) struct DeadlinePassed;

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("host call after the evaluation's deadline")
    }
}

impl std::error::Error for DeadlinePassed {}

/// Refuse a search whose worst case (program bytes × text bytes at
/// [`WORST_CASE_WORK_PER_SEC`]) could end after `deadline`.
fn check_work(program_bytes: usize, text_bytes: usize, deadline: Instant) -> Result<(), String> {
    let remaining = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
    let worst = (program_bytes as f64) * (text_bytes.max(1) as f64) / WORST_CASE_WORK_PER_SEC;
    if worst > remaining {
        return Err(format!(
            "regex-is-match refused: a {program_bytes}-byte program over {text_bytes} bytes of text \
             may take up to {worst:.1} s, and {remaining:.1} s of the evaluation's time are left; \
             use a simpler pattern or a shorter text"
        ));
    }
    Ok(())
}

/// `types` holds only types; its host side has nothing to do.
impl crate::bindings::sealgate::policy::types::Host for HostState {}

impl Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) {
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        self.log.push(level, &message);
    }

    fn regex_is_match(&mut self, pattern: String, text: String) -> wasmtime::Result<Result<bool, String>> {
        if Instant::now() >= self.deadline {
            return Err(wasmtime::Error::new(DeadlinePassed));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Ok(Err(format!(
                "text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                text.len()
            )));
        }
        let (regex, bytes) = match self.regex.get(&pattern) {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = check_work(bytes, text.len(), self.deadline) {
            return Ok(Err(e));
        }
        Ok(Ok(regex.is_match(&text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_once_and_reports_bad_patterns() {
        let cache = RegexCache::default();
        let (a, _) = cache.get(r"^\d{3}-\d{2}-\d{4}$").unwrap();
        let (b, _) = cache.get(r"^\d{3}-\d{2}-\d{4}$").unwrap();
        assert!(Arc::ptr_eq(&a, &b), "second lookup must hit the cache");
        assert!(cache.get("(unclosed").unwrap_err().contains("invalid pattern"));
    }

    #[test]
    fn refuses_oversized_patterns_and_programs() {
        let cache = RegexCache::default();
        assert!(
            cache
                .get(&"a".repeat(MAX_PATTERN_BYTES + 1))
                .unwrap_err()
                .contains("limit")
        );
        // Small to write, huge to compile: \w{1000} repeated expands past the cap.
        assert!(cache.get(r"(\w{1000}){1000}").is_err());
    }

    #[test]
    fn a_policys_cache_is_bounded_in_bytes_and_evicts_the_least_recent() {
        let cache = RegexCache::default();
        let (_, keep_bytes) = cache.get("keep-me").unwrap();
        // Distinct patterns of ~100 KB programs each: far more than fits.
        for i in 0..400 {
            cache.get(&format!("[ab]*a[ab]{{2000}}c{i}")).unwrap();
            cache.get("keep-me").unwrap(); // recently used, so kept
            assert!(cache.cached_bytes() <= MAX_CACHE_BYTES_PER_POLICY);
        }
        let inner = cache.inner.lock().unwrap();
        assert!(inner.entries.contains_key("keep-me"));
        assert!(inner.entries.len() < 400, "old entries were evicted");
        assert!(inner.bytes >= keep_bytes);
    }

    #[test]
    fn work_is_bounded_by_the_time_left() {
        let soon = Instant::now() + std::time::Duration::from_millis(100);
        // A 500 KB program over 1 MiB is ~500 s at the floor rate: refused.
        assert!(
            check_work(500_000, 1 << 20, soon)
                .unwrap_err()
                .contains("refused")
        );
        // A 50 KB program over 100 bytes is 5 µs: allowed.
        assert!(check_work(50_000, 100, soon).is_ok());
        // Nothing is allowed once the deadline has passed.
        assert!(check_work(1, 1, Instant::now()).is_err());
    }
}
