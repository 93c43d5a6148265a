#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume
# (docker-entrypoint-initdb.d), as the superuser. It creates the roles of
# docs/privacy.en.md, "Database roles":
#
#   needsbot_owner  LOGIN, owns the database and its schema: runs `needsbot migrate`.
#   needsbot_app    NOLOGIN: the runtime privileges (granted by migration 00008).
#   needsbot_bot    LOGIN, member of needsbot_app: `needsbot run` logs in as it.
#   needsbot_reader NOLOGIN: the aggregated BI views (docs/bi.md).
#   needsbot_analyst NOLOGIN: the row-level BI views, granted separately (docs/bi.md).
#
# None is a superuser; only needsbot_owner may change the schema. For an
# existing volume run the same statements by hand (deploy/README.md).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v owner_pw="$NEEDSBOT_OWNER_PASSWORD" -v bot_pw="$NEEDSBOT_BOT_PASSWORD" <<'SQL'
CREATE ROLE needsbot_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_pw';
CREATE ROLE needsbot_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE needsbot_reader NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE needsbot_analyst NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE needsbot_bot LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE needsbot_app PASSWORD :'bot_pw';
ALTER DATABASE needsbot OWNER TO needsbot_owner;
-- PostgreSQL 15+: schema public belongs to the database owner
-- (pg_database_owner) and PUBLIC may not create in it.
REVOKE ALL ON DATABASE needsbot FROM PUBLIC;
GRANT CONNECT ON DATABASE needsbot TO needsbot_owner, needsbot_app, needsbot_reader, needsbot_analyst;
SQL
