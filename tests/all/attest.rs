//! Signed attestations: the known answer, interop with openssl, every
//! verification check attacked, and the whole flow through the CLI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use sealgate::{EvaluationContext, Gate, GateReport, MetadataDocument, MetadataLimits, Sha256Digest};
use sealgate_attest::dsse::{Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE, pae};
use sealgate_attest::{AttestationInputs, RequiredPolicy, TrustPolicy, TrustedKey, verify_bundle};
use serde_json::Value;

use crate::support::*;

const KAT: &str = "fixtures/dsse-kat";
/// 2026-11-26T18:58:35Z: when the example gate "ran" in these tests.
const EVALUATED_AT: i64 = 1_795_719_515;

fn at(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix as u64)
}

/// A private key file copied with mode 0600 (the fixture is read-only 0444,
/// which our loader rightly refuses).
fn private_copy(src: &Path, dir: &Path) -> PathBuf {
    let dst = dir.join("priv.pem");
    std::fs::write(&dst, std::fs::read(src).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dst
}

#[test]
fn known_answer_signature_is_reproduced_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let key =
        sealgate_attest::load_signing_key(&private_copy(&shared(&format!("{KAT}/priv.pem")), dir.path()))
            .unwrap();
    let payload = std::fs::read(shared(&format!("{KAT}/payload.json"))).unwrap();
    assert_eq!(payload.len(), 814);
    let expected: Envelope =
        serde_json::from_slice(&std::fs::read(shared(&format!("{KAT}/envelope.json"))).unwrap()).unwrap();
    let ours = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, &payload, &key);
    assert_eq!(ours.signatures[0].sig, expected.signatures[0].sig);
    assert_eq!(ours.payload, expected.payload);
    assert_eq!(
        ours.signatures[0].keyid,
        "74c181c7ad8a0855d4b55e44d2ba87aabdddb196832571f15f92fece332e4916"
    );
    let public = sealgate_attest::load_verifying_key(&shared(&format!("{KAT}/pub.pem"))).unwrap();
    assert_eq!(sealgate_attest::key_id(&public), expected.signatures[0].keyid);
}

#[test]
fn known_answer_envelope_verifies_through_the_cli() {
    let out = sealgate(&[
        "verify",
        "--bundle",
        shared(&format!("{KAT}/envelope.json")).to_str().unwrap(),
        "--artifact",
        shared(&format!("{KAT}/model.bin")).to_str().unwrap(),
        "--key",
        shared(&format!("{KAT}/pub.pem")).to_str().unwrap(),
        "--verifier-id",
        "https://example.com/ml-gate/v1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("ACCEPTED"), "{}", stdout(&out));
}

#[test]
fn readable_fixture_private_key_is_refused() {
    // The fixture is mode 0444: readable by others.
    let err = sealgate_attest::load_signing_key(&shared(&format!("{KAT}/priv.pem"))).unwrap_err();
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

/// The example gate's report on the clean (PASSED) or PII (FAILED) model,
/// evaluated once per test run at [`EVALUATED_AT`].
fn example_report(pii: bool) -> &'static (GateReport, sealgate::GateConfig) {
    static CLEAN: OnceLock<(GateReport, sealgate::GateConfig)> = OnceLock::new();
    static PII: OnceLock<(GateReport, sealgate::GateConfig)> = OnceLock::new();
    let cell = if pii { &PII } else { &CLEAN };
    cell.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let gate = Gate::load(engine(), &example_gate(dir.path())).unwrap();
        let name = if pii { "churn-model-pii" } else { "churn-model" };
        let meta = MetadataDocument::load(
            &repo(&format!("examples/metadata/{name}.json")),
            &MetadataLimits::default(),
        )
        .unwrap();
        let mut ctx = EvaluationContext::at(gate.name(), EVALUATED_AT);
        ctx.artifact_digest = Some(artifact());
        (gate.evaluate(&meta, &ctx), gate.config().clone())
    })
}

/// The subject: the clean model's real `model.skops` digest.
fn artifact() -> Sha256Digest {
    "631bad177267272b20cf98269ca44cd773add1d7b8226a2659c2ed9ba1b9c6ad"
        .parse()
        .unwrap()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn trust(keys: &[&SigningKey]) -> TrustPolicy {
    TrustPolicy::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| TrustedKey {
                name: format!("key{i}"),
                key: k.verifying_key(),
            })
            .collect(),
    )
}

fn bundle(pii: bool, signer: &SigningKey) -> String {
    let (report, config) = example_report(pii);
    sealgate_attest::attest(
        report,
        &AttestationInputs {
            subject_name: "model.skops",
            subject_digest: artifact(),
            verifier_id: sealgate_attest::DEFAULT_VERIFIER_ID,
            resource_uri: "models:/churn-model/1",
            gate: config,
            input_attestations: &[],
        },
        signer,
    )
}

fn lines(bundle: &str) -> Vec<Envelope> {
    bundle.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn join(envelopes: &[Envelope]) -> String {
    envelopes
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect()
}

fn statement(e: &Envelope) -> Value {
    serde_json::from_slice(&STANDARD.decode(&e.payload).unwrap()).unwrap()
}

/// Re-sign line `i` after editing its statement: the signature stays valid,
/// so a later check must catch the edit. An edited verdict (line 0) gets its
/// report re-bound to it, as a signer who wrote both would.
fn edit(bundle: &str, i: usize, signer: &SigningKey, f: impl FnOnce(&mut Value)) -> String {
    let mut envs = lines(bundle);
    let mut s = statement(&envs[i]);
    f(&mut s);
    let payload = serde_json::to_vec(&s).unwrap();
    envs[i] = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, &payload, signer);
    if i == 0 && envs.len() > 1 {
        let mut report = statement(&envs[1]);
        rebind(&mut report, &s, &payload);
        envs[1] = Envelope::sign(
            IN_TOTO_PAYLOAD_TYPE,
            &serde_json::to_vec(&report).unwrap(),
            signer,
        );
    }
    join(&envs)
}

/// Make `report` the report of the verdict `vsa` (whose signed bytes are
/// `vsa_payload`): what `attest` writes when it signs both.
fn rebind(report: &mut Value, vsa: &Value, vsa_payload: &[u8]) {
    let set = |report: &mut Value, at: &str, value: Option<&Value>| match value {
        Some(v) => *report.pointer_mut(at).unwrap() = v.clone(),
        None => {
            let (parent, key) = at.rsplit_once('/').unwrap();
            report
                .pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(key);
        }
    };
    let p = &vsa["predicate"];
    report["subject"] = vsa["subject"].clone();
    set(report, "/predicate/gate/uri", p.pointer("/policy/uri"));
    set(
        report,
        "/predicate/gate/policyDigest/sha256",
        p.pointer("/policy/digest/sha256"),
    );
    set(report, "/predicate/evaluatedAt", p.get("timeVerified"));
    set(report, "/predicate/report/decision", p.get("verificationResult"));
    report["predicate"]["verdict"]["digest"]["sha256"] =
        Sha256Digest::of_bytes(vsa_payload).to_string().into();
}

/// `sealgate.pii`, as the module the suite built from `policies/pii`.
fn pii_required() -> RequiredPolicy {
    RequiredPolicy::new("sealgate.pii", vec![guests().pii.sha256])
}

fn rejected_by(bundle: &str, trust: &TrustPolicy, now: SystemTime) -> &'static str {
    match verify_bundle(bundle.as_bytes(), &artifact(), trust, now) {
        Ok(_) => panic!("accepted a bundle that should be rejected"),
        Err(r) => r.check.name(),
    }
}

fn now() -> SystemTime {
    at(EVALUATED_AT + 60)
}

