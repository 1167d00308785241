//! `sealgate policy new|build|inspect|test|bench`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use sealgate::{EvaluationContext, MetadataDocument, MetadataLimits};

use crate::args::{BenchArgs, BuildArgs, Format, InspectArgs, Lang, NewArgs, TestArgs};
use crate::cmd::{engine, report_cache};
use crate::exit::{CliError, Exit};
use crate::output;
use crate::report;

/// `sealgate policy new`.
pub(crate) fn policy_new(args: &NewArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    use sealgate_policy_build::scaffold::{NewPolicy, Sdk, new_policy, new_python_policy, new_rego_policy};
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    if args.lang == Lang::Rego {
        new_rego_policy(&args.name, args.id.as_deref(), &dir)?;
        let shown = dir.display();
        writeln!(
            out,
            "created Rego policy `{name}` in {shown}\n\n\
             next:\n  \
             sealgate policy build policies/rego-engine --out-dir target/policies    # once, in a sealgate checkout: the engine\n  \
             sealgate policy test {shown} --module target/policies/rego.wasm\n  \
             then edit {shown}/policy.rego and {shown}/tests/cases.toml",
            name = args.name
        )
        .context("cannot write to stdout")?;
        return Ok(Exit::Passed);
    }
    if args.lang == Lang::Python {
        new_python_policy(&args.name, args.id.as_deref(), &dir)?;
        let shown = dir.display();
        writeln!(
            out,
            "created Python policy `{name}` in {shown}\n\n\
             next:\n  \
             pip install componentize-py=={version}    # the toolchain, once\n  \
             sealgate policy test {shown}    # build it and run its cases\n  \
             then edit {shown}/app.py and {shown}/tests/cases.toml",
            name = args.name,
            version = sealgate_policy_build::python::COMPONENTIZE_PY_VERSION,
        )
        .context("cannot write to stdout")?;
        return Ok(Exit::Passed);
    }
    // The SDK comes with the binary unless the author shares one.
    let sdk = args.sdk.clone().map_or(Sdk::Vendored, Sdk::Path);
    new_policy(&NewPolicy {
        name: args.name.clone(),
        id: args.id.clone(),
        dir: dir.clone(),
        sdk,
    })?;
    let shown = dir.display();
    writeln!(
        out,
        "created policy `{name}` in {shown}\n\n\
         next:\n  \
         sealgate policy test {shown}    # build it and run its cases\n  \
         then edit {shown}/src/lib.rs and {shown}/tests/cases.toml, and commit Cargo.lock (and sdk/)",
        name = args.name
    )
    .context("cannot write to stdout")?;
    Ok(Exit::Passed)
}

/// `sealgate policy bench`: what one policy costs per evaluation, measured
/// the way a gate runs it (fresh store and instance from the compiled
/// component, default limits).
pub(crate) fn policy_bench(args: &BenchArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let metadata = MetadataDocument::load(&args.metadata, &MetadataLimits::default())?;
    let params: serde_json::Value = serde_json::from_str(&args.params).context("--params is not JSON")?;
    if args.iterations == 0 {
        return Err(CliError::usage(anyhow::anyhow!(
            "--iterations must be at least 1"
        )));
    }
    let engine = engine(&args.engine)?;
    let module = engine.load_unpinned(&args.module).map_err(CliError::usage)?;
    let limits = engine.config().ceiling;
    let params = match &args.rego {
        Some(dir) => sealgate::rego::RegoSources::from_dir(dir)
            .map_err(CliError::usage)?
            .params_json(&params),
        None => params.to_string(),
    };
    // A policy refusing the params given on the command line is bad usage.
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
            output::json(out, &doc)
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
    written.context("cannot write to stdout")?;
    Ok(Exit::Passed)
}

