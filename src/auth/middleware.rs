//! The authentication middleware: from `Authorization: Bearer` to a [`Caller`], rate limits,
//! and what goes into the audit log.
//!
//! For every request, [`authenticate`]:
//! 1. reads the `Authorization` header. None: the anonymous caller (401 when anonymous access
//!    is off, except for `/healthz` and the web app's files). Present: it must be
//!    `Bearer gm_<64 hex>` naming a known token that is neither expired nor revoked, else 401
//!    with `WWW-Authenticate: Bearer` — never a silent fall-back to anonymous;
//! 2. takes one request from the caller's token bucket (per token; per peer address for
//!    anonymous callers; in-process requests without a peer address and without a token are
//!    not limited): 429 with `Retry-After` when empty;
//! 3. puts the [`Caller`] in the request's extensions, runs the handler;
//! 4. records an [`AuditEntry`] for every write (any POST/PUT/PATCH/DELETE except the
//!    read-only queries in [`READ_ONLY_POSTS`]) and every response a handler marked with
//!    [`PersonalData`], and notes the token's last use (at most once a second per token).
//!
//! Tokens are looked up by their SHA-256 digest in an in-memory cache first; an entry is
//! trusted for [`CACHE_TTL`] (5 s), then read again from the store. So a token revoked through
//! this server ([`Auth::revoke`], which empties the cache) stops working at once, and one
//! revoked through another server or the CLI within 5 s. Unknown digests are cached too, so a
//! flood of made-up tokens does not become a flood of queries; and a lookup that must ask the
//! store takes one request from the bucket of the caller's address, so guessing is rate-limited. When the store does not answer,
//! a cached entry is used whatever its age (the store cannot have revoked anything meanwhile
//! that this server could learn of).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::audit::{AuditEntry, AuditLog};
use super::limit::{Key, Limiter, RateLimit};
use super::token::{self, AuthError, NewToken, StoredToken, TokenHash, TokenInfo};
use super::{Caller, Role};
use crate::api::ApiError;
use crate::store::Store;

/// How long a token lookup is trusted before the store is asked again.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Cached lookups kept before the cache is emptied.
const MAX_CACHED: usize = 10_000;

/// POSTs that only read: they are not audited as writes.
pub const READ_ONLY_POSTS: [&str; 3] = ["/api/locate", "/api/geocode", "/api/validate"];

/// Paths served to anyone even when anonymous access is off: the health check and the web
/// app's static files (the app then asks for a token before it calls the API).
fn always_public(path: &str) -> bool {
    path == "/healthz" || path == "/" || path.starts_with("/app/") || path.starts_with("/vendor/")
}

/// Whether a request changes data (and so is audited as a write).
pub fn is_write(method: &Method, path: &str) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
        && !READ_ONLY_POSTS.contains(&path.trim_end_matches('/'))
}

/// Marks a response that contains personal data (a response extension the middleware
/// records in the audit log): what was served, in a few words, e.g. `"staff of grid X"`.
#[derive(Debug, Clone)]
pub struct PersonalData(pub String);

/// A handler's short description of a write, for the audit log (a response extension).
#[derive(Debug, Clone)]
pub struct AuditDetail(pub String);

/// Adds the [`PersonalData`] mark to `resp`.
pub fn mark_personal(mut resp: Response, what: impl Into<String>) -> Response {
    resp.extensions_mut().insert(PersonalData(what.into()));
    resp
}

/// How the server treats callers.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Whether requests without a token are served (as viewers without personal data).
    pub allow_anonymous: bool,
    /// Requests per token (per address for anonymous callers); `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
}

impl Default for AuthConfig {
    /// Anonymous access on; 1,000 requests/s sustained with bursts of 5,000 per caller.
    fn default() -> Self {
        AuthConfig { allow_anonymous: true, rate_limit: Some(RateLimit { per_second: 1_000.0, burst: 5_000 }) }
    }
}