#[test]
fn a_genuine_bundle_is_accepted_with_every_requirement() {
    let k = key(1);
    let b = bundle(false, &k);
    let mut t = trust(&[&k]);
    t.required_policies = vec![pii_required()];
    t.max_age = Some(Duration::from_secs(3600));
    t.allowed_policy_digests = vec![sealgate_attest::policy_digest(&example_report(false).1)];
    t.resource_uri = Some("models:/churn-model/1".into());
    t.gate = Some(example_report(false).1.name.clone());
    let v = verify_bundle(b.as_bytes(), &artifact(), &t, now()).unwrap();
    assert_eq!(v.signer(), "key0");
    assert!(
        v.checks().iter().all(|c| c.status == "passed"),
        "{:#?}",
        v.checks()
    );
    // The statements are standard: strict parsers see only the v1 fields.
    let envs = lines(&b);
    assert_eq!(envs.len(), 2);
    for e in &envs {
        let s = statement(e);
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["_type", "predicate", "predicateType", "subject"]);
        assert_eq!(e.payload_type, IN_TOTO_PAYLOAD_TYPE);
    }
    let vsa = statement(&envs[0]);
    assert_eq!(vsa["predicate"]["verificationResult"], "PASSED");
    assert_eq!(vsa["predicate"]["verifiedLevels"][0], "SEALGATE_ML_RELEASE");
    assert_eq!(vsa["predicate"]["timeVerified"], "2026-11-26T18:58:35Z");
    assert_eq!(vsa["predicate"]["policy"]["uri"], "urn:sealgate:gate:ml-release");
    let report = statement(&envs[1]);
    assert_eq!(
        report["predicate"]["report"]["policies"][0]["module_sha256"],
        guests().pii.sha256.to_string()
    );
}

#[test]
fn tampered_envelopes_fail_the_signature_check() {
    let k = key(1);
    let b = bundle(false, &k);
    let t = trust(&[&k]);

    // Payload bytes changed (one byte of the statement, re-encoded).
    let mut envs = lines(&b);
    let mut payload = STANDARD.decode(&envs[0].payload).unwrap();
    let pos = payload.len() / 2;
    payload[pos] ^= 0x01;
    envs[0].payload = STANDARD.encode(&payload);
    assert_eq!(rejected_by(&join(&envs), &t, now()), "signature");

    // Signature bit-flipped; signature truncated.
    let mut envs = lines(&b);
    let mut sig = STANDARD.decode(&envs[0].signatures[0].sig).unwrap();
    sig[10] ^= 0x80;
    envs[0].signatures[0].sig = STANDARD.encode(&sig);
    assert_eq!(rejected_by(&join(&envs), &t, now()), "signature");
    let mut envs = lines(&b);
    envs[0].signatures[0].sig = STANDARD.encode(&sig[..40]);
    assert_eq!(rejected_by(&join(&envs), &t, now()), "signature");

    // Verified with another key; signed by a key trusted for nothing.
    assert_eq!(rejected_by(&b, &trust(&[&key(2)]), now()), "signature");
    assert_eq!(rejected_by(&bundle(false, &key(3)), &t, now()), "signature");
}

#[test]
fn changed_payload_type_is_rejected_by_name() {
    let k = key(1);
    let mut envs = lines(&bundle(false, &k));
    let payload = STANDARD.decode(&envs[0].payload).unwrap();
    // Re-signed under the new type, so only the payload-type check can catch it.
    envs[0] = Envelope::sign("application/json", &payload, &k);
    assert_eq!(rejected_by(&join(&envs), &trust(&[&k]), now()), "payload-type");
}

#[test]
fn only_trusted_signatures_count() {
    let (k, other) = (key(1), key(2));
    let b = bundle(false, &k);
    // A second signature by an untrusted key does not hurt...
    let mut envs = lines(&b);
    let extra = Envelope::sign(
        IN_TOTO_PAYLOAD_TYPE,
        &STANDARD.decode(&envs[0].payload).unwrap(),
        &other,
    );
    envs[0].signatures.insert(0, extra.signatures[0].clone());
    let v = verify_bundle(join(&envs).as_bytes(), &artifact(), &trust(&[&k]), now()).unwrap();
    assert_eq!(v.signer(), "key0");
    // ...and does not help: with only the untrusted one left, it is rejected,
    // even when its keyid hint names the trusted key.
    envs[0].signatures.remove(1);
    envs[0].signatures[0].keyid = sealgate_attest::key_id(&k.verifying_key());
    assert_eq!(rejected_by(&join(&envs), &trust(&[&k]), now()), "signature");
}

#[test]
fn url_safe_base64_is_accepted() {
    let k = key(1);
    let mut envs = lines(&bundle(false, &k));
    for e in &mut envs {
        e.payload = URL_SAFE_NO_PAD.encode(STANDARD.decode(&e.payload).unwrap());
        for s in &mut e.signatures {
            *s = EnvelopeSignature {
                keyid: String::new(),
                sig: URL_SAFE_NO_PAD.encode(STANDARD.decode(&s.sig).unwrap()),
            };
        }
    }
    let mut t = trust(&[&k]);
    t.required_policies = vec![pii_required()];
    verify_bundle(join(&envs).as_bytes(), &artifact(), &t, now()).unwrap();
}

#[test]
fn statement_level_attacks_are_rejected_by_the_right_check() {
    let k = key(1);
    let b = bundle(false, &k);
    let t = trust(&[&k]);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: [(&str, Edit); 5] = [
        (
            "statement-type",
            Box::new(|s| s["_type"] = "https://in-toto.io/Statement/v0.1".into()),
        ),
        (
            "subject",
            Box::new(|s| s["subject"][0]["digest"]["sha256"] = "00".repeat(32).into()),
        ),
        (
            "predicate-type",
            Box::new(|s| s["predicateType"] = "https://slsa.dev/provenance/v1".into()),
        ),
        (
            "verifier-id",
            Box::new(|s| s["predicate"]["verifier"]["id"] = "https://evil.example/verifier".into()),
        ),
        (
            "result",
            Box::new(|s| s["predicate"]["verificationResult"] = "FAILED".into()),
        ),
    ];
    for (check, f) in cases {
        assert_eq!(rejected_by(&edit(&b, 0, &k, f), &t, now()), check);
    }
    // The artifact is another one.
    let other: Sha256Digest = Sha256Digest::of_bytes(b"another model");
    let r = verify_bundle(b.as_bytes(), &other, &t, now()).unwrap_err();
    assert_eq!(r.check, "subject");
    assert!(r.reason.contains(&other.to_string()), "{}", r.reason);
}

