//! `sealgate serve`: one gate for many pipelines, and an admission check in
//! front of promotion (the role OPA's server and Kubewarden's policy-server
//! play).
//!
//! | endpoint | does |
//! |---|---|
//! | `POST /v1/check` | metadata + gate name → the gate's report |
//! | `POST /v1/attest` | as check, then signs with the server's key → bundle |
//! | `POST /v1/verify` | bundle + digest + trust name → the checklist's decision |
//! | `POST /v1/admission` | Kubernetes `AdmissionReview` v1 → allowed or denied |
//! | `GET /healthz`, `/readyz`, `/metrics` | liveness, readiness, OpenMetrics |
//!
//! Stack: axum's router on hyper 1's HTTP/1.1 server and tokio, with rustls
//! (ring) for TLS. The accept loop is ours (hyper-util's graceful shutdown,
//! a connection limit, TLS handshake and header read timeouts), since
//! a webhook server must bound every stage a client can stall.
//!
//! With `[auth]`, check, attest and verify need a bearer token (`auth.rs`).
//!
//! Policies are compiled when the configuration is loaded (at start and on
//! SIGHUP), never per request. Each evaluation runs on tokio's blocking pool
//! under a slot (as many as the engine's sandbox pool), one policy after
//! another: parallelism comes from concurrent requests, and a hostile policy
//! holds one slot for at most its own `timeout-ms` while the others serve.

mod admission;
mod api;
mod auth;
pub mod config;
mod error;
mod metrics;
mod state;
pub mod store;
mod tls;
mod write_timeout;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::FutureExt as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use sealgate::{EngineConfig, EvaluationContext, Gate, GateReport, MetadataDocument, PolicyEngine};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use write_timeout::WriteTimeout;

pub use config::{ConfigError, ServerConfig};
pub use error::ServeError;

use error::io;

use api::ApiError;
use metrics::Metrics;
use state::Loaded;

/// Where `sealgate serve` listens without `listen` or `--listen`: loopback,
/// so nothing is exposed by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_LISTEN_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// How to run the server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// The configuration file.
    pub config: PathBuf,
    /// Overrides the file's `listen`.
    pub listen: Option<SocketAddr>,
    /// The policy engine's settings (cache directory, sandbox ceiling).
    pub engine: EngineConfig,
}

impl ServeOptions {
    /// Serve the configuration file `config`, on its own address, with the
    /// default engine.
    pub fn new(config: PathBuf) -> Self {
        Self {
            config,
            listen: None,
            engine: EngineConfig::default(),
        }
    }

    /// This, with `listen` set.
    #[must_use]
    pub fn with_listen(mut self, listen: Option<SocketAddr>) -> Self {
        self.listen = listen;
        self
    }

    /// This, with `engine` set.
    #[must_use]
    pub fn with_engine(mut self, engine: EngineConfig) -> Self {
        self.engine = engine;
        self
    }
}

/// State every request shares.
pub(crate) struct Shared {
    engine: PolicyEngine,
    config_path: PathBuf,
    current: RwLock<Arc<Loaded>>,
    metrics: Metrics,
    /// Evaluations running at once; as many as the engine's sandbox slots,
    /// so a blocking thread never waits for a sandbox.
    slots: Arc<Semaphore>,
    shutting_down: AtomicBool,
    reloading: tokio::sync::Mutex<()>,
    /// When a slot last changed hands: taken or given back (or the server
    /// started). With every slot busy, the time since then is how long the
    /// pool has been stuck.
    last_slot_turnover: std::sync::Mutex<Instant>,
}

