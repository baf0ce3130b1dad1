"""Nexum as operators run it: ``python run.py`` in a process of its own, on a free port,
configured only by NEXUM_* environment variables, and the ``nexum`` console script.

``running_server`` starts the server, waits until it is ready, yields a :class:`Server`
with its base URL and stops it (SIGTERM, then SIGKILL of its process group) on the way out.
The server's output is appended (O_APPEND: its workers share the files) to files in the
given directory, never sent to pipes that could fill.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conftest import TEST_JWT_SECRET

PROJECT = Path(__file__).resolve().parents[2]
NEXUM = Path(sys.executable).with_name("nexum")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
STARTUP_COMPLETE = "Application startup complete."
STARTUP_FAILED = ("Application startup failed", "failed to start")


def free_port() -> int:
    """A free port below the kernel's ephemeral range. A port from that range (the kernel's
    own choice for ``bind(0)``) can be taken, between its choosing and the server's bind, as
    the local port of any outgoing connection on the machine, including a client's own
    connection attempt to it while the server is down (TCP connects to itself); a port below
    the range cannot."""
    ranges = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low = int(ranges.read_text().split()[0]) if ranges.exists() else 32768
    for _ in range(200):
        port = random.randint(min(10_000, low // 2), low - 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


def base_environment() -> dict[str, str]:
    """PATH and HOME only: no NEXUM_* (or anything else) leaks in from this process."""
    return {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}


def nexum(*args: str, database_url: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run the ``nexum`` console script against ``database_url``."""
    environ = base_environment()
    environ["NEXUM_DATABASE_URL"] = database_url
    environ.update({f"NEXUM_{name.upper()}": value for name, value in settings.items()})
    environ["COLUMNS"] = "220"  # rich wraps at the terminal width
    return subprocess.run(
        [str(NEXUM), *args],
        env=environ,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Server:
    """A running ``python run.py``."""

    process: subprocess.Popen[bytes]
    port: int
    workers: int
    log_dir: Path
    environment: Mapping[str, str]
    returncode: int | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return (self.log_dir / "server.stdout").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.log_dir / "server.stderr").read_text(errors="replace")

    def output(self) -> str:
        """Both streams: where uvicorn's log lines go depends on the logging set-up."""
        return self.stderr() + self.stdout()

    def describe(self) -> str:
        """What the server said (the ends of both streams, JSON log lines made readable),
        for assertion messages."""
        return (
            f"--- server stderr ---\n{readable(self.stderr())[-6000:]}\n"
            f"--- server stdout ---\n{readable(self.stdout())[-6000:]}"
        )

    # --- which worker process serves a connection (Linux /proc) ---------------------------

    def child_pids(self) -> set[int]:
        """The server's child processes (its workers, and any helper multiprocessing adds)."""
        children: set[int] = set()
        task_dir = Path(f"/proc/{self.process.pid}/task")
        for task in task_dir.glob("*"):
            try:
                children.update(int(pid) for pid in (task / "children").read_text().split())
            except OSError:
                continue
        return children

    def pid_serving(self, client_port: int) -> int | None:
        """The process holding the server side of the TCP connection from ``client_port``
        (still open) to this server, or None when there is no such connection."""
        inodes = _connection_inodes(self.port, client_port)
        if not inodes:
            return None
        for pid in [self.process.pid, *self.child_pids()]:
            if inodes & _socket_inodes(pid):
                return pid
        return None

    # --- stopping ---------------------------------------------------------------------------

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait up to ``timeout``, SIGKILL the whole process group if needed; then
        make sure no worker outlives the parent. Returns the parent's exit code (negative:
        killed by that signal). Safe to call twice."""
        if self.returncode is not None:
            return self.returncode
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(self.process.pid)
                self.process.wait(timeout=timeout)
        # the group is the server's own (start_new_session): its leftovers are ours to end
        _kill_group(self.process.pid)
        self.returncode = self.process.returncode
        return self.returncode


def readable(log: str) -> str:
    """Structured (JSON) log lines as ``LEVEL logger: message``, tracebacks unescaped and
    shortened to Nexum's own frames."""
    lines = []
    for line in log.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            lines.append(line)
            continue
        text = f"{event.get('level', '')} {event.get('logger', '')}: {event.get('message', '')}"
        for extra in ("exception", "exc_info", "stack"):
            if isinstance(event.get(extra), str):
                text += "\n" + event[extra]
        lines.append(text)
    return _own_frames("\n".join(lines))


