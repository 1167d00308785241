//! Bad input through every command: each case must end in one error line
//! that names the input and the problem, exit 2, no panic (the `sealgate`
//! helper fails on any), nothing on stdout, bounded memory (a size cap, not
//! an OOM kill), and no output file written or clobbered.

use std::path::{Path, PathBuf};

use crate::support::*;

/// Files of every kind of bad, made once per test in a temp dir.
struct Bad {
    dir: tempfile::TempDir,
}

impl Bad {
    fn new() -> Self {
        Bad {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }

    /// A sparse file of `len` bytes: as large as claimed, costing no disk.
    fn huge(&self, name: &str, len: u64) -> String {
        let p = self.path(name);
        std::fs::File::create(&p).unwrap().set_len(len).unwrap();
        p.display().to_string()
    }

    /// A real key pair, `keys/ci.key` and `keys/ci.pub`.
    fn keys(&self) -> PathBuf {
        let keys = self.path("keys");
        let out = sealgate(&["keygen", "--out", keys.to_str().unwrap(), "--name", "ci"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        keys
    }

    fn subdir(&self, name: &str) -> String {
        let p = self.path(name);
        std::fs::create_dir_all(&p).unwrap();
        p.display().to_string()
    }
}

/// Exit 2, one line on stderr containing every needle, nothing on stdout.
fn assert_input_error(args: &[&str], needles: &[&str]) {
    let out = sealgate(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(stdout(&out).is_empty(), "{args:?}: stdout: {}", stdout(&out));
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in: {err}");
    }
    // A cause is said once, not again after the message that quotes it.
    for (i, _) in err.match_indices("(os error ") {
        let said = &err[i..err[i..].find(')').map_or(err.len(), |j| i + j + 1)];
        assert_eq!(err.matches(said).count(), 1, "{args:?}: `{said}` repeated: {err}");
    }
}

/// An output file given to a failing command still holds what it held.
fn assert_untouched(path: &str, args: &[&str]) {
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        "previous",
        "{args:?} clobbered {path}"
    );
}

const DEEP: usize = 100_000;
const TWO_HUNDRED_MB: u64 = 200 * 1024 * 1024;

#[test]
fn check_refuses_every_kind_of_bad_metadata() {
    let b = Bad::new();
    let gate = example_gate(b.dir.path());
    let gate = gate.to_str().unwrap();
    let deep = format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP));
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            b.file("malformed.json", "{\"api_version\": "),
            vec!["malformed.json", "invalid JSON"],
        ),
        (b.file("empty.json", ""), vec!["empty.json", "invalid JSON: EOF"]),
        (
            b.file("array.json", "[]"),
            vec!["array.json", "must be an object, found an array"],
        ),
        (
            b.file(
                "types.json",
                r#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":7}}"#,
            ),
            vec!["types.json", "/artifact/name"],
        ),
        (
            b.huge("huge.json", TWO_HUNDRED_MB),
            vec!["huge.json", "larger than the 16777216-byte limit"],
        ),
        (
            b.file("deep.json", deep),
            vec!["deep.json", "nested deeper than 64 levels"],
        ),
        (
            b.file("latin1.json", b"{\"a\": \"caf\xe9\"}"),
            vec!["latin1.json", "not UTF-8"],
        ),
        (
            b.subdir("a-directory.json"),
            vec!["a-directory.json", "is not a regular file"],
        ),
        (
            b.path("missing.json").display().to_string(),
            vec!["missing.json", "No such file"],
        ),
    ];
    for (meta, needles) in &cases {
        assert_input_error(&["check", "--gate", gate, "--metadata", meta], needles);
    }
}

