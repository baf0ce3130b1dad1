#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data directory (it is mounted
# into /docker-entrypoint-initdb.d by the Compose files). Creates Nexum's database and its
# owner, a role with no superuser, createdb or createrole rights (the deployment guide's
# `createuser nexum_prod --no-createdb --no-createrole --no-superuser`), and, when a
# replication password is given, the `replicator` role for the streaming replica.
#
# Environment (set by the Compose files; passwords come from secret files, never from
# variables, and are handed to psql through its environment, never its command line):
#   APP_DB_NAME, APP_DB_USER, APP_DB_PASSWORD_FILE    required
#   REPLICATION_PASSWORD_FILE                         optional
set -euo pipefail

: "${APP_DB_NAME:?APP_DB_NAME is required}"
: "${APP_DB_USER:?APP_DB_USER is required}"
: "${APP_DB_PASSWORD_FILE:?APP_DB_PASSWORD_FILE is required}"

read_secret() {
    local value
    value="$(cat "$1")"
    if [ -z "$value" ]; then
        echo "init-nexum: $1 is empty" >&2
        exit 1
    fi
    printf '%s' "$value"
}

APP_DB_PASSWORD="$(read_secret "$APP_DB_PASSWORD_FILE")"
export APP_DB_NAME APP_DB_USER APP_DB_PASSWORD

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv app_db APP_DB_NAME
\getenv app_user APP_DB_USER
\getenv app_password APP_DB_PASSWORD
CREATE ROLE :"app_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'app_password' CONNECTION LIMIT 150;
CREATE DATABASE :"app_db" OWNER :"app_user";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"app_db" TO :"app_user";
\connect :"app_db"
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL

if [ -n "${REPLICATION_PASSWORD_FILE:-}" ]; then
    REPLICATION_PASSWORD="$(read_secret "$REPLICATION_PASSWORD_FILE")"
    export REPLICATION_PASSWORD
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv replication_password REPLICATION_PASSWORD
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'replication_password'
    CONNECTION LIMIT 5;
SQL
    # Replication connections from the Compose network only, with SCRAM passwords.
    echo "host replication replicator samenet scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi
