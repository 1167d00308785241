//! `sealgate serve` end to end: the real binary on a loopback port, a real
//! HTTP client (ureq, rustls for TLS), signals sent as an operator would.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// A running `sealgate serve`.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(config: &Path) -> Self {
        Self::start_with(config, &[])
    }

    /// Start it with these environment variables too.
    fn start_with(config: &Path, env: &[(&str, PathBuf)]) -> Self {
        Self::try_start_with(config, env)
            .unwrap_or_else(|stderr| panic!("sealgate serve did not start:\n{stderr}"))
    }

    /// Start it; its stderr if it exits before listening.
    fn try_start_with(config: &Path, env: &[(&str, PathBuf)]) -> Result<Self, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sealgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
            .env(
                "SEALGATE_CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"),
            )
            .env(
                "XDG_CONFIG_HOME",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("config"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sealgate serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let base = loop {
            let mut line = String::new();
            if lines.read_line(&mut line).unwrap() == 0 {
                let _ = child.wait();
                return Err(seen);
            }
            seen.push_str(&line);
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let stderr = Arc::new(Mutex::new(seen));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Ok(Self { child, base, stderr })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The health listener's base URL, as the server announced it.
    fn health_url(&self, path: &str) -> String {
        let said = self.stderr();
        let base = said
            .split("health probes and metrics on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no health listener announced:\n{said}"));
        format!("{base}{path}")
    }

    fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait (at most 30 s) until the server has said `text` on stderr.
    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.stderr().contains(text) {
            assert!(
                Instant::now() < deadline,
                "never said `{text}`:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait (bounded) for the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// A self-signed certificate for `localhost`, written as `cert` and `key` (PEM).
fn localhost_certificate(cert: &Path, key: &Path) -> rcgen::CertifiedKey<rcgen::KeyPair> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(cert, made.cert.pem()).unwrap();
    std::fs::write(key, made.signing_key.serialize_pem()).unwrap();
    made
}

/// A client that trusts only `cert`.
fn agent_trusting(cert: &rcgen::CertifiedKey<rcgen::KeyPair>) -> ureq::Agent {
    let root = ureq::tls::Certificate::from_der(cert.cert.der()).to_owned();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root])))
                .build(),
        )
        .build()
        .new_agent()
}

fn get(agent: &ureq::Agent, url: &str) -> (u16, String) {
    let mut response = agent.get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap(),
    )
}

fn post_raw(agent: &ureq::Agent, url: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut response = agent
        .post(url)
        .header("content-type", content_type)
        .send(body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    let value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} answer is not JSON ({e}): {text}"));
    (status, value)
}

fn post(agent: &ureq::Agent, url: &str, body: &Value) -> (u16, Value) {
    post_raw(agent, url, "application/json", body.to_string().as_bytes())
}

/// `answer` is HTTP 200 with the decision PASSED.
fn assert_passed((status, answer): (u16, Value)) {
    assert_eq!(
        (status, answer["decision"].as_str()),
        (200, Some("PASSED")),
        "{answer}"
    );
}

/// A check request for a document of `examples/metadata`, its bytes as written.
fn check_body(gate: &str, example: &str) -> String {
    let metadata = std::fs::read_to_string(repo(&format!("examples/metadata/{example}.json"))).unwrap();
    format!(r#"{{"gate": "{gate}", "metadata": {metadata}}}"#)
}

/// An attest request: a check request for `example` plus the subject.
fn attest_body(gate: &str, example: &str, name: &str, digest: &str) -> Value {
    let mut request: Value = serde_json::from_str(&check_body(gate, example)).unwrap();
    // The team's metadata for this subject describes it: the server refuses
    // a document naming another artifact.
    request["metadata"]["artifact"]["digest"] = json!({"sha256": digest.trim_start_matches("sha256:")});
    request["subject"] = json!({"name": name, "sha256": digest});
    request
}

/// A server directory: the example gate (suite builds), a hostile gate, a
/// signing key and the trust file for it, an empty attestation store.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = sealgate(&[
            "keygen",
            "--out",
            d.join("keys").to_str().unwrap(),
            "--name",
            "server",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        example_gate(d);
        std::fs::write(
            d.join("trust.toml"),
            "api-version = \"sealgate/trust/v1\"\n[[keys]]\nname = \"server\"\npublic-key = \"keys/server.pub\"\n",
        )
        .unwrap();
        std::fs::create_dir(d.join("store")).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A one-policy gate named `name` running the hostile guest in `mode`.
    fn hostile_gate(&self, name: &str, mode: &str, limits: &str) -> String {
        let g = &guests().hostile;
        let file = format!("{name}.toml");
        std::fs::write(
            self.path(&file),
            format!(
                "api-version = \"sealgate/v1\"\nname = \"{name}\"\n[limits]\n{limits}\n[[policies]]\nmodule = {:?}\nsha256 = \"{}\"\nparams = {{ mode = \"{mode}\" }}\n",
                g.path.display().to_string(),
                g.sha256
            ),
        )
        .unwrap();
        file
    }

    /// `serve.toml` with these gate files and `extra` TOML appended.
    fn config(&self, gates: &[&str], extra: &str) -> PathBuf {
        let path = self.path("serve.toml");
        let gates: Vec<String> = gates.iter().map(|g| format!("{g:?}")).collect();
        std::fs::write(
            &path,
            format!(
                "api-version = \"sealgate/server/v1\"\ngates = [{}]\ndecision-log = \"decisions.jsonl\"\n\n[trust]\nrelease = \"trust.toml\"\n\n[signing]\nkey = \"keys/server.key\"\n\n[admission]\ntrust = \"release\"\nstore = \"store\"\n{extra}\n",
                gates.join(", ")
            ),
        )
        .unwrap();
        path
    }
}

/// The server as a value: its router driven in process (`oneshot`), no
/// port and no process, for what does not need a socket or a signal.
pub(crate) struct InProcess {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

impl InProcess {
    pub(crate) fn new(config: &Path) -> Self {
        let server = sealgate_server::PolicyServer::new_from_config(
            &sealgate_server::ServeOptions::new(config.to_owned())
                .with_listen(None)
                .with_engine(
                    sealgate::EngineConfig::default()
                        .with_cache_dir(Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"))),
                ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Self {
            runtime,
            router: server.router(),
        }
    }

    /// `POST path` of `body` as JSON: the status and the JSON answer.
    pub(crate) fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, "application/json", body.to_string().as_bytes())
    }

    /// `GET path`: the status and the answer's text.
    fn get(&self, path: &str) -> (u16, String) {
        self.raw("GET", path, "text/plain", b"")
    }

    /// `POST path` of `body` as `content_type`: the status and the answer.
    fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        self.call("POST", path, content_type, body)
    }

    /// `POST path` of `body` as JSON: the status and the answer's text.
    fn post_text(&self, path: &str, body: &[u8]) -> (u16, String) {
        self.raw("POST", path, "application/json", body)
    }

