-- Officers' incident reports (POST /api/incidents): a layer like the
-- live ones, with its partition.
CREATE TABLE features_incidents PARTITION OF features FOR VALUES IN ('incidents');
