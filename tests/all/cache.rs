//! The precompiled cache: used on the second run, and a corrupt entry is
//! recompiled, never run.

use crate::support::*;

fn check_with_cache(cache: &std::path::Path) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    let meta = repo("examples/metadata/churn-model-pii.json");
    check(&gate, &meta, &["--cache-dir", cache.to_str().unwrap(), "-v"])
}

#[test]
fn second_run_hits_the_cache_and_corrupt_entries_are_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let first = check_with_cache(cache.path());
    assert_eq!(first.status.code(), Some(1));
    assert!(stderr(&first).contains("cache: stored"), "{}", stderr(&first));

    let second = check_with_cache(cache.path());
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(
        stderr(&second).matches("cache: hit").count(),
        guests().shipped().len(),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        stdout(&first).lines().skip(3).collect::<Vec<_>>(),
        stdout(&second).lines().skip(3).collect::<Vec<_>>()
    );

    // Flip one byte in the middle of the native code.
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        entries.len(),
        guests().shipped().len(),
        "one entry per policy of the gate: {entries:?}"
    );
    let mut bytes = std::fs::read(&entries[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&entries[0], &bytes).unwrap();

    let third = check_with_cache(cache.path());
    assert_eq!(third.status.code(), Some(1), "{}", stderr(&third));
    assert!(
        stderr(&third).contains("cache: recompiled") && stderr(&third).contains("checksum mismatch"),
        "{}",
        stderr(&third)
    );
    assert!(stdout(&third).contains("pii.column.ssn"));

    // Truncated entry: same story.
    std::fs::write(&entries[0], &bytes[..100]).unwrap();
    let fourth = check_with_cache(cache.path());
    assert_eq!(fourth.status.code(), Some(1));
    assert!(
        stderr(&fourth).contains("cache: recompiled"),
        "{}",
        stderr(&fourth)
    );
    // And the rewritten entry is good again.
    assert!(stderr(&check_with_cache(cache.path())).contains("cache: hit"));
}

#[cfg(unix)]
#[test]
fn cache_writable_by_others_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = check_with_cache(cache.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("writable by group or others"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_dir(cache.path()).unwrap().count(),
        0,
        "nothing may be written there"
    );
}
