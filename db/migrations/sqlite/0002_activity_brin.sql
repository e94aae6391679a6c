-- PostgreSQL replaces its B-tree on activities (created) with a BRIN index
-- here; SQLite has no BRIN and keeps its B-tree. This file keeps the two
-- engines' migration histories in step.
SELECT 1;
