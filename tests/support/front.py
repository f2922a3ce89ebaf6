"""Debian's nginx on loopback, with the repository's configuration (deploy/nginx/), in front of an upstream."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

from tests.support.processes import free_port

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "snp.conf.template"
MTLS_TEMPLATE = TEMPLATE.with_name("snp-mtls.conf.template")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def render(upstream: str, listen: str, timeouts: dict[str, str]) -> str:
    """The template as an operator renders it, with ``timeouts`` (directive → value) in place of ours."""
    text = Template(TEMPLATE.read_text()).safe_substitute(
        SNP_LISTEN=listen, SNP_SERVER_NAME="localhost", SNP_UPSTREAM=upstream)
    for directive, value in timeouts.items():
        text, found = re.subn(rf"^(\s*{directive}) \S+;", rf"\1 {value};", text, flags=re.M)
        assert found == 1, f"{directive} is not set once in {TEMPLATE.name}"
    return text


@contextmanager
def nginx(folder: Path, upstream: str, timeouts: dict[str, str] | None = None) -> Iterator[int]:
    """nginx (own prefix, temp paths and pid file under ``folder``) on a free loopback port; yields the port."""
    port = free_port()
    with _running(folder, {"snp.conf": render(upstream, f"127.0.0.1:{port}", timeouts or {})}, port):
        yield port


def render_mtls(listen: str, files: dict[str, Path]) -> str:
    """The mutual-TLS server's template as an operator renders it (``files``: SNP_MTLS_* → path)."""
    text = Template(MTLS_TEMPLATE.read_text()).safe_substitute(
        SNP_MTLS_LISTEN=listen, SNP_MTLS_SERVER_NAME="localhost", **{k: str(v) for k, v in files.items()})
    assert "${SNP_" not in text, f"a placeholder of {MTLS_TEMPLATE.name} is not given"
    return text


@contextmanager
def mtls_nginx(folder: Path, upstream: str, files: dict[str, Path]) -> Iterator[int]:
    """nginx with snp.conf and the mutual-TLS server (snp-mtls.conf) on free loopback ports; yields the
    mutual-TLS server's port."""
    plain, port = free_port(), free_port()
    with _running(folder, {"snp.conf": render(upstream, f"127.0.0.1:{plain}", {}),
                           "snp-mtls.conf": render_mtls(f"127.0.0.1:{port} ssl", files)}, port):
        yield port


@contextmanager
def _running(folder: Path, configurations: dict[str, str], port: int) -> Iterator[None]:
    """nginx with ``configurations`` (file name → text, included in this order) until ``port`` answers."""
    binary = nginx_binary()
    assert binary is not None, "nginx is missing: `make nginx` installs Debian's"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in configurations.items():
        (folder / name).write_text(text)
    includes = "\n".join(f"    include {folder / name};" for name in configurations)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = " ".join(f"{kind}_temp_path {folder / kind};" for kind in kinds)
    # As root, nginx would hand the connections to workers running as nobody, who cannot enter pytest's folders.
    user = "user root;" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    {temp}
{includes}
}}
""")
    process = subprocess.Popen([binary, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e",
                                str(folder / "error.log"), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx did not start: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
