use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealgate_core::{InputError, SandboxLimits, Sha256Digest, read_bounded};
use wasmtime::component::{Component, HasSelf, Linker};

use crate::bindings::{v0_1, v0_2};
use crate::cache::PrecompiledCache;
use crate::error::LoadError;
use crate::module::{CacheStatus, Contract, PolicyModule, PolicyPre};
use crate::sandbox::{EPOCH_TICK, EvaluationSlots, HostState, add_virtual_monotonic_clock, wasmtime_config};

/// How a [`PolicyEngine`] is set up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// The loosest limits any evaluation may run under. Gate files can only
    /// tighten them. Default: [`SandboxLimits::default`].
    pub ceiling: SandboxLimits,
    /// Directory of precompiled components, or `None` to compile every time.
    /// Default: `None`. It must be writable only by the user running the gate:
    /// whoever can write it can run native code in the gate (see [`crate::cache`]).
    pub cache_dir: Option<PathBuf>,
    /// The file holding this user's key for the cache's entries (32 random
    /// bytes, created 0600 on first use). Default: `None`, meaning
    /// [`crate::default_cache_key_file`]. An entry without a valid tag under
    /// this key is never loaded.
    pub cache_key_file: Option<PathBuf>,
    /// Largest component file accepted, checked before hashing or compiling.
    /// Default: 32 MiB (the PII policy is about 200 KiB).
    pub max_component_bytes: u64,
    /// Most evaluations that run at once; more wait for a free slot. The
    /// pooling allocator reserves this many sandboxes, each with room for the
    /// ceiling's instances, memories and tables (see [`crate::sandbox`]).
    /// Default: twice the available cores, at least 8.
    pub max_concurrent_evaluations: usize,
}

impl EngineConfig {
    /// This, with `ceiling` set.
    #[must_use]
    pub fn with_ceiling(mut self, ceiling: SandboxLimits) -> Self {
        self.ceiling = ceiling;
        self
    }

    /// This, with `cache_dir` set.
    #[must_use]
    pub fn with_cache_dir(mut self, cache_dir: Option<PathBuf>) -> Self {
        self.cache_dir = cache_dir;
        self
    }

    /// This, with `cache_key_file` set.
    #[must_use]
    pub fn with_cache_key_file(mut self, cache_key_file: Option<PathBuf>) -> Self {
        self.cache_key_file = cache_key_file;
        self
    }

    /// This, with `max_component_bytes` set.
    #[must_use]
    pub fn with_max_component_bytes(mut self, max_component_bytes: u64) -> Self {
        self.max_component_bytes = max_component_bytes;
        self
    }

    /// This, with `max_concurrent_evaluations` set.
    #[must_use]
    pub fn with_max_concurrent_evaluations(mut self, max_concurrent_evaluations: usize) -> Self {
        self.max_concurrent_evaluations = max_concurrent_evaluations;
        self
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ceiling: SandboxLimits::default(),
            cache_dir: None,
            cache_key_file: None,
            max_component_bytes: 32 << 20,
            max_concurrent_evaluations: std::thread::available_parallelism()
                .map_or(8, |n| n.get() * 2)
                .max(8),
        }
    }
}

/// Compiles policy components and hands out [`PolicyModule`]s that evaluate
/// them. One per process is enough; it is cheap to clone and `Send + Sync`.
#[derive(Clone)]
pub struct PolicyEngine {
    pub(crate) engine: wasmtime::Engine,
    linker: Arc<Linker<HostState>>,
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) slots: Arc<EvaluationSlots>,
    cache: Option<Arc<PrecompiledCache>>,
}

/// WASI interfaces the deny-all context answers. Importing them is allowed
/// because standard toolchains import them even for pure computation; what
/// they grant is nothing (see `sandbox::deny_all_wasi`).
const WASI_INTERFACES: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
];

/// Is `import` (e.g. `wasi:io/streams@0.2.3`) something the host offers?
fn is_offered(import: &str) -> bool {
    let (name, version) = import.split_once('@').unwrap_or((import, ""));
    match name {
        "sealgate:policy/host" | "sealgate:policy/types" => Contract::from_version(version).is_some(),
        _ => version.starts_with("0.2.") && WASI_INTERFACES.contains(&name),
    }
}

