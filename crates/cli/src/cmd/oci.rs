//! `sealgate policy push|pull`: policies in OCI registries.

use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use sealgate::oci::{OciReference, RegistrySettings, Store};

use crate::args::{PullArgs, PushArgs, RegistryArgs};
use crate::cmd::engine;
use crate::exit::{CliError, Exit};

/// The environment's registry settings, tightened or extended by the flags.
pub(crate) fn settings(args: &RegistryArgs) -> Result<RegistrySettings, CliError> {
    let mut settings = RegistrySettings::from_env()?;
    if let Some(ca) = &args.registry_ca {
        settings = settings.with_ca_file(ca)?;
    }
    if args.registry_timeout == 0 {
        return Err(CliError::usage(anyhow::anyhow!(
            "--registry-timeout must be at least 1 second"
        )));
    }
    settings.timeout = Duration::from_secs(args.registry_timeout);
    Ok(settings)
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
    let pushed = sealgate::oci::push_policy(&settings(&args.registry)?, &target, &bytes, &config, &title)?;
    writeln!(
        out,
        "pushed {} {} as {pushed}\nsha256 = \"{}\"",
        module.info().id,
        module.info().version,
        module.digest()
    )
    .context("cannot write to stdout")?;
    Ok(Exit::Passed)
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
