//! Helpers shared by the integration tests.
//!
//! * [`pg`]: throw-away PostGIS databases, one per test.

pub mod pg;

#[allow(unused_imports)]
use axum::http::Request;
#[allow(unused_imports)]
use gridmap::auth::Caller;

/// Makes `req` come from `caller`: the one place tests choose who is calling. Today it puts the
/// [`Caller`] in the request's extensions (what the authentication middleware does); once real
/// tokens exist, this is where a test request gets its `Authorization: Bearer` header instead.
#[allow(dead_code)]
pub fn as_caller<B>(mut req: Request<B>, caller: Caller) -> Request<B> {
    req.extensions_mut().insert(caller);
    req
}

/// A planner (may edit), scoped to `scope` when given, named `name` (the "who" of history).
#[allow(dead_code)]
pub fn planner(name: &str, scope: Option<&str>) -> Caller {
    Caller {
        token_id: Some(1),
        name: name.into(),
        role: Some(gridmap::auth::Role::Planner),
        scope: scope.map(|s| gridmap::model::Code::parse(s).expect("a valid scope code")),
        addr: None,
    }
}
