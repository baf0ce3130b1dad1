#!/bin/sh
# Entrypoint of the Nexum image: turn secret files into settings, then run the command.
#
# Nexum reads its settings from NEXUM_* environment variables only. Docker and Compose
# secrets arrive as files under /run/secrets; a file there named exactly like a setting
# (for example /run/secrets/NEXUM_JWT_SECRET) becomes that variable, its content without
# the trailing newline. A secret file wins over a variable of the same name, so an env file
# can keep placeholders for the values that secrets provide. Values are never printed.
set -eu

for path in /run/secrets/NEXUM_*; do
    [ -f "$path" ] || continue
    name="${path##*/}"
    case "$name" in
        *[!A-Z0-9_]*)
            echo "nexum-entrypoint: ignoring $path: not a NEXUM_* variable name" >&2
            continue
            ;;
    esac
    value="$(cat "$path")"
    export "$name=$value"
done

exec "$@"
