"""Backups and point-in-time restore, by Barman (``snp db backup``, ``snp db restore``; docs/operations.md).

Barman does the work with its own commands: ``barman backup`` (``pg_basebackup``, compressed, encrypted with
GPG) and ``barman recover`` (the backup decrypted, the archived WAL replayed up to a time). This module only
runs them, reads what they report, and writes the time of the last successful backup for node_exporter's
textfile collector (the alert ``SnpBackupTooOld`` reads ``snp_backup_last_success_timestamp_seconds``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METRIC = "snp_backup_last_success_timestamp_seconds"


class BackupError(RuntimeError):
    """Barman said no: its own message, as it printed it."""


def barman_binary() -> str:
    """The ``barman`` installed with this package (beside the interpreter), else the one on PATH."""
    beside = Path(sys.executable).parent / "barman"
    if beside.exists():
        return str(beside)
    found = shutil.which("barman")
    if found is None:
        raise BackupError("barman is not installed: `pip install -c constraints.txt barman` on the backup host "
                          "(docs/operations.md)")
    return found


@dataclass(frozen=True)
class Barman:
    """One Barman server (``server``, a section of its configuration file ``config``)."""

    server: str = "snp"
    config: Path | None = None

    def command(self, *args: str) -> list[str]:
        options = ["-c", str(self.config)] if self.config is not None else []
        return [barman_binary(), *options, *args]

    def run(self, *args: str, timeout: float = 24 * 3600) -> str:
        done = subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise BackupError((done.stdout + done.stderr).strip() or f"barman {args[0]} failed")
        return done.stdout

    def show(self, backup_id: str = "latest") -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(self.run("-f", "json", "show-backup", self.server, backup_id))
        return shown[self.server]


@dataclass(frozen=True)
class Backup:
    backup_id: str
    size_bytes: int  # on the backup host: compressed and encrypted, without its WAL
    seconds: float
    finished_at: dt.datetime


def backup(barman: Barman) -> Backup:
    """A full backup now (``barman backup --wait``: done once the WAL it needs is archived too)."""
    began = time.monotonic()
    barman.run("backup", "--wait", barman.server)
    shown = barman.show("latest")
    if shown.get("status") != "DONE":
        raise BackupError(f"backup {shown.get('backup_id')} is {shown.get('status')}, not DONE")
    info = shown["base_backup_information"]
    return Backup(backup_id=shown["backup_id"], size_bytes=int(info["backup_size_bytes"]),
                  seconds=time.monotonic() - began, finished_at=dt.datetime.now(dt.UTC))


def write_last_success(path: Path, when: dt.datetime, server: str) -> None:
    """The textfile collector's file, replaced whole (node_exporter never reads half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (f"# HELP {METRIC} Unix time of the last backup `snp db backup` completed and Barman marked DONE.\n"
            f"# TYPE {METRIC} gauge\n"
            f'{METRIC}{{server="{server}"}} {when.timestamp():.3f}\n')
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Restored:
    backup_id: str
    pgdata: Path
    seconds: float


def restore(barman: Barman, to: dt.datetime, into: Path) -> Restored:
    """The cluster as it was at ``to``, in ``into/pg`` (the embedded server's layout: ``SNP_DATA_DIR=into``
    starts it). Barman picks the closest backup before ``to``, decrypts it and the WAL (the private key and
    passphrase of its configuration), and writes the recovery settings: on start, PostgreSQL replays up to
    ``to`` and becomes a primary."""
    from app.platform.embedded import EmbeddedPostgres, hand_to_server_user

    if to.tzinfo is None:
        raise ValueError("the time needs its offset (e.g. 2026-03-01T14:05:00+01:00)")
    cluster = EmbeddedPostgres(into)
    if cluster.pgdata.exists() and any(cluster.pgdata.iterdir()):
        raise ValueError(f"{cluster.pgdata} is not empty: restore into a new folder")
    began = time.monotonic()
    cluster.pgdata.mkdir(parents=True, exist_ok=True)
    cluster.pgdata.chmod(0o700)
    said = barman.run("recover", "--target-time", to.isoformat(), "--target-action", "promote",
                      barman.server, "auto", str(cluster.pgdata))
    hand_to_server_user(cluster.pgdata)
    used = re.search(r"using backup (\S+)", said)
    return Restored(backup_id=used.group(1) if used else "?", pgdata=cluster.pgdata,
                    seconds=time.monotonic() - began)
