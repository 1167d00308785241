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
    CacheStatus, EngineConfig, EvaluationContext, Gate, GateError, GateReport, LoadError, MetadataDocument,
    MetadataLimits, PolicyEngine, Sha256Digest,
};

mod ci_formats;
mod report;

/// sealgate: a compliance gate of sandboxed WebAssembly policies.
#[derive(Debug, Parser)]
#[command(name = "sealgate", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour in text output: auto is on a terminal unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

/// When `text` output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is not set (no-color.org).
    Auto,
    /// Always, even into a pipe or file.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    fn paint(self) -> report::Paint {
        use std::io::IsTerminal as _;
        let enabled = match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
            }
        };
        report::Paint { enabled }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate a gate on an artifact's metadata and report the verdict.
    Check(CheckArgs),
    /// Evaluate a gate as `check` does, then write a signed in-toto bundle.
    Attest(AttestArgs),
    /// Verify a bundle offline against an artifact and trusted keys.
    Verify(VerifyArgs),
    /// Create an Ed25519 key pair for signing attestations.
    Keygen(KeygenArgs),
    /// Assemble the metadata document from DVC, MLflow, Evidently, storage and OpenLineage files.
    Collect(CollectArgs),
    /// Build and inspect policy components.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Check a decision log.
    #[command(subcommand)]
    Log(LogCommand),
    /// Inspect gate files.
    #[command(subcommand)]
    Gate(GateCommand),
    /// Serve check, attest, verify and Kubernetes admission over HTTP(S).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The server configuration (TOML; docs/integration.md).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Listen here instead of the configuration's `listen` (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Subcommand)]
enum GateCommand {
    /// Print a gate's policy digest (what attestations record and trust files pin), signing nothing.
    Digest(GateDigestArgs),
}

#[derive(Debug, Args)]
struct GateDigestArgs {
    /// The gate file.
    #[arg(value_name = "GATE")]
    gate: PathBuf,
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Check that no entry of a decision log was edited, removed, reordered or truncated.
    Verify(LogVerifyArgs),
}

#[derive(Debug, Args)]
struct LogVerifyArgs {
    /// The decision log (JSON lines written by `--decision-log`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The log had at least this many entries when last seen (catches entries removed at the end).
    #[arg(long, value_name = "N")]
    expect_entries: Option<u64>,
    /// The sha256 of the last entry when last seen (with --expect-entries: of entry N).
    #[arg(long, value_name = "SHA256")]
    expect_head: Option<Sha256Digest>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Where `check`, `attest` and `verify` record their decisions.
#[derive(Debug, Args)]
struct DecisionLogArgs {
    /// Append the decision to this log (hash-chained JSON lines; docs/integration.md).
    #[arg(long, value_name = "FILE", env = "SEALGATE_DECISION_LOG")]
    decision_log: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Build a Rust policy crate into a component and print its sha256 pin.
    Build(BuildArgs),
    /// Show a component's id, version, params schema, sha256, imports and exports.
    Inspect(InspectArgs),
    /// Run a policy's test cases (`DIR/tests/*.toml`) against its component.
    Test(TestArgs),
    /// Create a policy crate that builds and passes its own tests, to edit into yours.
    New(NewArgs),
    /// Time one policy on a metadata file: latency percentiles, fuel, peak memory.
    Bench(BenchArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For machines (stable field names).
    Json,
}

/// Output formats of `check`, `attest` and `verify`: also what CI systems read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people: the decision first, then each policy.
    Text,
    /// For machines (stable field names; docs/integration.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// JUnit XML, for CI test-report panes.
    Junit,
    /// GitHub Actions workflow commands (annotations).
    Github,
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

/// What every gate evaluation needs (`check` and `attest`).
#[derive(Debug, Args)]
struct GateArgs {
    /// The gate file (TOML).
    #[arg(long, value_name = "GATE")]
    gate: PathBuf,
    /// The artifact metadata document (JSON); or collect it from the sources below.
    #[arg(long, value_name = "META.json")]
    metadata: Option<PathBuf>,
    #[command(flatten)]
    sources: SourceArgs,
    /// Evaluate as of this instant (RFC 3339), e.g. to replay an evaluation
    /// [default: now].
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    log: DecisionLogArgs,
}

/// Where `collect` (and `check`/`attest` without `--metadata`) read from.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sources (instead of --metadata)")]
struct SourceArgs {
    /// A DVC project's root (dvc.lock, *.dvc files, params.yaml).
    #[arg(long, value_name = "DIR")]
    dvc: Option<PathBuf>,
    /// An MLflow file store (`mlruns/`).
    #[arg(long, value_name = "DIR", requires = "model")]
    mlflow: Option<PathBuf>,
    /// The registered model to collect.
    #[arg(long, value_name = "NAME", requires = "mlflow")]
    model: Option<String>,
    /// The model version.
    #[arg(
        long = "model-version",
        visible_alias = "version",
        value_name = "N",
        requires = "model"
    )]
    model_version: Option<String>,
    /// The alias naming the version (e.g. champion).
    #[arg(
        long,
        value_name = "ALIAS",
        requires = "model",
        conflicts_with = "model_version"
    )]
    alias: Option<String>,
    /// An Evidently drift report (JSON); repeatable.
    #[arg(long, value_name = "FILE")]
    evidently: Vec<PathBuf>,
    /// Storage or platform settings: S3 API responses, a GCS bucket, a
    /// Kubernetes EncryptionConfiguration, a Docker daemon.json; repeatable.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    storage: Vec<PathBuf>,
    /// OpenLineage RunEvents (JSON or JSON Lines); repeatable.
    #[arg(long, value_name = "FILE")]
    openlineage: Vec<PathBuf>,
    /// The serving image, pinned: repo[:tag]@sha256:<hex>.
    #[arg(long, value_name = "REF")]
    image: Option<String>,
}

