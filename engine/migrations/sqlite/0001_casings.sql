-- Casings on file and their stored features (SQLite dialect).
-- Keep in step with ../postgres/0001_casings.sql: same tables, same columns,
-- same constraints, each in its own dialect's types.
--
-- STRICT makes SQLite enforce the declared column types, as PostgreSQL does,
-- so a value the engine reads back is always of the type it expects.

CREATE TABLE casings (
    -- AUTOINCREMENT: the id is also the casing's id in the faiss index, so it
    -- must never be handed out again, not even after the newest casing is
    -- deleted (plain INTEGER PRIMARY KEY would reuse max(id) + 1).
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    agency        TEXT    NOT NULL DEFAULT 'local',
    casing_id     TEXT    NOT NULL,
    -- Lowercase hex SHA-256 of the original file as submitted.
    sha256        TEXT    NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    file_name     TEXT    NOT NULL,
    format        TEXT    NOT NULL,
    surface_kind  TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('evidence', 'test_fire')),
    case_number   TEXT,
    calibre       TEXT,
    -- Any further manifest columns, as a JSON object.
    metadata      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    um_per_px     REAL    NOT NULL CHECK (um_per_px > 0),
    width         INTEGER NOT NULL CHECK (width > 0),
    height        INTEGER NOT NULL CHECK (height > 0),
    -- RFC 3339 UTC with milliseconds, set by the database on insert.
    submitted_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    submitted_by  TEXT    NOT NULL,
    UNIQUE (agency, casing_id),
    -- The same bytes are the same casing: a second casing id for them within
    -- one agency is refused here, so two concurrent submissions cannot both
    -- slip past the check the engine makes before inserting.
    UNIQUE (agency, sha256)
) STRICT;

-- Finding a file's casings across agencies.
CREATE INDEX casings_sha256 ON casings (sha256);

CREATE TABLE casing_features (
    -- INTEGER PRIMARY KEY (no AUTOINCREMENT): always given, equal to casings.id.
    casing_pk           INTEGER PRIMARY KEY REFERENCES casings (id) ON DELETE CASCADE,
    model_version       TEXT    NOT NULL,
    -- The descriptor as little-endian f32s.
    descriptor          BLOB    NOT NULL,
    -- The comparison surface, encoded by the caller; opaque here.
    comparison_surface  BLOB    NOT NULL,
    pipeline_version    TEXT    NOT NULL
) STRICT;

-- Rebuilding the index reads one model version's descriptors in id order.
CREATE INDEX casing_features_model ON casing_features (model_version, casing_pk);
