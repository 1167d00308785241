//! Writing what a command found, in the format asked for: each format's
//! renderer is in `report.rs` (text) or `ci_formats.rs` (SARIF, JUnit,
//! GitHub annotations); JSON is the library's own serialization.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use sealgate::{GateReport, MetadataDocument, Sha256Digest};
use sealgate_attest::{Rejection, VerifiedAttestation};

use crate::args::ReportFormat;
use crate::exit::CliError;
use crate::{ci_formats, report};

/// `value` as pretty JSON and a newline.
pub(crate) fn json(out: &mut dyn Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// A gate's report (`check`, `attest`).
pub(crate) fn write_report(
    out: &mut dyn Write,
    format: ReportFormat,
    report: &GateReport,
    metadata: &MetadataDocument,
    paint: report::Paint,
) -> Result<(), CliError> {
    let (origin, text) = (metadata.origin(), metadata.text());
    let written = match format {
        ReportFormat::Json => json(out, report),
        ReportFormat::Text => report::write_text(out, report, origin, paint),
        ReportFormat::Sarif => json(out, &ci_formats::check_sarif(report, origin, text)),
        ReportFormat::Junit => out.write_all(ci_formats::check_junit(report, origin, text).as_bytes()),
        ReportFormat::Github => out.write_all(ci_formats::check_github(report, origin, text).as_bytes()),
    };
    written.context("cannot write the report").map_err(CliError::from)
}

/// A verification's decision (`verify`).
pub(crate) fn write_verification(
    out: &mut dyn Write,
    format: ReportFormat,
    bundle: &Path,
    digest: &Sha256Digest,
    result: &Result<VerifiedAttestation, Rejection>,
    paint: report::Paint,
) -> Result<(), CliError> {
    let written = match format {
        ReportFormat::Sarif => json(out, &ci_formats::verify_sarif(bundle, digest, result)),
        ReportFormat::Junit => out.write_all(ci_formats::verify_junit(bundle, result).as_bytes()),
        ReportFormat::Github => out.write_all(ci_formats::verify_github(bundle, digest, result).as_bytes()),
        ReportFormat::Json => {
            let mut doc = sealgate_attest::verification_summary(result, digest);
            doc.insert("bundle".into(), serde_json::json!(bundle));
            json(out, &doc)
        }
        ReportFormat::Text => report::write_verification(out, bundle, digest, result, paint),
    };
    written.context("cannot write to stdout").map_err(CliError::from)
}
