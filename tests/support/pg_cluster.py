"""Private PostgreSQL servers for tests that must stop, crash or replicate a database.

``pg_cluster()`` starts a primary of its own (``initdb``; ``wal_level=replica``, WAL senders,
trust authentication on 127.0.0.1 for connections and replication, ``fsync=on``) on a free
loopback port and, on request, streaming replicas made with ``pg_basebackup -R``
(``standby.signal`` and ``primary_conninfo``). It waits until each server accepts
connections and every replica streams, and on the way out stops them all and deletes their
data, whatever happened in between.

The servers never touch the shared PostgreSQL on port 5432: their data, sockets and logs
live in a temporary directory. PostgreSQL refuses to run as root, so as root the server
programs run as the ``postgres`` OS user (``runuser``), which owns the directory.

Without the server programs (``NEXUM_TEST_PG_BIN``, else PostgreSQL 15's or the newest
under /usr/lib/postgresql, else ``pg_ctl`` on PATH) the tests are skipped with the reason,
unless NEXUM_TEST_REQUIRE_POSTGRES=1, which turns that into a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.databases import postgres_required
from support.server import free_port

PROGRAMS = ("initdb", "pg_ctl", "postgres", "pg_basebackup", "psql")
START_TIMEOUT = 60.0
STREAM_TIMEOUT = 30.0
OS_USER = "postgres"

_SERVER_SETTINGS = """
# --- nexum test cluster ---
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 60
shared_buffers = 32MB
fsync = on
synchronous_commit = on
full_page_writes = on
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
wal_keep_size = 128MB
hot_standby = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 500ms
logging_collector = off
log_min_messages = warning
"""

_HBA = """
local   all             all                             trust
host    all             all             127.0.0.1/32    trust
host    replication     all             127.0.0.1/32    trust
"""


def find_bin_dir() -> Path | None:
    """The directory holding the PostgreSQL server programs, or None."""
    candidates: list[Path] = []
    if configured := os.environ.get("NEXUM_TEST_PG_BIN"):
        candidates.append(Path(configured))
    candidates.append(Path("/usr/lib/postgresql/15/bin"))
    versions = Path("/usr/lib/postgresql")
    if versions.is_dir():
        candidates.extend(sorted(versions.glob("*/bin"), reverse=True))
    if on_path := shutil.which("pg_ctl"):
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if all((candidate / program).is_file() for program in PROGRAMS):
            return candidate
    return None


def why_unavailable() -> str | None:
    """None when private servers can be started here, otherwise why not."""
    if find_bin_dir() is None:
        return "the PostgreSQL server programs (initdb, pg_ctl, pg_basebackup) are not installed"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root needs runuser to start PostgreSQL as another user"
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root needs an OS user {OS_USER!r} to run PostgreSQL"
    return None


def skip_or_fail_without_binaries() -> None:
    problem = why_unavailable()
    if problem is None:
        return
    if postgres_required():
        pytest.fail(problem)
    pytest.skip(problem)


class ClusterError(AssertionError):
    """A private server did not start, stop or replicate as asked (with its log)."""


def _as_owner(command: list[str]) -> list[str]:
    """PostgreSQL's programs refuse root: run them as the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", OS_USER, "--", *command]
    return command


