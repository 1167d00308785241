//! Assemble the artifact metadata document (docs/metadata.md) from the files
//! the tools teams use already write: DVC projects, MLflow file stores,
//! Evidently reports, cloud storage settings, Kubernetes and Docker
//! configuration, OpenLineage events.
//!
//! Collectors map; policies judge. Each source becomes the facts it states,
//! in the document's sections, with no verdict drawn here. Where two sources
//! state the same fact they are kept side by side (a DVC hash and an MLflow
//! run's data tag, an MLflow run and an OpenLineage run), so a policy can
//! check that they agree; `join` says when two records are one file. Every
//! file read is listed in `/evidence` with its sha256, so an attestation over
//! the document records what the verdict was based on.
//!
//! Team conventions read from MLflow tags (the model version's, else the
//! registered model's, else the run's; where they disagree all values are
//! kept in `/artifact/tag_conflicts`): `compliance.data_classification`,
//! `compliance.retention_days`,
//! `compliance.purpose`, `compliance.legal_basis`,
//! `compliance.logs_retention_days`, `compliance.lineage_retention_days`,
//! `compliance.documentation_retention_days`, `compliance.high_risk_system`,
//! and for `/governance` `compliance.owner`, `compliance.team`,
//! `compliance.intended_use`, `compliance.out_of_scope_uses` (`;` between
//! uses), `compliance.ai_act_risk_class`, `compliance.model_card_uri`;
//! and from DVC's `meta` of an output (in a `.dvc` file or `dvc.yaml`):
//! `classification`, `retention_days`, `pii_columns`, `purpose`,
//! `legal_basis`; and of the `dvc.yaml` artifact that is the promoted file,
//! the `/governance` fields no tag gives.
#![deny(missing_docs)]

mod dvc;
mod governance;
mod join;
mod lineage;
mod mlflow;
mod reports;
mod source;
mod storage;

use std::path::{Path, PathBuf};

use sealgate_core::{InputError, Sha256Digest};
use sealgate_metadata::CLASSIFICATIONS;
use serde_json::{Map, Value, json};

pub use mlflow::ModelSelector;
pub use source::{Evidence, MAX_SOURCE_BYTES};

use source::Reader;

/// Where to collect from. Every source is optional; at least one is needed.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Sources {
    /// A DVC project's root.
    pub dvc: Option<PathBuf>,
    /// A registered model in an MLflow file store.
    pub mlflow: Option<ModelSelector>,
    /// Evidently drift reports (JSON).
    pub evidently: Vec<PathBuf>,
    /// Storage and platform settings (see the `storage` module's table).
    pub storage: Vec<PathBuf>,
    /// OpenLineage RunEvents (JSON or JSON Lines).
    pub openlineage: Vec<PathBuf>,
    /// The serving image, `repo[:tag]@sha256:<hex>`.
    pub image: Option<String>,
    /// The artifact file itself (hashed, streaming, for its digest).
    pub artifact: Option<PathBuf>,
    /// Evidence paths are shown relative to this directory (where collect ran).
    pub base: PathBuf,
}

impl Sources {
    /// This, with `dvc` set.
    #[must_use]
    pub fn with_dvc(mut self, dvc: Option<PathBuf>) -> Self {
        self.dvc = dvc;
        self
    }

    /// This, with `mlflow` set.
    #[must_use]
    pub fn with_mlflow(mut self, mlflow: Option<ModelSelector>) -> Self {
        self.mlflow = mlflow;
        self
    }

    /// This, with `evidently` set.
    #[must_use]
    pub fn with_evidently(mut self, evidently: Vec<PathBuf>) -> Self {
        self.evidently = evidently;
        self
    }

    /// This, with `storage` set.
    #[must_use]
    pub fn with_storage(mut self, storage: Vec<PathBuf>) -> Self {
        self.storage = storage;
        self
    }

    /// This, with `openlineage` set.
    #[must_use]
    pub fn with_openlineage(mut self, openlineage: Vec<PathBuf>) -> Self {
        self.openlineage = openlineage;
        self
    }

    /// This, with `image` set.
    #[must_use]
    pub fn with_image(mut self, image: Option<String>) -> Self {
        self.image = image;
        self
    }