#[test]
fn a_signed_document_with_two_readings_is_rejected_before_any_field_is_read() {
    // Signed by the trusted key, yet ambiguous: serde_json keeps the last
    // member (PASSED), in-toto-attestation's parser refuses, another reader
    // may keep the first (FAILED). One reading or none.
    let k = key(1);
    let t = trust(&[&k]);
    let genuine = bundle(false, &k);
    let mut envs = lines(&genuine);
    let payload = String::from_utf8(STANDARD.decode(&envs[0].payload).unwrap()).unwrap();
    assert!(payload.contains(r#""verificationResult":"PASSED""#), "{payload}");
    let sha = artifact().to_string();
    for ambiguous in [
        payload.replace(
            r#""verificationResult":"PASSED""#,
            r#""verificationResult":"FAILED","verificationResult":"PASSED""#,
        ),
        payload.replace(
            &format!(r#""sha256":"{sha}""#),
            &format!(r#""sha256":"{}","sha256":"{sha}""#, "0".repeat(64)),
        ),
        payload.replacen('{', r#"{"n":9007199254740993,"#, 1),
    ] {
        assert_ne!(ambiguous, payload);
        envs[0] = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, ambiguous.as_bytes(), &k);
        let r = verify_bundle(join(&envs).as_bytes(), &artifact(), &t, now()).unwrap_err();
        assert_eq!(r.check, "bundle", "{}", r.reason);
        assert!(r.reason.contains("more than one reading"), "{}", r.reason);
    }
    // A duplicated member in the envelope itself.
    let line = genuine.lines().next().unwrap();
    let doubled = line.replacen(
        r#""payloadType":"#,
        r#""payloadType":"text/plain","payloadType":"#,
        1,
    );
    assert_ne!(doubled, line);
    let r = verify_bundle(format!("{doubled}\n").as_bytes(), &artifact(), &t, now()).unwrap_err();
    assert_eq!(r.check, "bundle");
    assert!(
        r.reason.contains("envelope has more than one reading"),
        "{}",
        r.reason
    );
}

/// `envelope` with `extra` signatures by other keys put before its own.
fn with_foreign_signatures(mut envelope: Envelope, extra: usize) -> Envelope {
    let message = pae(
        &envelope.payload_type,
        &STANDARD.decode(&envelope.payload).unwrap(),
    );
    let mut sigs: Vec<EnvelopeSignature> = (0..extra)
        .map(|i| {
            let other = key(100 + (i % 100) as u8);
            EnvelopeSignature {
                keyid: String::new(),
                sig: STANDARD.encode(ed25519_dalek::Signer::sign(&other, &message).to_bytes()),
            }
        })
        .collect();
    sigs.append(&mut envelope.signatures);
    envelope.signatures = sigs;
    envelope
}

#[test]
fn hostile_bundles_are_bounded_before_any_signature_is_checked() {
    use sealgate_attest::verify::{MAX_ENVELOPES_PER_BUNDLE, MAX_SIGNATURES_PER_ENVELOPE};
    let k = key(1);
    let t = trust(&[&k]);
    let envs = lines(&bundle(false, &k));

    // One envelope with 100 000 untrusted signatures: refused by counting.
    let mut flood = envs[0].clone();
    let junk = EnvelopeSignature {
        keyid: String::new(),
        sig: STANDARD.encode([7u8; 64]),
    };
    flood.signatures = vec![junk; 100_000];
    let started = std::time::Instant::now();
    let r = verify_bundle(join(&[flood]).as_bytes(), &artifact(), &t, now()).unwrap_err();
    assert_eq!(r.check, "bundle");
    assert!(
        r.reason
            .contains("100000 signatures; an envelope carries at most 8"),
        "{}",
        r.reason
    );
    let flood_took = started.elapsed();
    assert!(flood_took < Duration::from_secs(5), "{flood_took:?}");
    eprintln!("an 11 MB envelope of 100 000 untrusted signatures refused in {flood_took:?}");

    // Too many envelopes.
    let many: Vec<Envelope> = (0..=MAX_ENVELOPES_PER_BUNDLE)
        .map(|i| envs[i.min(1)].clone())
        .collect();
    // Statements of other types (signed by the same key) are carried, not
    // read: the most a genuine bundle can hold is the verdict, its report
    // and 14 of them.
    let carried = |i: usize| {
        let s = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "model.skops", "digest": {"sha256": artifact().to_string()}}],
            "predicateType": "https://example.com/other/v1",
            "predicate": {"n": i},
        });
        Envelope::sign(IN_TOTO_PAYLOAD_TYPE, &serde_json::to_vec(&s).unwrap(), &k)
    };
    let r = verify_bundle(join(&many).as_bytes(), &artifact(), &t, now()).unwrap_err();
    assert_eq!(r.check, "bundle");
    assert!(r.reason.contains("a bundle holds at most 16"), "{}", r.reason);

    // At the caps, the worst case a genuine bundle can be made to cost: every
    // envelope full, the trusted signature last in each. It still verifies.
    let worst: Vec<Envelope> = (0..MAX_ENVELOPES_PER_BUNDLE)
        .map(|i| if i < 2 { envs[i].clone() } else { carried(i) })
        .map(|e| with_foreign_signatures(e, MAX_SIGNATURES_PER_ENVELOPE - 1))
        .collect();
    let worst = join(&worst);
    let started = std::time::Instant::now();
    let runs = 20;
    for _ in 0..runs {
        let v = verify_bundle(worst.as_bytes(), &artifact(), &t, now()).unwrap();
        assert!(
            v.checks()
                .iter()
                .any(|c| c.detail.contains("14 statement(s) of other types not read"))
        );
    }
    eprintln!(
        "verify at the caps ({MAX_ENVELOPES_PER_BUNDLE} envelopes x {MAX_SIGNATURES_PER_ENVELOPE} signatures, trusted one last): {:?} per bundle",
        started.elapsed() / runs
    );
}

#[test]
fn the_order_of_trusted_keys_never_changes_the_decision() {
    // The verdict signed by A and C, the report by C alone: C signed every
    // line, so the bundle verifies, whichever key is listed first.
    let (a, c) = (key(1), key(3));
    let envs = lines(&bundle(false, &c));
    let mut verdict = envs[0].clone();
    let message = pae(&verdict.payload_type, &STANDARD.decode(&verdict.payload).unwrap());
    verdict.signatures.insert(
        0,
        EnvelopeSignature {
            keyid: String::new(),
            sig: STANDARD.encode(ed25519_dalek::Signer::sign(&a, &message).to_bytes()),
        },
    );
    let mixed = join(&[verdict, envs[1].clone()]);
    for keys in [[&a, &c], [&c, &a]] {
        let accepted = verify_bundle(mixed.as_bytes(), &artifact(), &trust(&keys), now())
            .unwrap_or_else(|r| panic!("rejected at {}: {}", r.check, r.reason));
        let name = if std::ptr::eq(keys[0], &c) { "key0" } else { "key1" };
        assert_eq!(accepted.signer(), name, "C, wherever it is listed");
    }
    // A alone signed only the verdict: rejected whatever else is trusted.
    assert_eq!(rejected_by(&mixed, &trust(&[&a]), now()), "signature");
}

#[test]
fn added_requirements_only_tighten_a_trust_policy() {
    use sealgate_attest::trust::Tightening;
    let k = key(1);
    let b = bundle(false, &k);
    let ten_days_on = at(EVALUATED_AT + 10 * 86_400);
    let day = Duration::from_secs(86_400);
    // The file says 7 days; a caller asking for 30 cannot make a ten-day-old
    // bundle acceptable (before: the flag replaced the file's limit).
    let mut t = trust(&[&k]);
    t.max_age = Some(7 * day);
    let mut extra = Tightening::default();
    extra.max_age = Some(30 * day);
    t.tighten(&extra).unwrap();
    assert_eq!(t.max_age, Some(7 * day));
    assert_eq!(rejected_by(&b, &t, ten_days_on), "age");
    // Asking for less does tighten.
    let mut t = trust(&[&k]);
    t.max_age = Some(30 * day);
    extra.max_age = Some(7 * day);
    t.tighten(&extra).unwrap();
    assert_eq!(rejected_by(&b, &t, ten_days_on), "age");

    // Digests: the intersection; none in common is an error, not a pass.
    let genuine = sealgate_attest::policy_digest(&example_report(false).1);
    let other = Sha256Digest::of_bytes(b"another gate");
    let mut t = trust(&[&k]);
    t.allowed_policy_digests = vec![genuine];
    let mut extra = Tightening::default();
    extra.allowed_policy_digests = vec![other];
    assert!(t.tighten(&extra).unwrap_err().contains("no bundle could verify"));
    let mut t = trust(&[&k]);
    t.allowed_policy_digests = vec![genuine, other];
    extra.allowed_policy_digests = vec![other];
    t.tighten(&extra).unwrap();
    assert_eq!(rejected_by(&b, &t, now()), "policy-digest");

    // Verifier ids must all match; required policies add up.
    let mut t = trust(&[&k]);
    let mut extra = Tightening::default();
    extra.verifier_id = Some("https://other.example/verifier".into());
    assert!(t.tighten(&extra).unwrap_err().contains("conflicts"));
    let mut extra = Tightening::default();
    let lineage = RequiredPolicy::new("sealgate.lineage", vec![guests().lineage.sha256]);
    extra.required_policies = vec![pii_required(), pii_required()];
    t.required_policies = vec![lineage.clone()];
    t.tighten(&extra).unwrap();
    assert_eq!(t.required_policies, [lineage, pii_required()]);

    // For an id both name, only the modules both accept: a flag naming a
    // module the file does not trust cannot add it, and none in common is
    // an error.
    let (real, forged) = (guests().pii.sha256, guests().impostor.sha256);
    let mut t = trust(&[&k]);
    t.required_policies = vec![RequiredPolicy::new("sealgate.pii", vec![real])];
    let mut extra = Tightening::default();
    extra.required_policies = vec![RequiredPolicy::new("sealgate.pii", vec![real, forged])];
    t.tighten(&extra).unwrap();
    assert_eq!(t.required_policies[0].modules, [real]);
    extra.required_policies = vec![RequiredPolicy::new("sealgate.pii", vec![forged])];
    assert!(
        t.tighten(&extra)
            .unwrap_err()
            .contains("no module of required policy `sealgate.pii`")
    );
    // A bare id beside the file's pinned one keeps the pin.
    let mut t = trust(&[&k]);
    t.required_policies = vec![pii_required()];
    extra.required_policies = vec!["sealgate.pii".parse().unwrap()];
    t.tighten(&extra).unwrap();
    assert_eq!(t.required_policies, [pii_required()]);
}

