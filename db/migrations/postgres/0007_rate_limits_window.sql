-- The clean-up deletes rate-limit windows that started long ago; without
-- an index that is a scan of every client's window.
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
