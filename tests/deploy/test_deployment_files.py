"""The deployment files, checked by the real tools that will read them.

    Dockerfile                     hadolint; multi-stage, non-root, HEALTHCHECK on /health/live
    deploy/docker/entrypoint.sh    run: secret files become NEXUM_* settings
    docker-compose.*.yml           `docker-compose config` (Docker Compose v2, no daemon needed);
                                   every file, image, secret and limit they name
    nginx/                         `nginx -t`; limits agree with the settings
    postgresql.conf                PostgreSQL 15's own parser (`postgres -C`)
    deploy/systemd/                `systemd-analyze verify`
    kubernetes/                    kubernetes-validate (the API's JSON schemas), strict
    terraform/                     `terraform fmt -check`, Terraform's configuration loader,
                                   python-hcl2 and a reference check (`terraform validate`
                                   needs the AWS provider, which cannot be downloaded here)
    monitoring/                    `promtool check rules|config`, `promtool test rules`; the
                                   metric names are the ones Nexum exports; logstash.conf
                                   parsed (logstash-pipeline-parser) and its fields are the
                                   ones Nexum's JSON logs carry
    scripts/, deploy/, .ci/        `bash -n` and shellcheck on every shell script; the
                                   production deployment script run against stub tools
    .env*.example                  every setting; no secret that works

A tool that is missing skips its test, except with NEXUM_TEST_REQUIRE_TOOLS=1 (CI), where
it fails. System tools come from scripts/install-ci-tools, the others from the dev group.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from core_banking.config import ConfigError, Settings, env_var_name, load_config
from core_banking.observability import metrics

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_TOOLS = os.environ.get("NEXUM_TEST_REQUIRE_TOOLS") == "1"
SETTINGS = frozenset(env_var_name(field) for field in Settings.model_fields)
SECRET_SETTINGS = frozenset(
    {
        "NEXUM_DATABASE_URL",
        "NEXUM_DATABASE_REPLICA_URLS",
        "NEXUM_JWT_SECRET",
        "NEXUM_ENCRYPTION_MASTER_KEY",
        "NEXUM_ENCRYPTION_PREVIOUS_KEYS",
        "NEXUM_REDIS_URL",
    }
)
COMPOSE_FILES = ("docker-compose.staging.yml", "docker-compose.production.yml")
# Files an operator provides on the deployment host, never committed (.gitignore).
OPERATOR_PROVIDED = ("./ssl", "./nginx/ssl", "./backups", "./secrets/")


# --- helpers ------------------------------------------------------------------------------


def missing(what: str, how: str) -> None:
    message = f"{what} is not available ({how})"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message}; NEXUM_TEST_REQUIRE_TOOLS=1 requires it")
    pytest.skip(message)


def tool(name: str) -> str:
    """The path of a command-line tool: the virtual environment's own, then PATH, then the
    sbin directories that a non-root PATH may lack."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    how = "scripts/install-ci-tools" if name in {"nginx", "promtool"} else "make install-dev"
    missing(name, how)
    raise AssertionError("unreachable")


