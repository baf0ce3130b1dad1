# shellcheck shell=bash
# nexum-postgres.sh: what backup-nexum-db.sh and restore-nexum-db.sh share. Sourced, not
# run: each script sources it relative to its own location, after `set -euo pipefail` and
# after setting PROG (its name, for the logs) and EXIT_USAGE (its exit code for bad usage or
# configuration). It defines functions and constants only, and changes no shell option.
#
#   log LEVEL MESSAGE, info, warn, die CODE MESSAGE   timestamped logs on stderr
#   usage                      the script's header comment (its --help)
#   require_tools TOOL...      dies (EXIT_USAGE) naming the first tool not on PATH
#   url_decode, conninfo_quote, set_libpq_query      pieces of the connection settings
#   resolve_connection URL_VARIABLE SQLITE_HINT [IGNORED_VARIABLE...]
#                              reads the connection settings (sets CONN_* and URL_*)
#   conninfo DATABASE          what libpq's --dbname takes for DATABASE on that server
#   DEFAULT_REQUIRED_TABLES, read_required_tables VARIABLE, toc_missing_tables TOC
#                              the ledger's tables, and which of them a dump lacks

: "${PROG:?set PROG before sourcing nexum-postgres.sh}"
: "${EXIT_USAGE:?set EXIT_USAGE before sourcing nexum-postgres.sh}"

readonly DEFAULT_REQUIRED_TABLES="accounts journal_entries journal_lines audit_events
audit_chain_heads holds customers idempotency_keys alembic_version"

# --- logging ---------------------------------------------------------------------------

log() {
    printf '%s %s[%d] %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PROG" "$$" "$1" "$2" >&2
}
info() { log INFO "$*"; }
warn() { log WARN "$*"; }
die() {
    local code=$1
    shift
    log ERROR "$*"
    exit "$code"
}

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
}

require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "$EXIT_USAGE" "$tool is not on PATH"
    done
}

# --- connection settings ---------------------------------------------------------------

url_decode() {
    local value=${1//\\/\\\\}
    printf '%b' "${value//%/\\x}"
}

# Keyword/value conninfo quoting: 'value' with \ and ' escaped.
conninfo_quote() {
    local value=${1//\\/\\\\}
    printf "'%s'" "${value//\'/\\\'}"
}

# LIBPQ_QUERY: the URL's query string with only what libpq understands: asyncpg's ssl=X
# becomes sslmode=X, a password moves to PGPASSWORD, anything else (driver options) is
# dropped with a warning naming it.
set_libpq_query() {
    local query=$1 pair key value mapped
    local -a kept=() pairs=()
    LIBPQ_QUERY=''
    [[ -n $query ]] || return 0
    IFS='&' read -ra pairs <<<"$query"
    for pair in "${pairs[@]}"; do
        [[ -n $pair ]] || continue
        key=${pair%%=*}
        value=${pair#*=}
        case $key in
            ssl)
                case $value in
                    true | 1 | require) mapped=require ;;
                    false | 0 | disable) mapped=disable ;;
                    allow | prefer | verify-ca | verify-full) mapped=$value ;;
                    *) die "$EXIT_USAGE" "the database URL's ssl parameter has a value libpq does not know" ;;
                esac
                kept+=("sslmode=$mapped")
                ;;
            password)
                PGPASSWORD=$(url_decode "$value")
                export PGPASSWORD
                ;;
            dbname)
                die "$EXIT_USAGE" "put the database name in the URL's path, not in a dbname parameter"
                ;;
            sslmode | sslrootcert | sslcert | sslkey | sslcrl | sslcrldir | sslpassword | sslsni | \
                sslcompression | ssl_min_protocol_version | ssl_max_protocol_version | \
                connect_timeout | application_name | fallback_application_name | options | \
                target_session_attrs | load_balance_hosts | keepalives | keepalives_idle | \
                keepalives_interval | keepalives_count | tcp_user_timeout | gssencmode | \
                channel_binding | krbsrvname | gsslib | requirepeer | require_auth | service | \
                passfile | host | hostaddr | port | user | client_encoding)
                kept+=("$pair")
                ;;
            *) warn "ignoring the database URL parameter '$key' (not a libpq parameter)" ;;
        esac
    done
    local IFS='&'
    LIBPQ_QUERY=${kept[*]}
}