impl SourceArgs {
    fn to_sources(&self, artifact: Option<PathBuf>) -> Result<sealgate_collect::Sources, CliError> {
        let base = std::env::current_dir()
            .context("cannot read the current directory")
            .map_err(CliError::usage)?;
        let mlflow = match (&self.mlflow, &self.model) {
            (Some(store), Some(name)) => {
                if self.model_version.is_none() && self.alias.is_none() {
                    return Err(CliError::usage(anyhow::anyhow!(
                        "--model {name}: give --model-version N or --alias NAME"
                    )));
                }
                Some(sealgate_collect::ModelSelector {
                    store: store.clone(),
                    name: name.clone(),
                    version: self.model_version.clone(),
                    alias: self.alias.clone(),
                })
            }
            _ => None,
        };
        Ok(sealgate_collect::Sources {
            dvc: self.dvc.clone(),
            mlflow,
            evidently: self.evidently.clone(),
            storage: self.storage.clone(),
            openlineage: self.openlineage.clone(),
            image: self.image.clone(),
            artifact,
            base,
        })
    }
}

#[derive(Debug, Args)]
struct CollectArgs {
    #[command(flatten)]
    sources: SourceArgs,
    /// The artifact file (its sha256 becomes the document's digest).
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
    /// Write the document here (atomically) instead of to stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    gate: GateArgs,
    /// The artifact's digest, handed to policies in their context.
    #[arg(long, value_name = "sha256:HEX")]
    artifact_digest: Option<Sha256Digest>,
}

/// The artifact an attestation is about: a file (hashed streaming) or its digest.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct ArtifactArgs {
    /// The artifact file.
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
    /// The artifact's sha256, when the file is not at hand.
    #[arg(long, value_name = "sha256:HEX")]
    digest: Option<Sha256Digest>,
}

