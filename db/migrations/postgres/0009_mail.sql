-- The outbox: every mail the server sends is first a row here, written in
-- the transaction of the change that causes it, so a change never commits
-- without its mail and a mail never leaves for a change that rolled back.
-- A sender loop claims due rows, delivers them and marks them sent; data
-- (the template's values, a link with a token among them) is cleared once
-- the mail is sent or given up.
CREATE TABLE mail_outbox (
    id            uuid PRIMARY KEY,
    user_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    template      text NOT NULL,
    recipient     text NOT NULL,
    data          text,
    created       timestamptz NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    next_attempt  timestamptz NOT NULL,
    claimed_until timestamptz,
    sent          timestamptz,
    failed        timestamptz,
    last_error    text
);
-- The sender's query: unsent rows by when they are due.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt) WHERE sent IS NULL AND failed IS NULL;
-- The clean-up's: finished rows by age.
CREATE INDEX mail_outbox_created ON mail_outbox (created);
CREATE INDEX mail_outbox_user_id ON mail_outbox (user_id);

-- Password reset tokens (REST.md §7): the first 16 characters to find one
-- and a SHA-256 digest of the whole, never the token; single-use.
CREATE TABLE password_reset_tokens (
    id        uuid PRIMARY KEY,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_start text NOT NULL,
    digest    bytea NOT NULL,
    created   timestamptz NOT NULL,
    expires   timestamptz NOT NULL
);
CREATE UNIQUE INDEX password_reset_tokens_key_start ON password_reset_tokens (key_start);
CREATE INDEX password_reset_tokens_user_id ON password_reset_tokens (user_id, created);
CREATE INDEX password_reset_tokens_expires ON password_reset_tokens (expires);
