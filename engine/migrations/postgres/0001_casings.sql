-- Casings on file and their stored features (PostgreSQL dialect).
-- Keep in step with ../sqlite/0001_casings.sql: same tables, same columns,
-- same constraints, each in its own dialect's types.

CREATE TABLE casings (
    -- An identity column: the id is also the casing's id in the faiss index,
    -- and a sequence never hands a value out twice, even after deletes.
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency        TEXT             NOT NULL DEFAULT 'local',
    casing_id     TEXT             NOT NULL,
    -- Lowercase hex SHA-256 of the original file as submitted.
    sha256        TEXT             NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    file_name     TEXT             NOT NULL,
    format        TEXT             NOT NULL,
    surface_kind  TEXT             NOT NULL,
    kind          TEXT             NOT NULL CHECK (kind IN ('evidence', 'test_fire')),
    case_number   TEXT,
    calibre       TEXT,
    -- Any further manifest columns, as a JSON object.
    metadata      JSONB            NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    um_per_px     DOUBLE PRECISION NOT NULL CHECK (um_per_px > 0),
    -- BIGINT rather than INTEGER so both dialects read back as i64.
    width         BIGINT           NOT NULL CHECK (width > 0),
    height        BIGINT           NOT NULL CHECK (height > 0),
    -- Set by the database on insert.
    submitted_at  TIMESTAMPTZ      NOT NULL DEFAULT now(),
    submitted_by  TEXT             NOT NULL,
    UNIQUE (agency, casing_id),
    -- The same bytes are the same casing: a second casing id for them within
    -- one agency is refused here, so two concurrent submissions cannot both
    -- slip past the check the engine makes before inserting.
    UNIQUE (agency, sha256)
);

-- Finding a file's casings across agencies.
CREATE INDEX casings_sha256 ON casings (sha256);

CREATE TABLE casing_features (
    casing_pk           BIGINT PRIMARY KEY REFERENCES casings (id) ON DELETE CASCADE,
    model_version       TEXT   NOT NULL,
    -- The descriptor as little-endian f32s.
    descriptor          BYTEA  NOT NULL,
    -- The comparison surface, encoded by the caller; opaque here.
    comparison_surface  BYTEA  NOT NULL,
    pipeline_version    TEXT   NOT NULL
);

-- Rebuilding the index reads one model version's descriptors in id order.
CREATE INDEX casing_features_model ON casing_features (model_version, casing_pk);
