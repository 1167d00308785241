//! DVC: a project directory's `dvc.lock` (the pipeline as it last ran),
//! `*.dvc` files (tracked data, with the `desc`, `type`, `labels` and `meta`
//! teams use for classification, retention and PII annotations) and
//! `params.yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::CollectError;
use crate::source::{Parsed, Reader, is_hex};

/// What a DVC project says.
#[derive(Debug, Default)]
pub struct DvcFacts {
    /// `/lineage/pipeline`: the stages of `dvc.lock` with their hashes.
    pub pipeline: Option<Value>,
    /// `/datasets` entries, one per output of a `.dvc` file.
    pub datasets: Vec<Value>,
    /// `params.yaml`, as written.
    pub params: Option<Value>,
    /// Every path DVC records a content hash for → that hash (md5).
    pub hashes: BTreeMap<String, String>,
    /// `/lineage/inputs` entries: every dependency of a `dvc.lock` stage,
    /// once per path, with its hash (md5; an external dependency DVC
    /// identifies by ETag or checksum keeps that, which is not a content
    /// hash).
    pub inputs: Vec<Value>,
    /// The paths in `inputs`, so each is listed once without a scan.
    input_paths: std::collections::BTreeSet<String>,
    /// `dvc.yaml`'s `artifacts:` (DVC's model registry entries), with the
    /// governance facts their `meta` states.
    pub artifacts: Vec<DvcArtifact>,
}