#[derive(Debug, Args)]
struct AttestArgs {
    #[command(flatten)]
    gate: GateArgs,
    #[command(flatten)]
    artifact: ArtifactArgs,
    /// The Ed25519 private key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "PRIV")]
    key: PathBuf,
    /// Where to write the bundle [default: `<artifact>.intoto.jsonl`].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The subject's name [default: the artifact's file name, else the
    /// metadata's artifact name].
    #[arg(long)]
    name: Option<String>,
    /// `verifier.id` in the verdict.
    #[arg(long, value_name = "URI", default_value = sealgate_attest::DEFAULT_VERIFIER_ID)]
    verifier_id: String,
    /// `resourceUri` in the verdict [default: the metadata's artifact uri].
    #[arg(long, value_name = "URI")]
    resource_uri: Option<String>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The in-toto bundle (JSON Lines of DSSE envelopes).
    #[arg(long, value_name = "BUNDLE")]
    bundle: PathBuf,
    #[command(flatten)]
    artifact: ArtifactArgs,
    /// A trusted public key (SPKI PEM); repeat for several.
    #[arg(long = "key", value_name = "PUB")]
    keys: Vec<PathBuf>,
    /// A trust file (TOML): keys and requirements; the flags below only tighten it.
    #[arg(long, value_name = "FILE")]
    trust: Option<PathBuf>,
    /// Accept only these gate policy digests; repeat for several.
    #[arg(long = "policy-digest", value_name = "sha256:HEX")]
    policy_digests: Vec<Sha256Digest>,
    /// Reject attestations older than this (e.g. 7d, 12h).
    #[arg(long, value_name = "DURATION")]
    max_age: Option<String>,
    /// Require this policy to have run and passed, by one of the named
    /// modules (`ID=sha256:HEX[,sha256:HEX]`: the gate file's pin for it); a
    /// bare ID only with --policy-digest (or a trust file's policy-digests).
    /// Repeat for several.
    #[arg(long = "require-policy", value_name = "ID[=sha256:HEX]")]
    required_policies: Vec<sealgate_attest::RequiredPolicy>,
    /// The verifier id required [default: the trust file's, else sealgate's].
    #[arg(long, value_name = "URI")]
    verifier_id: Option<String>,
    /// The resource URI the verdict must name (the VSA's `resourceUri`).
    #[arg(long, value_name = "URI")]
    resource_uri: Option<String>,
    /// The gate whose level (`SEALGATE_<GATE>`) the verdict must hold in `verifiedLevels`.
    #[arg(long = "gate", value_name = "NAME")]
    expected_gate: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    #[command(flatten)]
    log: DecisionLogArgs,
}

#[derive(Debug, Args)]
struct KeygenArgs {
    /// Directory for `NAME.key` (private, 0600) and `NAME.pub`.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Base name of the files.
    #[arg(long, default_value = "sealgate")]
    name: String,
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

#[derive(Debug, Args)]
struct BenchArgs {
    /// The component file.
    #[arg(value_name = "MODULE")]
    module: PathBuf,
    /// The metadata document to evaluate.
    #[arg(long, value_name = "META.json")]
    metadata: PathBuf,
    /// The policy's params, as JSON.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    params: String,
    /// Timed evaluations (each in a fresh instance, as in a gate).
    #[arg(long, short = 'n', default_value_t = 200)]
    iterations: u32,
    /// Untimed evaluations first.
    #[arg(long, default_value_t = 10)]
    warmup: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Args)]
struct TestArgs {
    /// The policy crate's directory (its cases are in `DIR/tests/*.toml`).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Test this component instead of building DIR.
    #[arg(long, value_name = "MODULE")]
    module: Option<PathBuf>,
    /// Where to write the built component.
    #[arg(long, value_name = "DIR", default_value = "target/policies")]
    out_dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Args)]
struct NewArgs {
    /// The policy's name: crate name and rule-id prefix (lowercase, digits, `-`).
    name: String,
    /// Where to create it [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The policy's id [default: NAME], e.g. `acme.model-card`.
    #[arg(long)]
    id: Option<String>,
    /// The policy SDK (`policies/sdk` of a sealgate checkout) [default: found
    /// in the current directory or one of its parents].
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
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
    let paint = cli.color.paint();
    match &cli.command {
        Command::Check(args) => check(args, out, paint),
        Command::Attest(args) => attest(args, out, paint),
        Command::Verify(args) => verify(args, out, paint),
        Command::Keygen(args) => keygen(args, out),
        Command::Collect(args) => collect(args, out),
        Command::Policy(PolicyCommand::Build(args)) => build(args, out),
        Command::Policy(PolicyCommand::Inspect(args)) => inspect(args, out),
        Command::Policy(PolicyCommand::Test(args)) => policy_test(args, out),
        Command::Policy(PolicyCommand::New(args)) => policy_new(args, out),
        Command::Policy(PolicyCommand::Bench(args)) => policy_bench(args, out),
        Command::Log(LogCommand::Verify(args)) => log_verify(args, out),
        Command::Gate(GateCommand::Digest(args)) => gate_digest(args, out),
        Command::Serve(args) => serve(args),
    }
}