#[test]
fn check_refuses_every_kind_of_bad_gate() {
    let b = Bad::new();
    let meta = clean_metadata();
    let meta = meta.to_str().unwrap();
    // A gate whose policy file was swapped after pinning: the pin is the
    // lineage policy's, the file is the PII policy.
    let swapped = b.file(
        "swapped.toml",
        format!(
            "api-version = \"sealgate/v1\"\nname = \"g\"\n[[policies]]\nmodule = {:?}\nsha256 = \"{}\"\n",
            guests().pii.path.display().to_string(),
            guests().lineage.sha256
        ),
    );
    let cases: Vec<(String, Vec<&str>)> = vec![
        (b.file("malformed.toml", "name = \n"), vec!["malformed.toml"]),
        (b.file("empty.toml", ""), vec!["empty.toml", "api-version"]),
        (
            b.file("types.toml", "api-version = \"sealgate/v1\"\nname = 7\n"),
            vec!["types.toml", "line 2, column 8: invalid type: integer `7`"],
        ),
        (
            b.huge("huge.toml", TWO_HUNDRED_MB),
            vec!["huge.toml", "larger than"],
        ),
        (
            b.file("latin1.toml", b"name = \"caf\xe9\"\n"),
            vec!["latin1.toml", "UTF-8"],
        ),
        (b.subdir("gate-dir"), vec!["gate-dir", "is not a regular file"]),
        (
            b.path("missing.toml").display().to_string(),
            vec!["missing.toml", "No such file"],
        ),
        (swapped, vec!["swapped.toml", "refusing to compile"]),
    ];
    for (gate, needles) in &cases {
        assert_input_error(&["check", "--gate", gate, "--metadata", meta], needles);
    }
}

#[test]
fn collect_refuses_every_kind_of_bad_source() {
    let b = Bad::new();
    let dvc = b.subdir("dvc");
    std::fs::write(Path::new(&dvc).join("dvc.lock"), "schema: '2.0'\nstages: [\n").unwrap();
    let mlflow_file = b.file("mlruns", "not a directory");
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec!["--dvc".into(), dvc.clone()],
            vec!["dvc.lock", "invalid YAML"],
        ),
        (
            vec![
                "--mlflow".into(),
                mlflow_file,
                "--model".into(),
                "m".into(),
                "--model-version".into(),
                "1".into(),
            ],
            vec!["no registered model `m`"],
        ),
        (
            vec!["--evidently".into(), b.file("drift.json", b"\xff\xfe")],
            vec!["drift.json", "not UTF-8"],
        ),
        (
            vec!["--evidently".into(), b.file("empty-drift.json", "")],
            vec!["empty-drift.json", "invalid JSON"],
        ),
        (
            vec!["--storage".into(), b.huge("huge-policy.json", TWO_HUNDRED_MB)],
            vec!["huge-policy.json", "larger than"],
        ),
        (
            vec![
                "--storage".into(),
                b.file("deep.yaml", format!("{}1{}", "[".repeat(DEEP), "]".repeat(DEEP))),
            ],
            vec!["deep.yaml", "invalid YAML"],
        ),
        (
            vec!["--storage".into(), b.subdir("settings")],
            vec!["settings", "is not a regular file"],
        ),
        (
            vec!["--openlineage".into(), b.file("events.jsonl", "")],
            vec!["events.jsonl", "no RunEvents"],
        ),
        (
            vec![
                "--openlineage".into(),
                b.path("missing.jsonl").display().to_string(),
            ],
            vec!["missing.jsonl"],
        ),
        (
            vec!["--image".into(), "ghcr.io/acme/churn:latest".into()],
            vec!["not pinned by digest"],
        ),
    ];
    let out_file = b.file("metadata.json", "previous");
    for (args, needles) in &cases {
        let mut full = vec!["collect", "--out", out_file.as_str()];
        full.extend(args.iter().map(String::as_str));
        assert_input_error(&full, needles);
        assert_untouched(&out_file, &full);
    }
}

#[test]
fn attest_refuses_bad_keys_and_artifacts_without_writing() {
    let b = Bad::new();
    let gate = example_gate(b.dir.path());
    let keys = b.keys();
    let private = |name: &str, text: &[u8]| {
        use std::os::unix::fs::PermissionsExt;
        let p = b.file(name, text);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    };
    let public_as_private = private("public.key", &std::fs::read(keys.join("ci.pub")).unwrap());
    let garbage = private(
        "garbage.key",
        b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
    );
    let empty = private("empty.key", b"");
    // A well-formed PKCS#8 key of the wrong algorithm.
    let p256 = b.path("p256.key");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&p256)
        .status()
        .expect("openssl");
    assert!(made.success());
    let p256 = private("p256.key", &std::fs::read(&p256).unwrap());
    let out = b.file("bundle.jsonl", "previous");
    let model = clean_metadata();
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (vec!["--key".into(), public_as_private], vec!["public.key"]),
        (vec!["--key".into(), garbage], vec!["garbage.key"]),
        (vec!["--key".into(), empty], vec!["empty.key"]),
        (
            vec!["--key".into(), p256],
            vec!["p256.key", "a key of another algorithm"],
        ),
        (vec!["--key".into(), b.subdir("key-dir")], vec!["key-dir"]),
        (
            vec![
                "--key".into(),
                keys.join("ci.key").display().to_string(),
                "--artifact".into(),
                b.subdir("model-dir"),
            ],
            vec!["model-dir", "not a regular file"],
        ),
    ];
    for (args, needles) in &cases {
        let mut full = vec![
            "attest",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            model.to_str().unwrap(),
            "--out",
            out.as_str(),
        ];
        full.extend(args.iter().map(String::as_str));
        if !args.iter().any(|a| a == "--artifact") {
            full.extend(["--artifact", model.to_str().unwrap()]);
        }
        assert_input_error(&full, needles);
        assert_untouched(&out, &full);
    }
}