@dataclass
class PgServer:
    """One private PostgreSQL server (primary or replica)."""

    name: str
    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int
    replica_of: PgServer | None = None
    log_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_file = self.data_dir.parent / f"{self.name}.log"

    # --- addresses ---------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL of ``database`` on this server, as superuser postgres."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    # --- programs ----------------------------------------------------------------------------

    def _run(self, *command: str, timeout: float = START_TIMEOUT) -> str:
        program = str(self.bin_dir / command[0])
        result = subprocess.run(
            _as_owner([program, *command[1:]]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.data_dir.parent,
        )
        if result.returncode != 0:
            raise ClusterError(
                f"{self.name}: {' '.join(command)} exited {result.returncode}\n"
                f"{result.stdout}\n{result.stderr}\n--- server log ---\n{self.log()}"
            )
        return result.stdout

    def sql(self, statement: str, database: str = "postgres", timeout: float = 10) -> str:
        """Run one statement with psql (as a client: no need to be the postgres user);
        returns the unaligned, tuples-only output."""
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "PGCONNECT_TIMEOUT": "3"},
        )
        if result.returncode != 0:
            raise ClusterError(f"{self.name}: {statement!r} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    # --- life cycle --------------------------------------------------------------------------

    def is_running(self) -> bool:
        result = subprocess.run(
            _as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "status"]),
            capture_output=True,
            timeout=30,
            check=False,
        )
        return result.returncode == 0

    def start(self) -> None:
        """Start and wait until the server accepts connections."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "start",
        )
        self.wait_accepting()

    def stop(self, mode: str = "fast") -> None:
        """Stop: ``fast`` (roll back sessions, checkpoint) or ``immediate`` (a crash)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop (``fast``, or ``immediate``: a crash, recovered from the WAL at start) and
        start again; returns once the server accepts connections."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-m",
            mode,
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "restart",
        )
        self.wait_accepting()

    def wait_accepting(self, within: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + within
        last = ""
        while True:
            try:
                self.sql("SELECT 1", timeout=5)
                return
            except (ClusterError, subprocess.TimeoutExpired) as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise ClusterError(f"{self.name} does not accept connections: {last}\n{self.log()}")
            time.sleep(0.1)

    # --- replication -------------------------------------------------------------------------

    def in_recovery(self) -> bool:
        return self.sql("SELECT pg_is_in_recovery()") == "t"

    def streaming_replicas(self) -> int:
        """How many standbys stream from this server (pg_stat_replication)."""
        return int(self.sql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"))

    def wait_replayed(self, primary_lsn: str, within: float = STREAM_TIMEOUT) -> None:
        """Wait until this replica has replayed the primary's WAL up to ``primary_lsn``."""
        deadline = time.monotonic() + within
        while True:
            behind = self.sql(f"SELECT pg_last_wal_replay_lsn() < '{primary_lsn}'::pg_lsn")
            if behind == "f":
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"{self.name} did not replay up to {primary_lsn}\n{self.log()}")
            time.sleep(0.05)


@dataclass
class PgCluster:
    """A private primary and its streaming replicas, all in ``root``."""

    root: Path
    bin_dir: Path
    primary: PgServer
    replicas: list[PgServer] = field(default_factory=list)

    def add_replica(self) -> PgServer:
        """A new streaming replica of the primary (``pg_basebackup -R``), started, in
        recovery and streaming."""
        name = f"replica{len(self.replicas) + 1}"
        data_dir = self.root / name
        last: ClusterError | None = None
        for _ in range(3):  # a free port can be taken before the server binds it
            replica = PgServer(
                name,
                self.bin_dir,
                data_dir,
                self.primary.socket_dir,
                free_port(),
                replica_of=self.primary,
            )
            if not (data_dir / "PG_VERSION").exists():
                replica._run(
                    "pg_basebackup",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.primary.port),
                    "-U",
                    "postgres",
                    "-D",
                    str(data_dir),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                )
            with (data_dir / "postgresql.conf").open("a") as conf:
                conf.write(f"\nport = {replica.port}\n")
            try:
                replica.start()
            except ClusterError as exc:
                last = exc
                continue
            self.replicas.append(replica)
            self.wait_streaming()
            if not replica.in_recovery():
                raise ClusterError(f"{name} is not in recovery: it is no replica")
            return replica
        raise last or ClusterError(f"{name} did not start")

    def wait_streaming(self, within: float = STREAM_TIMEOUT) -> None:
        """Wait until every running replica streams from the primary."""
        deadline = time.monotonic() + within
        while True:
            running = [replica for replica in self.replicas if replica.is_running()]
            if self.primary.streaming_replicas() >= len(running):
                return
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {r.name} ---\n{r.log()}" for r in running)
                raise ClusterError(f"replicas are not streaming\n{logs}")
            time.sleep(0.1)

    def wait_replicas_caught_up(self, within: float = STREAM_TIMEOUT) -> None:
        """Wait until every running replica has replayed everything the primary has
        written so far."""
        lsn = self.primary.sql("SELECT pg_current_wal_lsn()")
        for replica in self.replicas:
            if replica.is_running():
                replica.wait_replayed(lsn, within)

    def create_database(self, name: str) -> str:
        """A new database on the primary (replicated like everything else); its URL."""
        self.primary.sql(f'CREATE DATABASE "{name}"')
        return self.primary.url(name)

    def stop_all(self) -> None:
        """Stop every server, replicas first; immediate, since the data is thrown away."""
        for server in [*reversed(self.replicas), self.primary]:
            with suppress(ClusterError, subprocess.TimeoutExpired, OSError):
                if server.is_running():
                    server.stop("immediate")


def _init_primary(root: Path, bin_dir: Path) -> PgServer:
    data_dir = root / "primary"
    last: ClusterError | None = None
    for _ in range(3):  # a free port can be taken before the server binds it
        primary = PgServer("primary", bin_dir, data_dir, root / "sockets", free_port())
        if not (data_dir / "PG_VERSION").exists():
            primary._run(
                "initdb",
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",  # initdb's own final fsync only; the server runs with fsync=on
                "--no-instructions",
            )
            (data_dir / "pg_hba.conf").write_text(_HBA)
        with (data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_SERVER_SETTINGS.format(port=primary.port, socket_dir=primary.socket_dir))
        try:
            primary.start()
        except ClusterError as exc:
            last = exc
            continue
        return primary
    raise last or ClusterError("the primary did not start")


@contextmanager
def pg_cluster(replicas: int = 0) -> Iterator[PgCluster]:
    """A private primary with ``replicas`` streaming replicas; stopped and deleted on exit.
    Skips (or fails, with NEXUM_TEST_REQUIRE_POSTGRES=1) when the programs are missing."""
    skip_or_fail_without_binaries()
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="nexum-pg-"))
    cluster: PgCluster | None = None
    try:
        (root / "sockets").mkdir()
        if os.geteuid() == 0:
            owner = pwd.getpwnam(OS_USER)
            for path in (root, root / "sockets"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        root.chmod(0o755)  # the server writes here; clients (us) read its logs
        cluster = PgCluster(root, bin_dir, _init_primary(root, bin_dir))
        for _ in range(replicas):
            cluster.add_replica()
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop_all()
        else:
            _stop_leftovers(root, bin_dir)
        shutil.rmtree(root, ignore_errors=True)


def _stop_leftovers(root: Path, bin_dir: Path) -> None:
    """A primary that started while its cluster was being built: stop it anyway."""
    for data_dir in root.glob("*/postmaster.pid"):
        with suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                _as_owner(
                    [str(bin_dir / "pg_ctl"), "-D", str(data_dir.parent), "-m", "immediate", "stop"]
                ),
                capture_output=True,
                timeout=30,
                check=False,
            )