    /// This, with `artifact` set.
    #[must_use]
    pub fn with_artifact(mut self, artifact: Option<PathBuf>) -> Self {
        self.artifact = artifact;
        self
    }

    /// This, with `base` set.
    #[must_use]
    pub fn with_base(mut self, base: PathBuf) -> Self {
        self.base = base;
        self
    }
}

impl Sources {
    /// No source given?
    pub fn is_empty(&self) -> bool {
        self.dvc.is_none()
            && self.mlflow.is_none()
            && self.evidently.is_empty()
            && self.storage.is_empty()
            && self.openlineage.is_empty()
            && self.image.is_none()
            && self.artifact.is_none()
    }
}

/// Why collecting failed. Every message names the file (and the field).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// A source file could not be read (missing, a directory, too large).
    #[error(transparent)]
    Input(#[from] InputError),
    /// A source could not be opened.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The source as given.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A source file is not what its tool writes.
    #[error("{path}: {problem}")]
    Malformed {
        /// The file.
        path: String,
        /// Where in it, and what.
        problem: String,
    },
    /// What was asked for is not in the source (a model, version, alias).
    #[error("{0}")]
    Selection(String),
    /// A command-line value is wrong.
    #[error("{0}")]
    Argument(String),
}

/// The collected document and the files it came from.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The metadata document (`api_version` `sealgate/metadata/v1`).
    pub document: Value,
    /// Every file read, in reading order.
    pub evidence: Vec<Evidence>,
}

impl Collected {
    /// The document as pretty JSON with a trailing newline: the bytes a
    /// gate evaluates and a report's `metadata_sha256` covers.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Serialising a `Value` cannot fail: its keys are strings.
        let mut out = serde_json::to_vec_pretty(&self.document).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// Escape one JSON Pointer reference token.
pub(crate) fn pointer_escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A classification as the document spells it; anything else is an error,
/// since an unknown label must not read as "no requirement".
fn classification(value: &str, origin: &str) -> Result<String, CollectError> {
    let v = value.trim().to_ascii_lowercase();
    if CLASSIFICATIONS.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(CollectError::Malformed {
            path: origin.to_owned(),
            problem: format!(
                "classification `{value}` is not one of {}",
                CLASSIFICATIONS.join(", ")
            ),
        })
    }
}

/// `repo[:tag]@sha256:<64 hex>`, checked, as given.
fn image_ref(image: &str) -> Result<&str, CollectError> {
    // The OCI image spec's sha256 digest is lowercase hex: a registry
    // refuses `@sha256:ABC…`, and the same digest in two cases would be
    // two pins of one image.
    let pinned = image.rsplit_once("@sha256:").is_some_and(|(repo, d)| {
        !repo.is_empty() && source::is_hex(d, 64) && !d.bytes().any(|b| b.is_ascii_uppercase())
    });
    if pinned {
        Ok(image)
    } else {
        Err(CollectError::Argument(format!(
            "--image `{image}` is not pinned by digest: give it as repo@sha256:<64 lowercase hex> (e.g. from `docker buildx imagetools inspect`)"
        )))
    }
}