impl Shared {
    /// The configuration serving new requests.
    pub(crate) fn current(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Free and total evaluation slots.
    pub(crate) fn slots(&self) -> (usize, usize) {
        (
            self.slots.available_permits(),
            self.engine.config().max_concurrent_evaluations,
        )
    }

    /// Every slot is busy and none has changed hands for longer than a
    /// request may take: requests are only queueing to time out. Under honest
    /// load slots turn over within each policy's `timeout-ms`, and a burst
    /// that has just filled the pool took its slots just now, so this does not
    /// flap; readiness reports it so an orchestrator routes around.
    pub(crate) fn is_stalled(&self, request_timeout: Duration) -> bool {
        let since = self
            .last_slot_turnover
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed();
        self.slots.available_permits() == 0 && since > request_timeout
    }

    fn slot_turned_over(&self) {
        *self
            .last_slot_turnover
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// Evaluate on the blocking pool under a slot. The slot is released when
    /// the evaluation ends, not when the request gives up waiting for it.
    pub(crate) async fn evaluate(
        self: &Arc<Self>,
        gate: Arc<Gate>,
        metadata: MetadataDocument,
        context: EvaluationContext,
    ) -> Result<GateReport, ApiError> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("the server is shutting down"))?;
        self.slot_turned_over();
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            shared.metrics.evaluations_in_flight.inc();
            let observed = gate.evaluate_observed(&metadata, &context, 1);
            shared.metrics.evaluations_in_flight.dec();
            drop(slot);
            shared.slot_turned_over();
            for (policy, timing) in observed.report.policies.iter().zip(&observed.timings) {
                shared.metrics.policy(gate.name(), &policy.id, timing);
            }
            observed.report
        })
        .await
        .map_err(|e| ApiError::internal(format!("the evaluation did not complete: {e}")))
    }

    /// Append to the decision log, if configured. A decision that cannot be
    /// recorded is not given (500): an audit trail with gaps is not one.
    pub(crate) async fn record(
        &self,
        loaded: &Loaded,
        decision: sealgate_log::Decision,
    ) -> Result<(), ApiError> {
        let Some(log) = loaded.decision_log.clone() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || log.append(&decision, SystemTime::now()))
            .await
            .map_err(|e| ApiError::internal(format!("the decision log append did not complete: {e}")))?
            .map(|_| ())
            .map_err(|e| {
                ApiError::internal(format!(
                    "the decision cannot be recorded, so it is not given: {e}"
                ))
            })
    }
}

/// A configured server: every gate compiled, keys and trust files read.
/// Serve it on its address ([`PolicyServer::run`]), or drive its router in
/// process ([`PolicyServer::router`]: tests, an embedding application).
pub struct PolicyServer {
    shared: Arc<Shared>,
    listen: SocketAddr,
}

impl PolicyServer {
    /// Load the configuration `options` names and compile every gate's
    /// policies.
    ///
    /// # Errors
    ///
    /// A [`ServeError`] naming the part of the configuration that cannot be
    /// used; nothing is served.
    pub fn new_from_config(options: &ServeOptions) -> Result<Self, ServeError> {
        let config = ServerConfig::load(&options.config)?;
        let listen = options.listen.or(config.listen).unwrap_or(DEFAULT_LISTEN_ADDR);
        let engine = PolicyEngine::new(options.engine.clone())?;
        let loaded = Loaded::load(&engine, config, 1)?;
        let slots = engine.config().max_concurrent_evaluations;
        let metrics = Metrics::default();
        metrics.generation.set(1);
        let shared = Arc::new(Shared {
            engine,
            config_path: options.config.clone(),
            current: RwLock::new(Arc::new(loaded)),
            metrics,
            slots: Arc::new(Semaphore::new(slots)),
            shutting_down: AtomicBool::new(false),
            reloading: tokio::sync::Mutex::new(()),
            last_slot_turnover: std::sync::Mutex::new(Instant::now()),
        });
        Ok(Self { shared, listen })
    }

    /// Where [`PolicyServer::run`] listens.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Every route, with the per-request timeout, metrics and token checks
    /// the served API has. Handlers evaluate on tokio's blocking pool, so
    /// drive it inside a tokio runtime.
    pub fn router(&self) -> Router {
        router(self.shared.clone())
    }

