-- The correlation queue (issue #17), PostgreSQL dialect. Keep in step
-- with ../sqlite/0012_correlation_queue.sql.
--
-- Every casing stored by submission or import gets one job, inserted in
-- the transaction that stores the casing: a casing on file without a job,
-- or a job without its casing, is never committed. Casings stored before
-- this migration get no job (they were correlated by hand, if at all).
-- Any node's workers claim jobs (`FOR UPDATE SKIP LOCKED`), under a lease
-- they renew while the job runs; a job whose lease ran out (its node was
-- killed) is claimable again. Each claim sets a fresh token, and a job is
-- completed only by the holder of the current token, in the transaction
-- that writes its leads (engine/src/store/correlation_jobs.rs).

CREATE TABLE correlation_jobs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign key: undoing a submission deletes the job with the casing,
    -- and a job outliving its casing otherwise completes with no lead.
    casing_pk       BIGINT      NOT NULL UNIQUE,
    -- The principal the job runs for: the submitter's agency and key (NULL
    -- for the command line). It correlates only against what that agency
    -- may correlate with when the job runs.
    agency          TEXT        NOT NULL,
    key_id          TEXT,
    state           TEXT        NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed')),
    -- The node whose worker holds (or last held) the job.
    claimed_by      TEXT,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    claim_token     TEXT,
    -- The database's clock, ms since the Unix epoch: every node compares
    -- leases against the same clock.
    lease_until_ms  BIGINT,
    -- How many times the job was completed: 1 for every done job, or a
    -- job ran twice to completion.
    completions     INTEGER     NOT NULL DEFAULT 0,
    leads_made      INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    queued_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ,
    CHECK (state <> 'running' OR (claim_token IS NOT NULL AND lease_until_ms IS NOT NULL))
);

-- What a claim scans: the unfinished jobs, oldest first.
CREATE INDEX correlation_jobs_unfinished ON correlation_jobs (id)
    WHERE state IN ('queued', 'running');

-- One lead per unordered pair per agency: the two jobs of a pair (each
-- casing's) may both find it, and only one lead is kept.
CREATE UNIQUE INDEX leads_agency_unordered_pair ON leads
    (agency, LEAST(query_casing_pk, candidate_casing_pk),
     GREATEST(query_casing_pk, candidate_casing_pk));

-- Who made a lead: an examiner by hand, or the correlation queue.
ALTER TABLE leads ADD COLUMN origin TEXT NOT NULL DEFAULT 'hand'
    CHECK (origin IN ('hand', 'automatic'));
