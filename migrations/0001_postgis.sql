-- gridmap 0001: PostGIS.
--
-- PostGIS gives the geometry type, GiST operators and ST_IsValid used by the constraints below.
-- gridmap checks that PostGIS is *available* before running migrations (see src/store/postgis.rs)
-- so that a missing package is reported with instructions, not as a failed migration.
-- Creating it needs a superuser; where gridmap's role is not one, a superuser runs this line once.
CREATE EXTENSION IF NOT EXISTS postgis;
