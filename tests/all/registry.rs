//! Policies through a real OCI registry: CNCF distribution (Debian's
//! `docker-registry`) on loopback with TLS (a CA of the test's own) and
//! htpasswd basic auth, and `skopeo` as an independent client reading back
//! what sealgate pushed. Faults: the registry down, one that never answers,
//! a blob altered in the registry's storage, a tag where a digest is
//! required: each a clear error and no PASSED.
//!
//! The registry is an external program: where it is not installed these
//! tests say so and skip, except under CI (`CI` set), which installs it
//! (`.ci/run`) and so must not skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const USER: &str = "sealgate";
const PASSWORD: &str = "sealgate-test-password";
/// bcrypt of PASSWORD, cost 5 (distribution's htpasswd accepts bcrypt only; the
/// registry checks it on every request, and cost 12 would take ~0.25 s each).
const HTPASSWD: &str = "sealgate:$2b$05$r3VEzp6cYrMX37ljZk33/Olzpwdb9DpSBc4tMNiBAtcdTVoMirhFq\n";

/// A CA of the test's own (written to `DIR/ca.pem`), and a certificate for
/// 127.0.0.1 signed by it.
struct TestTls {
    ca_pem: String,
    leaf: rcgen::Certificate,
    leaf_key: rcgen::KeyPair,
}

impl TestTls {
    fn new(dir: &Path) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sealgate test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Self {
            ca_pem: ca.pem(),
            leaf,
            leaf_key,
        }
    }
}

/// A TLS server on 127.0.0.1 that answers every request with `status` and
/// an OCI error body, for at most 32 connections (each with a 5 s read
/// timeout). Returns its address.
fn answering_with(status: u16, tls: &TestTls) -> String {
    use std::io::{Read, Write};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![tls.leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(tls.leaf_key.serialize_der()).unwrap(),
        )
        .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(32) {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 << 10 {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body = r#"{"errors":[{"code":"UNKNOWN","message":"the registry failed"}]}"#;
            let _ = write!(
                tls,
                "HTTP/1.1 {status} Oops\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.flush();
        }
    });
    addr
}