struct Cached {
    token: Option<StoredToken>,
    fetched: Instant,
    /// When the last use was queued for the store.
    use_noted: Option<Instant>,
}

/// Authentication, rate limits and the audit log of one server.
pub struct Auth {
    store: Arc<dyn Store>,
    config: AuthConfig,
    cache: Mutex<HashMap<TokenHash, Cached>>,
    limiter: Limiter,
    audit: AuditLog,
}

impl Auth {
    pub fn new(store: Arc<dyn Store>, config: AuthConfig) -> Auth {
        Auth {
            limiter: Limiter::new(config.rate_limit),
            audit: AuditLog::new(store.clone()),
            cache: Mutex::new(HashMap::new()),
            store,
            config,
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The audit log (to record or flush).
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Forgets every cached lookup.
    pub fn forget_tokens(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Makes a token (see [`token::create_token`]).
    pub async fn create(&self, new: NewToken) -> Result<(TokenInfo, String), AuthError> {
        let made = token::create_token(&*self.store, new).await?;
        self.forget_tokens();
        Ok(made)
    }

    /// Revokes a token, effective at once on this server.
    pub async fn revoke(&self, id: i64) -> Result<TokenInfo, AuthError> {
        let info = token::revoke_token(&*self.store, id).await?;
        self.forget_tokens();
        Ok(info)
    }

    /// The token named by `secret` (already checked for form), from the cache or the store.
    /// A lookup that must ask the store takes one request from the bucket of the caller's
    /// address, so that a flood of made-up tokens is limited like anonymous requests.
    async fn lookup(&self, secret: &str, addr: Option<IpAddr>) -> Result<TokenInfo, AuthError> {
        let hash = token::hash_secret(secret);
        let now = Instant::now();
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.get(&hash).map(|c| (c.token.clone(), now.duration_since(c.fetched) < CACHE_TTL))
        };
        if !matches!(cached, Some((_, true))) {
            if let Some(a) = addr {
                self.limiter.check(Key::Addr(a)).map_err(AuthError::RateLimited)?;
            }
        }
        let found = match cached {
            Some((token, true)) => token,
            _ => match self.store.token_by_hash(&hash).await {
                Ok(token) => {
                    let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                    if cache.len() >= MAX_CACHED {
                        cache.clear();
                    }
                    let use_noted = cache.get(&hash).and_then(|c| c.use_noted);
                    cache.insert(hash, Cached { token: token.clone(), fetched: now, use_noted });
                    token
                }
                Err(e) => match cached {
                    Some((token, false)) => token,
                    _ => return Err(e.into()),
                },
            },
        };
        let stored = found.ok_or(AuthError::Unknown)?;
        if !token::hashes_equal(&stored.hash, &hash) {
            return Err(AuthError::Unknown);
        }
        if let Some(e) = stored.info.unusable(token::now()) {
            return Err(e);
        }
        self.note_use(&hash, stored.info.id, now);
        Ok(stored.info)
    }

    /// Queues the token's last use for the store, at most once a second per token.
    fn note_use(&self, hash: &TokenHash, id: i64, now: Instant) {
        let due = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            match cache.get_mut(hash) {
                Some(c) if c.use_noted.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) => false,
                Some(c) => {
                    c.use_noted = Some(now);
                    true
                }
                None => true,
            }
        };
        if due {
            self.audit.used(id, token::now());
        }
    }
}

