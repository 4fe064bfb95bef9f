//! Tokens and the audit log in PostGIS (tables `api_token` and `audit_log`, see
//! `migrations/0006_auth.sql`). These writes do not go through `change_log`: they change no
//! map data, and other instances learn of revocations by their cache expiring.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{db_error, PgStore};
use crate::auth::token::{parse_role, StoredToken, TokenHash};
use crate::auth::{AuditEntry, NewToken, TokenInfo};
use crate::model::Code;
use crate::store::{AccessStore, StoreError};

const TOKEN_COLUMNS: &str = "id, name, role, scope, created_at, expires_at, revoked_at, last_used_at";

fn token_info(row: &PgRow) -> Result<TokenInfo, StoreError> {
    let id: i64 = row.try_get("id").map_err(db_error)?;
    let corrupt = |message: String| StoreError::Corrupt { layer: "api_token".into(), id: id.to_string(), message };
    let role: String = row.try_get("role").map_err(db_error)?;
    let scope: Option<String> = row.try_get("scope").map_err(db_error)?;
    Ok(TokenInfo {
        id,
        name: row.try_get("name").map_err(db_error)?,
        role: parse_role(&role).map_err(|e| corrupt(e.to_string()))?,
        scope: scope.map(|s| Code::parse(&s)).transpose().map_err(|e| corrupt(e.to_string()))?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        expires_at: row.try_get("expires_at").map_err(db_error)?,
        revoked_at: row.try_get("revoked_at").map_err(db_error)?,
        last_used_at: row.try_get("last_used_at").map_err(db_error)?,
    })
}

#[async_trait]
impl AccessStore for PgStore {
    async fn insert_token(
        &self,
        new: &NewToken,
        hash: &TokenHash,
        created_at: DateTime<Utc>,
    ) -> Result<TokenInfo, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO api_token (name, role, scope, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(&new.name)
        .bind(new.role.as_str())
        .bind(new.scope.as_ref().map(Code::as_str))
        .bind(&hash[..])
        .bind(created_at)
        .bind(new.expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        token_info(&row)
    }

    async fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<StoredToken>, StoreError> {
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS}, token_hash FROM api_token WHERE token_hash = $1"))
            .bind(&hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let stored: Vec<u8> = row.try_get("token_hash").map_err(db_error)?;
        let info = token_info(&row)?;
        let hash = stored.try_into().map_err(|_| StoreError::Corrupt {
            layer: "api_token".into(),
            id: info.id.to_string(),
            message: "token_hash is not 32 bytes".into(),
        })?;
        Ok(Some(StoredToken { info, hash }))
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_token ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(token_info).collect()
    }

    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> Result<Option<TokenInfo>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE api_token SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(id)
        .bind(at)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(token_info).transpose()
    }

    async fn record_token_use(&self, used: &[(i64, DateTime<Utc>)]) -> Result<(), StoreError> {
        let ids: Vec<i64> = used.iter().map(|u| u.0).collect();
        let ats: Vec<DateTime<Utc>> = used.iter().map(|u| u.1).collect();
        sqlx::query(
            "UPDATE api_token t SET last_used_at = greatest(t.last_used_at, u.at)
             FROM UNNEST($1::bigint[], $2::timestamptz[]) AS u(id, at) WHERE t.id = u.id",
        )
        .bind(ids)
        .bind(ats)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let col = |f: fn(&AuditEntry) -> Option<String>| entries.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO audit_log (at, token_id, who, addr, method, path, status, detail)
             SELECT * FROM UNNEST($1::timestamptz[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::smallint[], $8::text[])",
        )
        .bind(entries.iter().map(|e| e.at).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.token_id).collect::<Vec<_>>())
        .bind(col(|e| Some(e.who.clone())))
        .bind(col(|e| e.addr.clone()))
        .bind(col(|e| Some(e.method.clone())))
        .bind(col(|e| Some(e.path.clone())))
        .bind(entries.iter().map(|e| e.status as i16).collect::<Vec<_>>())
        .bind(col(|e| Some(e.detail.clone())))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn read_audit(&self, since: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, token_id, who, addr, method, path, status, detail FROM audit_log
             WHERE $1::timestamptz IS NULL OR at >= $1 ORDER BY at, id LIMIT $2",
        )
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let status: i16 = r.try_get("status")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    token_id: r.try_get("token_id")?,
                    who: r.try_get("who")?,
                    addr: r.try_get("addr")?,
                    method: r.try_get("method")?,
                    path: r.try_get("path")?,
                    status: status as u16,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_error)
    }
}