    /// Bind and serve until SIGTERM or SIGINT; SIGHUP reloads the
    /// configuration.
    ///
    /// # Errors
    ///
    /// [`ServeError::Io`] if the runtime, a signal handler or a listener
    /// cannot be had.
    pub fn run(self) -> Result<(), ServeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("sealgate-serve")
            .build()
            .map_err(io("cannot start the async runtime"))?;
        runtime.block_on(serve(self.shared, self.listen))
    }
}

/// Load the configuration (compiling every gate's policies), bind, and serve
/// until SIGTERM or SIGINT. SIGHUP reloads the configuration.
///
/// # Errors
///
/// As [`PolicyServer::new_from_config`] and [`PolicyServer::run`].
pub fn run(options: ServeOptions) -> Result<(), ServeError> {
    PolicyServer::new_from_config(&options)?.run()
}

/// Connections the health listener serves at once (probes and scrapes are
/// few and short).
const HEALTH_CONNECTIONS: usize = 16;

/// What the health listener serves: probes and metrics, nothing that
/// evaluates or reads a body.
fn health_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(shared)
}

/// Accept on the health listener until dropped, with connections of its own.
async fn serve_health(shared: Arc<Shared>, listener: TcpListener) {
    let app = health_router(shared.clone());
    let connections = Arc::new(Semaphore::new(HEALTH_CONNECTIONS));
    loop {
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let limits = shared.current().config.limits;
        let app = app.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(app);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let io = TokioIo::new(WriteTimeout::new(tcp, limits.write_timeout));
            let _ = http.serve_connection(io, service).await;
            drop(permit);
        });
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/v1/check", post(api::check))
        .route("/v1/attest", post(api::attest))
        .route("/v1/verify", post(api::verify))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            auth::require_token,
        ));
    Router::new()
        .merge(api)
        .route("/v1/admission", post(admission::review))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(middleware::from_fn_with_state(shared.clone(), observe))
        .with_state(shared)
}

/// The per-request timeout, and request metrics.
async fn observe(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Labels from a fixed set, so clients cannot grow the metrics.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |p| p.as_str().to_owned());
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "OPTIONS" | "PATCH") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let timeout = shared.current().config.limits.request_timeout;
    // A bug that panics in a handler answers 500, like any other error,
    // instead of dropping the connection.
    let handled = std::panic::AssertUnwindSafe(next.run(req)).catch_unwind();
    let response = match tokio::time::timeout(timeout, handled).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => ApiError::internal("the request failed inside the server (a bug: please report it)")
            .into_response(),
        Err(_) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "no answer within the request timeout ({}); retry, or raise [limits] request-timeout",
                humantime::format_duration(timeout)
            ),
        )
        .into_response(),
    };
    shared.metrics.request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

async fn serve(shared: Arc<Shared>, listen: SocketAddr) -> Result<(), ServeError> {
    // Handlers first: SIGHUP's default action would end the process.
    let mut hangup = signal(SignalKind::hangup()).map_err(io("cannot handle SIGHUP"))?;
    let mut terminate = signal(SignalKind::terminate()).map_err(io("cannot handle SIGTERM"))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(io("cannot handle SIGINT"))?;

    let listener = TcpListener::bind(listen)
        .await
        .map_err(io(format!("cannot listen on {listen}")))?;
    let local = listener.local_addr().map_err(io("the bound address"))?;
    let loaded = shared.current();
    let scheme = if loaded.tls.is_some() { "https" } else { "http" };
    let max_connections = loaded.config.limits.max_connections;
    let health = match loaded.config.health_listen {
        None => None,
        Some(address) => {
            let listener = TcpListener::bind(address)
                .await
                .map_err(io(format!("cannot listen on {address} (health-listen)")))?;
            let local = listener.local_addr().map_err(io("the bound health address"))?;
            eprintln!("sealgate serve: health probes and metrics on http://{local}");
            Some(tokio::spawn(serve_health(shared.clone(), listener)))
        }
    };
    eprintln!(
        "sealgate serve: listening on {scheme}://{local} (gates: {})",
        config::names(loaded.gates.keys())
    );
    drop(loaded);

    let app = router(shared.clone());
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(max_connections));
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => {
                tokio::spawn(reload(shared.clone()));
            }
            permit = connections.clone().acquire_owned() => {
                let Ok(permit) = permit else { break };
                let (tcp, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(connection) => connection,
                        Err(e) => {
                            // E.g. out of file descriptors: back off, keep serving.
                            eprintln!("sealgate serve: cannot accept a connection: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = terminate.recv() => break,
                    _ = interrupt.recv() => break,
                    _ = hangup.recv() => {
                        tokio::spawn(reload(shared.clone()));
                        continue;
                    }
                };
                let (tls, limits) = {
                    let loaded = shared.current();
                    (loaded.tls.clone(), loaded.config.limits)
                };
                let app = app.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    serve_connection(tcp, tls, limits, app, watcher).await;
                    drop(permit);
                });
            }
        }
    }

    shared.shutting_down.store(true, Ordering::SeqCst);
    drop(listener);
    if let Some(health) = health {
        health.abort();
    }
    let grace = shared.current().config.limits.shutdown_grace;
    eprintln!(
        "sealgate serve: shutting down; waiting up to {} for requests in flight",
        humantime::format_duration(grace)
    );
    match tokio::time::timeout(grace, graceful.shutdown()).await {
        Ok(()) => eprintln!("sealgate serve: stopped"),
        Err(_) => eprintln!("sealgate serve: stopped with requests unanswered after the grace period"),
    }
    Ok(())
}

