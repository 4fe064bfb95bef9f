//! Who may see and change what: tokens, roles, region scopes, audit.
//!
//! Every request carries a [`Caller`]: the authentication middleware (see `middleware`) puts
//! one in the request's extensions, made from the `Authorization: Bearer <token>` header, or
//! the anonymous caller when there is no header. Handlers take it as an extractor and ask it
//! what the caller may do; they never look at tokens themselves.
//!
//! * [`token`]: making, hashing and checking tokens (`gridmap token ...`, `/api/tokens`);
//! * [`middleware`]: the per-request check, the token cache, rate limits ([`limit`]) and what
//!   is audited ([`audit`]).
//!
//! Scopes: a token may carry a subdistrict or community code. A scoped planner edits only
//! inside it (the edit routes check [`Caller::scope_allows`]); a scoped coordinator sees the
//! names and phones only of staff who serve at least one grid inside it
//! ([`Caller::may_see_personal_data_of`]); reads without personal data are not limited by
//! scope.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::model::{Code, Staff};

pub mod audit;
pub mod limit;
pub mod middleware;
pub mod token;

pub use audit::AuditEntry;
pub use limit::RateLimit;
pub use middleware::{mark_personal, AuditDetail, Auth, AuthConfig, PersonalData};
pub use token::{create_token, list_tokens, revoke_token, AuthError, NewToken, TokenInfo};

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
    /// The caller without a token.
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

    /// The name and phone of `staff`: a coordinator or higher, and, for a scoped token, only
    /// staff serving at least one grid inside the scope.
    pub fn may_see_personal_data_of(&self, staff: &Staff) -> bool {
        self.may_see_personal_data() && (self.scope.is_none() || staff.grids.iter().any(|g| self.scope_allows(g)))
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
