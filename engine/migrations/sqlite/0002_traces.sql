-- Firearms, their trace events, the serial index and examiners' leads
-- (SQLite dialect). Keep in step with ../postgres/0002_traces.sql.

CREATE TABLE firearms (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The agency that owns the record, as for casings.
    agency             TEXT    NOT NULL DEFAULT 'local',
    make               TEXT,
    model              TEXT,
    firearm_type       TEXT,
    calibre            TEXT,
    country            TEXT,
    importer           TEXT,
    serial_as_written  TEXT    NOT NULL,
    -- Upper case, separators removed, look-alikes folded (traces::serial).
    serial_normalised  TEXT    NOT NULL CHECK (length(serial_normalised) > 0),
    obliterated        INTEGER NOT NULL DEFAULT 0 CHECK (obliterated IN (0, 1)),
    -- Which characters a lab restored, as the examiner wrote them.
    restored_chars     TEXT,
    submitted_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    submitted_by       TEXT    NOT NULL
) STRICT;

-- Exact and prefix serial search: a B-tree range, never a scan.
CREATE INDEX firearms_serial ON firearms (serial_normalised);

-- The serial n-gram index: each firearm posted under every trigram of its
-- normalised serial. Wildcard and fuzzy search intersect or count postings
-- here instead of scanning firearms; it is derived from firearms and kept
-- in the same transaction as the row it indexes.
CREATE TABLE firearm_serial_grams (
    gram        TEXT    NOT NULL,
    firearm_pk  INTEGER NOT NULL REFERENCES firearms (id) ON DELETE CASCADE,
    PRIMARY KEY (gram, firearm_pk)
) STRICT, WITHOUT ROWID;

CREATE INDEX firearm_serial_grams_firearm ON firearm_serial_grams (firearm_pk);

CREATE TABLE trace_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    agency         TEXT    NOT NULL DEFAULT 'local',
    firearm_pk     INTEGER NOT NULL REFERENCES firearms (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN
                     ('manufacture', 'import', 'dealer_sale', 'multiple_sale',
                      'theft', 'loss', 'recovery', 'test_fire')),
    -- Calendar date, ISO 8601 (YYYY-MM-DD): events are dated, not timed.
    occurred_on    TEXT    NOT NULL CHECK (occurred_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    -- Dealer sales: the seller's licence id.
    licensee_id    TEXT,
    -- Recovery and test fire: the agency or lab that acted.
    acting_agency  TEXT,
    place          TEXT,
    latitude       REAL    CHECK (latitude BETWEEN -90 AND 90),
    longitude      REAL    CHECK (longitude BETWEEN -180 AND 180),
    crime_code     TEXT,
    possessor      TEXT,
    -- Test fire: the lab's test-fire casing on file.
    casing_pk      INTEGER REFERENCES casings (id),
    comment        TEXT,
    submitted_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    submitted_by   TEXT    NOT NULL,
    CHECK ((kind = 'test_fire') = (casing_pk IS NOT NULL))
) STRICT;

CREATE INDEX trace_events_firearm ON trace_events (firearm_pk, occurred_on);
CREATE INDEX trace_events_casing ON trace_events (casing_pk);

CREATE TABLE leads (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    agency               TEXT    NOT NULL DEFAULT 'local',
    -- The casing searched with and the candidate the engine offered.
    query_casing_pk      INTEGER NOT NULL REFERENCES casings (id),
    candidate_casing_pk  INTEGER NOT NULL REFERENCES casings (id),
    status               TEXT    NOT NULL CHECK (status IN ('lead', 'hit', 'excluded')),
    comment              TEXT,
    marked_by            TEXT    NOT NULL,
    marked_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    decided_by           TEXT,
    decided_at           TEXT,
    CHECK (query_casing_pk <> candidate_casing_pk),
    CHECK ((status = 'lead') = (decided_by IS NULL)),
    CHECK ((decided_by IS NULL) = (decided_at IS NULL)),
    UNIQUE (query_casing_pk, candidate_casing_pk)
) STRICT;

CREATE INDEX leads_candidate ON leads (candidate_casing_pk);
