-- 003: modality importance per clip, from the dataset's MI job.
-- mi_* = p(label | only that modality) from a cross-fitted probe;
-- mi_dominant is visual, audio, text or multimodal (margin tau).
ALTER TABLE clips ADD COLUMN mi_visual REAL;
ALTER TABLE clips ADD COLUMN mi_audio REAL;
ALTER TABLE clips ADD COLUMN mi_text REAL;
ALTER TABLE clips ADD COLUMN mi_dominant TEXT;
ALTER TABLE datasets ADD COLUMN mi_tau REAL;
