-- The trace context (W3C traceparent) of the work that received each record, so that
-- the steps operators take on it later join the same trace: one application's journey
-- is one trace across the services. NULL for a record received outside any trace.
ALTER TABLE review_cases ADD COLUMN trace_context TEXT;
