//! Who may see and change what: tokens, roles, region scopes, audit.
//!
//! Every request carries a [`Caller`]: the authentication middleware (see `middleware`) puts
//! one in the request's extensions, made from the `Authorization: Bearer <token>` header, or
//! the anonymous caller when there is no header. Handlers take it as an extractor and ask it
//! what the caller may do; they never look at tokens themselves.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::model::Code;

/// What a token allows, each role including everything the roles before it allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the map, locates and geocodes, without personal data.
    Viewer,
    /// Also sees staff names and phone numbers, and uses coverage.
    Coordinator,
    /// Also edits grids (inside its scope).
    Planner,
    /// Also manages tokens and reads the audit log.
    Admin,
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's id in the token table; `None` for the anonymous caller.
    pub token_id: Option<i64>,
    /// The token's name (who it was given to); `"anonymous"` without a token. This is the
    /// "who" of the edit history and the audit log.
    pub name: String,
    /// `None` for the anonymous caller, who may do what a viewer may.
    pub role: Option<Role>,
    /// When set, the caller may edit only regions whose code is within this code (a
    /// subdistrict or community).
    pub scope: Option<Code>,
    /// The peer address, when known (for the audit log).
    pub addr: Option<IpAddr>,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller { token_id: None, name: "anonymous".into(), role: None, scope: None, addr: None }
    }

    fn at_least(&self, role: Role) -> bool {
        self.role.is_some_and(|r| r >= role)
    }

    /// Staff names and phone numbers.
    pub fn may_see_personal_data(&self) -> bool {
        self.at_least(Role::Coordinator)
    }

    /// `/api/coverage` and its suggestions.
    pub fn may_use_coverage(&self) -> bool {
        self.at_least(Role::Coordinator)
    }

    /// Edits of grids (still limited by [`Caller::scope_allows`]).
    pub fn may_edit(&self) -> bool {
        self.at_least(Role::Planner)
    }

    /// Tokens and the audit log.
    pub fn may_administer(&self) -> bool {
        self.at_least(Role::Admin)
    }

    /// Whether `code` (any level) is inside the caller's scope; always true without a scope.
    pub fn scope_allows(&self, code: &Code) -> bool {
        self.scope.as_ref().is_none_or(|s| code.is_within(s))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    /// The caller the authentication middleware recorded; anonymous when there is none.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned().unwrap_or_else(Caller::anonymous))
    }
}
