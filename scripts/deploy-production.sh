#!/usr/bin/env bash
# deploy-production.sh: deploy Nexum with docker-compose.production.yml on this host (the
# deployment guide's production deployment script).
#
#   scripts/deploy-production.sh
#
# In order, stopping at the first failure:
#   1. pre-deployment checks: the tools; .env.production (private, NEXUM_ENVIRONMENT=production);
#      every secret file under ./secrets (private directory, not empty, consistent, strong
#      enough); the TLS certificate (present, not expiring within 14 days); a clean git work
#      tree, whose commit becomes the image tag (never `latest`); the Compose file valid;
#   2. build the image nexum-core-banking:<tag>;
#   3. start PostgreSQL, Redis and Kafka and wait until they are healthy;
#   4. back up the database (when it already holds Nexum), then `nexum migrate up`;
#   5. roll out every service and wait until all are healthy (the API's health check is
#      /health/ready: database reachable, schema current); reload nginx so that it sees the
#      new replicas;
#   6. post-deployment checks through nginx, over HTTPS with certificate verification:
#      /health/ready answers 200 and /health reports "healthy"; then the read-only
#      tests/health_checks.py against the public URL, when this checkout has its .venv.
#
# Environment (all optional):
#   NEXUM_IMAGE_TAG   the tag to build and run (default: the git commit, e.g. 3fb9593)
#   PUBLIC_HOSTNAME   the name nginx serves (default api.yourbank.com, as nginx/nginx.conf)
#   WAIT_SECONDS      how long to wait for health (default 300)
#   CURL_CA_BUNDLE    a CA bundle for a certificate from a private CA (read by curl)
set -euo pipefail

cd "$(dirname "$0")/.."

readonly COMPOSE_FILE=docker-compose.production.yml
readonly ENV_FILE=.env.production
readonly SECRETS_DIR=secrets
readonly TLS_DIR=nginx/ssl
readonly SECRET_FILES=(postgres_password db_password replication_password redis_password
    nexum_database_url nexum_jwt_secret nexum_encryption_master_key nexum_redis_url)
PUBLIC_HOSTNAME="${PUBLIC_HOSTNAME:-api.yourbank.com}"
WAIT_SECONDS="${WAIT_SECONDS:-300}"

step() { printf '\n==> %s\n' "$*"; }
fail() {
    echo "Error: $*" >&2
    exit 1
}

# mode_of PATH: the octal permission bits, on GNU and BSD stat alike.
mode_of() { stat -c '%a' "$1" 2>/dev/null || stat -f '%Lp' "$1"; }

