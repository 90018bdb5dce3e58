-- The governance layers: one partitioned table of features, a partition per
-- layer, geometry in EPSG:4326 with a stored EPSG:3857 copy for tiles.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SEQUENCE feature_id_seq;

CREATE TABLE features (
    id        bigint      NOT NULL DEFAULT nextval('feature_id_seq'),
    layer     text        NOT NULL,
    geom      geometry(Geometry, 4326) NOT NULL,
    geom3857  geometry(Geometry, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
    props     jsonb       NOT NULL DEFAULT '{}',
    anchor    geometry(Point, 4326) NOT NULL, -- grid.Anchor: the point that places the feature in a cell and an area scope
    h3        bigint,
    updated   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (layer, id),
    CHECK (ST_IsValid(geom))
) PARTITION BY LIST (layer);

CREATE INDEX features_geom_idx     ON features USING gist (geom);
CREATE INDEX features_geom3857_idx ON features USING gist (geom3857);
CREATE INDEX features_anchor_idx   ON features USING gist (anchor);
CREATE INDEX features_h3_idx       ON features (h3);
CREATE INDEX features_id_idx       ON features (id);
CREATE INDEX features_props_idx    ON features USING gin (props jsonb_path_ops);

CREATE TABLE features_subdistricts   PARTITION OF features FOR VALUES IN ('subdistricts');
CREATE TABLE features_communities    PARTITION OF features FOR VALUES IN ('communities');
CREATE TABLE features_compounds      PARTITION OF features FOR VALUES IN ('compounds');
CREATE TABLE features_village_zones  PARTITION OF features FOR VALUES IN ('village_zones');
CREATE TABLE features_frontages      PARTITION OF features FOR VALUES IN ('frontages');
CREATE TABLE features_buildings      PARTITION OF features FOR VALUES IN ('buildings');
CREATE TABLE features_streets        PARTITION OF features FOR VALUES IN ('streets');
CREATE TABLE features_courtyard_rows PARTITION OF features FOR VALUES IN ('courtyard_rows');
CREATE TABLE features_dormitory_rows PARTITION OF features FOR VALUES IN ('dormitory_rows');
CREATE TABLE features_shop_streets   PARTITION OF features FOR VALUES IN ('shop_streets');
CREATE TABLE features_fences         PARTITION OF features FOR VALUES IN ('fences');
CREATE TABLE features_camera_views   PARTITION OF features FOR VALUES IN ('camera_views');
CREATE TABLE features_shops          PARTITION OF features FOR VALUES IN ('shops');
CREATE TABLE features_gates          PARTITION OF features FOR VALUES IN ('gates');
CREATE TABLE features_cameras        PARTITION OF features FOR VALUES IN ('cameras');

-- The change log (outbox): one row per feature written or deleted, in the
-- same transaction as the write. Bounds are EPSG:4326.
CREATE TABLE changes (
    seq        bigserial   PRIMARY KEY,
    layer      text        NOT NULL,
    feature_id bigint      NOT NULL,
    op         text        NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    before_box box2d,
    after_box  box2d,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changes_feature_idx ON changes (layer, feature_id);