#[test]
fn verify_refuses_files_that_are_not_bundles_or_keys() {
    let b = Bad::new();
    let keys = b.keys();
    let pubkey = keys.join("ci.pub").display().to_string();
    let model = clean_metadata().display().to_string();
    let artifact = model_file(b.dir.path(), "churn-model").display().to_string();
    // A real bundle over `model`, to damage.
    let gate = example_gate(b.dir.path());
    let good = b.path("good.intoto.jsonl");
    let out = sealgate(&[
        "attest",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        &model,
        "--artifact",
        &artifact,
        "--key",
        keys.join("ci.key").to_str().unwrap(),
        "--out",
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&good).unwrap();
    let first = text.lines().next().unwrap();
    let bundle_cases: Vec<(String, Vec<&str>)> = vec![
        (
            b.file("bom.jsonl", format!("\u{feff}{text}")),
            vec!["bom.jsonl", "not a valid bundle", "byte-order mark"],
        ),
        (
            b.file("blank.jsonl", text.replacen('\n', "\n\n", 1)),
            vec!["blank.jsonl", "not a valid bundle"],
        ),
        (
            b.file("extra.jsonl", format!("{text}{{\"not\": \"an envelope\"}}\n")),
            vec!["extra.jsonl", "not a valid bundle"],
        ),
        (
            b.file("half.jsonl", &first[..first.len() / 2]),
            vec!["half.jsonl", "not a valid bundle"],
        ),
        (
            b.file("empty.jsonl", ""),
            vec!["empty.jsonl", "not a valid bundle"],
        ),
        (
            b.file("latin1.jsonl", b"\xe9\n"),
            vec!["latin1.jsonl", "not a valid bundle"],
        ),
        (
            b.huge("huge.jsonl", TWO_HUNDRED_MB),
            vec!["huge.jsonl", "larger than"],
        ),
        (
            b.subdir("bundle-dir"),
            vec!["bundle-dir", "is not a regular file"],
        ),
    ];
    for (bundle, needles) in &bundle_cases {
        assert_input_error(
            &[
                "verify",
                "--bundle",
                bundle,
                "--artifact",
                &artifact,
                "--key",
                &pubkey,
            ],
            needles,
        );
    }
    let good = good.display().to_string();
    let key_cases: Vec<(String, Vec<&str>)> = vec![
        // A private key where a public key belongs.
        (keys.join("ci.key").display().to_string(), vec!["ci.key"]),
        (
            b.file(
                "garbage.pub",
                "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n",
            ),
            vec!["garbage.pub"],
        ),
        (b.file("empty.pub", ""), vec!["empty.pub"]),
    ];
    for (key, needles) in &key_cases {
        assert_input_error(
            &["verify", "--bundle", &good, "--artifact", &artifact, "--key", key],
            needles,
        );
    }
    let trust = b.file("trust.toml", "api-version = \"sealgate/trust/v1\"\n[[keys]\n");
    assert_input_error(
        &[
            "verify",
            "--bundle",
            &good,
            "--artifact",
            &artifact,
            "--trust",
            &trust,
        ],
        &["trust.toml"],
    );
}

#[test]
fn keygen_and_policy_commands_refuse_bad_paths() {
    let b = Bad::new();
    let file = b.file("not-a-dir", "x");
    assert_input_error(&["keygen", "--out", &file], &["not-a-dir"]);
    let keys = b.path("keys").display().to_string();
    assert_eq!(sealgate(&["keygen", "--out", &keys]).status.code(), Some(0));
    let before = std::fs::read(Path::new(&keys).join("sealgate.key")).unwrap();
    assert_input_error(&["keygen", "--out", &keys], &["exists"]);
    assert_eq!(
        std::fs::read(Path::new(&keys).join("sealgate.key")).unwrap(),
        before
    );

    assert_input_error(
        &["policy", "inspect", &b.file("random.wasm", [0x5a; 4096])],
        &["random.wasm"],
    );
    assert_input_error(
        &["policy", "inspect", &b.huge("huge.wasm", TWO_HUNDRED_MB)],
        &["huge.wasm", "larger than"],
    );
    assert_input_error(
        &["policy", "build", &b.subdir("not-a-crate")],
        &["not-a-crate", "Cargo.toml"],
    );
    let tests = b.subdir("policy/tests");
    std::fs::write(Path::new(&tests).join("cases.toml"), "[[case]\n").unwrap();
    assert_input_error(
        &[
            "policy",
            "test",
            &b.path("policy").display().to_string(),
            "--module",
            guests().pii.path.to_str().unwrap(),
        ],
        &["cases.toml"],
    );
}

/// `sealgate ARGS`, killed (and the test failed) if it runs past `limit`:
/// a hang must fail the suite, not stall it.
fn sealgate_within(args: &[&str], limit: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = sealgate_command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after {limit:?}: it waits on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn fifos_are_refused_at_once_wherever_a_file_is_read() {
    // Opening a FIFO for reading waits for a writer, forever if none comes:
    // every input must be opened without blocking and refused as not a file.
    let b = Bad::new();
    let fifo = b.path("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let fifo = fifo.to_str().unwrap().to_owned();
    let keys = b.keys();
    let key = keys.join("ci.key").display().to_string();
    let public = keys.join("ci.pub").display().to_string();
    let gate = example_gate(b.dir.path());
    let gate = gate.to_str().unwrap();
    let model = clean_metadata().display().to_string();
    // A gate whose policy module is the FIFO.
    let module_gate = write_gate(&b.path(""), Path::new(&fifo), &guests().pii.sha256, "{}", "");
    let module_gate = module_gate.to_str().unwrap();
    let bundle = b.file("b.intoto.jsonl", "{}\n");
    let serve_config = b.file(
        "serve.toml",
        format!("api-version = \"sealgate/server/v1\"\ngates = [{:?}]\n", fifo),
    );
    let cases: Vec<Vec<&str>> = vec![
        vec!["check", "--gate", &fifo, "--metadata", &model],
        vec!["check", "--gate", gate, "--metadata", &fifo],
        vec!["check", "--gate", module_gate, "--metadata", &model],
        vec![
            "check",
            "--gate",
            gate,
            "--metadata",
            &model,
            "--decision-log",
            &fifo,
        ],
        vec![
            "attest",
            "--gate",
            gate,
            "--metadata",
            &model,
            "--artifact",
            &model,
            "--key",
            &fifo,
        ],
        vec![
            "attest",
            "--gate",
            gate,
            "--metadata",
            &model,
            "--artifact",
            &fifo,
            "--key",
            &key,
        ],
        vec![
            "verify",
            "--bundle",
            &fifo,
            "--artifact",
            &model,
            "--key",
            &public,
        ],
        vec![
            "verify",
            "--bundle",
            &bundle,
            "--artifact",
            &fifo,
            "--key",
            &public,
        ],
        vec![
            "verify",
            "--bundle",
            &bundle,
            "--artifact",
            &model,
            "--key",
            &fifo,
        ],
        vec![
            "verify",
            "--bundle",
            &bundle,
            "--artifact",
            &model,
            "--trust",
            &fifo,
        ],
        vec!["collect", "--evidently", &fifo],
        vec!["collect", "--storage", &fifo],
        vec!["collect", "--openlineage", &fifo],
        vec!["policy", "inspect", &fifo],
        vec!["log", "verify", &fifo],
        vec!["serve", "--config", &fifo],
        vec!["serve", "--config", &serve_config],
    ];
    for args in &cases {
        let out = sealgate_within(args, std::time::Duration::from_secs(60));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("not a regular file") && err.contains("pipe"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn an_oversized_bundle_is_refused_naming_the_real_limit() {
    let b = Bad::new();
    let keys = b.keys();
    let big = b.huge("big.intoto.jsonl", 20 << 20);
    let digest = format!("sha256:{}", "0".repeat(64));
    assert_input_error(
        &[
            "verify",
            "--bundle",
            &big,
            "--digest",
            &digest,
            "--key",
            keys.join("ci.pub").to_str().unwrap(),
        ],
        &["big.intoto.jsonl", "larger than the 16777216-byte limit"],
    );
}
