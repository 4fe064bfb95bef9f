-- gridmap 0002: the district and its three levels of regions, with full history.
--
-- How history is kept
-- -------------------
-- Every region table (subdistricts, communities, grids) holds *every version* of every region:
-- the primary key is (code, version); a version is valid over [valid_from, valid_to) and the
-- current one has valid_to IS NULL. So an as-of query is a plain filter
--     WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
-- and "current" is WHERE valid_to IS NULL (a partial unique index keeps it to one row per code).
-- One table per layer, rather than current tables plus *_history copies, means an edit is an
-- UPDATE of valid_to plus an INSERT, and no row ever moves between tables.
--
-- A partial unique index cannot be the target of a foreign key, so children point at a *code
-- registry* per level (subdistrict_codes, community_codes, grid_codes): one row per code ever
-- used, with retired_at set once no version of it is current. A retired code stays registered,
-- which is what stops it being given to another region (GB/T 30428.1: codes are never reused).
--
-- Constraint names follow <table>_<rule>; src/store/postgis.rs maps them to messages, so rename
-- them only together with that file.
--
-- Code formats (after GB/T 2260 and GB/T 30428.1; src/model/code.rs is the reference):
--   district     6 digits, province 11-82, county part not 00       e.g. 650203
--   subdistrict  district + 001-399                                  e.g. 650203001
--   community    subdistrict + 001-399                               e.g. 650203001001
--   grid         community + 01-99 (2 digits) or 001-999 (3 digits)   e.g. 65020300100101
-- PostgreSQL regular expressions (ARE) support the (?!...) lookahead used to exclude all-zero parts.

-- The one district this database describes (DistrictInfo).
CREATE TABLE district (
    code       text COLLATE "C" NOT NULL,
    name       text             NOT NULL,
    -- Province and city names before the district's, used by the address parser.
    prefix     text             NOT NULL,
    -- Digits of the grid part of grid codes: 2 (14-digit codes) or 3 (15-digit codes).
    grid_width smallint         NOT NULL,
    -- Always true: with the unique constraint it allows at most one row.
    singleton  boolean          NOT NULL DEFAULT true,
    CONSTRAINT district_pkey PRIMARY KEY (code),
    CONSTRAINT district_single_row UNIQUE (singleton),
    CONSTRAINT district_singleton_true CHECK (singleton),
    CONSTRAINT district_code_format CHECK (code ~ '^(1[1-9]|[2-7][0-9]|8[0-2])[0-9]{2}(?!00)[0-9]{2}$'),
    CONSTRAINT district_grid_width CHECK (grid_width IN (2, 3)),
    -- Target of grid_codes_width_matches_district.
    CONSTRAINT district_code_grid_width UNIQUE (code, grid_width)
);

-- Code registries: every code ever used at a level, current or retired.

CREATE TABLE subdistrict_codes (
    code          text COLLATE "C" NOT NULL,
    district_code text COLLATE "C" NOT NULL,
    -- When the last version of this subdistrict was closed; NULL while it is current.
    retired_at    timestamptz,
    CONSTRAINT subdistrict_codes_pkey PRIMARY KEY (code),
    -- Target of subdistricts_code_registered.
    CONSTRAINT subdistrict_codes_code_parent UNIQUE (code, district_code),
    CONSTRAINT subdistrict_codes_code_format CHECK (code ~ '^[0-9]{6}(?!000)[0-3][0-9]{2}$'),
    CONSTRAINT subdistrict_codes_in_district CHECK (left(code, 6) = district_code),
    CONSTRAINT subdistrict_codes_district_known FOREIGN KEY (district_code) REFERENCES district (code)
);

CREATE TABLE community_codes (
    code             text COLLATE "C" NOT NULL,
    subdistrict_code text COLLATE "C" NOT NULL,
    retired_at       timestamptz,
    CONSTRAINT community_codes_pkey PRIMARY KEY (code),
    CONSTRAINT community_codes_code_parent UNIQUE (code, subdistrict_code),
    CONSTRAINT community_codes_code_format CHECK (code ~ '^[0-9]{9}(?!000)[0-3][0-9]{2}$'),
    CONSTRAINT community_codes_in_subdistrict CHECK (left(code, 9) = subdistrict_code),
    CONSTRAINT community_codes_subdistrict_known
        FOREIGN KEY (subdistrict_code) REFERENCES subdistrict_codes (code)
);
CREATE INDEX community_codes_subdistrict_code ON community_codes (subdistrict_code);

