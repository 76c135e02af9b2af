-- Trace numbers and case lookups (PostgreSQL dialect). Keep in step with
-- ../sqlite/0005_trace_numbers.sql.

-- The number an agency gave a trace request. Unique per agency, so a
-- trace submitted or imported twice is recognised and not recorded twice.
ALTER TABLE trace_events ADD COLUMN trace_number TEXT;
CREATE UNIQUE INDEX trace_events_trace_number ON trace_events (agency, trace_number)
    WHERE trace_number IS NOT NULL;

-- Case histories look casings up by case number: an index, not a scan.
CREATE INDEX casings_case_number ON casings (case_number);
