-- Recordings found again under a new path (moved or renamed) or a new call id (named by a
-- fixed manifest) update their landed call instead of landing twice; runs count them.

ALTER TABLE runs ADD COLUMN n_moved INTEGER DEFAULT 0;    -- calls whose recording moved (path updated)
ALTER TABLE runs ADD COLUMN n_rekeyed INTEGER DEFAULT 0;  -- landed calls renamed to the manifest's id