CREATE TABLE grid_codes (
    code           text COLLATE "C" NOT NULL,
    community_code text COLLATE "C" NOT NULL,
    retired_at     timestamptz,
    -- Derived from the code so that a foreign key can compare it with the district's setting.
    district_code  text COLLATE "C" GENERATED ALWAYS AS (left(code, 6)) STORED,
    grid_width     smallint         GENERATED ALWAYS AS (length(code) - 12) STORED,
    CONSTRAINT grid_codes_pkey PRIMARY KEY (code),
    CONSTRAINT grid_codes_code_parent UNIQUE (code, community_code),
    CONSTRAINT grid_codes_code_format
        CHECK (code ~ '^[0-9]{12}((?!00$)[0-9]{2}|(?!000$)[0-9]{3})$'),
    CONSTRAINT grid_codes_in_community CHECK (left(code, 12) = community_code),
    CONSTRAINT grid_codes_community_known
        FOREIGN KEY (community_code) REFERENCES community_codes (code),
    -- A 15-digit grid code in a city of 14-digit codes (or the reverse) is refused.
    CONSTRAINT grid_codes_width_matches_district
        FOREIGN KEY (district_code, grid_width) REFERENCES district (code, grid_width)
);
CREATE INDEX grid_codes_community_code ON grid_codes (community_code);

-- Region versions. The three tables have the same shape; only the parent column differs.
-- A version's (code, parent) must be in the registry: one foreign key that says both "this code
-- is registered" and "its parent exists" (the registry's own foreign key), so that a bulk load
-- pays for one key check per row, not two. Code columns use the "C" collation: codes compare
-- as bytes (numbering order in any locale), and "the grids of community X" is a prefix scan
-- of the primary key (code LIKE '650203001001%'), so no index on the parent column is needed.
-- Counts are integers >= 0; geometries are valid, non-empty MultiPolygons in EPSG:4326 within
-- the lon/lat range. `ord` is the position of the row in its layer as last written, so that
-- loading gives the layer back in the order it was stored.

CREATE TABLE subdistricts (
    code          text COLLATE "C"             NOT NULL,
    version       integer                      NOT NULL,
    district_code text COLLATE "C"             NOT NULL,
    name          text                         NOT NULL,
    households    integer                      NOT NULL,
    population    integer                      NOT NULL,
    valid_from    timestamptz                  NOT NULL,
    valid_to      timestamptz,
    ord           integer                      NOT NULL,
    geom          geometry(MultiPolygon, 4326) NOT NULL,
    CONSTRAINT subdistricts_pkey PRIMARY KEY (code, version),
    CONSTRAINT subdistricts_code_registered
        FOREIGN KEY (code, district_code) REFERENCES subdistrict_codes (code, district_code),
    CONSTRAINT subdistricts_code_in_district CHECK (left(code, 6) = district_code),
    CONSTRAINT subdistricts_version_positive CHECK (version >= 1),
    CONSTRAINT subdistricts_counts_nonnegative CHECK (households >= 0 AND population >= 0),
    CONSTRAINT subdistricts_valid_period CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT subdistricts_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    CONSTRAINT subdistricts_geom_in_range
        CHECK (ST_IsEmpty(geom) OR geom @ ST_MakeEnvelope(-180, -90, 180, 90, 4326)),
    CONSTRAINT subdistricts_geom_valid CHECK (ST_IsValid(geom))
);
CREATE UNIQUE INDEX subdistricts_one_current ON subdistricts (code) WHERE valid_to IS NULL;
CREATE INDEX subdistricts_geom ON subdistricts USING gist (geom);

CREATE TABLE communities (
    code             text COLLATE "C"             NOT NULL,
    version          integer                      NOT NULL,
    subdistrict_code text COLLATE "C"             NOT NULL,
    name             text                         NOT NULL,
    households       integer                      NOT NULL,
    population       integer                      NOT NULL,
    valid_from       timestamptz                  NOT NULL,
    valid_to         timestamptz,
    ord              integer                      NOT NULL,
    geom             geometry(MultiPolygon, 4326) NOT NULL,
    CONSTRAINT communities_pkey PRIMARY KEY (code, version),
    CONSTRAINT communities_code_registered
        FOREIGN KEY (code, subdistrict_code) REFERENCES community_codes (code, subdistrict_code),
    CONSTRAINT communities_code_in_subdistrict CHECK (left(code, 9) = subdistrict_code),
    CONSTRAINT communities_version_positive CHECK (version >= 1),
    CONSTRAINT communities_counts_nonnegative CHECK (households >= 0 AND population >= 0),
    CONSTRAINT communities_valid_period CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT communities_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    CONSTRAINT communities_geom_in_range
        CHECK (ST_IsEmpty(geom) OR geom @ ST_MakeEnvelope(-180, -90, 180, 90, 4326)),
    CONSTRAINT communities_geom_valid CHECK (ST_IsValid(geom))
);
CREATE UNIQUE INDEX communities_one_current ON communities (code) WHERE valid_to IS NULL;
CREATE INDEX communities_geom ON communities USING gist (geom);