def module(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        missing(f"the Python module {name}", "make install-dev")
        raise AssertionError("unreachable") from None


def run(
    args: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def read(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        key, separator, value = line.partition("=")
        assert separator, f"{path.name}:{number}: not KEY=VALUE: {line!r}"
        assert key not in values, f"{path.name}:{number}: {key} twice"
        values[key] = value
    return values


@cache
def compose(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(read(name))
    return data


@cache
def self_signed_certificate(directory: str) -> tuple[Path, Path]:
    """A throw-away certificate and key for `nginx -t`, which loads them."""
    where = Path(directory)
    where.mkdir(parents=True, exist_ok=True)
    openssl = tool("openssl")
    result = run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-subj", "/CN=nexum.test", "-days", "30",
            "-keyout", str(where / "test.key"), "-out", str(where / "test.crt"),
        ]
    )  # fmt: skip
    assert result.returncode == 0, output(result)
    return where / "test.crt", where / "test.key"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(str(tmp_path_factory.mktemp("tls")))


# --- Dockerfile ---------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in read("Dockerfile").splitlines():
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not pending):
            continue
        if stripped.startswith("#"):
            continue
        pending += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            pending = ""
    return instructions


def test_dockerfile_passes_hadolint() -> None:
    result = run([tool("hadolint"), "--no-color", str(ROOT / "Dockerfile")])
    assert result.returncode == 0, output(result)


def test_dockerfile_is_multi_stage_non_root_with_a_liveness_health_check() -> None:
    instructions = dockerfile_instructions()
    stages = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    assert len(stages) >= 2, "multi-stage: build in one stage, run in another"
    assert all(" AS " in stage.upper() for stage in stages), stages
    assert stages[-1].split()[-1] == "production", "the Compose files build target production"
    assert not any(stage.split()[0].endswith(":latest") for stage in stages)

    final = instructions[max(i for i, (k, _) in enumerate(instructions) if k == "FROM") :]
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the final stage must switch to an unprivileged user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert users[-1].split(":")[0].isdigit(), "numeric, so that runAsNonRoot can check it"

    healthchecks = [arguments for keyword, arguments in final if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1, healthchecks
    assert "/health/live" in healthchecks[0], healthchecks
    copies = [arguments for keyword, arguments in final if keyword == "COPY"]
    assert not any(re.fullmatch(r"(--\S+\s+)*\.\s+\.", copy) for copy in copies), (
        "the runtime image gets the built environment, never the whole build context"
    )
    assert any("--from=builder" in copy for copy in copies)
    assert ("EXPOSE", "8090") in final
    assert ("CMD", '["python", "run.py"]') in final


def test_dockerignore_lets_in_only_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in read(".dockerignore").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "an allow-list: everything is out unless named"
    allowed = [pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")]
    for forbidden in (".env", ".env.production", "secrets", "nexum.db", ".venv", ".git"):
        assert not any(
            forbidden == entry or forbidden.startswith(entry + "/") for entry in allowed
        ), forbidden
    sources = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "COPY" and "--from=" not in arguments:
            words = [word for word in arguments.split() if not word.startswith("--")]
            sources.extend(words[:-1])
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert any(source == entry or source.startswith(entry + "/") for entry in allowed), (
            f"COPY {source}, but .dockerignore keeps it out of the build context"
        )


def test_entrypoint_turns_secret_files_into_settings(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "NEXUM_JWT_SECRET").write_text("from-the-secret-file\n")
    (secrets / "NEXUM_not-a-name").write_text("ignored")
    (secrets / "db_password").write_text("not a setting")
    script = tmp_path / "entrypoint.sh"
    script.write_text(read("deploy/docker/entrypoint.sh").replace("/run/secrets", str(secrets)))
    environment = {"PATH": os.environ["PATH"], "NEXUM_JWT_SECRET": "placeholder"}

    result = run(["sh", str(script), "env"], env=environment)

    assert result.returncode == 0, output(result)
    exported = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert exported["NEXUM_JWT_SECRET"] == "from-the-secret-file"
    assert "db_password" not in exported
    assert "NEXUM_not-a-name" not in exported
    assert "ignoring" in result.stderr
    assert "from-the-secret-file" not in result.stderr
    # It execs the command: the command's exit status is the container's.
    assert run(["sh", str(script), "sh", "-c", "exit 3"], env=environment).returncode == 3


# --- shell scripts ------------------------------------------------------------------------


def shell_scripts() -> list[Path]:
    found = []
    for directory in ("scripts", "deploy", ".ci"):
        for path in sorted((ROOT / directory).rglob("*")):
            if not path.is_file():
                continue
            with path.open("rb") as handle:
                first = handle.readline()
            if path.suffix == ".sh" or re.match(rb"#!.*\b(ba)?sh\b", first):
                found.append(path)
    return found


SHELL_SCRIPTS = shell_scripts()


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_script_parses_and_passes_shellcheck(script: Path) -> None:
    shell = "sh" if read(str(script.relative_to(ROOT))).startswith("#!/bin/sh") else "bash"
    parsed = run([shell, "-n", str(script)])
    assert parsed.returncode == 0, output(parsed)
    checked = run([tool("shellcheck"), "--external-sources", str(script)], cwd=ROOT)
    assert checked.returncode == 0, output(checked)


def test_every_deployment_script_is_found_and_strict() -> None:
    names = {str(path.relative_to(ROOT)) for path in SHELL_SCRIPTS}
    for expected in (
        "scripts/deploy-production.sh",
        "scripts/generate-secrets",
        "scripts/install-ci-tools",
        "deploy/docker/entrypoint.sh",
        "deploy/postgres/init-nexum.sh",
    ):
        assert expected in names
        text = read(expected)
        assert "set -euo pipefail" in text or "set -eu" in text, expected
        assert os.access(ROOT / expected, os.X_OK), f"{expected} must be executable"


# --- the production deployment script, against stub tools ---------------------------------

STUB_DOCKER = """#!/usr/bin/env bash
echo "docker $*" >>"$STUB_LOG"
case "$*" in
    "compose version") exit 0 ;;
    *"migrate status"*) echo "current: 0002"; echo "pending: none" ;;
esac
exit 0
"""
STUB_CURL = """#!/usr/bin/env bash
echo "curl $*" >>"$STUB_LOG"
case "$*" in
    */health/ready*) exit 0 ;;
    */health*) echo '{"status":"healthy","components":{}}' ;;
esac
"""
STUB_GIT = """#!/usr/bin/env bash
echo "git $*" >>"$STUB_LOG"
case "$1" in
    status) printf '%s' "${STUB_GIT_STATUS:-}" ;;
    rev-parse) echo 3fb9593c0ffe ;;
esac
"""


@pytest.fixture
def deployment(tmp_path: Path, certificate: tuple[Path, Path]) -> Path:
    """A copy of what scripts/deploy-production.sh needs, with real secrets generated by
    scripts/generate-secrets, a private .env.production, and stubs for docker, curl and git."""
    site = tmp_path / "site"
    (site / "scripts").mkdir(parents=True)
    for name in ("deploy-production.sh", "generate-secrets"):
        shutil.copy2(ROOT / "scripts" / name, site / "scripts" / name)
    shutil.copy2(ROOT / "docker-compose.production.yml", site)
    shutil.copy2(ROOT / ".env.production.example", site / ".env.production")
    (site / ".env.production").chmod(0o600)
    (site / "nginx" / "ssl").mkdir(parents=True)
    shutil.copy2(certificate[0], site / "nginx" / "ssl" / "nexum.crt")
    shutil.copy2(certificate[1], site / "nginx" / "ssl" / "nexum.key")
    generated = run(["bash", "scripts/generate-secrets", "production"], cwd=site)
    assert generated.returncode == 0, output(generated)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, body in (("docker", STUB_DOCKER), ("curl", STUB_CURL), ("git", STUB_GIT)):
        (stubs / name).write_text(body)
        (stubs / name).chmod(0o755)
    return site


def deploy(site: Path, **environment: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = site.parent / "calls.log"
    log.write_text("")
    env = {
        "PATH": f"{site.parent / 'bin'}:{os.environ['PATH']}",
        "STUB_LOG": str(log),
        "HOME": str(site.parent),
        **environment,
    }
    result = run(["bash", "scripts/deploy-production.sh"], cwd=site, env=env, timeout=60)
    return result, log.read_text().splitlines()


def test_deploy_script_runs_checks_build_migrations_rollout_and_health_checks_in_order(
    deployment: Path,
) -> None:
    result, calls = deploy(deployment)

    assert result.returncode == 0, output(result)
    assert "nexum-core-banking:3fb9593c0ffe" in result.stdout
    docker = [
        call.removeprefix("docker compose -f docker-compose.production.yml ") for call in calls
    ]
    steps = [
        "config --quiet",
        "build --pull nexum-api",
        "up -d --wait --wait-timeout 300 postgres redis zookeeper kafka",
        "run --rm --no-deps -T nexum-api nexum migrate status",
        "run --rm --no-deps -T postgres-backup",
        "run --rm --no-deps -T nexum-api nexum migrate up",
        "up -d --wait --wait-timeout 300",
        "exec -T nginx nginx -s reload",
        "curl",
    ]
    positions = []
    for step in steps:
        matching = [
            i
            for i, call in enumerate(docker)
            if (call == step if step.startswith("up -d --wait") else call.startswith(step))
        ]
        assert matching, f"never ran {step!r}: {calls}"
        positions.append(matching[0])
    assert positions == sorted(positions), calls
    health = [call for call in calls if call.startswith("curl")]
    assert all("https://api.yourbank.com/" in call for call in health)
    assert all("--resolve api.yourbank.com:443:127.0.0.1" in call for call in health)
    assert not any("--insecure" in call or " -k" in call for call in health)


def _break(site: Path, what: str) -> dict[str, str]:
    secrets = site / "secrets"
    if what == "no env file":
        (site / ".env.production").unlink()
    elif what == "readable env file":
        (site / ".env.production").chmod(0o644)
    elif what == "env file not production":
        path = site / ".env.production"
        path.write_text(path.read_text().replace("=production", "=staging"))
    elif what == "readable secrets":
        secrets.chmod(0o755)
    elif what == "missing secret":
        (secrets / "nexum_jwt_secret").unlink()
    elif what == "placeholder secret":
        (secrets / "redis_password").write_text("CHANGE_ME\n")
    elif what == "short jwt secret":
        (secrets / "nexum_jwt_secret").write_text("too-short\n")
    elif what == "bad encryption key":
        (secrets / "nexum_encryption_master_key").write_text(base64.b64encode(b"x" * 16).decode())
    elif what == "database url disagrees":
        (secrets / "db_password").write_text("0123456789abcdef0123456789abcdef\n")
    elif what == "no certificate":
        (site / "nginx" / "ssl" / "nexum.crt").unlink()
    elif what == "dirty tree":
        return {"STUB_GIT_STATUS": " M core_banking/config.py\n"}
    elif what == "latest tag":
        return {"NEXUM_IMAGE_TAG": "latest"}
    return {}


@pytest.mark.parametrize(
    "what",
    [
        "no env file",
        "readable env file",
        "env file not production",
        "readable secrets",
        "missing secret",
        "placeholder secret",
        "short jwt secret",
        "bad encryption key",
        "database url disagrees",
        "no certificate",
        "dirty tree",
        "latest tag",
    ],
)
def test_deploy_script_stops_before_building_when_a_check_fails(
    deployment: Path, what: str
) -> None:
    result, calls = deploy(deployment, **_break(deployment, what))

    assert result.returncode != 0, output(result)
    assert "Error:" in result.stderr, output(result)
    assert not any(" build " in call or " up " in call or " run " in call for call in calls), calls
    # No secret value is ever echoed.
    for secret in (deployment / "secrets").glob("*"):
        value = secret.read_text().strip()
        if len(value) >= 16:
            assert value not in result.stdout + result.stderr


def test_generated_secrets_are_consistent_private_and_never_overwritten(tmp_path: Path) -> None:
    first = run(["bash", str(ROOT / "scripts/generate-secrets"), "staging", "s"], cwd=tmp_path)
    assert first.returncode == 0, output(first)
    secrets = tmp_path / "s"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    names = {path.name for path in secrets.iterdir()}
    assert "replication_password" not in names  # staging has no replica
    values = {name: (secrets / name).read_text().strip() for name in names}
    url = values["nexum_database_url"]
    assert url == f"postgresql://nexum_staging:{values['db_password']}@postgres:5432/nexum_staging"
    assert values["nexum_redis_url"] == f"redis://:{values['redis_password']}@redis:6379/0"
    assert len(base64.b64decode(values["nexum_encryption_master_key"])) == 32
    assert len(values["nexum_jwt_secret"]) >= 32
    assert len(set(values.values())) == len(values), "every secret is its own random value"

    again = run(["bash", str(ROOT / "scripts/generate-secrets"), "staging", "s"], cwd=tmp_path)
    assert again.returncode == 0, output(again)
    assert {name: (secrets / name).read_text().strip() for name in names} == values
    for value in values.values():
        assert value not in first.stdout + first.stderr + again.stdout


# --- Docker Compose -----------------------------------------------------------------------


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_is_valid_for_docker_compose(name: str, tmp_path: Path) -> None:
    shutil.copy2(ROOT / name, tmp_path)
    environment = name.split(".")[1]
    shutil.copy2(ROOT / f".env.{environment}.example", tmp_path / f".env.{environment}")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "NEXUM_IMAGE_TAG": "0.1.0"}
    result = run([tool("docker-compose"), "-f", name, "config", "--quiet"], cwd=tmp_path, env=env)
    assert result.returncode == 0, output(result)
    if environment == "production":
        # No default image tag: without NEXUM_IMAGE_TAG there is nothing to deploy.
        del env["NEXUM_IMAGE_TAG"]
        untagged = run([tool("docker-compose"), "-f", name, "config", "-q"], cwd=tmp_path, env=env)
        assert untagged.returncode != 0
        assert "NEXUM_IMAGE_TAG" in untagged.stderr


def dockerfile_stages() -> set[str]:
    return {
        arguments.split()[-1]
        for keyword, arguments in dockerfile_instructions()
        if keyword == "FROM" and " AS " in arguments.upper()
    }


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_services_reference_real_files_pinned_images_and_limits(name: str) -> None:
    spec = compose(name)
    services: dict[str, dict[str, Any]] = spec["services"]
    for service_name, service in services.items():
        where = f"{name}: {service_name}"
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{where}: image {image} has no tag"
        assert tag not in {"", "latest"}, f"{where}: image {image} is not pinned"
        if "build" in service:
            assert (ROOT / service["build"]["context"] / "Dockerfile").is_file()
            assert service["build"]["target"] in dockerfile_stages()
        for env_file in [service["env_file"]] if "env_file" in service else []:
            assert (ROOT / f"{env_file}.example").is_file(), f"{where}: no {env_file}.example"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists() or source.startswith(OPERATOR_PROVIDED), (
                    f"{where}: mounts {source}, which is neither in the repository nor "
                    "documented as provided by the operator"
                )
            else:
                assert source in spec.get("volumes", {}), f"{where}: undeclared volume {source}"
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            assert source in spec["secrets"], f"{where}: undeclared secret {source}"
        assert service.get("restart") == "unless-stopped", f"{where}: no restart policy"
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("memory"), f"{where}: no memory limit"
        assert limits.get("cpus"), f"{where}: no CPU limit"
        assert service.get("logging", {}).get("options", {}).get("max-size"), f"{where}: log size"
        assert "no-new-privileges:true" in service.get("security_opt", []), where
        if service_name not in {"zookeeper", "postgres-backup"}:
            assert service.get("healthcheck", {}).get("test"), f"{where}: no health check"
        for port in service.get("ports", []):
            if service_name != "nginx":
                assert str(port).startswith("127.0.0.1:"), f"{where}: {port} is public"
    for secret in spec["secrets"].values():
        assert secret["file"].startswith("./secrets/")


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_gives_nexum_its_secrets_as_files_and_no_secret_values(name: str) -> None:
    spec = compose(name)
    api = spec["services"]["nexum-api"]
    environment = name.split(".")[1]
    assert api["environment"]["NEXUM_ENVIRONMENT"] == environment
    targets = {secret["target"] for secret in api["secrets"]}
    assert targets <= SETTINGS
    assert {"NEXUM_DATABASE_URL", "NEXUM_JWT_SECRET", "NEXUM_ENCRYPTION_MASTER_KEY"} <= targets
    for service_name, service in spec["services"].items():
        variables = service.get("environment", {})
        assert isinstance(variables, dict), f"{service_name}: use a mapping for environment"
        for key, value in variables.items():
            if re.search(r"PASSWORD|SECRET|MASTER_KEY|_URL$", key) and not key.endswith("_FILE"):
                assert not value, f"{name}: {service_name} sets {key} in plain text"
    # The secret files the Compose file reads are exactly those generate-secrets writes.
    generator = read("scripts/generate-secrets")
    for secret in spec["secrets"]:
        assert re.search(rf"\b{secret}\b", generator), f"generate-secrets never writes {secret}"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_nexum_trusts_exactly_the_compose_network(name: str) -> None:
    spec = compose(name)
    subnet = spec["networks"]["nexum-network"]["ipam"]["config"][0]["subnet"]
    api = spec["services"]["nexum-api"]
    assert api["environment"]["NEXUM_TRUSTED_PROXIES"] == subnet
    if name == "docker-compose.staging.yml":
        example = parse_env_file(ROOT / ".env.staging.example")
        assert example["NEXUM_TRUSTED_PROXIES"] == subnet
    assert ipaddress.ip_network(subnet).is_private


# --- nginx --------------------------------------------------------------------------------

NGINX_FILES = {
    # file: (how it is included, the env example whose limits it mirrors, its compose file)
    "nginx/staging.conf": ("http", ".env.staging.example", "docker-compose.staging.yml"),
    "nginx/nginx.conf": ("main", ".env.production.example", "docker-compose.production.yml"),
    "nginx/sites-available/nexum-api": ("http", ".env.production.example", None),
}


def nginx_test_copy(relative: str, tmp_path: Path, certificate: tuple[Path, Path]) -> Path:
    """The file as nginx would load it on its host, but with the upstream servers' names
    (Compose services or hosts, unresolvable here) read as 127.0.0.1 and the certificate
    paths pointing at a throw-away pair. Everything else is verbatim."""
    text = read(relative)
    text = re.sub(r"(?m)^(\s*server\s+)[A-Za-z][\w.-]*(:\d+)", r"\g<1>127.0.0.1\2", text)
    text = re.sub(r"(ssl_certificate)\s+\S+;", rf"\1 {certificate[0]};", text)
    text = re.sub(r"(ssl_certificate_key)\s+\S+;", rf"\1 {certificate[1]};", text)
    site = tmp_path / Path(relative).name
    site.write_text(text)
    if NGINX_FILES[relative][0] == "main":
        return site
    main = tmp_path / "main.conf"
    main.write_text(f"events {{}}\nhttp {{\n    include {site};\n}}\n")
    return main


@pytest.mark.parametrize("relative", NGINX_FILES)
def test_nginx_accepts_the_configuration(
    relative: str, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    nginx = tool("nginx")
    if os.geteuid() != 0:
        missing("nginx -t as root (it opens the log and temporary paths of its build)", "CI")
    config = nginx_test_copy(relative, tmp_path, certificate)
    result = run([nginx, "-t", "-e", "stderr", "-c", str(config)])
    assert result.returncode == 0, output(result)
    problems = [line for line in result.stderr.splitlines() if re.search(r"\[(warn|emerg)", line)]
    assert problems == [], output(result)


def nginx_directives(relative: str) -> list[tuple[str, str]]:
    text = re.sub(r"#[^\n]*", "", read(relative))
    return [(m[1], m[2].strip()) for m in re.finditer(r"(?m)^\s*([a-z_]+)\s+([^;{]*);", text)]


def size_in_bytes(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(value[:-1]) * units[value[-1].lower()] if value[-1].isalpha() else int(value)


def seconds(value: str) -> int:
    return int(value.removesuffix("s"))


@pytest.mark.parametrize("relative", NGINX_FILES)
def test_nginx_limits_agree_with_nexum_settings(relative: str) -> None:
    _, example, compose_file = NGINX_FILES[relative]
    settings = load_config(parse_env_file(ROOT / example) | random_secrets())
    directives = nginx_directives(relative)
    values = {name: [value for n, value in directives if n == name] for name, _ in directives}

    assert [size_in_bytes(v) for v in values["client_max_body_size"]] == [
        settings.api_max_request_size
    ]
    for timeout in ("proxy_read_timeout", "proxy_send_timeout"):
        assert all(settings.api_timeout < seconds(v) <= 120 for v in values[timeout]), timeout
    assert all(seconds(v) <= 10 for v in values["proxy_connect_timeout"])
    for directive in ("client_body_timeout", "client_header_timeout", "send_timeout"):
        assert values.get(directive), f"{relative}: no {directive}"
    zones = {
        m[1]: int(m[2])
        for zone in values["limit_req_zone"]
        if (m := re.search(r"zone=(\w+):\w+ rate=(\d+)r/m", zone))
    }
    assert zones == {
        "nexum_global": settings.rate_limit_global,
        "nexum_auth": settings.rate_limit_auth,
    }
    assert values["limit_req_status"] == ["429"]
    assert values["limit_conn"]
    assert any("zone=nexum_auth" in v for v in values["limit_req"])
    assert re.search(r"location = /metrics \{\s*return 404;", read(relative)), "hide /metrics"
    assert values["server_tokens"] == ["off"] or "server_tokens off" in read(relative)
    if compose_file:
        upstreams = [v.split(":")[0] for v in values["server"] if re.match(r"[\w.-]+:\d+", v)]
        assert upstreams
        assert set(upstreams) <= set(compose(compose_file)["services"])


# --- PostgreSQL ---------------------------------------------------------------------------


def test_postgresql_accepts_its_configuration() -> None:
    """PostgreSQL 15 reads the file (`postgres -C` parses the configuration and prints one
    setting without starting a server): unknown names and bad values fail."""
    postgres = tool("postgres")
    # Outside pytest's private temporary directory: the server may have to run as postgres.
    where = Path(tempfile.mkdtemp(prefix="nexum-postgresql-conf-"))
    try:
        where.chmod(0o755)
        config = where / "postgresql.conf"
        shutil.copy2(ROOT / "postgresql.conf", config)
        data = where / "data"
        data.mkdir(mode=0o700)
        command = [postgres, "-D", str(data), "-c", f"config_file={config}", "-C", "shared_buffers"]
        if os.geteuid() == 0:  # the server refuses to run as root, even to read its settings
            if shutil.which("runuser") is None or run(["id", "postgres"]).returncode != 0:
                missing("a postgres user to run `postgres -C` as", "the PostgreSQL server package")
            os.chown(data, *_ids("postgres"))
            command = ["runuser", "-u", "postgres", "--", *command]
        result = run(command)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    assert result.returncode == 0, output(result)
    assert result.stdout.strip() == "65536", "512MB in 8kB pages, as the file says"
    for line in result.stderr.splitlines():
        assert "skipping missing configuration file" in line, output(result)


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def test_postgresql_configuration_is_durable_and_limited() -> None:
    settings = {
        m[1]: m[2].strip().strip("'")
        for m in re.finditer(r"(?m)^(\w+)\s*=\s*('[^']*'|\S+)", read("postgresql.conf"))
    }
    for name, value in (("fsync", "on"), ("synchronous_commit", "on"), ("full_page_writes", "on")):
        assert settings[name] == value
    assert settings["listen_addresses"] == "*", "a custom config_file replaces the image's"
    assert settings["log_parameter_max_length"] == "0", "bound values may be personal data"
    assert settings["idle_in_transaction_session_timeout"] not in {"0", ""}
    assert "pg_stat_statements" in settings["shared_preload_libraries"]


# --- systemd ------------------------------------------------------------------------------


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    if not Path("/usr/lib/systemd/system/sysinit.target").exists():
        missing("systemd's unit files (/usr/lib/systemd/system)", "the systemd package")
    # A root with the host's units and the paths the unit runs, so that the unit is checked
    # as on a host where Nexum is installed (/opt/nexum/.venv).
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    unit = root / "etc/systemd/system/nexum-api.service"
    unit.parent.mkdir(parents=True)
    shutil.copy2(ROOT / "deploy/systemd/nexum-api.service", unit)
    for program in ("python", "nexum"):
        binary = root / "opt/nexum/.venv/bin" / program
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)

    result = run([analyze, "verify", f"--root={root}", "/etc/systemd/system/nexum-api.service"])

    assert result.returncode == 0, output(result)
    # Unknown keys and bad values are only warned about; here they fail.
    assert result.stdout.strip() == "", output(result)
    assert result.stderr.strip() == "", output(result)


def test_systemd_unit_restarts_within_limits_and_is_confined() -> None:
    directives: dict[str, list[str]] = {}
    for line in read("deploy/systemd/nexum-api.service").splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            directives.setdefault(key, []).append(value)
    assert directives["ExecStart"] == ["/opt/nexum/.venv/bin/python run.py"]
    assert directives["User"] == ["nexum"]
    assert directives["EnvironmentFile"]
    assert directives["Restart"] == ["always"]
    assert directives["RestartSec"]
    assert directives["StartLimitIntervalSec"]
    assert directives["StartLimitBurst"]
    assert int(directives["TimeoutStopSec"][0]) > 60, "longer than uvicorn's graceful wait"
    for limit in ("MemoryMax", "CPUQuota", "LimitNOFILE", "TasksMax"):
        assert directives.get(limit), f"no {limit}"
    for hardening in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert directives[hardening] == ["yes"]
    assert directives["ProtectSystem"] == ["strict"]


# --- Kubernetes ---------------------------------------------------------------------------

KUBERNETES_FILES = sorted(
    [*(ROOT / "kubernetes").glob("*.yaml"), ROOT / "kubernetes/secret.yaml.example"]
)


def kubernetes_documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


@cache
def kubernetes_versions() -> tuple[str, ...]:
    validate = module("kubernetes_validate")
    return ("1.30.0", validate.latest_version())


@pytest.mark.parametrize("path", KUBERNETES_FILES, ids=lambda p: p.name)
def test_kubernetes_manifest_matches_the_api_schema(path: Path) -> None:
    validate = module("kubernetes_validate")
    documents = kubernetes_documents(path)
    assert documents
    for version in kubernetes_versions():
        for document in documents:
            try:
                validate.validate(document, version, strict=True)
            except validate.ValidationError as error:
                pytest.fail(f"{path.name} against Kubernetes {version}: {error.message}")


def kubernetes(kind: str) -> dict[str, Any]:
    for path in KUBERNETES_FILES:
        for document in kubernetes_documents(path):
            if document["kind"] == kind:
                return document
    raise AssertionError(f"no {kind} in kubernetes/")


def test_kubernetes_deployment_probes_resources_and_security() -> None:
    deployment = kubernetes("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    image = container["image"]
    assert ":" in image.rsplit("/", 1)[-1], f"{image} has no tag"
    assert not image.endswith(":latest"), image
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] > 300, (
        "start-up may migrate for up to NEXUM_MIGRATION_TIMEOUT_SECONDS"
    )
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] > 60, "longer than uvicorn's graceful wait"

    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert kubernetes("Service")["spec"]["selector"].items() <= labels.items()
    assert kubernetes("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= (
        labels.items()
    )
    hpa = kubernetes("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
    assert sources == {
        kubernetes("ConfigMap")["metadata"]["name"],
        kubernetes("Secret")["metadata"]["name"],
    }


def test_kubernetes_settings_are_real_and_secrets_are_empty_templates() -> None:
    config = kubernetes("ConfigMap")["data"]
    assert set(config) <= SETTINGS
    assert not set(config) & SECRET_SETTINGS, "secrets belong in the Secret"
    assert config["NEXUM_ENVIRONMENT"] == "production"
    secret = kubernetes("Secret")["stringData"]
    assert set(secret) <= SECRET_SETTINGS
    assert all(value == "" for value in secret.values()), "a template holds no secret"
    with pytest.raises(ConfigError) as refused:
        load_config({**config, **secret})
    assert "NEXUM_JWT_SECRET" in str(refused.value)


# --- Terraform ----------------------------------------------------------------------------

TERRAFORM = ROOT / "terraform"


def terraform_env(tmp_path: Path) -> dict[str, str]:
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text("")
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def test_terraform_is_formatted(tmp_path: Path) -> None:
    result = run(
        [tool("terraform"), "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM)],
        env=terraform_env(tmp_path),
    )
    assert result.returncode == 0, output(result)


def terraform_copy_without_backend(tmp_path: Path) -> Path:
    """The configuration without its (partial) S3 backend, which needs credentials to init."""
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    versions = copy / "versions.tf"
    without = re.sub(r'\n\s*backend "s3" \{\}\n', "\n", versions.read_text())
    assert without != versions.read_text(), "versions.tf declares the S3 backend"
    versions.write_text(without)
    return copy


def test_terraform_loads_the_configuration(tmp_path: Path) -> None:
    """Terraform's own configuration loader: syntax, blocks and their arguments, variable
    types and validations, duplicate names. (`terraform providers` needs no provider.)"""
    copy = terraform_copy_without_backend(tmp_path)
    result = run(
        [tool("terraform"), "providers", "-no-color"], cwd=copy, env=terraform_env(tmp_path)
    )
    assert result.returncode == 0, output(result)
    assert "provider[registry.terraform.io/hashicorp/aws]" in result.stdout


def test_terraform_validates_with_the_aws_provider(tmp_path: Path) -> None:
    """`terraform validate` checks every resource against the AWS provider's schema. It needs
    the provider, which the registry serves and this machine cannot reach; set
    NEXUM_TEST_TERRAFORM_PLUGIN_DIR to a provider mirror (terraform providers mirror) to run it."""
    terraform = tool("terraform")
    plugin_dir = os.environ.get("NEXUM_TEST_TERRAFORM_PLUGIN_DIR")
    if not plugin_dir:
        pytest.skip("no AWS provider here: set NEXUM_TEST_TERRAFORM_PLUGIN_DIR to a mirror")
    copy = terraform_copy_without_backend(tmp_path)
    env = terraform_env(tmp_path)
    init = run(
        [
            terraform,
            "init",
            "-backend=false",
            "-input=false",
            "-no-color",
            f"-plugin-dir={plugin_dir}",
        ],
        cwd=copy,
        env=env,
        timeout=300,
    )
    assert init.returncode == 0, output(init)
    validated = run([terraform, "validate", "-no-color"], cwd=copy, env=env, timeout=300)
    assert validated.returncode == 0, output(validated)


@cache
def terraform_parsed() -> dict[str, dict[str, Any]]:
    hcl2 = module("hcl2")
    parsed = {}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            parsed[path.name] = hcl2.load(handle)
    return parsed


def terraform_blocks(kind: str) -> list[dict[str, Any]]:
    return [block for document in terraform_parsed().values() for block in document.get(kind, [])]


def unquote(name: str) -> str:
    return name.strip('"')


def test_terraform_references_resolve_to_declarations() -> None:
    """What `terraform validate` would catch without a provider: every var., local., data.
    and resource reference names something declared."""
    resources = {
        (unquote(kind), unquote(name))
        for block in terraform_blocks("resource")
        for kind, named in block.items()
        for name in named
    }
    data = {
        (unquote(kind), unquote(name))
        for block in terraform_blocks("data")
        for kind, named in block.items()
        for name in named
    }
    variables = {unquote(name) for block in terraform_blocks("variable") for name in block}
    locals_ = {unquote(name) for block in terraform_blocks("locals") for name in block}
    assert resources
    assert variables
    assert locals_

    for path in sorted(TERRAFORM.glob("*.tf")):
        code = re.sub(r"(?m)^\s*#.*$", "", path.read_text())
        for kind, name in re.findall(r"(?<!data\.)\b(aws_[a-z0-9_]+)\.([a-z0-9_]+)\b", code):
            assert (kind, name) in resources, f"{path.name}: {kind}.{name} is not declared"
        for kind, name in re.findall(r"\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)", code):
            assert (kind, name) in data, f"{path.name}: data.{kind}.{name} is not declared"
        for name in re.findall(r"\bvar\.([a-z0-9_]+)", code):
            assert name in variables, f"{path.name}: var.{name} is not declared"
        for name in re.findall(r"\blocal\.([a-z0-9_]+)", code):
            assert name in locals_, f"{path.name}: local.{name} is not declared"


def test_terraform_has_no_secrets_and_documents_its_inputs() -> None:
    for block in terraform_blocks("variable"):
        for name, body in block.items():
            assert body.get("description"), f"var.{name}: describe it"
            assert body.get("type"), f"var.{name}: give it a type"
            assert not re.search(r"password|secret|token|key$", unquote(name)), (
                f"var.{name}: secrets are not Terraform inputs (secrets.tf)"
            )
    text = "\n".join(path.read_text() for path in TERRAFORM.glob("*.tf"))
    assert not re.search(r"(?m)^\s*password\s*=", text), "no password attribute"
    assert "aws_secretsmanager_secret_version" not in text, "values are put by operators"
    assert ":latest" not in text

    (database,) = [
        body
        for block in terraform_blocks("resource")
        for kind, named in block.items()
        if unquote(kind) == "aws_db_instance"
        for body in named.values()
    ]
    assert database["storage_encrypted"] is True
    assert database["manage_master_user_password"] is True
    assert database["publicly_accessible"] is False
    assert database["deletion_protection"] is True
    assert database["multi_az"] is True
    assert database["backup_retention_period"] >= 7


# --- Prometheus ---------------------------------------------------------------------------

ALERTS = ROOT / "monitoring/nexum-alerts.yml"


def test_alert_rules_pass_promtool() -> None:
    result = run([tool("promtool"), "check", "rules", str(ALERTS)])
    assert result.returncode == 0, output(result)


def test_alert_rules_pass_their_unit_tests() -> None:
    result = run(
        [tool("promtool"), "test", "rules", "nexum-alerts.test.yml"],
        cwd=ROOT / "monitoring/tests",
    )
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout


def test_prometheus_configuration_passes_promtool(tmp_path: Path) -> None:
    shutil.copy2(ROOT / "monitoring/prometheus.yml", tmp_path)
    shutil.copy2(ALERTS, tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/nexum-metrics-api-key").write_text("nxk_test\n")
    result = run([tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")])
    assert result.returncode == 0, output(result)
    assert "1 rule files found" in result.stdout


def exported_series() -> dict[str, set[str]]:
    """Every series name Nexum's /metrics can carry, with its label names."""
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    series: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if hasattr(value, "describe") and hasattr(value, "_labelnames"):
            family = value.describe()[0]
            for suffix in suffixes[family.type]:
                labels = set(value._labelnames) | ({"le"} if suffix == "_bucket" else set())
                series[family.name + suffix] = labels
    return series


def test_alert_rules_use_the_metrics_nexum_exports() -> None:
    series = exported_series()
    assert "nexum_requests_total" in series
    assert "nexum_ledger_invariant_violations" in series
    rules = [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]
    used = set()
    for rule in rules:
        expr = rule["expr"]
        for name, matchers in re.findall(r"\b(nexum_[a-z_]+)(\{[^}]*\})?", expr):
            assert name in series, f"{rule['alert']}: Nexum exports no {name}"
            used.add(name)
            for label in re.findall(r"(\w+)\s*[!=]~?", matchers):
                assert label in series[name] | {"job", "instance"}, (
                    f"{rule['alert']}: {name} has no label {label}"
                )
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"]
    for name in ("nexum_errors_total", "nexum_request_duration_seconds_bucket"):
        assert name in used
    codes = re.findall(r'type=~"([^"]+)"', ALERTS.read_text())
    assert codes
    assert set(codes[0].split("|")) == {
        "internal_error",
        "service_unavailable",
        "request_timeout",
    }
    for code in codes[0].split("|"):
        assert f'"{code}"' in read("core_banking/api/problems.py") + read(
            "core_banking/api/middleware.py"
        ), f"Nexum never answers with the problem code {code}"


# --- Logstash -----------------------------------------------------------------------------

LOGSTASH = ROOT / "monitoring/logstash.conf"


def logstash_ast() -> list[Any]:
    parser = module("logstash_pipeline_parser")
    tree: list[Any] = parser.Pipeline(LOGSTASH.read_text()).parse()
    return tree


def test_logstash_pipeline_parses() -> None:
    """Logstash's grammar (a port of its treetop grammar); no Logstash runs here."""
    sections = {section[0]: section[1] for section in logstash_ast()}
    assert set(sections) == {"input", "filter", "output"}
    assert [plugin[0] for plugin in sections["input"]] == ["file"]
    assert "elasticsearch" in repr(sections["output"])
    assert "${ELASTICSEARCH_PASSWORD}" in repr(sections["output"]), "no password in the file"


NEXUM_LOG_LINES = textwrap.dedent(
    """
    import asyncio, httpx
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from core_banking.api.observe import Observe
    from core_banking.config import load_config
    from core_banking.observability.logging import configure_logging, get_logger

    configure_logging(load_config({"NEXUM_LOG_FORMAT": "json", "NEXUM_LOG_LEVEL": "INFO"}))
    get_logger("core_banking.test").error("something failed", code="internal_error")

    async def hello(request):
        return PlainTextResponse("hi", status_code=201)

    app = Observe(Starlette(routes=[Route("/accounts/{account_id}", hello)]))

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nexum") as client:
            await client.get("/accounts/42")

    asyncio.run(main())
    """
)


def test_logstash_reads_the_fields_nexum_logs() -> None:
    import json

    result = run([sys.executable, "-c", NEXUM_LOG_LINES], cwd=ROOT, timeout=60)
    assert result.returncode == 0, output(result)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    request = next(line for line in lines if line["message"] == "request completed")
    failure = next(line for line in lines if line["message"] == "something failed")

    text = LOGSTASH.read_text()
    referenced = set(re.findall(r'"(\w+)" => "(?:float|integer)"', text))
    referenced |= set(re.findall(r'match => \[ "(\w+)"', text))
    referenced |= set(re.findall(r"\[(\w+)\] in", text))
    assert referenced == {"timestamp", "level", "processing_time_ms", "status"}
    for field in referenced:
        assert field in request or field in failure, f"Nexum's logs have no field {field}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", request["timestamp"])
    assert failure["level"] == "ERROR", "the filter tags ERROR and CRITICAL as upper case"
    assert isinstance(request["status"], int)
    assert isinstance(request["processing_time_ms"], float)
    assert request["endpoint"] == "/accounts/{account_id}"
    assert (
        re.search(r'path => "(/var/log/nexum/application\.log)"', text)[1]
        == (parse_env_file(ROOT / ".env.production.example")["NEXUM_LOG_FILE"])
    )


# --- environment templates ----------------------------------------------------------------

ENV_EXAMPLES = (
    ".env.example",
    ".env.development.example",
    ".env.staging.example",
    ".env.production.example",
)


@pytest.mark.parametrize("name", ENV_EXAMPLES)
def test_env_example_names_every_setting_in_plain_lines(name: str) -> None:
    values = parse_env_file(ROOT / name)
    assert set(values) == SETTINGS, {
        "missing": sorted(SETTINGS - set(values)),
        "unknown": sorted(set(values) - SETTINGS),
    }
    for key, value in values.items():
        # One format for a shell, Compose's env_file and systemd's EnvironmentFile.
        assert not re.search(r"[\s\"'$`\\#]", value), f"{name}: {key} is not a plain value"


@pytest.mark.parametrize("name", [".env.example", ".env.development.example"])
def test_development_examples_work_as_they_are(name: str) -> None:
    settings = load_config(parse_env_file(ROOT / name))
    assert settings.environment.value == "development"


def random_secrets() -> dict[str, str]:
    return {
        "NEXUM_DATABASE_URL": "postgresql://nexum:" + os.urandom(8).hex() + "@db:5432/nexum",
        "NEXUM_JWT_SECRET": base64.b64encode(os.urandom(48)).decode(),
        "NEXUM_ENCRYPTION_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }


@pytest.mark.parametrize("name", [".env.staging.example", ".env.production.example"])
def test_strict_examples_hold_no_working_secret(name: str) -> None:
    values = parse_env_file(ROOT / name)
    for key in SECRET_SETTINGS:
        assert values[key] == "", f"{name}: {key} must stay empty in a template"
    # Each secret left out on its own stops start-up, with a message that names it.
    secrets = random_secrets()
    for key in secrets:
        with pytest.raises(ConfigError) as refused:
            load_config(values | secrets | {key: values[key]})
        assert key in str(refused.value)

    settings = load_config(values | secrets)  # only the secrets were missing
    assert settings.is_strict
    assert settings.environment.value == name.split(".")[2]
    assert settings.encryption_enabled
    assert settings.enable_audit_logging
    assert settings.enable_rate_limiting
    assert "*" not in settings.cors_origins


def test_guide_values_are_kept_in_the_production_template() -> None:
    values = parse_env_file(ROOT / ".env.production.example")
    for key, value in {
        "NEXUM_DATABASE_POOL_SIZE": "20",
        "NEXUM_DATABASE_POOL_OVERFLOW": "30",
        "NEXUM_JWT_EXPIRY_HOURS": "4",
        "NEXUM_ENCRYPTION_PROVIDER": "aesgcm",
        "NEXUM_API_WORKERS": "4",
        "NEXUM_RATE_LIMIT_GLOBAL": "2000",
        "NEXUM_RATE_LIMIT_AUTH": "20",
        "NEXUM_MAX_TRANSACTION_AMOUNT": "500000.00",
        "NEXUM_KAFKA_TOPIC_PREFIX": "nexum-prod",
    }.items():
        assert values[key] == value, key


# --- documentation ------------------------------------------------------------------------


def test_deployment_doc_explains_every_file() -> None:
    doc = read("docs/deployment.md")
    files = [
        "Dockerfile",
        ".dockerignore",
        "docker-compose.staging.yml",
        "docker-compose.production.yml",
        "nginx/staging.conf",
        "nginx/nginx.conf",
        "nginx/sites-available/nexum-api",
        "postgresql.conf",
        "deploy/docker/entrypoint.sh",
        "deploy/postgres/init-nexum.sh",
        "deploy/systemd/nexum-api.service",
        "kubernetes/deployment.yaml",
        "kubernetes/hpa.yaml",
        "terraform/",
        "monitoring/nexum-alerts.yml",
        "monitoring/logstash.conf",
        "scripts/deploy-production.sh",
        "scripts/generate-secrets",
        "scripts/install-ci-tools",
        *ENV_EXAMPLES,
    ]
    for name in files:
        assert (ROOT / name).exists(), name
        assert f"`{name}`" in doc, f"docs/deployment.md does not mention `{name}`"
    for topic in ("standby.signal", "uv.lock", "NEXUM_TEST_REQUIRE_TOOLS", "terraform validate"):
        assert topic in doc, topic


# --- every checker can fail ---------------------------------------------------------------


def broken_inputs(tmp_path: Path) -> dict[str, list[str]]:
    """For each tool: a command that must fail on a deliberately broken file."""
    (tmp_path / "Dockerfile").write_text("FROM python:latest\nRUN cd /app && pip install x\n")
    (tmp_path / "bad.sh").write_text("#!/bin/bash\nrm -rf $1/*\n")
    (tmp_path / "bad.conf").write_text("events {}\nhttp { server { listen 80; proxy_pass; } }\n")
    (tmp_path / "bad-rules.yml").write_text(
        "groups:\n- name: x\n  rules:\n  - alert: X\n    expr: rate(nexum_errors_total[5m) > 1\n"
    )
    (tmp_path / "compose.yml").write_text("services:\n  a:\n    image: x:1\n    ports: 8090\n")
    (tmp_path / "tf").mkdir()
    (tmp_path / "tf/main.tf").write_text('variable "x" {\ntype=string\n}\n')
    return {
        "hadolint": [tool("hadolint"), "--no-color", str(tmp_path / "Dockerfile")],
        "shellcheck": [tool("shellcheck"), str(tmp_path / "bad.sh")],
        "nginx": [tool("nginx"), "-t", "-e", "stderr", "-c", str(tmp_path / "bad.conf")],
        "promtool": [tool("promtool"), "check", "rules", str(tmp_path / "bad-rules.yml")],
        "docker-compose": [tool("docker-compose"), "-f", str(tmp_path / "compose.yml"), "config"],
        "terraform": [tool("terraform"), "fmt", "-check", str(tmp_path / "tf")],
    }


@pytest.mark.parametrize(
    "checker", ["hadolint", "shellcheck", "nginx", "promtool", "docker-compose", "terraform"]
)
def test_each_checker_rejects_a_broken_file(checker: str, tmp_path: Path) -> None:
    command = broken_inputs(tmp_path)[checker]
    env = terraform_env(tmp_path) | {"PATH": os.environ["PATH"]}
    result = run(command, cwd=tmp_path, env=env)
    assert result.returncode != 0, output(result)


def test_schema_and_parser_checks_reject_broken_files() -> None:
    validate = module("kubernetes_validate")
    deployment = kubernetes("Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(validate.ValidationError):
        validate.validate(broken, kubernetes_versions()[-1], strict=True)

    parser = module("logstash_pipeline_parser")
    with pytest.raises(parser.tree.ParseError):
        parser.Pipeline("input { file { path => } \nfilter {").parse()

    hcl2 = module("hcl2")
    lark = module("lark")
    with pytest.raises(lark.exceptions.LarkError):
        hcl2.loads('resource "aws_vpc" "x" {\n  cidr_block = \n}\n')


def logrotate_check(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """logrotate's own reading of ``config`` (debug mode: it rotates nothing). The service
    user does not exist here, so the configuration is read as root's."""
    path = tmp_path / "nexum.logrotate"
    path.write_text(config.replace("nexum nexum", "root root"))
    path.chmod(0o644)
    return run([tool("logrotate"), "--debug", "--state", str(tmp_path / "state"), str(path)])


def test_logrotate_configuration_is_read_without_errors(tmp_path: Path) -> None:
    config = (ROOT / "deploy/logrotate/nexum").read_text()
    assert "/var/log/nexum/" in config
    assert "/var/log/nexum/application.log" in (ROOT / ".env.production.example").read_text()
    result = logrotate_check(config, tmp_path)
    assert result.returncode == 0, output(result)
    assert "error" not in output(result).lower(), output(result)
    broken = logrotate_check(config.replace("daily", "dailyy"), tmp_path)
    assert "error" in output(broken).lower()
