//! Python policies: `app.py` (exporting `Policy`, see `policies/sdk-python`)
//! built by componentize-py with the flags that give a component the host
//! runs: the contract and the SDK supplied from this binary, WASI stubbed
//! out (`--stub-wasi`: the component imports nothing but the host
//! interface), only the policy's own directory on the Python path.
//!
//! componentize-py's output is not byte-reproducible (the same source builds
//! to a new sha256 each time: randomness, clocks and allocator state of the
//! build-time interpreter are snapshotted into the component;
//! bytecodealliance/componentize-py#247), so a Python policy is pinned by
//! the file that was reviewed and tested, and the build says which
//! toolchain made it.

use std::path::{Path, PathBuf};
use std::process::Command;

use sealgate_core::{Sha256Digest, write_atomically_readable};

use crate::{BuildError, BuildOptions, BuiltPolicy};

/// The componentize-py release sealgate is tested with (`pip install
/// componentize-py==0.25.1`).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The Python SDK, supplied at build time as the `sealgate_policy` package.
const SDK: &str = include_str!("../../../policies/sdk-python/sealgate_policy/__init__.py");
/// The contract.
const WIT: &str = include_str!("../../../wit/policy.wit");

/// A directory with `app.py` and no `Cargo.toml` is a Python policy.
pub fn is_python_policy(dir: &Path) -> bool {
    dir.join("app.py").is_file() && !dir.join("Cargo.toml").exists()
}

/// The componentize-py to run: `$SEALGATE_COMPONENTIZE_PY`, else
/// `componentize-py` on the `PATH`.
pub fn componentize_py() -> PathBuf {
    std::env::var_os("SEALGATE_COMPONENTIZE_PY")
        .map_or_else(|| PathBuf::from("componentize-py"), PathBuf::from)
}

/// `componentize-py --version`, e.g. `componentize-py 0.25.1`.
///
/// # Errors
///
/// [`BuildError::Toolchain`] when it cannot be run, saying how to install it.
pub fn toolchain_version() -> Result<String, BuildError> {
    let tool = componentize_py();
    let missing = |reason: String| BuildError::Toolchain {
        tool: tool.display().to_string(),
        reason: format!(
            "{reason}; install it with `pip install componentize-py=={COMPONENTIZE_PY_VERSION}` \
             (or name it in SEALGATE_COMPONENTIZE_PY)"
        ),
    };
    let out = Command::new(&tool)
        .arg("--version")
        .output()
        .map_err(|e| missing(format!("cannot run it ({e})")))?;
    if !out.status.success() {
        return Err(missing(format!(
            "`--version` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Build the Python policy in `dir` into `opts.out_dir/<dir name>.wasm`.
///
/// # Errors
///
/// [`BuildError::Toolchain`] when componentize-py is missing or fails (its
/// output kept), [`BuildError::Io`] when files cannot be written.
pub fn build(dir: &Path, opts: &BuildOptions) -> Result<BuiltPolicy, BuildError> {
    let version = toolchain_version()?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BuildError::Io { path, source }
    };
    let dir = dir.canonicalize().map_err(io(dir))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "policy".to_owned());
    let work = tempfile::tempdir().map_err(io(Path::new("(temporary directory)")))?;
    let wit = work.path().join("wit");
    let sdk = work.path().join("sdk/sealgate_policy");
    for (path, text) in [(wit.join("policy.wit"), WIT), (sdk.join("__init__.py"), SDK)] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    let component = work.path().join("component.wasm");
    let out = Command::new(componentize_py())
        .arg("--quiet")
        .arg("--wit-path")
        .arg(&wit)
        .args(["--world", "gate-policy", "componentize", "app", "--stub-wasi"])
        .arg("--python-path")
        .arg(&dir)
        .arg("--python-path")
        .arg(work.path().join("sdk"))
        .arg("--output")
        .arg(&component)
        // Only the policy's directory and the SDK: not whatever the
        // caller's virtualenv holds.
        .env_remove("VIRTUAL_ENV")
        .env("PIPENV_ACTIVE", "")
        .output()
        .map_err(|e| BuildError::Toolchain {
            tool: componentize_py().display().to_string(),
            reason: format!("cannot run it: {e}"),
        })?;
    if !out.status.success() {
        return Err(BuildError::Toolchain {
            tool: version,
            reason: format!(
                "building {} failed:\n{}{}",
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    let bytes = std::fs::read(&component).map_err(io(&component))?;
    std::fs::create_dir_all(&opts.out_dir).map_err(io(&opts.out_dir))?;
    let path = opts.out_dir.join(format!("{name}.wasm"));
    write_atomically_readable(&path, &bytes).map_err(io(&path))?;
    Ok(BuiltPolicy {
        package: name,
        path,
        sha256: Sha256Digest::of_bytes(&bytes),
        unreproducible_toolchain: Some(version),
    })
}
