//! Build a Rust policy crate into a sealgate policy component.
//!
//! `cargo build --release` for a WebAssembly target in a separate target
//! directory (so it never fights the host build for Cargo's lock), then, for
//! `wasm32-unknown-unknown`, wrap the core module into a component with
//! `wit-component` (the library behind `wasm-tools component new`), using the
//! component type that `wit-bindgen` embedded in the module. For
//! `wasm32-wasip2`, rustc's output already is a component.
//!
//! Builds are reproducible: paths are remapped so the component's bytes, and
//! so its pinned sha256, do not depend on where the source or Cargo's registry
//! sit, and `--locked` is used whenever the workspace has a `Cargo.lock`.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod python;
pub mod scaffold;

use sealgate_core::{Sha256Digest, write_atomically_readable};

/// Targets a policy can be built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Plain WebAssembly; imports only the sealgate contract. The default.
    Wasm32UnknownUnknown,
    /// WASI preview 2; the host answers WASI with a context that grants nothing.
    Wasm32Wasip2,
}

impl Target {
    /// The rustc target triple.
    pub fn triple(self) -> &'static str {
        match self {
            Self::Wasm32UnknownUnknown => "wasm32-unknown-unknown",
            Self::Wasm32Wasip2 => "wasm32-wasip2",
        }
    }
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "wasm32-unknown-unknown" => Ok(Self::Wasm32UnknownUnknown),
            "wasm32-wasip2" => Ok(Self::Wasm32Wasip2),
            _ => Err(format!(
                "unsupported target `{s}`: use wasm32-unknown-unknown or wasm32-wasip2"
            )),
        }
    }
}

/// How to build.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BuildOptions {
    /// Target to compile for.
    pub target: Target,
    /// Cargo target directory. Default: `target/` of the policy's workspace.
    pub target_dir: Option<PathBuf>,
    /// Where the component is written as `<package>.wasm`.
    pub out_dir: PathBuf,
    /// Print cargo's progress to stderr (otherwise it is captured and shown
    /// only on failure).
    pub verbose: bool,
}

impl BuildOptions {
    /// Build for `target` into `out_dir`, in the crate's own target
    /// directory, quietly.
    pub fn new(target: Target, out_dir: PathBuf) -> Self {
        Self {
            target,
            target_dir: None,
            out_dir,
            verbose: false,
        }
    }

    /// This, with `target_dir` set.
    #[must_use]
    pub fn with_target_dir(mut self, target_dir: Option<PathBuf>) -> Self {
        self.target_dir = target_dir;
        self
    }

    /// This, with `verbose` set.
    #[must_use]
    pub fn with_verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }
}

/// A component written by [`build_policy`].
#[derive(Debug, Clone)]
pub struct BuiltPolicy {
    /// The package name.
    pub package: String,
    /// The component file.
    pub path: PathBuf,
    /// Its sha256: the pin to put in a gate file.
    pub sha256: Sha256Digest,
    /// The toolchain that built it, when its output is not reproducible
    /// (`componentize-py 0.25.1`): the pin is then that of this file, not
    /// of the source.
    pub unreproducible_toolchain: Option<String>,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `cargo` could not be started.
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    /// `cargo metadata` failed or gave something unexpected.
    #[error("{}: not a policy crate: {reason}", dir.display())]
    NotAPolicyCrate {
        /// The directory given.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `cargo build` failed.
    #[error("building {package} for {target} failed:\n{output}{hint}")]
    Compile {
        /// The package.
        package: String,
        /// The target triple.
        target: &'static str,
        /// What cargo printed.
        output: String,
        /// A hint when the target is not installed.
        hint: String,
    },
    /// The compiled module could not be turned into a component.
    #[error("{}: cannot make a component of it: {reason}", module.display())]
    Componentize {
        /// The core module.
        module: PathBuf,
        /// What wit-component said.
        reason: String,
    },
    /// An external toolchain (componentize-py) is missing or failed.
    #[error("{tool}: {reason}")]
    Toolchain {
        /// The tool.
        tool: String,
        /// What went wrong, with its output.
        reason: String,
    },
    /// Reading or writing files failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Build the policy in `crate_dir` into a component in `opts.out_dir`: a
/// Rust crate (`Cargo.toml`), or a Python policy (`app.py`, no
/// `Cargo.toml`) with componentize-py.
///
/// # Errors
///
/// A [`BuildError`]: no Cargo.toml, cargo failing (its output kept), or the module not becoming a component.
pub fn build_policy(crate_dir: &Path, opts: &BuildOptions) -> Result<BuiltPolicy, BuildError> {
    if python::is_python_policy(crate_dir) {
        return python::build(crate_dir, opts);
    }
    let meta = crate_metadata(crate_dir)?;
    let target_dir = opts
        .target_dir
        .clone()
        .unwrap_or_else(|| meta.workspace_root.join("target"));
    let triple = opts.target.triple();

    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg(triple)
        .arg("--manifest-path")
        .arg(&meta.manifest_path)
        .arg("--target-dir")
        .arg(&target_dir);
    if meta.workspace_root.join("Cargo.lock").is_file() {
        cargo.arg("--locked");
    }
    // Only our flags: an outer cargo's (e.g. when run from `cargo test`) would
    // change the output and so the pin.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        cargo.env_remove(var);
    }
    cargo.env(
        "CARGO_ENCODED_RUSTFLAGS",
        remap_flags(&meta.workspace_root, &meta.outside_path_deps).join("\x1f"),
    );
    let output = if opts.verbose {
        cargo.status().map(|status| std::process::Output {
            status,
            stdout: vec![],
            stderr: vec![],
        })
    } else {
        cargo.output()
    }
    .map_err(BuildError::Cargo)?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr).into_owned();
        let hint = if text.contains("may not be installed") || text.contains("can't find crate for `core`") {
            format!("\nhint: install the target with `rustup target add {triple}`")
        } else {
            String::new()
        };
        return Err(BuildError::Compile {
            package: meta.package,
            target: triple,
            output: text,
            hint,
        });
    }

    let module_path = target_dir
        .join(triple)
        .join("release")
        .join(format!("{}.wasm", meta.lib_name));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BuildError::Io { path, source }
    };
    let module = std::fs::read(&module_path).map_err(io(&module_path))?;
    let component = match opts.target {
        Target::Wasm32Wasip2 => module,
        Target::Wasm32UnknownUnknown => componentize(&module).map_err(|reason| BuildError::Componentize {
            module: module_path.clone(),
            reason,
        })?,
    };

    std::fs::create_dir_all(&opts.out_dir).map_err(io(&opts.out_dir))?;
    let out = opts.out_dir.join(format!("{}.wasm", meta.package));
    // A component is meant to be shared (pinned, copied, served): 0644.
    write_atomically_readable(&out, &component).map_err(io(&out))?;
    Ok(BuiltPolicy {
        package: meta.package,
        path: out,
        sha256: Sha256Digest::of_bytes(&component),
        unreproducible_toolchain: None,
    })
}

