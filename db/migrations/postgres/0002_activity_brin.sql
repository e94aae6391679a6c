-- Retention deletes the oldest activity; a BRIN index on the append-only
-- created column serves that range scan at a fraction of a B-tree's size.
-- The B-tree it replaces also tempted the planner into walking every user's
-- newest rows to fill one heavy user's page, where activities_user_created
-- reads exactly the rows of the page.
DROP INDEX activities_created;
CREATE INDEX activities_created_brin ON activities USING brin (created) WITH (pages_per_range = 16, autosummarize = on);
