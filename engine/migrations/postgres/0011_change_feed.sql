-- The change feed: one row per change to what the descriptor index holds
-- (PostgreSQL dialect). Keep in step with ../sqlite/0011_change_feed.sql.
--
-- Every engine reading this database follows the feed to keep its own
-- in-memory index in step with the rows, whichever process wrote them.
-- A row is written in the same transaction as the change it announces, so
-- a committed casing always has its row and a rolled-back one never does.
-- Writers take an advisory lock before taking a seq and hold it to commit
-- (engine/src/store/changes.rs explains why), so rows become visible in
-- seq order.

CREATE TABLE casing_changes (
    -- Never reused; a rolled-back writer leaves a gap that stays a gap.
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign key: a removal outlives the casing it removed.
    casing_pk   BIGINT      NOT NULL,
    kind        TEXT        NOT NULL CHECK (kind IN ('insert', 'describe', 'remove')),
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every casing already on file enters the feed once, so a follower that
-- starts from position 0 reaches the same index as a rebuild.
INSERT INTO casing_changes (casing_pk, kind)
    SELECT id, 'insert' FROM casings ORDER BY id;
