-- The whole account schema: later features add columns at most.

CREATE TABLE users (
    id                       TEXT PRIMARY KEY,
    username                 text NOT NULL,
    -- *_key columns hold the case-folded value the unique index and the
    -- login lookup use, so "Alice" and "alice" are one account.
    username_key             text NOT NULL,
    email                    text NOT NULL,
    email_key                text NOT NULL,
    name_first               text NOT NULL,
    name_last                text NOT NULL,
    role                     text,
    avatar                   text,
    admin                    BOOLEAN NOT NULL DEFAULT false,
    frozen                   BOOLEAN NOT NULL DEFAULT false,
    suspended                BOOLEAN NOT NULL DEFAULT false,
    language                 text NOT NULL DEFAULT 'en',
    toast_position           text NOT NULL DEFAULT 'bottom_right',
    start_on_grouped_servers BOOLEAN NOT NULL DEFAULT false,
    require_two_factor       BOOLEAN NOT NULL DEFAULT false,
    password_hash            text,
    totp_enabled             BOOLEAN NOT NULL DEFAULT false,
    totp_secret              text,
    totp_last_step           INTEGER NOT NULL DEFAULT 0,
    totp_last_used           TIMESTAMP,
    recovery_salt            BLOB,
    created                  TIMESTAMP NOT NULL,
    updated                  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_start  text NOT NULL,
    digest     BLOB NOT NULL,
    ip         text NOT NULL,
    user_agent text NOT NULL,
    last_used  TIMESTAMP NOT NULL,
    created    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX sessions_key_start ON sessions (key_start);
CREATE INDEX sessions_user_created ON sessions (user_id, created DESC, id DESC);
CREATE INDEX sessions_last_used ON sessions (last_used);

CREATE TABLE api_keys (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               text NOT NULL,
    key_start          text NOT NULL,
    digest             BLOB NOT NULL,
    -- JSON arrays of strings: one representation both engines share.
    allowed_ips        text NOT NULL DEFAULT '[]',
    user_permissions   text NOT NULL DEFAULT '[]',
    admin_permissions  text NOT NULL DEFAULT '[]',
    server_permissions text NOT NULL DEFAULT '[]',
    last_used          TIMESTAMP,
    expires            TIMESTAMP,
    created            TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX api_keys_key_start ON api_keys (key_start);
CREATE UNIQUE INDEX api_keys_user_name ON api_keys (user_id, name);
CREATE INDEX api_keys_user_created ON api_keys (user_id, created, id);
CREATE INDEX api_keys_expires ON api_keys (expires) WHERE expires IS NOT NULL;

CREATE TABLE recovery_codes (
    id      TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest  BLOB NOT NULL,
    created TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX recovery_codes_user_digest ON recovery_codes (user_id, digest);

CREATE TABLE login_tokens (
    id        TEXT PRIMARY KEY,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_start text NOT NULL,
    digest    BLOB NOT NULL,
    attempts  integer NOT NULL DEFAULT 0,
    expires   TIMESTAMP NOT NULL,
    created   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX login_tokens_key_start ON login_tokens (key_start);
CREATE INDEX login_tokens_expires ON login_tokens (expires);

CREATE TABLE activities (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- No foreign key: the history outlives the key that made the change.
    api_key_id   TEXT,
    impersonator TEXT,
    event        text NOT NULL,
    ip           text,
    data         text NOT NULL DEFAULT '{}',
    created      TIMESTAMP NOT NULL
);
CREATE INDEX activities_user_created ON activities (user_id, created DESC, id DESC);
CREATE INDEX activities_created ON activities (created);

-- Per-account attempt limits for password, TOTP and recovery-code checks.
CREATE TABLE attempt_counters (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failures      integer NOT NULL DEFAULT 0,
    window_start  TIMESTAMP NOT NULL,
    consecutive   integer NOT NULL DEFAULT 0,
    blocked_until TIMESTAMP
);

-- Per-IP rate-limit windows shared by every server on this database.
CREATE TABLE rate_limits (
    key          text PRIMARY KEY,
    window_start TIMESTAMP NOT NULL,
    hits         integer NOT NULL
);
