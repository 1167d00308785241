//! The `sealgate` command line, as a library: each command is a function
//! returning an [`Exit`], so tests can call them directly.
//!
//! Exit codes: 0 passed, 1 failed, 2 usage or input error, 3 policy error
//! (a policy trapped, hit a limit, or its component could not be used).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use sealgate::{
    CacheStatus, EngineConfig, EvaluationContext, Gate, GateError, LoadError, MetadataDocument,
    MetadataLimits, PolicyEngine, Sha256Digest,
};

mod report;

/// sealgate: a compliance gate of sandboxed WebAssembly policies.
#[derive(Debug, Parser)]
#[command(name = "sealgate", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate a gate on an artifact's metadata and report the verdict.
    Check(CheckArgs),
    /// Build and inspect policy components.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Build a Rust policy crate into a component and print its sha256 pin.
    Build(BuildArgs),
    /// Show a component's id, version, params schema, sha256, imports and exports.
    Inspect(InspectArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For machines (stable field names).
    Json,
}

#[derive(Debug, Args)]
struct EngineArgs {
    /// Directory for precompiled policies [default: $SEALGATE_CACHE_DIR, else
    /// $XDG_CACHE_HOME/sealgate, else ~/.cache/sealgate].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile policies in memory only.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
    /// Say where compiled code came from (cache hit, stored, recompiled).
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The gate file (TOML).
    #[arg(long, value_name = "GATE")]
    gate: PathBuf,
    /// The artifact metadata document (JSON).
    #[arg(long, value_name = "META.json")]
    metadata: PathBuf,
    /// The artifact's digest, handed to policies in their context.
    #[arg(long, value_name = "sha256:HEX")]
    artifact_digest: Option<Sha256Digest>,
    /// Evaluate as of this instant (RFC 3339), e.g. to replay an evaluation
    /// [default: now].
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// The policy crate's directory.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Where to write `<package>.wasm`.
    #[arg(long, value_name = "DIR", default_value = "target/policies")]
    out_dir: PathBuf,
    /// WebAssembly target.
    #[arg(long, default_value = "wasm32-unknown-unknown")]
    target: sealgate_policy_build::Target,
    /// Cargo target directory [default: the policy workspace's `target/`].
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// Show cargo's output.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The component file.
    #[arg(value_name = "MODULE")]
    module: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    engine: EngineArgs,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The gate passed, or the command succeeded.
    Passed = 0,
    /// The gate failed.
    Failed = 1,
    /// Bad usage or bad input (a file missing, malformed, refused).
    Usage = 2,
    /// A policy could not be used or could not give a verdict.
    PolicyError = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        Self::from(e as u8)
    }
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub exit: Exit,
    /// What went wrong (printed with its chain).
    pub error: anyhow::Error,
}

impl CliError {
    fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Usage,
            error: error.into(),
        }
    }
}

/// Run a parsed command line, writing results to `out` (diagnostics go to stderr).
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Exit, CliError> {
    match &cli.command {
        Command::Check(args) => check(args, out),
        Command::Policy(PolicyCommand::Build(args)) => build(args, out),
        Command::Policy(PolicyCommand::Inspect(args)) => inspect(args, out),
    }
}

fn engine(args: &EngineArgs) -> Result<PolicyEngine, CliError> {
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(default_cache_dir)
    };
    PolicyEngine::new(EngineConfig {
        cache_dir,
        ..EngineConfig::default()
    })
    .map_err(|e| CliError {
        exit: Exit::PolicyError,
        error: e.into(),
    })
}

fn default_cache_dir() -> Option<PathBuf> {
    let env = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("SEALGATE_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("sealgate")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("sealgate")))
}

fn report_cache(verbose: bool, module: &sealgate::PolicyModule) {
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

fn load_error_exit(e: &LoadError) -> Exit {
    match e {
        LoadError::Read(_) => Exit::Usage,
        _ => Exit::PolicyError,
    }
}

/// `sealgate check`.
fn check(args: &CheckArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let evaluated_at_unix = match &args.at {
        None => None,
        Some(t) => Some(parse_time(t).map_err(CliError::usage)?),
    };
    // Read the metadata first: a bad input should not cost a compile.
    let metadata =
        MetadataDocument::load(&args.metadata, &MetadataLimits::default()).map_err(CliError::usage)?;
    let engine = engine(&args.engine)?;
    let gate = Gate::load(&engine, &args.gate).map_err(|e| {
        let exit = match &e {
            GateError::Load { source, .. } => load_error_exit(source),
            _ => Exit::Usage,
        };
        CliError {
            exit,
            error: e.into(),
        }
    })?;
    for p in gate.policies() {
        report_cache(args.engine.verbose, &p.module);
    }
    let mut context = match evaluated_at_unix {
        Some(t) => EvaluationContext::at(gate.name(), t),
        None => EvaluationContext::now(gate.name()),
    };
    context.artifact_digest = args.artifact_digest;
    let report = gate.evaluate(&metadata, &context);
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut *out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Text => report::write_text(out, &report, metadata.origin()),
    };
    written
        .context("cannot write the report")
        .map_err(CliError::usage)?;
    Ok(if report.has_errors() {
        Exit::PolicyError
    } else if report.decision == sealgate::GateDecision::Passed {
        Exit::Passed
    } else {
        Exit::Failed
    })
}

fn parse_time(t: &str) -> anyhow::Result<i64> {
    let time = humantime::parse_rfc3339_weak(t)
        .with_context(|| format!("--at `{t}` is not an RFC 3339 time such as 2026-11-26T20:00:00Z"))?;
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .with_context(|| format!("--at `{t}` is before 1970"))?
        .as_secs();
    Ok(secs as i64)
}

/// `sealgate policy build`.
fn build(args: &BuildArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let built = sealgate_policy_build::build_policy(
        &args.dir,
        &sealgate_policy_build::BuildOptions {
            target: args.target,
            target_dir: args.target_dir.clone(),
            out_dir: args.out_dir.clone(),
            verbose: args.verbose,
        },
    )
    .map_err(CliError::usage)?;
    writeln!(
        out,
        "built {}\nsha256 = \"{}\"",
        built.path.display(),
        built.sha256
    )
    .context("cannot write to stdout")
    .map_err(CliError::usage)?;
    Ok(Exit::Passed)
}

/// `sealgate policy inspect`.
fn inspect(args: &InspectArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let engine = engine(&args.engine)?;
    let module = engine.load_unpinned(&args.module).map_err(|e| CliError {
        exit: load_error_exit(&e),
        error: e.into(),
    })?;
    report_cache(args.engine.verbose, &module);
    let size = std::fs::metadata(&args.module).map(|m| m.len()).unwrap_or(0);
    report::write_inspect(out, &module, size, args.format == Format::Json)
        .context("cannot write to stdout")
        .map_err(CliError::usage)?;
    Ok(Exit::Passed)
}
