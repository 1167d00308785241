//! The precompiled cache: used on the second run, a corrupt entry is
//! recompiled, and nothing another user (or another component) put there
//! ever runs in place of a pinned policy.
//!
//! The attacks plant the compiled code of `tests/guests/impostor` (a policy
//! that calls itself `sealgate.pii` and passes everything) under the PII
//! policy's entry name. Were it loaded, `churn-model-pii.json` would pass PII;
//! each test checks the gate still FAILS with the real PII findings.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

/// `sealgate check -v` of the example gate on the PII model, with `cache`
/// and the cache key under `config_home`.
fn check_with(cache: &Path, config_home: &Path, gate: &Path) -> Output {
    let out = sealgate_command()
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("SEALGATE_CACHE_DIR")
        .args(["check", "--gate"])
        .arg(gate)
        .arg("--metadata")
        .arg(repo("examples/metadata/churn-model-pii.json"))
        .arg("--cache-dir")
        .arg(cache)
        .arg("-v")
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

fn suite_config_home() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("config")
}

fn check_with_cache(cache: &Path) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    check_with(cache, &suite_config_home(), &gate)
}

/// The entry `-v` reported for `module` (`MODULE: cache: stored|hit|recompiled ENTRY …`).
fn entry_of(out: &Output, module: &Path) -> PathBuf {
    let prefix = format!("{}: cache: ", module.display());
    let line = stderr(out)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no cache line for {}: {}", module.display(), stderr(out)));
    let path = line.split_whitespace().nth(1).unwrap();
    PathBuf::from(path)
}

/// Compile the impostor into `cache` (under the key in `config_home`) and
/// return its entry.
fn impostor_entry(cache: &Path, config_home: &Path) -> PathBuf {
    let dir = tempfile::tempdir().unwrap();
    let g = &guests().impostor;
    let gate = write_gate(dir.path(), &g.path, &g.sha256, "{}", "");
    let out = check_with(cache, config_home, &gate);
    // The impostor passes the PII model: this is what must never run below.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    entry_of(&out, &g.path)
}

