//! `sealgate policy new`: a policy crate that builds and passes its own tests
//! as it comes, to be edited into the policy you need.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// The template, compiled into the binary so it needs nothing at run time.
const TEMPLATE: [(&str, &str); 6] = [
    ("Cargo.toml", include_str!("../template/Cargo.toml.in")),
    ("src/lib.rs", include_str!("../template/src/lib.rs")),
    ("tests/cases.toml", include_str!("../template/tests/cases.toml")),
    (
        "tests/artifact.json",
        include_str!("../template/tests/artifact.json"),
    ),
    ("README.md", include_str!("../template/README.md.in")),
    (".gitignore", include_str!("../template/gitignore.in")),
];

/// The policy SDK and the contract, compiled in: a scaffold carries its own
/// copy (`sdk/`, a member of the policy's workspace), so it needs no
/// checkout and its pin does not depend on where anything is.
const VENDORED_SDK: [(&str, &str); 6] = [
    ("sdk/Cargo.toml", include_str!("../template/sdk/Cargo.toml.in")),
    ("sdk/src/lib.rs", include_str!("../../../policies/sdk/src/lib.rs")),
    (
        "sdk/src/metadata.rs",
        include_str!("../../../policies/sdk/src/metadata.rs"),
    ),
    (
        "sdk/src/report.rs",
        include_str!("../../../policies/sdk/src/report.rs"),
    ),
    (
        "sdk/src/limits.rs",
        include_str!("../../../policies/sdk/src/limits.rs"),
    ),
    ("sdk/wit/policy.wit", include_str!("../../../wit/policy.wit")),
];

/// The shipped policies' lock: a scaffold starts from the dependency
/// versions sealgate builds and tests with.
const POLICIES_LOCK: &str = include_str!("../../../policies/Cargo.lock");

/// Where a scaffold's SDK is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sdk {
    /// A copy inside the new crate (`sdk/`): stands alone, same pin
    /// wherever it is built.
    Vendored,
    /// This SDK crate (`policies/sdk` of a checkout), as a path dependency:
    /// the pin then depends on where it is (cargo names it by its path).
    Path(PathBuf),
}

/// The Rego template: a policy file and its cases; no build, no SDK.
const REGO_TEMPLATE: &[(&str, &str)] = &[
    ("policy.rego", include_str!("../template-rego/policy.rego")),
    (
        "tests/cases.toml",
        include_str!("../template-rego/tests/cases.toml"),
    ),
    (
        "tests/artifact.json",
        include_str!("../template-rego/tests/artifact.json"),
    ),
    ("README.md", include_str!("../template-rego/README.md.in")),
];

/// The Python template: `app.py` and its cases; the SDK and the contract
/// are supplied when it is built.
const PYTHON_TEMPLATE: &[(&str, &str)] = &[
    ("app.py", include_str!("../template-python/app.py")),
    (
        "tests/cases.toml",
        include_str!("../template-python/tests/cases.toml"),
    ),
    (
        "tests/artifact.json",
        include_str!("../template-python/tests/artifact.json"),
    ),
    ("README.md", include_str!("../template-python/README.md.in")),
    (".gitignore", include_str!("../template/gitignore.in")),
];

/// Create a Rego policy: `policy.rego` (every artifact carries the tags
/// the gate requires), its cases and a README; returns its directory.
///
/// # Errors
///
/// A [`ScaffoldError`]: a bad name, a directory that exists, or a file that
/// cannot be written.
pub fn new_rego_policy(name: &str, id: Option<&str>, dir: &Path) -> Result<PathBuf, ScaffoldError> {
    new_from(REGO_TEMPLATE, name, id, dir)
}

/// Create a Python policy: `app.py` (the same rule as the Rust and Rego
/// scaffolds), its cases and a README; returns its directory.
///
/// # Errors
///
/// As [`new_rego_policy`].
pub fn new_python_policy(name: &str, id: Option<&str>, dir: &Path) -> Result<PathBuf, ScaffoldError> {
    new_from(PYTHON_TEMPLATE, name, id, dir)
}

/// A usable name, and nothing at `dir` to overwrite.
fn may_create(name: &str, dir: &Path) -> Result<(), ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::BadName(name.to_owned()));
    }
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_owned()));
    }
    Ok(())
}

fn new_from(
    template: &[(&str, &str)],
    name: &str,
    id: Option<&str>,
    dir: &Path,
) -> Result<PathBuf, ScaffoldError> {
    may_create(name, dir)?;
    write_template(
        template,
        dir,
        &[("{{name}}", name), ("{{id}}", id.unwrap_or(name))],
    )?;
    Ok(dir.to_owned())
}

/// Write `template`'s files into `dir` (created), with `vars` replaced.
fn write_template(template: &[(&str, &str)], dir: &Path, vars: &[(&str, &str)]) -> Result<(), ScaffoldError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (file, text) in template {
        let path = dir.join(file);
        let text = vars.iter().fold((*text).to_owned(), |t, (k, v)| t.replace(k, v));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // Source files: the user's umask applies, and nothing existing is replaced.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(io(&path))?;
    }
    Ok(())
}

