-- The one extension of an application's 60-day limit for an area with poor transport
-- (Art. 12): the due date before it, when, by whom (the clerk's token subject) and why.
-- All NULL until extended; `due_date` holds the extended date. The reason names the
-- area and its transport, not the applicant, and lists show it, so it is kept in clear.
ALTER TABLE applications ADD COLUMN deadline_extended_from TEXT;
ALTER TABLE applications ADD COLUMN deadline_extended_at_ms INTEGER;
ALTER TABLE applications ADD COLUMN deadline_extended_by TEXT;
ALTER TABLE applications ADD COLUMN deadline_extension_reason TEXT;

-- Open applications by due date: ListOverdue and the deadline gauges.
CREATE INDEX applications_open_due ON applications (due_date, seq)
    WHERE state NOT IN ('collected', 'rejected');