    /// `method path` with `body`: the status and the JSON answer (a string
    /// for an answer that is not JSON).
    fn call(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        let (status, text) = self.raw(method, path, content_type, body);
        let answer = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, answer)
    }

    /// `method path` with `body`: the status and the answer's text.
    fn raw(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
        use tower::ServiceExt as _;
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(axum::body::Body::from(body.to_vec()))
            .unwrap();
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        })
    }
}

/// The value of a metric sample line `NAME{LABELS} VALUE` in OpenMetrics text.
fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn checks_attests_and_verifies_and_logs_each_decision() {
    let setup = Setup::new();
    let server = InProcess::new(&setup.config(&["ml-release.toml"], ""));

    assert_eq!(server.get("/healthz").0, 200);
    let (status, ready) = server.get("/readyz");
    assert_eq!(status, 200);
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["gates"], json!(["ml-release"]));
    assert_eq!(ready["generation"], 1);

    // The report is the one `sealgate check --format json` gives.
    let (status, report) = server.post_raw(
        "/v1/check",
        "application/json",
        check_body("ml-release", "churn-model").as_bytes(),
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["decision"], "PASSED");
    assert_eq!(report["policies"].as_array().unwrap().len(), 6);
    let (status, report) = server.post_raw(
        "/v1/check",
        "application/json; charset=utf-8",
        check_body("ml-release", "churn-model-pii").as_bytes(),
    );
    assert_eq!(status, 200);
    assert_eq!(report["decision"], "FAILED");
    let pii = &report["policies"][0];
    assert_eq!(pii["outcome"], "fail");
    assert!(pii["findings"].to_string().contains("pii.column.email"), "{pii}");

    // Metadata of another artifact is refused (422, naming both digests) by
    // attest and by a check that names its artifact: never signed.
    let elsewhere = sealgate::Sha256Digest::of_bytes(b"another model");
    let mut unrelated = attest_body("ml-release", "churn-model", "model.bin", &elsewhere.to_string());
    unrelated["metadata"]["artifact"]["digest"]["sha256"] =
        "631bad177267272b20cf98269ca44cd773add1d7b8226a2659c2ed9ba1b9c6ad".into();
    let (status, refused) = server.post("/v1/attest", &unrelated);
    assert_eq!(status, 422, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("631bad17") && message.contains(&elsewhere.to_string()),
        "{message}"
    );
    let mut check: Value = serde_json::from_str(&check_body("ml-release", "churn-model")).unwrap();
    check["artifact_sha256"] = elsewhere.to_string().into();
    let (status, refused) = server.post("/v1/check", &check);
    assert_eq!(status, 422, "{refused}");

    // Attest: signed by the server's key, and verified by the CLI offline.
    let artifact = setup.path("model.bin");
    std::fs::write(&artifact, b"model bytes").unwrap();
    let digest = sealgate::Sha256Digest::of_bytes(b"model bytes");
    let request = attest_body("ml-release", "churn-model", "model.bin", &digest.to_string());
    let (status, attested) = server.post("/v1/attest", &request);
    assert_eq!(status, 200, "{attested}");
    assert_eq!(attested["decision"], "PASSED");
    let bundle = attested["bundle"].as_str().unwrap();
    std::fs::write(setup.path("model.intoto.jsonl"), bundle).unwrap();
    let out = sealgate(&[
        "verify",
        "--bundle",
        setup.path("model.intoto.jsonl").to_str().unwrap(),
        "--artifact",
        artifact.to_str().unwrap(),
        "--key",
        setup.path("keys/server.pub").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Verify over HTTP: accepted for the artifact, rejected for another.
    let (status, verdict) = server.post(
        "/v1/verify",
        &json!({"bundle": bundle, "artifact_sha256": format!("sha256:{digest}"), "trust": "release",
                "required_policies": [format!("sealgate.pii={}", guests().pii.sha256.prefixed())]}),
    );
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["decision"], "accepted");
    assert_eq!(verdict["signer"], "server");
    let other = sealgate::Sha256Digest::of_bytes(b"other bytes");
    let (_, verdict) = server.post(
        "/v1/verify",
        &json!({"bundle": bundle, "artifact_sha256": other.to_string()}),
    );
    assert_eq!(verdict["decision"], "rejected");
    assert_eq!(verdict["failed_check"], "subject");
    // A request may tighten the trust file, never loosen it: by a required
    // policy (pinned to a module), the resource, the gate.
    let absent = format!(
        "acme.absent={}",
        sealgate::Sha256Digest::of_bytes(b"card").prefixed()
    );
    for (tightening, check) in [
        (json!({"required_policies": [absent]}), "required-policies"),
        (json!({"resource_uri": "models:/other/1"}), "resource-uri"),
        (json!({"gate": "staging-promotion"}), "level"),
        (
            json!({"policy_digests": [sealgate::Sha256Digest::of_bytes(b"gate").prefixed()]}),
            "policy-digest",
        ),
    ] {
        let mut request = json!({"bundle": bundle, "artifact_sha256": digest.to_string()});
        request
            .as_object_mut()
            .unwrap()
            .extend(tightening.as_object().unwrap().clone());
        let (_, verdict) = server.post("/v1/verify", &request);
        assert_eq!(verdict["failed_check"], check, "{tightening}: {verdict}");
    }
    // A policy required by its id alone, of an unpinned gate, is what any
    // component may claim: refused as a request, not answered.
    let (status, refused) = server.post("/v1/verify",
        &json!({"bundle": bundle, "artifact_sha256": digest.to_string(), "required_policies": ["sealgate.pii"]}),
    );
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused.to_string().contains("names no module digest"),
        "{refused}"
    );

    // Metrics: requests, decisions, per-policy latency.
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        metric(
            &metrics,
            r#"sealgate_decisions_total{endpoint="check",outcome="PASSED"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            r#"sealgate_decisions_total{endpoint="verify",outcome="rejected"}"#
        ),
        Some(5.0),
        "one other subject and four tightenings"
    );
    assert_eq!(
        metric(
            &metrics,
            r#"sealgate_policy_evaluation_duration_seconds_count{gate="ml-release",policy="sealgate.pii"}"#
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            r#"sealgate_http_requests_total{route="/v1/check",method="POST",status="200"}"#
        ),
        Some(2.0)
    );
    assert!(metrics.ends_with("# EOF\n"));

    // Every decision is in the log, chained, and names the server.
    drop(server);
    let log = setup.path("decisions.jsonl");
    let out = sealgate(&["log", "verify", log.to_str().unwrap(), "--expect-entries", "9"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let commands: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["command"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        commands,
        [
            "serve check",
            "serve check",
            "serve attest",
            "serve verify",
            "serve verify",
            "serve verify",
            "serve verify",
            "serve verify",
            "serve verify"
        ]
    );
}

/// Every way a request can be wrong, answered in process: a JSON error with
/// a stable code, never a crash (the wire-level cases are below).
#[test]
fn bad_requests_get_json_errors_in_process() {
    let setup = Setup::new();
    let server = InProcess::new(&setup.config(&["ml-release.toml"], "[limits]\nmax-body-bytes = 65536"));
    let json = "application/json";
    let subject = json!({"name": "m", "sha256": "ab".repeat(32)});
    // Method, path, content type, body; the status, error code and a text
    // the message holds.
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("POST", "/v1/check", json, b"{".to_vec(), 400, "bad-request", ""),
        ("POST", "/v1/check", json, b"".to_vec(), 400, "bad-request", ""),
        (
            "POST",
            "/v1/check",
            json,
            vec![0xff, 0xfe, 0x00],
            400,
            "bad-request",
            "",
        ),
        (
            "POST",
            "/v1/check",
            "text/plain",
            b"{}".to_vec(),
            415,
            "unsupported-media-type",
            "",
        ),
        // Deep nesting is refused by size or by the metadata depth limit,
        // never a stack overflow.
        (
            "POST",
            "/v1/check",
            json,
            format!(
                r#"{{"gate": "ml-release", "metadata": {}1{}}}"#,
                "[".repeat(60_000),
                "]".repeat(60_000)
            )
            .into_bytes(),
            413,
            "payload-too-large",
            "",
        ),
        (
            "POST",
            "/v1/check",
            json,
            format!(
                r#"{{"gate": "ml-release", "metadata": {}1{}}}"#,
                "[".repeat(30_000),
                "]".repeat(30_000)
            )
            .into_bytes(),
            422,
            "invalid-input",
            "nested deeper than",
        ),
        (
            "POST",
            "/v1/check",
            json,
            format!(
                r#"{{"gate": "ml-release", "metadata": {{"pad": "{}"}}}}"#,
                "x".repeat(70_000)
            )
            .into_bytes(),
            413,
            "payload-too-large",
            "",
        ),
        (
            "POST",
            "/v1/check",
            json,
            json!({"gate": "ml-release"}).to_string().into_bytes(),
            422,
            "invalid-input",
            "",
        ),
        (
            "POST",
            "/v1/check",
            json,
            json!({"gate": 7, "metadata": {}}).to_string().into_bytes(),
            422,
            "invalid-input",
            "",
        ),
        (
            "POST",
            "/v1/check",
            json,
            json!({"gate": "ml-release", "metadata": {}, "extra": 1})
                .to_string()
                .into_bytes(),
            422,
            "invalid-input",
            "",
        ),
        (
            "POST",
            "/v1/check",
            json,
            json!({"gate": "nope", "metadata": {}}).to_string().into_bytes(),
            404,
            "unknown-gate",
            "",
        ),
        (
            "POST",
            "/v1/check",
            json,
            json!({"gate": "ml-release", "metadata": []})
                .to_string()
                .into_bytes(),
            422,
            "invalid-input",
            "",
        ),
        (
            "POST",
            "/v1/check",
            json,
            json!({"gate": "ml-release", "metadata": {}, "at": "yesterday"})
                .to_string()
                .into_bytes(),
            422,
            "invalid-input",
            "",
        ),
        // What the server signs is evaluated at its own time, never a caller's.
        (
            "POST",
            "/v1/attest",
            json,
            json!({"gate": "ml-release", "metadata": {}, "at": "2020-01-01T00:00:00Z", "subject": subject})
                .to_string()
                .into_bytes(),
            422,
            "invalid-input",
            "unknown field `at`",
        ),
        (
            "POST",
            "/v1/verify",
            json,
            json!({"bundle": "not a bundle", "artifact_sha256": "ab".repeat(32)})
                .to_string()
                .into_bytes(),
            422,
            "invalid-input",
            "",
        ),
        (
            "POST",
            "/v1/verify",
            json,
            json!({"bundle": "", "artifact_sha256": "ab".repeat(32), "trust": "nope"})
                .to_string()
                .into_bytes(),
            404,
            "unknown-trust",
            "",
        ),
        (
            "POST",
            "/v1/attest",
            json,
            json!({"gate": "ml-release", "metadata": {}})
                .to_string()
                .into_bytes(),
            422,
            "invalid-input",
            "",
        ),
        (
            "POST",
            "/v1/admission",
            json,
            json!({"kind": "Pod"}).to_string().into_bytes(),
            422,
            "invalid-input",
            "",
        ),
        ("GET", "/nope", json, Vec::new(), 404, "not-found", ""),
        (
            "GET",
            "/v1/check",
            json,
            Vec::new(),
            405,
            "method-not-allowed",
            "",
        ),
    ];
    for (method, path, content_type, body, status, code, says) in cases {
        let (got, answer) = server.call(method, path, content_type, &body);
        let what = format!("{method} {path} ({} bytes)", body.len());
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or("");
        assert!(!message.is_empty() && message.contains(says), "{what}: {answer}");
    }
    // Still answering, with the same answers as before.
    let (status, answer) = server.call(
        "POST",
        "/v1/check",
        json,
        check_body("ml-release", "churn-model").as_bytes(),
    );
    assert_eq!(
        (status, answer["decision"].as_str()),
        (200, Some("PASSED")),
        "{answer}"
    );
}

