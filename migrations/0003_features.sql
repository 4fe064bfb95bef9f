-- gridmap 0003: the feature layers (compounds, gates, buildings, entrances, responders) and staff.
--
-- These layers keep only their current state (unlike the regions of 0002); that and when they
-- were rewritten is recorded in change_log (0004).
-- Ids are the model's u32 ids, stored as bigint with a range check so every u32 fits.
-- Enumerations are stored as the model's snake_case names (the same text as in GeoJSON),
-- checked against the list of known values. `ord` is the row's position in its layer as
-- last written (see 0002). Geometries are valid, non-empty and within the lon/lat range.

-- Gated compounds (小区/院落) and open blocks.
CREATE TABLE compounds (
    id             bigint                  NOT NULL,
    community_code text COLLATE "C"        NOT NULL,
    name           text                    NOT NULL,
    -- Walled: reachable only through its gates.
    gated          boolean                 NOT NULL,
    ord            integer                 NOT NULL,
    geom           geometry(Polygon, 4326) NOT NULL,
    CONSTRAINT compounds_pkey PRIMARY KEY (id),
    CONSTRAINT compounds_id_range CHECK (id BETWEEN 0 AND 4294967295),
    CONSTRAINT compounds_community_known FOREIGN KEY (community_code) REFERENCES community_codes (code),
    CONSTRAINT compounds_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    CONSTRAINT compounds_geom_in_range
        CHECK (ST_IsEmpty(geom) OR geom @ ST_MakeEnvelope(-180, -90, 180, 90, 4326)),
    CONSTRAINT compounds_geom_valid CHECK (ST_IsValid(geom))
);
CREATE INDEX compounds_community_code ON compounds (community_code);
CREATE INDEX compounds_geom ON compounds USING gist (geom);

-- Access-control points (门禁): the gates in compound walls.
CREATE TABLE access_points (
    id          bigint                NOT NULL,
    compound_id bigint                NOT NULL,
    name        text                  NOT NULL,
    kind        text                  NOT NULL,
    -- Who may pass, in the order written; 'public' means anyone.
    passes      text[]                NOT NULL,
    -- Opening hours as written on the sign (src/model/schedule.rs): 24h, closed, or HH:MM-HH:MM,...
    hours       text                  NOT NULL,
    has_device  boolean               NOT NULL,
    ord         integer               NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    CONSTRAINT access_points_pkey PRIMARY KEY (id),
    CONSTRAINT access_points_id_range CHECK (id BETWEEN 0 AND 4294967295),
    CONSTRAINT access_points_compound_known FOREIGN KEY (compound_id) REFERENCES compounds (id),
    CONSTRAINT access_points_kind_known CHECK (kind IN ('pedestrian', 'vehicle', 'both')),
    CONSTRAINT access_points_passes_known
        CHECK (passes <@ ARRAY['public', 'residents', 'staff', 'police']::text[]),
    CONSTRAINT access_points_hours_format
        CHECK (hours ~* '^(24h|closed|[0-9]{1,2}:[0-9]{2} *- *[0-9]{1,2}:[0-9]{2}( *, *[0-9]{1,2}:[0-9]{2} *- *[0-9]{1,2}:[0-9]{2})*)$'),
    CONSTRAINT access_points_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    CONSTRAINT access_points_geom_in_range
        CHECK (ST_IsEmpty(geom) OR geom @ ST_MakeEnvelope(-180, -90, 180, 90, 4326))
);
CREATE INDEX access_points_compound_id ON access_points (compound_id);
CREATE INDEX access_points_geom ON access_points USING gist (geom);

-- Buildings with their standard address (一标三实).
CREATE TABLE buildings (
    id              bigint                  NOT NULL,
    -- NULL for a building along a road, outside any compound.
    compound_id     bigint,
    road            text                    NOT NULL,
    door_number     bigint                  NOT NULL,
    -- Compound name and building number (栋) when the building stands in a compound.
    compound_name   text,
    building_number bigint,
    address_text    text                    NOT NULL,
    floors          integer                 NOT NULL,
    units           integer                 NOT NULL,
    households      integer                 NOT NULL,
    population      integer                 NOT NULL,
    ord             integer                 NOT NULL,
    geom            geometry(Polygon, 4326) NOT NULL,
    CONSTRAINT buildings_pkey PRIMARY KEY (id),
    CONSTRAINT buildings_id_range CHECK (id BETWEEN 0 AND 4294967295),
    CONSTRAINT buildings_compound_known FOREIGN KEY (compound_id) REFERENCES compounds (id),
    CONSTRAINT buildings_numbers_range CHECK (door_number BETWEEN 0 AND 4294967295
        AND (building_number IS NULL OR building_number BETWEEN 0 AND 4294967295)),
    CONSTRAINT buildings_counts_nonnegative
        CHECK (floors >= 0 AND units >= 0 AND households >= 0 AND population >= 0),
    CONSTRAINT buildings_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    CONSTRAINT buildings_geom_in_range
        CHECK (ST_IsEmpty(geom) OR geom @ ST_MakeEnvelope(-180, -90, 180, 90, 4326)),
    CONSTRAINT buildings_geom_valid CHECK (ST_IsValid(geom))
);
CREATE INDEX buildings_compound_id ON buildings (compound_id);
CREATE INDEX buildings_geom ON buildings USING gist (geom);

