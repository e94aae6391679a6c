-- The run of consecutive TOTP and recovery-code failures, kept apart from
-- the password failures: a password sign-in does not end it, only a
-- successful code check does. At 100, TOTP codes are refused until a
-- recovery code or the operator's `user disable-2fa` ends it. It starts at
-- zero for every account (the previous hard stop is not carried over).
ALTER TABLE attempt_counters ADD COLUMN code_failures integer NOT NULL DEFAULT 0;