/// `sealgate policy test`.
pub(crate) fn policy_test(args: &TestArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    use sealgate::policy_test::{TestFile, test_files};
    let files =
        test_files(&args.dir).with_context(|| format!("cannot list {}", args.dir.join("tests").display()))?;
    if files.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "no test files in {}",
            args.dir.join("tests").display()
        )));
    }
    let tests = files
        .iter()
        .map(|f| TestFile::load(f))
        .collect::<Result<Vec<_>, _>>()?;
    // A directory of Rego files runs in the Rego engine component.
    let rego = if sealgate::rego::is_rego_policy(&args.dir) {
        Some(sealgate::rego::RegoSources::from_dir(&args.dir).map_err(CliError::usage)?)
    } else {
        None
    };
    let module_path = match (&args.module, &rego) {
        (Some(m), _) => m.clone(),
        (None, Some(_)) => {
            return Err(CliError::usage(anyhow::anyhow!(
                "{} is a Rego policy: name the Rego engine component to run it in with --module \
                 (build it once: `sealgate policy build policies/rego-engine --out-dir target/policies`, then \
                 --module target/policies/rego.wasm)",
                args.dir.display()
            )));
        }
        (None, None) => {
            let opts = sealgate_policy_build::BuildOptions::new(
                sealgate_policy_build::Target::Wasm32UnknownUnknown,
                out_dir(&args.dir, args.out_dir.as_ref()),
            )
            .with_target_dir(None)
            .with_verbose(false);
            sealgate_policy_build::build_policy(&args.dir, &opts)?.path
        }
    };
    let engine = engine(&args.engine)?;
    // The component is this command's input: one that cannot be loaded is
    // bad input (exit 2), not a policy failing a gate.
    let module = engine.load_unpinned(&module_path).map_err(CliError::usage)?;
    // Coverage: a Rego policy's is the engine's (lines no case reached); a
    // compiled policy's compares the cases with its rule catalogue.
    let coverage_wanted = args.coverage;
    if coverage_wanted && rego.is_none() && module.info().rules.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "--coverage compares the cases with the policy's rule catalogue, and {} declares none \
             (contract sealgate:policy@{}): list its rules in its info (Rust: `PolicyInfo::rules`, \
             Python: `Info(rules=[...])`) and rebuild",
            module.info().id,
            module.info().contract
        )));
    }
    let mut rego_coverage = (coverage_wanted && rego.is_some()).then(sealgate::rego::RegoCoverage::default);
    let results: Vec<_> = tests
        .iter()
        .map(|t| {
            let cases = match (&rego, rego_coverage.as_mut()) {
                (Some(sources), Some(coverage)) => t.run_with_coverage(&module, sources, coverage),
                _ => t.run_with(&module, rego.as_ref()),
            };
            (t.path().to_owned(), cases)
        })
        .collect();
    let never_reported = if coverage_wanted && rego.is_none() {
        sealgate::policy_test::rules_never_reported(module.info(), results.iter().flat_map(|(_, r)| r))
    } else {
        None
    };
    let failed = results.iter().flat_map(|(_, r)| r).filter(|r| !r.passed).count();
    let written = match args.format {
        Format::Json => {
            let files: Vec<_> = results
                .iter()
                .map(|(path, cases)| serde_json::json!({"file": path, "cases": cases}))
                .collect();
            match (&rego_coverage, &never_reported) {
                // With --coverage: the files, and per Rego file the lines no case reached.
                (Some(coverage), _) => {
                    let never: serde_json::Map<String, serde_json::Value> = coverage
                        .never_reached()
                        .into_iter()
                        .map(|(file, lines)| (file, serde_json::json!(lines)))
                        .collect();
                    output::json(out, &serde_json::json!({"files": files, "never_reached": never}))
                }
                // Or the catalogue's rules no case reported.
                (None, Some(rules)) => output::json(
                    out,
                    &serde_json::json!({"files": files, "rules_never_reported": rules}),
                ),
                (None, None) => output::json(out, &files),
            }
        }
        Format::Text => report::write_policy_tests(out, &module.info().id, &results).and_then(|()| {
            match (&rego_coverage, &never_reported) {
                (Some(c), _) => report::write_rego_coverage(out, c),
                (None, Some(rules)) => report::write_rule_coverage(out, module.info().rules.len(), rules),
                (None, None) => Ok(()),
            }
        }),
    };
    written.context("cannot write to stdout")?;
    Ok(if failed == 0 { Exit::Passed } else { Exit::Failed })
}

/// Where a build of `dir` goes: `--out-dir`, else the policy's own
/// `target/policies` (never the current directory's: building another
/// directory's policy must not write here).
fn out_dir(dir: &std::path::Path, given: Option<&PathBuf>) -> PathBuf {
    given.cloned().unwrap_or_else(|| {
        // `policy build .` says `target/policies/…`, not `./target/policies/…`.
        dir.join("target/policies")
            .components()
            .filter(|c| *c != std::path::Component::CurDir)
            .collect()
    })
}

/// `sealgate policy build`.
pub(crate) fn build(args: &BuildArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let built = sealgate_policy_build::build_policy(
        &args.dir,
        &sealgate_policy_build::BuildOptions::new(args.target, out_dir(&args.dir, args.out_dir.as_ref()))
            .with_target_dir(args.target_dir.clone())
            .with_verbose(args.verbose),
    )?;
    writeln!(
        out,
        "built {}\nsha256 = \"{}\"",
        built.path.display(),
        built.sha256
    )
    .context("cannot write to stdout")?;
    if let Some(toolchain) = &built.unreproducible_toolchain {
        writeln!(
            out,
            "toolchain {toolchain}: its output is not reproducible (a rebuild gives another sha256); \
             pin this file, the one you tested"
        )
        .context("cannot write to stdout")?;
    }
    Ok(Exit::Passed)
}

/// `sealgate policy inspect`.
pub(crate) fn inspect(args: &InspectArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let engine = engine(&args.engine)?;
    // The component is this command's input: one that cannot be loaded is
    // bad input (exit 2).
    let module = engine.load_unpinned(&args.module).map_err(CliError::usage)?;
    report_cache(args.engine.verbose, &module);
    let size = std::fs::metadata(&args.module).map(|m| m.len()).unwrap_or(0);
    report::write_inspect(out, &module, size, args.format == Format::Json)
        .context("cannot write to stdout")?;
    Ok(Exit::Passed)
}
