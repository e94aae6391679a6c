-- The clean-up finds idle sessions by the hour of their last use (see the
-- PostgreSQL migration of the same number, where this keeps the frequent
-- writes of last_used from touching any index).
ALTER TABLE sessions ADD COLUMN last_used_hour TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00+00:00';
UPDATE sessions SET last_used_hour = substr(last_used, 1, 13) || ':00:00+00:00';
DROP INDEX sessions_last_used;
CREATE INDEX sessions_last_used_hour ON sessions (last_used_hour);
