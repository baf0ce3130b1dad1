#!/usr/bin/env bash
# backup-nexum-db.sh: back up the Nexum PostgreSQL database (the deployment guide's script,
# made safe to run unattended).
#
#   backup-nexum-db.sh            one backup, configured by the environment (see below)
#   backup-nexum-db.sh --help
#
# What one run does, in order; any failure stops it with a non-zero exit and leaves no
# partial dump behind:
#   1. takes a lock (flock) so two runs never overlap;
#   2. pg_dump, custom format (-Fc), compressed, into a hidden temporary file in BACKUP_DIR;
#   3. verifies the dump: `pg_restore --list` reads it and its table of contents holds the
#      ledger's tables (definition and data), and pg_restore reads every entry back, data
#      decompressed (to /dev/null);
#   4. writes its SHA-256 beside it, then renames both to nexum_backup_YYYYmmdd_HHMMSS.dump
#      (UTC) and .dump.sha256 (atomic within BACKUP_DIR);
#   5. uploads the dump and its checksum to S3 when NEXUM_BACKUP_S3_BUCKET is set;
#   6. deletes backups older than RETENTION_DAYS, only files named as this script names them.
# Once the dump is complete (exit 0 or 4) its path is the only thing printed on stdout; logs
# go to stderr.
#
# Configuration (environment):
#   NEXUM_BACKUP_DATABASE_URL  libpq URL of the database to back up; else
#   NEXUM_DATABASE_URL         the application's URL (postgresql+asyncpg:// is accepted); else
#   DB_HOST DB_PORT DB_NAME DB_USER [DB_PASSWORD]   (defaults: localhost 5432
#                              nexum_production nexum_prod). Prefer ~/.pgpass to passwords in
#                              the environment; a URL's password is passed to pg_dump through
#                              PGPASSWORD, never on its command line, and never logged.
#   BACKUP_DIR                 where dumps go (default /var/backups/nexum)
#   RETENTION_DAYS             delete dumps older than this many days (default 30, at least 1)
#   NEXUM_BACKUP_COMPRESS      gzip level 0-9 (default 9, as the guide; 6 is faster)
#   NEXUM_BACKUP_LOCK_WAIT_TIMEOUT  how long pg_dump waits for its table locks (default 300s)
#   NEXUM_BACKUP_LOCK_FILE     default BACKUP_DIR/.nexum_backup.lock
#   NEXUM_BACKUP_REQUIRED_TABLES  tables the dump must contain (default: the ledger's)
#   NEXUM_BACKUP_S3_BUCKET     upload to this bucket with the aws CLI (default: no upload)
#   NEXUM_BACKUP_S3_PREFIX     key prefix in the bucket (default nexum/)
#   NEXUM_BACKUP_READ_BACK=0   skip reading the whole dump back (on by default)
#   NEXUM_BACKUP_VERBOSE=1     pass --verbose to pg_dump
#
# Exit codes: 0 done; 1 the backup failed (nothing from this run kept); 2 bad configuration
# or usage; 4 the backup is complete, verified and kept, but retention or the upload failed;
# 75 another run holds the lock.

set -euo pipefail

readonly PROG=backup-nexum-db.sh
readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_AFTERWARDS=4 EXIT_LOCKED=75
# shellcheck source=SCRIPTDIR/lib/nexum-postgres.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/nexum-postgres.sh"

# --- connection settings ---------------------------------------------------------------

# Sets CONN_SOURCE, CONN_DBNAME (what pg_dump's --dbname gets: a URL without its password,
# or a keyword/value string) and CONN_DESCRIPTION (for logs: no password).
resolve_backup_connection() {
    resolve_connection NEXUM_BACKUP_DATABASE_URL \
        "backs up PostgreSQL (copy a SQLite file with sqlite3's .backup)" \
        DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD
    local name
    if [[ $CONN_MODE == keywords ]]; then
        name=${DB_NAME:-nexum_production}
        CONN_SOURCE="DB_HOST/DB_PORT/DB_NAME/DB_USER"
        CONN_DESCRIPTION="database $name on $CONN_DESCRIPTION"
    else
        name=$URL_DATABASE
        [[ -n $name ]] || die "$EXIT_USAGE" "$CONN_SOURCE names no database"
        CONN_DESCRIPTION="database $(url_decode "$name") on $CONN_DESCRIPTION"
    fi
    CONN_DBNAME=$(conninfo "$name")
}

# --- the backup ------------------------------------------------------------------------

work_dir='' tmp_dump='' tmp_sum='' renamed_dump='' complete=0

