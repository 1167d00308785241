//! `sealgate policy push|pull`, `sealgate gate push`: policies and gates in
//! OCI registries, signed by their publisher when given a key.

use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use sealgate::oci::{OciReference, RegistrySettings, Store};

use crate::args::{GatePushArgs, PullArgs, PushArgs, RegistryArgs};
use crate::cmd::engine;
use crate::exit::{CliError, Exit};

/// The environment's registry settings, tightened or extended by the flags.
pub(crate) fn settings(args: &RegistryArgs) -> Result<RegistrySettings, CliError> {
    Ok(registry_options(args, None)?.registry_settings()?)
}

/// How registry artifacts are fetched, and whom they must come from. The
/// registry settings (environment, docker `config.json`, the CA file) are
/// read only when something comes from a registry
/// ([`sealgate::RegistryOptions::registry_settings`]): a gate of local
/// files does not depend on them.
pub(crate) fn registry_options(
    args: &RegistryArgs,
    publishers: Option<&std::path::Path>,
) -> Result<sealgate::RegistryOptions, CliError> {
    if args.registry_timeout == 0 {
        return Err(CliError::usage(anyhow::anyhow!(
            "--registry-timeout must be at least 1 second"
        )));
    }
    let mut options = sealgate::RegistryOptions::default();
    options.ca_file = args.registry_ca.clone();
    options.timeout = Some(Duration::from_secs(args.registry_timeout));
    options.publishers = publishers.map(sealgate::Publishers::load).transpose()?;
    Ok(options)
}

/// `sealgate policy push`.
pub(crate) fn policy_push(args: &PushArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let target = OciReference::parse(&args.target)?;
    // Only a component the host loads is pushed as a policy: what it says
    // about itself goes in the artifact's config.
    let engine = engine(&args.engine)?;
    let max = engine.config().max_component_bytes;
    let bytes = sealgate::read_bounded(&args.module, max).map_err(CliError::usage)?;
    let module = engine
        .load_bytes(
            &args.module,
            bytes.clone(),
            &sealgate::Sha256Digest::of_bytes(&bytes),
        )
        .map_err(CliError::usage)?;
    let config = serde_json::json!({
        "component": {"sha256": module.digest().to_string(), "size": bytes.len()},
        "info": module.info(),
    });
    let title = args
        .module
        .file_name()
        .map_or_else(|| "policy.wasm".into(), |n| n.to_string_lossy().into_owned());
    // The key is read before anything is pushed: a bad key pushes nothing.
    let key = args
        .key
        .as_deref()
        .map(sealgate_attest::load_signing_key)
        .transpose()?;
    let settings = settings(&args.registry)?;
    let pushed = sealgate::oci::push_policy(&settings, &target, &bytes, &config, &title)?;
    writeln!(
        out,
        "pushed {} {} as {pushed}\nsha256 = \"{}\"",
        module.info().id,
        module.info().version,
        module.digest()
    )
    .context("cannot write to stdout")?;
    if let Some(key) = key {
        sign(
            &settings,
            &pushed,
            sealgate::oci::media_types::POLICY_ARTIFACT,
            &key,
            out,
        )?;
    }
    Ok(Exit::Passed)
}

/// `sealgate gate push`: the gate file and every file it pins, as one
/// artifact. Only a gate that loads is pushed, and each file is pushed as
/// read after loading only if it is still the one pinned.
pub(crate) fn gate_push(args: &GatePushArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let target = OciReference::parse(&args.target)?;
    let key = args
        .key
        .as_deref()
        .map(sealgate_attest::load_signing_key)
        .transpose()?;
    let settings = settings(&args.registry)?;
    let engine = engine(&args.engine)?;
    let mut options = sealgate::RegistryOptions::default();
    options.settings = Some(settings.clone());
    let gate = sealgate::Gate::load_from(&engine, &sealgate::GateSource::File(args.gate.clone()), &options)?;
    let gate_file =
        sealgate::read_bounded(&args.gate, sealgate::oci::MAX_GATE_FILE_BYTES).map_err(CliError::usage)?;
    if sealgate::GateConfig::from_toml_str(&String::from_utf8_lossy(&gate_file), &args.gate)?
        != *gate.config()
    {
        return Err(CliError::usage(anyhow::anyhow!(
            "{} changed while it was loaded; push again",
            args.gate.display()
        )));
    }
    let max = engine.config().max_component_bytes;
    let mut members = Vec::new();
    for (path, pin) in sealgate::pinned_files(gate.config()) {
        let resolved = sealgate::GateConfig::resolve(&args.gate, std::path::Path::new(&path));
        let bytes = sealgate::read_bounded(&resolved, max).map_err(CliError::usage)?;
        if sealgate::Sha256Digest::of_bytes(&bytes) != pin {
            return Err(CliError::usage(anyhow::anyhow!(
                "{} changed while the gate was loaded (it is no longer sha256:{pin}); push again",
                resolved.display()
            )));
        }
        members.push((path, bytes));
    }
    let pushed = sealgate::oci::push_gate(&settings, &target, gate.name(), &gate_file, &members)?;
    writeln!(
        out,
        "pushed gate {} ({} policies, {} files) as {pushed}\npolicy digest {}",
        gate.name(),
        gate.policies().len(),
        members.len() + 1,
        sealgate_attest::policy_digest(gate.config()).prefixed()
    )
    .context("cannot write to stdout")?;
    if let Some(key) = key {
        sign(
            &settings,
            &pushed,
            sealgate::oci::media_types::GATE_ARTIFACT,
            &key,
            out,
        )?;
    }
    Ok(Exit::Passed)
}

/// Sign `artifact` as its publisher and attach the signature beside it.
fn sign(
    settings: &RegistrySettings,
    artifact: &OciReference,
    artifact_type: &str,
    key: &ed25519_dalek::SigningKey,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let publication = sealgate::Publication {
        repository: format!("{}/{}", artifact.registry(), artifact.repository()),
        manifest: artifact.pinned("a signed artifact")?,
        artifact_type: artifact_type.to_owned(),
    };
    let attached = sealgate::oci::attach_signature(settings, artifact, &publication.sign(key))?;
    writeln!(
        out,
        "signed by key {} ({}, listed by the {})",
        sealgate_attest::key_id(&key.verifying_key()),
        attached.attestation,
        attached.listed_by
    )
    .context("cannot write to stdout")?;
    Ok(())
}

/// `sealgate policy pull`.
pub(crate) fn policy_pull(args: &PullArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let reference = OciReference::parse(&args.reference)?;
    let dir = match args.store.clone().or_else(Store::default_dir) {
        Some(dir) => dir,
        None => {
            return Err(CliError::usage(anyhow::anyhow!(
                "no store: give --store DIR (or set SEALGATE_OCI_STORE or HOME)"
            )));
        }
    };
    let store = Store::open(&dir)?;
    let pulled = sealgate::oci::fetch_policy(&settings(&args.registry)?, &store, &reference)?;
    let info = &pulled.config["info"];
    writeln!(
        out,
        "{} {} {} {}\nsha256 = \"{}\"",
        if pulled.fetched { "pulled" } else { "in the store:" },
        pulled.reference,
        info["id"].as_str().unwrap_or("?"),
        info["version"].as_str().unwrap_or("?"),
        pulled.component_sha256
    )
    .context("cannot write to stdout")?;
    if let Some(path) = &args.out {
        sealgate::write_atomically_readable(path, &pulled.component)
            .with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(out, "wrote {}", path.display()).context("cannot write to stdout")?;
    }
    Ok(Exit::Passed)
}
