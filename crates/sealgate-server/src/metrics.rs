//! What `GET /metrics` reports (OpenMetrics text, which Prometheus scrapes).
//!
//! | metric | labels |
//! |---|---|
//! | `sealgate_http_requests_total` | `route`, `method`, `status` |
//! | `sealgate_http_request_duration_seconds` | `route` |
//! | `sealgate_decisions_total` | `endpoint` (check, attest, verify, admission), `outcome` |
//! | `sealgate_policy_evaluation_duration_seconds` | `gate`, `policy` |
//! | `sealgate_sandbox_errors_total` | `gate`, `policy`, `kind` ([`sealgate::EvalError::kind`]) |
//! | `sealgate_config_reloads_total` | `result` (success, failure) |
//! | `sealgate_config_generation` | (none): 1 at start, one more per successful reload |
//! | `sealgate_evaluations_in_flight` | (none) |

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    request_seconds: HistogramFamily,
    decisions: Family<Labels, Counter>,
    policy_seconds: HistogramFamily,
    sandbox_errors: Family<Labels, Counter>,
    reloads: Family<Labels, Counter>,
    /// The configuration generation serving new requests.
    pub generation: Gauge,
    /// Evaluations running now.
    pub evaluations_in_flight: Gauge,
}

fn latency_histogram() -> Histogram {
    // 100 µs to ~6.5 s: a policy takes ~0.1–5 ms; a limit hit takes seconds.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sealgate");
        let requests = Family::<Labels, Counter>::default();
        let request_seconds = HistogramFamily::new_with_constructor(latency_histogram as fn() -> Histogram);
        let decisions = Family::<Labels, Counter>::default();
        let policy_seconds = HistogramFamily::new_with_constructor(latency_histogram as fn() -> Histogram);
        let sandbox_errors = Family::<Labels, Counter>::default();
        let reloads = Family::<Labels, Counter>::default();
        let generation = Gauge::default();
        let evaluations_in_flight = Gauge::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            request_seconds.clone(),
        );
        registry.register(
            "decisions",
            "Decisions by endpoint and outcome",
            decisions.clone(),
        );
        registry.register(
            "policy_evaluation_duration_seconds",
            "Time one policy took on one document, instantiation included",
            policy_seconds.clone(),
        );
        registry.register(
            "sandbox_errors",
            "Policy evaluations that ended in ERROR, by kind",
            sandbox_errors.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads (SIGHUP)",
            reloads.clone(),
        );
        registry.register(
            "config_generation",
            "The configuration generation serving new requests",
            generation.clone(),
        );
        registry.register(
            "evaluations_in_flight",
            "Gate evaluations running now",
            evaluations_in_flight.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            decisions,
            policy_seconds,
            sandbox_errors,
            reloads,
            generation,
            evaluations_in_flight,
        }
    }
}

impl Metrics {
    /// Count an answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("method", method.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.request_seconds
            .get_or_create(&vec![("route", route.to_owned())])
            .observe(seconds);
    }

    /// Count a decision.
    pub fn decision(&self, endpoint: &str, outcome: &str) {
        self.decisions
            .get_or_create(&vec![
                ("endpoint", endpoint.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// Record one policy's evaluation.
    pub fn policy(&self, gate: &str, policy: &str, timing: &sealgate::PolicyTiming) {
        self.policy_seconds
            .get_or_create(&vec![("gate", gate.to_owned()), ("policy", policy.to_owned())])
            .observe(timing.elapsed.as_secs_f64());
        if let Some(kind) = timing.error_kind {
            self.sandbox_errors
                .get_or_create(&vec![
                    ("gate", gate.to_owned()),
                    ("policy", policy.to_owned()),
                    ("kind", kind.name().to_owned()),
                ])
                .inc();
        }
    }

    /// Count a reload.
    pub fn reload(&self, succeeded: bool) {
        let result = if succeeded { "success" } else { "failure" };
        self.reloads
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