def _own_frames(text: str) -> str:
    """Drop traceback frames of libraries and the standard library (and their source and
    caret lines), keeping the project's frames and every message."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith('File "'):
            skipping = str(PROJECT / "core_banking") not in stripped
            if skipping:
                continue
        elif skipping and line.startswith(" "):
            continue
        else:
            skipping = False
        kept.append(line)
    return "\n".join(kept)


def _kill_group(pgid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _socket_inodes(pid: int) -> set[int]:
    found: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return found
    for entry in entries:
        try:
            link = os.readlink(entry)
        except OSError:
            continue
        if link.startswith("socket:["):
            found.add(int(link[len("socket:[") : -1]))
    return found


def _connection_inodes(server_port: int, client_port: int) -> set[int]:
    """Inodes of sockets whose local port is the server's and remote port the client's."""
    found: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == server_port and remote_port == client_port:
                found.add(int(fields[9]))
    return found


def client_port_of(response: httpx.Response) -> int:
    """The local port of the connection a response came over (HTTP/1.1, httpcore)."""
    stream = response.extensions["network_stream"]
    address = stream.get_extra_info("client_addr")
    port: int = address[1]
    return port


async def wait_until_ready(server: Server, within: float = START_TIMEOUT) -> None:
    """GET /health/ready answers 200 and, with several workers, every worker has said its
    start-up is complete; the process must stay alive all along."""
    deadline = time.monotonic() + within
    last = "no answer yet"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2) as client:
        while True:
            code = server.process.poll()
            if code is not None:
                raise AssertionError(
                    f"the server exited with {code} before it was ready\n{server.describe()}"
                )
            said = server.output()
            if any(marker in said for marker in STARTUP_FAILED):
                raise AssertionError(f"the server failed to start\n{server.describe()}")
            started = said.count(STARTUP_COMPLETE)
            if server.workers == 1 or started >= server.workers:
                try:
                    response = await client.get("/health/ready")
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text}"
            else:
                last = f"{started} of {server.workers} workers started"
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the server was not ready within {within:g} s ({last})\n{server.describe()}"
                )
            await asyncio.sleep(0.1)


def start(
    database_url: str,
    log_dir: Path,
    *,
    workers: int = 1,
    **settings: str,
) -> Server:
    """Start ``python run.py`` (not waiting for it). ``settings`` are NEXUM_* overrides by
    field name (``api_timeout="2"``), applied last. With several workers the log level is
    info, so that each worker's "Application startup complete." can be waited for."""
    port = free_port()
    environ = base_environment()
    environ.update(
        {
            "NEXUM_DATABASE_URL": database_url,
            "NEXUM_JWT_SECRET": TEST_JWT_SECRET,
            "NEXUM_API_HOST": "127.0.0.1",
            "NEXUM_API_PORT": str(port),
            "NEXUM_API_WORKERS": str(workers),
            "NEXUM_LOG_LEVEL": "info" if workers > 1 else "warning",
            "NEXUM_ENABLE_RATE_LIMITING": "false",
        }
    )
    environ.update({f"NEXUM_{name.upper()}": value for name, value in settings.items()})
    log_dir.mkdir(parents=True, exist_ok=True)
    with (
        open(log_dir / "server.stdout", "ab") as stdout,
        open(log_dir / "server.stderr", "ab") as stderr,
    ):
        process = subprocess.Popen(
            [sys.executable, "run.py"],
            cwd=PROJECT,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group: stopping it ends its workers
        )
    return Server(process, port, workers, log_dir, environ)


@asynccontextmanager
async def running_server(
    database_url: str,
    log_dir: Path,
    *,
    workers: int = 1,
    **settings: str,
) -> AsyncIterator[Server]:
    """A ready server on ``database_url``; stopped on exit (see :meth:`Server.stop`)."""
    server = start(database_url, log_dir, workers=workers, **settings)
    try:
        await wait_until_ready(server)
        yield server
    finally:
        server.stop()
