//! `sealgate verify`.

use std::io::Write;

use sealgate::Sha256Digest;

use crate::args::VerifyArgs;
use crate::cmd::{artifact_digest, record};
use crate::exit::{CliError, Exit};
use crate::output;
use crate::report;

/// `sealgate verify`.
pub(crate) fn verify(args: &VerifyArgs, out: &mut dyn Write, paint: report::Paint) -> Result<Exit, CliError> {
    // A trust file is the policy and the flags may only tighten it; without
    // one, the flags are the policy. (Extra keys beside a file would loosen
    // it, so they are refused.)
    let mut trust = match &args.trust {
        Some(path) => {
            if !args.keys.is_empty() {
                return Err(CliError::usage(anyhow::anyhow!(
                    "--key beside --trust would trust more keys than {} does; add the key to the trust file",
                    path.display()
                )));
            }
            sealgate_attest::TrustPolicy::load(path)?
        }
        None => {
            let mut trust = sealgate_attest::TrustPolicy::new(Vec::new());
            for path in &args.keys {
                let key = sealgate_attest::load_verifying_key(path)?;
                trust.keys.push(sealgate_attest::TrustedKey {
                    name: path.display().to_string(),
                    key,
                });
            }
            if let Some(id) = &args.verifier_id {
                trust.verifier_id = id.clone();
            }
            trust
        }
    };
    if trust.keys.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no trusted key: give --key PUB or --trust FILE"
        )));
    }
    let mut extra = sealgate_attest::trust::Tightening::default();
    extra.required_policies = args.required_policies.clone();
    extra.allowed_policy_digests = args.policy_digests.clone();
    extra.verifier_id = args.verifier_id.clone();
    extra.resource_uri = args.resource_uri.clone();
    extra.gate = args.expected_gate.clone();
    if let Some(age) = &args.max_age {
        extra.max_age = Some(
            sealgate_attest::trust::parse_duration(age)
                .map_err(|e| CliError::usage(anyhow::anyhow!("--max-age {e}")))?,
        );
    }
    trust
        .tighten(&extra)
        .map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?;
    let digest = artifact_digest(&args.artifact)?;
    let (source, bundle, result) = match (&args.bundle, &args.from) {
        (Some(path), _) => {
            let bundle = sealgate::read_bounded(path, trust.max_bundle_bytes)?;
            let result =
                sealgate_attest::verify_bundle(&bundle, &digest, &trust, std::time::SystemTime::now());
            // A file that is not a bundle at all is bad input (exit 2), like a
            // missing one; a bundle that fails a check is a rejection (exit 1).
            if let Err(r) = &result
                && r.is_malformed_bundle()
            {
                return Err(CliError::usage(anyhow::anyhow!(
                    "{}: not a valid bundle: {}",
                    path.display(),
                    r.reason
                )));
            }
            (path.clone(), bundle, result)
        }
        (None, Some(from)) => from_registry(args, from, &digest, &trust)?,
        (None, None) => {
            return Err(CliError::usage(anyhow::anyhow!(
                "give --bundle FILE or --from OCI_REF"
            )));
        }
    };
    let exit = if result.is_ok() {
        Exit::Passed
    } else {
        Exit::Failed
    };
    output::write_verification(out, args.format, &source, &digest, &result, paint)?;
    record(
        &args.log,
        sealgate_log::Decision::of_verification(
            sealgate_log::LoggedCommand::Verify,
            &digest,
            &Sha256Digest::of_bytes(&bundle),
            trust
                .required_policies
                .iter()
                .flat_map(sealgate_attest::RequiredPolicy::pins),
            result.as_ref().err().map(|r| r.check.name()),
        ),
    )?;
    Ok(exit)
}

/// Where a bundle came from, its bytes, and what verifying it found.
type Checked = (
    std::path::PathBuf,
    Vec<u8>,
    Result<sealgate_attest::VerifiedAttestation, sealgate_attest::Rejection>,
);

/// `--from`: the bundles attached to the image (which must be the artifact
/// named by --digest/--artifact), each verified in full: its referrers, or
/// when it has none, the bundles rebuilt from its cosign `.att` layers
/// (`sealgate::attached_bundles`). The first accepted wins, else the last
/// rejection is the answer. None attached is a rejection.
fn from_registry(
    args: &VerifyArgs,
    from: &str,
    digest: &Sha256Digest,
    trust: &sealgate_attest::TrustPolicy,
) -> Result<Checked, CliError> {
    let image = sealgate::oci::OciReference::parse(from)?;
    let image_digest = image.pinned("verify --from")?;
    if image_digest != *digest {
        return Err(CliError::usage(anyhow::anyhow!(
            "--from names the image sha256:{image_digest}, but the artifact to verify is sha256:{digest}"
        )));
    }
    let settings = crate::cmd::oci_settings(&args.registry)?;
    let found = sealgate::attached_bundles(&settings, &image, args.max_candidates, trust.max_bundle_bytes)?;
    let mut last = None;
    for candidate in found {
        let result =
            sealgate_attest::verify_bundle(&candidate.bundle, digest, trust, std::time::SystemTime::now());
        let accepted = result.is_ok();
        last = Some((
            std::path::PathBuf::from(candidate.reference.to_string()),
            candidate.bundle,
            result,
        ));
        if accepted {
            break;
        }
    }
    last.ok_or_else(|| CliError {
        exit: Exit::Failed,
        error: anyhow::anyhow!("no sealgate attestation is attached to {image}: nothing to accept"),
    })
}
