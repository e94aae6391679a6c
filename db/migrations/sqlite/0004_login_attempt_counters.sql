-- The attempt budgets of sign-in identifiers that name no account (or an
-- account without a password), so an unknown name is refused exactly like
-- a known one and the answers reveal nothing. subject is "login:" and the
-- SHA-256 hex of the kind ("username"/"email") and the case-folded
-- identifier: the identifier itself is never stored.
CREATE TABLE login_attempt_counters (
    subject       text PRIMARY KEY,
    failures      integer NOT NULL DEFAULT 0,
    window_start  TIMESTAMP NOT NULL,
    consecutive   integer NOT NULL DEFAULT 0,
    blocked_until TIMESTAMP
);
