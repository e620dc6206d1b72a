-- Kept in step with ../postgres/0008_pending_deliveries.sql, which adds an index of pending
-- deliveries by due time for the queue's claim. SQLite needs none: its deliveries_due index
-- (delivered_at_ms, gave_up_at_ms, next_at_ms) already ends with the rowid, so it gives the
-- claim's order (next_at_ms, id) without a sort; a second index would only cost every write.
SELECT 1;
