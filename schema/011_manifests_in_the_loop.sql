-- 011: a manifest's clips, like a synthetic dataset's, are inserted by
-- migrd's loop a slice at a time (coordinator/clipplan.h); `migr dataset
-- add` only checks the manifest and records the dataset.
ALTER TABLE datasets RENAME COLUMN synth_clips TO plan_clips;  -- clips to plan: asked for, or the manifest's
ALTER TABLE datasets ADD COLUMN plan_offset INTEGER;           -- while planning a manifest: the byte its next row starts at
ALTER TABLE datasets ADD COLUMN manifest_sha256 TEXT;          -- the manifest's bytes as the request checked them
ALTER TABLE datasets ADD COLUMN annotations_sha256 TEXT;       -- and its annotations'