/// One entry of a `dvc.yaml`'s `artifacts:` section.
#[derive(Debug, Clone)]
pub struct DvcArtifact {
    /// Its path, relative to the DVC project's root.
    pub path: String,
    /// `meta`'s governance fields (`owner`, `team`, `intended_use`,
    /// `out_of_scope_uses`, `ai_act_risk_class`, `model_card_uri`), each
    /// with where it was read (`dvc.yaml: /artifacts/NAME/meta/owner`).
    pub governance: Vec<(&'static str, Value, String)>,
}

/// The `meta` keys of a DVC artifact that are `/governance` fields.
pub const GOVERNANCE_META: [&str; 6] = [
    "owner",
    "team",
    "intended_use",
    "out_of_scope_uses",
    "ai_act_risk_class",
    "model_card_uri",
];

/// `.dvc` files are searched this deep, and this many at most.
const MAX_DEPTH: usize = 12;
const MAX_DVC_FILES: usize = 10_000;

pub(crate) fn collect(reader: &mut Reader, dir: &Path) -> Result<DvcFacts, CollectError> {
    if !dir.is_dir() {
        return Err(CollectError::Unreadable {
            path: reader.shown(dir),
            reason: "not a directory (pass the DVC project's root, where dvc.yaml or .dvc/ is)".into(),
        });
    }
    let mut facts = DvcFacts::default();
    // Every dvc.lock of the project: the root's and each sub-project's
    // (DVC keeps a dvc.lock beside each dvc.yaml; paths in it are relative
    // to its directory, stages addressed as `sub/dvc.yaml:stage`).
    let mut locks = Vec::new();
    find_files(dir, 0, &mut locks, &|name| name == "dvc.lock");
    locks.sort();
    let mut stages = Vec::new();
    for lock in locks {
        let rel_dir = relative_dir(&lock, dir);
        let parsed = reader.yaml(&lock, "dvc")?;
        stages.extend(pipeline_stages(&parsed, &rel_dir, &mut facts)?);
        // The outputs `dvc.yaml` annotates (`desc`, `type`, `labels`,
        // `meta`, as a .dvc file's outs): datasets, hashed by the lock.
        let definition = lock.with_file_name("dvc.yaml");
        if definition.is_file() {
            let parsed = reader.yaml(&definition, "dvc")?;
            annotated_stage_outputs(&parsed, &rel_dir, &mut facts)?;
            declared_artifacts(&parsed, &rel_dir, &mut facts)?;
        }
    }
    // A dvc.yaml that only declares artifacts has no lock beside it.
    let root_definition = dir.join("dvc.yaml");
    if root_definition.is_file() && !dir.join("dvc.lock").is_file() {
        let parsed = reader.yaml(&root_definition, "dvc")?;
        declared_artifacts(&parsed, "", &mut facts)?;
    }
    if !stages.is_empty() {
        facts.pipeline = Some(json!({"system": "dvc", "stages": stages}));
    }
    let params = dir.join("params.yaml");
    if params.is_file() {
        facts.params = Some(reader.yaml(&params, "dvc")?.value);
    }
    // The default remote (`.dvc/config`'s `core.remote`): where `dvc push`
    // stores each tracked file, by its md5.
    let config = dir.join(".dvc").join("config");
    let remote = if config.is_file() {
        default_remote(&reader.text(&config, "dvc")?)
    } else {
        None
    };
    let mut files = Vec::new();
    find_files(dir, 0, &mut files, &|name| name.ends_with(".dvc"));
    if files.len() > MAX_DVC_FILES {
        return Err(CollectError::Unreadable {
            path: reader.shown(dir),
            reason: format!("more than {MAX_DVC_FILES} .dvc files; point --dvc at the project root"),
        });
    }
    files.sort();
    for file in files {
        let parsed = reader.yaml(&file, "dvc")?;
        let rel_dir = relative_dir(&file, dir);
        // `dvc import-url` / `dvc import`: where the data came from.
        let imported = imported_from(&parsed)?;
        for (i, out) in parsed.opt_array("/outs")?.iter().enumerate() {
            let mut ds = tracked_output(&parsed, &format!("/outs/{i}"), out, &rel_dir)?;
            if let Some(from) = &imported {
                ds["imported_from"] = from.clone();
            }
            // DVC 3's remote layout: `<url>/files/md5/<2 hex>/<30 hex>[.dir]`.
            if let (Some(url), Some(md5)) = (&remote, ds.pointer("/hash/md5").and_then(Value::as_str))
                && md5.len() >= 32
            {
                ds["remote_uri"] = json!(format!(
                    "{}/files/md5/{}/{}",
                    url.trim_end_matches('/'),
                    &md5[..2],
                    &md5[2..]
                ));
            }
            if let (Some(p), Some(md5)) = (
                ds["path"].as_str(),
                ds.pointer("/hash/md5").and_then(Value::as_str),
            ) {
                facts.hashes.entry(p.to_owned()).or_insert_with(|| md5.to_owned());
            }
            facts.datasets.push(ds);
        }
    }
    if facts.pipeline.is_none() && facts.datasets.is_empty() && facts.artifacts.is_empty() {
        return Err(CollectError::Unreadable {
            path: reader.shown(dir),
            reason: "no dvc.lock, no .dvc files and no artifacts in dvc.yaml: not a DVC project, or nothing was run or tracked yet"
                .into(),
        });
    }
    Ok(facts)
}

/// Files under `dir` whose name `wanted` accepts, outside `.dvc/` and `.git/`.
fn find_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>, wanted: &dyn Fn(&str) -> bool) {
    if depth > MAX_DEPTH || out.len() > MAX_DVC_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // DVC's own cache and config, and git's, hold no tracked outputs.
        if name == ".dvc" || name == ".git" {
            continue;
        }
        // `file_type` does not follow symlinks: a link loop cannot trap the walk.
        match entry.file_type() {
            Ok(t) if t.is_dir() => find_files(&path, depth + 1, out, wanted),
            Ok(t) if t.is_file() && wanted(&name) => out.push(path),
            _ => {}
        }
    }
}

/// The URL of the default remote in a `.dvc/config` (configobj INI:
/// `[core] remote = NAME`, `['remote "NAME"'] url = …`).
fn default_remote(config: &str) -> Option<String> {
    let mut section = String::new();
    let mut default = None;
    let mut urls = BTreeMap::new();
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.trim_matches(|c| matches!(c, '[' | ']' | '\'')).to_owned();
        } else if let Some((key, value)) = line.split_once('=') {
            let (key, value) = (key.trim(), value.trim().to_owned());
            if section == "core" && key == "remote" {
                default = Some(value);
            } else if let Some(name) = section
                .strip_prefix("remote \"")
                .and_then(|n| n.strip_suffix('"'))
                && key == "url"
            {
                urls.insert(name.to_owned(), value);
            }
        }
    }
    urls.remove(&default?)
}

/// `file`'s directory relative to the project root `dir` (`""` at the root).
fn relative_dir(file: &Path, dir: &Path) -> String {
    file.parent()
        .and_then(|p| p.strip_prefix(dir).ok())
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default()
}