/// Collect the document from `sources`.
///
/// # Errors
///
/// A [`CollectError`] naming the file and field: a source unreadable or over its cap, malformed, or contradicting another in a way the document cannot hold (two documents of one kind for one bucket).
pub fn collect(sources: &Sources) -> Result<Collected, CollectError> {
    if sources.is_empty() {
        return Err(CollectError::Argument(
            "nothing to collect: give at least one source (--dvc, --mlflow, --evidently, --storage, --openlineage, --image, --artifact)".into(),
        ));
    }
    let mut reader = Reader::new(&sources.base);
    let dvc = sources
        .dvc
        .as_deref()
        .map(|d| dvc::collect(&mut reader, d))
        .transpose()?;
    let ml = sources
        .mlflow
        .as_ref()
        .map(|m| mlflow::collect(&mut reader, m))
        .transpose()?;
    let drift = sources
        .evidently
        .iter()
        .map(|f| reports::evidently(&mut reader, f))
        .collect::<Result<Vec<_>, _>>()?;
    let stores = storage::collect(&mut reader, &sources.storage)?;
    let lineage_events = sources
        .openlineage
        .iter()
        .map(|f| reports::openlineage(&mut reader, f))
        .collect::<Result<Vec<_>, _>>()?;
    let image = sources.image.as_deref().map(image_ref).transpose()?;

    let mut doc = Map::new();
    doc.insert("api_version".into(), json!("sealgate/metadata/v1"));
    let artifact = artifact(sources, ml.as_ref(), image, &reader)?;
    doc.insert("artifact".into(), Value::Object(artifact));
    if let Some(schema) = ml.as_ref().and_then(|m| m.schema.clone()) {
        doc.insert("schema".into(), schema);
    }
    if let Some(m) = &ml
        && !m.samples.is_empty()
    {
        doc.insert("samples".into(), Value::Array(m.samples.clone()));
    }
    let datasets = datasets(dvc.as_ref(), ml.as_ref(), &lineage_events)?;
    if !datasets.is_empty() {
        doc.insert("datasets".into(), Value::Array(datasets));
    }
    if !stores.stores.is_empty() {
        doc.insert("storage".into(), Value::Array(stores.stores));
    }
    let dvc_artifact = dvc_artifact_of(sources, ml.as_ref(), dvc.as_ref());
    if let Some(governance) = governance::section(ml.as_ref(), dvc_artifact)? {
        doc.insert("governance".into(), Value::Object(governance));
    }
    let retention = retention(ml.as_ref())?;
    if !retention.is_empty() {
        doc.insert("retention".into(), Value::Object(retention));
    }
    let lineage = lineage::section(dvc.as_ref(), ml.as_ref(), &lineage_events, image);
    if !lineage.is_empty() {
        doc.insert("lineage".into(), Value::Object(lineage));
    }
    if !drift.is_empty() {
        doc.insert("reports".into(), json!({"drift": drift}));
    }
    let mut platform = Map::new();
    if let Some(k) = stores.kubernetes_encryption {
        platform.insert("kubernetes".into(), json!({"encryption_configuration": k}));
    }
    if let Some(d) = stores.docker_daemon {
        platform.insert("docker".into(), json!({"daemon": d}));
    }
    if !platform.is_empty() {
        doc.insert("platform".into(), Value::Object(platform));
    }
    let evidence = reader.evidence;
    doc.insert(
        "evidence".into(),
        Value::Array(evidence.iter().map(Evidence::to_json).collect()),
    );
    Ok(Collected {
        document: Value::Object(doc),
        evidence,
    })
}

/// The DVC artifact (`dvc.yaml`'s `artifacts:`) that is the file being
/// promoted: the same file on disk, not a name that looks alike.
fn dvc_artifact_of<'a>(
    sources: &Sources,
    ml: Option<&mlflow::MlflowFacts>,
    dvc: Option<&'a dvc::DvcFacts>,
) -> Option<&'a dvc::DvcArtifact> {
    let (dvc, root) = (dvc?, sources.dvc.as_deref()?);
    let file = sources
        .artifact
        .clone()
        .or_else(|| ml.and_then(|m| m.model_file.clone()))?;
    let file = file.canonicalize().ok()?;
    dvc.artifacts
        .iter()
        .find(|a| root.join(&a.path).canonicalize().is_ok_and(|p| p == file))
}

/// `/artifact`: the registered model, else the file or image given; its
/// digest from the file that is promoted; the team's tags.
fn artifact(
    sources: &Sources,
    ml: Option<&mlflow::MlflowFacts>,
    image: Option<&str>,
    reader: &Reader,
) -> Result<Map<String, Value>, CollectError> {
    let mut artifact = ml.map(|m| m.artifact.clone()).unwrap_or_default();
    if artifact.is_empty() {
        let (kind, name) = match (&sources.artifact, image) {
            (Some(f), _) => (
                "other",
                f.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            (None, Some(img)) => ("image", img.split('@').next().unwrap_or(img).to_owned()),
            (None, None) => ("other", collection_name(sources)),
        };
        artifact.insert("kind".into(), json!(kind));
        artifact.insert("name".into(), json!(name));
    }
    if let Some(c) = artifact.get("classification").and_then(Value::as_str) {
        let c = classification(c, "mlflow tag compliance.data_classification")?;
        artifact.insert("classification".into(), json!(c));
    }
    let digest_file = sources
        .artifact
        .clone()
        .or_else(|| ml.and_then(|m| m.model_file.clone()));
    if let Some(file) = digest_file {
        let digest = hash_file(&file)?;
        artifact.insert("digest".into(), json!({"sha256": digest.to_string()}));
        artifact.insert("path".into(), json!(reader.shown(&file)));
    }
    if let Some(img) = image
        && artifact.get("kind").and_then(Value::as_str) == Some("image")
    {
        artifact.insert("uri".into(), json!(img));
    }
    // The model version's tag, else the registered model's, else the run's.
    if let Some(hr) = ml.and_then(|m| m.compliance_tag("compliance.high_risk_system")) {
        // Strict: a value read as "not high-risk" would waive the ten-year
        // documentation rule.
        let high_risk = match hr.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(CollectError::Malformed {
                    path: "mlflow tag compliance.high_risk_system".into(),
                    problem: format!("`{hr}` is not true or false"),
                });
            }
        };
        artifact.insert("high_risk_system".into(), json!(high_risk));
    }
    Ok(artifact)
}