/// What only a real connection shows: an error answered before the body is
/// read closes the connection, bytes that are not HTTP are refused, and the
/// server keeps serving.
#[test]
fn bad_requests_never_take_the_server_down() {
    let setup = Setup::new();
    let server = Server::start(&setup.config(&["ml-release.toml"], "[limits]\nmax-body-bytes = 65536"));
    let agent = agent();
    let check = server.url("/v1/check");
    let json = "application/json";
    // An error may be answered before the body is read: the connection is
    // then closed, and says so, so a client does not reuse it and fail.
    let refused = agent
        .post(&check)
        .header("content-type", "text/plain")
        .send(&b"{}"[..])
        .unwrap();
    assert_eq!(refused.status().as_u16(), 415);
    assert_eq!(
        refused.headers().get("connection").map(|v| v.to_str().unwrap()),
        Some("close")
    );

    // Not HTTP at all.
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    raw.write_all(b"\x16\x03\x01garbage\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = raw.read_to_end(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
        "{answer:?}"
    );

    // Still serving, with the same answers as before.
    assert_eq!(get(&agent, &server.url("/healthz")).0, 200);
    assert_passed(post_raw(
        &agent,
        &check,
        json,
        check_body("ml-release", "churn-model").as_bytes(),
    ));
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn slow_and_idle_clients_are_cut_off() {
    let setup = Setup::new();
    let server = Server::start(&setup.config(&["ml-release.toml"], "[limits]\nheader-timeout = \"1s\""));
    // Headers that never end, and a keep-alive connection left idle after
    // its answer, each hold a connection for `header-timeout` at most.
    let closed_within = |mut socket: std::net::TcpStream| {
        let started = Instant::now();
        socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut sink = Vec::new();
        let _ = socket.read_to_end(&mut sink);
        (started.elapsed(), sink)
    };
    let mut dribble = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    dribble
        .write_all(b"POST /v1/check HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (took, _) = closed_within(dribble);
    assert!(
        took < Duration::from_secs(5),
        "unfinished headers held for {took:?}"
    );
    let mut idle = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (took, answer) = closed_within(idle);
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        took < Duration::from_secs(5),
        "an idle keep-alive connection held for {took:?}"
    );

    assert_eq!(get(&agent(), &server.url("/healthz")).0, 200);
}

#[test]
fn a_hostile_policy_does_not_stall_other_requests() {
    let setup = Setup::new();
    let spin = setup.hostile_gate("spin", "host-spin", "timeout-ms = 3000");
    let server = Server::start(&setup.config(&["ml-release.toml", &spin], ""));
    let agent = agent();

    // As many requests as the machine has cores (so as many as the async
    // workers), each spinning in its policy until its time limit…
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hostile: Vec<_> = (0..cores)
        .map(|_| {
            let (agent, url) = (agent.clone(), server.url("/v1/check"));
            std::thread::spawn(move || {
                let started = Instant::now();
                let answer = post_raw(
                    &agent,
                    &url,
                    "application/json",
                    check_body("spin", "churn-model").as_bytes(),
                );
                (answer, started.elapsed(), Instant::now())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // …while the rest are answered before those end.
    for _ in 0..5 {
        assert_passed(post_raw(
            &agent,
            &server.url("/v1/check"),
            "application/json",
            check_body("ml-release", "churn-model").as_bytes(),
        ));
        assert_eq!(get(&agent, &server.url("/healthz")).0, 200);
    }
    let others_done = Instant::now();
    for h in hostile {
        let ((status, report), took, ended) = h.join().unwrap();
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["decision"], "FAILED");
        assert_eq!(report["policies"][0]["outcome"], "error");
        assert!(took >= Duration::from_millis(2900), "{took:?}");
        assert!(
            others_done < ended,
            "the other requests waited for the hostile ones"
        );
    }
    let (_, metrics) = get(&agent, &server.url("/metrics"));
    assert_eq!(
        metric(
            &metrics,
            r#"sealgate_sandbox_errors_total{gate="spin",policy="test.hostile",kind="timeout"}"#
        ),
        Some(cores as f64),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            r#"sealgate_decisions_total{endpoint="check",outcome="ERROR"}"#
        ),
        Some(cores as f64)
    );
}

#[test]
fn sighup_reloads_the_configuration_without_dropping_requests() {
    let setup = Setup::new();
    let config = setup.config(&["ml-release.toml"], "");
    let server = Server::start(&config);
    let agent = agent();

    // A client sending checks back to back for the whole reload.
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (agent, url, stop) = (agent.clone(), server.url("/v1/check"), stop.clone());
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            // At least three requests, however slow a loaded machine makes
            // each: the point is that none across the reloads is dropped.
            while !stop.load(Ordering::SeqCst) || answers.len() < 3 {
                let (status, report) = post_raw(
                    &agent,
                    &url,
                    "application/json",
                    check_body("ml-release", "churn-model").as_bytes(),
                );
                answers.push((status, report["decision"].as_str().map(str::to_owned)));
            }
            answers
        })
    };

    let pass = setup.hostile_gate("second", "pass", "");
    setup.config(&["ml-release.toml", &pass], "");
    server.signal("HUP");
    server.wait_for("generation 2");
    assert_passed(post_raw(
        &agent,
        &server.url("/v1/check"),
        "application/json",
        check_body("second", "churn-model").as_bytes(),
    ));

    // A configuration that does not load is refused whole; the last good one serves on.
    std::fs::write(
        &config,
        "api-version = \"sealgate/server/v1\"\ngates = [\"missing.toml\"]\n",
    )
    .unwrap();
    server.signal("HUP");
    server.wait_for("reload refused");
    assert!(server.stderr().contains("missing.toml"), "{}", server.stderr());
    stop.store(true, Ordering::SeqCst);
    let answers = client.join().unwrap();
    assert!(answers.len() >= 3, "{answers:?}");
    assert!(
        answers.iter().all(|a| *a == (200, Some("PASSED".to_owned()))),
        "{answers:?}"
    );
    let (_, ready) = get(&agent, &server.url("/readyz"));
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["generation"], 2);
    assert_eq!(ready["gates"], json!(["ml-release", "second"]));
    let (_, metrics) = get(&agent, &server.url("/metrics"));
    assert_eq!(
        metric(&metrics, r#"sealgate_config_reloads_total{result="success"}"#),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics, r#"sealgate_config_reloads_total{result="failure"}"#),
        Some(1.0)
    );
    assert_eq!(metric(&metrics, "sealgate_config_generation"), Some(2.0));
}

