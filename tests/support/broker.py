"""A real RabbitMQ (Debian's ``rabbitmq-server``) for the Hub Santé tests, on loopback ports of its own,
its data in a folder of its own, started and stopped by the tests (also in the middle of one: a broker
that goes away while the service books is what they prove the service survives)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.processes import free_port

# Debian's wrapper switches to the rabbitmq user; the script behind it runs as whoever starts it.
CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmq-server", shutil.which("rabbitmq-server") or "")


def server_binary() -> str | None:
    return next((c for c in CANDIDATES if c and Path(c).exists()), None)


class RabbitMQ:
    """One broker node; ``start`` / ``stop`` keep its data (durable queues, persistent messages)."""

    def __init__(self, root: Path) -> None:
        binary = server_binary()
        if binary is None:
            raise RuntimeError("rabbitmq-server is not installed (Debian package rabbitmq-server)")
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.epmd_port = free_port()
        self.node = f"snptest{self.port}@localhost"
        for folder in ("mnesia", "log"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "HOME": str(root),  # the Erlang cookie lives here
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(root / "rabbitmq.pid"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self, timeout: float = 90.0) -> None:
        out = open(self.root / "server.out", "ab")  # noqa: SIM115 - the process writes to it until stopped
        self.process = subprocess.Popen([self.binary], env=self.env, cwd=self.root, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: {self.tail()}")
            if self._answers():
                return
            time.sleep(0.2)
        raise RuntimeError(f"rabbitmq-server did not answer in {timeout} s: {self.tail()}")

    def _answers(self) -> bool:
        """The AMQP port answers the protocol header with the server's Connection.Start."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"AMQP\x00\x00\x09\x01")
                return len(s.recv(8)) > 0
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        """Stop the broker and the Erlang port mapper it started on its own port."""
        self.stop()
        epmd = shutil.which("epmd")
        if epmd:
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], env=self.env, capture_output=True,
                           timeout=10, check=False)

    def tail(self) -> str:
        path = self.root / "server.out"
        return path.read_text(errors="replace")[-1500:] if path.exists() else ""