/// Wrap a core module carrying wit-bindgen's component type into a component.
///
/// # Errors
///
/// wit-component's message when the module does not implement the contract's world.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(module)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("{e:#}"))
}

/// Path remappings that keep build paths out of the component, so its pin
/// does not depend on where anything was checked out: cargo's home, the
/// policy's workspace, and each path dependency outside it (e.g. the SDK of
/// a policy kept in its own repository) as `/deps/NAME`.
fn remap_flags(workspace_root: &Path, outside_path_deps: &[(String, PathBuf)]) -> Vec<String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut flags = Vec::new();
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.push(format!(
        "--remap-path-prefix={}=/policy",
        workspace_root.display()
    ));
    for (name, dir) in outside_path_deps {
        flags.push(format!("--remap-path-prefix={}=/deps/{name}", dir.display()));
    }
    flags
}

struct CrateMetadata {
    package: String,
    lib_name: String,
    manifest_path: PathBuf,
    workspace_root: PathBuf,
    /// Path dependencies outside the workspace: (name, directory).
    outside_path_deps: Vec<(String, PathBuf)>,
}

fn crate_metadata(crate_dir: &Path) -> Result<CrateMetadata, BuildError> {
    let not_policy = |reason: String| BuildError::NotAPolicyCrate {
        dir: crate_dir.to_owned(),
        reason,
    };
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(not_policy("no Cargo.toml".into()));
    }
    let manifest = manifest.canonicalize().map_err(|e| not_policy(e.to_string()))?;
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .map_err(BuildError::Cargo)?;
    if !out.status.success() {
        return Err(not_policy(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| not_policy(format!("cargo metadata: {e}")))?;
    let workspace_root = PathBuf::from(meta["workspace_root"].as_str().unwrap_or_default());
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
        .ok_or_else(|| not_policy("cargo metadata does not list this package".into()))?;
    let lib = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .ok_or_else(|| not_policy("no cdylib target: add `[lib] crate-type = [\"cdylib\"]`".into()))?;
    let mut outside_path_deps: Vec<(String, PathBuf)> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["dependencies"].as_array().into_iter().flatten())
        .filter_map(|d| Some((d["name"].as_str()?.to_owned(), PathBuf::from(d["path"].as_str()?))))
        .filter(|(_, dir)| !dir.starts_with(&workspace_root))
        .collect();
    outside_path_deps.sort();
    outside_path_deps.dedup();
    Ok(CrateMetadata {
        package: package["name"].as_str().unwrap_or_default().to_owned(),
        lib_name: lib["name"].as_str().unwrap_or_default().replace('-', "_"),
        manifest_path: manifest,
        workspace_root,
        outside_path_deps,
    })
}