CREATE TABLE grids (
    code           text COLLATE "C"             NOT NULL,
    version        integer                      NOT NULL,
    community_code text COLLATE "C"             NOT NULL,
    name           text                         NOT NULL,
    households     integer                      NOT NULL,
    population     integer                      NOT NULL,
    valid_from     timestamptz                  NOT NULL,
    valid_to       timestamptz,
    ord            integer                      NOT NULL,
    geom           geometry(MultiPolygon, 4326) NOT NULL,
    CONSTRAINT grids_pkey PRIMARY KEY (code, version),
    CONSTRAINT grids_code_registered
        FOREIGN KEY (code, community_code) REFERENCES grid_codes (code, community_code),
    -- A grid's code is its community's code plus the grid number.
    CONSTRAINT grids_code_in_community CHECK (left(code, 12) = community_code),
    CONSTRAINT grids_version_positive CHECK (version >= 1),
    CONSTRAINT grids_counts_nonnegative CHECK (households >= 0 AND population >= 0),
    CONSTRAINT grids_valid_period CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT grids_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    CONSTRAINT grids_geom_in_range
        CHECK (ST_IsEmpty(geom) OR geom @ ST_MakeEnvelope(-180, -90, 180, 90, 4326)),
    CONSTRAINT grids_geom_valid CHECK (ST_IsValid(geom))
);
CREATE UNIQUE INDEX grids_one_current ON grids (code) WHERE valid_to IS NULL;
CREATE INDEX grids_geom ON grids USING gist (geom);

-- Rules across rows of one layer, which a CHECK cannot express, are checked by statement-level
-- triggers over all rows a statement wrote (one query per statement, cheap for bulk loads):
--   <table>_no_overlapping_versions  no two versions of one code are valid at the same instant;
--   <table>_code_not_retired         a retired code never gets a current version again
--                                    (GB/T 30428.1: codes are not reused).
-- Errors carry those names as their constraint, like real constraints. (A GiST exclusion
-- constraint would state the first rule declaratively, but with btree_gist on text it made
-- loading 100,000 grids take 15 s instead of 3.)
--
-- The trigger first takes the same transaction-level advisory lock as every gridmap write
-- (src/store/postgis.rs, WRITE_LOCK = 0x677269646d6170, "gridmap"), so concurrent writers are
-- checked one after the other and each check sees the rows the other committed.
CREATE FUNCTION region_versions_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad text;
BEGIN
    PERFORM pg_advisory_xact_lock(29117719583220080);
    -- TG_ARGV[0] is the level's code registry; new_rows the rows this statement wrote.
    EXECUTE format(
        'SELECT n.code FROM new_rows n JOIN %I r ON r.code = n.code
         WHERE n.valid_to IS NULL AND r.retired_at IS NOT NULL LIMIT 1', TG_ARGV[0])
        INTO bad;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'code % is retired and cannot have a current version again', bad
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = TG_TABLE_NAME || '_code_not_retired',
                  TABLE = TG_TABLE_NAME,
                  DETAIL = format('Failing row contains (%s)', bad);
    END IF;
    EXECUTE format(
        'SELECT n.code FROM new_rows n JOIN %I o ON o.code = n.code AND o.version <> n.version
         WHERE tstzrange(o.valid_from, o.valid_to) && tstzrange(n.valid_from, n.valid_to)
         LIMIT 1', TG_TABLE_NAME)
        INTO bad;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'two versions of % are valid at the same time', bad
            USING ERRCODE = 'exclusion_violation',
                  CONSTRAINT = TG_TABLE_NAME || '_no_overlapping_versions',
                  TABLE = TG_TABLE_NAME,
                  DETAIL = format('Failing row contains (%s)', bad);
    END IF;
    RETURN NULL;
END;
$$;

-- Transition tables need one trigger per event.
CREATE TRIGGER subdistricts_versions_insert AFTER INSERT ON subdistricts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION region_versions_check('subdistrict_codes');
CREATE TRIGGER subdistricts_versions_update AFTER UPDATE ON subdistricts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION region_versions_check('subdistrict_codes');
CREATE TRIGGER communities_versions_insert AFTER INSERT ON communities
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION region_versions_check('community_codes');
CREATE TRIGGER communities_versions_update AFTER UPDATE ON communities
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION region_versions_check('community_codes');
CREATE TRIGGER grids_versions_insert AFTER INSERT ON grids
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION region_versions_check('grid_codes');
CREATE TRIGGER grids_versions_update AFTER UPDATE ON grids
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION region_versions_check('grid_codes');