/// `path` relative to the project root, for a path relative to `rel_dir`.
fn under(rel_dir: &str, path: &str) -> String {
    if rel_dir.is_empty() || path.contains("://") || path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{rel_dir}/{path}")
    }
}

/// The source of an imported output: `deps[0]` of a `.dvc` file written by
/// `dvc import-url` (`path`: the URL) or `dvc import` (`repo.url`,
/// `repo.rev_lock`, and `path` inside that repository).
fn imported_from(file: &Parsed) -> Result<Option<Value>, CollectError> {
    let Some(dep) = file.opt_array("/deps")?.first() else {
        return Ok(None);
    };
    let mut from = Map::new();
    if let Some(p) = dep.get("path").and_then(Value::as_str) {
        from.insert("path".into(), json!(p));
    }
    for (key, field) in [("url", "/repo/url"), ("rev", "/repo/rev_lock")] {
        if let Some(v) = dep.pointer(field).and_then(Value::as_str) {
            from.insert(key.into(), json!(v));
        }
    }
    for key in ["md5", "etag", "checksum"] {
        if let Some(v) = dep.get(key).and_then(Value::as_str) {
            from.insert(key.into(), json!(v));
        }
    }
    Ok((!from.is_empty()).then_some(Value::Object(from)))
}

/// `dvc.lock` (schema 2.0): `stages.<name>.{cmd, deps, outs, params}`, its
/// paths made relative to the project root (`rel_dir` is the lock's).
fn pipeline_stages(lock: &Parsed, rel_dir: &str, facts: &mut DvcFacts) -> Result<Vec<Value>, CollectError> {
    match lock.opt_scalar("/schema")? {
        Some(v) if v == "2.0" => {}
        Some(v) => {
            return Err(lock.problem(
                "/schema",
                format!("dvc.lock schema `{v}` is not one sealgate reads (2.0)"),
            ));
        }
        None => {
            return Err(lock.problem(
                "/schema",
                "missing: a DVC 1.x lock file; regenerate it with DVC 2 or later (`dvc repro`)",
            ));
        }
    }
    let mut stages = Vec::new();
    for (name, _) in lock.opt_object("/stages")?.into_iter().flatten() {
        let base = format!("/stages/{}", crate::pointer_escape(name));
        let mut stage = Map::new();
        let shown = if rel_dir.is_empty() {
            name.clone()
        } else {
            format!("{rel_dir}/dvc.yaml:{name}")
        };
        stage.insert("name".into(), json!(shown));
        if let Some(cmd) = lock.value.pointer(&format!("{base}/cmd")) {
            // A stage's cmd is a string or a list of strings.
            stage.insert("cmd".into(), cmd.clone());
        }
        for kind in ["deps", "outs"] {
            let mut files = Vec::new();
            for i in 0..lock.opt_array(&format!("{base}/{kind}"))?.len() {
                let ptr = format!("{base}/{kind}/{i}");
                let path = under(rel_dir, lock.req_str(&format!("{ptr}/path"))?);
                let path = path.as_str();
                let mut file = Map::new();
                file.insert("path".into(), json!(path));
                let md5 = lock.opt_str(&format!("{ptr}/md5"))?;
                if let Some(md5) = md5 {
                    file.insert("md5".into(), json!(md5));
                    facts
                        .hashes
                        .entry(path.to_owned())
                        .or_insert_with(|| md5.to_owned());
                }
                if let Some(size) = lock.opt_u64(&format!("{ptr}/size"))? {
                    file.insert("size".into(), json!(size));
                }
                if let Some(n) = lock.opt_u64(&format!("{ptr}/nfiles"))? {
                    file.insert("nfiles".into(), json!(n));
                }
                if kind == "deps" {
                    dependency_input(lock, &ptr, path, md5, &shown, facts)?;
                }
                files.push(Value::Object(file));
            }
            stage.insert(kind.into(), Value::Array(files));
        }
        if let Some(params) = lock.opt_object(&format!("{base}/params"))? {
            stage.insert("params".into(), Value::Object(params.clone()));
        }
        stages.push(Value::Object(stage));
    }
    Ok(stages)
}