/// `/datasets`: DVC's records, then MLflow's dataset records and
/// OpenLineage's inputs with a schema (so the PII policy reads their
/// columns and their PII field tags), each its own record, with DVC's hash
/// beside it and, for the same file, DVC's annotations (join.rs).
fn datasets(
    dvc: Option<&dvc::DvcFacts>,
    ml: Option<&mlflow::MlflowFacts>,
    events: &[reports::OpenLineageFacts],
) -> Result<Vec<Value>, CollectError> {
    let mut datasets: Vec<Value> = Vec::new();
    for ds in dvc.iter().flat_map(|d| d.datasets.iter()) {
        let mut ds = ds.clone();
        if let Some(c) = ds.get("classification").and_then(Value::as_str) {
            let origin = ds
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("dvc")
                .to_owned();
            ds["classification"] = json!(classification(c, &format!("{origin}: meta.classification"))?);
        }
        datasets.push(ds);
    }
    let dvc_datasets = datasets.clone();
    let dvc_hashes = dvc.map(|d| d.hashes.clone()).unwrap_or_default();
    let others = ml.iter().flat_map(|m| m.datasets.iter()).chain(
        events
            .iter()
            .flat_map(|e| e.inputs.iter())
            .filter(|d| d.get("columns").is_some()),
    );
    for ds in others {
        let mut ds = ds.clone();
        join::note_dvc_hash(&mut ds, &dvc_hashes);
        join::share_dvc_facts(&mut ds, &dvc_datasets);
        datasets.push(ds);
    }
    Ok(datasets)
}

/// `/retention`: the team's MLflow tags (the model version's, else the
/// registered model's, else the run's).
fn retention(ml: Option<&mlflow::MlflowFacts>) -> Result<Map<String, Value>, CollectError> {
    let tag = |k: &str| -> Option<String> { ml?.compliance_tag(k).map(str::to_owned) };
    let mut retention = Map::new();
    if let Some(days) = ml.and_then(|m| m.retention_days) {
        retention.insert("days".into(), json!(days));
        retention.insert("source".into(), json!("mlflow tag compliance.retention_days"));
    }
    for (t, key) in [
        ("compliance.purpose", "purpose"),
        ("compliance.legal_basis", "legal_basis"),
    ] {
        if let Some(v) = tag(t) {
            retention.insert(key.into(), json!(v));
        }
    }
    for (t, key) in [
        ("compliance.logs_retention_days", "logs_days"),
        ("compliance.lineage_retention_days", "lineage_days"),
        ("compliance.documentation_retention_days", "documentation_days"),
    ] {
        if let Some(v) = tag(t) {
            let days: u64 = v.trim().parse().map_err(|_| CollectError::Malformed {
                path: format!("mlflow tag {t}"),
                problem: format!("`{v}` is not a whole number of days"),
            })?;
            retention.insert(key.into(), json!(days));
        }
    }
    Ok(retention)
}

/// A name when nothing names the artifact: the DVC project's directory.
fn collection_name(sources: &Sources) -> String {
    sources
        .dvc
        .as_deref()
        .and_then(|d| d.canonicalize().ok())
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "artifact".into())
}

