//! The command line: clap's structs for every command and flag. Handlers
//! live in `cmd/`, one file per command.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::*;
use crate::report;
use sealgate::Sha256Digest;
use std::path::PathBuf;

/// sealgate: a compliance gate of sandboxed WebAssembly policies.
#[derive(Debug, Parser)]
#[command(name = "sealgate", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Colour in text output: auto is on a terminal unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
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
    pub(crate) fn paint(self) -> report::Paint {
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
pub(crate) enum Command {
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
pub(crate) struct ServeArgs {
    /// The server configuration (TOML; docs/integration.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: PathBuf,
    /// Listen here instead of the configuration's `listen` (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GateCommand {
    /// Print a gate's policy digest (what attestations record and trust files pin), signing nothing.
    Digest(GateDigestArgs),
    /// Push a gate and every file it pins to an OCI registry as one artifact; print it by digest.
    Push(GatePushArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GatePushArgs {
    /// The gate file.
    #[arg(value_name = "GATE")]
    pub(crate) gate: PathBuf,
    /// Where: oci://REGISTRY/REPOSITORY:TAG.
    #[arg(value_name = "OCI_REF")]
    pub(crate) target: String,
    /// Sign it as its publisher with this Ed25519 private key (PKCS#8 PEM):
    /// the signature is attached beside it as a referrer.
    #[arg(long, value_name = "PRIV")]
    pub(crate) key: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

#[derive(Debug, Args)]
pub(crate) struct GateDigestArgs {
    /// The gate file.
    #[arg(value_name = "GATE")]
    pub(crate) gate: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LogCommand {
    /// Check that no entry of a decision log was edited, removed, reordered or truncated.
    Verify(LogVerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LogVerifyArgs {
    /// The decision log (JSON lines written by `--decision-log`).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// The log had at least this many entries when last seen (catches entries removed at the end).
    #[arg(long, value_name = "N")]
    pub(crate) expect_entries: Option<u64>,
    /// The sha256 of the last entry when last seen (with --expect-entries: of entry N).
    #[arg(long, value_name = "SHA256")]
    pub(crate) expect_head: Option<Sha256Digest>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

/// Where `check`, `attest` and `verify` record their decisions.
#[derive(Debug, Args)]
pub(crate) struct DecisionLogArgs {
    /// Append the decision to this log (hash-chained JSON lines; docs/integration.md).
    #[arg(long, value_name = "FILE", env = "SEALGATE_DECISION_LOG")]
    pub(crate) decision_log: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Build a Rust policy crate into a component and print its sha256 pin.
    Build(BuildArgs),
    /// Show a component's id, version, params schema, sha256, imports and exports.
    Inspect(InspectArgs),
    /// Run a policy's test cases (`DIR/tests/*.toml`) against its component.
    Test(TestArgs),
    /// Create a policy (a Rust crate, or a Rego file) that passes its own tests, to edit into yours.
    New(NewArgs),
    /// Time one policy on a metadata file: latency percentiles, fuel, peak memory.
    Bench(BenchArgs),
    /// Push a component to an OCI registry as a sealgate policy; print it by digest.
    Push(PushArgs),
    /// Fetch a policy from an OCI registry, by digest, into the local store (and a file).
    Pull(PullArgs),
}

/// How to reach registries.
#[derive(Debug, Args)]
pub(crate) struct RegistryArgs {
    /// A PEM file of CA certificates to trust for the registry, besides the
    /// built-in roots [also: $SEALGATE_REGISTRY_CA]. Credentials come from the
    /// docker config.json ($DOCKER_CONFIG, else ~/.docker).
    #[arg(long, value_name = "PEM")]
    pub(crate) registry_ca: Option<PathBuf>,
    /// Limit on each registry operation, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub(crate) registry_timeout: u64,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// The component file.
    #[arg(value_name = "MODULE")]
    pub(crate) module: PathBuf,
    /// Where: oci://REGISTRY/REPOSITORY:TAG.
    #[arg(value_name = "OCI_REF")]
    pub(crate) target: String,
    /// Sign it as its publisher with this Ed25519 private key (PKCS#8 PEM):
    /// the signature is attached beside it as a referrer.
    #[arg(long, value_name = "PRIV")]
    pub(crate) key: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// Which: oci://REGISTRY/REPOSITORY@sha256:DIGEST (a tag is refused).
    #[arg(value_name = "OCI_REF")]
    pub(crate) reference: String,
    /// Also write the component here (mode 0644).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// The local store [default: $SEALGATE_OCI_STORE, else
    /// $XDG_CACHE_HOME/sealgate/oci, else ~/.cache/sealgate/oci].
    #[arg(long, value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
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
pub(crate) struct EngineArgs {
    /// Directory for precompiled policies [default: $SEALGATE_CACHE_DIR, else
    /// $XDG_CACHE_HOME/sealgate, else ~/.cache/sealgate].
    #[arg(long, value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Compile policies in memory only.
    #[arg(long, conflicts_with = "cache_dir")]
    pub(crate) no_cache: bool,
    /// Say where compiled code came from (cache hit, stored, recompiled).
    #[arg(long, short)]
    pub(crate) verbose: bool,
}

/// What every gate evaluation needs (`check` and `attest`).
#[derive(Debug, Args)]
pub(crate) struct GateArgs {
    /// The gate file (TOML), or a gate artifact in a registry by digest
    /// (oci://REGISTRY/REPOSITORY@sha256:DIGEST; a tag is refused).
    #[arg(long, value_name = "GATE")]
    pub(crate) gate: String,
    /// Require every gate and policy that comes from a registry to be signed
    /// by a publisher this file names (`sealgate/publishers/v1`).
    #[arg(long, value_name = "FILE")]
    pub(crate) publishers: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// The artifact metadata document (JSON); or collect it from the sources below.
    #[arg(long, value_name = "META.json")]
    pub(crate) metadata: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) sources: SourceArgs,
    /// Evaluate as of this instant (RFC 3339), e.g. to replay an evaluation
    /// [default: now].
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub(crate) format: ReportFormat,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    #[command(flatten)]
    pub(crate) log: DecisionLogArgs,
}

/// Where `collect` (and `check`/`attest` without `--metadata`) read from.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sources (instead of --metadata)")]
pub(crate) struct SourceArgs {
    /// A DVC project's root (dvc.lock, *.dvc files, params.yaml).
    #[arg(long, value_name = "DIR")]
    pub(crate) dvc: Option<PathBuf>,
    /// An MLflow file store (`mlruns/`).
    #[arg(long, value_name = "DIR", requires = "model")]
    pub(crate) mlflow: Option<PathBuf>,
    /// The registered model to collect.
    #[arg(long, value_name = "NAME", requires = "mlflow")]
    pub(crate) model: Option<String>,
    /// The model version.
    #[arg(
        long = "model-version",
        visible_alias = "version",
        value_name = "N",
        requires = "model"
    )]
    pub(crate) model_version: Option<String>,
    /// The alias naming the version (e.g. champion).
    #[arg(
        long,
        value_name = "ALIAS",
        requires = "model",
        conflicts_with = "model_version"
    )]
    pub(crate) alias: Option<String>,
    /// An Evidently drift report (JSON); repeatable.
    #[arg(long, value_name = "FILE")]
    pub(crate) evidently: Vec<PathBuf>,
    /// Storage or platform settings: S3 API responses, a GCS bucket, a
    /// Kubernetes EncryptionConfiguration, a Docker daemon.json; repeatable.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub(crate) storage: Vec<PathBuf>,
    /// OpenLineage RunEvents (JSON or JSON Lines); repeatable.
    #[arg(long, value_name = "FILE")]
    pub(crate) openlineage: Vec<PathBuf>,
    /// The serving image, pinned: repo[:tag]@sha256:<hex>.
    #[arg(long, value_name = "REF")]
    pub(crate) image: Option<String>,
}

impl SourceArgs {
    pub(crate) fn to_sources(
        &self,
        artifact: Option<PathBuf>,
    ) -> Result<sealgate_collect::Sources, CliError> {
        let base = std::env::current_dir().context("cannot read the current directory")?;
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
        Ok(sealgate_collect::Sources::default()
            .with_dvc(self.dvc.clone())
            .with_mlflow(mlflow)
            .with_evidently(self.evidently.clone())
            .with_storage(self.storage.clone())
            .with_openlineage(self.openlineage.clone())
            .with_image(self.image.clone())
            .with_artifact(artifact)
            .with_base(base))
    }
}

#[derive(Debug, Args)]
pub(crate) struct CollectArgs {
    #[command(flatten)]
    pub(crate) sources: SourceArgs,
    /// The artifact file (its sha256 becomes the document's digest).
    #[arg(long, value_name = "FILE")]
    pub(crate) artifact: Option<PathBuf>,
    /// Write the document here (atomically) instead of to stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) gate: GateArgs,
    /// The artifact's digest, handed to policies in their context.
    #[arg(long, value_name = "sha256:HEX")]
    pub(crate) artifact_digest: Option<Sha256Digest>,
}

/// The artifact an attestation is about: a file (hashed streaming) or its digest.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct ArtifactArgs {
    /// The artifact file.
    #[arg(long, value_name = "FILE")]
    pub(crate) artifact: Option<PathBuf>,
    /// The artifact's sha256, when the file is not at hand.
    #[arg(long, value_name = "sha256:HEX")]
    pub(crate) digest: Option<Sha256Digest>,
}

#[derive(Debug, Args)]
pub(crate) struct AttestArgs {
    #[command(flatten)]
    pub(crate) gate: GateArgs,
    #[command(flatten)]
    pub(crate) artifact: ArtifactArgs,
    /// The Ed25519 private key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "PRIV")]
    pub(crate) key: PathBuf,
    /// Where to write the bundle [default: `<artifact>.intoto.jsonl`].
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// The subject's name [default: the artifact's file name, else the
    /// metadata's artifact name].
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// `verifier.id` in the verdict.
    #[arg(long, value_name = "URI", default_value = sealgate_attest::DEFAULT_VERIFIER_ID)]
    pub(crate) verifier_id: String,
    /// `resourceUri` in the verdict [default: the metadata's artifact uri].
    #[arg(long, value_name = "URI")]
    pub(crate) resource_uri: Option<String>,
    /// Also attach the bundle to this image in its registry, as an OCI
    /// referrer (oci://REGISTRY/REPO@sha256:DIGEST, the artifact's digest).
    #[arg(long, value_name = "OCI_REF")]
    pub(crate) push: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The in-toto bundle (JSON Lines of DSSE envelopes).
    #[arg(
        long,
        value_name = "BUNDLE",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    pub(crate) bundle: Option<PathBuf>,
    /// Fetch the bundles attached to this image (oci://REGISTRY/REPO@sha256:DIGEST,
    /// the artifact's digest) and accept if one passes every check.
    #[arg(long, value_name = "OCI_REF")]
    pub(crate) from: Option<String>,
    /// Most referrers of the image read with --from.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub(crate) max_candidates: usize,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    #[command(flatten)]
    pub(crate) artifact: ArtifactArgs,
    /// A trusted public key (SPKI PEM); repeat for several.
    #[arg(long = "key", value_name = "PUB")]
    pub(crate) keys: Vec<PathBuf>,
    /// A trust file (TOML): keys and requirements; the flags below only tighten it.
    #[arg(long, value_name = "FILE")]
    pub(crate) trust: Option<PathBuf>,
    /// Accept only these gate policy digests; repeat for several.
    #[arg(long = "policy-digest", value_name = "sha256:HEX")]
    pub(crate) policy_digests: Vec<Sha256Digest>,
    /// Reject attestations older than this (e.g. 7d, 12h).
    #[arg(long, value_name = "DURATION")]
    pub(crate) max_age: Option<String>,
    /// Require this policy to have run and passed, by one of the named
    /// modules (`ID=sha256:HEX[,sha256:HEX]`: the gate file's pin for it); a
    /// bare ID only with --policy-digest (or a trust file's policy-digests).
    /// Repeat for several.
    #[arg(long = "require-policy", value_name = "ID[=sha256:HEX]")]
    pub(crate) required_policies: Vec<sealgate_attest::RequiredPolicy>,
    /// The verifier id required [default: the trust file's, else sealgate's].
    #[arg(long, value_name = "URI")]
    pub(crate) verifier_id: Option<String>,
    /// The resource URI the verdict must name (the VSA's `resourceUri`).
    #[arg(long, value_name = "URI")]
    pub(crate) resource_uri: Option<String>,
    /// The gate whose level (`SEALGATE_<GATE>`) the verdict must hold in `verifiedLevels`.
    #[arg(long = "gate", value_name = "NAME")]
    pub(crate) expected_gate: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub(crate) format: ReportFormat,
    #[command(flatten)]
    pub(crate) log: DecisionLogArgs,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Directory for `NAME.key` (private, 0600) and `NAME.pub`.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Base name of the files.
    #[arg(long, default_value = "sealgate")]
    pub(crate) name: String,
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The policy crate's directory.
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Where to write `<package>.wasm` [default: DIR/target/policies].
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,
    /// WebAssembly target.
    #[arg(long, default_value = "wasm32-unknown-unknown")]
    pub(crate) target: sealgate_policy_build::Target,
    /// Cargo target directory [default: the policy workspace's `target/`].
    #[arg(long, value_name = "DIR")]
    pub(crate) target_dir: Option<PathBuf>,
    /// Show cargo's output.
    #[arg(long, short)]
    pub(crate) verbose: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The component file.
    #[arg(value_name = "MODULE")]
    pub(crate) module: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// The component file.
    #[arg(value_name = "MODULE")]
    pub(crate) module: PathBuf,
    /// The metadata document to evaluate.
    #[arg(long, value_name = "META.json")]
    pub(crate) metadata: PathBuf,
    /// The policy's params, as JSON.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub(crate) params: String,
    /// MODULE is the Rego engine: evaluate the Rego (and data) files of this
    /// directory, handed over with the params as a gate hands them.
    #[arg(long, value_name = "DIR")]
    pub(crate) rego: Option<PathBuf>,
    /// Timed evaluations (each in a fresh instance, as in a gate).
    #[arg(long, short = 'n', default_value_t = 200)]
    pub(crate) iterations: u32,
    /// Untimed evaluations first.
    #[arg(long, default_value_t = 10)]
    pub(crate) warmup: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// The policy crate's directory (its cases are in `DIR/tests/*.toml`).
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Test this component instead of building DIR.
    #[arg(long, value_name = "MODULE")]
    pub(crate) module: Option<PathBuf>,
    /// Where to write the built component [default: DIR/target/policies].
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,
    /// Also say what no case reached: for a Rego policy, the lines of its
    /// files (the engine's coverage); for a compiled one, the rules of its
    /// catalogue no case reported.
    #[arg(long)]
    pub(crate) coverage: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The policy's name: crate name and rule-id prefix (lowercase, digits, `-`).
    pub(crate) name: String,
    /// Where to create it [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// The policy's id [default: NAME], e.g. `acme.model-card`.
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Depend on this policy SDK (`policies/sdk` of a sealgate checkout)
    /// instead of the copy that comes with sealgate (written into the
    /// crate's `sdk/`, so it builds anywhere to the same pin). Rust only.
    #[arg(long, value_name = "DIR")]
    pub(crate) sdk: Option<PathBuf>,
    /// The language to write it in.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub(crate) lang: Lang,
}

/// The languages `policy new` scaffolds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Lang {
    /// A Rust crate built into a component (needs Rust and the wasm target).
    Rust,
    /// A Rego file run by the Rego engine component (no compiler).
    Rego,
    /// A Python app built with componentize-py (`pip install componentize-py`).
    Python,
}