#[test]
fn a_failed_gate_is_attested_and_rejected() {
    let k = key(1);
    let b = bundle(true, &k);
    assert_eq!(
        statement(&lines(&b)[0])["predicate"]["verifiedLevels"],
        serde_json::json!(["FAILED"])
    );
    assert_eq!(rejected_by(&b, &trust(&[&k]), now()), "result");
}

#[test]
fn policy_digest_must_be_allowed_when_required() {
    let k = key(1);
    let mut t = trust(&[&k]);
    t.allowed_policy_digests = vec![Sha256Digest::of_bytes(b"some other gate")];
    assert_eq!(rejected_by(&bundle(false, &k), &t, now()), "policy-digest");
}

#[test]
fn expired_and_future_dated_attestations_are_rejected() {
    let k = key(1);
    let b = bundle(false, &k);
    let mut t = trust(&[&k]);
    t.max_age = Some(Duration::from_secs(7 * 86_400));
    assert_eq!(rejected_by(&b, &t, at(EVALUATED_AT + 8 * 86_400)), "age");
    // Evaluated an hour "after" now: beyond the 5-minute skew.
    assert_eq!(rejected_by(&b, &t, at(EVALUATED_AT - 3600)), "age");
    // Within the skew is fine.
    verify_bundle(b.as_bytes(), &artifact(), &t, at(EVALUATED_AT - 60)).unwrap();
}

#[test]
fn required_policies_must_be_in_a_matching_report() {
    let (k, other) = (key(1), key(2));
    let b = bundle(false, &k);
    let mut t = trust(&[&k, &other]);
    t.required_policies = vec![pii_required()];

    let mut missing = t.clone();
    missing.required_policies.push(RequiredPolicy::new(
        "acme.model-card",
        vec![Sha256Digest::of_bytes(b"card")],
    ));
    let r = verify_bundle(b.as_bytes(), &artifact(), &missing, now()).unwrap_err();
    assert_eq!(
        (r.check.name(), r.reason.as_str()),
        (
            "required-policies",
            "required policy `acme.model-card` did not run"
        )
    );

    let failed = edit(&b, 1, &k, |s| {
        s["predicate"]["report"]["policies"][0]["outcome"] = "fail".into()
    });
    assert_eq!(rejected_by(&failed, &t, now()), "required-policies");

    // The report signed by another (also trusted) key than the verdict: the
    // bundle is rejected whole, at the signature check.
    let other_signer = edit(&b, 1, &other, |_| {});
    let r = verify_bundle(other_signer.as_bytes(), &artifact(), &t, now()).unwrap_err();
    assert_eq!(r.check, "signature");
    assert!(
        r.reason.contains("line 2: no valid signature by `key0`"),
        "{}",
        r.reason
    );
    // So is a report altered after signing, even when no policy is required.
    let mut tampered: Vec<Envelope> = lines(&b);
    tampered[1].payload = STANDARD.encode(b"{\"_type\":\"forged\"}");
    let mut lenient = t.clone();
    lenient.required_policies.clear();
    let r = verify_bundle(join(&tampered).as_bytes(), &artifact(), &lenient, now()).unwrap_err();
    assert_eq!(r.check, "signature", "{}", r.reason);

    // A report about another subject is not this verdict's.
    let other_subject = edit(&b, 1, &k, |s| {
        s["subject"][0]["digest"]["sha256"] = "11".repeat(32).into()
    });
    assert_eq!(rejected_by(&other_subject, &lenient, now()), "binding");

    let verdict_only = join(&lines(&b)[..1]);
    assert_eq!(rejected_by(&verdict_only, &t, now()), "required-policies");
    verify_bundle(verdict_only.as_bytes(), &artifact(), &lenient, now()).unwrap();
}

/// The example gate's policies from `names` only, as a gate named `name`.
fn subset_gate(dir: &Path, name: &str, names: &[&str]) -> PathBuf {
    let full = std::fs::read_to_string(example_gate(dir)).unwrap();
    let mut kept = format!("api-version = \"sealgate/v1\"\nname = \"{name}\"\nfail-on = \"high\"\n");
    for block in full.split("[[policies]]").skip(1) {
        if names.iter().any(|n| block.contains(&format!("{n}.wasm"))) {
            kept.push_str("[[policies]]");
            kept.push_str(block);
        }
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, kept).unwrap();
    path
}

/// Evaluate `gate` on `examples/metadata/{metadata}.json` at EVALUATED_AT and
/// sign it for the suite's artifact with `resource`.
fn run_and_sign(gate: &Path, metadata: &str, resource: &str, signer: &SigningKey) -> (GateReport, String) {
    let gate = Gate::load(engine(), gate).unwrap();
    let meta = MetadataDocument::load(
        &repo(&format!("examples/metadata/{metadata}.json")),
        &MetadataLimits::default(),
    )
    .unwrap();
    let mut ctx = EvaluationContext::at(gate.name(), EVALUATED_AT);
    ctx.artifact_digest = Some(artifact());
    let report = gate.evaluate(&meta, &ctx);
    let bundle = sealgate_attest::attest(
        &report,
        &AttestationInputs {
            subject_name: "model.skops",
            subject_digest: artifact(),
            verifier_id: sealgate_attest::DEFAULT_VERIFIER_ID,
            resource_uri: resource,
            gate: gate.config(),
            input_attestations: &[],
        },
        signer,
    );
    (report, bundle)
}