/// A stage's dependency as a lineage input, once per path: what the stage
/// read, identified by content (md5), or for an external dependency by what
/// DVC recorded for it (an S3 ETag, an HTTP checksum: not content hashes).
fn dependency_input(
    lock: &Parsed,
    ptr: &str,
    path: &str,
    md5: Option<&str>,
    stage: &str,
    facts: &mut DvcFacts,
) -> Result<(), CollectError> {
    if !facts.input_paths.insert(path.to_owned()) {
        return Ok(());
    }
    let mut input = Map::new();
    input.insert("name".into(), json!(path.rsplit('/').next().unwrap_or(path)));
    input.insert("uri".into(), json!(path));
    if let Some(md5) = md5 {
        let bare = md5.strip_suffix(".dir").unwrap_or(md5);
        if !is_hex(bare, 32) {
            return Err(lock.problem(&format!("{ptr}/md5"), format!("`{md5}` is not an md5 (32 hex)")));
        }
        input.insert("hash".into(), json!({"md5": md5}));
    }
    for key in ["etag", "checksum"] {
        if let Some(v) = lock.opt_str(&format!("{ptr}/{key}"))? {
            input.insert(format!("dvc_{key}"), json!(v));
        }
    }
    input.insert("stage".into(), json!(stage));
    input.insert("source".into(), json!(lock.shown));
    facts.inputs.push(Value::Object(input));
    Ok(())
}

/// `dvc.yaml`: the outputs of its stages written as `- path: {desc, type,
/// labels, meta, …}` become datasets, hashed by the lock beside it. A plain
/// `- path` output says nothing a dataset record would add.
fn annotated_stage_outputs(
    definition: &Parsed,
    rel_dir: &str,
    facts: &mut DvcFacts,
) -> Result<(), CollectError> {
    for (name, _) in definition.opt_object("/stages")?.into_iter().flatten() {
        let base = format!("/stages/{}/outs", crate::pointer_escape(name));
        for (i, out) in definition.opt_array(&base)?.iter().enumerate() {
            let Some((path, annotation)) = out.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            let annotated = annotation.as_object().is_some_and(|a| {
                ["desc", "type", "labels", "meta"]
                    .iter()
                    .any(|k| a.contains_key(*k))
            });
            if !annotated {
                continue;
            }
            let ptr = format!("{base}/{i}/{}", crate::pointer_escape(path));
            let full = under(rel_dir, path);
            let mut ds = Map::new();
            ds.insert("name".into(), json!(full.rsplit('/').next().unwrap_or(&full)));
            ds.insert("path".into(), json!(full));
            if let Some(md5) = facts.hashes.get(&full) {
                ds.insert("hash".into(), json!({"md5": md5}));
            }
            annotations(definition, &ptr, &mut ds)?;
            ds.insert("source".into(), json!(definition.shown));
            facts.datasets.push(Value::Object(ds));
        }
    }
    Ok(())
}

/// `dvc.yaml`'s `artifacts: {NAME: {path, type, desc, labels, meta}}`: the
/// governance fields of each one's `meta`, checked for type (a list of
/// uses may also be one string, `;` between them).
fn declared_artifacts(definition: &Parsed, rel_dir: &str, facts: &mut DvcFacts) -> Result<(), CollectError> {
    for (name, _) in definition.opt_object("/artifacts")?.into_iter().flatten() {
        let ptr = format!("/artifacts/{}", crate::pointer_escape(name));
        let path = under(rel_dir, definition.req_str(&format!("{ptr}/path"))?);
        let mut governance = Vec::new();
        for key in GOVERNANCE_META {
            let at = format!("{ptr}/meta/{key}");
            let value = if key == "out_of_scope_uses" {
                match definition.value.pointer(&at) {
                    None => None,
                    Some(Value::String(s)) => Some(json!(
                        s.split(';')
                            .map(str::trim)
                            .filter(|u| !u.is_empty())
                            .collect::<Vec<_>>()
                    )),
                    Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                        Some(Value::Array(items.clone()))
                    }
                    Some(_) => {
                        return Err(definition
                            .problem(&at, "must be a list of uses (or one string, `;` between them)"));
                    }
                }
            } else {
                definition.opt_str(&at)?.map(|s| json!(s.trim()))
            };
            if let Some(value) = value {
                governance.push((key, value, format!("{}: {at}", definition.shown)));
            }
        }
        facts.artifacts.push(DvcArtifact { path, governance });
    }
    Ok(())
}

