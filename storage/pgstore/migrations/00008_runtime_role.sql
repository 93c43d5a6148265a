-- Least privilege for the running bot (issue 11 finding 10; review M5).
--
-- Two database roles, never a superuser:
--   * the migration owner: the role that runs `needsbot migrate` (the
--     compose `migrate` service, the Kubernetes Job). It owns the tables.
--   * the runtime role: `needsbot run` logs in as a role that is a member of
--     needsbot_app, which this migration grants DML on the tables the bot
--     needs, INSERT only on audit_log (append-only by privileges, on top of
--     the trigger of 00001), SELECT only on goose_db_version (run checks
--     that the schema is current), and nothing else: no DDL, no TRUNCATE,
--     no reading of the audit log.
--
-- Roles are shared by every database of a server, so needsbot_app may exist
-- already. A migrating user without CREATEROLE skips creating it (like
-- 00004 does for needsbot_reader) and docs/privacy.en.md ("Database roles")
-- says how an administrator creates it; this migration's GRANTs are then
-- repeated by hand, or by re-running them from that section.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    t record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_app') THEN
        BEGIN
            CREATE ROLE needsbot_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'needsbot_app not created (no CREATEROLE privilege): see docs/privacy.en.md, "Database roles"';
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_app') THEN
        RETURN;
    END IF;

    -- The database's and the schema's owners may grant these; a migration
    -- owner that owns neither leaves them to the DBA (the docs say which).
    BEGIN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO needsbot_app', current_database());
        GRANT USAGE ON SCHEMA public TO needsbot_app;
    EXCEPTION
        WHEN insufficient_privilege THEN
            RAISE NOTICE 'CONNECT on the database or USAGE on schema public not granted to needsbot_app: see docs/privacy.en.md, "Database roles"';
    END;
    -- Every table of the application (responses, answers, rollups, staff,
    -- invites, abandoned, and what later migrations of this release added)
    -- but the audit log and the migrations' own table.
    FOR t IN
        SELECT schemaname, tablename FROM pg_tables
        WHERE schemaname = 'public' AND tablename NOT IN ('audit_log', 'goose_db_version')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO needsbot_app', t.schemaname, t.tablename);
    END LOOP;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO needsbot_app;
    -- The audit log: append only. No SELECT either: who exported what is
    -- for the DPO and the administrators, not for the bot's credentials.
    REVOKE ALL ON audit_log FROM needsbot_app;
    GRANT INSERT ON audit_log TO needsbot_app;
    GRANT SELECT ON goose_db_version TO needsbot_app;

    -- The BI labels are refreshed by the bot at each start; the views are
    -- for needsbot_reader, not for the bot.
    -- (reporting.questions, reporting.labels, and any table of that schema
    -- but reporting.access, which says who reads what and is the DBA's).
    GRANT USAGE ON SCHEMA reporting TO needsbot_app;
    FOR t IN
        SELECT schemaname, tablename FROM pg_tables
        WHERE schemaname = 'reporting' AND tablename <> 'access'
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO needsbot_app', t.schemaname, t.tablename);
    END LOOP;

    -- Tables that later migrations create (as the migration owner) get the
    -- same DML by default; a later append-only table must REVOKE it.
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO needsbot_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO needsbot_app;
END
$$;
-- +goose StatementEnd

-- Nobody but the owner creates objects in the application's schema (the
-- default since PostgreSQL 15; older servers granted CREATE to PUBLIC).
-- Only the schema's owner may revoke it: others leave it to the DBA.
-- +goose StatementBegin
DO $$
BEGIN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'CREATE on schema public not revoked from PUBLIC (not its owner): see docs/privacy.en.md, "Database roles"';
END
$$;
-- +goose StatementEnd