cleanup() {
    local status=$?
    set +e
    [[ -n $tmp_dump ]] && rm -f -- "$tmp_dump"
    [[ -n $tmp_sum ]] && rm -f -- "$tmp_sum"
    if ((!complete)) && [[ -n $renamed_dump ]]; then
        rm -f -- "$renamed_dump" "$renamed_dump.sha256"
    fi
    [[ -n $work_dir ]] && rm -rf -- "$work_dir"
    if ((status != 0 && !complete)); then
        log ERROR "backup failed (exit $status); no dump was kept from this run"
    fi
    exit "$status"
}

verify_dump() {
    local dump=$1 toc=$work_dir/toc
    if ! pg_restore --list "$dump" >"$toc"; then
        die "$EXIT_FAILED" "pg_restore cannot read the dump"
    fi
    toc_missing_tables "$toc"
    if ((${#MISSING_TABLES[@]})); then
        die "$EXIT_FAILED" "the dump lacks table(s) ${MISSING_TABLES[*]}: is this the Nexum database?"
    fi
    # The table of contents sits at the start of the file; reading every entry back, data
    # decompressed, is what shows the rest of the file is whole.
    if [[ ${NEXUM_BACKUP_READ_BACK:-1} == 1 ]]; then
        pg_restore --file=/dev/null "$dump" || die "$EXIT_FAILED" "pg_restore cannot read the dump's contents back"
    fi
    info "verified: pg_restore reads the dump back; $(grep -c '^[0-9]' "$toc") entries, ledger tables present"
}

# Retention and upload report a failure by returning 1 (after logging it), so that one
# failing does not stop the other: the backup itself is complete by then.
apply_retention() {
    local found=$work_dir/expired file
    local -a expired=()
    # Only this script's own names, directly in BACKUP_DIR: finished dumps and checksums
    # older than RETENTION_DAYS, and temporary files a killed run left (older than a day).
    if ! find "$BACKUP_DIR" -mindepth 1 -maxdepth 1 -regextype posix-extended -type f \( \
        \( -regex '.*/nexum_backup_[0-9]{8}_[0-9]{6}\.dump(\.sha256)?' -mtime "+$RETENTION_DAYS" \) \
        -o \( -regex '.*/\.nexum_backup_[0-9]{8}_[0-9]{6}\.(dump|sha256)\.partial\.[A-Za-z0-9]+' -mtime +0 \) \
        \) -print0 >"$found"; then
        log ERROR "retention cannot list $BACKUP_DIR; the new backup is kept"
        return 1
    fi
    mapfile -d '' -t expired <"$found"
    for file in "${expired[@]}"; do
        if ! rm -f -- "$file"; then
            log ERROR "retention cannot delete $file; the new backup is kept"
            return 1
        fi
        info "retention: deleted $(basename -- "$file")"
    done
    info "retention: ${#expired[@]} file(s) older than $RETENTION_DAYS day(s) deleted"
}

upload() {
    local dump=$1 bucket=${NEXUM_BACKUP_S3_BUCKET#s3://} prefix=${NEXUM_BACKUP_S3_PREFIX-nexum/}
    bucket=${bucket%/}
    [[ -z $prefix || $prefix == */ ]] || prefix+=/
    if ! command -v aws >/dev/null 2>&1; then
        log ERROR "NEXUM_BACKUP_S3_BUCKET is set but the aws CLI is not on PATH; the local backup is kept"
        return 1
    fi
    local destination
    destination="s3://$bucket/$prefix$(basename -- "$dump")"
    info "uploading to $destination"
    if ! aws s3 cp --only-show-errors "$dump" "$destination" ||
        ! aws s3 cp --only-show-errors "$dump.sha256" "$destination.sha256"; then
        log ERROR "upload to $destination failed; the local backup is complete and kept"
        return 1
    fi
    info "uploaded $destination and its checksum"
}

main() {
    case ${1:-} in
        -h | --help)
            usage
            exit 0
            ;;
        '') ;;
        *) die "$EXIT_USAGE" "unexpected argument '$1' (configuration is by environment; see --help)" ;;
    esac
    (($# <= 1)) || die "$EXIT_USAGE" "unexpected arguments (see --help)"

    BACKUP_DIR=${BACKUP_DIR:-/var/backups/nexum}
    RETENTION_DAYS=${RETENTION_DAYS:-30}
    COMPRESS=${NEXUM_BACKUP_COMPRESS:-9}
    LOCK_WAIT_TIMEOUT=${NEXUM_BACKUP_LOCK_WAIT_TIMEOUT:-300s}
    if ! [[ $RETENTION_DAYS =~ ^[0-9]{1,5}$ ]] || ((10#$RETENTION_DAYS < 1)); then
        die "$EXIT_USAGE" "RETENTION_DAYS must be a whole number of days, at least 1 (got '$RETENTION_DAYS')"
    fi
    RETENTION_DAYS=$((10#$RETENTION_DAYS))
    [[ $COMPRESS =~ ^[0-9]$ ]] || die "$EXIT_USAGE" "NEXUM_BACKUP_COMPRESS must be 0-9"
    [[ $LOCK_WAIT_TIMEOUT =~ ^[0-9]+(ms|s|min|h)?$ ]] ||
        die "$EXIT_USAGE" "NEXUM_BACKUP_LOCK_WAIT_TIMEOUT must look like 300s, 5min or 300000"
    read_required_tables NEXUM_BACKUP_REQUIRED_TABLES
    require_tools pg_dump pg_restore sha256sum flock find mktemp
    resolve_backup_connection

    export PGAPPNAME=${PGAPPNAME:-nexum-backup}
    export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
    umask 077 # dumps hold personal data and credential hashes: owner only
    mkdir -p -- "$BACKUP_DIR" || die "$EXIT_FAILED" "cannot create $BACKUP_DIR"
    [[ -d $BACKUP_DIR && -w $BACKUP_DIR ]] || die "$EXIT_FAILED" "$BACKUP_DIR is not a writable directory"

    local lock_file=${NEXUM_BACKUP_LOCK_FILE:-$BACKUP_DIR/.nexum_backup.lock} lock_fd
    exec {lock_fd}>>"$lock_file" || die "$EXIT_FAILED" "cannot open the lock file $lock_file"
    flock -n "$lock_fd" || die "$EXIT_LOCKED" "another backup holds $lock_file; not starting"

    trap cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    work_dir=$(mktemp -d "${TMPDIR:-/tmp}/nexum-backup.XXXXXX")

    local timestamp name final started=$SECONDS
    timestamp=$(date -u +%Y%m%d_%H%M%S)
    name="nexum_backup_$timestamp.dump"
    final="$BACKUP_DIR/$name"
    if [[ -e $final || -e $final.sha256 ]]; then
        die "$EXIT_FAILED" "$final already exists; not overwriting it"
    fi
    tmp_dump=$(mktemp "$BACKUP_DIR/.nexum_backup_$timestamp.dump.partial.XXXXXX")
    tmp_sum=$(mktemp "$BACKUP_DIR/.nexum_backup_$timestamp.sha256.partial.XXXXXX")

    info "backing up the $CONN_DESCRIPTION (from $CONN_SOURCE) to $final"
    local -a verbose=()
    [[ ${NEXUM_BACKUP_VERBOSE:-0} == 1 ]] && verbose=(--verbose)
    pg_dump --format=custom --compress="$COMPRESS" --no-password \
        --lock-wait-timeout="$LOCK_WAIT_TIMEOUT" "${verbose[@]}" \
        --file="$tmp_dump" --dbname="$CONN_DBNAME" ||
        die "$EXIT_FAILED" "pg_dump failed (exit $?)"
    verify_dump "$tmp_dump"

    local digest
    digest=$(sha256sum <"$tmp_dump") || die "$EXIT_FAILED" "cannot checksum the dump"
    digest=${digest%% *}
    printf '%s  %s\n' "$digest" "$name" >"$tmp_sum"
    sync -- "$tmp_dump" "$tmp_sum" || die "$EXIT_FAILED" "cannot flush the dump to disk"
    mv -T -- "$tmp_dump" "$final" || die "$EXIT_FAILED" "cannot rename the dump to $final"
    tmp_dump='' renamed_dump=$final
    mv -T -- "$tmp_sum" "$final.sha256" || die "$EXIT_FAILED" "cannot write $final.sha256"
    tmp_sum=''
    sync -- "$BACKUP_DIR" || die "$EXIT_FAILED" "cannot flush $BACKUP_DIR to disk"
    complete=1
    info "backup complete: $final ($(stat -c %s -- "$final") bytes, sha256 $digest, $((SECONDS - started))s)"
    printf '%s\n' "$final"

    local afterwards=0
    if [[ -n ${NEXUM_BACKUP_S3_BUCKET:-} ]]; then
        upload "$final" || afterwards=1
    else
        info "NEXUM_BACKUP_S3_BUCKET is not set: no upload"
    fi
    apply_retention || afterwards=1
    ((afterwards == 0)) || exit "$EXIT_AFTERWARDS"
}

main "$@"
