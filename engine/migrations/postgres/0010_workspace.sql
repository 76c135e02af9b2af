-- The examiner workspace (issue #16), PostgreSQL dialect. Keep in step
-- with ../sqlite/0010_workspace.sql.

-- The pair's fine comparison when the lead was taken up: the breech-face
-- score and its calibrated log10 LR (NULL when the pair could not be
-- registered, no calibration covers it, or the lead predates this column).
ALTER TABLE leads ADD COLUMN score DOUBLE PRECISION;
ALTER TABLE leads ADD COLUMN log10_lr DOUBLE PRECISION;

-- AFTE-range conclusions of examiners on a lead. The first is the primary
-- examination, later ones verifications; the engine assigns the role and
-- derives the lead's verification state from these rows.
CREATE TABLE lead_conclusions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id      BIGINT      NOT NULL REFERENCES leads (id),
    agency       TEXT        NOT NULL,
    examiner     TEXT        NOT NULL,
    -- The key that recorded it: one conclusion per key and lead.
    key_id       TEXT        NOT NULL,
    role         TEXT        NOT NULL CHECK (role IN ('primary', 'verification')),
    conclusion   TEXT        NOT NULL CHECK (conclusion IN ('identification', 'inconclusive_a',
                   'inconclusive_b', 'inconclusive_c', 'elimination', 'unsuitable')),
    notes        TEXT,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (lead_id, key_id)
);

-- One primary per lead, whatever two examiners racing to be first do.
CREATE UNIQUE INDEX lead_conclusions_one_primary ON lead_conclusions (lead_id)
    WHERE role = 'primary';
CREATE INDEX leads_agency ON leads (agency, marked_at);
