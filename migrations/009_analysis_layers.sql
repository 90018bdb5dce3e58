-- The planners' analyses publish their results as layers (package
-- analysis): one partition each, like every layer.
CREATE TABLE features_grid_cells    PARTITION OF features FOR VALUES IN ('grid_cells');
CREATE TABLE features_placards      PARTITION OF features FOR VALUES IN ('placards');
CREATE TABLE features_blind_spots   PARTITION OF features FOR VALUES IN ('blind_spots');
CREATE TABLE features_fence_gaps    PARTITION OF features FOR VALUES IN ('fence_gaps');
CREATE TABLE features_frontage_gaps PARTITION OF features FOR VALUES IN ('frontage_gaps');
CREATE TABLE features_leaks         PARTITION OF features FOR VALUES IN ('leaks');