/// Append `decision` to the log, if one is configured. A decision that
/// cannot be recorded fails the command (exit 2): an audit trail with gaps
/// is not one.
fn record(args: &DecisionLogArgs, decision: sealgate_log::Decision) -> Result<(), CliError> {
    let Some(path) = &args.decision_log else {
        return Ok(());
    };
    sealgate_log::DecisionLog::new(path)
        .append(&decision, std::time::SystemTime::now())
        .map(|_| ())
        .map_err(CliError::usage)
}

/// `sealgate serve`: runs until SIGTERM or SIGINT.
fn serve(args: &ServeArgs) -> Result<Exit, CliError> {
    sealgate_server::run(sealgate_server::ServeOptions {
        config: args.config.clone(),
        listen: args.listen,
        engine: engine_config(&args.engine),
    })
    .map_err(|error| {
        // A policy that cannot be used is exit 3, as for `check`.
        let exit = match error.downcast_ref::<GateError>() {
            Some(GateError::Load { error, .. }) => load_error_exit(error),
            Some(GateError::ParamsCheck { .. }) => Exit::PolicyError,
            _ => Exit::Usage,
        };
        CliError { exit, error }
    })?;
    Ok(Exit::Passed)
}

/// `sealgate log verify`.
fn log_verify(args: &LogVerifyArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let expected = sealgate_log::Expected {
        entries: args.expect_entries,
        head: args.expect_head,
    };
    let result = sealgate_log::verify(&args.file, &expected);
    let (exit, doc) = match &result {
        Ok(v) => (
            Exit::Passed,
            serde_json::json!({
                "file": args.file,
                "intact": true,
                "entries": v.entries,
                "head": v.head.map(|h| h.to_string()),
            }),
        ),
        Err(sealgate_log::VerifyError::Broken { broken, .. }) => (
            Exit::Failed,
            serde_json::json!({
                "file": args.file,
                "intact": false,
                "line": broken.line,
                "problem": broken.problem,
            }),
        ),
        Err(e @ sealgate_log::VerifyError::Io { .. }) => {
            return Err(CliError::usage(anyhow::anyhow!("{e}")));
        }
    };
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut *out, &doc)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Text => match &result {
            Ok(v) => writeln!(
                out,
                "decision log {}: intact, {} entries, head {}",
                args.file.display(),
                v.entries,
                v.head.map_or("(empty)".to_owned(), |h| format!("sha256:{h}"))
            ),
            Err(e) => writeln!(out, "{e}"),
        },
    };
    written
        .context("cannot write to stdout")
        .map_err(CliError::usage)?;
    Ok(exit)
}

fn engine_config(args: &EngineArgs) -> EngineConfig {
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(default_cache_dir)
    };
    EngineConfig {
        cache_dir,
        ..EngineConfig::default()
    }
}