private() {
    local mode
    mode="$(mode_of "$1")"
    [ $((8#$mode & 8#077)) -eq 0 ]
}

secret() { head -n 1 "$SECRETS_DIR/$1"; }

echo "Starting Nexum Core Banking production deployment..."

# --- 1. pre-deployment checks --------------------------------------------------------------
step "Running pre-deployment checks..."

for tool in docker curl git python3; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    fail "neither 'docker compose' nor docker-compose is installed"
fi
compose+=(-f "$COMPOSE_FILE")

[ -f "$ENV_FILE" ] || fail "$ENV_FILE is missing (cp .env.production.example $ENV_FILE, then edit)"
private "$ENV_FILE" || fail "$ENV_FILE must not be readable by group or others (chmod 600 $ENV_FILE)"
grep -qx 'NEXUM_ENVIRONMENT=production' "$ENV_FILE" \
    || fail "$ENV_FILE must set NEXUM_ENVIRONMENT=production"

[ -d "$SECRETS_DIR" ] || fail "$SECRETS_DIR/ is missing (scripts/generate-secrets production)"
private "$SECRETS_DIR" || fail "$SECRETS_DIR/ must be private to its owner (chmod 700 $SECRETS_DIR)"
for name in "${SECRET_FILES[@]}"; do
    [ -s "$SECRETS_DIR/$name" ] || fail "secret $SECRETS_DIR/$name is missing or empty"
    if grep -qiE 'change[-_]?me|password$|^secret$' "$SECRETS_DIR/$name"; then
        fail "secret $SECRETS_DIR/$name holds a placeholder"
    fi
done
[ "$(secret nexum_jwt_secret | tr -d '\n' | wc -c)" -ge 32 ] \
    || fail "secret nexum_jwt_secret must be at least 32 characters"
[ "$(secret nexum_encryption_master_key | base64 -d 2>/dev/null | wc -c)" -eq 32 ] \
    || fail "secret nexum_encryption_master_key must be the base64 of 32 bytes (nexum keys generate)"
grep -qF ":$(secret db_password)@postgres:" "$SECRETS_DIR/nexum_database_url" \
    || fail "secret nexum_database_url does not use the password in db_password and host postgres"
grep -qF ":$(secret redis_password)@redis:" "$SECRETS_DIR/nexum_redis_url" \
    || fail "secret nexum_redis_url does not use the password in redis_password and host redis"

for file in nexum.crt nexum.key; do
    [ -s "$TLS_DIR/$file" ] || fail "$TLS_DIR/$file is missing (the certificate nginx serves)"
done
if command -v openssl >/dev/null 2>&1; then
    openssl x509 -in "$TLS_DIR/nexum.crt" -noout -checkend $((14 * 24 * 3600)) >/dev/null \
        || fail "$TLS_DIR/nexum.crt expires within 14 days"
fi

if [ -z "${NEXUM_IMAGE_TAG:-}" ]; then
    [ -z "$(git status --porcelain --untracked-files=no)" ] \
        || fail "the work tree has uncommitted changes: deploy a commit, or set NEXUM_IMAGE_TAG"
    NEXUM_IMAGE_TAG="$(git rev-parse --short=12 HEAD)"
fi
case "$NEXUM_IMAGE_TAG" in
    latest | "") fail "NEXUM_IMAGE_TAG must name a release, not '${NEXUM_IMAGE_TAG}'" ;;
esac
export NEXUM_IMAGE_TAG
echo "Image: nexum-core-banking:$NEXUM_IMAGE_TAG"

"${compose[@]}" config --quiet || fail "$COMPOSE_FILE is not valid"
mkdir -p backups
chmod 700 backups

# --- 2. build ------------------------------------------------------------------------------
step "Building Docker images..."
"${compose[@]}" build --pull nexum-api

# --- 3. dependencies -----------------------------------------------------------------------
step "Starting the database, Redis and Kafka..."
"${compose[@]}" up -d --wait --wait-timeout "$WAIT_SECONDS" postgres redis zookeeper kafka

# --- 4. backup and migrations --------------------------------------------------------------
step "Running database migrations..."
status="$("${compose[@]}" run --rm --no-deps -T nexum-api nexum migrate status)"
echo "$status"
if grep -q '(empty database)' <<<"$status"; then
    echo "The database is empty: no backup to take before migrating."
else
    echo "Backing up the database before migrating..."
    # shellcheck disable=SC2016  # expanded inside the container, where the secret is
    "${compose[@]}" run --rm --no-deps -T postgres-backup bash -c \
        'DB_PASSWORD="$(cat /run/secrets/db_password)" bash /opt/nexum/scripts/backup-nexum-db.sh'
fi
"${compose[@]}" run --rm --no-deps -T nexum-api nexum migrate up

# --- 5. roll out ---------------------------------------------------------------------------
step "Deploying services..."
"${compose[@]}" up -d --wait --wait-timeout "$WAIT_SECONDS"
"${compose[@]}" exec -T nginx nginx -s reload

# --- 6. post-deployment checks -------------------------------------------------------------
step "Running post-deployment health checks..."
base="https://$PUBLIC_HOSTNAME"
curl_args=(--silent --show-error --fail --max-time 10 --resolve "$PUBLIC_HOSTNAME:443:127.0.0.1")
deadline=$((SECONDS + WAIT_SECONDS))
until curl "${curl_args[@]}" --output /dev/null "$base/health/ready"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$base/health/ready did not answer 200 in ${WAIT_SECONDS}s"
    sleep 5
done
health="$(curl "${curl_args[@]}" "$base/health" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')"
case "$health" in
    healthy) ;;
    degraded) echo "Warning: $base/health reports degraded: a dependency (Redis or Kafka) is down" >&2 ;;
    *) fail "$base/health reports '$health'" ;;
esac
# The guide's read-only post-deployment checks, where this checkout has its environment.
if [ -x .venv/bin/python ] && [ -f tests/health_checks.py ]; then
    .venv/bin/python -m pytest tests/health_checks.py -q -p no:cacheprovider --base-url="$base"
else
    echo "tests/health_checks.py not run: no .venv in this checkout (make install-dev)"
fi

echo
echo "Production deployment completed successfully! (nexum-core-banking:$NEXUM_IMAGE_TAG)"
