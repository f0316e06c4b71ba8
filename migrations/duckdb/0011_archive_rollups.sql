-- spurlos embedded store: whether an archived day holds rollups (see src/stats/archive.rs).
ALTER TABLE archived_days ADD COLUMN rollups BOOLEAN DEFAULT false;