/// A registry on 127.0.0.1, stopped (and its files removed) when dropped.
pub struct TestRegistry {
    child: std::sync::Mutex<Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    dir: tempfile::TempDir,
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestRegistry {
    /// Start one, or `None` (after saying why) where `docker-registry` or
    /// `skopeo` is not installed and this is not CI.
    pub fn start() -> Option<Self> {
        for program in ["docker-registry", "skopeo"] {
            if !installed(program) {
                if std::env::var_os("CI").is_some() {
                    panic!("CI installs {program} (.ci/run), yet it is not on PATH");
                }
                eprintln!(
                    "skipping a registry test: `{program}` is not installed (apt-get install docker-registry skopeo)"
                );
                return None;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let tls = TestTls::new(d);
        std::fs::create_dir(d.join("certs")).unwrap();
        std::fs::write(d.join("certs/ca.crt"), &tls.ca_pem).unwrap(); // skopeo's --cert-dir
        std::fs::write(d.join("cert.pem"), tls.leaf.pem()).unwrap();
        std::fs::write(d.join("key.pem"), tls.leaf_key.serialize_pem()).unwrap();
        std::fs::write(d.join("htpasswd"), HTPASSWD).unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        std::fs::write(
            d.join("config.yml"),
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}\n\
                 http:\n  addr: {addr}\n  tls:\n    certificate: {cert}\n    key: {key}\n\
                 auth:\n  htpasswd:\n    realm: sealgate-test\n    path: {htpasswd}\n",
                root = d.join("data").display(),
                cert = d.join("cert.pem").display(),
                key = d.join("key.pem").display(),
                htpasswd = d.join("htpasswd").display(),
            ),
        )
        .unwrap();
        std::fs::create_dir(d.join("docker")).unwrap();
        std::fs::write(
            d.join("docker/config.json"),
            serde_json::json!({"auths": {&addr: {"username": USER, "password": PASSWORD}}}).to_string(),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let registry = Self {
            child: std::sync::Mutex::new(child),
            addr,
            dir,
        };
        // Up when it takes connections (bounded: 20 s).
        let started = Instant::now();
        while std::net::TcpStream::connect(&registry.addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }

    /// The trusted CA (PEM).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Where the registry keeps blobs.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `oci://ADDR/REPO…`
    pub fn reference(&self, rest: &str) -> String {
        format!("oci://{}/{rest}", self.addr)
    }

    /// The CLI with this registry's CA and credentials, and `store` as the OCI store.
    pub fn sealgate(&self, store: &Path, args: &[&str]) -> Output {
        sealgate_command()
            .env("SEALGATE_REGISTRY_CA", self.ca())
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            .env("SEALGATE_OCI_STORE", store)
            .args(args)
            .output()
            .unwrap()
    }

    /// `skopeo inspect --raw` of `docker://ADDR/REPO…`: the manifest as the registry serves it.
    pub fn skopeo_raw_manifest(&self, rest: &str) -> Vec<u8> {
        let out = Command::new("skopeo")
            .args(["inspect", "--raw", "--cert-dir"])
            .arg(self.dir.path().join("certs"))
            .args(["--creds", &format!("{USER}:{PASSWORD}")])
            .arg(format!("docker://{}/{rest}", self.addr))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Stop it (a registry that is down).
    pub fn stop(&self) {
        let mut child = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `policy push MODULE oci://…:tag`: the digest it prints.
fn push(registry: &TestRegistry, store: &Path, module: &Path, rest: &str) -> String {
    let out = registry.sealgate(
        store,
        &[
            "policy",
            "push",
            module.to_str().unwrap(),
            &registry.reference(rest),
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let pushed = text.split_whitespace().find(|w| w.starts_with("oci://")).unwrap();
    pushed.rsplit_once('@').unwrap().1.to_owned()
}

/// The example gate with every module replaced by its artifact in the registry.
fn registry_gate(dir: &Path, digests: &[(&str, String)], registry: &TestRegistry) -> PathBuf {
    let mut text = std::fs::read_to_string(repo("examples/gates/ml-release.toml")).unwrap();
    for (name, digest) in digests {
        let file = format!("\"../../target/policies/{name}.wasm\"");
        assert!(text.contains(&file), "the example gate no longer names {name}");
        text = text.replace(
            &file,
            &format!("\"{}@{digest}\"", registry.reference(&format!("sealgate/{name}"))),
        );
    }
    let gate = dir.join("ml-release.toml");
    std::fs::write(&gate, text).unwrap();
    gate
}

/// One machine pushes the six policies; another, with a store of its own,
/// runs the example gate from the registry: the same decision, report and
/// policy digest as from local files. What was pushed reads back with an
/// independent client (skopeo) as our artifact, under the digest printed.
/// Once pulled, the gate runs with the registry down.
#[test]
fn a_gate_of_registry_policies_runs_on_another_machine_and_then_offline() {
    let Some(registry) = TestRegistry::start() else {
        return;
    };
    let publisher = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for (name, built) in guests().shipped() {
        let digest = push(
            &registry,
            publisher.path(),
            &built.path,
            &format!("sealgate/{name}:0.1.0"),
        );
        digests.push((name, digest));
    }
    // skopeo sees our artifact, and the manifest's digest is the one printed.
    let raw = registry.skopeo_raw_manifest("sealgate/pii:0.1.0");
    assert_eq!(sealgate::Sha256Digest::of_bytes(&raw).prefixed(), digests[0].1);
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(manifest["artifactType"], "application/vnd.sealgate.policy.v1");
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.sealgate.policy.component.v1+wasm"
    );
    assert_eq!(manifest["layers"][0]["digest"], guests().pii.sha256.prefixed());

    let runner = tempfile::tempdir().unwrap();
    let store = runner.path().join("store");
    std::fs::create_dir(runner.path().join("files")).unwrap();
    let gate = registry_gate(runner.path(), &digests, &registry);
    let local = gate_with_suite_builds(
        &repo("examples/gates/ml-release.toml"),
        &runner.path().join("files"),
        6,
    );
    let metadata = repo("examples/metadata/churn-model.json");
    let at = ["--at", "2026-11-29T12:00:00Z", "--format", "json"];
    let run = |gate: &Path| {
        let mut args = vec![
            "check",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            metadata.to_str().unwrap(),
        ];
        args.extend_from_slice(&at);
        registry.sealgate(&store, &args)
    };
    let from_registry = run(&gate);
    assert_eq!(from_registry.status.code(), Some(0), "{}", stderr(&from_registry));
    let from_files = run(&local);
    let report = |o: &Output| {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // Where the gate file and modules are differs; nothing else may.
        v.as_object_mut().unwrap().remove("gate_file");
        for p in v["policies"].as_array_mut().unwrap() {
            p.as_object_mut().unwrap().remove("module");
        }
        v
    };
    assert_eq!(report(&from_registry), report(&from_files));
    let digest_of =
        |g: &Path| stdout(&registry.sealgate(&store, &["gate", "digest", "--gate", g.to_str().unwrap()]));
    assert_eq!(digest_of(&gate), digest_of(&local));

    // The registry down: the store has it all.
    registry.stop();
    let offline = run(&gate);
    assert_eq!(offline.status.code(), Some(0), "{}", stderr(&offline));
    // A machine with an empty store cannot run it, and says why.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = registry.sealgate(
        elsewhere.path(),
        &[
            "check",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            metadata.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(!stdout(&out).contains("PASSED"));
    assert!(
        stderr(&out).contains("component not available"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("fetching the manifest"), "{}", stderr(&out));
}

/// What a registry serves is checked, not trusted: a blob altered in the
/// registry's own storage is refused (its digest is not the manifest's),
/// a tag is refused where a digest is required, and a gate naming a tag
/// does not load.
#[test]
fn tampered_blobs_and_tags_are_refused() {
    let Some(registry) = TestRegistry::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let built = &guests().quality;
    let digest = push(&registry, home.path(), &built.path, "sealgate/quality:1");

    let pull = |store: &Path, reference: &str| registry.sealgate(store, &["policy", "pull", reference]);
    let tag = pull(home.path(), &registry.reference("sealgate/quality:1"));
    assert_eq!(tag.status.code(), Some(2));
    assert!(
        stderr(&tag).contains("names a tag, not a digest"),
        "{}",
        stderr(&tag)
    );

    // Swap the component's bytes in the registry's storage.
    let hex = built.sha256.to_string();
    let blob = registry.storage().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let by_digest = registry.reference(&format!("sealgate/quality@{digest}"));
    let out = pull(fresh.path(), &by_digest);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("sha256") && err.contains(&hex), "{err}");

    // The manifest itself altered in storage: served under its old digest,
    // and refused for it.
    let manifest_hex = digest.trim_start_matches("sha256:").to_owned();
    let manifest_blob = registry.storage().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{manifest_hex}/data",
        &manifest_hex[..2]
    ));
    let text = std::fs::read_to_string(&manifest_blob).unwrap();
    std::fs::write(
        &manifest_blob,
        text.replace("\"schemaVersion\":2", "\"schemaVersion\": 2"),
    )
    .unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let out = pull(fresh.path(), &by_digest);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("fetching the manifest") && err.to_lowercase().contains("digest"),
        "{err}"
    );

    // A gate naming a tag is refused when it loads, saying why.
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate.toml");
    std::fs::write(
        &gate,
        format!(
            "api-version = \"sealgate/v1\"\nname = \"g\"\n[[policies]]\nmodule = \"{}\"\nsha256 = \"{}\"\n",
            registry.reference("sealgate/quality:1"),
            built.sha256
        ),
    )
    .unwrap();
    let out = registry.sealgate(
        fresh.path(),
        &[
            "check",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            clean_metadata().to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("names a tag, which can move"),
        "{}",
        stderr(&out)
    );
}

/// A registry that accepts connections and never answers ends within the
/// timeout, not never; one that is not there at all fails at once.
#[test]
fn a_silent_or_absent_registry_is_an_error_within_the_timeout() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let store = tempfile::tempdir().unwrap();
    let digest = guests().pii.sha256.prefixed();
    let started = Instant::now();
    let out = sealgate_command()
        .env("SEALGATE_OCI_STORE", store.path())
        .args([
            "policy",
            "pull",
            &format!("oci://{addr}/sealgate/pii@{digest}"),
            "--registry-timeout",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("fetching the manifest"), "{err}");
    drop(silent);
    let out = sealgate_command()
        .env("SEALGATE_OCI_STORE", store.path())
        .args(["policy", "pull", &format!("oci://{addr}/sealgate/pii@{digest}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("fetching the manifest"), "{}", stderr(&out));
}

/// A registry that answers 500 to everything: an error naming the step,
/// exit 2, and a gate that needs it does not load.
#[test]
fn a_registry_answering_500_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let tls = TestTls::new(dir.path());
    let addr = answering_with(500, &tls);
    let store = dir.path().join("store");
    let digest = guests().pii.sha256.prefixed();
    let reference = format!("oci://{addr}/sealgate/pii@{digest}");
    let out = sealgate_command()
        .env("SEALGATE_OCI_STORE", &store)
        .env("SEALGATE_REGISTRY_CA", dir.path().join("ca.pem"))
        .args(["policy", "pull", &reference])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("fetching the manifest"), "{err}");
    assert!(
        err.contains("500") || err.contains("the registry failed"),
        "{err}"
    );

    let gate = dir.path().join("gate.toml");
    std::fs::write(
        &gate,
        format!(
            "api-version = \"sealgate/v1\"\nname = \"g\"\n[[policies]]\nmodule = \"{reference}\"\nsha256 = \"{}\"\n",
            guests().pii.sha256
        ),
    )
    .unwrap();
    let out = sealgate_command()
        .env("SEALGATE_OCI_STORE", &store)
        .env("SEALGATE_REGISTRY_CA", dir.path().join("ca.pem"))
        .args([
            "check",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            clean_metadata().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(!stdout(&out).contains("PASSED"));
    assert!(
        stderr(&out).contains("component not available: fetching the manifest"),
        "{}",
        stderr(&out)
    );
}

/// A minimal OCI image layout in `dir` (one empty layer, a config naming
/// `marker`), tagged `latest`: a real image for skopeo to push.
fn image_layout(dir: &Path, marker: &str) {
    use sealgate::Sha256Digest;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = Sha256Digest::of_bytes(bytes);
        std::fs::write(blobs.join(d.to_string()), bytes).unwrap();
        (d.prefixed(), bytes.len())
    };
    let layer = vec![0u8; 1024]; // an empty tar archive
    let (layer_digest, layer_size) = put(&layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {"Labels": {"marker": marker}},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let (config_digest, config_size) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}],
    });
    let (manifest_digest, manifest_size) = put(manifest.to_string().as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
            "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]})
        .to_string(),
    )
    .unwrap();
}

impl TestRegistry {
    /// Push an image with skopeo (an independent client) and return its
    /// manifest digest as the registry serves it.
    fn push_image(&self, rest: &str, marker: &str) -> sealgate::Sha256Digest {
        let layout = tempfile::tempdir().unwrap();
        image_layout(layout.path(), marker);
        let out = Command::new("skopeo")
            .args(["copy", "--dest-cert-dir"])
            .arg(self.dir.path().join("certs"))
            .args(["--dest-creds", &format!("{USER}:{PASSWORD}")])
            .arg(format!("oci:{}:latest", layout.path().display()))
            .arg(format!("docker://{}/{rest}", self.addr))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo copy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        sealgate::Sha256Digest::of_bytes(&self.skopeo_raw_manifest(rest))
    }
}

/// `attest --push` attaches the bundle to the image it judges (as a
/// referrer; this registry has no referrers API, so by the tag schema), and
/// `verify --from` fetches and verifies it: accepted for that image; for an
/// image with no attestation, one whose only attestation FAILED, one whose
/// bundle was altered in the registry, or with the registry down, never
/// accepted. An attestation for one digest cannot be pushed to another.
#[test]
fn attestations_travel_beside_the_image_they_judge() {
    let Some(registry) = TestRegistry::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let store = w.join("store");
    let keygen = sealgate(&["keygen", "--out", w.to_str().unwrap(), "--name", "ci"]);
    assert_eq!(keygen.status.code(), Some(0), "{}", stderr(&keygen));
    let (key, public) = (w.join("ci.key"), w.join("ci.pub"));
    let gate = gate_with_suite_builds(&repo("examples/gates/ml-release.toml"), w, 6);
    let good = registry.push_image("acme/churn:1", "good");
    let bad = registry.push_image("acme/churn:2", "bad");
    let bare = registry.push_image("acme/churn:3", "bare");
    let image = |d: &sealgate::Sha256Digest| registry.reference(&format!("acme/churn@{}", d.prefixed()));
    let attest = |digest: &sealgate::Sha256Digest, push: &str, metadata: &str, out: &str| {
        registry.sealgate(
            &store,
            &[
                "attest",
                "--gate",
                gate.to_str().unwrap(),
                "--metadata",
                metadata_describing(w, metadata, digest).to_str().unwrap(),
                "--digest",
                &digest.prefixed(),
                "--key",
                key.to_str().unwrap(),
                "--out",
                w.join(out).to_str().unwrap(),
                "--push",
                push,
            ],
        )
    };
    let verify = |digest: &sealgate::Sha256Digest| {
        registry.sealgate(
            &store,
            &[
                "verify",
                "--from",
                &image(digest),
                "--digest",
                &digest.prefixed(),
                "--key",
                public.to_str().unwrap(),
                "--format",
                "json",
            ],
        )
    };

    let pushed = attest(&good, &image(&good), "churn-model", "good.jsonl");
    assert_eq!(pushed.status.code(), Some(0), "{}", stderr(&pushed));
    let said = stderr(&pushed);
    assert!(
        said.contains("attached to") && said.contains(&format!("tag schema (sha256-{good})")),
        "{said}"
    );
    let accepted = verify(&good);
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}{}",
        stdout(&accepted),
        stderr(&accepted)
    );
    // skopeo sees the referrers index under the tag schema's tag.
    let index: serde_json::Value =
        serde_json::from_slice(&registry.skopeo_raw_manifest(&format!("acme/churn:sha256-{good}"))).unwrap();
    assert_eq!(
        index["manifests"][0]["artifactType"],
        "application/vnd.sealgate.attestation.v1"
    );

    // No attestation: rejected, not accepted by default.
    let none = verify(&bare);
    assert_eq!(none.status.code(), Some(1), "{}", stdout(&none));
    assert!(
        stderr(&none).contains("no sealgate attestation is attached"),
        "{}",
        stderr(&none)
    );

    // Only a FAILED one: rejected.
    let failed = attest(&bad, &image(&bad), "churn-model-pii", "bad.jsonl");
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let rejected = verify(&bad);
    assert_eq!(rejected.status.code(), Some(1), "{}", stdout(&rejected));
    assert!(
        !stdout(&rejected).contains("\"accepted\": true"),
        "{}",
        stdout(&rejected)
    );

    // The good image's attestation pushed to another image: refused.
    let elsewhere = attest(&good, &image(&bare), "churn-model", "x.jsonl");
    assert_eq!(elsewhere.status.code(), Some(2), "{}", stderr(&elsewhere));
    assert!(
        stderr(&elsewhere).contains("is attached to the artifact it judges"),
        "{}",
        stderr(&elsewhere)
    );
    assert_eq!(verify(&bare).status.code(), Some(1));

    // The bundle altered in the registry's storage: never accepted.
    let bundle = std::fs::read(w.join("good.jsonl")).unwrap();
    let hex = sealgate::Sha256Digest::of_bytes(&bundle).to_string();
    let blob = registry.storage().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let mut altered = bundle.clone();
    let n = altered.len() - 3;
    altered[n] ^= 0x01;
    std::fs::write(&blob, altered).unwrap();
    let tampered = verify(&good);
    assert_ne!(tampered.status.code(), Some(0), "{}", stdout(&tampered));
    assert!(stderr(&tampered).contains("sha256"), "{}", stderr(&tampered));
    std::fs::write(&blob, &bundle).unwrap();
    assert_eq!(verify(&good).status.code(), Some(0));

    // The registry down: an error, not an acceptance.
    registry.stop();
    let down = verify(&good);
    assert_eq!(down.status.code(), Some(2), "{}", stdout(&down));
    assert!(
        stderr(&down).contains("listing the image's referrers"),
        "{}",
        stderr(&down)
    );
}
