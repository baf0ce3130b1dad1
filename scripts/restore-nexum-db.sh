#!/usr/bin/env bash
# restore-nexum-db.sh: restore a backup made by backup-nexum-db.sh into a database, and
# prove the restored ledger consistent before anyone uses it.
#
#   restore-nexum-db.sh [--force] [--jobs N] [--no-checksum] BACKUP_FILE [TARGET_DB]
#
#   TARGET_DB        the database to restore into (default nexum_restored, as the guide)
#   --force          TARGET_DB exists and holds tables: replace it. The old database is not
#                    dropped: it is renamed to TARGET_DB_replaced_YYYYmmddHHMMSS (printed in
#                    the summary) for you to drop once you are satisfied.
#   --jobs N         restore with N parallel jobs (default 1: one transaction)
#   --no-checksum    the dump has no .sha256 beside it (a dump not made by the backup script);
#                    it is still read through and checked for the ledger's tables
#
# What it does, in order; nothing is created or changed until the checks before step 4 pass,
# and an existing TARGET_DB is untouched unless the whole restore succeeded:
#   1. checks BACKUP_FILE against BACKUP_FILE.sha256 (refuses a missing or wrong checksum);
#   2. checks the dump's table of contents holds the ledger's tables;
#   3. checks TARGET_DB: absent, or empty (no tables or functions), or --force; and no
#      sessions connected to it;
#   4. creates a scratch database (TARGET_DB_restoring_PID, from template0, with the dump's
#      encoding) and runs pg_restore into it: --no-owner --no-privileges --exit-on-error, in
#      a single transaction (or --jobs N in parallel);
#   5. ANALYZE, then `nexum verify` against the scratch database: every balance recomputed
#      from the journal, every invariant, the audit hash chains; anything but clean fails;
#   6. in one transaction, renames an existing TARGET_DB aside and the scratch database to
#      TARGET_DB (an empty TARGET_DB renamed aside is then dropped);
#   7. prints a summary on stdout. Logs go to stderr.
# On any failure the scratch database is dropped, except when only the final renames fail
# (something connected to TARGET_DB meanwhile): then the verified copy is kept, named in
# the log.
#
# Connection (environment): NEXUM_RESTORE_DATABASE_URL, else NEXUM_DATABASE_URL, else
# DB_HOST DB_PORT DB_USER [DB_PASSWORD] (defaults localhost 5432 nexum_prod): the server and
# role to restore with (a URL's database name is not used: TARGET_DB is). The role needs
# CREATEDB and becomes the owner of everything restored. Also:
#   NEXUM_RESTORE_MAINTENANCE_DB  database to connect to for CREATE/ALTER DATABASE (postgres)
#   NEXUM_RESTORE_REQUIRED_TABLES tables the dump must contain (default: the ledger's)
#   NEXUM_CLI                     the nexum command (default: nexum on PATH, else the
#                                 project's .venv/bin/nexum)
#   NEXUM_RESTORE_LOCK_FILE       default ${TMPDIR:-/tmp}/nexum-restore.lock
#   NEXUM_RESTORE_VERBOSE=1       pass --verbose to pg_restore
#
# Exit codes: 0 restored and verified; 1 the restore failed (TARGET_DB untouched);
# 2 bad usage or configuration; 3 the backup failed its integrity checks (nothing created);
# 4 TARGET_DB refused: not empty without --force, or in use (nothing created); 5 the restored
# ledger failed `nexum verify` (scratch database dropped, TARGET_DB untouched); 75 another
# restore holds the lock.

set -euo pipefail

readonly PROG=restore-nexum-db.sh
readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_INTEGRITY=3 EXIT_TARGET=4 EXIT_UNVERIFIED=5
readonly EXIT_LOCKED=75
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR

# shellcheck source=SCRIPTDIR/lib/nexum-postgres.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/nexum-postgres.sh"

# --- connection settings ---------------------------------------------------------------

