-- The change feed: one row per change to what the descriptor index holds
-- (SQLite dialect). Keep in step with ../postgres/0011_change_feed.sql.
--
-- Every engine reading this database follows the feed to keep its own
-- in-memory index in step with the rows, whichever process wrote them.
-- A row is written in the same transaction as the change it announces, so
-- a committed casing always has its row and a rolled-back one never does.

CREATE TABLE casing_changes (
    -- AUTOINCREMENT: never reused, so a follower's position (the highest
    -- seq it has applied) means the same thing forever. SQLite's single
    -- writer commits rows in seq order.
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- No foreign key: a removal outlives the casing it removed.
    casing_pk   INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('insert', 'describe', 'remove')),
    changed_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Every casing already on file enters the feed once, so a follower that
-- starts from position 0 reaches the same index as a rebuild.
INSERT INTO casing_changes (casing_pk, kind)
    SELECT id, 'insert' FROM casings ORDER BY id;
