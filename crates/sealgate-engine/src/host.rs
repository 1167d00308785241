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
//!   in text length alone (`[ab]*a[ab]{10000}c` over 64 KiB takes seconds).
//!   So before searching, the host bounds the call's worst case by `program
//!   bytes × text bytes` at [`WORST_CASE_WORK_PER_SEC`] (a floor measured on
//!   the worst patterns, docs/sandbox.md). When that fits in the time left,
//!   the regex runs as `regex::Regex` would. When it does not, the call runs
//!   on the lazy DFA alone, stepped byte by byte with the deadline checked
//!   every [`DEADLINE_CHECK_BYTES`] (`interruptible_is_match`): an honest
//!   large text still gets its answer, and a pathological search is stopped
//!   at the deadline, which traps the guest as a timeout. (A pattern with a
//!   Unicode word boundary over non-ASCII text is the one case the lazy DFA
//!   cannot do; there the call is refused with an error to the guest.) A call
//!   made after the deadline traps as a timeout. Compilation happens inside
//!   the call, so its time is the caller's.
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

use crate::sandbox::HostState;

/// Longest pattern a policy may compile.
pub const MAX_PATTERN_BYTES: usize = 4 << 10;
/// Longest text one `regex-is-match` call may scan.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Cap on one compiled program (the NFA), and on each lazy-DFA cache.
pub const MAX_COMPILED_BYTES: usize = 1 << 20;
/// Deepest nesting of groups and repetitions in a pattern.
pub const MAX_NESTING: u32 = 64;
/// Compiled patterns one policy module keeps, in bytes.
pub const MAX_CACHE_BYTES_PER_POLICY: usize = 16 << 20;
/// Compiled patterns all modules of the process keep together, in bytes.
pub const MAX_CACHE_BYTES_TOTAL: usize = 256 << 20;
/// Bytes of text the interruptible search walks between two deadline checks.
pub const DEADLINE_CHECK_BYTES: usize = 256;
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
    /// Program bytes plus one lazy-DFA cache: what keeping it costs.
    bytes: usize,
    /// Program bytes: the per-text-byte factor of its worst-case search.
    program: usize,
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

fn compile(pattern: &str) -> Result<Compiled, String> {
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
                .hybrid_cache_capacity(MAX_COMPILED_BYTES),
        )
        .syntax(syntax::Config::new().utf8(true).nest_limit(MAX_NESTING))
        .build(pattern)
        .map_err(|e| format!("invalid pattern: {e}"))?;
    let program = regex.memory_usage();
    Ok(Compiled {
        regex: Arc::new(regex),
        bytes: program + MAX_COMPILED_BYTES,
        program,
        last_used: 0,
    })
}

/// `pattern` matches somewhere in `text`, found by the lazy DFA alone walked
/// one byte at a time, checking `deadline` every [`DEADLINE_CHECK_BYTES`]:
/// the search's time is bounded by the deadline whatever the pattern. `Err`
/// when the deadline passes; `Ok(Err)` when this search cannot answer (the
/// lazy DFA quits on non-ASCII text under a Unicode word boundary).
pub(crate) fn interruptible_is_match(
    pattern: &str,
    text: &[u8],
    deadline: Instant,
) -> Result<Result<bool, String>, DeadlinePassed> {
    use regex_automata::hybrid::dfa::DFA;
    use regex_automata::nfa::thompson;
    let cannot = |why: String| {
        Ok(Err(format!(
            "regex-is-match refused: the search could outlast the evaluation's deadline and {why}; \
             use a simpler pattern or a shorter text"
        )))
    };
    let dfa = match DFA::builder()
        .configure(
            DFA::config()
                .cache_capacity(MAX_COMPILED_BYTES)
                // Never give up on a thrashing cache: the deadline bounds it.
                .minimum_cache_clear_count(None)
                .unicode_word_boundary(true),
        )
        .syntax(syntax::Config::new().utf8(true).nest_limit(MAX_NESTING))
        .thompson(thompson::Config::new().nfa_size_limit(Some(MAX_COMPILED_BYTES)))
        .build(pattern)
    {
        Ok(dfa) => dfa,
        Err(e) => return cannot(format!("its lazy DFA cannot be built ({e})")),
    };
    let mut cache = dfa.create_cache();
    let quits = "a Unicode word boundary (\\b) cannot be searched in non-ASCII text this way (use (?-u:\\b))";
    let Ok(mut state) = dfa.start_state_forward(&mut cache, &regex_automata::Input::new(text)) else {
        return cannot(quits.into());
    };
    for chunk in text.chunks(DEADLINE_CHECK_BYTES) {
        if Instant::now() >= deadline {
            return Err(DeadlinePassed);
        }
        for &byte in chunk {
            let Ok(next) = dfa.next_state(&mut cache, state, byte) else {
                return cannot("the lazy DFA gave up".into());
            };
            state = next;
            if state.is_tagged() {
                if state.is_match() {
                    return Ok(Ok(true));
                } else if state.is_dead() {
                    return Ok(Ok(false));
                } else if state.is_quit() {
                    return cannot(quits.into());
                }
            }
        }
    }
    match dfa.next_eoi_state(&mut cache, state) {
        Ok(end) => Ok(Ok(end.is_match())),
        Err(_) => cannot("the lazy DFA gave up".into()),
    }
}