/// What to create.
#[derive(Debug, Clone)]
pub struct NewPolicy {
    /// Crate name and rule-id prefix: lowercase letters, digits and `-`.
    pub name: String,
    /// The policy's id (`INFO.id`). Default: `NAME`.
    pub id: Option<String>,
    /// The directory to create. Default: `./NAME`.
    pub dir: PathBuf,
    /// Where its SDK is.
    pub sdk: Sdk,
}

/// Why a policy could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScaffoldError {
    /// The name is not usable as a crate name and rule prefix.
    #[error(
        "`{0}` is not a policy name: use lowercase letters, digits and `-`, starting with a letter (e.g. `model-card`)"
    )]
    BadName(String),
    /// The target exists; nothing is overwritten.
    #[error("{}: already exists; choose another name or --dir (nothing was written)", .0.display())]
    Exists(PathBuf),
    /// The SDK is not where it was said to be.
    #[error(
        "{}: not the sealgate policy SDK (no Cargo.toml for sealgate-policy-sdk); pass --sdk with the path to policies/sdk of a sealgate checkout",
        .0.display()
    )]
    NoSdk(PathBuf),
    /// Writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|t| t.contains("name = \"sealgate-policy-sdk\""))
}

/// `to` relative to `from` (both absolute), so the crate can move with the
/// checkout; absolute when they share no root.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (f, t): (Vec<Component<'_>>, Vec<Component<'_>>) =
        (from.components().collect(), to.components().collect());
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return to.to_owned();
    }
    let mut rel: PathBuf = f[common..].iter().map(|_| "..").collect();
    rel.extend(&t[common..]);
    rel
}

/// Create the policy crate; returns its directory.
///
/// # Errors
///
/// A [`ScaffoldError`]: a bad name, a directory that exists, or a file that cannot be written.
pub fn new_policy(p: &NewPolicy) -> Result<PathBuf, ScaffoldError> {
    may_create(&p.name, &p.dir)?;
    let shared_sdk = match &p.sdk {
        Sdk::Vendored => None,
        Sdk::Path(sdk) => Some(
            sdk.canonicalize()
                .ok()
                .filter(|s| is_sdk(s))
                .ok_or_else(|| ScaffoldError::NoSdk(sdk.clone()))?,
        ),
    };
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Io { path, source }
    };
    std::fs::create_dir_all(&p.dir).map_err(io(&p.dir))?;
    let dir = p.dir.canonicalize().map_err(io(&p.dir))?;
    let id = p.id.clone().unwrap_or_else(|| p.name.clone());
    let sdk_path = match &shared_sdk {
        None => {
            // The SDK finds the contract in its own `wit/`.
            let sdk: Vec<(&str, String)> = VENDORED_SDK
                .iter()
                .map(|(file, text)| (*file, text.replace("path: \"../../wit\"", "path: \"wit\"")))
                .collect();
            let sdk: Vec<(&str, &str)> = sdk.iter().map(|(f, t)| (*f, t.as_str())).collect();
            write_template(&sdk, &dir, &[])?;
            "sdk".to_owned()
        }
        Some(sdk) => relative(&dir, sdk).display().to_string().replace('\\', "/"),
    };
    write_template(
        &TEMPLATE,
        &dir,
        &[("{{name}}", &p.name), ("{{id}}", &id), ("{{sdk}}", &sdk_path)],
    )?;
    // Start from the dependency versions the shipped policies are built and
    // tested with; the first build adds this crate to the lock.
    let target = dir.join("Cargo.lock");
    std::fs::write(&target, POLICIES_LOCK).map_err(io(&target))?;
    // Let cargo settle it (drop the other policies, add this one) without
    // changing a version, so `policy build --locked` accepts it.
    if !settle_lock(&dir) {
        // Best effort: the first build resolves from scratch instead.
        std::fs::remove_file(&target).map_err(io(&target))?;
    }
    Ok(dir)
}

/// `cargo metadata` rewrites the lock to match the manifest, keeping every
/// locked version it can; offline first, from the registry if it must.
fn settle_lock(dir: &Path) -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    [true, false].into_iter().any(|offline| {
        let mut cmd = std::process::Command::new(&cargo);
        cmd.args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if offline {
            cmd.arg("--offline");
        }
        cmd.status().is_ok_and(|s| s.success())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("model-card"));
        assert!(valid_name("pii2"));
        for bad in ["", "Model", "2fa", "a_b", "a-", "../x", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/w/main/policies/x"), Path::new("/w/main/policies/sdk")),
            PathBuf::from("../sdk")
        );
        assert_eq!(
            relative(Path::new("/tmp/x"), Path::new("/w/main/policies/sdk")),
            PathBuf::from("/w/main/policies/sdk")
        );
    }
}
