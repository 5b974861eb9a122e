-- familydns subscriber directory (README: "ISP deployment").
--
-- One row per subscriber: an IPv4 or IPv6 prefix, or the MAC its CPE sends in EDNS
-- (option 65001/65073, from a `server.trusted_forwarders` address), mapped to the name of a
-- profile in the instances' `profiles_dir`. A row naming a profile the config does not have
-- gets the default profile, and is counted (familydns_directory_unknown_profile_total).
--
-- familydns loads the whole table at start and after each reconnect, and applies every
-- change pushed on the channel `familydns_subscribers` by the triggers below within a
-- second. A statement that changes more than 1000 rows (a bulk import) sends one "reload"
-- instead of a notification per row.

CREATE TABLE IF NOT EXISTS familydns_subscribers (
    id      bigserial PRIMARY KEY,
    prefix  cidr UNIQUE,
    cpe     macaddr UNIQUE,
    profile text NOT NULL CHECK (length(profile) BETWEEN 1 AND 255),
    CHECK ((prefix IS NULL) <> (cpe IS NULL))
);

-- Every payload gets a new number: PostgreSQL folds equal payloads of one transaction into
-- one, which would lose "set kids" after "set teen" after "set kids".
CREATE SEQUENCE IF NOT EXISTS familydns_subscriber_changes;

CREATE OR REPLACE FUNCTION familydns_subscribers_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
    r record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO changed FROM new_rows;
    ELSE
        SELECT count(*) INTO changed FROM old_rows;
    END IF;
    IF changed > 1000 THEN
        PERFORM pg_notify('familydns_subscribers', json_build_object(
            'seq', nextval('familydns_subscriber_changes'), 'op', 'reload')::text);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        FOR r IN SELECT prefix, cpe FROM old_rows LOOP
            PERFORM pg_notify('familydns_subscribers', json_build_object(
                'seq', nextval('familydns_subscriber_changes'), 'op', 'remove',
                'prefix', r.prefix, 'cpe', r.cpe)::text);
        END LOOP;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        FOR r IN SELECT prefix, cpe, profile FROM new_rows LOOP
            PERFORM pg_notify('familydns_subscribers', json_build_object(
                'seq', nextval('familydns_subscriber_changes'), 'op', 'set',
                'prefix', r.prefix, 'cpe', r.cpe, 'profile', r.profile)::text);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION familydns_subscribers_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('familydns_subscribers', json_build_object(
        'seq', nextval('familydns_subscriber_changes'), 'op', 'reload')::text);
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS familydns_subscribers_insert ON familydns_subscribers;
CREATE TRIGGER familydns_subscribers_insert AFTER INSERT ON familydns_subscribers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION familydns_subscribers_notify();
DROP TRIGGER IF EXISTS familydns_subscribers_update ON familydns_subscribers;
CREATE TRIGGER familydns_subscribers_update AFTER UPDATE ON familydns_subscribers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION familydns_subscribers_notify();
DROP TRIGGER IF EXISTS familydns_subscribers_delete ON familydns_subscribers;
CREATE TRIGGER familydns_subscribers_delete AFTER DELETE ON familydns_subscribers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION familydns_subscribers_notify();
DROP TRIGGER IF EXISTS familydns_subscribers_truncate ON familydns_subscribers;
CREATE TRIGGER familydns_subscribers_truncate AFTER TRUNCATE ON familydns_subscribers
    FOR EACH STATEMENT EXECUTE FUNCTION familydns_subscribers_truncated();
