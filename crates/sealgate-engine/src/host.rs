//! The `sealgate:policy/host` interface: what a policy may ask of the host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regex::{Regex, RegexBuilder};

use crate::bindings::sealgate::policy::host::{Host, LogLevel};
use crate::sandbox::HostState;

/// Longest pattern a policy may compile.
const MAX_PATTERN_BYTES: usize = 4 << 10;
/// Longest text one `regex-is-match` call may scan (regex is linear in it).
const MAX_TEXT_BYTES: usize = 1 << 20;
/// Cap on a compiled program (the `regex` crate's size limit).
const MAX_COMPILED_BYTES: usize = 1 << 20;
/// Patterns kept compiled per engine. Past this, new patterns still work but
/// are compiled per call rather than cached, so a policy cannot grow host memory
/// without bound by inventing patterns.
const MAX_CACHED_PATTERNS: usize = 1024;

/// Compiled patterns, shared by every evaluation of every policy of an engine.
/// Compiling is pure, so sharing leaks nothing between evaluations.
#[derive(Default)]
pub(crate) struct RegexCache {
    compiled: Mutex<HashMap<String, Result<Arc<Regex>, String>>>,
}

impl RegexCache {
    fn get(&self, pattern: &str) -> Result<Arc<Regex>, String> {
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(format!(
                "pattern is {} bytes; the limit is {MAX_PATTERN_BYTES}",
                pattern.len()
            ));
        }
        // A poisoned lock only means another evaluation panicked mid-insert;
        // the map itself is still consistent.
        let mut map = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = map.get(pattern) {
            return hit.clone();
        }
        let compiled = RegexBuilder::new(pattern)
            .size_limit(MAX_COMPILED_BYTES)
            .dfa_size_limit(MAX_COMPILED_BYTES)
            .nest_limit(64)
            .build()
            .map(Arc::new)
            .map_err(|e| format!("invalid pattern: {e}"));
        if map.len() < MAX_CACHED_PATTERNS {
            map.insert(pattern.to_owned(), compiled.clone());
        }
        compiled
    }
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

    fn regex_is_match(&mut self, pattern: String, text: String) -> Result<bool, String> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(format!(
                "text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                text.len()
            ));
        }
        Ok(self.regex.get(&pattern)?.is_match(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_once_and_reports_bad_patterns() {
        let cache = RegexCache::default();
        let a = cache.get(r"^\d{3}-\d{2}-\d{4}$").unwrap();
        let b = cache.get(r"^\d{3}-\d{2}-\d{4}$").unwrap();
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
}
