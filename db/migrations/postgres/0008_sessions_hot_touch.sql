-- Recording a session's use (at most every 30 s while it is used) changed
-- last_used, an indexed column, so every such write added a new entry to
-- each of the table's four indexes. The clean-up now finds idle sessions
-- by the hour of their last use, which changes once an hour: the other
-- writes change no indexed column and, with room left on each page, are
-- made in place (HOT) without touching any index.
ALTER TABLE sessions ADD COLUMN last_used_hour timestamptz;
UPDATE sessions SET last_used_hour = date_trunc('hour', last_used, 'UTC');
ALTER TABLE sessions ALTER COLUMN last_used_hour SET NOT NULL;
DROP INDEX sessions_last_used;
CREATE INDEX sessions_last_used_hour ON sessions (last_used_hour);
ALTER TABLE sessions SET (fillfactor = 90);