#[test]
fn lines_of_two_evaluations_never_combine_into_one_decision() {
    // Run L: a lenient gate without the PII policy, PASSED. Run D: the full
    // gate on the drifted model, FAILED, though its PII policy passed. Both
    // genuine, by the same key, at the same second, about the same model.
    let k = key(1);
    let dir = tempfile::tempdir().unwrap();
    let lenient_gate = subset_gate(dir.path(), "lenient", &["lineage", "encryption"]);
    let (l_report, l) = run_and_sign(&lenient_gate, "churn-model-drifted", "models:/churn-model/1", &k);
    let (d_report, d) = run_and_sign(
        &example_gate(dir.path()),
        "churn-model-drifted",
        "models:/churn-model/1",
        &k,
    );
    assert_eq!(l_report.decision, sealgate::GateDecision::Passed);
    assert_eq!(d_report.decision, sealgate::GateDecision::Failed);
    assert!(
        d_report
            .policies
            .iter()
            .any(|p| p.id == "sealgate.pii" && p.outcome == sealgate::PolicyOutcome::Pass)
    );
    let (l, d) = (lines(&l), lines(&d));
    // Requiring PII by its real module, under any gate: the mixed bundle
    // used to verify as "PASSED, and sealgate.pii passed".
    let mut t = trust(&[&k]);
    t.required_policies = vec![pii_required()];
    let no_requirement = trust(&[&k]);
    // A third run of the lenient gate naming another resource: every field
    // the report repeats is the same as L's, only the verdict differs.
    let (_, l2) = run_and_sign(&lenient_gate, "churn-model-drifted", "models:/churn-model/2", &k);
    let l2 = lines(&l2);
    let (_, other) = {
        let (report, config) = example_report(false);
        let mut b = sealgate_attest::attest(
            report,
            &AttestationInputs {
                subject_name: "other.skops",
                subject_digest: Sha256Digest::of_bytes(b"another model"),
                verifier_id: sealgate_attest::DEFAULT_VERIFIER_ID,
                resource_uri: "models:/other/1",
                gate: config,
                input_attestations: &[],
            },
            &k,
        );
        b.truncate(b.find('\n').unwrap() + 1);
        ((), lines(&b))
    };
    let cases: [(&str, Vec<Envelope>, &str, &str); 7] = [
        (
            "L's verdict + D's report",
            vec![l[0].clone(), d[1].clone()],
            "binding",
            "gate",
        ),
        (
            "D's verdict + L's report",
            vec![d[0].clone(), l[1].clone()],
            "binding",
            "gate",
        ),
        (
            "two verdicts",
            vec![l[0].clone(), d[0].clone()],
            "binding",
            "second verdict",
        ),
        (
            "a verdict of another subject beside it",
            vec![l[0].clone(), l[1].clone(), other[0].clone()],
            "binding",
            "second verdict",
        ),
        (
            "a report without its verdict",
            vec![d[1].clone()],
            "predicate-type",
            "gate-report",
        ),
        (
            "two reports of one run",
            vec![l[0].clone(), l[1].clone(), l[1].clone()],
            "binding",
            "second report",
        ),
        (
            "the report of a twin run",
            vec![l[0].clone(), l2[1].clone()],
            "binding",
            "another evaluation",
        ),
    ];
    for (what, envs, check, says) in cases {
        let mixed = join(&envs);
        for t in [&t, &no_requirement] {
            let r = verify_bundle(mixed.as_bytes(), &artifact(), t, now())
                .err()
                .unwrap_or_else(|| panic!("{what}: accepted"));
            assert_eq!(r.check, check, "{what}: {}", r.reason);
            assert!(r.reason.contains(says), "{what}: {}", r.reason);
        }
    }
    // Each run alone verifies (L without the PII requirement, D not at all:
    // it FAILED).
    verify_bundle(join(&l).as_bytes(), &artifact(), &no_requirement, now()).unwrap();
    assert_eq!(rejected_by(&join(&l), &t, now()), "required-policies");
    assert_eq!(rejected_by(&join(&d), &t, now()), "result");
}

#[test]
fn a_required_policy_is_trusted_by_its_module_not_by_the_id_it_gives_itself() {
    // The impostor calls itself `sealgate.pii` and passes everything: a gate
    // running it PASSES the model with personal data.
    let k = key(1);
    let dir = tempfile::tempdir().unwrap();
    let g = &guests().impostor;
    let gate = write_gate(dir.path(), &g.path, &g.sha256, "{}", "");
    let (report, forged) = run_and_sign(&gate, "churn-model-pii", "models:/churn-model/1", &k);
    assert_eq!(report.decision, sealgate::GateDecision::Passed);
    assert_eq!(report.policies[0].id, "sealgate.pii");

    // By the real module's digest: rejected, naming the module that ran.
    let mut pinned = trust(&[&k]);
    pinned.required_policies = vec![pii_required()];
    let r = verify_bundle(forged.as_bytes(), &artifact(), &pinned, now()).unwrap_err();
    assert_eq!(r.check, "required-policies");
    assert!(r.reason.contains(&g.sha256.to_string()), "{}", r.reason);
    // The genuine gate's bundle passes the same requirement.
    verify_bundle(bundle(false, &k).as_bytes(), &artifact(), &pinned, now()).unwrap();

    // By id alone: refused as a requirement unless the gate is pinned...
    let mut bare = trust(&[&k]);
    bare.required_policies = vec!["sealgate.pii".parse().unwrap()];
    assert!(
        bare.check_requirements()
            .unwrap_err()
            .contains("names no module digest")
    );
    // ...and verify fails closed if a policy built in code skips that check.
    assert_eq!(rejected_by(&forged, &bare, now()), "required-policies");
    // With the genuine gate pinned, the id is enough: the impostor's gate
    // has another digest, and the genuine gate's bundle verifies.
    bare.allowed_policy_digests = vec![sealgate_attest::policy_digest(&example_report(false).1)];
    bare.check_requirements().unwrap();
    assert_eq!(rejected_by(&forged, &bare, now()), "policy-digest");
    verify_bundle(bundle(false, &k).as_bytes(), &artifact(), &bare, now()).unwrap();

    // The real module and the impostor in one gate, both `sealgate.pii`:
    // every result under the id must come from an accepted module.
    let p = &guests().pii;
    let two = dir.path().join("two.toml");
    std::fs::write(
        &two,
        format!(
            "api-version = \"sealgate/v1\"\nname = \"two\"\n\
             [[policies]]\nmodule = {:?}\nsha256 = \"{}\"\n\
             [[policies]]\nmodule = {:?}\nsha256 = \"{}\"\n",
            p.path.display().to_string(),
            p.sha256,
            g.path.display().to_string(),
            g.sha256
        ),
    )
    .unwrap();
    let (_, both) = run_and_sign(&two, "churn-model", "models:/churn-model/1", &k);
    let r = verify_bundle(both.as_bytes(), &artifact(), &pinned, now()).unwrap_err();
    assert_eq!(r.check, "required-policies");
    assert!(r.reason.contains(&g.sha256.to_string()), "{}", r.reason);

    // The flag's syntax: ID, or ID=sha256:HEX[,sha256:HEX].
    let parsed: RequiredPolicy = format!("sealgate.pii={},{}", p.sha256.prefixed(), g.sha256.prefixed())
        .parse()
        .unwrap();
    assert_eq!(parsed.modules, [p.sha256, g.sha256]);
    assert_eq!(parsed.to_string().parse::<RequiredPolicy>().unwrap(), parsed);
    for bad in ["sealgate.pii=sha256:00", "=sha256:00", "", "sealgate.pii="] {
        assert!(bad.parse::<RequiredPolicy>().is_err(), "{bad:?} parsed");
    }
}

#[test]
fn malformed_bundles_fail_the_bundle_check() {
    let k = key(1);
    let b = bundle(false, &k);
    let mut t = trust(&[&k]);
    for bad in [
        b[..b.len() / 2].to_owned(),
        "garbage\n".to_owned(),
        String::new(),
        format!("\u{feff}{b}"),
        b.replacen('\n', "\n\n", 1),
    ] {
        assert_eq!(
            rejected_by(&bad, &t, now()),
            "bundle",
            "{:?}",
            &bad[..bad.len().min(40)]
        );
    }
    t.max_bundle_bytes = 1000;
    let r = verify_bundle(b.as_bytes(), &artifact(), &t, now()).unwrap_err();
    assert!(
        r.check == "bundle" && r.reason.contains("larger than the 1000-byte limit"),
        "{}",
        r.reason
    );
}

#[test]
fn openssl_verifies_our_signature_over_the_pae() {
    let dir = tempfile::tempdir().unwrap();
    let key = sealgate_attest::generate(dir.path(), "k").unwrap();
    let signing = sealgate_attest::load_signing_key(&key.private_key).unwrap();
    let env = &lines(&bundle(false, &signing))[0];
    let pae_path = dir.path().join("pae.bin");
    let sig_path = dir.path().join("sig.bin");
    std::fs::write(
        &pae_path,
        pae(&env.payload_type, &STANDARD.decode(&env.payload).unwrap()),
    )
    .unwrap();
    std::fs::write(&sig_path, STANDARD.decode(&env.signatures[0].sig).unwrap()).unwrap();
    let openssl = |sig: &Path| {
        Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(&key.public_key)
            .arg("-rawin")
            .arg("-in")
            .arg(&pae_path)
            .arg("-sigfile")
            .arg(sig)
            .output()
            .expect("openssl is installed")
    };
    let ok = openssl(&sig_path);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Signature Verified Successfully"));
    // And openssl is not just saying yes.
    let mut sig = std::fs::read(&sig_path).unwrap();
    sig[0] ^= 1;
    std::fs::write(&sig_path, &sig).unwrap();
    assert!(!openssl(&sig_path).status.success());
}

