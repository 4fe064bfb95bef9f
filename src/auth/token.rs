//! API tokens: making them, storing only their hash, and checking them.
//!
//! A token is `gm_` followed by 64 lowercase hex digits: 32 bytes (256 bits) from the
//! operating system's CSPRNG (through `rand`'s `ThreadRng`, a ChaCha generator seeded from the
//! OS). It is shown once, when it is made; the store keeps only its SHA-256 digest. SHA-256
//! (unsalted, one round) is right for random high-entropy secrets: there is nothing to guess
//! that a slow password hash would protect, and a lookup needs a deterministic digest.
//!
//! A token is checked by hashing what the caller sent, looking the digest up (in memory or in
//! the store), and comparing the stored digest with the computed one in constant time
//! (`subtle::ConstantTimeEq`), so that no comparison leaks how many bytes matched. (The lookup
//! itself is by digest: an attacker who does not know a token cannot steer its digest.)

use chrono::{DateTime, SubsecRound, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Role;
use crate::model::{Code, Level};
use crate::store::{Store, StoreError};

/// Every token starts with this, so that a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "gm_";
/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;
/// Longest token name.
pub const MAX_NAME_CHARS: usize = 100;

/// The SHA-256 digest of a token, the only form in which a store keeps it.
pub type TokenHash = [u8; 32];

/// What to make a token for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Who the token is given to (a person or a system); the "who" of the audit log.
    pub name: String,
    pub role: Role,
    /// A subdistrict or community code that limits what the token may edit.
    pub scope: Option<Code>,
    /// When the token stops working; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What is known about a token, never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub scope: Option<Code>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl TokenInfo {
    /// Why the token cannot be used at `now`, if it cannot.
    pub fn unusable(&self, now: DateTime<Utc>) -> Option<AuthError> {
        if self.revoked_at.is_some() {
            Some(AuthError::Revoked)
        } else if self.expires_at.is_some_and(|e| e <= now) {
            Some(AuthError::Expired)
        } else {
            None
        }
    }
}

/// A token as a store returns it for a check: its description and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub info: TokenInfo,
    pub hash: TokenHash,
}

/// What can go wrong with a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the Authorization header is not `Bearer gm_<64 hex digits>`")]
    Malformed,
    #[error("the token is not known here")]
    Unknown,
    #[error("the token has expired; ask an administrator for a new one")]
    Expired,
    #[error("the token has been revoked")]
    Revoked,
    #[error("a token is required: send `Authorization: Bearer <token>` (anonymous access is switched off)")]
    Required,
    #[error("{0}")]
    Invalid(String),
    #[error("there is no token with id {0}")]
    NoSuchToken(i64),
    /// Too many token lookups from one address (see `middleware`): retry after this long.
    #[error("too many requests from this address; retry later")]
    RateLimited(std::time::Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new random token: `gm_` and 64 hex digits.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let mut s = String::with_capacity(TOKEN_PREFIX.len() + 2 * TOKEN_BYTES);
    s.push_str(TOKEN_PREFIX);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The digest a store keeps of `secret`.
pub fn hash_secret(secret: &str) -> TokenHash {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether two digests are equal, in time independent of where they differ.
pub fn hashes_equal(a: &TokenHash, b: &TokenHash) -> bool {
    a.ct_eq(b).into()
}

/// Checks the form of a token (not whether it exists).
pub fn check_form(secret: &str) -> Result<(), AuthError> {
    let hex = secret.strip_prefix(TOKEN_PREFIX).ok_or(AuthError::Malformed)?;
    if hex.len() == 2 * TOKEN_BYTES && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(AuthError::Malformed)
    }
}

/// The token of an `Authorization` header value: `Bearer <token>` (scheme case-insensitive).
pub fn parse_bearer(header: &[u8]) -> Result<&str, AuthError> {
    let value = std::str::from_utf8(header).map_err(|_| AuthError::Malformed)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed);
    }
    let token = token.trim();
    check_form(token)?;
    Ok(token)
}

