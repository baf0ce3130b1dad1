"""Transfers per second through the HTTP API -- one uvicorn process on PostgreSQL, every
request authenticated -- against pgbench's TPC-B on the same PostgreSQL, in the same run.

    python -m bench.http [--duration 10] [--runs 3] [--accounts 10000]

The load comes from wrk (``apt-get install wrk``), a C load generator, so that the client
takes as little as possible of the CPUs the server and PostgreSQL share: a Python client
would cost about as much CPU per request as the server. Each request is a whole
``POST /transactions/transfer`` as a channel sends it: a bearer token checked against its
server-side session, an Idempotency-Key of its own, random source and target accounts. wrk
reports the latency distribution, so p50 and p99 come from every request, not a sample.

Each round measures, in turn: single transfers at concurrency 16; atomic batches of
``--batch-size`` transfers (``POST /transactions/batch``, one database transaction per
batch) at concurrency 4, counted in transfers, with the API process's CPU per transfer;
the same batches with ``"mode": "independent"`` (each transfer on its own); ``GET
/health/live`` at concurrency 16, the framework's floor (the same process and middleware,
no authentication, no database); and pgbench's built-in TPC-B at 16 clients.
Figures are medians over the rounds; the last line printed is a JSON object with them and
the ratios. Rate limiting is off (its default budget would refuse the load) and the
principal cache is on when ``--redis-url`` names a Redis, as in a production deployment.
A benchmark never fails a build: it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import (
    BENCH_SETTINGS,
    DEFAULT_POSTGRES_URL,
    PGBENCH_SCALE,
    create_database,
    drop_database,
    open_funded_accounts,
    pgbench,
    pgbench_tpcb_rate,
)
from core_banking.migrations import MigrationManager

TRANSFER_CONCURRENCY = 16
BATCH_CONCURRENCY = 4
PROJECT = Path(__file__).resolve().parent.parent
ADMIN = {"username": "bench-admin", "password": "a long benchmark passphrase"}
RESULT_MARK = "WRK-RESULT "

# wrk runs this Lua in each of its threads. request() builds every request afresh: random
# accounts and a unique Idempotency-Key, so no request is a replay; done() prints the
# figures as one JSON line for the benchmark to read.
WRK_SCRIPT = """
local accounts = {%(accounts)s}
local token = "%(token)s"
local batch_size = %(batch_size)d
local path = "%(path)s"
local mode = "%(mode)s"
local threads = {}
local counter = 0
local prefix = ""

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  prefix = "%(run)s-" .. thread_number
  math.randomseed(os.time() * 1000 + thread_number)
end