# resolve_connection URL_VARIABLE SQLITE_HINT [IGNORED_VARIABLE...]
# Reads the connection settings once: the URL in URL_VARIABLE, else NEXUM_DATABASE_URL,
# else DB_HOST DB_PORT DB_USER [DB_PASSWORD] (defaults localhost 5432 nexum_prod). A password
# goes to PGPASSWORD, never into what conninfo gives. SQLITE_HINT ends the refusal of a
# sqlite URL ("this script SQLITE_HINT"); the IGNORED_VARIABLEs that are set get a warning
# when the connection comes from a URL. Sets:
#   CONN_MODE         keywords or url
#   CONN_SOURCE       where the settings came from (DB_HOST/DB_PORT/DB_USER, or the URL's
#                     variable name)
#   CONN_DESCRIPTION  the server and role, for logs (no password)
#   keywords: CONN_HOST CONN_PORT CONN_USER
#   url:      URL_SCHEME URL_AUTHORITY URL_HOSTS URL_USER (still percent-encoded)
#             URL_DATABASE (the path without its /; may be empty) URL_QUERY (as given)
#             LIBPQ_QUERY (see set_libpq_query)
# shellcheck disable=SC2034 # the variables it sets are for the sourcing script
resolve_connection() {
    local url_variable=$1 sqlite_hint=$2
    shift 2
    local raw='' source=''
    if [[ -n ${!url_variable:-} ]]; then
        raw=${!url_variable} source=$url_variable
    elif [[ -n ${NEXUM_DATABASE_URL:-} ]]; then
        raw=$NEXUM_DATABASE_URL source=NEXUM_DATABASE_URL
    fi
    if [[ -z $raw ]]; then
        CONN_MODE=keywords
        CONN_HOST=${DB_HOST:-localhost} CONN_PORT=${DB_PORT:-5432} CONN_USER=${DB_USER:-nexum_prod}
        if [[ -n ${DB_PASSWORD:-} ]]; then
            PGPASSWORD=$DB_PASSWORD
            export PGPASSWORD
        fi
        CONN_SOURCE="DB_HOST/DB_PORT/DB_USER"
        CONN_DESCRIPTION="$CONN_HOST:$CONN_PORT as $CONN_USER"
        return
    fi
    CONN_MODE=url
    CONN_SOURCE=$source
    local variable
    for variable in "$@"; do
        if [[ -n ${!variable:-} ]]; then
            warn "$variable is ignored: the connection comes from $source"
        fi
    done
    [[ $raw == *://* ]] || die "$EXIT_USAGE" "$source is not a URL"
    URL_SCHEME=${raw%%://*}
    local rest=${raw#*://}
    case ${URL_SCHEME%%+*} in
        postgresql | postgres) ;;
        sqlite) die "$EXIT_USAGE" "$source names a SQLite database; this script $sqlite_hint" ;;
        *) die "$EXIT_USAGE" "$source must be a postgresql:// URL, not ${URL_SCHEME%%+*}://" ;;
    esac
    URL_AUTHORITY=${rest%%[/?]*}
    local after=${rest:${#URL_AUTHORITY}}
    local path=${after%%\?*}
    URL_DATABASE=${path#/}
    URL_QUERY=''
    [[ $after == *\?* ]] && URL_QUERY=${after#*\?}
    local userinfo='' user=''
    URL_HOSTS=$URL_AUTHORITY
    if [[ $URL_AUTHORITY == *@* ]]; then
        userinfo=${URL_AUTHORITY%@*}
        URL_HOSTS=${URL_AUTHORITY##*@}
        user=${userinfo%%:*}
        if [[ $userinfo == *:* ]]; then
            PGPASSWORD=$(url_decode "${userinfo#*:}")
            export PGPASSWORD
        fi
    fi
    URL_USER=$user
    set_libpq_query "$URL_QUERY"
    CONN_DESCRIPTION="${URL_HOSTS:-the default host}${user:+ as $(url_decode "$user")}"
}

# conninfo DATABASE: what libpq's --dbname takes for DATABASE on the server resolve_connection
# found: a keyword/value string or a URL (in a URL, DATABASE as the path: percent-encoded).
# Never a password.
conninfo() {
    if [[ $CONN_MODE == keywords ]]; then
        printf '%s' "host=$(conninfo_quote "$CONN_HOST") port=$(conninfo_quote "$CONN_PORT")"
        printf '%s' " user=$(conninfo_quote "$CONN_USER") dbname=$(conninfo_quote "$1")"
    else
        printf '%s' "postgresql://${URL_USER:+$URL_USER@}$URL_HOSTS/$1${LIBPQ_QUERY:+?$LIBPQ_QUERY}"
    fi
}

# --- the ledger's tables in a dump -----------------------------------------------------

# REQUIRED_TABLES: the tables a dump must hold, from the environment variable named
# VARIABLE (default DEFAULT_REQUIRED_TABLES); dies (EXIT_USAGE) on anything not a name.
read_required_tables() {
    local variable=$1 table
    REQUIRED_TABLES=${!variable:-$DEFAULT_REQUIRED_TABLES}
    for table in $REQUIRED_TABLES; do
        [[ $table =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
            die "$EXIT_USAGE" "$variable: '$table' is not a table name"
    done
}

# MISSING_TABLES: the REQUIRED_TABLES whose definition or data the table of contents in the
# file TOC (pg_restore --list) lacks; empty when it holds them all.
# shellcheck disable=SC2034 # MISSING_TABLES is for the sourcing script
toc_missing_tables() {
    local toc=$1 table
    MISSING_TABLES=()
    for table in $REQUIRED_TABLES; do
        if ! grep -Eq "^[0-9]+; [0-9]+ [0-9]+ TABLE [^ ]+ $table " "$toc" ||
            ! grep -Eq "^[0-9]+; [0-9]+ [0-9]+ TABLE DATA [^ ]+ $table " "$toc"; then
            MISSING_TABLES+=("$table")
        fi
    done
}