fn engine(args: &EngineArgs) -> Result<PolicyEngine, CliError> {
    PolicyEngine::new(engine_config(args)).map_err(|e| CliError {
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

/// A component that cannot be read, or is not the one the gate pinned, is a
/// bad input (exit 2); one that is read and pinned but cannot be used is a
/// policy error (exit 3).
fn load_error_exit(e: &LoadError) -> Exit {
    match e {
        LoadError::Read(_) | LoadError::PinMismatch { .. } => Exit::Usage,
        _ => Exit::PolicyError,
    }
}

/// Collect the document and check it as a gate input would be checked.
fn collect_document(sources: &SourceArgs, artifact: Option<PathBuf>) -> Result<MetadataDocument, CliError> {
    let collected = sealgate_collect::collect(&sources.to_sources(artifact)?).map_err(CliError::usage)?;
    MetadataDocument::from_bytes(
        "<collected>",
        collected.to_json_bytes(),
        &MetadataLimits::default(),
    )
    .context("the collected document is not a valid metadata document")
    .map_err(CliError::usage)
}

/// The document a gate evaluates: `--metadata`, or collected from sources.
fn metadata_for(args: &GateArgs, artifact: Option<PathBuf>) -> Result<MetadataDocument, CliError> {
    let has_sources = !args.sources.to_sources(None)?.is_empty();
    match &args.metadata {
        Some(_) if has_sources => Err(CliError::usage(anyhow::anyhow!(
            "give --metadata or sources to collect it from (--dvc, --mlflow, ...), not both"
        ))),
        Some(path) => MetadataDocument::load(path, &MetadataLimits::default()).map_err(CliError::usage),
        None if has_sources => collect_document(&args.sources, artifact),
        None => Err(CliError::usage(anyhow::anyhow!(
            "give --metadata META.json, or sources to collect it from (--dvc, --mlflow, --evidently, --storage, --openlineage, --image)"
        ))),
    }
}

/// `sealgate collect`.
fn collect(args: &CollectArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let doc = collect_document(&args.sources, args.artifact.clone())?;
    match &args.out {
        Some(path) => sealgate_attest::write_atomically(path, doc.text().as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(CliError::usage)?,
        None => out
            .write_all(doc.text().as_bytes())
            .context("cannot write to stdout")
            .map_err(CliError::usage)?,
    }
    Ok(Exit::Passed)
}

/// Load the gate and metadata and evaluate: shared by `check` and `attest`.
fn evaluate(
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
        metadata.check_describes(artifact).map_err(CliError::usage)?;
    }
    let engine = engine(&args.engine)?;
    let gate = Gate::load(&engine, &args.gate).map_err(|e| {
        let exit = match &e {
            GateError::Load { error, .. } => load_error_exit(error),
            GateError::ParamsCheck { .. } => Exit::PolicyError,
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
    context.artifact_digest = artifact;
    let report = gate.evaluate(&metadata, &context);
    Ok((gate, metadata, report))
}

fn write_report(
    out: &mut dyn Write,
    format: ReportFormat,
    report: &GateReport,
    metadata: &MetadataDocument,
    paint: report::Paint,
) -> Result<(), CliError> {
    let (origin, text) = (metadata.origin(), metadata.text());
    let written = match format {
        ReportFormat::Json => serde_json::to_writer_pretty(&mut *out, report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        ReportFormat::Text => report::write_text(out, report, origin, paint),
        ReportFormat::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &ci_formats::check_sarif(report, origin, text))
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        ReportFormat::Junit => out.write_all(ci_formats::check_junit(report, origin, text).as_bytes()),
        ReportFormat::Github => out.write_all(ci_formats::check_github(report, origin, text).as_bytes()),
    };
    written
        .context("cannot write the report")
        .map_err(CliError::usage)
}

fn exit_for(report: &GateReport) -> Exit {
    if report.has_errors() {
        Exit::PolicyError
    } else if report.decision == sealgate::GateDecision::Passed {
        Exit::Passed
    } else {
        Exit::Failed
    }
}

/// `sealgate check`.
fn check(args: &CheckArgs, out: &mut dyn Write, paint: report::Paint) -> Result<Exit, CliError> {
    let (_, metadata, report) = evaluate(&args.gate, args.artifact_digest, None)?;
    write_report(out, args.gate.format, &report, &metadata, paint)?;
    record(
        &args.gate.log,
        sealgate_log::Decision::of_report("check", &report),
    )?;
    Ok(exit_for(&report))
}

/// The artifact's digest: hashed streaming from the file, or as given.
fn artifact_digest(a: &ArtifactArgs) -> Result<Sha256Digest, CliError> {
    match (&a.artifact, a.digest) {
        (Some(path), _) => {
            let (file, _) = sealgate::open_regular(path)
                .with_context(|| format!("cannot read artifact {}", path.display()))
                .map_err(CliError::usage)?;
            Sha256Digest::of_reader(std::io::BufReader::new(file))
                .with_context(|| format!("cannot read artifact {}", path.display()))
                .map_err(CliError::usage)
        }
        (None, Some(d)) => Ok(d),
        // clap's group makes one of them required.
        (None, None) => Err(CliError::usage(anyhow::anyhow!(
            "give --artifact FILE or --digest sha256:HEX"
        ))),
    }
}

/// `sealgate attest`.
fn attest(args: &AttestArgs, out: &mut dyn Write, paint: report::Paint) -> Result<Exit, CliError> {
    // Key first: a wrong key must not cost an evaluation.
    let key = sealgate_attest::load_signing_key(&args.key).map_err(CliError::usage)?;
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
    let resource_uri = args
        .resource_uri
        .clone()
        .or_else(|| metadata.artifact_uri().map(str::to_owned))
        .unwrap_or_else(|| name.clone());
    let bundle = sealgate_attest::attest(
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
    sealgate_attest::write_atomically(&path, bundle.as_bytes())
        .with_context(|| format!("cannot write the bundle {}", path.display()))
        .map_err(CliError::usage)?;
    write_report(out, args.gate.format, &report, &metadata, paint)?;
    record(
        &args.gate.log,
        sealgate_log::Decision {
            bundle_sha256: Some(Sha256Digest::of_bytes(bundle.as_bytes()).to_string()),
            ..sealgate_log::Decision::of_report("attest", &report)
        },
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
    Ok(exit_for(&report))
}

/// `sealgate gate digest`: the digest `attest` records as the VSA's
/// `policy.digest` (over the gate's name, threshold, limits and each policy's
/// pin, params and limits), from the file alone: nothing is compiled or signed.
fn gate_digest(args: &GateDigestArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let config = sealgate::GateConfig::load(&args.gate).map_err(CliError::usage)?;
    writeln!(out, "{}", sealgate_attest::policy_digest(&config).prefixed())
        .context("cannot write to stdout")
        .map_err(CliError::usage)?;
    Ok(Exit::Passed)
}

/// `sealgate verify`.
fn verify(args: &VerifyArgs, out: &mut dyn Write, paint: report::Paint) -> Result<Exit, CliError> {
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
            sealgate_attest::TrustPolicy::load(path).map_err(CliError::usage)?
        }
        None => {
            let mut trust = sealgate_attest::TrustPolicy::new(Vec::new());
            for path in &args.keys {
                let key = sealgate_attest::load_verifying_key(path).map_err(CliError::usage)?;
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
    let bundle = sealgate::read_bounded(&args.bundle, trust.max_bundle_bytes).map_err(CliError::usage)?;
    let result = sealgate_attest::verify_bundle(&bundle, &digest, &trust, std::time::SystemTime::now());
    // A file that is not a bundle at all is bad input (exit 2), like a
    // missing one; a bundle that fails a check is a rejection (exit 1).
    if let Err(r) = &result
        && r.check == "bundle"
    {
        return Err(CliError::usage(anyhow::anyhow!(
            "{}: not a valid bundle: {}",
            args.bundle.display(),
            r.reason
        )));
    }
    let (exit, checks) = match &result {
        Ok(v) => (Exit::Passed, v.checks()),
        Err(r) => (Exit::Failed, r.checks.as_slice()),
    };
    let written = match args.format {
        ReportFormat::Sarif => serde_json::to_writer_pretty(
            &mut *out,
            &ci_formats::verify_sarif(&args.bundle, &digest, &result),
        )
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out)),
        ReportFormat::Junit => out.write_all(ci_formats::verify_junit(&args.bundle, &result).as_bytes()),
        ReportFormat::Github => {
            out.write_all(ci_formats::verify_github(&args.bundle, &digest, &result).as_bytes())
        }
        ReportFormat::Json => {
            let doc = serde_json::json!({
                "decision": if result.is_ok() { "accepted" } else { "rejected" },
                "failed_check": result.as_ref().err().map(|r| r.check),
                "reason": result.as_ref().err().map(|r| r.reason.clone()),
                "signer": result.as_ref().ok().map(|v| v.signer().to_owned()),
                "bundle": args.bundle,
                "artifact_sha256": digest,
                "checks": checks,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        ReportFormat::Text => report::write_verification(out, &args.bundle, &digest, &result, paint),
    };
    written
        .context("cannot write to stdout")
        .map_err(CliError::usage)?;
    record(
        &args.log,
        sealgate_log::Decision::of_verification(
            "verify",
            &digest,
            &Sha256Digest::of_bytes(&bundle),
            trust
                .required_policies
                .iter()
                .flat_map(sealgate_attest::RequiredPolicy::pins),
            result.as_ref().err().map(|r| r.check),
        ),
    )?;
    Ok(exit)
}

/// `sealgate keygen`.
fn keygen(args: &KeygenArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let key = sealgate_attest::generate(&args.out, &args.name).map_err(CliError::usage)?;
    writeln!(
        out,
        "private key {} (mode 0600; keep it secret)\npublic key  {}\nkey id      {}",
        key.private_key.display(),
        key.public_key.display(),
        key.key_id
    )
    .context("cannot write to stdout")
    .map_err(CliError::usage)?;
    Ok(Exit::Passed)
}

/// `sealgate policy new`.
fn policy_new(args: &NewArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    use sealgate_policy_build::scaffold::{NewPolicy, find_sdk, new_policy};
    let cwd = std::env::current_dir()
        .context("cannot read the current directory")
        .map_err(CliError::usage)?;
    let sdk = match &args.sdk {
        Some(sdk) => sdk.clone(),
        None => find_sdk(&cwd).ok_or_else(|| {
            CliError::usage(anyhow::anyhow!(
                "no policy SDK found in {} or its parents; pass --sdk with the path to policies/sdk of a sealgate checkout",
                cwd.display()
            ))
        })?,
    };
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    new_policy(&NewPolicy {
        name: args.name.clone(),
        id: args.id.clone(),
        dir: dir.clone(),
        sdk,
    })
    .map_err(CliError::usage)?;
    let shown = dir.display();
    writeln!(
        out,
        "created policy `{name}` in {shown}\n\n\
         next:\n  \
         sealgate policy test {shown}    # build it and run its cases\n  \
         then edit {shown}/src/lib.rs and {shown}/tests/cases.toml, and commit Cargo.lock",
        name = args.name
    )
    .context("cannot write to stdout")
    .map_err(CliError::usage)?;
    Ok(Exit::Passed)
}

/// `sealgate policy bench`: what one policy costs per evaluation, measured
/// the way a gate runs it (fresh store and instance from the compiled
/// component, default limits).
fn policy_bench(args: &BenchArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let metadata =
        MetadataDocument::load(&args.metadata, &MetadataLimits::default()).map_err(CliError::usage)?;
    let params: serde_json::Value = serde_json::from_str(&args.params)
        .context("--params is not JSON")
        .map_err(CliError::usage)?;
    if args.iterations == 0 {
        return Err(CliError::usage(anyhow::anyhow!(
            "--iterations must be at least 1"
        )));
    }
    let engine = engine(&args.engine)?;
    let module = engine.load_unpinned(&args.module).map_err(CliError::usage)?;
    let limits = engine.config().ceiling;
    let params = params.to_string();
    module
        .validate_params(&params, &limits)
        .map_err(CliError::usage)?;
    let context = EvaluationContext::now("bench");
    for _ in 0..args.warmup {
        module.evaluate(metadata.text(), &params, &context, &limits);
    }
    let mut times = Vec::with_capacity(args.iterations as usize);
    let mut last = None;
    for _ in 0..args.iterations {
        let start = std::time::Instant::now();
        let eval = module.evaluate(metadata.text(), &params, &context, &limits);
        times.push(start.elapsed());
        last = Some(eval);
    }
    let Some(eval) = last else {
        return Err(CliError::usage(anyhow::anyhow!("no evaluation ran")));
    };
    times.sort();
    let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
    let info = module.info();
    let outcome = match &eval.verdict {
        Ok(v) => format!(
            "{} ({} findings)",
            if v.passed { "pass" } else { "fail" },
            v.findings.len()
        ),
        Err(e) => format!("error: {e}"),
    };
    let written = match args.format {
        Format::Json => {
            let ns = |d: std::time::Duration| d.as_nanos() as u64;
            let doc = serde_json::json!({
                "policy": info.id, "version": info.version, "metadata": args.metadata,
                "iterations": args.iterations,
                "ns": {"p50": ns(pct(50)), "p90": ns(pct(90)), "p99": ns(pct(99)),
                       "min": ns(times[0]), "max": ns(times[times.len() - 1])},
                "fuel": eval.fuel_consumed, "peak_memory_bytes": eval.peak_memory_bytes,
                "verdict": outcome,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        Format::Text => writeln!(
            out,
            "{} {} on {} ({} evaluations, a fresh instance each)\n  \
             time     p50 {:.1?}  p90 {:.1?}  p99 {:.1?}  min {:.1?}  max {:.1?}\n  \
             fuel     {} per evaluation\n  \
             memory   {:.1} MiB peak linear memory\n  \
             verdict  {outcome}",
            info.id,
            info.version,
            args.metadata.display(),
            args.iterations,
            pct(50),
            pct(90),
            pct(99),
            times[0],
            times[times.len() - 1],
            eval.fuel_consumed,
            eval.peak_memory_bytes as f64 / (1024.0 * 1024.0),
        ),
    };
    written
        .context("cannot write to stdout")
        .map_err(CliError::usage)?;
    Ok(Exit::Passed)
}

/// `sealgate policy test`.
fn policy_test(args: &TestArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    use sealgate::policy_test::{TestFile, test_files};
    let files = test_files(&args.dir)
        .with_context(|| format!("cannot list {}", args.dir.join("tests").display()))
        .map_err(CliError::usage)?;
    if files.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no test files in {}",
            args.dir.join("tests").display()
        )));
    }
    let tests = files
        .iter()
        .map(|f| TestFile::load(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::usage)?;
    let module_path = match &args.module {
        Some(m) => m.clone(),
        None => {
            let opts = sealgate_policy_build::BuildOptions {
                target: sealgate_policy_build::Target::Wasm32UnknownUnknown,
                target_dir: None,
                out_dir: args.out_dir.clone(),
                verbose: false,
            };
            sealgate_policy_build::build_policy(&args.dir, &opts)
                .map_err(CliError::usage)?
                .path
        }
    };
    let engine = engine(&args.engine)?;
    // The component is this command's input: one that cannot be loaded is
    // bad input (exit 2), not a policy failing a gate.
    let module = engine.load_unpinned(&module_path).map_err(CliError::usage)?;
    let results: Vec<_> = tests
        .iter()
        .map(|t| (t.path().to_owned(), t.run(&module)))
        .collect();
    let failed = results.iter().flat_map(|(_, r)| r).filter(|r| !r.passed).count();
    let written = match args.format {
        Format::Json => {
            let doc: Vec<_> = results
                .iter()
                .map(|(path, cases)| serde_json::json!({"file": path, "cases": cases}))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        Format::Text => report::write_policy_tests(out, &module.info().id, &results),
    };
    written
        .context("cannot write to stdout")
        .map_err(CliError::usage)?;
    Ok(if failed == 0 { Exit::Passed } else { Exit::Failed })
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
    // The component is this command's input: one that cannot be loaded is
    // bad input (exit 2).
    let module = engine.load_unpinned(&args.module).map_err(CliError::usage)?;
    report_cache(args.engine.verbose, &module);
    let size = std::fs::metadata(&args.module).map(|m| m.len()).unwrap_or(0);
    report::write_inspect(out, &module, size, args.format == Format::Json)
        .context("cannot write to stdout")
        .map_err(CliError::usage)?;
    Ok(Exit::Passed)
}

/// An error and its causes on one line, as `{:#}` prints them, without a
/// cause already quoted by the message before it (many library errors say
/// their source in their own message: `cannot read F: No such file`).
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
