-- gridmap 0004: the change log, and the notification other gridmap instances listen for.
--
-- Every committed write appends one row here in the same transaction. Its id is a sequence
-- number: an instance that has applied changes up to id N catches up with
--     SELECT * FROM change_log WHERE id > N ORDER BY id
-- after a reconnect, and in between learns of new changes from NOTIFY on 'gridmap_changes'
-- (payload: the id as text). PostgreSQL delivers a NOTIFY only when its transaction commits,
-- so a listener never hears of a change it cannot yet read.
CREATE TABLE change_log (
    id     bigserial   NOT NULL,
    at     timestamptz NOT NULL DEFAULT now(),
    -- What happened: 'replace_all' (a whole-dataset import) or, from the editor, 'edit'.
    kind   text        NOT NULL,
    -- The layer and key touched, when the change is about one feature.
    layer  text,
    key    text,
    -- Anything else worth knowing (counts, the editor's comment, ...).
    detail jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT change_log_pkey PRIMARY KEY (id),
    CONSTRAINT change_log_kind_known CHECK (kind IN ('replace_all', 'edit'))
);

CREATE FUNCTION change_log_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gridmap_changes', NEW.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER change_log_notify
    AFTER INSERT ON change_log
    FOR EACH ROW EXECUTE FUNCTION change_log_notify();
