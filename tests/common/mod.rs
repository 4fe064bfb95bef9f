//! Helpers shared by the integration tests.
//!
//! * [`pg`]: throw-away PostGIS databases, one per test.

pub mod pg;

#[allow(unused_imports)]
use axum::http::Request;
#[allow(unused_imports)]
use gridmap::auth::Caller;

/// Makes `req` come from `caller`: the one place tests choose who is calling. It puts the
/// [`Caller`] in the request's extensions as a note for [`Tokens::authorize`], which replaces it
/// with a real `Authorization: Bearer` token of that name, role and scope before the request is
/// sent (the authentication middleware ignores and overwrites any `Caller` a request brings).
#[allow(dead_code)]
pub fn as_caller<B>(mut req: Request<B>, caller: Caller) -> Request<B> {
    req.extensions_mut().insert(caller);
    req
}

/// A planner (may edit), scoped to `scope` when given, named `name` (the "who" of history).
#[allow(dead_code)]
pub fn planner(name: &str, scope: Option<&str>) -> Caller {
    Caller {
        token_id: None,
        name: name.into(),
        role: Some(gridmap::auth::Role::Planner),
        scope: scope.map(|s| gridmap::model::Code::parse(s).expect("a valid scope code")),
        addr: None,
    }
}

/// Name, role and scope of a test token.
type TokenKey = (String, gridmap::auth::Role, Option<String>);

/// Real tokens for the callers tests name with [`as_caller`], created in the test's store on
/// first use (one per name, role and scope) with `gridmap::auth::create_token`.
#[allow(dead_code)]
pub struct Tokens {
    store: std::sync::Arc<dyn gridmap::store::Store>,
    made: tokio::sync::Mutex<std::collections::HashMap<TokenKey, String>>,
}

#[allow(dead_code)]
impl Tokens {
    pub fn new(store: std::sync::Arc<dyn gridmap::store::Store>) -> Tokens {
        Tokens { store, made: Default::default() }
    }

    /// A bearer token for `caller` (anonymous callers have none).
    pub async fn token_for(&self, caller: &Caller) -> Option<String> {
        let role = caller.role?;
        let key = (caller.name.clone(), role, caller.scope.as_ref().map(|c| c.to_string()));
        let mut made = self.made.lock().await;
        if let Some(t) = made.get(&key) {
            return Some(t.clone());
        }
        let new =
            gridmap::auth::NewToken { name: caller.name.clone(), role, scope: caller.scope.clone(), expires_at: None };
        let (_, secret) = gridmap::auth::create_token(&*self.store, new).await.expect("a test token is created");
        made.insert(key, secret.clone());
        Some(secret)
    }

    /// `req` with the caller [`as_caller`] noted replaced by its bearer token.
    pub async fn authorize<B>(&self, mut req: Request<B>) -> Request<B> {
        if let Some(caller) = req.extensions_mut().remove::<Caller>() {
            if let Some(token) = self.token_for(&caller).await {
                let value = format!("Bearer {token}").parse().expect("a header value");
                req.headers_mut().insert(axum::http::header::AUTHORIZATION, value);
            }
        }
        req
    }
}
