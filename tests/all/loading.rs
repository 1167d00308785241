//! Loading a component: the pin first, then structure, then imports.

use sealgate::{Contract, LoadError, Sha256Digest};

use crate::support::*;

/// A component made from WIT alone (no toolchain): `world` from `extra_wit`,
/// every export a trap. Used for components we must refuse.
fn component_from_wit(extra_wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    // Both contract versions, for components of either (or of both, to refuse).
    resolve.push_dir(repo("wit")).expect("wit/");
    resolve.push_dir(repo("wit/v0.1.0")).expect("wit/v0.1.0/");
    let pkg = resolve.push_str("extra.wit", extra_wit).expect("extra wit");
    let world = resolve.select_world(&[pkg], Some(world)).expect("world");
    let mut module = wit_component::dummy_module(
        &resolve,
        world,
        wit_parser::ManglingAndAbi::Legacy(wit_parser::LiftLowerAbi::Sync),
    );
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
        false,
    )
    .expect("embed");
    sealgate_policy_build::componentize(&module).expect("componentize")
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn wrong_pin_is_refused_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    // Garbage with a wrong pin: had anything parsed or compiled it first, the
    // error would be about its structure. It must be about the pin.
    let garbage = write(
        dir.path(),
        "garbage.wasm",
        b"\0asm\x0d\0\x01\0 definitely not a component",
    );
    let pin: Sha256Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
        .parse()
        .unwrap();
    let err = engine().load(&garbage, &pin).err().expect("refused");
    assert!(matches!(err, LoadError::PinMismatch { .. }), "{err}");

    // Through the CLI: the real PII component, one byte changed after pinning.
    let g = &guests().pii;
    let mut bytes = std::fs::read(&g.path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = write(dir.path(), "pii.wasm", &bytes);
    let gate = write_gate(dir.path(), &tampered, &g.sha256, "{}", "");
    let out = check(&gate, &clean_metadata(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("refusing to compile") && err.contains(&g.sha256.to_string()),
        "{err}"
    );
    assert!(
        stdout(&out).is_empty(),
        "no verdict for a gate that failed to load"
    );
}

/// The embedding API takes bytes from anywhere (a registry, a store): the
/// same caps and the same pin, checked before anything parses them.
#[test]
fn components_and_gates_from_memory_are_capped_and_pinned_like_files() {
    use sealgate::{EngineConfig, Gate, GateConfig, GateConfigError, GateError, InputError, PolicyEngine};
    use std::path::Path;

    let g = &guests().pii;
    let bytes = std::fs::read(&g.path).unwrap();
    // Over the engine's component cap: refused unread, whatever its pin.
    let small = PolicyEngine::new(EngineConfig::default().with_max_component_bytes(1024)).unwrap();
    let err = small
        .load_bytes(Path::new("memory:pii.wasm"), bytes.clone(), &g.sha256)
        .err()
        .expect("refused");
    assert!(
        matches!(err, LoadError::Read(InputError::TooLarge { limit: 1024, .. })),
        "{err}"
    );
    // Another real component under this one's pin: refused by the pin.
    let impostor = std::fs::read(&guests().impostor.path).unwrap();
    let err = engine()
        .load_bytes(Path::new("memory:pii.wasm"), impostor.clone(), &g.sha256)
        .err()
        .expect("refused");
    assert!(matches!(err, LoadError::PinMismatch { .. }), "{err}");
    assert!(err.to_string().starts_with("memory:pii.wasm: sha256 is"), "{err}");

    // A gate from text: capped like a gate file, and its resolver's bytes
    // pinned.
    let origin = Path::new("memory:release.toml");
    let huge = format!("# {}\n", "x".repeat(2 << 20));
    assert!(matches!(
        GateConfig::from_toml_str(&huge, origin),
        Err(GateConfigError::Read(InputError::TooLarge { .. }))
    ));
    let text = format!(
        "api-version = \"sealgate/v1\"\nname = \"release\"\n[[policies]]\nmodule = \"pii.wasm\"\nsha256 = \"{}\"\n",
        g.sha256
    );
    let from = |component: Vec<u8>| {
        let config = GateConfig::from_toml_str(&text, origin).unwrap();
        Gate::from_config(engine(), config, origin, move |path, _| {
            assert_eq!(path, Path::new("pii.wasm"));
            Ok(component.clone())
        })
    };
    match from(impostor) {
        Err(GateError::Load {
            error: LoadError::PinMismatch { .. },
            ..
        }) => {}
        other => panic!("expected a pin mismatch, got {:?}", other.err()),
    }
    let gate = from(bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(gate.policies()[0].module.info().id, "sealgate.pii");
}

#[test]
fn unexpected_import_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = component_from_wit(
        "package evil:net@1.0.0;\n\
         interface socket { connect: func(host: string) -> bool; }\n\
         world evil-policy { include sealgate:policy/gate-policy@0.1.0; import socket; }",
        "evil-policy",
    );
    let path = write(dir.path(), "evil.wasm", &bytes);
    let pin = Sha256Digest::of_bytes(&bytes);
    let err = engine().load(&path, &pin).err().expect("refused");
    assert!(
        matches!(&err, LoadError::ForbiddenImport { import, .. } if import == "evil:net/socket@1.0.0"),
        "{err}"
    );

    let gate = write_gate(dir.path(), &path, &pin, "{}", "");
    let out = check(&gate, &clean_metadata(), &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("imports `evil:net/socket@1.0.0`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn wasi_import_outside_p2_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = component_from_wit(
        "package wasi:http@0.2.3;\n\
         interface outgoing-handler { handle: func(url: string) -> string; }\n\
         world http-policy { include sealgate:policy/gate-policy@0.1.0; import outgoing-handler; }",
        "http-policy",
    );
    let path = write(dir.path(), "http.wasm", &bytes);
    let err = engine()
        .load(&path, &Sha256Digest::of_bytes(&bytes))
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("wasi:http/outgoing-handler@0.2.3"),
        "{err}"
    );
}

#[test]
fn component_whose_info_traps_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    // The contract's own world, of each version, every export `unreachable`.
    for version in ["0.1.0", "0.2.0"] {
        let bytes = component_from_wit(
            &format!("package test:empty;\nworld w {{ include sealgate:policy/gate-policy@{version}; }}"),
            "w",
        );
        let path = write(dir.path(), "trap.wasm", &bytes);
        let err = engine()
            .load(&path, &Sha256Digest::of_bytes(&bytes))
            .err()
            .expect("refused");
        assert!(matches!(err, LoadError::Info { .. }), "{version}: {err}");
        assert!(err.to_string().contains("unreachable"), "{version}: {err}");
    }
}