/// An `AdmissionReview` v1 for `object` of `group`/`kind`.
pub(crate) fn review(uid: &str, group: &str, kind: &str, operation: &str, object: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": format!("{}s", kind.to_lowercase())},
            "operation": operation,
            "namespace": "ml",
            "object": object,
        }
    })
}

pub(crate) fn pod(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "churn"}, "spec": {"containers": containers}})
}

#[test]
fn admission_admits_only_digest_pinned_images_with_a_verifying_bundle() {
    let setup = Setup::new();
    let server = InProcess::new(&setup.config(&["ml-release.toml"], ""));

    // Attest three image digests through the server: two PASSED, one FAILED.
    let digest = |s: &str| sealgate::Sha256Digest::of_bytes(s.as_bytes());
    let (good, sidecar, failed, copied) = (
        digest("good"),
        digest("sidecar"),
        digest("failed"),
        digest("copied"),
    );
    let attest = |d: &sealgate::Sha256Digest, example: &str| {
        let request = attest_body("ml-release", example, "ghcr.io/acme/churn", &d.to_string());
        let (status, answer) = server.post("/v1/attest", &request);
        assert_eq!(status, 200, "{answer}");
        answer["bundle"].as_str().unwrap().to_owned()
    };
    let store = |d: &sealgate::Sha256Digest, bundle: &str| {
        let dir = setup.path(&format!("store/sha256/{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ml-release.intoto.jsonl"), bundle).unwrap();
    };
    let good_bundle = attest(&good, "churn-model");
    store(&good, &good_bundle);
    store(&sidecar, &attest(&sidecar, "churn-model"));
    store(&failed, &attest(&failed, "churn-model-pii"));
    // A genuine bundle filed under another digest is about the wrong subject.
    store(&copied, &good_bundle);

    let url = "/v1/admission";
    let decide = |review: Value| {
        let uid = review["request"]["uid"].clone();
        let (status, answer) = server.post(url, &review);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(answer["kind"], "AdmissionReview");
        let response = &answer["response"];
        assert_eq!(response["uid"], uid);
        (
            response["allowed"].as_bool().unwrap(),
            response["status"]["message"].as_str().unwrap_or("").to_owned(),
        )
    };
    let pinned = |d: &sealgate::Sha256Digest| format!("ghcr.io/acme/churn:1.4@sha256:{d}");
    let (image, sidecar_image) = (pinned(&good), format!("ghcr.io/acme/proxy@sha256:{sidecar}"));

    assert_eq!(
        decide(review("1", "", "Pod", "CREATE", pod(&[&image, &sidecar_image]))),
        (true, String::new())
    );
    let deployment = json!({"spec": {"template": {"spec": {
        "initContainers": [{"name": "init", "image": sidecar_image}],
        "containers": [{"name": "app", "image": image}]}}}});
    assert!(decide(review("2", "apps", "Deployment", "UPDATE", deployment)).0);
    let cronjob = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "app", "image": "ghcr.io/acme/churn:latest"}]}}}}}});
    let (allowed, why) = decide(review("3", "batch", "CronJob", "CREATE", cronjob));
    assert!(!allowed && why.contains("not pinned by digest"), "{why}");

    let (allowed, why) = decide(review("4", "", "Pod", "CREATE", pod(&[&image, "nginx:1.27"])));
    assert!(!allowed, "one unpinned image denies the pod");
    assert!(
        why.contains("nginx:1.27: not pinned by digest") && !why.contains(&image),
        "{why}"
    );
    let unknown = digest("never attested");
    let (allowed, why) = decide(review("5", "", "Pod", "CREATE", pod(&[&pinned(&unknown)])));
    assert!(
        !allowed && why.contains(&format!("no attestation for sha256:{unknown}")),
        "{why}"
    );
    let (allowed, why) = decide(review("6", "", "Pod", "CREATE", pod(&[&pinned(&failed)])));
    assert!(!allowed && why.contains("(result)"), "{why}");
    let (allowed, why) = decide(review("7", "", "Pod", "CREATE", pod(&[&pinned(&copied)])));
    assert!(!allowed && why.contains("(subject)"), "{why}");
    // A bundle tampered with in the store.
    let tampered = good_bundle.replacen("PASSED", "FAILED", 1);
    store(&copied, &tampered);
    let (allowed, _) = decide(review("8", "", "Pod", "CREATE", pod(&[&pinned(&copied)])));
    assert!(!allowed);

    // Kinds without a pod spec are not waved through; deletions start nothing.
    let (allowed, why) = decide(review("9", "", "ConfigMap", "CREATE", json!({"data": {}})));
    assert!(!allowed && why.contains("cannot find the pod spec"), "{why}");
    assert!(decide(review("10", "", "Pod", "DELETE", Value::Null)).0);
    let (status, answer) = server.post(
        url,
        &json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": null}),
    );
    assert_eq!(status, 400, "{answer}");

    let (_, metrics) = server.raw("GET", "/metrics", "text/plain", b"");
    assert_eq!(
        metric(
            &metrics,
            r#"sealgate_decisions_total{endpoint="admission",outcome="allowed"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        metric(
            &metrics,
            r#"sealgate_decisions_total{endpoint="admission",outcome="denied"}"#
        ),
        Some(7.0)
    );
    // One log entry per image decided, naming it.
    drop(server);
    let log = std::fs::read_to_string(setup.path("decisions.jsonl")).unwrap();
    let first_admission = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["command"] == "serve admission")
        .unwrap();
    assert_eq!(first_admission["outcome"], "accepted");
    assert_eq!(first_admission["subject"], image);
    assert_eq!(first_admission["artifact_sha256"], good.to_string());
}