impl PolicyEngine {
    /// Set up the engine: fuel metering and epoch interruption always on, the
    /// pooling allocator sized from the ceiling (`sandbox::wasmtime_config`),
    /// and a background thread that advances the epoch every 10 ms for as
    /// long as the engine (or any module compiled by it) lives.
    ///
    /// # Errors
    ///
    /// [`LoadError::Engine`] when wasmtime cannot be set up with this configuration (a zero evaluation count, the pooling allocator's reservations).
    pub fn new(config: EngineConfig) -> Result<Self, LoadError> {
        if config.max_concurrent_evaluations == 0 {
            return Err(LoadError::Engine(
                "max_concurrent_evaluations must be at least 1".into(),
            ));
        }
        let wasm = wasmtime_config(&config.ceiling, config.max_concurrent_evaluations);
        let engine = wasmtime::Engine::new(&wasm).map_err(|e| LoadError::Engine(format!("{e:#}")))?;

        let mut linker = Linker::<HostState>::new(&engine);
        // Every contract version the host loads; the two define distinct
        // instance names (`sealgate:policy/host@0.1.0`, `@0.2.0`).
        v0_2::GatePolicy::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)
            .and_then(|()| v0_1::GatePolicy::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s))
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .and_then(|()| add_virtual_monotonic_clock(&mut linker))
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;

        spawn_epoch_ticker(engine.weak());
        let cache = config.cache_dir.as_deref().map(|d| {
            let key_file = config
                .cache_key_file
                .clone()
                .or_else(crate::cache::default_cache_key_file);
            Arc::new(PrecompiledCache::new(d, key_file, &engine))
        });
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            slots: Arc::new(EvaluationSlots::new(config.max_concurrent_evaluations)),
            config: Arc::new(config),
            cache,
        })
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Load a policy component from `path`, refusing it unless its SHA-256 is
    /// `pin`. The pin is checked before anything parses or compiles the file.
    ///
    /// # Errors
    ///
    /// [`LoadError::Read`] if the file cannot be read or is larger than
    /// [`EngineConfig::max_component_bytes`], [`LoadError::PinMismatch`], or
    /// why the component cannot be used (not a component, a forbidden
    /// import, another world).
    pub fn load(&self, path: &Path, pin: &Sha256Digest) -> Result<PolicyModule, LoadError> {
        let bytes = read_bounded(path, self.config.max_component_bytes)?;
        self.load_bytes(path, bytes, pin)
    }

    /// Load a policy component from memory (a registry, a test, an
    /// embedding application), refusing it unless its SHA-256 is `pin`: the
    /// pin is checked before anything parses or compiles the bytes, and the
    /// size cap is the one files have. `origin` names the bytes in errors
    /// and [`PolicyModule::path`].
    ///
    /// # Errors
    ///
    /// As [`PolicyEngine::load`]; a component over the size cap is
    /// [`LoadError::Read`] ([`InputError::TooLarge`]).
    pub fn load_bytes(
        &self,
        origin: &Path,
        bytes: Vec<u8>,
        pin: &Sha256Digest,
    ) -> Result<PolicyModule, LoadError> {
        if bytes.len() as u64 > self.config.max_component_bytes {
            return Err(LoadError::Read(InputError::TooLarge {
                path: origin.to_owned(),
                limit: self.config.max_component_bytes,
            }));
        }
        let actual = Sha256Digest::of_bytes(&bytes);
        if actual != *pin {
            return Err(LoadError::PinMismatch {
                path: origin.to_owned(),
                expected: *pin,
                actual,
            });
        }
        self.load_verified(origin, bytes, actual)
    }

    /// Load a component without a pin, for `sealgate policy inspect` and for
    /// computing a pin. Never use this for a gate.
    ///
    /// # Errors
    ///
    /// As [`PolicyEngine::load`], without the pin.
    pub fn load_unpinned(&self, path: &Path) -> Result<PolicyModule, LoadError> {
        let bytes = read_bounded(path, self.config.max_component_bytes)?;
        let digest = Sha256Digest::of_bytes(&bytes);
        self.load_verified(path, bytes, digest)
    }

    fn load_verified(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        digest: Sha256Digest,
    ) -> Result<PolicyModule, LoadError> {
        if !has_component_header(&bytes) {
            return Err(LoadError::NotAComponent {
                path: path.to_owned(),
                reason: describe_non_component(&bytes),
            });
        }
        let not_component = |e: wasmtime::Error| LoadError::NotAComponent {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        };
        let (component, cache_status) = match &self.cache {
            Some(cache) => cache.load_or_compile(&digest, &bytes).map_err(not_component)?,
            None => (
                Component::new(&self.engine, &bytes).map_err(not_component)?,
                CacheStatus::Disabled,
            ),
        };
        drop(bytes);

        let ty = component.component_type();
        let imports: Vec<String> = ty
            .imports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        if let Some(bad) = imports.iter().find(|i| !is_offered(i)) {
            return Err(LoadError::ForbiddenImport {
                path: path.to_owned(),
                import: bad.clone(),
            });
        }
        let wrong_world = |e: wasmtime::Error| LoadError::WrongWorld {
            path: path.to_owned(),
            reason: format!("{e:#}"),
        };
        // The version of the `policy` export decides which contract the
        // component is held to; none exported: report against the current one.
        let contract = Contract::ALL
            .into_iter()
            .find(|c| exports.iter().any(|e| *e == c.policy_interface()))
            .unwrap_or(Contract::CURRENT);
        // One contract per component: importing another version's host
        // interface than the one it exports for is refused, not mixed.
        if let Some(other) = imports.iter().find(|i| {
            i.starts_with("sealgate:policy/") && i.split_once('@').map(|(_, v)| v) != Some(contract.version())
        }) {
            return Err(LoadError::WrongWorld {
                path: path.to_owned(),
                reason: format!(
                    "it exports the sealgate:policy@{} contract but imports `{other}`: build it against one version",
                    contract.version()
                ),
            });
        }
        let pre = self.linker.instantiate_pre(&component).map_err(wrong_world)?;
        let pre = match contract {
            Contract::V0_1 => PolicyPre::V0_1(v0_1::GatePolicyPre::new(pre).map_err(wrong_world)?),
            Contract::V0_2 => PolicyPre::V0_2(v0_2::GatePolicyPre::new(pre).map_err(wrong_world)?),
        };
        let uses_wasi = imports.iter().any(|i| i.starts_with("wasi:"));
        PolicyModule::new(
            self.clone(),
            path.to_owned(),
            digest,
            pre,
            imports,
            exports,
            uses_wasi,
            cache_status,
        )
    }
}

