-- Agencies, API keys and sharing agreements (SQLite dialect). Keep in
-- step with ../postgres/0006_access.sql.

-- A tenant: every record's `agency` column names one of these.
CREATE TABLE agencies (
    id          TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    name        TEXT NOT NULL,
    -- ISO 3166-1 alpha-2.
    country     TEXT NOT NULL CHECK (length(country) = 2),
    -- The agency's own identifier, e.g. an ORI.
    identifier  TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- Keys are shown once; only the SHA-256 of the secret part is kept. The
-- secret is 256 random bits, so a plain hash is enough (no password
-- stretching needed).
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    agency         TEXT NOT NULL REFERENCES agencies (id),
    -- The person or system holding the key, recorded in the audit log.
    holder         TEXT NOT NULL,
    -- Comma-separated roles: examiner, investigator, importer, auditor, admin.
    roles          TEXT NOT NULL,
    secret_sha256  TEXT NOT NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- RFC 3339 UTC text, set and compared by the engine.
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT
) STRICT;

CREATE INDEX api_keys_agency ON api_keys (agency);

-- What `owner` lets `grantee` do with its records: correlate (its casings
-- are candidates for the grantee's searches), view (casing details and
-- images), traces (trace details). View includes correlate.
CREATE TABLE sharing_agreements (
    owner       TEXT NOT NULL REFERENCES agencies (id),
    grantee     TEXT NOT NULL REFERENCES agencies (id),
    scope       TEXT NOT NULL CHECK (scope IN ('correlate', 'view', 'traces')),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by  TEXT NOT NULL,
    PRIMARY KEY (owner, grantee, scope),
    CHECK (owner <> grantee)
) STRICT;

CREATE INDEX sharing_agreements_grantee ON sharing_agreements (grantee, scope);

-- Candidate lists restricted to the agencies a caller may correlate with
-- select casings by agency.
CREATE INDEX casings_agency ON casings (agency, id);