/// One output of a `.dvc` file as a dataset.
fn tracked_output(file: &Parsed, ptr: &str, out: &Value, rel_dir: &str) -> Result<Value, CollectError> {
    if !out.is_object() {
        return Err(file.problem(ptr, "an output must be a mapping"));
    }
    let path = file.req_str(&format!("{ptr}/path"))?;
    let full = if rel_dir.is_empty() {
        path.to_owned()
    } else {
        format!("{rel_dir}/{path}")
    };
    let name = full.rsplit('/').next().unwrap_or(&full);
    let mut ds = Map::new();
    ds.insert("name".into(), json!(name));
    ds.insert("path".into(), json!(full));
    if let Some(md5) = file.opt_str(&format!("{ptr}/md5"))? {
        let bare = md5.strip_suffix(".dir").unwrap_or(md5);
        if !is_hex(bare, 32) {
            return Err(file.problem(&format!("{ptr}/md5"), format!("`{md5}` is not an md5 (32 hex)")));
        }
        ds.insert("hash".into(), json!({"md5": md5}));
    }
    if let Some(size) = file.opt_u64(&format!("{ptr}/size"))? {
        ds.insert("size_bytes".into(), json!(size));
    }
    if let Some(n) = file.opt_u64(&format!("{ptr}/nfiles"))? {
        ds.insert("nfiles".into(), json!(n));
    }
    annotations(file, ptr, &mut ds)?;
    ds.insert("source".into(), json!(file.shown));
    Ok(Value::Object(ds))
}