-- Building entrances (单元门), one per unit.
CREATE TABLE entrances (
    id          bigint                NOT NULL,
    building_id bigint                NOT NULL,
    unit        integer               NOT NULL,
    ord         integer               NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    CONSTRAINT entrances_pkey PRIMARY KEY (id),
    CONSTRAINT entrances_id_range CHECK (id BETWEEN 0 AND 4294967295),
    CONSTRAINT entrances_building_known FOREIGN KEY (building_id) REFERENCES buildings (id),
    CONSTRAINT entrances_unit_nonnegative CHECK (unit >= 0),
    CONSTRAINT entrances_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    CONSTRAINT entrances_geom_in_range
        CHECK (ST_IsEmpty(geom) OR geom @ ST_MakeEnvelope(-180, -90, 180, 90, 4326))
);
CREATE INDEX entrances_building_id ON entrances (building_id);
CREATE INDEX entrances_geom ON entrances USING gist (geom);

-- Staged response forces.
CREATE TABLE responders (
    id        bigint                NOT NULL,
    kind      text                  NOT NULL,
    name      text                  NOT NULL,
    mode      text                  NOT NULL,
    headcount integer               NOT NULL,
    -- Duty hours, same text form as access_points.hours.
    duty      text                  NOT NULL,
    ord       integer               NOT NULL,
    geom      geometry(Point, 4326) NOT NULL,
    CONSTRAINT responders_pkey PRIMARY KEY (id),
    CONSTRAINT responders_id_range CHECK (id BETWEEN 0 AND 4294967295),
    CONSTRAINT responders_kind_known
        CHECK (kind IN ('joint_defence', 'police_post', 'service_station', 'patrol')),
    CONSTRAINT responders_mode_known CHECK (mode IN ('walk', 'run', 'ebike', 'car')),
    CONSTRAINT responders_headcount_nonnegative CHECK (headcount >= 0),
    CONSTRAINT responders_duty_format
        CHECK (duty ~* '^(24h|closed|[0-9]{1,2}:[0-9]{2} *- *[0-9]{1,2}:[0-9]{2}( *, *[0-9]{1,2}:[0-9]{2} *- *[0-9]{1,2}:[0-9]{2})*)$'),
    CONSTRAINT responders_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    CONSTRAINT responders_geom_in_range
        CHECK (ST_IsEmpty(geom) OR geom @ ST_MakeEnvelope(-180, -90, 180, 90, 4326))
);
CREATE INDEX responders_geom ON responders USING gist (geom);

-- Grid staff. name and phone are personal data: never log them.
CREATE TABLE staff (
    id    bigint  NOT NULL,
    name  text    NOT NULL,
    role  text    NOT NULL,
    force text    NOT NULL,
    phone text    NOT NULL,
    ord   integer NOT NULL,
    CONSTRAINT staff_pkey PRIMARY KEY (id),
    CONSTRAINT staff_id_range CHECK (id BETWEEN 0 AND 4294967295),
    CONSTRAINT staff_role_known CHECK (role IN ('grid_leader', 'grid_staff')),
    CONSTRAINT staff_force_known CHECK (force IN ('community_worker', 'community_police',
        'resident_work_team', 'party_volunteer', 'property_security', 'building_head',
        'governance_cadre', 'urban_management', 'safety_volunteer'))
);

-- Which grids each person serves (one person may serve several grids). Points at the grid code
-- registry, so it survives a new version of the grid; `ord` keeps the person's list in order.
CREATE TABLE staff_grids (
    staff_id  bigint           NOT NULL,
    grid_code text COLLATE "C" NOT NULL,
    ord       integer          NOT NULL,
    CONSTRAINT staff_grids_pkey PRIMARY KEY (staff_id, grid_code),
    CONSTRAINT staff_grids_staff_known FOREIGN KEY (staff_id) REFERENCES staff (id) ON DELETE CASCADE,
    CONSTRAINT staff_grids_grid_known FOREIGN KEY (grid_code) REFERENCES grid_codes (code)
);
CREATE INDEX staff_grids_grid_code ON staff_grids (grid_code);
