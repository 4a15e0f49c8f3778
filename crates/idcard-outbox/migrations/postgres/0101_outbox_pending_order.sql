-- The relay claims pending messages in seq order: without this index the planner walks
-- the primary key through every delivered message before the first pending one (the
-- outbox keeps its history), or sorts every pending message to take the first few.
CREATE INDEX outbox_pending_seq ON outbox (seq) WHERE state = 'pending';