async fn serve_connection(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    limits: config::Limits,
    app: Router,
    watcher: Watcher,
) {
    let header_timeout = limits.header_timeout;
    // Below TLS, so a client that stops reading is cut off whatever it sent.
    let tcp = WriteTimeout::new(tcp, limits.write_timeout);
    let service = TowerToHyperService::new(app);
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper starts this timer whenever it waits for a request's head, so an
    // idle keep-alive connection is closed after it too.
    http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    match tls {
        None => {
            let _ = watcher
                .watch(http.serve_connection(TokioIo::new(tcp), service))
                .await;
        }
        Some(acceptor) => {
            // A client that never finishes its handshake is dropped.
            if let Ok(Ok(stream)) = tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                let _ = watcher
                    .watch(http.serve_connection(TokioIo::new(stream), service))
                    .await;
            }
        }
    }
}

/// Re-read the configuration and swap it in whole, or keep the current one.
/// Requests in flight finish on the configuration they started with.
///
/// A reload that has not finished within `reload-timeout` (of the current
/// configuration) is abandoned: its worker thread may still end later, but
/// its result is dropped, and the lock that serialises reloads is released so
/// a later SIGHUP (a fixed configuration, rotated tokens) is not blocked.
async fn reload(shared: Arc<Shared>) {
    let _one_at_a_time = shared.reloading.lock().await;
    let bound = shared.current().config.limits.reload_timeout;
    let worker = shared.clone();
    let loading = tokio::task::spawn_blocking(move || {
        let old = worker.current();
        let config = ServerConfig::load(&worker.config_path)?;
        if config.tls.is_some() != old.config.tls.is_some() {
            return Err(ServeError::TlsToggle);
        }
        Loaded::load(&worker.engine, config, old.generation + 1)
    });
    let loaded = match tokio::time::timeout(bound, loading).await {
        Ok(joined) => joined.map_err(ServeError::from).and_then(|loaded| loaded),
        Err(_) => Err(ServeError::ReloadTimeout(bound)),
    };
    match loaded {
        Ok(loaded) => {
            let generation = loaded.generation;
            let gates = config::names(loaded.gates.keys());
            *shared.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
            shared.metrics.generation.set(generation as i64);
            shared.metrics.reload(true);
            eprintln!(
                "sealgate serve: reloaded {} (generation {generation}; gates: {gates})",
                shared.config_path.display()
            );
        }
        Err(e) => {
            shared.metrics.reload(false);
            eprintln!(
                "sealgate serve: reload refused, still serving generation {}: {}",
                shared.current().generation,
                sealgate::error_chain(&e)
            );
        }
    }
}