/// The gate refused the PII model on PII's own findings.
fn assert_real_pii_ran(out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(out), stderr(out));
    let text = stdout(out);
    assert!(text.starts_with("gate ml-release: FAILED"), "{text}");
    assert!(text.contains("pii.column.ssn"), "{text}");
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
        stderr(&third).contains("cache: recompiled")
            && stderr(&third).contains("authentication tag mismatch"),
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
    // And the rewritten entry is good again, private to the user.
    assert!(stderr(&check_with_cache(cache.path())).contains("cache: hit"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&entries[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let key = suite_config_home().join("sealgate/cache.key");
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::metadata(&key).unwrap().len(), 32);
    }
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

#[test]
fn another_components_entry_under_this_ones_name_never_runs() {
    // Same user, same key: the tag covers the component digest.
    let cache = tempfile::tempdir().unwrap();
    let pii_entry = entry_of(&check_with_cache(cache.path()), &gate_pii_module());
    let impostor = impostor_entry(cache.path(), &suite_config_home());
    std::fs::copy(&impostor, &pii_entry).unwrap();

    let out = check_with_cache(cache.path());
    assert_real_pii_ran(&out);
    assert!(
        stderr(&out).contains("cache: recompiled") && stderr(&out).contains("authentication tag mismatch"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn entries_resealed_without_this_users_key_never_run() {
    let cache = tempfile::tempdir().unwrap();
    let pii_entry = entry_of(&check_with_cache(cache.path()), &gate_pii_module());
    let impostor = std::fs::read(impostor_entry(cache.path(), &suite_config_home())).unwrap();
    let (header, rest) = impostor.split_at(8);
    let payload = &rest[32..];

    // 1. Re-sealed with an unkeyed checksum, as the old format allowed anyone to.
    let mut resealed = header.to_vec();
    resealed.extend_from_slice(blake3::hash(payload).as_bytes());
    resealed.extend_from_slice(payload);
    std::fs::write(&pii_entry, &resealed).unwrap();
    let out = check_with_cache(cache.path());
    assert_real_pii_ran(&out);
    assert!(
        stderr(&out).contains("authentication tag mismatch"),
        "{}",
        stderr(&out)
    );

    // 2. Sealed under another user's key (their own sealgate wrote it).
    let other_home = tempfile::tempdir().unwrap();
    let foreign_cache = tempfile::tempdir().unwrap();
    let foreign = impostor_entry(foreign_cache.path(), other_home.path());
    std::fs::copy(&foreign, &pii_entry).unwrap();
    let out = check_with_cache(cache.path());
    assert_real_pii_ran(&out);
    assert!(
        stderr(&out).contains("authentication tag mismatch"),
        "{}",
        stderr(&out)
    );
}

/// The PII module's path as the example gate names it in the suite.
fn gate_pii_module() -> PathBuf {
    guests().pii.path.clone()
}

#[cfg(unix)]
#[test]
fn symlinked_directories_and_entries_are_not_followed() {
    let cache = tempfile::tempdir().unwrap();
    let real = cache.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let pii_entry = entry_of(&check_with_cache(&real), &gate_pii_module());

    // The directory: a link to a good cache is still not used.
    let link = cache.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = check_with_cache(&link);
    assert_real_pii_ran(&out);
    assert!(
        stderr(&out).contains("warning: precompiled cache not used")
            && stderr(&out).contains("symbolic link"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("cache: hit"), "{}", stderr(&out));

    // An entry: a link to the impostor's entry is not followed, and is replaced.
    let impostor = impostor_entry(&real, &suite_config_home());
    std::fs::remove_file(&pii_entry).unwrap();
    std::os::unix::fs::symlink(&impostor, &pii_entry).unwrap();
    let out = check_with_cache(&real);
    assert_real_pii_ran(&out);
    assert!(
        stderr(&out).contains("cache: recompiled") && stderr(&out).contains("symbolic link"),
        "{}",
        stderr(&out)
    );
    assert!(
        !std::fs::symlink_metadata(&pii_entry)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_or_a_linked_key_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gate = example_gate(dir.path());
    // First use creates the key, 0600 in a 0700 directory.
    let out = check_with(cache.path(), home.path(), &gate);
    assert_eq!(out.status.code(), Some(1));
    let key = home.path().join("sealgate/cache.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(key.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = check_with(cache.path(), home.path(), &gate);
    assert_real_pii_ran(&out);
    assert!(
        stderr(&out).contains("cache key") && stderr(&out).contains("group or other permissions"),
        "{}",
        stderr(&out)
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let moved = home.path().join("elsewhere.key");
    std::fs::rename(&key, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &key).unwrap();
    let out = check_with(cache.path(), home.path(), &gate);
    assert_real_pii_ran(&out);
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
}

/// Run `script` with `sh -c` as `nobody` (uid 65534).
fn as_nobody(script: &str) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "sh",
            "-c",
            script,
        ])
        .output()
        .expect("setpriv")
}

#[cfg(unix)]
#[test]
fn another_users_directory_is_never_used() {
    use std::os::unix::fs::PermissionsExt;
    if !running_as_root() || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv (util-linux) to act as another user");
        return;
    }
    // Our own cache, to learn PII's entry name and build the impostor's entry.
    let ours = tempfile::tempdir().unwrap();
    let pii_entry = entry_of(&check_with_cache(ours.path()), &gate_pii_module());
    let impostor = impostor_entry(ours.path(), &suite_config_home());

    // A shared place like /tmp on a CI runner (1777): nobody makes the
    // "cache" first, 0755, and plants the impostor under PII's name.
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let plant = shared.path().join("plant.cwasm");
    std::fs::copy(&impostor, &plant).unwrap();
    std::fs::set_permissions(&plant, std::fs::Permissions::from_mode(0o644)).unwrap();
    let theirs = shared.path().join("sealgate-cache");
    let name = pii_entry.file_name().unwrap().to_str().unwrap();
    let planted = as_nobody(&format!(
        "mkdir -m 755 '{d}' && cp '{p}' '{d}/{name}' && chmod 600 '{d}/{name}'",
        d = theirs.display(),
        p = plant.display()
    ));
    assert!(
        planted.status.success(),
        "{}",
        String::from_utf8_lossy(&planted.stderr)
    );

    let out = check_with_cache(&theirs);
    assert_real_pii_ran(&out);
    assert!(
        stderr(&out).contains("warning: precompiled cache not used")
            && stderr(&out).contains("is owned by uid 65534"),
        "{}",
        stderr(&out)
    );

    // A directory of ours below a parent another user controls.
    let parent = shared.path().join("theirs-parent");
    let made = as_nobody(&format!("mkdir -m 755 '{}'", parent.display()));
    assert!(made.status.success());
    let below = parent.join("cache");
    std::fs::create_dir(&below).unwrap(); // root may write anywhere
    let out = check_with_cache(&below);
    assert_real_pii_ran(&out);
    assert!(
        stderr(&out).contains("a parent of") && stderr(&out).contains("owned by uid 65534"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&below).unwrap().count(), 0);
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
