-- Per-mark comparison: each casing's firing-pin mark (PostgreSQL dialect).
-- Keep in step with ../sqlite/0009_pin_marks.sql.

-- The firing-pin impression cut out at submission and laid on its own
-- small canvas (CTC1 encoding, like comparison_surface); NULL when the
-- casing has none (processed scans whose hole is cut out, photographs).
ALTER TABLE casing_features ADD COLUMN pin_mark BYTEA;
-- The version of the mark extraction that ran (whether or not it found a
-- mark); NULL on rows stored before it existed, which `casetrace
-- redescribe` then gives their marks from the evidence file.
ALTER TABLE casing_features ADD COLUMN marks_version TEXT;
