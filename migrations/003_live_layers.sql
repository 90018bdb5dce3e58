-- Layers of the live half: IoT sensors, alerts, officers at their last
-- position and their patrol tracks.
CREATE TABLE features_sensors  PARTITION OF features FOR VALUES IN ('sensors');
CREATE TABLE features_alerts   PARTITION OF features FOR VALUES IN ('alerts');
CREATE TABLE features_officers PARTITION OF features FOR VALUES IN ('officers');
CREATE TABLE features_tracks   PARTITION OF features FOR VALUES IN ('tracks');