/// A component is held to one contract version: the one its `policy`
/// export names. Importing the other version's host interface is refused
/// before anything runs, not linked.
#[test]
fn a_component_mixing_two_contract_versions_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (import, export) in [("0.1.0", "0.2.0"), ("0.2.0", "0.1.0")] {
        let bytes = component_from_wit(
            &format!(
                "package test:mixed;\nworld w {{ import sealgate:policy/host@{import}; \
                 export sealgate:policy/policy@{export}; }}"
            ),
            "w",
        );
        let path = write(dir.path(), "mixed.wasm", &bytes);
        let err = engine()
            .load(&path, &Sha256Digest::of_bytes(&bytes))
            .err()
            .expect("refused");
        assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!(
                "exports the sealgate:policy@{export} contract but imports `sealgate:policy/host@{import}`"
            )),
            "{err}"
        );
    }
}

/// Components built against contract 0.1.0 (before the rule catalogue)
/// still load and run, declare no catalogue, and may report any rule id;
/// `policy test --coverage` says why it has nothing to compare with.
#[test]
fn a_contract_0_1_component_still_loads_runs_and_declares_no_catalogue() {
    let g = &guests().contract_v0_1;
    let module = engine()
        .load(&g.path, &g.sha256)
        .expect("a 0.1.0 component loads");
    assert_eq!(module.info().contract, Contract::V0_1);
    assert!(module.info().rules.is_empty());
    assert_eq!(module.exports(), ["sealgate:policy/policy@0.1.0"]);
    let eval = module.evaluate(
        r#"{"api_version":"sealgate/metadata/v1","artifact":{"kind":"model","name":"m"}}"#,
        "{}",
        &sealgate::EvaluationContext::now("old-gate"),
        &sealgate::SandboxLimits::default(),
    );
    let verdict = eval.verdict.expect("evaluates");
    assert_eq!(verdict.findings[0].rule_id, "anything.goes");
    assert!(
        eval.log.iter().any(|l| l.message == "gate old-gate"),
        "{:?}",
        eval.log
    );

    let out = sealgate(&["policy", "inspect", g.path.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        text.contains("contract sealgate:policy@0.1.0\nrules    none declared"),
        "{text}"
    );

    let quality = repo("policies/quality");
    let out = sealgate(&[
        "policy",
        "test",
        quality.to_str().unwrap(),
        "--module",
        g.path.to_str().unwrap(),
        "--coverage",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("test.contract-v0-1 declares none (contract sealgate:policy@0.1.0)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn component_of_another_world_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = component_from_wit(
        "package test:other;\ninterface api { run: func() -> u32; }\nworld other { export api; }",
        "other",
    );
    let path = write(dir.path(), "other.wasm", &bytes);
    let err = engine()
        .load(&path, &Sha256Digest::of_bytes(&bytes))
        .err()
        .expect("refused");
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
}

#[test]
fn core_modules_truncated_and_random_files_are_refused_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "core.wasm",
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module, not a component",
        ),
        ("empty.wasm", Vec::new(), "truncated or empty"),
        (
            "random.wasm",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            "no WebAssembly component header",
        ),
        (
            "truncated.wasm",
            std::fs::read(&guests().pii.path).unwrap()[..1000].to_vec(),
            "not a valid WebAssembly component",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = write(dir.path(), name, &bytes);
        let err = engine()
            .load(&path, &Sha256Digest::of_bytes(&bytes))
            .err()
            .expect("refused");
        let msg = err.to_string();
        assert!(msg.contains(name) && msg.contains(expected), "{name}: {msg}");
    }
}

#[test]
fn oversized_component_is_refused_before_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        sealgate::PolicyEngine::new(sealgate::EngineConfig::default().with_max_component_bytes(1024))
            .unwrap();
    let g = &guests().pii;
    let err = engine.load(&g.path, &g.sha256).err().expect("refused");
    assert!(
        err.to_string().contains("larger than the 1024-byte limit"),
        "{err}"
    );
    drop(dir);
}

/// A gate copied elsewhere, its relative paths now wrong: every file that
/// is not there (modules, Rego and data files) is named at once.
#[test]
fn a_gate_whose_paths_are_wrong_lists_every_missing_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let copied = dir.path().join("ml-release.toml");
    std::fs::copy(repo("examples/gates/ml-release.toml"), &copied).unwrap();
    let out = check(&copied, &clean_metadata(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for i in 0..6 {
        assert!(
            err.contains(&format!("policies[{i}].module: `../../target/policies/")),
            "{err}"
        );
    }
    let rego = dir.path().join("model-card.toml");
    std::fs::copy(repo("examples/gates/model-card.toml"), &rego).unwrap();
    let err = match sealgate::Gate::load(engine(), &rego) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a gate with no files loaded"),
    };
    assert!(
        err.contains("policies[0].module") && err.contains("policies[0].rego[0]"),
        "{err}"
    );
}
