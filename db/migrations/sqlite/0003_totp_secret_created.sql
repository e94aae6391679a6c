-- When the pending TOTP secret was made. A setup hands the pending secret
-- out again while it is young instead of replacing it, so reloading the
-- setup page does not invalidate the secret the user has just scanned.
-- NULL (every secret pending before this migration, and any secret once
-- two-factor is on) counts as too old to hand out again.
ALTER TABLE users ADD COLUMN totp_secret_created TIMESTAMP;