/// DVC's annotations of an output (`desc`, `type`, `labels`, `meta`) at
/// `ptr`, in a .dvc file or dvc.yaml alike.
fn annotations(file: &Parsed, ptr: &str, ds: &mut Map<String, Value>) -> Result<(), CollectError> {
    if let Some(desc) = file.opt_str(&format!("{ptr}/desc"))? {
        ds.insert("description".into(), json!(desc));
    }
    if let Some(t) = file.opt_str(&format!("{ptr}/type"))? {
        ds.insert("dvc_type".into(), json!(t));
    }
    let labels = file.opt_array(&format!("{ptr}/labels"))?;
    if !labels.is_empty() {
        let labels: Vec<&str> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.as_str()
                    .ok_or_else(|| file.problem(&format!("{ptr}/labels/{i}"), "a label must be a string"))
            })
            .collect::<Result<_, _>>()?;
        ds.insert("labels".into(), json!(labels));
    }
    // `meta` is free-form in DVC; these keys are the team conventions
    // sealgate's policies read, checked for type so a typo is not silence.
    let meta = format!("{ptr}/meta");
    if let Some(c) = file.opt_str(&format!("{meta}/classification"))? {
        ds.insert("classification".into(), json!(c));
    }
    if let Some(d) = file.opt_u64(&format!("{meta}/retention_days"))? {
        ds.insert("retention_days".into(), json!(d));
    }
    for key in ["purpose", "legal_basis"] {
        if let Some(v) = file.opt_str(&format!("{meta}/{key}"))? {
            ds.insert(key.into(), json!(v));
        }
    }
    let pii = file.opt_array(&format!("{meta}/pii_columns"))?;
    if !pii.is_empty() {
        if pii.iter().any(|c| !c.is_string()) {
            return Err(file.problem(&format!("{meta}/pii_columns"), "must be a list of column names"));
        }
        ds.insert("pii_columns".into(), Value::Array(pii.to_vec()));
    }
    if let Some(m) = file.opt_object(&meta)? {
        ds.insert("meta".into(), Value::Object(m.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{copy_tree, reader, real};

    #[test]
    fn the_default_remote_is_read_from_the_config() {
        let config = "[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://acme-ml-artifacts/dvcstore\n['remote \"backup\"']\n    url = gs://acme-backup/dvc\n";
        assert_eq!(
            default_remote(config).as_deref(),
            Some("s3://acme-ml-artifacts/dvcstore")
        );
        assert_eq!(default_remote("[core]\n    analytics = false\n"), None);
    }

    #[test]
    fn reads_the_real_project() {
        let mut r = reader();
        let facts = collect(&mut r, &real("dvc-project")).unwrap();
        let p = facts.pipeline.unwrap();
        assert_eq!(p["stages"][0]["name"], "prepare");
        assert_eq!(p["stages"][0]["deps"][0]["path"], "data/customers.csv");
        assert_eq!(
            p["stages"][0]["deps"][0]["md5"],
            "04f1fe7337c75fba118ed4fac9249ab2"
        );
        assert_eq!(p["stages"][1]["params"]["params.yaml"]["train"]["C"], 0.5);
        // The annotated .dvc file: meta becomes the fields policies read.
        let customers = &facts.datasets[0];
        assert_eq!(customers["path"], "data/customers.csv");
        assert_eq!(customers["classification"], "confidential");
        assert_eq!(customers["retention_days"], 365);
        assert_eq!(
            customers["pii_columns"],
            serde_json::json!(["email", "ssn", "phone"])
        );
        assert_eq!(customers["labels"], serde_json::json!(["pii", "gdpr"]));
        // A tracked directory keeps DVC's `.dir` manifest hash and file count.
        let docs = &facts.datasets[1];
        assert_eq!(docs["hash"]["md5"], "6ff0ea064bdb1d3a537e2ee151aa13f7.dir");
        assert_eq!(docs["nfiles"], 2);
        assert_eq!(facts.params.unwrap()["prepare"]["drop_columns"][0], "email");
        assert_eq!(
            facts.hashes["data/features.csv"],
            "ee37d23327e5c829648877fb4ad4498e"
        );
        // Each stage's dependencies are lineage inputs, once per path, with
        // the hash the stage read.
        let inputs: Vec<(&str, &str)> = facts
            .inputs
            .iter()
            .map(|i| (i["uri"].as_str().unwrap(), i["hash"]["md5"].as_str().unwrap()))
            .collect();
        assert_eq!(
            inputs,
            [
                ("data/customers.csv", "04f1fe7337c75fba118ed4fac9249ab2"),
                ("src/prepare.py", "1b16259593c505e22cf1d4dc112ec784"),
                ("data/features.csv", "ee37d23327e5c829648877fb4ad4498e"),
                ("src/train.py", "8f6cd96bdf11d3aa495f1e22a96cedc4"),
            ]
        );
        assert_eq!(facts.inputs[2]["stage"], "train");
        // Every file read is evidence: dvc.lock, dvc.yaml, params.yaml,
        // .dvc/config (it names the remote), two .dvc files.
        assert_eq!(r.evidence.len(), 6);
    }

    #[test]
    fn malformed_files_are_named_with_the_field() {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&real("dvc-project"), dir.path());
        let dvc_file = dir.path().join("data/customers.csv.dvc");
        let text = std::fs::read_to_string(&dvc_file).unwrap();
        std::fs::write(
            &dvc_file,
            text.replace("retention_days: 365", "retention_days: a year"),
        )
        .unwrap();
        let err = collect(&mut reader(), dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("customers.csv.dvc: /outs/0/meta/retention_days: must be a whole number"),
            "{err}"
        );

        std::fs::write(&dvc_file, "outs: [\n").unwrap();
        let err = collect(&mut reader(), dir.path()).unwrap_err().to_string();
        assert!(err.contains("customers.csv.dvc: invalid YAML"), "{err}");

        std::fs::write(&dvc_file, text).unwrap();
        std::fs::write(dir.path().join("dvc.lock"), "stages:\n  train:\n    cmd: x\n").unwrap();
        let err = collect(&mut reader(), dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("dvc.lock: /schema: missing: a DVC 1.x lock file"),
            "{err}"
        );

        std::fs::write(
            dir.path().join("dvc.lock"),
            "schema: '2.0'\nstages:\n  train:\n    deps:\n    - md5: abc\n",
        )
        .unwrap();
        let err = collect(&mut reader(), dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("dvc.lock: /stages/train/deps/0/path: missing (a string)"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_a_bare_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&real("dvc-project"), dir.path());
        let lock = dir.path().join("dvc.lock");
        let text = std::fs::read_to_string(&lock).unwrap();
        std::fs::write(
            &lock,
            text.replace(
                "    cmd: python src/train.py\n",
                "    cmd: python src/train.py\n    frozen: true\n    new_dvc_field: {x: 1}\n",
            ),
        )
        .unwrap();
        assert!(collect(&mut reader(), dir.path()).is_ok());

        let empty = tempfile::tempdir().unwrap();
        let err = collect(&mut reader(), empty.path()).unwrap_err().to_string();
        assert!(err.contains("not a DVC project"), "{err}");
        let err = collect(&mut reader(), &empty.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a directory"), "{err}");
    }
}
