//! The integration suite: one test binary (one link of wasmtime), one module
//! per area. Guests are built once per run from `policies/` and
//! `tests/guests/` by the same code as `sealgate policy build`.

mod support;

mod attest;
mod bad_input;
mod cache;
mod ci_formats;
mod cli;
mod collect;
mod concurrency;
mod decision_log;
mod drift;
mod examples;
mod fuzz_corpus;
mod js;
mod loading;
mod pii;
mod pipeline;
mod policy_test;
mod python;
mod registry;
mod rego;
mod sandbox;
mod serve;
mod storage;
mod wasi;