#[test]
fn tls_serves_the_configured_certificate_and_nothing_else() {
    let setup = Setup::new();
    let cert = localhost_certificate(&setup.path("tls.crt"), &setup.path("tls.key"));
    let server = Server::start(&setup.config(
        &["ml-release.toml"],
        "[tls]\ncertificate = \"tls.crt\"\nprivate-key = \"tls.key\"",
    ));
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let url = format!("https://localhost:{}/v1/check", server.port());

    let trusting = agent_trusting(&cert);
    assert_passed(post_raw(
        &trusting,
        &url,
        "application/json",
        check_body("ml-release", "churn-model").as_bytes(),
    ));

    // A client that does not trust the certificate, and one speaking plain HTTP.
    assert!(
        agent().get(&url).call().is_err(),
        "an untrusted certificate was accepted"
    );
    assert!(
        agent()
            .get(&format!("http://localhost:{}/healthz", server.port()))
            .call()
            .is_err(),
        "plain HTTP was answered on the TLS port"
    );
    assert_eq!(
        get(&trusting, &format!("https://localhost:{}/healthz", server.port())).0,
        200
    );
}

#[test]
fn shutdown_finishes_requests_in_flight_then_exits() {
    let setup = Setup::new();
    let slow = setup.hostile_gate("slow", "host-spin", "timeout-ms = 1500");
    let server = Server::start(&setup.config(&[&slow], ""));
    let in_flight = {
        let (agent, url) = (agent(), server.url("/v1/check"));
        std::thread::spawn(move || {
            post_raw(
                &agent,
                &url,
                "application/json",
                check_body("slow", "churn-model").as_bytes(),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let port = server.port();
    let status = server.stop();
    assert_eq!(status.code(), Some(0));
    let (status, report) = in_flight.join().unwrap();
    assert_eq!(status, 200, "the request in flight was dropped: {report}");
    assert_eq!(report["decision"], "FAILED");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting"
    );
}

#[test]
fn configurations_that_cannot_serve_are_refused_at_start() {
    let setup = Setup::new();
    let cases = [
        (
            "api-version = \"sealgate/server/v9\"\ngates = [\"ml-release.toml\"]\n",
            "api-version",
        ),
        (
            "api-version = \"sealgate/server/v1\"\ngates = []\n",
            "at least one gate",
        ),
        (
            "api-version = \"sealgate/server/v1\"\ngates = [\"absent.toml\"]\n",
            "absent.toml",
        ),
        (
            "api-version = \"sealgate/server/v1\"\ngates = [\"ml-release.toml\"]\nport = 1\n",
            "unknown field",
        ),
        (
            "api-version = \"sealgate/server/v1\"\ngates = [\"ml-release.toml\"]\n[admission]\ntrust = \"x\"\nstore = \"store\"\n",
            "not one of [trust]",
        ),
        (
            "api-version = \"sealgate/server/v1\"\ngates = [\"ml-release.toml\", \"ml-release.toml\"]\n",
            "two gates are named `ml-release`",
        ),
        (
            "api-version = \"sealgate/server/v1\"\ngates = [\"ml-release.toml\"]\n[tls]\ncertificate = \"trust.toml\"\nprivate-key = \"keys/server.key\"\n",
            "trust.toml",
        ),
    ];
    for (config, expected) in cases {
        std::fs::write(setup.path("bad.toml"), config).unwrap();
        let out = sealgate(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            setup.path("bad.toml").to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{config}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{config}: {}", stderr(&out));
    }
    // A server with gates only answers what it was not given with 501 or 422.
    std::fs::write(
        setup.path("minimal.toml"),
        "api-version = \"sealgate/server/v1\"\ngates = [\"ml-release.toml\"]\n",
    )
    .unwrap();
    let minimal = Server::start(&setup.path("minimal.toml"));
    let agent = agent();
    let (status, answer) = post_raw(
        &agent,
        &minimal.url("/v1/attest"),
        "application/json",
        br#"{"gate": "ml-release", "metadata": {}, "subject": {"name": "m", "sha256": "00"}}"#,
    );
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (501, Some("attest-disabled"))
    );
    let (status, answer) = post(
        &agent,
        &minimal.url("/v1/admission"),
        &review("x", "", "Pod", "CREATE", pod(&["a"])),
    );
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (501, Some("admission-disabled"))
    );
    let (status, answer) = post(
        &agent,
        &minimal.url("/v1/verify"),
        &json!({"bundle": "", "artifact_sha256": "ab".repeat(32)}),
    );
    assert_eq!(status, 422);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(none configured)"),
        "{answer}"
    );
    drop(minimal);

    // The port taken by another server.
    let server = Server::start(&setup.config(&["ml-release.toml"], ""));
    let taken = format!("127.0.0.1:{}", server.port());
    let out = sealgate(&[
        "serve",
        "--listen",
        &taken,
        "--config",
        setup.path("serve.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot listen on"), "{}", stderr(&out));
}

/// Percentile `p` (0–100) of sorted durations.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[test]
fn load_test_many_clients_bounded_in_count_and_time() {
    const CLIENTS: usize = 8;
    const REQUESTS_PER_CLIENT: usize = 40;
    let setup = Setup::new();
    let server = Server::start(&setup.config(&["ml-release.toml"], ""));
    let body = check_body("ml-release", "churn-model");
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (agent, url, body) = (agent(), server.url("/v1/check"), body.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                for _ in 0..REQUESTS_PER_CLIENT {
                    let sent = Instant::now();
                    let (status, report) = post_raw(&agent, &url, "application/json", body.as_bytes());
                    latencies.push(sent.elapsed());
                    assert_eq!((status, report["decision"].as_str()), (200, Some("PASSED")));
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    let wall = started.elapsed();
    assert_eq!(latencies.len(), CLIENTS * REQUESTS_PER_CLIENT);
    assert!(wall < Duration::from_secs(120), "{wall:?}");
    latencies.sort();
    eprintln!(
        "load: {} checks of the 6-policy gate from {CLIENTS} clients in {:.2} s: {:.1} req/s, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 50).as_secs_f64() * 1e3,
        percentile(&latencies, 90).as_secs_f64() * 1e3,
        percentile(&latencies, 99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    // Every request was answered and logged, in one unbroken chain.
    let (_, metrics) = get(&agent(), &server.url("/metrics"));
    assert_eq!(
        metric(
            &metrics,
            r#"sealgate_decisions_total{endpoint="check",outcome="PASSED"}"#
        ),
        Some((CLIENTS * REQUESTS_PER_CLIENT) as f64)
    );
    assert_eq!(server.stop().code(), Some(0));
    let out = sealgate(&[
        "log",
        "verify",
        setup.path("decisions.jsonl").to_str().unwrap(),
        "--expect-entries",
        &(CLIENTS * REQUESTS_PER_CLIENT).to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

fn yaml(rel: &str) -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(repo(rel)).unwrap())
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_kubernetes_example_is_consistent_and_serves_admission_as_deployed() {
    // Admission reads the images' attestations from their registry.
    let Some(registry) = crate::registry::TestRegistry::start() else {
        return;
    };
    let deployment = yaml("examples/k8s/deployment.yaml");
    let service = yaml("examples/k8s/service.yaml");
    let webhook = yaml("examples/k8s/webhook.yaml");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];

    // The webhook calls the Service, which reaches the container's port.
    let hook = &webhook["webhooks"][0];
    assert_eq!(hook["admissionReviewVersions"], json!(["v1"]));
    assert_eq!(hook["failurePolicy"], "Fail", "fail closed");
    assert_eq!(hook["sideEffects"], "None");
    let target = &hook["clientConfig"]["service"];
    assert_eq!(target["name"], service["metadata"]["name"]);
    assert_eq!(target["path"], "/v1/admission");
    assert_eq!(target["port"], service["spec"]["ports"][0]["port"]);
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"],
        container["ports"][0]["name"]
    );
    for (k, v) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][k], v, "the Service selects the pods");
    }
    // Probes go to the health listener, a port of their own.
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["scheme"], "HTTP");
        assert_eq!(container[probe]["httpGet"]["port"], container["ports"][1]["name"]);
    }
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    let resources: Vec<&str> = hook["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
        })
        .collect();
    for kind in [
        "pods",
        "deployments",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
    ] {
        assert!(resources.contains(&kind), "{kind} is not reviewed");
    }

    // serve.toml, as mounted: every path it names lies in a volume the
    // Deployment mounts (or the image's /usr/share/sealgate). Mirror the
    // mounts in a directory and run the server on it.
    let config_text = std::fs::read_to_string(repo("examples/k8s/serve.toml")).unwrap();
    let config: toml::Value = toml::from_str(&config_text).unwrap();
    let listen: std::net::SocketAddr = config["listen"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        i64::from(listen.port()),
        container["ports"][0]["containerPort"].as_i64().unwrap()
    );
    let health: std::net::SocketAddr = config["health-listen"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        i64::from(health.port()),
        container["ports"][1]["containerPort"].as_i64().unwrap()
    );
    let grace = humantime::parse_duration(config["limits"]["shutdown-grace"].as_str().unwrap()).unwrap();
    assert!(grace.as_secs() < pod["spec"]["terminationGracePeriodSeconds"].as_u64().unwrap());
    let timeout = humantime::parse_duration(config["limits"]["request-timeout"].as_str().unwrap()).unwrap();
    assert!(timeout.as_secs() < hook["timeoutSeconds"].as_u64().unwrap());

    let root = tempfile::tempdir().unwrap();
    let mounted = |path: &str| root.path().join(path.trim_start_matches('/'));
    let mut mounts: Vec<String> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap().to_owned())
        .collect();
    mounts.push("/usr/share/sealgate".into());
    for m in &mounts {
        std::fs::create_dir_all(mounted(m)).unwrap();
    }
    // Any free loopback port for the health listener here.
    let mut local = config_text.replace(config["health-listen"].as_str().unwrap(), "127.0.0.1:0");
    for quoted in config_text
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/'))
    {
        assert!(
            mounts
                .iter()
                .any(|m| quoted == m || quoted.starts_with(&format!("{m}/"))),
            "serve.toml names {quoted}, which no volume mounts"
        );
        local = local.replace(
            &format!("\"{quoted}\""),
            &format!("{:?}", mounted(quoted).display().to_string()),
        );
    }
    // What the image and the ConfigMaps and Secrets put there.
    std::fs::create_dir_all(mounted("/usr/share/sealgate/examples/gates")).unwrap();
    let gate = example_gate(&mounted("/usr/share/sealgate/examples/gates"));
    assert!(local.contains(&format!("{:?}", gate.display().to_string())));
    let trust = std::fs::read_to_string(repo("examples/k8s/trust.toml")).unwrap();
    let key_dir = mounted("/etc/sealgate/keys");
    std::fs::write(
        mounted("/etc/sealgate/config/trust.toml"),
        trust.replace("/etc/sealgate/keys/", &format!("{}/", key_dir.display())),
    )
    .unwrap();
    let out = sealgate(&[
        "keygen",
        "--out",
        key_dir.to_str().unwrap(),
        "--name",
        "release-ci",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cert = localhost_certificate(
        &mounted("/etc/sealgate/tls/tls.crt"),
        &mounted("/etc/sealgate/tls/tls.key"),
    );
    let config_path = mounted("/etc/sealgate/config/serve.toml");
    std::fs::write(&config_path, local).unwrap();

    // The pull secret, where the Deployment mounts it.
    std::fs::copy(
        registry.docker_config(),
        mounted("/etc/sealgate/registry/config.json"),
    )
    .unwrap();

    // The release CI pushes the image, attests it and attaches the bundle
    // beside it; an image pushed without an attestation is denied.
    let image_digest = registry.push_image("acme/churn-serving:1.4", "k8s");
    let unattested = registry.push_image("acme/churn-serving:1.5", "k8s-unattested");
    let out = registry.sealgate(
        &root.path().join("ci-store"),
        &[
            "attest",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            metadata_describing(root.path(), "churn-model", &image_digest)
                .to_str()
                .unwrap(),
            "--digest",
            &image_digest.to_string(),
            "--key",
            key_dir.join("release-ci.key").to_str().unwrap(),
            "--out",
            root.path().join("churn-serving.intoto.jsonl").to_str().unwrap(),
            "--push",
            &registry.reference(&format!("acme/churn-serving@{}", image_digest.prefixed())),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The test registry's CA (a real one's is in the system roots).
    let server = Server::start_with(&config_path, &[("SEALGATE_REGISTRY_CA", registry.ca())]);
    let client = agent_trusting(&cert);
    let base = format!("https://localhost:{}", server.port());
    for probe in ["readinessProbe", "livenessProbe"] {
        let path = container[probe]["httpGet"]["path"].as_str().unwrap();
        assert_eq!(get(&agent(), &server.health_url(path)).0, 200, "{probe}");
    }
    let workload = |image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "churn"},
               "spec": {"template": {"spec": {"containers": [{"name": "model", "image": image}]}}}})
    };
    let path = target["path"].as_str().unwrap();
    for (image, admitted) in [
        (
            format!("{}/acme/churn-serving@sha256:{image_digest}", registry.addr),
            true,
        ),
        (
            format!("{}/acme/churn-serving@sha256:{unattested}", registry.addr),
            false,
        ),
        (format!("{}/acme/churn-serving:1.4", registry.addr), false),
    ] {
        let (status, answer) = post(
            &client,
            &format!("{base}{path}"),
            &review("k8s", "apps", "Deployment", "CREATE", workload(&image)),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["response"]["allowed"], admitted, "{image}: {answer}");
    }
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn api_tokens_guard_check_attest_and_verify_and_rotate_on_sighup() {
    let setup = Setup::new();
    let digest_line = |token: &str| format!("{}  -\n", sealgate::Sha256Digest::of_bytes(token.as_bytes()));
    std::fs::write(
        setup.path("tokens.sha256"),
        format!("# release CI\n{}", digest_line("ci-token-1")),
    )
    .unwrap();
    let server = Server::start(&setup.config(
        &["ml-release.toml"],
        "[auth]\ntoken-sha256-file = \"tokens.sha256\"",
    ));
    let agent = agent();
    let body = check_body("ml-release", "churn-model");
    let call = |path: &str, authorization: Option<&str>| {
        let mut request = agent
            .post(&server.url(path))
            .header("content-type", "application/json");
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        let mut response = request.send(body.as_bytes()).unwrap();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let answer: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        (response.status().as_u16(), answer, challenge)
    };
    for path in ["/v1/check", "/v1/attest", "/v1/verify"] {
        for authorization in [
            None,
            Some("Bearer wrong"),
            Some("Basic Y2ktdG9rZW4tMQ=="),
            Some("ci-token-1"),
        ] {
            let (status, answer, challenge) = call(path, authorization);
            assert_eq!(status, 401, "{path} {authorization:?}: {answer}");
            assert_eq!(answer["error"]["code"], "unauthorized");
            assert_eq!(challenge.as_deref(), Some("Bearer"));
        }
    }
    let (status, answer, _) = call("/v1/check", Some("Bearer ci-token-1"));
    assert_eq!(
        (status, answer["decision"].as_str()),
        (200, Some("PASSED")),
        "{answer}"
    );
    // Admission (the API server calls it), health and metrics need no token.
    let (status, _) = post(
        &agent,
        &server.url("/v1/admission"),
        &review("t", "", "Pod", "DELETE", Value::Null),
    );
    assert_eq!(status, 200);
    assert_eq!(get(&agent, &server.url("/healthz")).0, 200);
    assert_eq!(get(&agent, &server.url("/metrics")).0, 200);

    // Rotation: the new token works and the old one stops, without a restart.
    std::fs::write(setup.path("tokens.sha256"), digest_line("ci-token-2")).unwrap();
    server.signal("HUP");
    server.wait_for("generation 2");
    assert_eq!(call("/v1/check", Some("Bearer ci-token-1")).0, 401);
    assert_eq!(call("/v1/check", Some("Bearer ci-token-2")).0, 200);

    // A token file the server cannot use is refused at start, naming the line.
    std::fs::write(setup.path("tokens.sha256"), "# none yet\nci-token-3\n").unwrap();
    let out = sealgate(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        setup.path("serve.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("tokens.sha256 line 2: not a SHA-256 digest"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_shipped_local_configuration_serves_as_documented() {
    // examples/serve/serve.toml names paths relative to itself: mirror the
    // repository's layout (examples/, target/serve) in a directory.
    let root = tempfile::tempdir().unwrap();
    let r = |rel: &str| root.path().join(rel);
    for dir in [
        "examples/serve",
        "examples/gates",
        "examples/pipeline",
        "target/serve/attestations",
    ] {
        std::fs::create_dir_all(r(dir)).unwrap();
    }
    for file in ["serve.toml", "trust.toml"] {
        std::fs::copy(
            repo(&format!("examples/serve/{file}")),
            r(&format!("examples/serve/{file}")),
        )
        .unwrap();
    }
    example_gate(&r("examples/gates"));
    gate_with_suite_builds(
        &repo("examples/pipeline/staging.toml"),
        &r("examples/pipeline"),
        4,
    );
    // The two commands its header gives before `sealgate serve`.
    let out = sealgate_in(
        root.path(),
        &["keygen", "--out", "target/serve", "--name", "server"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let server = Server::start(&r("examples/serve/serve.toml"));
    let agent = agent();
    let (_, ready) = get(&agent, &server.url("/readyz"));
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["gates"], json!(["ml-release", "staging-promotion"]));
    assert_eq!(
        (ready["attest"].as_bool(), ready["admission"].as_bool()),
        (Some(true), Some(true))
    );
    let request = attest_body(
        "staging-promotion",
        "churn-model",
        "model.skops",
        &"ab".repeat(32),
    );
    let (status, attested) = post(&agent, &server.url("/v1/attest"), &request);
    assert_eq!(
        (status, attested["decision"].as_str()),
        (200, Some("PASSED")),
        "{attested}"
    );
    let (_, verdict) = post(
        &agent,
        &server.url("/v1/verify"),
        &json!({"bundle": attested["bundle"], "artifact_sha256": "ab".repeat(32)}),
    );
    assert_eq!(verdict["decision"], "accepted", "{verdict}");
    assert_eq!(server.stop().code(), Some(0));
    assert!(r("target/serve/decisions.jsonl").is_file());
}

#[test]
fn a_policy_that_sleeps_cannot_hold_the_evaluation_slots() {
    // Before: `std::thread::sleep` in a WASI policy waited on a real timer, so
    // eight such requests held every slot forever (503 for all checks) while
    // the probes stayed green. Now sleeps cost no real time.
    let setup = Setup::new();
    let g = &guests().wasi_probe;
    std::fs::write(
        setup.path("sleeper.toml"),
        format!(
            "api-version = \"sealgate/v1\"\nname = \"sleeper\"\n[limits]\ntimeout-ms = 1000\n[[policies]]\nmodule = {:?}\nsha256 = \"{}\"\nparams = {{ \"sleep-ms\" = 3600000, in = \"evaluate\", forever = true }}\n",
            g.path.display().to_string(),
            g.sha256
        ),
    )
    .unwrap();
    let server = Server::start(&setup.config(&["ml-release.toml", "sleeper.toml"], ""));
    let agent = agent();
    let started = Instant::now();
    let sleepers: Vec<_> = (0..8)
        .map(|_| {
            let (agent, url) = (agent.clone(), server.url("/v1/check"));
            std::thread::spawn(move || {
                post_raw(
                    &agent,
                    &url,
                    "application/json",
                    check_body("sleeper", "churn-model").as_bytes(),
                )
            })
        })
        .collect();
    for h in sleepers {
        let (status, report) = h.join().unwrap();
        assert_eq!(
            (status, report["decision"].as_str()),
            (200, Some("FAILED")),
            "{report}"
        );
        assert_eq!(report["policies"][0]["outcome"], "error");
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_passed(post_raw(
        &agent,
        &server.url("/v1/check"),
        "application/json",
        check_body("ml-release", "churn-model").as_bytes(),
    ));
    let (status, ready) = get(&agent, &server.url("/readyz"));
    assert_eq!(status, 200, "{ready}");
    assert!(ready.contains(r#""evaluation-slots""#), "{ready}");
}

#[test]
fn answers_are_compact_and_cannot_be_amplified_by_evidence() {
    let setup = Setup::new();
    let server = InProcess::new(&setup.config(&["ml-release.toml"], ""));
    // A nested `/evidence` used to be echoed into the report, pretty-printed:
    // a 3.9 MB request gave a 240 MB answer. Now it is refused.
    let mut metadata: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("examples/metadata/churn-model.json")).unwrap())
            .unwrap();
    let mut nested = json!("deep");
    for _ in 0..40 {
        nested = json!([nested, 1, 2, 3]);
    }
    metadata["evidence"] = json!([{"path": "x", "sha256": "0".repeat(64), "tool": nested}]);
    let (status, answer) = server.post("/v1/check", &json!({"gate": "ml-release", "metadata": metadata}));
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/evidence/0/tool"),
        "{answer}"
    );
    // A good answer is one line of compact JSON.
    let (_, text) = server.post_text("/v1/check", check_body("ml-release", "churn-model").as_bytes());
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
    assert!(!text.contains("\n  "), "pretty-printed");
}

#[test]
fn a_client_that_never_reads_is_cut_off_after_the_write_timeout() {
    let setup = Setup::new();
    // A gate whose report is about 900 KB.
    let big = setup.hostile_gate("big", "huge-verdict", "");
    let text = std::fs::read_to_string(setup.path(&big)).unwrap();
    std::fs::write(
        setup.path(&big),
        text.replace("mode = \"huge-verdict\"", "mode = \"huge-verdict\", n = 900000"),
    )
    .unwrap();
    let server = Server::start(&setup.config(
        &["ml-release.toml", &big],
        "[limits]\nwrite-timeout = \"1s\"\nrequest-timeout = \"30s\"",
    ));
    let body = check_body("big", "churn-model");
    let request = format!(
        "POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Forty pipelined requests (~36 MB of answers), and not a byte read:
    // far more than the socket buffers hold.
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    for _ in 0..40 {
        if socket.write_all(request.as_bytes()).is_err() {
            break; // the server may already have closed it
        }
    }
    std::thread::sleep(Duration::from_secs(6));
    let started = Instant::now();
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut received = Vec::new();
    let _ = socket.read_to_end(&mut received);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the connection stayed open"
    );
    assert!(
        received.len() < 20 << 20,
        "{} bytes delivered: the answers were all kept for a client that did not read",
        received.len()
    );
    assert_eq!(get(&agent(), &server.url("/healthz")).0, 200);
}

#[test]
fn probes_answer_on_their_own_listener_while_the_api_is_flooded() {
    let setup = Setup::new();
    let config = setup.config(
        &["ml-release.toml"],
        "[limits]\nmax-connections = 16\nheader-timeout = \"30s\"",
    );
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("health-listen = \"127.0.0.1:0\"\n{text}")).unwrap();
    let server = Server::start(&config);
    // Take every API connection with clients that send nothing.
    let flood: Vec<_> = (0..40)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let quick = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .new_agent();
    // The API's own /healthz waits behind the flood…
    assert!(quick.get(&server.url("/healthz")).call().is_err());
    // …the health listener answers at once.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let started = Instant::now();
        let (status, _) = get(&quick, &server.health_url(path));
        let took = started.elapsed();
        assert_eq!(status, 200, "{path}");
        assert!(took < Duration::from_secs(1), "{path} took {took:?}");
    }
    // It serves nothing else.
    assert_eq!(get(&quick, &server.health_url("/v1/check")).0, 404);
    drop(flood);
}

#[test]
fn admission_reviews_are_bounded_in_images_and_log_entries() {
    let setup = Setup::new();
    let server = InProcess::new(&setup.config(&["ml-release.toml"], ""));
    // Before: a 4 MB review of distinct images wrote 36 000 fsync'd log
    // entries. Now more than 64 distinct images is a denial before any work.
    let images: Vec<String> = (0..5000)
        .map(|i| {
            format!(
                "ghcr.io/acme/i{i}@sha256:{}",
                sealgate::Sha256Digest::of_bytes(format!("{i}").as_bytes())
            )
        })
        .collect();
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    let started = Instant::now();
    let (status, answer) = server.post(
        "/v1/admission",
        &review("many", "", "Pod", "CREATE", pod(&images)),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response"]["allowed"], false);
    assert!(
        answer["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 64 distinct images"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let log = std::fs::read_to_string(setup.path("decisions.jsonl")).unwrap_or_default();
    assert_eq!(
        log.lines().count(),
        0,
        "nothing was checked, so nothing was logged"
    );
}
