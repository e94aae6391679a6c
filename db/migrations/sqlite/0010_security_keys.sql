-- WebAuthn credentials (security keys and passkeys) and the registrations
-- in progress: a pending key has no credential yet and holds the challenge
-- of its registration; finishing it stores the credential in the same row.
CREATE TABLE security_keys (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               text NOT NULL,
    credential_id      BLOB,
    -- The credential's COSE public key.
    public_key         BLOB,
    sign_count         INTEGER NOT NULL DEFAULT 0,
    backup_eligible    BOOLEAN NOT NULL DEFAULT false,
    backup_state       BOOLEAN NOT NULL DEFAULT false,
    aaguid             BLOB,
    -- A JSON array of strings, as the other list columns.
    transports         text NOT NULL DEFAULT '[]',
    attestation_format text NOT NULL DEFAULT '',
    challenge          BLOB,
    last_used          TIMESTAMP,
    created            TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX security_keys_user_name ON security_keys (user_id, name);
-- A credential belongs to one key of one account (pending keys have none).
CREATE UNIQUE INDEX security_keys_credential_id ON security_keys (credential_id);
CREATE INDEX security_keys_user_created ON security_keys (user_id, created, id);
-- The clean-up's: pending keys by age.
CREATE INDEX security_keys_pending_created ON security_keys (created) WHERE credential_id IS NULL;

-- Sign-in ceremonies begun and not yet answered: the challenge, who may
-- answer it, and until when. Kept here rather than in a server's memory,
-- so a ceremony begun on one server finishes on another; deleted by its
-- first answer, so a challenge is accepted at most once.
CREATE TABLE security_key_ceremonies (
    id             TEXT PRIMARY KEY,
    kind           text NOT NULL,
    challenge      BLOB NOT NULL,
    -- JSON array of the user ids a sign-in naming an account matched.
    user_ids       text NOT NULL DEFAULT '[]',
    -- A checkpoint's confirmation token: spending the token ends it.
    login_token_id TEXT REFERENCES login_tokens (id) ON DELETE CASCADE,
    expires        TIMESTAMP NOT NULL,
    created        TIMESTAMP NOT NULL
);
CREATE INDEX security_key_ceremonies_expires ON security_key_ceremonies (expires);
CREATE INDEX security_key_ceremonies_login_token ON security_key_ceremonies (login_token_id) WHERE login_token_id IS NOT NULL;
