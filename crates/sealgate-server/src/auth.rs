//! Bearer tokens for the API (`[auth] token-sha256-file`). The file holds
//! the SHA-256 of each accepted token, never a token, so whoever reads it
//! cannot call the API. Rotate by editing it and sending SIGHUP.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sealgate::Sha256Digest;

use crate::Shared;
use crate::api::ApiError;

/// The tokens the API accepts, by digest.
pub(crate) struct ApiTokens {
    digests: HashSet<Sha256Digest>,
}

impl ApiTokens {
    /// One lowercase hex SHA-256 per line (`printf %s "$TOKEN" | sha256sum`);
    /// blank lines and `#` comments are skipped.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes = sealgate::read_bounded(path, 1 << 20)?;
        let text = std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8", path.display()))?;
        let mut digests = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            // `sha256sum` prints "<hex>  -": the first field is the digest.
            let field = line.split_whitespace().next().unwrap_or(line);
            let digest = field.parse().map_err(|_| {
                anyhow::anyhow!(
                    "{} line {}: not a SHA-256 digest; put one per line, as `printf %s \"$TOKEN\" | sha256sum` prints it",
                    path.display(),
                    n + 1
                )
            })?;
            digests.insert(digest);
        }
        if digests.is_empty() {
            anyhow::bail!(
                "{}: no token digests; every caller would be refused (remove [auth] to run without tokens)",
                path.display()
            );
        }
        Ok(Self { digests })
    }

    fn admits(&self, authorization: Option<&HeaderValue>) -> bool {
        authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| {
                self.digests
                    .contains(&Sha256Digest::of_bytes(token.trim().as_bytes()))
            })
    }
}

/// In front of `/v1/check`, `/v1/attest` and `/v1/verify` when `[auth]` is
/// configured: 401 without one of the tokens. (Admission is called by the
/// Kubernetes API server over TLS; health and metrics are for probes.)
pub(crate) async fn require_token(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let loaded = shared.current();
    if let Some(tokens) = &loaded.tokens
        && !tokens.admits(req.headers().get(header::AUTHORIZATION))
    {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this API requires a token: send `Authorization: Bearer <token>` with one the server's [auth] file lists",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    drop(loaded);
    next.run(req).await
}
