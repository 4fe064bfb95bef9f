-- gridmap 0007: writes that do not come from gridmap are changes too.
--
-- Planners also open the database in QGIS, or fix a row with psql. Before this migration such a
-- write reached no running instance: they serve their in-memory snapshot and learn of changes
-- only from change_log (0004), which only gridmap's own writes appended to. Now a statement
-- that writes any table the snapshot is made of appends a 'direct' row to change_log (once per
-- transaction), whose NOTIFY makes every instance load the data again when the transaction
-- commits.
--
-- gridmap's own writes (an import, a grid edit) log themselves with a more precise entry and say
-- so with the transaction-local setting gridmap.writer = 'on' (src/store/postgis/mod.rs,
-- begin_write); the trigger leaves them alone.
--
-- A direct write takes gridmap's write lock (the advisory lock every gridmap write and the
-- region version checks of 0002 take) before it appends, so change numbers still increase in
-- commit order. A QGIS session holding a transaction open therefore holds up gridmap's edits
-- until it commits or rolls back, as it already did for grids.

ALTER TABLE change_log DROP CONSTRAINT change_log_kind_known;
ALTER TABLE change_log ADD CONSTRAINT change_log_kind_known CHECK (kind IN ('replace_all', 'edit', 'direct'));

CREATE FUNCTION change_log_direct() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- current_setting(.., true) is NULL before the setting was ever made in this session and ''
    -- after a transaction that made it ended: anything but 'on' means "not yet".
    IF current_setting('gridmap.writer', true) IS DISTINCT FROM 'on'
       AND current_setting('gridmap.direct_logged', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_advisory_xact_lock(29117719583220080);
        -- `layer` is the first table the transaction wrote; `detail` says who, so that a
        -- planner reading the log can tell a QGIS session from a script.
        INSERT INTO change_log (kind, layer, detail)
        VALUES ('direct', TG_TABLE_NAME, jsonb_build_object(
            'operation', TG_OP,
            'user', current_user,
            'application', current_setting('application_name', true)));
        PERFORM set_config('gridmap.direct_logged', 'on', true);
    END IF;
    RETURN NULL;
END;
$$;

-- Statement-level: one call per statement however many rows it wrote (a QGIS save of 500
-- features costs 500 cheap calls, not a log row each). TRUNCATE needs its own trigger.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['district', 'subdistricts', 'communities', 'grids', 'compounds',
                             'access_points', 'buildings', 'entrances', 'responders', 'staff',
                             'staff_grids']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION change_log_direct()',
                       t || '_direct_write', t);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION change_log_direct()',
                       t || '_direct_truncate', t);
    END LOOP;
END;
$$;
