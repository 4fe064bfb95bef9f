-- gridmap 0006: API tokens and the audit log (see src/auth).
--
-- A token is stored only as the SHA-256 digest of its secret (32 bytes); the secret is shown
-- once when the token is made. Tokens are never deleted, only revoked, so the audit log's
-- token ids always name a row here.
CREATE TABLE api_token (
    id           bigserial   NOT NULL,
    name         text        NOT NULL,
    role         text        NOT NULL,
    -- A subdistrict or community code (checked against the data when the token is made).
    scope        text,
    token_hash   bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CONSTRAINT api_token_pkey PRIMARY KEY (id),
    CONSTRAINT api_token_hash_unique UNIQUE (token_hash),
    CONSTRAINT api_token_hash_sha256 CHECK (octet_length(token_hash) = 32),
    CONSTRAINT api_token_name_present CHECK (name <> ''),
    CONSTRAINT api_token_role_known CHECK (role IN ('viewer', 'coordinator', 'planner', 'admin'))
);

-- Every write and every read of personal data, appended by a background writer.
CREATE TABLE audit_log (
    id       bigserial   NOT NULL,
    at       timestamptz NOT NULL,
    -- NULL for the anonymous caller.
    token_id bigint,
    who      text        NOT NULL,
    -- The peer address, when known.
    addr     text,
    method   text        NOT NULL,
    path     text        NOT NULL,
    status   smallint    NOT NULL,
    detail   text        NOT NULL DEFAULT '',
    CONSTRAINT audit_log_pkey PRIMARY KEY (id),
    CONSTRAINT audit_log_token_fkey FOREIGN KEY (token_id) REFERENCES api_token (id)
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