/// Cheap structural check so that a core module or random bytes get a plain
/// message instead of a parser error from deep inside wasmtime.
fn has_component_header(bytes: &[u8]) -> bool {
    // Magic `\0asm`, then the component-model version/layer word 0x0d 0x00 0x01 0x00.
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [0x0d, 0x00, 0x01, 0x00]
}

fn describe_non_component(bytes: &[u8]) -> String {
    if bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [0x01, 0x00, 0x00, 0x00] {
        "this is a core WebAssembly module, not a component; build it with `sealgate policy build` \
         (or `wasm-tools component new`)"
            .into()
    } else if bytes.len() < 8 {
        format!("only {} bytes: truncated or empty", bytes.len())
    } else {
        "no WebAssembly component header (is this the right file?)".into()
    }
}

fn spawn_epoch_ticker(weak: wasmtime::EngineWeak) {
    // Detached on purpose: it ends by itself within one tick of the last
    // handle to the engine being dropped.
    let _ = std::thread::Builder::new()
        .name("sealgate-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_only_the_contract_and_wasi_p2() {
        assert!(is_offered("sealgate:policy/host@0.1.0"));
        assert!(is_offered("sealgate:policy/host@0.2.0"));
        assert!(is_offered("wasi:io/streams@0.2.3"));
        assert!(!is_offered("sealgate:policy/host@0.3.0"));
        assert!(!is_offered("sealgate:policy/host@0.2.1"));
        assert!(!is_offered("wasi:http/outgoing-handler@0.2.3"));
        assert!(!is_offered("wasi:io/streams@0.3.0"));
        assert!(!is_offered("evil:net/socket"));
    }

    #[test]
    fn recognises_components_and_core_modules() {
        assert!(has_component_header(b"\0asm\x0d\x00\x01\x00"));
        assert!(!has_component_header(b"\0asm\x01\x00\x00\x00"));
        assert!(describe_non_component(b"\0asm\x01\x00\x00\x00").contains("core WebAssembly module"));
        assert!(describe_non_component(b"\0as").contains("truncated"));
    }
}