impl RegexCache {
    /// The compiled `pattern` and its program size, from the cache or
    /// compiled now (outside the lock) and cached if there is room.
    fn get(&self, pattern: &str) -> Result<(Arc<meta::Regex>, usize), String> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            inner.clock += 1;
            let now = inner.clock;
            if let Some(hit) = inner.entries.get_mut(pattern) {
                hit.last_used = now;
                return Ok((hit.regex.clone(), hit.program));
            }
        }
        let compiled = compile(pattern)?;
        let found = (compiled.regex.clone(), compiled.program);
        self.insert(pattern, compiled);
        Ok(found)
    }

    fn insert(&self, pattern: &str, mut compiled: Compiled) {
        let bytes = compiled.bytes;
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
        compiled.last_used = inner.clock;
        inner.entries.insert(pattern.to_owned(), compiled);
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

/// Whether a search's worst case (program bytes × text bytes at
/// [`WORST_CASE_WORK_PER_SEC`]) ends before `deadline`.
fn fits_in_time(program_bytes: usize, text_bytes: usize, deadline: Instant) -> bool {
    let remaining = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
    let worst = (program_bytes as f64) * (text_bytes.max(1) as f64) / WORST_CASE_WORK_PER_SEC;
    worst <= remaining
}

impl HostState {
    /// `host.log`: append to the evaluation's bounded log.
    fn host_log(&mut self, level: &str, message: &str) {
        self.log.push(level, message);
    }

    /// `host.regex-is-match`, the same for every contract version.
    fn host_regex_is_match(
        &mut self,
        pattern: String,
        text: String,
    ) -> wasmtime::Result<Result<bool, String>> {
        if Instant::now() >= self.deadline {
            return Err(wasmtime::Error::new(DeadlinePassed));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Ok(Err(format!(
                "text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                text.len()
            )));
        }
        let (regex, program) = match self.regex.get(&pattern) {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        if fits_in_time(program, text.len(), self.deadline) {
            return Ok(Ok(regex.is_match(&text)));
        }
        interruptible_is_match(&pattern, text.as_bytes(), self.deadline).map_err(wasmtime::Error::new)
    }
}

/// The `host` interface of each contract version the host loads: one
/// implementation behind both (the interface did not change).
macro_rules! impl_host_interface {
    ($($version:ident),*) => {$(
        /// `types` holds only types; its host side has nothing to do.
        impl crate::bindings::$version::sealgate::policy::types::Host for HostState {}

        impl crate::bindings::$version::sealgate::policy::host::Host for HostState {
            fn log(&mut self, level: crate::bindings::$version::sealgate::policy::host::LogLevel, message: String) {
                use crate::bindings::$version::sealgate::policy::host::LogLevel;
                let level = match level {
                    LogLevel::Debug => "debug",
                    LogLevel::Info => "info",
                    LogLevel::Warn => "warn",
                    LogLevel::Error => "error",
                };
                self.host_log(level, &message);
            }

            fn regex_is_match(&mut self, pattern: String, text: String) -> wasmtime::Result<Result<bool, String>> {
                self.host_regex_is_match(pattern, text)
            }
        }
    )*};
}

impl_host_interface!(v0_1, v0_2);

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
    fn the_interruptible_search_agrees_with_the_regex_and_stops_at_the_deadline() {
        let later = Instant::now() + std::time::Duration::from_secs(60);
        let long = "x".repeat(10_000);
        for (pattern, text) in [
            (r"^\d{3}-\d{2}-\d{4}$", "078-05-1120"),
            (r"^\d{3}-\d{2}-\d{4}$", "078-05-11200"),
            (r"(?i)e[-_]?mail", "Customer_EMail"),
            (r"(?m)^b$", "a\nb\nc"),
            (r"(?-u:\b)ssn(?-u:\b)", "the ssn column"),
            (r"(?-u:\b)ssn(?-u:\b)", "lessnot"),
            (r"[ab]*a[ab]{20}c", "ab"),
            ("", ""),
            ("x$", long.as_str()),
            ("é+", "café"),
        ] {
            let expected = compile(pattern).unwrap().regex.is_match(text);
            let got = interruptible_is_match(pattern, text.as_bytes(), later)
                .unwrap()
                .unwrap();
            assert_eq!(got, expected, "{pattern:?} on {text:?}");
        }
        // Unicode \b over non-ASCII: the lazy DFA cannot answer, so it says so.
        assert!(
            interruptible_is_match(r"\bcafé\b", "un café".as_bytes(), later)
                .unwrap()
                .unwrap_err()
                .contains("word boundary")
        );
        // The pathological search is stopped at its deadline.
        let text = "ab".repeat(1 << 19);
        let started = Instant::now();
        let deadline = started + std::time::Duration::from_millis(200);
        assert!(interruptible_is_match("[ab]*a[ab]{10000}c", text.as_bytes(), deadline).is_err());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn work_is_bounded_by_the_time_left() {
        let soon = Instant::now() + std::time::Duration::from_millis(100);
        // A 500 KB program over 1 MiB is ~500 s at the floor rate: too long.
        assert!(!fits_in_time(500_000, 1 << 20, soon));
        // A 50 KB program over 100 bytes is 5 µs: fine.
        assert!(fits_in_time(50_000, 100, soon));
        // Nothing fits once the deadline has passed.
        assert!(!fits_in_time(1, 1, Instant::now()));
    }
}
