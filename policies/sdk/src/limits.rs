//! The host's limits on `regex-is-match`, as policies may plan for them
//! (the suite checks they equal `sealgate::host`'s, so none is restated).

/// Longest pattern a policy may compile, in bytes.
pub const MAX_PATTERN_BYTES: usize = 4 << 10;
/// Longest text one call may scan, in bytes.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Cap on one compiled program (and each lazy-DFA cache), in bytes.
pub const MAX_COMPILED_BYTES: usize = 1 << 20;
/// Deepest nesting of groups and repetitions in a pattern.
pub const MAX_NESTING: u32 = 64;