#[test]
fn our_private_keys_are_read_by_openssl_and_pyca_and_sign_alike() {
    // Before: keygen wrote PKCS#8 v2 (RFC 5958, public key inside), which
    // `openssl pkey` and pyca/cryptography refuse, so a key could not move to
    // openssl, a KMS import, cosign or Python.
    let dir = tempfile::tempdir().unwrap();
    let key = sealgate_attest::generate(dir.path(), "k").unwrap();
    let read = Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&key.private_key)
        .output()
        .expect("openssl is installed");
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));

    // openssl signs the PAE with our key file: Ed25519 is deterministic, so
    // its signature is ours byte for byte.
    let signing = sealgate_attest::load_signing_key(&key.private_key).unwrap();
    let env = &lines(&bundle(false, &signing))[0];
    let pae_path = dir.path().join("pae.bin");
    std::fs::write(
        &pae_path,
        pae(&env.payload_type, &STANDARD.decode(&env.payload).unwrap()),
    )
    .unwrap();
    let sig_path = dir.path().join("openssl.sig");
    let signed = Command::new("openssl")
        .args(["pkeyutl", "-sign", "-rawin", "-inkey"])
        .arg(&key.private_key)
        .arg("-in")
        .arg(&pae_path)
        .arg("-out")
        .arg(&sig_path)
        .output()
        .unwrap();
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    assert_eq!(
        std::fs::read(&sig_path).unwrap(),
        STANDARD.decode(&env.signatures[0].sig).unwrap()
    );

    // pyca/cryptography loads the private key and gives the same signature.
    let script = "import sys\n\
from cryptography.hazmat.primitives.serialization import load_pem_private_key\n\
key = load_pem_private_key(open(sys.argv[1], 'rb').read(), None)\n\
sys.stdout.write(key.sign(open(sys.argv[2], 'rb').read()).hex())\n";
    match Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
    {
        Ok(o) if o.status.success() => {
            let out = Command::new("python3")
                .args(["-c", script])
                .arg(&key.private_key)
                .arg(&pae_path)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                hex_of(&STANDARD.decode(&env.signatures[0].sig).unwrap())
            );
        }
        _ => eprintln!("skipped the pyca/cryptography part: python3 with `cryptography` is not installed"),
    }

    // The public key is for sharing (0644); the private key stays 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&key.private_key), mode(&key.public_key)), (0o600, 0o644));
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn pkcs8_v2_keys_with_the_public_key_inside_still_load() {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let v2 = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    let path = dir.path().join("v2.key");
    std::fs::write(&path, v2.as_bytes()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let loaded = sealgate_attest::load_signing_key(&path).unwrap();
    assert_eq!(loaded.to_bytes(), key.to_bytes());
}

#[test]
fn openssl_generated_keys_work_with_attest_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("ossl.pem");
    let public = dir.path().join("ossl.pub");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl is installed");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        private.to_str().unwrap(),
    ]);
    run(&[
        "pkey",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let artifact = model_file(dir.path(), "churn-model");
    let gate = example_gate(dir.path());
    let out = sealgate(&[
        "attest",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        repo("examples/metadata/churn-model.json").to_str().unwrap(),
        "--artifact",
        artifact.to_str().unwrap(),
        "--key",
        private.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bundle = dir.path().join("churn-model.skops.intoto.jsonl");
    let out = sealgate(&[
        "verify",
        "--bundle",
        bundle.to_str().unwrap(),
        "--artifact",
        artifact.to_str().unwrap(),
        "--key",
        public.to_str().unwrap(),
        "--require-policy",
        &format!("sealgate.pii={}", guests().pii.sha256.prefixed()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn end_to_end_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_str().unwrap().to_owned();
    let out = sealgate(&["keygen", "--out", &d("keys"), "--name", "ci"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("key id"), "{}", stdout(&out));
    // keygen refuses to overwrite.
    let again = sealgate(&["keygen", "--out", &d("keys"), "--name", "ci"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("refusing to overwrite"),
        "{}",
        stderr(&again)
    );

    let gate = example_gate(dir.path());
    let model = |name: &str| {
        // The real model files from the MLflow store.
        let id = if name == "churn-model" {
            "m-adc4bb85122d4bb8865ef4a378276603"
        } else {
            "m-b418c6a56775426ea86364aa6121a6b2"
        };
        let src = shared(&format!(
            "fixtures/real/mlflow3-mlruns/358768659074516099/models/{id}/artifacts/model.skops"
        ));
        let dst = dir.path().join(format!("{name}.skops"));
        std::fs::copy(src, &dst).unwrap();
        dst
    };
    let attest = |name: &str, artifact: &Path| {
        sealgate(&[
            "attest",
            "--gate",
            gate.to_str().unwrap(),
            "--metadata",
            repo(&format!("examples/metadata/{name}.json")).to_str().unwrap(),
            "--artifact",
            artifact.to_str().unwrap(),
            "--key",
            &d("keys/ci.key"),
        ])
    };
    let pii_pinned = format!("sealgate.pii={}", guests().pii.sha256.prefixed());
    let verify_requiring = |artifact: &Path, requirement: &[&str]| {
        let bundle = format!("{}.intoto.jsonl", artifact.display());
        let mut args = vec![
            "verify",
            "--bundle",
            &bundle,
            "--artifact",
            artifact.to_str().unwrap(),
        ];
        let public = d("keys/ci.pub");
        args.extend(["--key", &public, "--max-age", "1h", "--format", "json"]);
        args.extend_from_slice(requirement);
        sealgate(&args)
    };
    let verify = |artifact: &Path| verify_requiring(artifact, &["--require-policy", &pii_pinned]);

    // The failing example: exit 1, and still a signed FAILED bundle.
    let pii = model("churn-model-pii");
    let out = attest("churn-model-pii", &pii);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = verify(&pii);
    assert_eq!(out.status.code(), Some(1));
    let decision: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["decision"], "rejected");
    assert_eq!(decision["failed_check"], "result");

    // The passing example: accepted.
    let clean = model("churn-model");
    let out = attest("churn-model", &clean);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = verify(&clean);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let decision: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["decision"], "accepted");
    assert_eq!(
        decision["checks"].as_array().unwrap().len(),
        sealgate_attest::verify::CHECKS.len()
    );
    // The id alone is what any component may call itself: refused (exit 2)
    // unless the gate is pinned, with which it verifies.
    let bare = verify_requiring(&clean, &["--require-policy", "sealgate.pii"]);
    assert_eq!(bare.status.code(), Some(2), "{}", stdout(&bare));
    assert!(
        stderr(&bare).contains("names no module digest"),
        "{}",
        stderr(&bare)
    );
    let gate_digest = sealgate_attest::policy_digest(&sealgate::GateConfig::load(&gate).unwrap()).prefixed();
    let pinned_gate = verify_requiring(
        &clean,
        &[
            "--require-policy",
            "sealgate.pii",
            "--policy-digest",
            &gate_digest,
        ],
    );
    assert_eq!(pinned_gate.status.code(), Some(0), "{}", stdout(&pinned_gate));
    let garbled = verify_requiring(&clean, &["--require-policy", "sealgate.pii=sha256:12"]);
    assert_eq!(garbled.status.code(), Some(2));
    assert!(
        stderr(&garbled).contains("not a sha256 digest"),
        "{}",
        stderr(&garbled)
    );

    // One byte of the model changed: rejected.
    let mut bytes = std::fs::read(&clean).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&clean, bytes).unwrap();
    let out = verify(&clean);
    assert_eq!(out.status.code(), Some(1));
    let decision: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["failed_check"], "subject");
}

#[test]
fn attest_refuses_a_readable_key_before_evaluating() {
    let dir = tempfile::tempdir().unwrap();
    let g = sealgate_attest::generate(dir.path(), "k").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&g.private_key, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let out = sealgate(&[
        "attest",
        "--gate",
        example_gate(dir.path()).to_str().unwrap(),
        "--metadata",
        repo("examples/metadata/churn-model.json").to_str().unwrap(),
        "--digest",
        &artifact().prefixed(),
        "--key",
        g.private_key.to_str().unwrap(),
        "--out",
        dir.path().join("b.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    assert!(!dir.path().join("b.jsonl").exists(), "no bundle may be written");
}

#[test]
fn trust_file_carries_keys_and_requirements() {
    let dir = tempfile::tempdir().unwrap();
    let g = sealgate_attest::generate(&dir.path().join("keys"), "release-ci").unwrap();
    let signing = sealgate_attest::load_signing_key(&g.private_key).unwrap();
    let bundle_path = dir.path().join("model.intoto.jsonl");
    std::fs::write(&bundle_path, bundle(false, &signing)).unwrap();
    let digest = sealgate_attest::policy_digest(&example_report(false).1);
    let write_trust = |extra: &str| {
        let p = dir.path().join("trust.toml");
        std::fs::write(
            &p,
            format!(
                "api-version = \"sealgate/trust/v1\"\n{extra}\n\
                 [[keys]]\nname = \"release-ci\"\npublic-key = \"keys/release-ci.pub\"\n\
                 [required-policies]\n\"sealgate.pii\" = [\"{}\"]\n",
                guests().pii.sha256.prefixed()
            ),
        )
        .unwrap();
        p
    };
    let digest_arg = artifact().prefixed();
    let verify_with = |trust: &Path, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--bundle",
            bundle_path.to_str().unwrap(),
            "--digest",
            &digest_arg,
            "--trust",
            trust.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        sealgate(&args)
    };
    let verify = |trust: &Path| verify_with(trust, &["--format", "json"]);
    // The bundle was made "at" EVALUATED_AT, in the past of the real clock,
    // so only a generous max-age accepts it.
    let ok = verify(&write_trust(&format!(
        "policy-digests = [\"{}\"]\nmax-age = \"36500d\"",
        digest.prefixed()
    )));
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    let decision: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(decision["signer"], "release-ci");

    let stale = verify(&write_trust("max-age = \"1h\""));
    assert_eq!(stale.status.code(), Some(1));
    assert_eq!(
        serde_json::from_slice::<Value>(&stale.stdout).unwrap()["failed_check"],
        "age"
    );

    // Flags beside the file only tighten it: a longer --max-age does not
    // rescue a bundle older than the file allows, and extra keys are refused.
    let stale_file = write_trust("max-age = \"1h\"");
    let flagged = verify_with(&stale_file, &["--max-age", "36500d", "--format", "json"]);
    assert_eq!(flagged.status.code(), Some(1), "{}", stderr(&flagged));
    assert_eq!(
        serde_json::from_slice::<Value>(&flagged.stdout).unwrap()["failed_check"],
        "age"
    );
    let more_keys = verify_with(&stale_file, &["--key", g.public_key.to_str().unwrap()]);
    assert_eq!(more_keys.status.code(), Some(2));
    assert!(
        stderr(&more_keys).contains("--key beside --trust"),
        "{}",
        stderr(&more_keys)
    );

    let typo = verify(&write_trust("max-agee = \"1h\""));
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("max-agee"), "{}", stderr(&typo));
    // The list of bare ids of earlier versions is refused, saying why and
    // what to write instead.
    let listed = dir.path().join("listed.toml");
    std::fs::write(
        &listed,
        "api-version = \"sealgate/trust/v1\"\nrequired-policies = [\"sealgate.pii\"]\n\
         [[keys]]\nname = \"release-ci\"\npublic-key = \"keys/release-ci.pub\"\n",
    )
    .unwrap();
    let out = verify(&listed);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("\"sealgate.pii\" = [\"sha256:<module>\"]"),
        "{}",
        stderr(&out)
    );
    // A bare id in the table, without a pinned gate: refused at load.
    let bare = dir.path().join("bare.toml");
    std::fs::write(
        &bare,
        "api-version = \"sealgate/trust/v1\"\n[required-policies]\n\"sealgate.pii\" = []\n\
         [[keys]]\nname = \"release-ci\"\npublic-key = \"keys/release-ci.pub\"\n",
    )
    .unwrap();
    let out = verify(&bare);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("names no module digest"),
        "{}",
        stderr(&out)
    );
    // A module the file does not accept, asked by a flag: nothing could
    // verify, so a usage error.
    let ok_file = write_trust(&format!("policy-digests = [\"{}\"]", digest.prefixed()));
    let forged = format!("sealgate.pii={}", guests().impostor.sha256.prefixed());
    let out = verify_with(&ok_file, &["--require-policy", &forged]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no module of required policy"),
        "{}",
        stderr(&out)
    );
}

/// Seeds for the `bundle` fuzz target: genuine bundles by its corpus key,
/// so mutations reach the signature and statement checks. Run by hand:
/// `cargo test --test all write_fuzz_bundle_seeds -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/bundle; run by hand"]
fn write_fuzz_bundle_seeds() {
    let dir = repo("fuzz/corpus/bundle");
    std::fs::create_dir_all(&dir).unwrap();
    let key = crate::fuzz_corpus::harness::corpus_key();
    std::fs::write(dir.join("seed-passed.intoto.jsonl"), bundle(false, &key)).unwrap();
    std::fs::write(dir.join("seed-failed.intoto.jsonl"), bundle(true, &key)).unwrap();
}

/// What DSSE authenticates in a bundle: per line, the payload type, the
/// payload bytes and the signature bytes. `keyid`, the base64 alphabet and
/// JSON spacing are not covered by the signature.
fn authenticated(bundle: &[u8]) -> Vec<(String, Vec<u8>, Vec<Vec<u8>>)> {
    std::str::from_utf8(bundle)
        .unwrap()
        .lines()
        .map(|l| {
            let e: Envelope = serde_json::from_str(l).unwrap();
            let sigs = e
                .signatures
                .iter()
                .map(|s| sealgate_attest::dsse::decode_base64(&s.sig).unwrap())
                .collect();
            (
                e.payload_type,
                sealgate_attest::dsse::decode_base64(&e.payload).unwrap(),
                sigs,
            )
        })
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

    /// Flip, insert or delete any byte of a genuine bundle: the verifier
    /// rejects it, unless the change is one DSSE allows (then what it
    /// authenticates is unchanged).
    #[test]
    fn any_mutation_of_a_bundle_is_rejected_unless_dsse_allows_it(
        at in proptest::prelude::any::<proptest::sample::Index>(),
        op in 0u8..3,
        byte in proptest::prelude::any::<u8>(),
    ) {
        static GENUINE: OnceLock<String> = OnceLock::new();
        let k = key(1);
        let genuine = GENUINE.get_or_init(|| bundle(false, &k));
        let t = trust(&[&k]);
        let mut b = genuine.as_bytes().to_vec();
        let i = at.index(b.len());
        match op {
            0 => b[i] ^= byte.max(1),
            1 => b.insert(i, byte),
            _ => {
                b.remove(i);
            }
        }
        if verify_bundle(&b, &artifact(), &t, now()).is_ok() {
            proptest::prop_assert_eq!(authenticated(&b), authenticated(genuine.as_bytes()));
        }
    }
}

#[test]
fn the_gate_digests_in_the_docs_are_the_shipped_gates() {
    let out = sealgate(&["gate", "digest", "examples/gates/ml-release.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let digest = stdout(&out).trim().to_owned();
    let config = sealgate::GateConfig::load(&repo("examples/gates/ml-release.toml")).unwrap();
    assert_eq!(digest, sealgate_attest::policy_digest(&config).prefixed());
    // Every gate digest docs/attestations.md quotes: in the verify
    // transcript, the trust file and the `gate digest` example.
    let doc = std::fs::read_to_string(repo("docs/attestations.md")).unwrap();
    let quoted: Vec<&str> = doc
        .lines()
        .filter(|l| l.contains("policy-digest") || l.starts_with("sha256:"))
        .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':')))
        .filter(|w| w.starts_with("sha256:") && w.len() == 71)
        .collect();
    assert!(quoted.len() >= 3, "{quoted:?}");
    for q in quoted {
        assert_eq!(
            q, digest,
            "docs/attestations.md quotes a gate digest the shipped gate does not have"
        );
    }
    // A missing gate is an input error naming it.
    let missing = sealgate(&["gate", "digest", "no-such-gate.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no-such-gate.toml"));
}

#[test]
fn verify_can_ask_for_the_resource_and_the_gate_level_the_vsa_spec_names() {
    let k = key(1);
    let b = bundle(false, &k);
    let gate = example_report(false).1.name.clone();
    let mut t = trust(&[&k]);
    t.resource_uri = Some("models:/churn-model/1".into());
    t.gate = Some(gate.clone());
    let ok = verify_bundle(b.as_bytes(), &artifact(), &t, now())
        .unwrap_or_else(|r| panic!("rejected at {}: {}", r.check, r.reason));
    let status = |check: &str| {
        ok.checks()
            .iter()
            .find(|c| c.check == check)
            .map(|c| c.status.name())
            .unwrap()
    };
    assert_eq!((status("resource-uri"), status("level")), ("passed", "passed"));

    let mut other_uri = t.clone();
    other_uri.resource_uri = Some("models:/churn-model/2".into());
    assert_eq!(rejected_by(&b, &other_uri, now()), "resource-uri");
    let mut other_gate = t.clone();
    other_gate.gate = Some("staging-promotion".into());
    assert_eq!(rejected_by(&b, &other_gate, now()), "level");
    // A verdict re-signed with another resource is caught too.
    let moved = edit(&b, 0, &k, |s| {
        s["predicate"]["resourceUri"] = "models:/other/1".into()
    });
    assert_eq!(rejected_by(&moved, &t, now()), "resource-uri");
    // Not asked: skipped, and the bundle verifies.
    let plain = verify_bundle(b.as_bytes(), &artifact(), &trust(&[&k]), now()).unwrap();
    assert!(
        plain
            .checks()
            .iter()
            .any(|c| c.check == "level" && c.status == "skipped")
    );
}

#[test]
fn forms_the_specs_allow_are_accepted_unless_a_requirement_needs_them() {
    let k = key(1);
    let b = bundle(false, &k);
    // in-toto v1: a subject needs only its digest; `name` may be unset.
    let nameless = edit(&b, 0, &k, |s| {
        s["subject"][0].as_object_mut().unwrap().remove("name");
    });
    verify_bundle(nameless.as_bytes(), &artifact(), &trust(&[&k]), now())
        .unwrap_or_else(|r| panic!("rejected at {}: {}", r.check, r.reason));
    // SLSA VSA v1: `timeVerified` is optional. Without it there is no age to
    // check: accepted when no max-age is asked for, rejected when one is.
    let timeless = edit(&b, 0, &k, |s| {
        s["predicate"].as_object_mut().unwrap().remove("timeVerified");
    });
    let v = verify_bundle(timeless.as_bytes(), &artifact(), &trust(&[&k]), now()).unwrap();
    assert!(
        v.checks()
            .iter()
            .any(|c| c.check == "age" && c.status == "skipped")
    );
    let mut t = trust(&[&k]);
    t.max_age = Some(Duration::from_secs(3600));
    assert_eq!(rejected_by(&timeless, &t, now()), "age");
    // A subject without a digest is still no subject of this artifact.
    let digestless = edit(&b, 0, &k, |s| {
        s["subject"][0].as_object_mut().unwrap().remove("digest");
    });
    assert_eq!(rejected_by(&digestless, &trust(&[&k]), now()), "statement-type");
}

#[test]
fn metadata_of_another_artifact_is_never_signed() {
    // The clean model's metadata (it names sha256:631bad…) beside the PII
    // model's file: a PASSED verdict for the wrong bytes, with the clean
    // model's resourceUri. Refused before anything is evaluated or signed.
    let dir = tempfile::tempdir().unwrap();
    let g = sealgate_attest::generate(&dir.path().join("keys"), "ci").unwrap();
    let gate = example_gate(dir.path());
    let other = model_file(dir.path(), "churn-model-pii");
    let other_digest = Sha256Digest::of_bytes(&std::fs::read(&other).unwrap());
    let bundle = dir.path().join("b.intoto.jsonl");
    let metadata = clean_metadata();
    let run = |command: &str, subject: [&str; 2]| {
        let mut args = vec![command, "--gate", gate.to_str().unwrap(), "--metadata"];
        args.push(metadata.to_str().unwrap());
        args.extend(subject);
        if command == "attest" {
            args.extend([
                "--key",
                g.private_key.to_str().unwrap(),
                "--out",
                bundle.to_str().unwrap(),
            ]);
        }
        sealgate(&args)
    };
    let digest_arg = other_digest.prefixed();
    for (command, subject) in [
        ("attest", ["--artifact", other.to_str().unwrap()]),
        ("attest", ["--digest", digest_arg.as_str()]),
        ("check", ["--artifact-digest", digest_arg.as_str()]),
    ] {
        let out = run(command, subject);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command} {subject:?}: {err}");
        assert!(
            err.contains(&artifact().to_string()) && err.contains(&other_digest.to_string()),
            "names both digests: {err}"
        );
        assert!(err.contains("/artifact/digest/sha256"), "{err}");
        assert!(!bundle.exists(), "nothing may be signed");
    }
    // The file it describes is attested, with its resourceUri.
    let clean = model_file(dir.path(), "churn-model");
    let out = run("attest", ["--artifact", clean.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let vsa = statement(&lines(&std::fs::read_to_string(&bundle).unwrap())[0]);
    assert_eq!(vsa["subject"][0]["digest"]["sha256"], artifact().to_string());
    assert_eq!(vsa["predicate"]["resourceUri"], "models:/churn-model/1");
    // Metadata that names no digest (an image's, a hand-written one)
    // describes whatever it is evaluated for.
    let mut doc: Value = serde_json::from_slice(&std::fs::read(clean_metadata()).unwrap()).unwrap();
    doc["artifact"].as_object_mut().unwrap().remove("digest");
    let undigested = dir.path().join("undigested.json");
    std::fs::write(&undigested, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = sealgate(&[
        "check",
        "--gate",
        gate.to_str().unwrap(),
        "--metadata",
        undigested.to_str().unwrap(),
        "--artifact-digest",
        &digest_arg,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A bundle, its verification answer and a decision log written by the
/// binary from before the code was restructured (tests/fixtures/compat):
/// the same answer now, byte for byte but the age.
#[test]
fn what_was_written_before_the_restructuring_verifies_the_same_after() {
    let fixture = |f: &str| format!("tests/fixtures/compat/{f}");
    let out = sealgate_in(
        &repo(""),
        &[
            "verify",
            "--bundle",
            &fixture("churn-model.intoto.jsonl"),
            "--digest",
            "sha256:631bad177267272b20cf98269ca44cd773add1d7b8226a2659c2ed9ba1b9c6ad",
            "--key",
            &fixture("before-restructure.pub"),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let without_age = |text: &str| -> String {
        text.lines()
            .map(|l| {
                if l.trim_start().starts_with("\"detail\": \"verified ") {
                    "      \"detail\": \"verified (age)\","
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = std::fs::read_to_string(repo(&fixture("verify.json"))).unwrap();
    assert_eq!(without_age(&stdout(&out)), without_age(&before));
    let log = sealgate_log::verify(
        &repo(&fixture("decisions.jsonl")),
        &sealgate_log::Expected {
            entries: Some(2),
            head: Some(
                "0406e9e6487516fd88f02a65f03441c9935c48193b0bc3e0d2b88e32c7830f1f"
                    .parse()
                    .unwrap(),
            ),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(log.entries, 2);
}

/// A trust file that breaks several rules is refused with all of them, as a
/// gate file is, so one edit fixes it.
#[test]
fn a_trust_file_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trust.toml");
    std::fs::write(
        &path,
        "api-version = \"sealgate/trust/v1\"\nkeys = []\nmax-age = \"soon\"\nrequired-policies = [\"sealgate.pii\"]\n",
    )
    .unwrap();
    let err = TrustPolicy::load(&path).expect_err("refused").to_string();
    for part in [
        "no [[keys]]",
        "`soon` is not a duration",
        "required-policies is a list of ids",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
}
