"""A Patroni cluster on loopback: one etcd member (Debian's etcd 3.4, through Patroni's ``etcd3:``) and three
Patroni 4.1 nodes over the embedded server's PostgreSQL 18 binaries, each node in its own folder, every port
a free loopback one. Each node runs ``deploy/patroni/patroni.yml.template`` as rendered for production (ttl 20,
loop_wait 2, synchronous mode with one synchronous standby, pg_rewind), its addresses, folders and
authentication aside."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import httpx
import psutil
import yaml

from app.platform.embedded import POSTGRES_BIN_PATH
from tests.support.processes import free_port
from tests.support.second_instance import sql
from tests.support.waiting import wait_for

NODES = 3
TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "patroni" / "patroni.yml.template"


def render(values: dict[str, str]) -> dict[str, Any]:
    """deploy/patroni/patroni.yml.template as an operator renders it (``values``: SNP_* → value), read."""
    text = Template(TEMPLATE.read_text()).safe_substitute(values)
    assert "${SNP_" not in text, f"a placeholder of {TEMPLATE.name} is not given"
    return yaml.safe_load(text)


def etcd_binary() -> str | None:
    return shutil.which("etcd") or next((p for p in ("/usr/bin/etcd",) if Path(p).exists()), None)


def patroni_binary() -> str | None:
    beside = Path(sys.executable).with_name("patroni")  # the venv's, installed with the dev extras
    return str(beside) if beside.exists() else shutil.which("patroni")


def missing() -> str | None:
    """What is missing to run a cluster here, or None."""
    if etcd_binary() is None:
        return "etcd is missing (Debian package etcd-server; `make test` installs it as root)"
    if patroni_binary() is None:
        return "patroni is missing (pyproject's dev extras; `make install` installs it)"
    return None


@functools.cache
def _agent_command() -> list[str]:
    """How to start Patroni: the venv's script; as root, the venv's interpreter run by the embedded server's
    user. When that interpreter's standard library is out of that user's reach (a Python built under root's
    home folder), the system's Python of the same version reads the venv's packages instead (``-S``: none of
    the system's own packages in between)."""
    if os.geteuid() != 0:
        return [str(patroni_binary())]
    own = [sys.executable, "-m", "patroni"]
    if _runs_as_postgres_user([sys.executable, "-c", "import patroni"]):
        return own
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        command = [candidate, "-S", "-m", "patroni"]
        if Path(candidate).exists() and _runs_as_postgres_user([candidate, "-S", "-c", "import patroni"]):
            return command
    raise RuntimeError(f"no {version} the embedded server's user can run Patroni with")


def _agent_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "PATRONI", "PYTHON"))}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
    paths = dict.fromkeys((sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _runs_as_postgres_user(command: list[str]) -> bool:
    try:
        return subprocess.run(command, cwd="/", env=_agent_env(), capture_output=True, timeout=60,
                              **_as_postgres_user()).returncode == 0
    except PermissionError:  # the interpreter itself is out of reach
        return False


def _as_postgres_user() -> dict[str, Any]:
    """Patroni starts PostgreSQL itself, which refuses to run as root: as root, both run as the embedded
    server's system user (the folders are given to it)."""
    if os.geteuid() != 0:
        return {}
    from app.platform.embedded import _ensure_system_user

    entry = _ensure_system_user()
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _give(folder: Path) -> None:
    if os.geteuid() != 0:
        return
    from app.platform.embedded import _ensure_system_user, _make_readable

    entry = _ensure_system_user()
    _make_readable(folder)
    for path in (folder, *folder.rglob("*")):
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class Node:
    name: str
    folder: Path
    pg_port: int
    api_port: int
    etcd: str
    proc: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / "patroni.log"

    @property
    def data_dir(self) -> Path:
        return self.folder / "pg"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.pg_port}/snp"

    def config(self) -> dict[str, Any]:
        """The production template, rendered for this node on loopback; then what differs on a test machine:
        trust on loopback instead of passwords and TLS, the node's own folders, a small shared_buffers."""
        config = render({
            "SNP_PATRONI_NAME": self.name, "SNP_PATRONI_API": f"127.0.0.1:{self.api_port}",
            "SNP_PG_LISTEN": f"127.0.0.1:{self.pg_port}", "SNP_ETCD_HOSTS": self.etcd,
            "SNP_PG_DATA": str(self.data_dir), "SNP_PG_BIN_DIR": str(POSTGRES_BIN_PATH),
            "SNP_DB_NETWORK": "127.0.0.1/32", "SNP_PG_TLS_CERT": "none", "SNP_PG_TLS_KEY": "none"})
        postgresql = config["postgresql"]
        postgresql["pgpass"] = str(self.folder / "pgpass")
        postgresql["pg_hba"] = ["local all all trust", "host all all 127.0.0.1/32 trust",
                                "host replication replicator 127.0.0.1/32 trust"]
        for role in postgresql["authentication"].values():
            role["password"] = "loopback"  # unused: trust
        postgresql["parameters"].update(ssl="off", unix_socket_directories=str(self.folder))
        postgresql["parameters"].pop("ssl_cert_file")
        postgresql["parameters"].pop("ssl_key_file")
        config["bootstrap"]["dcs"]["postgresql"]["parameters"]["shared_buffers"] = "128MB"
        return config

    def start(self) -> None:
        """The node's Patroni agent (it starts, bootstraps or clones its PostgreSQL itself)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # JSON is YAML: Patroni reads it as its configuration file.
        (self.folder / "patroni.yml").write_text(json.dumps(self.config(), indent=2))
        _give(self.folder)
        with open(self.log, "a") as sink:
            self.proc = subprocess.Popen([*_agent_command(), str(self.folder / "patroni.yml")], stdout=sink,
                                         stderr=subprocess.STDOUT, cwd="/", env=_agent_env(), **_as_postgres_user())

    def postmaster(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        with suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().splitlines()[0])
            if psutil.pid_exists(pid):
                return pid
        return None

    def kill_postmaster(self) -> list[psutil.Process]:
        """SIGKILL to the postmaster alone; its children (they end by themselves when they notice)."""
        pid = self.postmaster()
        assert pid is not None, f"{self.name}: no postmaster"
        children = psutil.Process(pid).children()
        os.kill(pid, signal.SIGKILL)
        return children

    def kill_node(self) -> list[psutil.Process]:
        """The node dies: its Patroni agent and its postmaster SIGKILLed together."""
        assert self.proc is not None
        pid = self.postmaster()
        assert pid is not None, f"{self.name}: no postmaster"
        children = psutil.Process(pid).children()
        self.proc.kill()
        os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        return children

    def stop(self) -> list[psutil.Process]:
        """The agent and its PostgreSQL stop at once (the cluster is thrown away: no clean shutdown to wait for):
        the agent SIGKILLed, the postmaster told to stop immediately (SIGQUIT: it takes its children along and
        removes its shared memory). Its processes, to wait for."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        pid = self.postmaster()
        if pid is None:
            return []
        with suppress(psutil.Error):
            postmaster = psutil.Process(pid)
            processes = [postmaster, *postmaster.children()]
            postmaster.send_signal(signal.SIGQUIT)
            return processes
        return []

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Cluster:
    folder: Path
    nodes: list[Node]

    @property
    def url(self) -> str:
        """The app's SNP_DATABASE_URL: the three hosts, whichever accepts writes."""
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.nodes)
        return f"postgresql://postgres@{hosts}/snp?target_session_attrs=read-write"

    def replica_url(self, first: str | None = None) -> str:
        """The app's SNP_DATABASE_REPLICA_URL: the three hosts, a standby when one answers (the first such in
        the list: node ``first``, when given, is tried first)."""
        nodes = sorted(self.nodes, key=lambda n: n.name != first)
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in nodes)
        return f"postgresql://postgres@{hosts}/snp?target_session_attrs=prefer-standby"

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view (REST ``/cluster`` of the first agent that answers): name, role, state, timeline…"""
        for node in self.nodes:
            if node.proc is None or node.proc.poll() is not None:
                continue
            with suppress(httpx.HTTPError, ValueError):
                return httpx.get(f"http://127.0.0.1:{node.api_port}/cluster", timeout=2).json()["members"]
        return []

    def leader(self) -> dict[str, Any] | None:
        return next((m for m in self.members() if m["role"] == "leader" and m["state"] == "running"), None)

    def healthy(self) -> bool:
        """A running leader, every other node streaming from it on its timeline, one of them synchronous."""
        members = self.members()
        leader = next((m for m in members if m["role"] == "leader" and m["state"] == "running"), None)
        standbys = [m for m in members if m["role"] in ("replica", "sync_standby")]
        return (leader is not None and len(standbys) == len(self.nodes) - 1
                and all(m["state"] == "streaming" and m.get("timeline") == leader.get("timeline") for m in standbys)
                and any(m["role"] == "sync_standby" for m in standbys))

    def wait_healthy(self, seconds: float = 90) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while not self.healthy():
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster is not healthy: {self.members()}\n" + self.logs())
            time.sleep(0.3)
        return self.members()

    def logs(self) -> str:
        return "\n".join(f"--- {n.name}\n{n.log_text()[-3000:]}" for n in self.nodes)


def _has_database(node: Node, database: str = "snp") -> bool:
    try:
        return sql(node.url.replace("/snp", f"/{database}"), "SELECT 1") == [(1,)]
    except Exception:  # noqa: BLE001 - not there yet, whatever the error
        return False


@contextmanager
def _etcd(folder: Path) -> Iterator[str]:
    client, peer = free_port(), free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "etcd.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen(
            [str(etcd_binary()), "--name", "e0", "--data-dir", str(folder / "data"),
             "--listen-client-urls", f"http://127.0.0.1:{client}",
             "--advertise-client-urls", f"http://127.0.0.1:{client}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"e0=http://127.0.0.1:{peer}", "--initial-cluster-state", "new",
             "--logger", "zap", "--log-outputs", "stderr"],
            stdout=sink, stderr=subprocess.STDOUT, cwd=folder)
    try:
        deadline = time.monotonic() + 30
        while True:
            with suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{client}/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"etcd did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"127.0.0.1:{client}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def patroni_cluster(prepare: Callable[[str], None] | None = None) -> Iterator[Cluster]:
    """etcd and three Patroni nodes, healthy, with the ``snp`` database; everything stopped and removed on the
    way out, also when the test failed. ``prepare`` gets the leader's URL before the standbys are made (they
    copy what it did: a schema migrated then needs no synchronous round trip per statement)."""
    folder = Path(tempfile.mkdtemp(prefix="snp-patroni-"))
    try:
        with _etcd(folder / "etcd") as etcd:
            nodes = [Node(f"node{i}", folder / f"node{i}", free_port(), free_port(), etcd) for i in range(NODES)]
            cluster = Cluster(folder, nodes)
            try:
                first = nodes[0]
                first.start()
                leader = wait_for(cluster.leader, lambda m: m is not None, 60)
                assert leader is not None, cluster.logs()
                wait_for(lambda: _has_database(first, "postgres"), bool, 30)
                sql(first.url.replace("/snp", "/postgres"), "CREATE DATABASE snp", autocommit=True)
                if prepare is not None:
                    prepare(first.url)
                for node in nodes[1:]:
                    node.start()
                cluster.wait_healthy()
                # Every standby has the database before anyone connects: a client given the three hosts tries
                # them in turn, and one that has not replayed it yet answers "does not exist" instead of passing.
                for node in nodes:
                    wait_for(lambda node=node: _has_database(node), bool, 30)
                yield cluster
            finally:
                stopping = [process for node in nodes for process in node.stop()]
                _, alive = psutil.wait_procs(stopping, timeout=15)
                for process in alive:
                    with suppress(psutil.Error):
                        process.kill()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
