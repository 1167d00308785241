//! One file per command. The flows `check` and `attest` share (read or
//! collect the metadata, load the gate, evaluate, record the decision) are
//! here; writing what a command found is `output.rs`.

use std::path::PathBuf;

use anyhow::Context as _;
use sealgate::{
    CacheStatus, EngineConfig, EvaluationContext, Gate, GateReport, MetadataDocument, MetadataLimits,
    PolicyEngine, Sha256Digest,
};

use crate::args::{ArtifactArgs, DecisionLogArgs, EngineArgs, GateArgs, SourceArgs};
use crate::exit::{CliError, Exit};

mod attest;
mod check;
mod collect;
mod gate;
mod keygen;
mod log;
mod oci;
mod policy;
mod serve;
mod verify;

pub(crate) use attest::attest;
pub(crate) use check::check;
pub(crate) use collect::collect;
pub(crate) use gate::gate_digest;
pub(crate) use keygen::keygen;
pub(crate) use log::log_verify;
pub(crate) use oci::{gate_push, policy_pull, policy_push, registry_options, settings as oci_settings};
pub(crate) use policy::{build, inspect, policy_bench, policy_new, policy_test};
pub(crate) use serve::serve;
pub(crate) use verify::verify;

/// Append `decision` to the log, if one is configured. A decision that
/// cannot be recorded fails the command (exit 2): an audit trail with gaps
/// is not one.
pub(crate) fn record(args: &DecisionLogArgs, decision: sealgate_log::Decision) -> Result<(), CliError> {
    let Some(path) = &args.decision_log else {
        return Ok(());
    };
    sealgate_log::DecisionLog::new(path)
        .append(&decision, std::time::SystemTime::now())
        .map(|_| ())
        .map_err(CliError::from)
}

pub(crate) fn engine_config(args: &EngineArgs) -> EngineConfig {
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(default_cache_dir)
    };
    EngineConfig::default().with_cache_dir(cache_dir)
}

pub(crate) fn engine(args: &EngineArgs) -> Result<PolicyEngine, CliError> {
    PolicyEngine::new(engine_config(args)).map_err(|e| CliError {
        exit: Exit::PolicyError,
        error: e.into(),
    })
}

pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    let env = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("SEALGATE_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("sealgate")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("sealgate")))
}

pub(crate) fn report_cache(verbose: bool, module: &sealgate::PolicyModule) {
    let status = module.cache_status();
    let line = match status {
        CacheStatus::Disabled => return,
        CacheStatus::Hit(p) => format!("cache: hit {}", p.display()),
        CacheStatus::Stored(p) => format!("cache: stored {}", p.display()),
        CacheStatus::Recompiled { path, reason } => {
            format!("cache: recompiled {} ({reason})", path.display())
        }
        // Not being able to cache is worth a word even without -v.
        CacheStatus::Unavailable(why) => format!("warning: precompiled cache not used: {why}"),
    };
    if verbose || matches!(status, CacheStatus::Unavailable(_)) {
        eprintln!("{}: {line}", module.path().display());
    }
}

/// Collect the document and check it as a gate input would be checked.
pub(crate) fn collect_document(
    sources: &SourceArgs,
    artifact: Option<PathBuf>,
) -> Result<MetadataDocument, CliError> {
    let collected = sealgate_collect::collect(&sources.to_sources(artifact)?)?;
    MetadataDocument::from_bytes(
        "<collected>",
        collected.to_json_bytes(),
        &MetadataLimits::default(),
    )
    .context("the collected document is not a valid metadata document")
    .map_err(CliError::from)
}

/// The document a gate evaluates: `--metadata`, or collected from sources.
pub(crate) fn metadata_for(args: &GateArgs, artifact: Option<PathBuf>) -> Result<MetadataDocument, CliError> {
    let has_sources = !args.sources.to_sources(None)?.is_empty();
    match &args.metadata {
        Some(_) if has_sources => Err(CliError::usage(anyhow::anyhow!(
            "give --metadata or sources to collect it from (--dvc, --mlflow, ...), not both"
        ))),
        Some(path) => MetadataDocument::load(path, &MetadataLimits::default()).map_err(CliError::from),
        None if has_sources => collect_document(&args.sources, artifact),
        None => Err(CliError::usage(anyhow::anyhow!(
            "give --metadata META.json, or sources to collect it from (--dvc, --mlflow, --evidently, --storage, --openlineage, --image)"
        ))),
    }
}

/// Load the gate and metadata and evaluate: shared by `check` and `attest`.
pub(crate) fn evaluate(
    args: &GateArgs,
    artifact: Option<Sha256Digest>,
    artifact_file: Option<PathBuf>,
) -> Result<(Gate, MetadataDocument, GateReport), CliError> {
    let evaluated_at_unix = match &args.at {
        None => None,
        Some(t) => Some(sealgate::unix_seconds(t).map_err(|e| CliError::usage(anyhow::anyhow!("--at {e}")))?),
    };
    // Read the metadata first: a bad input should not cost a compile.
    let metadata = metadata_for(args, artifact_file)?;
    if let Some(artifact) = &artifact {
        metadata.check_describes(artifact)?;
    }
    let engine = engine(&args.engine)?;
    let source = sealgate::GateSource::parse(&args.gate)?;
    let gate = Gate::load_from(
        &engine,
        &source,
        &registry_options(&args.registry, args.publishers.as_deref())?,
    )?;
    for p in gate.policies() {
        report_cache(args.engine.verbose, &p.module);
    }
    let context = EvaluationContext::for_run(gate.name(), evaluated_at_unix, artifact);
    let report = gate.evaluate(&metadata, &context);
    Ok((gate, metadata, report))
}

/// The artifact's digest: hashed streaming from the file, or as given.
pub(crate) fn artifact_digest(a: &ArtifactArgs) -> Result<Sha256Digest, CliError> {
    match (&a.artifact, a.digest) {
        (Some(path), _) => {
            let (file, _) = sealgate::open_regular(path)
                .with_context(|| format!("cannot read artifact {}", path.display()))?;
            Sha256Digest::of_reader(std::io::BufReader::new(file))
                .with_context(|| format!("cannot read artifact {}", path.display()))
                .map_err(CliError::from)
        }
        (None, Some(d)) => Ok(d),
        // clap's group makes one of them required.
        (None, None) => Err(CliError::usage(anyhow::anyhow!(
            "give --artifact FILE or --digest sha256:HEX"
        ))),
    }
}