fn hash_file(path: &Path) -> Result<Sha256Digest, CollectError> {
    let unreadable = |reason: String| CollectError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let (file, _) = sealgate_core::open_regular(path).map_err(|e| match e {
        sealgate_core::InputError::NotAFile { .. } => unreadable("not a regular file".into()),
        other => unreadable(other.to_string()),
    })?;
    Sha256Digest::of_reader(file).map_err(|e| unreadable(e.to_string()))
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::{Path, PathBuf};

    /// The real tool output in `../shared/fixtures/real`.
    pub fn real(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/real")
            .join(rel)
    }

    /// Copy a fixture directory tree into `to` (to change one file of it).
    pub fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let dest = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_tree(&e.path(), &dest);
            } else {
                std::fs::copy(e.path(), dest).unwrap();
            }
        }
    }

    pub fn reader() -> crate::source::Reader {
        crate::source::Reader::new(Path::new("/nonexistent-base"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{copy_tree, real};

    fn sources() -> Sources {
        Sources {
            dvc: Some(real("dvc-project")),
            mlflow: Some(ModelSelector {
                store: real("mlflow3-mlruns"),
                name: "churn-model".into(),
                version: None,
                alias: Some("champion".into()),
            }),
            evidently: vec![real("evidently/drift_report_v07.json")],
            storage: std::fs::read_dir(real("cloud"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect(),
            base: real(""),
            ..Sources::default()
        }
    }

    #[test]
    fn sources_are_joined_and_kept_side_by_side() {
        let c = collect(&sources()).unwrap();
        let d = &c.document;
        assert_eq!(d["artifact"]["name"], "churn-model");
        assert_eq!(
            d["artifact"]["digest"]["sha256"],
            "631bad177267272b20cf98269ca44cd773add1d7b8226a2659c2ed9ba1b9c6ad"
        );
        // MLflow names the training data by path only: DVC's hash for that
        // path goes beside the record, never in its `hash` (a path is not a
        // version).
        let features = d["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "features")
            .unwrap();
        assert!(features.get("hash").is_none(), "{features}");
        assert_eq!(features["dvc_hash"]["md5"], "ee37d23327e5c829648877fb4ad4498e");
        assert_eq!(features["mlflow_digest"], "5459aec5");
        let inputs = d["lineage"]["inputs"].as_array().unwrap();
        assert!(inputs[0].get("hash").is_none(), "{}", inputs[0]);
        assert_eq!(inputs[0]["dvc_hash"]["md5"], "ee37d23327e5c829648877fb4ad4498e");
        // DVC's record of what the train stage read is an input of its own.
        let read_by_stage = inputs
            .iter()
            .find(|i| i["source"] == "dvc-project/dvc.lock" && i["uri"] == "data/features.csv")
            .unwrap();
        assert_eq!(read_by_stage["hash"]["md5"], "ee37d23327e5c829648877fb4ad4498e");
        // The run's data tag is a second record, matched to the file DVC
        // gives that hash.
        let tagged = inputs
            .iter()
            .find(|i| i["source"] == "mlflow tag data.dvc.md5")
            .unwrap();
        assert_eq!(tagged["uri"], "data/customers.csv");
        assert_eq!(d["lineage"]["pipeline"]["params"]["train"]["max_iter"], 200);
        assert_eq!(d["lineage"]["parameters"]["C"], "0.5");
        assert_eq!(d["retention"]["days"], 365);
        assert_eq!(d["storage"][0]["location"], "s3://acme-ml-artifacts");
        assert_eq!(d["reports"]["drift"].as_array().unwrap().len(), 1);
        // Evidence: every file read, relative to the base, with its hash.
        let ev = d["evidence"].as_array().unwrap();
        assert_eq!(ev.len(), c.evidence.len());
        assert!(
            ev.iter()
                .any(|e| e["path"] == "dvc-project/dvc.lock" && e["tool"] == "dvc")
        );
        assert!(ev.iter().any(|e| e["path"] == "cloud/s3_bucket_policy_tls.json"));
        let lock = std::fs::read(real("dvc-project/dvc.lock")).unwrap();
        let lock_ev = c
            .evidence
            .iter()
            .find(|e| e.path == "dvc-project/dvc.lock")
            .unwrap();
        assert_eq!(lock_ev.sha256, Sha256Digest::of_bytes(&lock));
    }

    #[test]
    fn a_disagreeing_run_tag_is_kept_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&real("mlflow3-mlruns"), dir.path());
        std::fs::write(
            dir.path()
                .join("358768659074516099/65788ebeec5e4c52b0d2dc9d15c5ff98/tags/data.dvc.md5"),
            "0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        let mut s = sources();
        s.mlflow.as_mut().unwrap().store = dir.path().to_owned();
        let d = collect(&s).unwrap().document;
        let tagged = d["lineage"]["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["source"] == "mlflow tag data.dvc.md5")
            .unwrap()
            .clone();
        assert_eq!(tagged["hash"]["md5"], "0123456789abcdef0123456789abcdef");
        assert!(
            tagged.get("uri").is_none(),
            "no DVC record has that hash: {tagged}"
        );
        assert_eq!(
            d["datasets"][0]["hash"]["md5"],
            "04f1fe7337c75fba118ed4fac9249ab2"
        );
    }

    #[test]
    fn team_tags_are_read_strictly() {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&real("mlflow3-mlruns"), dir.path());
        let tags = dir
            .path()
            .join("358768659074516099/65788ebeec5e4c52b0d2dc9d15c5ff98/tags");
        std::fs::write(tags.join("compliance.high_risk_system"), "true").unwrap();
        std::fs::write(tags.join("compliance.logs_retention_days"), "400").unwrap();
        let mut s = sources();
        s.mlflow.as_mut().unwrap().store = dir.path().to_owned();
        let d = collect(&s).unwrap().document;
        assert_eq!(d["artifact"]["high_risk_system"], true);
        assert_eq!(d["retention"]["logs_days"], 400);
        std::fs::write(tags.join("compliance.high_risk_system"), "yes").unwrap();
        let err = collect(&s).unwrap_err().to_string();
        assert!(
            err.contains("compliance.high_risk_system: `yes` is not true or false"),
            "{err}"
        );
        std::fs::write(tags.join("compliance.high_risk_system"), "false").unwrap();
        std::fs::write(tags.join("compliance.logs_retention_days"), "six months").unwrap();
        let err = collect(&s).unwrap_err().to_string();
        assert!(
            err.contains("`six months` is not a whole number of days"),
            "{err}"
        );
    }

    #[test]
    fn governance_comes_from_the_most_specific_tag_and_is_read_strictly() {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&real("mlflow3-mlruns"), dir.path());
        let run_tags = dir
            .path()
            .join("358768659074516099/65788ebeec5e4c52b0d2dc9d15c5ff98/tags");
        let version_tags = dir.path().join("models/churn-model/version-1/tags");
        let mut s = sources();
        s.mlflow.as_mut().unwrap().store = dir.path().to_owned();
        assert!(collect(&s).unwrap().document.get("governance").is_none());
        std::fs::write(run_tags.join("compliance.owner"), "whoever trained it").unwrap();
        std::fs::write(version_tags.join("compliance.owner"), "risk-ml-team").unwrap();
        std::fs::write(
            run_tags.join("compliance.intended_use"),
            "Rank customers by churn risk.",
        )
        .unwrap();
        std::fs::write(
            version_tags.join("compliance.out_of_scope_uses"),
            "credit decisions; pricing, discounts;;",
        )
        .unwrap();
        std::fs::write(version_tags.join("compliance.ai_act_risk_class"), " Limited ").unwrap();
        std::fs::write(
            version_tags.join("compliance.model_card_uri"),
            "https://models.example.com/churn-model/1",
        )
        .unwrap();
        let d = collect(&s).unwrap().document;
        let g = &d["governance"];
        assert_eq!(g["owner"], "risk-ml-team");
        assert_eq!(
            g["fact_sources"]["owner"],
            "mlflow model_version tag compliance.owner"
        );
        assert_eq!(g["intended_use"], "Rank customers by churn risk.");
        assert_eq!(
            g["fact_sources"]["intended_use"],
            "mlflow run tag compliance.intended_use"
        );
        assert_eq!(
            g["out_of_scope_uses"],
            json!(["credit decisions", "pricing, discounts"])
        );
        assert_eq!(g["ai_act_risk_class"], "limited");
        assert_eq!(g["model_card_uri"], "https://models.example.com/churn-model/1");
        // The version and the run disagree on the owner: kept for the lineage policy.
        let conflicts = d["artifact"]["tag_conflicts"].as_array().unwrap();
        assert!(
            conflicts.iter().any(|c| c["tag"] == "compliance.owner"),
            "{conflicts:?}"
        );
        std::fs::write(version_tags.join("compliance.ai_act_risk_class"), "low").unwrap();
        let err = collect(&s).unwrap_err().to_string();
        assert!(err.contains("`low` is not an EU AI Act risk class"), "{err}");
    }

    #[test]
    fn governance_comes_from_the_dvc_artifact_that_is_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("models")).unwrap();
        std::fs::write(root.join("models/churn.skops"), b"model bytes").unwrap();
        std::fs::write(root.join("models/other.skops"), b"another model").unwrap();
        let yaml = |class: &str| {
            format!(
                "artifacts:\n  churn-model:\n    path: models/churn.skops\n    type: model\n    meta:\n      \
                 owner: risk-ml-team\n      intended_use: Churn ranking.\n      out_of_scope_uses: credit decisions; pricing\n      \
                 ai_act_risk_class: {class}\n      model_card_uri: https://models.example.com/churn\n"
            )
        };
        std::fs::write(root.join("dvc.yaml"), yaml("Limited")).unwrap();
        let of = |file: &str| {
            Sources::default()
                .with_dvc(Some(root.to_owned()))
                .with_artifact(Some(root.join(file)))
        };
        let d = collect(&of("models/churn.skops")).unwrap().document;
        let g = &d["governance"];
        assert_eq!(g["owner"], "risk-ml-team");
        assert_eq!(g["out_of_scope_uses"], json!(["credit decisions", "pricing"]));
        assert_eq!(g["ai_act_risk_class"], "limited");
        assert!(
            g["fact_sources"]["owner"]
                .as_str()
                .unwrap()
                .ends_with("dvc.yaml: /artifacts/churn-model/meta/owner"),
            "{g}"
        );
        // Another file is not that artifact, whatever it is called.
        let d = collect(&of("models/other.skops")).unwrap().document;
        assert!(d.get("governance").is_none(), "{d}");
        std::fs::write(root.join("dvc.yaml"), yaml("low")).unwrap();
        let err = collect(&of("models/churn.skops")).unwrap_err().to_string();
        assert!(err.contains("`low` is not an EU AI Act risk class"), "{err}");
    }

    #[test]
    fn arguments_are_checked() {
        let err = collect(&Sources::default()).unwrap_err().to_string();
        assert!(err.contains("nothing to collect"), "{err}");
        let s = Sources {
            image: Some("ghcr.io/acme/churn:1.2".into()),
            ..Sources::default()
        };
        let err = collect(&s).unwrap_err().to_string();
        assert!(err.contains("is not pinned by digest"), "{err}");
        let upper = format!("ghcr.io/acme/churn@sha256:{}", "AB".repeat(32));
        let err = image_ref(&upper).unwrap_err().to_string();
        assert!(err.contains("64 lowercase hex"), "{err}");
        let pinned = format!("ghcr.io/acme/churn:1.2@sha256:{}", "ab".repeat(32));
        let d = collect(&Sources {
            image: Some(pinned.clone()),
            ..Sources::default()
        })
        .unwrap()
        .document;
        assert_eq!(d["artifact"]["kind"], "image");
        assert_eq!(d["artifact"]["name"], "ghcr.io/acme/churn:1.2");
        assert_eq!(d["lineage"]["environment"]["image"], pinned);
    }

    #[test]
    fn an_unknown_classification_is_an_error_not_a_lower_one() {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&real("dvc-project"), dir.path());
        let f = dir.path().join("data/customers.csv.dvc");
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(
            &f,
            text.replace("classification: confidential", "classification: Secret"),
        )
        .unwrap();
        let s = Sources {
            dvc: Some(dir.path().to_owned()),
            ..Sources::default()
        };
        let err = collect(&s).unwrap_err().to_string();
        assert!(
            err.contains("customers.csv.dvc: meta.classification: classification `Secret` is not one of"),
            "{err}"
        );
    }
}