/// 401 with `WWW-Authenticate: Bearer`.
fn unauthorized(e: &AuthError) -> Response {
    let challenge = match e {
        AuthError::Required => r#"Bearer realm="gridmap""#.to_string(),
        other => format!(r#"Bearer realm="gridmap", error="invalid_token", error_description="{other}""#),
    };
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string()).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// 429 problem+json with `Retry-After` (whole seconds, at least 1).
fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        format!("too many requests from this caller; retry in {secs} s"),
    )
    .into_response();
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// 403 problem+json: the caller's role is below `needed` for `what`.
pub fn forbidden(caller: &Caller, needed: Role, what: &str) -> ApiError {
    let have = caller.role.map_or("anonymous (no token)".to_string(), |r| format!("a {r} token"));
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("{what} needs a {needed} token or higher; this request came with {have}"),
    )
    .with("rule", "role")
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        match e {
            AuthError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-token-request", m),
            AuthError::NoSuchToken(_) => ApiError::not_found(e.to_string()),
            AuthError::RateLimited(_) => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", e.to_string()),
            AuthError::Store(s) => s.into(),
            other => ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", other.to_string()),
        }
    }
}

/// The middleware (see the module docs). Layer it with
/// `axum::middleware::from_fn_with_state(auth, authenticate)`.
pub async fn authenticate(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    authenticate_then(&auth, req, |req| next.run(req)).await
}

/// [`authenticate`] with the rest of the request's handling given as `then`, so that a caller
/// can put its own steps between authentication and the handler without another layer.
pub async fn authenticate_then<F, Fut>(auth: &Auth, mut req: Request, then: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let addr: Option<IpAddr> = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let caller = match req.headers().get(header::AUTHORIZATION) {
        Some(value) => {
            let found = match token::parse_bearer(value.as_bytes()) {
                Ok(secret) => auth.lookup(secret, addr).await,
                Err(e) => Err(e),
            };
            match found {
                Ok(info) => {
                    Caller { token_id: Some(info.id), name: info.name, role: Some(info.role), scope: info.scope, addr }
                }
                Err(AuthError::Store(e)) => return ApiError::from(e).into_response(),
                Err(AuthError::RateLimited(wait)) => return too_many(wait),
                Err(e) => {
                    let (method, path) = (req.method(), req.uri().path());
                    tracing::info!(%method, %path, addr = ?addr, reason = %e, "rejected a token");
                    return unauthorized(&e);
                }
            }
        }
        None if auth.config.allow_anonymous || always_public(req.uri().path()) => {
            Caller { addr, ..Caller::anonymous() }
        }
        None => return unauthorized(&AuthError::Required),
    };
    // A request without a peer address did not come from the network (tests and tools that
    // call the router in-process): only its token, if any, is limited.
    let key = caller.token_id.map(Key::Token).or(addr.map(Key::Addr));
    if let Some(Err(wait)) = key.map(|k| auth.limiter.check(k)) {
        return too_many(wait);
    }
    // Kept for the audit entry; cloning a Uri shares its bytes.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    req.extensions_mut().insert(caller.clone());
    let resp = then(req).await;
    let path = uri.path();
    let personal = resp.extensions().get::<PersonalData>().map(|p| format!("personal data: {}", p.0));
    if personal.is_some() || is_write(&method, path) {
        let detail = resp.extensions().get::<AuditDetail>().map(|d| d.0.clone());
        let detail = match (detail, personal) {
            (Some(d), Some(p)) => format!("{d}; {p}"),
            (Some(d), None) => d,
            (None, Some(p)) => p,
            (None, None) => String::new(),
        };
        auth.audit.record(AuditEntry {
            id: 0,
            at: token::now(),
            token_id: caller.token_id,
            who: caller.name,
            addr: addr.map(|a| a.to_string()),
            method: method.to_string(),
            path: path.to_string(),
            status: resp.status().as_u16(),
            detail,
        });
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_posts_are_not_writes() {
        assert!(!is_write(&Method::POST, "/api/locate"));
        assert!(!is_write(&Method::POST, "/api/geocode"));
        assert!(!is_write(&Method::POST, "/api/validate"));
        assert!(!is_write(&Method::GET, "/api/tokens"));
        assert!(is_write(&Method::POST, "/api/tokens"));
        assert!(is_write(&Method::DELETE, "/api/tokens/3"));
        assert!(is_write(&Method::PUT, "/api/grids/650203001001001"));
        assert!(is_write(&Method::POST, "/api/grids/merge"));
    }
}
