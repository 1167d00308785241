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

/// The TLS stream a fake registry answers on.
type TlsStream = rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>;

/// A TLS server on 127.0.0.1 with the test CA's certificate, for at most
/// `connections` connections (each with 5 s read and write timeouts):
/// `answer` is given each request's head and the stream. Returns its address.
fn fake_registry(
    tls: &TestTls,
    connections: usize,
    answer: impl Fn(&[u8], &mut TlsStream) + Send + 'static,
) -> String {
    use std::io::Read;
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
        for stream in listener.incoming().take(connections) {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
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
            answer(&request, &mut tls);
        }
    });
    addr
}

/// A fake registry that answers every request with `status` and an OCI
/// error body, for at most 32 connections. Returns its address.
fn answering_with(status: u16, tls: &TestTls) -> String {
    fake_registry(tls, 32, move |_, stream| {
        use std::io::Write;
        let body = r#"{"errors":[{"code":"UNKNOWN","message":"the registry failed"}]}"#;
        let _ = write!(
            stream,
            "HTTP/1.1 {status} Oops\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.flush();
    })
}

/// A fake registry that answers `GET /v2/` with 200 and every other request
/// with 200 and a body that never ends (up to 1 GiB, while the client
/// reads), for at most 16 connections. Returns its address and the most
/// bytes it managed to send on one connection.
fn answering_endlessly(tls: &TestTls) -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let most = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sent = most.clone();
    let addr = fake_registry(tls, 16, move |request, stream| {
        use std::io::Write;
        if request.starts_with(b"GET /v2/ ") {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            let _ = stream.flush();
            return;
        }
        let total = endless(stream, "200 OK");
        sent.fetch_max(total, std::sync::atomic::Ordering::SeqCst);
    });
    (addr, most)
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

    /// Settings for the library to reach it: its CA, its credentials, a 5 s timeout.
    pub fn settings(&self) -> sealgate::oci::RegistrySettings {
        let mut settings = sealgate::oci::RegistrySettings::default()
            .with_ca_file(&self.ca())
            .unwrap()
            .with_docker_config(&self.docker_config())
            .unwrap();
        settings.timeout = Duration::from_secs(5);
        settings
    }

    /// The docker `config.json` with its credentials.
    pub fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker/config.json")
    }

    /// Where the registry keeps blobs.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `oci://ADDR/REPO…`
    pub fn reference(&self, rest: &str) -> String {
        format!("oci://{}/{rest}", self.addr)
    }

    /// A `serve` configuration in `dir` running `gate`, whose admission
    /// trusts `public` and finds bundles in this registry (`extra`: more
    /// members of the `registry` table, each followed by `, `).
    pub fn admission_config(&self, dir: &Path, gate: &Path, public: &Path, extra: &str) -> PathBuf {
        std::fs::write(
            dir.join("trust.toml"),
            format!(
                "api-version = \"sealgate/trust/v1\"\n[[keys]]\nname = \"ci\"\npublic-key = {:?}\n",
                public.display().to_string()
            ),
        )
        .unwrap();
        let config = dir.join("serve.toml");
        std::fs::write(
            &config,
            format!(
                "api-version = \"sealgate/server/v1\"\ngates = [{:?}]\n[trust]\nrelease = \"trust.toml\"\n\
                 [admission]\ntrust = \"release\"\nregistry = {{ ca = {:?}, docker-config = {:?}, {extra}timeout = \"5s\" }}\n",
                gate.display().to_string(),
                self.ca().display().to_string(),
                self.docker_config().display().to_string(),
            ),
        )
        .unwrap();
        config
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

    /// `skopeo copy docker://ADDR/REPO… dir:DIR`: its blobs as files named by digest.
    pub fn skopeo_copy_to_dir(&self, rest: &str, dir: &Path) {
        let out = Command::new("skopeo")
            .args(["copy", "--src-cert-dir"])
            .arg(self.dir.path().join("certs"))
            .args(["--src-creds", &format!("{USER}:{PASSWORD}")])
            .arg(format!("docker://{}/{rest}", self.addr))
            .arg(format!("dir:{}", dir.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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

/// What a registry serves is checked, not trusted: another component
/// pushed under the same tag changes nothing for a digest; a blob altered
/// in the registry's own storage is refused (its digest is not the
/// manifest's), as is a manifest altered there; a tag is refused where a
/// digest is required, and a gate naming a tag does not load.
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

    // Another component pushed under the same tag: the digest still names
    // the first, and a pull by it gets the first.
    push(&registry, home.path(), &guests().pii.path, "sealgate/quality:1");
    let moved = tempfile::tempdir().unwrap();
    let out = pull(
        moved.path(),
        &registry.reference(&format!("sealgate/quality@{digest}")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("sha256 = \"{}\"", built.sha256)),
        "{}",
        stdout(&out)
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
        err.contains(&format!(
            "the registry served the manifest whose sha256 is sha256:{}, not the {digest} asked for",
            sealgate::Sha256Digest::of_bytes(std::fs::read(&manifest_blob).unwrap().as_slice())
        )),
        "{err}"
    );

    // A gate naming a tag is refused when it loads, saying why.
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(
        dir.path(),
        Path::new(&registry.reference("sealgate/quality:1")),
        &built.sha256,
        "{}",
        "",
    );
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

    let gate = write_gate(dir.path(), Path::new(&reference), &guests().pii.sha256, "{}", "");
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

/// A registry that answers with a manifest (or referrers list) that never
/// ends: the read stops at the document's limit, so a hostile registry
/// cannot make the host hold more (not "whatever arrives before the
/// timeout"); a pull, a gate that needs it, and `verify --from` are errors.
#[test]
fn an_endless_manifest_is_cut_off_at_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let tls = TestTls::new(dir.path());
    let (addr, most_sent) = answering_endlessly(&tls);
    let digest = guests().pii.sha256.prefixed();
    let run = |args: &[&str]| {
        let started = Instant::now();
        let out = sealgate_command()
            .env("SEALGATE_OCI_STORE", dir.path().join("store"))
            .env("SEALGATE_REGISTRY_CA", dir.path().join("ca.pem"))
            .args(args)
            .output()
            .unwrap();
        (out, started.elapsed())
    };
    let (out, took) = run(&["policy", "pull", &format!("oci://{addr}/sealgate/pii@{digest}")]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("fetching the manifest: the registry sent more than the 65536 bytes"),
        "{err}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    let (out, _) = run(&[
        "verify",
        "--from",
        &format!("oci://{addr}/acme/model@{digest}"),
        "--digest",
        &digest,
        "--key",
        repo("tests/fixtures/compat/before-restructure.pub")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("listing the image's referrers: the registry sent more than the 4194304 bytes"),
        "{}",
        stderr(&out)
    );
    // The client hung up: the server got far less than the 1 GiB it would
    // have sent (what it did send sits in socket buffers, not in sealgate).
    let sent = most_sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        sent < 256 << 20,
        "the server sent {sent} bytes before the client stopped reading"
    );
}

/// A fake bearer registry: `GET /v2/` is a `Bearer` challenge naming
/// `realm` (`{addr}` is replaced by its own address), the token service at
/// `/token` answers with `token_answer`, and a referrers listing answers
/// `listing` when it carries `Authorization: Bearer t0k` (else 401).
fn bearer_registry(
    tls: &TestTls,
    realm: &'static str,
    token_answer: fn(&mut TlsStream) -> u64,
    listing: fn(&mut TlsStream) -> u64,
) -> BearerRegistry {
    use std::io::Write;
    let own = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let most = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (own_in, seen_in, most_in) = (own.clone(), seen.clone(), most.clone());
    let addr = fake_registry(tls, 16, move |request, stream| {
        let request = String::from_utf8_lossy(request).into_owned();
        let line = request.lines().next().unwrap_or_default().to_owned();
        let sent = if line.starts_with("GET /v2/ ") {
            let realm = realm.replace("{addr}", own_in.get().unwrap());
            let _ = write!(
                stream,
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"{realm}\",service=\"fake\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            0
        } else if line.starts_with("GET /token") {
            seen_in.lock().unwrap().push(line);
            token_answer(stream)
        } else if request
            .to_ascii_lowercase()
            .contains("\r\nauthorization: bearer t0k\r\n")
        {
            listing(stream)
        } else {
            let _ = write!(
                stream,
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            0
        };
        let _ = stream.flush();
        most_in.fetch_max(sent, std::sync::atomic::Ordering::SeqCst);
    });
    own.set(addr.clone()).unwrap();
    BearerRegistry {
        addr,
        token_requests: seen,
        most_sent: most,
    }
}

struct BearerRegistry {
    addr: String,
    /// The request lines the token service saw.
    token_requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The most bytes sent on one connection.
    most_sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// `body` as a whole answer with `status`.
fn answer(stream: &mut TlsStream, status: &str, body: &str) -> u64 {
    use std::io::Write;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    body.len() as u64
}

/// An answer with `status` whose body never ends (up to 1 GiB, while the
/// client reads), without a length.
fn endless(stream: &mut TlsStream, status: &str) -> u64 {
    use std::io::Write;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{{\"token\":\""
    );
    let chunk = vec![b'a'; 64 << 10];
    let mut total = 0u64;
    while total < 1 << 30 {
        if stream.write_all(&chunk).and_then(|()| stream.flush()).is_err() {
            break;
        }
        total += chunk.len() as u64;
    }
    total
}

const EMPTY_LISTING: &str =
    r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

#[test]
fn a_bearer_registrys_token_and_error_answers_are_read_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let tls = TestTls::new(dir.path());
    let mut settings = sealgate::oci::RegistrySettings::default()
        .with_ca_file(&dir.path().join("ca.pem"))
        .unwrap();
    settings.timeout = Duration::from_secs(20);
    let digest = guests().pii.sha256.prefixed();
    let list = |addr: &str| {
        let image = sealgate::oci::OciReference::parse(&format!("oci://{addr}/acme/model@{digest}")).unwrap();
        let started = Instant::now();
        let listed = sealgate::oci::fetch_attestations(&settings, &image, 16, 1 << 20);
        (listed, started.elapsed())
    };

    // The token flow as the distribution spec has it: the token service is
    // asked for this repository's pull scope, and its token is presented.
    let fake = bearer_registry(
        &tls,
        "https://{addr}/token",
        |s| answer(s, "200 OK", r#"{"token":"t0k","expires_in":300}"#),
        |s| answer(s, "200 OK", EMPTY_LISTING),
    );
    let (listed, _) = list(&fake.addr);
    assert!(listed.unwrap_or_else(|e| panic!("{e}")).is_empty());
    let seen = fake.token_requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("scope=repository%3Aacme%2Fmodel%3Apull"),
        "{seen:?}"
    );
    assert!(seen[0].contains("service=fake"), "{seen:?}");

    // A token service that never stops answering is cut off at 64 KiB; an
    // error answer that never ends (what oci-client read whole for a blob)
    // gives its start as the message, and the rest is not read.
    type Answer = fn(&mut TlsStream) -> u64;
    let endless_cases: [(Answer, Answer, &str); 2] = [
        (
            |s| endless(s, "200 OK"),
            |s| answer(s, "200 OK", EMPTY_LISTING),
            "/token: its answer is over 65536 bytes",
        ),
        (
            |s| answer(s, "200 OK", r#"{"token":"t0k"}"#),
            |s| endless(s, "500 Internal Server Error"),
            "500",
        ),
    ];
    for (token_answer, listing, expected) in endless_cases {
        let fake = bearer_registry(&tls, "https://{addr}/token", token_answer, listing);
        let (listed, took) = list(&fake.addr);
        let error = listed.unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
        assert!(took < Duration::from_secs(15), "{took:?}");
        let sent = fake.most_sent.load(std::sync::atomic::Ordering::SeqCst);
        assert!(sent < 256 << 20, "the fake sent {sent} bytes on one connection");
    }

    // A token service in plain text would see the credentials: refused
    // before it is asked.
    let fake = bearer_registry(
        &tls,
        "http://{addr}/token",
        |s| answer(s, "200 OK", r#"{"token":"t0k"}"#),
        |s| answer(s, "200 OK", EMPTY_LISTING),
    );
    let error = list(&fake.addr).0.unwrap_err().to_string();
    assert!(error.contains("not https"), "{error}");
    assert!(fake.token_requests.lock().unwrap().is_empty());

    // A token service that refuses, or answers without a token.
    for (refusal, expected) in [
        (
            (|s: &mut TlsStream| answer(s, "401 Unauthorized", r#"{"details":"bad credentials"}"#))
                as fn(&mut TlsStream) -> u64,
            "answered 401 Unauthorized: {\"details\":\"bad credentials\"}",
        ),
        (
            |s: &mut TlsStream| answer(s, "200 OK", r#"{"expires_in":300}"#),
            "its answer has no `token`",
        ),
    ] {
        let fake = bearer_registry(&tls, "https://{addr}/token", refusal, |s| {
            answer(s, "200 OK", EMPTY_LISTING)
        });
        let error = list(&fake.addr).0.unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
}

/// A copy that kept only cosign's `.att` tag (no referrers) still carries
/// the attestation: `verify --from` rebuilds the bundle from the verdict
/// layer and the report layer after it, and verification decides, so a
/// verdict paired with another evaluation's report is rejected.
#[test]
fn verify_from_reads_cosigns_layout_when_no_referrer_is_there() {
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
    let settings = registry.settings();
    // Two images, each attested, the bundles kept as files (no --push).
    let mut attested = Vec::new();
    for (tag, out) in [("acme/churn:1", "one.jsonl"), ("acme/churn:2", "two.jsonl")] {
        let digest = registry.push_image(tag, out);
        let run = sealgate(&[
            "attest",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            metadata_describing(w, "churn-model", &digest).to_str().unwrap(),
            "--digest",
            &digest.prefixed(),
            "--key",
            key.to_str().unwrap(),
            "--out",
            w.join(out).to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
        let text = std::fs::read_to_string(w.join(out)).unwrap();
        // A bundle is the verdict's envelope, then the report's, a line each.
        let envelopes: Vec<_> = text
            .lines()
            .zip([
                sealgate_attest::VSA_PREDICATE_TYPE,
                sealgate_attest::REPORT_PREDICATE_TYPE,
            ])
            .map(|(line, predicate_type)| sealgate::oci::CosignEnvelope {
                predicate_type: predicate_type.to_owned(),
                envelope: line.as_bytes().to_vec(),
            })
            .collect();
        assert_eq!(envelopes.len(), 2);
        attested.push((digest, envelopes));
    }
    let image = |d: &sealgate::Sha256Digest| registry.reference(&format!("acme/churn@{}", d.prefixed()));
    // The PII policy must be among those that passed: a check of the report.
    let pii = format!("sealgate.pii={}", guests().pii.sha256.prefixed());
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
                "--require-policy",
                &pii,
            ],
        )
    };
    let oci = |d: &sealgate::Sha256Digest| sealgate::oci::OciReference::parse(&image(d)).unwrap();
    let ((one, one_envelopes), (two, two_envelopes)) = (&attested[0], &attested[1]);

    // No referrer and no .att tag: nothing to accept.
    let none = verify(one);
    assert_eq!(none.status.code(), Some(1), "{}{}", stdout(&none), stderr(&none));
    assert!(
        stderr(&none).contains("no sealgate attestation is attached"),
        "{}",
        stderr(&none)
    );

    // Only cosign's layout: accepted, the report (which --require-policy
    // reads) paired with its verdict.
    sealgate::oci::attach_cosign_attestations(&settings, &oci(one), one_envelopes).unwrap();
    let accepted = verify(one);
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}{}",
        stdout(&accepted),
        stderr(&accepted)
    );

    // The second image's verdict beside the first image's report: the pair
    // is rebuilt as the layers lie, and rejected (the report is bound to
    // another verdict, and is about another image).
    let mixed = [two_envelopes[0].clone(), one_envelopes[1].clone()];
    sealgate::oci::attach_cosign_attestations(&settings, &oci(two), &mixed).unwrap();
    let rejected = verify(two);
    assert_eq!(
        rejected.status.code(),
        Some(1),
        "{}{}",
        stdout(&rejected),
        stderr(&rejected)
    );
    assert!(!stdout(&rejected).contains("ACCEPTED"), "{}", stdout(&rejected));

    // Admission from the registry reads the same: the first image is
    // admitted on its cosign layout alone, the second denied.
    let server = crate::serve::InProcess::new(&registry.admission_config(w, &gate, &public, ""));
    for (digest, admitted) in [(one, true), (two, false)] {
        let pod_image = format!("{}/acme/churn@{}", registry.addr, digest.prefixed());
        let (status, answer) = server.post(
            "/v1/admission",
            &crate::serve::review("u", "", "Pod", "CREATE", crate::serve::pod(&[&pod_image])),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["response"]["allowed"], admitted, "{answer}");
    }
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
    pub(crate) fn push_image(&self, rest: &str, marker: &str) -> sealgate::Sha256Digest {
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

    // And in cosign's layout: the `.att` tag, one DSSE envelope per layer
    // annotated with its predicate type. skopeo copies it out, and the
    // verdict's envelope alone verifies.
    let att = format!("acme/churn:sha256-{good}.att");
    let att_manifest: serde_json::Value =
        serde_json::from_slice(&registry.skopeo_raw_manifest(&att)).unwrap();
    let layers = att_manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{att_manifest}");
    assert!(
        layers
            .iter()
            .all(|l| l["mediaType"] == "application/vnd.dsse.envelope.v1+json")
    );
    assert_eq!(
        layers[0]["annotations"]["predicateType"],
        "https://slsa.dev/verification_summary/v1"
    );
    assert_eq!(
        layers[1]["annotations"]["predicateType"],
        "https://sealgate.dev/attestation/gate-report/v1"
    );
    let copied = w.join("att");
    registry.skopeo_copy_to_dir(&att, &copied);
    let vsa_layer = layers[0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let lone = sealgate(&[
        "verify",
        "--bundle",
        copied.join(vsa_layer).to_str().unwrap(),
        "--digest",
        &good.prefixed(),
        "--key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(lone.status.code(), Some(0), "{}{}", stdout(&lone), stderr(&lone));

    // A second client, Python's `oras` (pinned: tests/interop), reads the
    // same layout and finds each envelope about this image.
    if let Some(read) = oras_read_att(&registry, "acme/churn", &good, &w.join("oras")) {
        assert!(
            read.contains("https://slsa.dev/verification_summary/v1"),
            "{read}"
        );
        let lone = sealgate(&[
            "verify",
            "--bundle",
            w.join("oras/verification_summary.json").to_str().unwrap(),
            "--digest",
            &good.prefixed(),
            "--key",
            public.to_str().unwrap(),
        ]);
        assert_eq!(lone.status.code(), Some(0), "{}{}", stdout(&lone), stderr(&lone));
    }

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

    // The Kyverno ClusterPolicy in examples/k8s: its attestation type is
    // the annotation the verdict's layer carries, and its conditions hold
    // on the PASSED verdict's predicate and not on the FAILED one's.
    let policy: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo("examples/k8s/kyverno-clusterpolicy.yaml")).unwrap(),
    )
    .unwrap();
    let attestation = &policy["spec"]["rules"][0]["verifyImages"][0]["attestations"][0];
    assert_eq!(attestation["type"], layers[0]["annotations"]["predicateType"]);
    let predicate = |bundle: &str| -> serde_json::Value {
        let line = std::fs::read_to_string(w.join(bundle)).unwrap();
        let envelope: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
        let payload = base64_decode(envelope["payload"].as_str().unwrap());
        let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        statement["predicate"].clone()
    };
    assert!(kyverno_conditions_hold(
        &attestation["conditions"],
        &predicate("good.jsonl")
    ));
    assert!(!kyverno_conditions_hold(
        &attestation["conditions"],
        &predicate("bad.jsonl")
    ));

    // The good image's attestation pushed to another image: refused.
    let elsewhere = attest(&good, &image(&bare), "churn-model", "x.jsonl");
    assert_eq!(elsewhere.status.code(), Some(2), "{}", stderr(&elsewhere));
    assert!(
        stderr(&elsewhere).contains("is attached to the artifact it judges"),
        "{}",
        stderr(&elsewhere)
    );
    assert_eq!(verify(&bare).status.code(), Some(1));

    // Admission with the registry store: `serve` finds each image's
    // bundles beside it, in its own registry.
    let serve_config = registry.admission_config(w, &gate, &public, "cache-ttl = \"2s\", ");
    let pod_image = |d: &sealgate::Sha256Digest| format!("{}/acme/churn@{}", registry.addr, d.prefixed());
    let admit = |server: &crate::serve::InProcess, d: &sealgate::Sha256Digest| {
        let (status, answer) = server.post(
            "/v1/admission",
            &crate::serve::review("u", "", "Pod", "CREATE", crate::serve::pod(&[&pod_image(d)])),
        );
        assert_eq!(status, 200, "{answer}");
        (
            answer["response"]["allowed"].as_bool().unwrap(),
            answer["response"]["status"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    let server = crate::serve::InProcess::new(&serve_config);
    assert_eq!(admit(&server, &good), (true, String::new()));
    let (allowed, why) = admit(&server, &bad);
    assert!(!allowed && why.contains("(result)"), "{why}");
    let (allowed, why) = admit(&server, &bare);
    assert!(
        !allowed && why.contains(&format!("no attestation for sha256:{bare}")),
        "{why}"
    );
    // The good image's genuine bundle attached beside another image (by
    // hand: `attest --push` refuses to): about another subject, denied.
    let settings = registry.settings();
    let other = registry.push_image("acme/churn:4", "other");
    sealgate::oci::attach_attestation(
        &settings,
        &sealgate::oci::OciReference::parse(&image(&other)).unwrap(),
        &std::fs::read(w.join("good.jsonl")).unwrap(),
    )
    .unwrap();
    let (allowed, why) = admit(&server, &other);
    assert!(!allowed && why.contains("(subject)"), "{why}");

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
    // A server that has not cached the good lookup denies it.
    let (allowed, why) = admit(&crate::serve::InProcess::new(&serve_config), &good);
    assert!(!allowed && why.contains("sha256"), "{why}");
    std::fs::write(&blob, &bundle).unwrap();
    assert_eq!(verify(&good).status.code(), Some(0));

    // The registry down: an error, not an acceptance. Admission denies
    // every image it has not looked up within the cache TTL, and the rest
    // once the TTL is over.
    registry.stop();
    let (allowed, why) = admit(&crate::serve::InProcess::new(&serve_config), &good);
    assert!(!allowed && why.contains("listing the image's referrers"), "{why}");
    std::thread::sleep(Duration::from_millis(2100));
    let (allowed, why) = admit(&server, &good);
    assert!(!allowed && why.contains("the image's registry"), "{why}");
    let down = verify(&good);
    assert_eq!(down.status.code(), Some(2), "{}", stdout(&down));
    assert!(
        stderr(&down).contains("listing the image's referrers"),
        "{}",
        stderr(&down)
    );
}

/// The example gate with its six modules beside it (`policies/NAME.wasm`,
/// as a team keeps them), ready to push as one artifact.
fn gate_with_modules_beside(dir: &Path) -> PathBuf {
    shipped_gate_with_modules_beside(&repo("examples/gates/ml-release.toml"), dir)
}

/// A shipped gate file copied into `dir` with the modules it names copied
/// to `dir/policies/NAME.wasm`.
fn shipped_gate_with_modules_beside(gate: &Path, dir: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string(gate).unwrap();
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    for (name, built) in guests().shipped() {
        let written = format!("\"../../target/policies/{name}.wasm\"");
        if text.contains(&written) {
            std::fs::copy(&built.path, dir.join(format!("policies/{name}.wasm"))).unwrap();
            text = text.replace(&written, &format!("\"policies/{name}.wasm\""));
        }
    }
    let out = dir.join(gate.file_name().unwrap());
    std::fs::write(&out, text).unwrap();
    out
}

/// `sealgate keygen` into `dir`: (private, public).
fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let out = sealgate(&["keygen", "--out", dir.to_str().unwrap(), "--name", name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")))
}

/// A publishers file trusting `keys` (name, public key).
fn publishers_file(dir: &Path, keys: &[(&str, &Path)]) -> PathBuf {
    let mut text = "api-version = \"sealgate/publishers/v1\"\n".to_owned();
    for (name, key) in keys {
        text += &format!(
            "[[publishers]]\nname = \"{name}\"\npublic-key = {:?}\n",
            key.display().to_string()
        );
    }
    let file = dir.join("publishers.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// The `oci://…@sha256:…` a push printed.
fn pushed_reference(out: &Output) -> String {
    let text = stdout(out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(out));
    text.split_whitespace()
        .find(|w| w.starts_with("oci://") && w.contains("@sha256:"))
        .unwrap()
        .to_owned()
}

/// A gate pushed, signed, by one machine is pulled and run by another (its
/// own store and working directory) with the same report and policy digest
/// as from files, and then offline; with a publishers file, an unsigned
/// copy, one signed by an unknown key, and one carrying a signature made
/// for another repository are each refused, naming the artifact; a layer
/// altered in the registry is refused.
#[test]
fn a_signed_gate_artifact_runs_elsewhere_and_publishers_are_required() {
    let Some(registry) = TestRegistry::start() else {
        return;
    };
    let publisher = tempfile::tempdir().unwrap();
    let p = publisher.path();
    let (key, public) = keygen(p, "compliance");
    let (rogue_key, _) = keygen(p, "rogue");
    let gate = gate_with_modules_beside(p);
    let push = |target: &str, key: Option<&Path>| {
        let mut args = vec!["gate", "push", gate.to_str().unwrap(), target];
        if let Some(key) = key {
            args.extend(["--key", key.to_str().unwrap()]);
        }
        registry.sealgate(&p.join("store"), &args)
    };
    let signed_push = push(&registry.reference("compliance/ml-release:1"), Some(&key));
    let signed = pushed_reference(&signed_push);
    assert!(
        stdout(&signed_push).contains("signed by key"),
        "{}",
        stdout(&signed_push)
    );
    assert!(
        stdout(&signed_push).contains("(6 policies, 7 files)"),
        "{}",
        stdout(&signed_push)
    );

    // skopeo reads it back as our artifact: the gate file first, then each module.
    let raw = registry.skopeo_raw_manifest("compliance/ml-release:1");
    assert_eq!(
        format!("sha256:{}", sealgate::Sha256Digest::of_bytes(&raw)),
        signed.rsplit_once('@').unwrap().1
    );
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(manifest["artifactType"], "application/vnd.sealgate.gate.v1");
    let titles: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["annotations"]["org.opencontainers.image.title"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(titles[0], "gate.toml");
    assert!(titles.contains(&"policies/pii.wasm"), "{titles:?}");

    // Another machine: its own store, trusting the compliance key.
    let runner = tempfile::tempdir().unwrap();
    let r = runner.path();
    let store = r.join("store");
    let publishers = publishers_file(r, &[("compliance", &public)]);
    let metadata = repo("examples/metadata/churn-model.json");
    let check = |store: &Path, gate: &str, publishers: Option<&Path>| {
        let mut args = vec![
            "check",
            "--gate",
            gate,
            "--metadata",
            metadata.to_str().unwrap(),
            "--at",
            "2026-11-29T12:00:00Z",
            "--format",
            "json",
        ];
        if let Some(file) = publishers {
            args.extend(["--publishers", file.to_str().unwrap()]);
        }
        registry.sealgate(store, &args)
    };
    let report = |o: &Output| {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_object_mut().unwrap().remove("gate_file");
        for p in v["policies"].as_array_mut().unwrap() {
            p.as_object_mut().unwrap().remove("module");
        }
        v
    };
    let from_registry = report(&check(&store, &signed, Some(&publishers)));
    let from_files = report(&check(&p.join("store"), gate.to_str().unwrap(), None));
    assert_eq!(from_registry, from_files);
    assert_eq!(from_registry["decision"], "PASSED");

    // Unsigned in another repository (the same bytes: the same digest).
    let unsigned = pushed_reference(&push(&registry.reference("someone/ml-release:1"), None));
    assert_eq!(
        unsigned.rsplit_once('@').unwrap().1,
        signed.rsplit_once('@').unwrap().1
    );
    let refused = |out: &Output, needle: &str| {
        assert_eq!(out.status.code(), Some(2), "{}", stdout(out));
        assert!(!stdout(out).contains("PASSED"));
        let err = stderr(out);
        assert!(err.contains(needle), "{err}");
    };
    let unsigned_store = r.join("unsigned-store");
    let out = check(&unsigned_store, &unsigned, Some(&publishers));
    refused(&out, "not signed");
    assert!(stderr(&out).contains("someone/ml-release"), "{}", stderr(&out));
    // Refused before a byte of it was fetched: the signature is over the
    // digest the reference names.
    let fetched = std::fs::read_dir(unsigned_store.join("blobs/sha256")).map_or(0, Iterator::count);
    assert_eq!(fetched, 0, "an unsigned gate's blobs were fetched");
    // Without a publishers file nothing is required: it runs.
    assert_eq!(check(&store, &unsigned, None).status.code(), Some(0));

    // Signed, but by a key the runner does not trust.
    let rogue = pushed_reference(&push(&registry.reference("rogue/ml-release:1"), Some(&rogue_key)));
    refused(
        &check(&store, &rogue, Some(&publishers)),
        "no signature by a trusted publisher (compliance)",
    );

    // The compliance signature, copied beside the same bytes in another
    // repository, does not count there.
    let settings = registry.settings();
    let copied = registry.reference(&format!(
        "copied/ml-release@{}",
        signed.rsplit_once('@').unwrap().1
    ));
    pushed_reference(&push(&registry.reference("copied/ml-release:1"), None));
    let envelope =
        sealgate::oci::fetch_signatures(&settings, &sealgate::oci::OciReference::parse(&signed).unwrap())
            .unwrap()
            .remove(0)
            .bundle;
    sealgate::oci::attach_signature(
        &settings,
        &sealgate::oci::OciReference::parse(&copied).unwrap(),
        &envelope,
    )
    .unwrap();
    refused(
        &check(&store, &copied, Some(&publishers)),
        "in the repository it was published to",
    );

    // Offline: the store holds the gate and its accepted signature.
    let offline_store = r.join("offline");
    report(&check(&offline_store, &signed, Some(&publishers)));
    // A module altered in the registry's storage: a fresh store refuses it.
    let hex = guests().pii.sha256.to_string();
    let blob = registry.storage().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    refused(&check(&r.join("fresh"), &signed, Some(&publishers)), &hex);

    registry.stop();
    let offline = report(&check(&offline_store, &signed, Some(&publishers)));
    assert_eq!(offline, from_files);
    // A tag is refused where a gate is loaded.
    refused(
        &check(&store, &registry.reference("compliance/ml-release:1"), None),
        "names a tag",
    );
}

/// A gate artifact carries exactly the files its gate pins: one missing a
/// module, or with a file the gate does not name, does not load.
#[test]
fn a_gate_artifact_must_carry_exactly_what_its_gate_pins() {
    let Some(registry) = TestRegistry::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_with_modules_beside(dir.path());
    let text = std::fs::read(&gate).unwrap();
    let config = sealgate::GateConfig::load(&gate).unwrap();
    let members: Vec<(String, Vec<u8>)> = sealgate::pinned_files(&config)
        .into_keys()
        .map(|path| {
            let bytes = std::fs::read(dir.path().join(&path)).unwrap();
            (path, bytes)
        })
        .collect();
    let settings = registry.settings();
    let target = |tag: &str| {
        sealgate::oci::OciReference::parse(&registry.reference(&format!("g/ml-release:{tag}"))).unwrap()
    };
    let mut options = sealgate::RegistryOptions::default();
    options.settings = Some(settings.clone());
    options.store = Some(dir.path().join("store"));
    let load = |pushed: &sealgate::oci::OciReference| {
        sealgate::Gate::load_from(
            engine(),
            &sealgate::GateSource::Registry(pushed.clone()),
            &options,
        )
    };

    let whole = sealgate::oci::push_gate(&settings, &target("whole"), "ml-release", &text, &members).unwrap();
    assert_eq!(load(&whole).unwrap().policies().len(), 6);

    let short =
        sealgate::oci::push_gate(&settings, &target("short"), "ml-release", &text, &members[1..]).unwrap();
    let err = load(&short).err().expect("refused").to_string();
    assert!(
        err.contains("does not carry exactly the files its gate pins"),
        "{err}"
    );
    assert!(err.contains(&members[0].0), "{err}");

    let mut more = members.clone();
    more.push(("extra.wasm".into(), b"not named".to_vec()));
    let extra = sealgate::oci::push_gate(&settings, &target("extra"), "ml-release", &text, &more).unwrap();
    let err = load(&extra).err().expect("refused").to_string();
    assert!(err.contains("extra.wasm"), "{err}");

    // A member swapped for other bytes under its path: the gate's pin refuses it.
    let mut swapped = members.clone();
    swapped[0].1 = members[1].1.clone();
    let swapped =
        sealgate::oci::push_gate(&settings, &target("swapped"), "ml-release", &text, &swapped).unwrap();
    let err = load(&swapped).err().expect("refused").to_string();
    assert!(err.contains("sha256"), "{err}");
}

/// `tests/interop/read_cosign_att.py` (Python `oras`) on `image`'s `.att`
/// tag, writing its envelopes into `out`: what it printed, or `None` (after
/// saying why) where `oras` is not installed and this is not CI.
fn oras_read_att(
    registry: &TestRegistry,
    repository: &str,
    image: &sealgate::Sha256Digest,
    out: &Path,
) -> Option<String> {
    let has_oras = Command::new("python3")
        .args(["-c", "import oras.client"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_oras {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI installs the Python oras package (.ci/run, tests/interop/requirements.txt), yet python3 cannot import it"
            );
        }
        eprintln!("skipping the oras cross-check: pip install -r tests/interop/requirements.txt");
        return None;
    }
    let run = Command::new("python3")
        .arg(repo("tests/interop/read_cosign_att.py"))
        .args(["--registry", &registry.addr, "--ca"])
        .arg(registry.ca())
        .args(["--user", USER, "--password", PASSWORD, "--repository", repository])
        .args(["--digest", &image.prefixed(), "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "read_cosign_att.py: {}{}",
        stdout(&run),
        stderr(&run)
    );
    Some(stdout(&run))
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// Kyverno's `conditions` (the forms examples/k8s uses: `all` of
/// `{{ path }}` with Equals or AnyIn) on a predicate.
fn kyverno_conditions_hold(conditions: &serde_json::Value, predicate: &serde_json::Value) -> bool {
    conditions.as_array().unwrap().iter().all(|block| {
        block["all"].as_array().unwrap().iter().all(|c| {
            let path = c["key"]
                .as_str()
                .unwrap()
                .trim_start_matches("{{")
                .trim_end_matches("}}")
                .trim();
            let pointer = format!("/{}", path.replace('.', "/"));
            let actual = predicate.pointer(&pointer).unwrap_or(&serde_json::Value::Null);
            match c["operator"].as_str().unwrap() {
                "Equals" => actual == &c["value"],
                "AnyIn" => actual
                    .as_array()
                    .is_some_and(|have| have.iter().any(|v| c["value"].as_array().unwrap().contains(v))),
                other => panic!("the test does not know Kyverno's {other}"),
            }
        })
    })
}

/// examples/pipeline with the gate from the registry, as its workflow runs
/// it: the compliance team pushes the staging gate once, signed; the
/// pipeline names it by digest with a publishers file, builds no policy,
/// and promotes the model; the same gate unsigned is refused and nothing
/// is promoted.
#[test]
fn the_example_pipeline_pulls_its_gate_from_the_registry() {
    let Some(registry) = TestRegistry::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keygen(d, "compliance");
    let gate =
        shipped_gate_with_modules_beside(&repo("examples/pipeline/staging.toml"), &d.join("compliance"));
    let push = |target: &str, key: Option<&Path>| {
        let mut args = vec!["gate", "push", gate.to_str().unwrap(), target];
        args.extend(key.iter().flat_map(|k| ["--key", k.to_str().unwrap()]));
        pushed_reference(&registry.sealgate(&d.join("publisher-store"), &args))
    };
    let signed = push(&registry.reference("compliance/staging:1"), Some(&key));
    let unsigned = push(&registry.reference("mirror/staging:1"), None);
    let publishers = publishers_file(d, &[("compliance", &public)]);
    let run = |gate: &str, work: &Path| {
        let out = Command::new("bash")
            .arg(repo("examples/pipeline/pipeline.sh"))
            .arg(work)
            .env("SEALGATE", env!("CARGO_BIN_EXE_sealgate"))
            .env("FIXTURES", shared("fixtures/real"))
            .env("GATE", gate)
            .env("PUBLISHERS", &publishers)
            .env("SEALGATE_REGISTRY_CA", registry.ca())
            .env("DOCKER_CONFIG", registry.docker_config().parent().unwrap())
            .env("SEALGATE_OCI_STORE", work.join("store"))
            .env_remove("SEALGATE_DECISION_LOG")
            .env_remove("SEALGATE_SIGNING_KEY")
            .env_remove("TRUST")
            .output()
            .unwrap();
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        out
    };
    let work = d.join("work");
    let out = run(&signed, &work);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("== deploy: promoted churn-model"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!("--gate {signed} --publishers")),
        "{}",
        stdout(&out)
    );

    let refused = d.join("refused");
    let out = run(&unsigned, &refused);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("not signed"), "{}", stderr(&out));
    assert!(!refused.join("registry").exists(), "nothing is promoted");
}

/// A gate of local files does not depend on registry settings: a broken
/// docker `config.json` or a missing `--registry-ca` does not stop it. A
/// gate that needs a registry reads them and says what is wrong.
#[test]
fn registry_settings_are_read_only_when_something_comes_from_a_registry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("docker")).unwrap();
    std::fs::write(d.join("docker/config.json"), "not JSON").unwrap();
    let check = |gate: &Path| {
        sealgate_command()
            .env("DOCKER_CONFIG", d.join("docker"))
            .env("SEALGATE_OCI_STORE", d.join("store"))
            .args(["check", "--gate", gate.to_str().unwrap(), "--metadata"])
            .arg(clean_metadata())
            .args(["--registry-ca", d.join("missing.pem").to_str().unwrap()])
            .output()
            .unwrap()
    };
    let local = write_gate(d, &guests().pii.path, &guests().pii.sha256, "{}", "");
    let out = check(&local);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let nowhere = format!(
        "oci://127.0.0.1:9/sealgate/pii@{}",
        guests().pii.sha256.prefixed()
    );
    let remote = write_gate(d, Path::new(&nowhere), &guests().pii.sha256, "{}", "");
    let out = check(&remote);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("config.json") && err.contains("not JSON"), "{err}");
}

/// A gate file naming `oci://` policies, run with a publishers file: a
/// policy pushed with `--key` by a listed publisher loads; one pushed
/// without is refused, naming which policy and which artifact.
#[test]
fn registry_policies_must_be_signed_when_publishers_are_named() {
    let Some(registry) = TestRegistry::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keygen(d, "compliance");
    let publishers = publishers_file(d, &[("compliance", &public)]);
    let push = |built: &crate::support::Built, rest: &str, key: Option<&Path>| {
        let mut args = vec!["policy", "push", built.path.to_str().unwrap(), rest];
        args.extend(key.iter().flat_map(|k| ["--key", k.to_str().unwrap()]));
        pushed_reference(&registry.sealgate(&d.join("publisher"), &args))
    };
    let signed = push(&guests().pii, &registry.reference("sealgate/pii:1"), Some(&key));
    let unsigned = push(&guests().quality, &registry.reference("sealgate/quality:1"), None);
    let check = |module: &str, built: &crate::support::Built| {
        let gate = write_gate(d, Path::new(module), &built.sha256, "{}", "");
        registry.sealgate(
            &d.join("runner"),
            &[
                "check",
                "--gate",
                gate.to_str().unwrap(),
                "--metadata",
                clean_metadata().to_str().unwrap(),
                "--publishers",
                publishers.to_str().unwrap(),
            ],
        )
    };
    let out = check(&signed, &guests().pii);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = check(&unsigned, &guests().quality);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("policies[0]") && err.contains(&unsigned) && err.contains("not signed"),
        "{err}"
    );
}
