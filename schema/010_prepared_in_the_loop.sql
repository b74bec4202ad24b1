-- 010: what a request used to do at once for a large dataset, migrd's loop
-- now does a slice at a time: planning a synthetic dataset's clips
-- (coordinator/synthplan.h) and preparing a run's clip split
-- (coordinator/runprep.h).
ALTER TABLE datasets ADD COLUMN synth_clips INTEGER;   -- clips asked for
ALTER TABLE datasets ADD COLUMN synth_config TEXT;     -- its synth.yaml copy, if one was given
-- While planning: the clip rows (and synth tasks) inserted so far; NULL once
-- they are all in and manifest.csv and annotations.jsonl are written.
ALTER TABLE datasets ADD COLUMN planned INTEGER;
-- While preparing: the run_clips rows inserted so far; NULL once they are
-- all in, clips.json is written and the run's first task is queued.
ALTER TABLE runs ADD COLUMN prepared INTEGER;
ALTER TABLE runs ADD COLUMN prep_extra TEXT;           -- clips.json's other keys (GRPO's init, verifier)
ALTER TABLE runs ADD COLUMN prep_resume TEXT;          -- {"run", "step", "sha0", "sha256"} of a retried run
