-- Whether the account's current address is known to reach its owner: set
-- when a link mailed to it is opened (a confirmed change, the sign-up
-- verification of EMAIL_VERIFY_SIGNUP) or a password reset sent to it is
-- used; cleared when the address changes without a confirmation
-- (EMAIL_VERIFY_CHANGES=false). Accounts that exist when this migration
-- runs count as verified: they predate the check, and marking every one of
-- them unverified would only nag their owners.
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT true;

-- Addresses waiting for their owner to open the link mailed to them: the
-- new address of a change (it takes effect on confirmation) or, at sign-up,
-- the account's own. At most one per account: a newer change replaces the
-- older. Only the token's first 16 characters (to find it) and a SHA-256
-- digest of the whole are stored; the row is deleted when used.
CREATE TABLE email_verifications (
    id        uuid PRIMARY KEY,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email     text NOT NULL,
    key_start text NOT NULL,
    digest    bytea NOT NULL,
    created   timestamptz NOT NULL,
    expires   timestamptz NOT NULL
);
CREATE UNIQUE INDEX email_verifications_key_start ON email_verifications (key_start);
CREATE UNIQUE INDEX email_verifications_user_id ON email_verifications (user_id);
CREATE INDEX email_verifications_expires ON email_verifications (expires);