local function pair()
  local source = accounts[math.random(#accounts)]
  local target = accounts[math.random(#accounts)]
  while target == source do target = accounts[math.random(#accounts)] end
  return source, target
end

local function transfer(source, target)
  return '{"from_account_id":"' .. source .. '","to_account_id":"' .. target
    .. '","amount":{"amount":"0.01","currency":"USD"},"channel":"api"}'
end

function request()
  counter = counter + 1
  local body
  if batch_size == 0 then
    body = transfer(pair())
  else
    local operations = {}
    for i = 1, batch_size do
      local source, target = pair()
      operations[i] = '{"type":"transfer",' .. string.sub(transfer(source, target), 2)
    end
    body = '{"mode":"' .. mode .. '","operations":[' .. table.concat(operations, ",") .. ']}'
  end
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = prefix .. "-" .. counter,
  }, body)
end
"""

# How every script reports: one line wrk prints at the end, read back by _wrk.
WRK_DONE = """
function done(summary, latency, requests)
  io.write(string.format(
    '%(mark)s{"requests": %%d, "duration_us": %%d, "failed": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

# The framework's floor: the same process and middleware, no authentication, no database.
PROBE_SCRIPT = """
wrk.path = "/health/live"
"""


@dataclass(frozen=True)
class LoadResult:
    per_second: float  # requests answered 2xx per second
    failed: int
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # the API process's CPU time per request answered


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_server(
    database_url: str, redis_url: str | None, port: int, log: Path
) -> subprocess.Popen[bytes]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "NEXUM_DATABASE_URL": database_url,
        "NEXUM_DATABASE_POOL_SIZE": str(TRANSFER_CONCURRENCY),
        "NEXUM_API_HOST": "127.0.0.1",
        "NEXUM_API_PORT": str(port),
        "NEXUM_API_WORKERS": "1",
        "NEXUM_JWT_SECRET": secrets.token_urlsafe(48),
        "NEXUM_ENABLE_RATE_LIMITING": "false",
        "NEXUM_LOG_LEVEL": "warning",
        **BENCH_SETTINGS,
    }
    if redis_url:
        environment["NEXUM_REDIS_URL"] = redis_url
    with open(log, "ab") as output:
        return subprocess.Popen(
            [sys.executable, "run.py"],
            cwd=PROJECT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until_ready(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within 60 s:\n{log.read_text(errors='replace')}")


def _bearer_token(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        http.post("/auth/setup", json={**ADMIN, "full_name": "Benchmark"}).raise_for_status()
        login = http.post("/auth/login", json=ADMIN)
        login.raise_for_status()
        token: str = login.json()["access_token"]
        return token


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    base_url: str,
    server_pid: int,
    script: Path,
    concurrency: int,
    seconds: float,
) -> LoadResult:
    cpu_before = _cpu_seconds(server_pid)
    output = subprocess.run(
        [
            "wrk",
            "--threads",
            "1",
            "--connections",
            str(concurrency),
            "--duration",
            f"{int(seconds)}s",
            "--timeout",
            "30s",
            "--script",
            str(script),
            base_url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next((line for line in output.splitlines() if line.startswith(RESULT_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    server_cpu = _cpu_seconds(server_pid) - cpu_before
    figures = json.loads(line.removeprefix(RESULT_MARK))
    answered = figures["requests"] - figures["failed"]
    return LoadResult(
        per_second=answered / (figures["duration_us"] / 1e6),
        failed=figures["failed"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        server_cpu_ms=1000 * server_cpu / max(answered, 1),
    )


def _script(
    directory: Path, accounts: list[str], token: str, batch_size: int, mode: str = "atomic"
) -> Path:
    path = directory / f"load-{batch_size}-{mode}.lua"
    path.write_text(
        (WRK_SCRIPT + WRK_DONE)
        % {
            "accounts": ",".join(f'"{account}"' for account in accounts),
            "token": token,
            "batch_size": batch_size,
            "path": "/transactions/batch" if batch_size else "/transactions/transfer",
            "mode": mode,
            "run": uuid.uuid4().hex[:12],
            "mark": RESULT_MARK,
        }
    )
    return path


def _probe_script(directory: Path) -> Path:
    path = directory / "probe.lua"
    path.write_text(PROBE_SCRIPT + WRK_DONE % {"mark": RESULT_MARK})
    return path


def _redis_url(option: str) -> str | None:
    return None if option.lower() in {"", "none"} else option


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/14",
        help='Redis for the principal cache, as in production; "none" for none',
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--runs", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100, help="transfers per atomic batch")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    suffix = uuid.uuid4().hex[:8]
    nexum_db, reference_db = f"nexum_http_bench_{suffix}", f"pgbench_ref_{suffix}"
    nexum_url = asyncio.run(create_database(options.postgres_url, nexum_db))
    reference_url = asyncio.run(create_database(options.postgres_url, reference_db))
    transfers: list[LoadResult] = []
    batches: list[LoadResult] = []
    independents: list[LoadResult] = []
    probes: list[LoadResult] = []  # GET /health/live
    reference: list[float] = []
    with tempfile.TemporaryDirectory(prefix="nexum-http-bench-") as scratch:
        directory = Path(scratch)
        server: subprocess.Popen[bytes] | None = None
        try:
            MigrationManager(nexum_url).migrate_up()
            accounts = asyncio.run(open_funded_accounts(nexum_url, options.accounts))
            pgbench(reference_url, ["-i", "-q", "-s", str(PGBENCH_SCALE)])
            port = _free_port()
            base_url = f"http://127.0.0.1:{port}"
            log = directory / "server.log"
            server = _start_server(nexum_url, _redis_url(options.redis_url), port, log)
            _wait_until_ready(base_url, server, log)
            token = _bearer_token(base_url)
            probe = _probe_script(directory)
            for round_number in range(1, options.runs + 1):
                # new scripts each round: their Idempotency-Keys must not repeat a round's
                single = _script(directory, accounts, token, 0)
                batched = _script(directory, accounts, token, options.batch_size)
                each = _script(directory, accounts, token, options.batch_size, "independent")
                transfers.append(
                    _wrk(base_url, server.pid, single, TRANSFER_CONCURRENCY, options.duration)
                )
                batch = _wrk(base_url, server.pid, batched, BATCH_CONCURRENCY, options.duration)
                batches.append(batch)
                independents.append(
                    _wrk(base_url, server.pid, each, BATCH_CONCURRENCY, options.duration)
                )
                probes.append(
                    _wrk(base_url, server.pid, probe, TRANSFER_CONCURRENCY, options.duration)
                )
                reference.append(
                    pgbench_tpcb_rate(reference_url, TRANSFER_CONCURRENCY, options.duration)
                )
                print(
                    f"round {round_number}: HTTP transfers {transfers[-1].per_second:7.0f}/s "
                    f"(p50 {transfers[-1].p50_ms:.1f} ms, p99 {transfers[-1].p99_ms:.1f} ms, "
                    f"server CPU {transfers[-1].server_cpu_ms:.2f} ms each, "
                    f"{transfers[-1].failed} failed)   batched "
                    f"{batch.per_second * options.batch_size:7.0f} transfers/s "
                    f"(server CPU {batch.server_cpu_ms / options.batch_size:.2f} ms each, "
                    f"{batch.failed} failed)   independent "
                    f"{independents[-1].per_second * options.batch_size:7.0f} transfers/s "
                    f"({independents[-1].failed} failed)   GET /health/live "
                    f"{probes[-1].per_second:7.0f}/s (server CPU {probes[-1].server_cpu_ms:.2f} ms"
                    f" each)   pgbench TPC-B {reference[-1]:7.0f} tps",
                    file=sys.stderr,
                )
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            asyncio.run(drop_database(options.postgres_url, nexum_db))
            asyncio.run(drop_database(options.postgres_url, reference_db))

    transfer_rate = statistics.median(result.per_second for result in transfers)
    batch_rate = statistics.median(result.per_second for result in batches) * options.batch_size
    independent_rate = (
        statistics.median(result.per_second for result in independents) * options.batch_size
    )
    tpcb = statistics.median(reference)
    result = {
        "benchmark": "http_transfers",
        "unit": "posted transfers per second through one uvicorn process (PostgreSQL)",
        "concurrency": TRANSFER_CONCURRENCY,
        "http_transfers": round(transfer_rate),
        "p50_ms": round(statistics.median(r.p50_ms for r in transfers), 2),
        "p99_ms": round(statistics.median(r.p99_ms for r in transfers), 2),
        "server_cpu_ms_per_transfer": round(
            statistics.median(r.server_cpu_ms for r in transfers), 2
        ),
        "failed_requests": sum(r.failed for r in (*transfers, *batches, *independents, *probes)),
        "batch_transfers": round(batch_rate),
        "server_cpu_ms_per_batched_transfer": round(
            statistics.median(r.server_cpu_ms for r in batches) / options.batch_size, 3
        ),
        "independent_batch_transfers": round(independent_rate),
        "server_cpu_ms_per_independent_transfer": round(
            statistics.median(r.server_cpu_ms for r in independents) / options.batch_size, 3
        ),
        "health_live_requests": round(statistics.median(r.per_second for r in probes)),
        "server_cpu_ms_per_health_live": round(
            statistics.median(r.server_cpu_ms for r in probes), 3
        ),
        "batch_size": options.batch_size,
        "batch_concurrency": BATCH_CONCURRENCY,
        "pgbench_tpcb": round(tpcb),
        "ratio": round(transfer_rate / tpcb, 3),
        "batch_ratio": round(batch_rate / tpcb, 3),
        "independent_batch_ratio": round(independent_rate / tpcb, 3),
        "target_ratio": 0.5,
        "runs": options.runs,
        "duration_seconds": options.duration,
        "accounts": len(accounts),
        "principal_cache": _redis_url(options.redis_url) is not None,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