/// Parses `--expires`: an RFC 3339 instant, or a date `YYYY-MM-DD` meaning 00:00 UTC of that
/// day.
pub fn parse_expiry(s: &str) -> Result<DateTime<Utc>, AuthError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            AuthError::Invalid(format!("expiry {s:?} is neither a date (2027-01-31) nor an RFC 3339 instant"))
        })
}

/// Parses a role name: viewer, coordinator, planner or admin.
pub fn parse_role(s: &str) -> Result<Role, AuthError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "viewer" => Ok(Role::Viewer),
        "coordinator" => Ok(Role::Coordinator),
        "planner" => Ok(Role::Planner),
        "admin" => Ok(Role::Admin),
        _ => Err(AuthError::Invalid(format!("unknown role {s:?}; one of viewer, coordinator, planner, admin"))),
    }
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Coordinator => "coordinator",
            Role::Planner => "planner",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a new token's name and scope. The scope must be a subdistrict or community code
/// that exists in the store's current data.
async fn validate(store: &dyn Store, new: &NewToken) -> Result<(), AuthError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AuthError::Invalid(format!(
            "the token name must be 1 to {MAX_NAME_CHARS} printable characters (who the token is for)"
        )));
    }
    if let Some(scope) = &new.scope {
        let data = store.load().await?;
        let exists = match scope.level() {
            Level::Subdistrict => data.subdistricts.iter().any(|r| &r.code == scope),
            Level::Community => data.communities.iter().any(|r| &r.code == scope),
            _ => {
                return Err(AuthError::Invalid(format!(
                    "scope {scope} is a {} code; a scope is a subdistrict or community code",
                    scope.level()
                )))
            }
        };
        if !exists {
            return Err(AuthError::Invalid(format!(
                "scope {scope}: there is no {} with this code in the current data",
                scope.level()
            )));
        }
    }
    Ok(())
}

/// Makes a token: checks `new`, stores its hash, and returns its description and the secret,
/// which exists nowhere else and must be handed to its owner now.
pub async fn create_token(store: &dyn Store, new: NewToken) -> Result<(TokenInfo, String), AuthError> {
    validate(store, &new).await?;
    let new = NewToken { name: new.name.trim().to_string(), ..new };
    let secret = generate_secret();
    let info = store.insert_token(&new, &hash_secret(&secret), now()).await?;
    Ok((info, secret))
}

/// Every token, oldest first.
pub async fn list_tokens(store: &dyn Store) -> Result<Vec<TokenInfo>, AuthError> {
    Ok(store.list_tokens().await?)
}

/// Revokes token `id` (revoking a revoked token changes nothing). Servers that cached it stop
/// accepting it within [`super::middleware::CACHE_TTL`]; use [`super::Auth::revoke`] in a server
/// for immediate effect there.
pub async fn revoke_token(store: &dyn Store, id: i64) -> Result<TokenInfo, AuthError> {
    store.revoke_token(id, now()).await?.ok_or(AuthError::NoSuchToken(id))
}

/// Now, to the microsecond (what both stores keep).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_256_random_bits_and_the_checked_form() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
        check_form(&a).unwrap();
        assert!(check_form("gm_xyz").is_err());
        assert!(check_form(&a.to_uppercase()).is_err());
        assert_eq!(parse_bearer(format!("Bearer {a}").as_bytes()).unwrap(), a);
        assert_eq!(parse_bearer(format!("bearer  {a} ").as_bytes()).unwrap(), a);
        assert!(parse_bearer(format!("Basic {a}").as_bytes()).is_err());
        assert!(parse_bearer(a.as_bytes()).is_err());
    }

    #[test]
    fn hashes_compare_equal_only_when_equal() {
        let h = hash_secret("gm_a");
        assert!(hashes_equal(&h, &hash_secret("gm_a")));
        assert!(!hashes_equal(&h, &hash_secret("gm_b")));
    }

    #[test]
    fn expiry_dates_and_instants() {
        assert_eq!(parse_expiry("2027-01-31").unwrap().to_rfc3339(), "2027-01-31T00:00:00+00:00");
        assert_eq!(parse_expiry("2027-01-31T08:00:00+08:00").unwrap().to_rfc3339(), "2027-01-31T00:00:00+00:00");
        assert!(parse_expiry("tomorrow").is_err());
    }
}
