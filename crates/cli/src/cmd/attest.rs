//! `sealgate attest`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::args::AttestArgs;
use crate::cmd::{artifact_digest, evaluate, record};
use crate::exit::{CliError, Exit, exit_for};
use crate::output::write_report;
use crate::report;

/// `sealgate attest`.
pub(crate) fn attest(args: &AttestArgs, out: &mut dyn Write, paint: report::Paint) -> Result<Exit, CliError> {
    // Key first: a wrong key must not cost an evaluation.
    let key = sealgate_attest::load_signing_key(&args.key)?;
    let digest = artifact_digest(&args.artifact)?;
    let (gate, metadata, report) = evaluate(&args.gate, Some(digest), args.artifact.artifact.clone())?;
    let meta_name = metadata
        .value()
        .pointer("/artifact/name")
        .and_then(|v| v.as_str())
        .unwrap_or("artifact");
    let file_name = args
        .artifact
        .artifact
        .as_deref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let name = args
        .name
        .clone()
        .or(file_name)
        .unwrap_or_else(|| meta_name.to_owned());
    let resource_uri =
        sealgate_attest::resource_uri_for(args.resource_uri.as_deref(), metadata.artifact_uri(), &name);
    let bundle = sealgate_attest::sign_report(
        &report,
        &sealgate_attest::AttestationInputs {
            subject_name: &name,
            subject_digest: digest,
            verifier_id: &args.verifier_id,
            resource_uri: &resource_uri,
            gate: gate.config(),
            input_attestations: &[],
        },
        &key,
    );
    let path = args.out.clone().unwrap_or_else(|| match &args.artifact.artifact {
        Some(a) => PathBuf::from(format!("{}.intoto.jsonl", a.display())),
        None => PathBuf::from(format!("{name}.intoto.jsonl")),
    });
    sealgate_attest::write_atomically(&path, bundle.text.as_bytes())
        .with_context(|| format!("cannot write the bundle {}", path.display()))?;
    write_report(out, args.gate.format, &report, &metadata, paint)?;
    record(
        &args.gate.log,
        sealgate_log::Decision::of_attestation(sealgate_log::LoggedCommand::Attest, &report, &bundle.sha256),
    )?;
    let decision = if report.decision == sealgate::GateDecision::Passed {
        "PASSED"
    } else {
        "FAILED"
    };
    eprintln!(
        "wrote {} ({decision}, subject {name} sha256:{digest}, signed by key {})",
        path.display(),
        sealgate_attest::key_id(&key.verifying_key())
    );
    if let Some(target) = &args.push {
        push(target, &args.gate.registry, &digest, &bundle)?;
    }
    Ok(exit_for(&report))
}

/// `--push`: attach the bundle to the image it judges, and only to that
/// one: as an OCI 1.1 referrer (what `verify --from` and `serve` read) and
/// in cosign's layout (what cosign and Kyverno read).
fn push(
    target: &str,
    registry: &crate::args::RegistryArgs,
    digest: &sealgate::Sha256Digest,
    bundle: &sealgate_attest::SignedBundle,
) -> Result<(), CliError> {
    let image = sealgate::oci::OciReference::parse(target)?;
    let image_digest = image.pinned("attest --push")?;
    if image_digest != *digest {
        return Err(CliError::usage(anyhow::anyhow!(
            "--push names the image sha256:{image_digest}, but the attestation is for sha256:{digest}: \
             an attestation is attached to the artifact it judges"
        )));
    }
    let settings = crate::cmd::oci_settings(registry)?;
    let attached = sealgate::oci::attach_attestation(&settings, &image, bundle.text.as_bytes())?;
    eprintln!(
        "attached to {image} as {} (listed by the {})",
        attached.attestation, attached.listed_by
    );
    let envelopes: Vec<_> = bundle
        .envelopes()
        .into_iter()
        .map(|(predicate_type, envelope)| sealgate::oci::CosignEnvelope {
            predicate_type,
            envelope,
        })
        .collect();
    let att = sealgate::oci::attach_cosign_attestations(&settings, &image, &envelopes)?;
    eprintln!(
        "and in cosign's layout: tag {} ({} envelopes, manifest {})",
        sealgate::oci::cosign_tag(&image_digest),
        envelopes.len(),
        att.digest().map(|d| d.prefixed()).unwrap_or_default()
    );
    Ok(())
}