url_encode() {
    local LC_ALL=C value=$1 out='' char i
    for ((i = 0; i < ${#value}; i++)); do
        char=${value:i:1}
        case $char in
            [A-Za-z0-9._~-]) out+=$char ;;
            *) printf -v char '%%%02X' "'$char" && out+=$char ;;
        esac
    done
    printf '%s' "$out"
}

# After resolve_connection (in the library), conninfo DB gives what libpq's --dbname takes
# for any database DB on that server (no password in it), and app_url DB the URL `nexum
# verify` takes in NEXUM_DATABASE_URL. A URL's own database name is not used: TARGET_DB is.
app_url() {
    if [[ $CONN_MODE == keywords ]]; then
        # the password, if any, reaches asyncpg through PGPASSWORD (or ~/.pgpass)
        if [[ $CONN_HOST == /* ]]; then
            printf '%s' "postgresql://$(url_encode "$CONN_USER")@/$1?host=$(url_encode "$CONN_HOST")&port=$CONN_PORT"
        else
            printf '%s' "postgresql://$(url_encode "$CONN_USER")@$CONN_HOST:$CONN_PORT/$1"
        fi
    else
        printf '%s' "$URL_SCHEME://$URL_AUTHORITY/$1${URL_QUERY:+?$URL_QUERY}"
    fi
}

# psql on DATABASE with ON_ERROR_STOP, no psqlrc, unaligned tuples-only output; the SQL
# comes on stdin, with the psql variables given as further -v name=value arguments.
sql() {
    local database=$1
    shift
    psql --no-psqlrc --no-password --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 \
        "$@" --dbname="$(conninfo "$database")"
}

# --- the restore -----------------------------------------------------------------------

work_dir='' scratch='' scratch_created=0 swapped=0 keep_scratch=0

cleanup() {
    local status=$?
    set +e
    if ((keep_scratch && !swapped)); then
        log ERROR "the restored and verified ledger is kept as $scratch; once nothing is connected to $TARGET_DB, finish with ALTER DATABASE RENAME (see docs/operations/backup.md)"
    elif ((scratch_created && !swapped)); then
        if sql "$MAINTENANCE_DB" -v db="$scratch" <<<'DROP DATABASE IF EXISTS :"db" WITH (FORCE);'; then
            info "dropped the scratch database $scratch"
        else
            log ERROR "could not drop the scratch database $scratch: drop it by hand"
        fi
    fi
    [[ -n $work_dir ]] && rm -rf -- "$work_dir"
    if ((status != 0)); then
        log ERROR "restore failed (exit $status); $TARGET_DB was not changed"
    fi
    exit "$status"
}

find_cli() {
    if [[ -n ${NEXUM_CLI:-} ]]; then
        NEXUM=$NEXUM_CLI
    elif command -v nexum >/dev/null 2>&1; then
        NEXUM=$(command -v nexum)
    else
        NEXUM=$SCRIPT_DIR/../.venv/bin/nexum
    fi
    [[ -x $NEXUM ]] || die "$EXIT_USAGE" "the nexum command was not found (set NEXUM_CLI): it is needed to verify the restored ledger"
}

check_checksum() {
    local dump=$1 sum_file=$1.sha256 expected actual
    if ((NO_CHECKSUM)); then
        warn "--no-checksum: not checking the dump against a checksum"
        return
    fi
    [[ -f $sum_file ]] ||
        die "$EXIT_INTEGRITY" "$sum_file is missing: refusing a dump whose integrity cannot be checked (--no-checksum to restore it anyway)"
    read -r expected _ <"$sum_file" || true
    [[ ${expected:-} =~ ^[0-9a-fA-F]{64}$ ]] ||
        die "$EXIT_INTEGRITY" "$sum_file does not hold a SHA-256 checksum"
    info "checking $dump against $sum_file"
    actual=$(sha256sum <"$dump") || die "$EXIT_INTEGRITY" "cannot read $dump"
    actual=${actual%% *}
    if [[ ${expected,,} != "$actual" ]]; then
        die "$EXIT_INTEGRITY" "checksum mismatch: $sum_file says ${expected,,} but the dump's SHA-256 is $actual; the dump is damaged or was changed: refusing to restore it"
    fi
    info "checksum ok: sha256 $actual"
}

check_contents() {
    local dump=$1 toc=$work_dir/toc
    pg_restore --list "$dump" >"$toc" ||
        die "$EXIT_INTEGRITY" "pg_restore cannot read $dump: not a custom-format dump, or damaged"
    toc_missing_tables "$toc"
    ((${#MISSING_TABLES[@]} == 0)) ||
        die "$EXIT_INTEGRITY" "the dump lacks table(s) ${MISSING_TABLES[*]}: not a Nexum backup"
    DUMP_CREATED=$(sed -n 's/^; Archive created at //p' "$toc")
    DUMP_SOURCE=$(sed -n 's/^;[[:space:]]*dbname: //p' "$toc")
    # The encoding the data was dumped in, so the new database has the same one.
    pg_restore --section=pre-data --file="$work_dir/pre-data.sql" "$dump" ||
        die "$EXIT_INTEGRITY" "pg_restore cannot read the schema in $dump"
    DUMP_ENCODING=$(sed -n "s/^SET client_encoding = '\([A-Za-z0-9_]*\)';$/\1/p" "$work_dir/pre-data.sql" | head -n 1)
    [[ -n $DUMP_ENCODING ]] || die "$EXIT_INTEGRITY" "the dump does not say its encoding"
    info "dump of database ${DUMP_SOURCE:-?} made at ${DUMP_CREATED:-?}, encoding $DUMP_ENCODING: ledger tables present"
}

# 1 if the database exists, 0 if not.
db_exists() {
    local found
    found=$(sql "$MAINTENANCE_DB" -v db="$1" <<<"SELECT count(*) FROM pg_database WHERE datname = :'db';") ||
        die "$EXIT_FAILED" "cannot query $MAINTENANCE_DB on $CONN_DESCRIPTION"
    printf '%s' "$found"
}

# TARGET_STATE: absent, empty or tables (and refuses what may not be replaced).
check_target() {
    local exists connections tables scratch_exists aside_exists
    exists=$(db_exists "$TARGET_DB")
    scratch_exists=$(db_exists "$scratch")
    if [[ $scratch_exists != 0 ]]; then
        die "$EXIT_FAILED" "a database named $scratch already exists: drop it, or wait for the restore using it"
    fi
    if [[ $exists == 0 ]]; then
        TARGET_STATE=absent
        info "$TARGET_DB does not exist: it will be created"
        return
    fi
    connections=$(sql "$MAINTENANCE_DB" -v db="$TARGET_DB" <<<"SELECT count(*) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid();") ||
        die "$EXIT_FAILED" "cannot read pg_stat_activity"
    if [[ $connections != 0 ]]; then
        die "$EXIT_TARGET" "$TARGET_DB has $connections session(s) connected: stop the application (and anything else using it) first"
    fi
    # relations and functions outside the system schemas
    tables=$(sql "$TARGET_DB" <<<"SELECT
        (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%')
      + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'));") ||
        die "$EXIT_FAILED" "cannot look into $TARGET_DB"
    if [[ $tables == 0 ]]; then
        TARGET_STATE=empty
        info "$TARGET_DB exists and is empty: it will be replaced"
    elif ((FORCE)); then
        TARGET_STATE=tables
        warn "$TARGET_DB holds $tables table(s), view(s), sequence(s) or function(s): --force, so it will be renamed to $ASIDE_DB and kept"
        aside_exists=$(db_exists "$ASIDE_DB")
        if [[ $aside_exists != 0 ]]; then
            die "$EXIT_TARGET" "$ASIDE_DB already exists: try again in a second"
        fi
    else
        die "$EXIT_TARGET" "$TARGET_DB is not empty ($tables tables, views, sequences or functions): refusing to replace it without --force"
    fi
}

run_verify() {
    local output=$work_dir/verify.out status=0 name
    local -a clean_env=()
    # nexum verify needs only the database URL; the operator's other NEXUM_* settings (a
    # production secret policy, say) must not decide whether a restore is accepted.
    while IFS= read -r name; do
        [[ $name == NEXUM_* ]] && clean_env+=(-u "$name")
    done < <(compgen -e)
    info "running nexum verify on the restored database"
    env "${clean_env[@]}" NEXUM_DATABASE_URL="$(app_url "$scratch")" COLUMNS=200 \
        "$NEXUM" verify >"$output" 2>&1 || status=$?
    # the report (never a password: verify prints checks and counts) goes with the logs
    sed 's/^/    /' "$output" >&2
    if ((status != 0)); then
        die "$EXIT_UNVERIFIED" "nexum verify exited $status: the restored ledger is not consistent; it is dropped and $TARGET_DB is not changed"
    fi
    VERIFY_COUNTS=$(grep -E '^accounts: [0-9]+' "$output" | head -n 1 || true)
}

main() {
    FORCE=0 JOBS=1 NO_CHECKSUM=0
    local -a positional=()
    while (($#)); do
        case $1 in
            -h | --help)
                usage
                exit 0
                ;;
            --force) FORCE=1 ;;
            --no-checksum) NO_CHECKSUM=1 ;;
            --jobs | -j)
                (($# >= 2)) || die "$EXIT_USAGE" "$1 needs a number"
                JOBS=$2
                shift
                ;;
            --jobs=*) JOBS=${1#--jobs=} ;;
            --)
                shift
                positional+=("$@")
                break
                ;;
            -*) die "$EXIT_USAGE" "unknown option $1 (see --help)" ;;
            *) positional+=("$1") ;;
        esac
        shift
    done
    ((${#positional[@]} >= 1 && ${#positional[@]} <= 2)) ||
        die "$EXIT_USAGE" "usage: $PROG [--force] [--jobs N] [--no-checksum] BACKUP_FILE [TARGET_DB]"
    local dump=${positional[0]}
    TARGET_DB=${positional[1]:-nexum_restored}
    [[ $TARGET_DB =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] ||
        die "$EXIT_USAGE" "TARGET_DB must be letters, digits and _ (not starting with a digit), at most 63"
    if ! [[ $JOBS =~ ^[0-9]{1,3}$ ]] || ((10#$JOBS < 1)); then
        die "$EXIT_USAGE" "--jobs takes a whole number, 1 or more"
    fi
    JOBS=$((10#$JOBS))
    [[ -f $dump && -r $dump ]] || die "$EXIT_USAGE" "$dump is not a readable file"
    MAINTENANCE_DB=${NEXUM_RESTORE_MAINTENANCE_DB:-postgres}
    case $TARGET_DB in
        "$MAINTENANCE_DB" | template0 | template1)
            die "$EXIT_USAGE" "$TARGET_DB is not a database to restore into"
            ;;
    esac
    read_required_tables NEXUM_RESTORE_REQUIRED_TABLES
    require_tools pg_restore psql sha256sum flock mktemp
    find_cli
    resolve_connection NEXUM_RESTORE_DATABASE_URL "restores PostgreSQL"
    export PGAPPNAME=${PGAPPNAME:-nexum-restore}
    export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
    scratch="${TARGET_DB:0:40}_restoring_$$"
    ASIDE_DB="${TARGET_DB:0:36}_replaced_$(date -u +%Y%m%d%H%M%S)"

    local lock_file=${NEXUM_RESTORE_LOCK_FILE:-${TMPDIR:-/tmp}/nexum-restore.lock} lock_fd
    exec {lock_fd}>>"$lock_file" || die "$EXIT_FAILED" "cannot open the lock file $lock_file"
    flock -n "$lock_fd" || die "$EXIT_LOCKED" "another restore holds $lock_file; not starting"

    trap cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    work_dir=$(mktemp -d "${TMPDIR:-/tmp}/nexum-restore.XXXXXX")
    local started=$SECONDS

    info "restoring $dump into $TARGET_DB on $CONN_DESCRIPTION (from $CONN_SOURCE)"
    check_checksum "$dump"
    check_contents "$dump"
    check_target

    sql "$MAINTENANCE_DB" -v db="$scratch" -v encoding="$DUMP_ENCODING" \
        <<<'CREATE DATABASE :"db" TEMPLATE template0 ENCODING :'"'"'encoding'"'"';' ||
        die "$EXIT_FAILED" "cannot create the scratch database $scratch (does the role have CREATEDB?)"
    scratch_created=1
    info "created the scratch database $scratch"

    local -a mode=(--single-transaction) verbose=()
    ((JOBS > 1)) && mode=(--jobs="$JOBS")
    [[ ${NEXUM_RESTORE_VERBOSE:-0} == 1 ]] && verbose=(--verbose)
    info "pg_restore ${mode[*]} into $scratch"
    pg_restore --no-owner --no-privileges --exit-on-error --no-password "${mode[@]}" \
        "${verbose[@]}" --dbname="$(conninfo "$scratch")" "$dump" ||
        die "$EXIT_FAILED" "pg_restore failed (exit $?)"
    sql "$scratch" <<<'ANALYZE;' || die "$EXIT_FAILED" "ANALYZE failed on $scratch"
    info "restored and analyzed in $((SECONDS - started))s"

    run_verify
    local revision relations
    revision=$(sql "$scratch" <<<'SELECT string_agg(version_num, $$,$$) FROM alembic_version;')
    relations=$(sql "$scratch" <<<"SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema');")

    if [[ $TARGET_STATE == absent ]]; then
        keep_scratch=1
        sql "$MAINTENANCE_DB" -v db="$scratch" -v target="$TARGET_DB" \
            <<<'ALTER DATABASE :"db" RENAME TO :"target";' ||
            die "$EXIT_FAILED" "cannot rename $scratch to $TARGET_DB (was $TARGET_DB created meanwhile?)"
    else
        keep_scratch=1
        sql "$MAINTENANCE_DB" -v db="$scratch" -v target="$TARGET_DB" -v aside="$ASIDE_DB" <<'SQL' ||
BEGIN;
ALTER DATABASE :"target" RENAME TO :"aside";
ALTER DATABASE :"db" RENAME TO :"target";
COMMIT;
SQL
            die "$EXIT_FAILED" "cannot swap $scratch in for $TARGET_DB (did something connect to $TARGET_DB meanwhile?)"
    fi
    swapped=1
    local replaced="none (it did not exist)"
    if [[ $TARGET_STATE == empty ]]; then
        if sql "$MAINTENANCE_DB" -v db="$ASIDE_DB" <<<'DROP DATABASE :"db";'; then
            replaced="an empty database (dropped)"
        else
            warn "could not drop the empty database $ASIDE_DB that $TARGET_DB was: drop it by hand"
            replaced="an empty database, renamed to $ASIDE_DB"
        fi
    elif [[ $TARGET_STATE == tables ]]; then
        replaced="renamed to $ASIDE_DB and kept: drop it once satisfied"
    fi
    info "restore of $TARGET_DB complete in $((SECONDS - started))s"
    cat <<SUMMARY
Restore summary
  backup:           $dump
  checksum:         $(if ((NO_CHECKSUM)); then echo "not checked (--no-checksum)"; else echo "sha256 verified"; fi)
  dumped from:      ${DUMP_SOURCE:-?} at ${DUMP_CREATED:-?}
  restored into:    $TARGET_DB on $CONN_DESCRIPTION
  previous target:  $replaced
  schema revision:  ${revision:-?}
  tables:           $relations
  nexum verify:     clean (${VERIFY_COUNTS:-no counts})
  pg_restore mode:  ${mode[*]}
  duration:         $((SECONDS - started))s
SUMMARY
}

main "$@"
