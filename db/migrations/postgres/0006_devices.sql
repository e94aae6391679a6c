-- Browsers an account has signed in from, by the device cookie they hold
-- (only its SHA-256 digest is stored), each with an attempt budget of its
-- own: a sign-in from a known device is not blocked by failures elsewhere.
CREATE TABLE devices (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest        bytea NOT NULL,
    created       timestamptz NOT NULL,
    last_used     timestamptz NOT NULL,
    failures      integer NOT NULL DEFAULT 0,
    window_start  timestamptz NOT NULL,
    consecutive   integer NOT NULL DEFAULT 0,
    blocked_until timestamptz
);
CREATE UNIQUE INDEX devices_digest ON devices (digest);
CREATE INDEX devices_user_id ON devices (user_id);

-- The device a session was signed in from: the session's password
-- confirmations are charged to that device's budget. NULL for a sign-up's
-- session (and every session before this migration): the account's budget.
ALTER TABLE sessions ADD COLUMN device_id uuid;
