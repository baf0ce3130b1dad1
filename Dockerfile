# syntax=docker/dockerfile:1
# Nexum core banking API image.
#
#   docker build --target production -t nexum-core-banking:<version> .
#
# Two stages: `builder` installs the locked dependencies (uv.lock, with the `full` extra:
# PostgreSQL, Redis, Kafka, encryption) and Nexum itself into a virtual environment;
# `production` copies only that environment and run.py onto a clean slim Python, runs as an
# unprivileged user and serves `python run.py` (NEXUM_API_HOST/_PORT/_WORKERS). Every wheel
# is binary, so neither a compiler nor libpq is needed: asyncpg speaks PostgreSQL's protocol
# itself. Why uv and not the deployment guide's Poetry: docs/deployment.md.

ARG PYTHON_VERSION=3.13

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder

ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python \
    UV_PROJECT_ENVIRONMENT=/opt/nexum/venv

WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra full --no-install-project

# Then Nexum itself, as a regular (not editable) install: the image needs no source tree.
COPY core_banking ./core_banking
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra full --no-editable


FROM python:${PYTHON_VERSION}-slim-bookworm AS production

LABEL org.opencontainers.image.title="Nexum core banking API" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/yourcompany/nexum-core-banking"

ENV PATH=/opt/nexum/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NEXUM_API_HOST=0.0.0.0 \
    NEXUM_API_PORT=8090

# A fixed numeric uid/gid (1000), so Kubernetes' runAsNonRoot can check it and volumes can
# be prepared for it. No login shell, no home directory.
RUN groupadd --system --gid 1000 nexum \
    && useradd --system --uid 1000 --gid nexum --no-create-home --home-dir /app \
       --shell /usr/sbin/nologin nexum

WORKDIR /app

# Code and environment belong to root and are read-only to the service; only /app/logs
# (NEXUM_LOG_FILE, when set) is the service's to write.
COPY --from=builder /opt/nexum/venv /opt/nexum/venv
COPY run.py ./
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/nexum-entrypoint
RUN mkdir -p /app/logs && chown nexum:nexum /app/logs

USER 1000:1000

EXPOSE 8090

# Liveness only (the process answers): a database outage must not get the container killed
# and restarted, which cures nothing. Readiness (/health/ready) is for load balancers.
# No curl in the image: the standard library does the request.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('NEXUM_API_PORT', '8090') + '/health/live', timeout=5)"]

ENTRYPOINT ["nexum-entrypoint"]
CMD ["python", "run.py"]
