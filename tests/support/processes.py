"""Processes the tests and the benchmarks start on loopback: a throw-away embedded PostgreSQL, PgBouncer
in front of it, uvicorn serving the app, and a free port for each."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.platform import migrate
from app.platform.embedded import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[2]
# The JWT secret of the apps served here (a development value: loopback only).
SECRET = "bench-secret-bench-secret-bench-secret-00"


@contextmanager
def fresh_database(tcp: bool = False) -> Iterator[EmbeddedPostgres]:
    """A new embedded cluster (durability settings kept at their defaults), migrated to head."""
    folder = tempfile.mkdtemp(prefix="snp-bench-")
    port = free_port() if tcp else 5432
    server = EmbeddedPostgres(folder, port=port, listen_tcp=tcp)
    server.start()
    migrate.upgrade(server.url())
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def kept_or_fresh(folder: str | None) -> Iterator[EmbeddedPostgres]:
    """A fresh cluster, or (``--data FOLDER``) the cluster kept in FOLDER, made there the first time."""
    if folder is None:
        with fresh_database() as server:
            yield server
        return
    server = EmbeddedPostgres(folder)
    server.start()
    try:
        migrate.upgrade(server.url())
        yield server
    finally:
        server.stop()


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).exists()), None)


@contextmanager
def pgbouncer(folder: Path, server: EmbeddedPostgres, pool_size: int = 40) -> Iterator[str]:
    """Debian's PgBouncer in session pooling on a loopback port in front of ``server`` (TCP); yields the
    SQLAlchemy URL that reaches ``server``'s database through it. Session pooling: a client keeps its
    server connection for its whole session, so prepared statements, session advisory locks and
    connection settings work as they do without the pooler (1.18's transaction pooling breaks them)."""
    binary = pgbouncer_binary()
    if binary is None:
        raise RuntimeError("pgbouncer is missing: `make test` installs Debian's package")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{server.database} = host={'127.0.0.1' if server.listen_tcp else server.socket_dir} port={server.port} "
        f"dbname={server.database}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        f"pool_mode = session\ndefault_pool_size = {pool_size}\nmax_client_conn = 2000\n"
        "server_reset_query = DISCARD ALL\n"
        f"logfile = {folder / 'pgbouncer.log'}\n")
    kwargs: dict = {}
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: as the embedded server's own system user
        from app.platform.embedded import _ensure_system_user, _make_readable

        entry = _ensure_system_user()
        _make_readable(folder)  # the folders above it must be passable to that user
        for path in (folder, *folder.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
    proc = subprocess.Popen([binary, str(folder / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd="/", **kwargs)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                log = folder / "pgbouncer.log"
                raise RuntimeError(f"pgbouncer did not start: {log.read_text()[-2000:] if log.exists() else ''}")
            time.sleep(0.05)
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{server.database}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_app(database_url: str, workers: int = 2, extra_env: dict[str, str] | None = None,
               port: int | None = None) -> Iterator[str]:
    """uvicorn serving the app on loopback (on ``port``, or a free one); yields its base URL."""
    port = port or free_port()
    env = {**os.environ, "SNP_DATABASE_URL": database_url, "SNP_JWT_SECRET": SECRET,
           "SNP_LOG_LEVEL": "WARNING", "SNP_MIGRATE_ON_START": "false",
           "SNP_PURGE_INTERVAL_SECONDS": "0", "SNP_RATE_LIMITS_ENABLED": "false", "SNP_PUBLIC_URL": f"http://127.0.0.1:{port}",
           **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log", "--no-proxy-headers"],
        cwd=ROOT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("app did not become ready")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
