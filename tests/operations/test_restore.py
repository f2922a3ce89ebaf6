"""The restore drill (docs/operations.md, "Backups and point-in-time restore"), with the commands an operator
types: Barman (deploy/barman/barman.conf) streams the WAL of a primary served by the app and takes a backup
(`snp db backup`) with only the public half of the backup's GPG key; bookings are made before a time T and
after it, the identity key is rotated after T, then a mistaken DELETE removes every booking; `snp db restore
--to T` (the private key and its passphrase, on the restore side only) brings the cluster back as it was at T,
into a new folder. Started under an app given the kept keys: every booking acknowledged before T is there, none
made after; the statistics are those read at T; a patient's identity opens, and would not without the retired
key. Barman is installed by `make install` (dev extras), GnuPG and rsync by `make test` (Debian): missing, the
drill is skipped on a workstation and fails in CI."""

from __future__ import annotations

import asyncio
import configparser
import datetime as dt
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.auth.tokens import create_token
from app.platform.backup import BackupError, barman_binary
from app.platform.config import Settings
from app.platform.embedded import POSTGRES_BIN_PATH, EmbeddedPostgres
from tests.support.factories import create_practitioner, create_site
from tests.support.processes import free_port
from tests.support.snp_process import ROOT, SECRET, _serve, _stop, _wait_ready

pytestmark = pytest.mark.slow

TEMPLATE = ROOT / "deploy" / "barman" / "barman.conf"
REQUIRED = bool(os.environ.get("SNP_REQUIRE_BACKUP") or os.environ.get("CI"))


def _missing() -> list[str]:
    missing = [tool for tool in ("gpg", "gpgconf", "rsync", "file") if shutil.which(tool) is None]
    try:
        barman_binary()
    except BackupError:
        missing.append("barman")
    return missing


MISSING = _missing()
tools = pytest.mark.skipif(bool(MISSING) and not REQUIRED,
                           reason=f"{', '.join(MISSING)} missing: `make test` installs them (Barman from PyPI, "
                                  "Debian's gnupg, rsync and file)")

# Two identity keys: k1 sealed everything until after T, then k2 replaced it (`snp keys rotate`).
K1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
K2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
HASH_KEY = "aGFzaC1rZXktaGFzaC1rZXktaGFzaC1rZXktaGFzaC0="
PASSPHRASE = "drill passphrase, kept apart from the backups"


@dataclass
class Drill:
    folder: Path
    primary: EmbeddedPostgres
    backup_env: dict[str, str]  # Barman's configuration and the keyring with the public key only
    restore_env: dict[str, str]  # the same configuration plus the passphrase's command, the private key
    barman_home: Path
    groups: list[subprocess.Popen] = field(default_factory=list)  # Barman's, each in its own process group
    apps: list[subprocess.Popen] = field(default_factory=list)
    app: Served | None = None  # the one serving the primary

    def barman_command(self, *args: str) -> list[str]:
        return [barman_binary(), "-c", self.backup_env["SNP_BARMAN_CONFIG"], *args]

    @property
    def primary_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.primary.port}/snp"

    def barman(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(self.barman_command(*args), env=self.backup_env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def snp(self, env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done


def _gpg(home: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["gpg", "--batch", "--quiet", *args], env={**os.environ, "GNUPGHOME": str(home)},
                          input=stdin, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _keys(folder: Path) -> tuple[Path, Path, str]:
    """The backup's key pair made where restores run; its public half alone given to the backup side."""
    restore_side, backup_side = folder / "restore-gnupg", folder / "backup-gnupg"
    for home in (restore_side, backup_side):
        home.mkdir(mode=0o700)
    _gpg(restore_side, "--pinentry-mode", "loopback", "--passphrase", PASSPHRASE, "--quick-gen-key",
         "SNP backups <backups@snp.invalid>", "rsa3072", "encrypt", "never")
    listed = _gpg(restore_side, "--with-colons", "--list-keys")
    fingerprint = next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr"))
    public = _gpg(restore_side, "--armor", "--export", fingerprint)
    _gpg(backup_side, "--import", stdin=public)
    _gpg(backup_side, "--import-ownertrust", stdin=f"{fingerprint}:6:\n")
    assert not _gpg(backup_side, "--list-secret-keys").strip(), "the backup side holds no private key"
    return restore_side, backup_side, fingerprint


def _configuration(folder: Path, port: int, fingerprint: str, passphrase_file: Path | None) -> Path:
    """deploy/barman/barman.conf with this host's values: user, folders, address, binaries, key."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(TEMPLATE)
    conf["barman"].update(barman_user=pwd.getpwuid(os.getuid()).pw_name, barman_home=str(folder / "barman"),
                          log_file=str(folder / "barman.log"))
    conf["snp"].update(conninfo=f"host=127.0.0.1 port={port} user=postgres dbname=snp",
                       streaming_conninfo=f"host=127.0.0.1 port={port} user=postgres",
                       path_prefix=str(POSTGRES_BIN_PATH), encryption_key_id=fingerprint,
                       staging_path=str(folder / "staging"), immediate_checkpoint="true")
    name = "backup.conf"
    if passphrase_file is not None:
        conf["snp"]["encryption_passphrase_command"] = f"cat {passphrase_file}"
        name = "restore.conf"
    path = folder / name
    with path.open("w") as out:
        conf.write(out)
    return path


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def drill() -> Iterator[Drill]:
    assert not MISSING, f"{', '.join(MISSING)} missing: `make test` installs them"
    folder = Path(tempfile.mkdtemp(prefix="snp-drill-"))
    primary = EmbeddedPostgres(folder / "primary", port=free_port(), listen_tcp=True)
    restore_side = backup_side = None
    drill = None
    try:
        primary.start()
        drill = Drill(folder, primary, {}, {}, folder / "barman" / "snp")
        # The app starts (and migrates the database) while the backup's key is made.
        drill.app = Served(drill, drill.primary_url, {"k1": K1}, "k1", "primary")
        restore_side, backup_side, fingerprint = _keys(folder)
        (folder / "barman").mkdir()
        passphrase = folder / "restore-passphrase"
        passphrase.write_text(PASSPHRASE + "\n")
        passphrase.chmod(0o600)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SNP_")}
        backup_env = {**base_env, "GNUPGHOME": str(backup_side),
                      "SNP_BARMAN_CONFIG": str(_configuration(folder, primary.port, fingerprint, None))}
        restore_env = {**base_env, "GNUPGHOME": str(restore_side),
                       "SNP_BARMAN_CONFIG": str(_configuration(folder, primary.port, fingerprint, passphrase))}
        drill.backup_env, drill.restore_env = backup_env, restore_env
        yield drill
    finally:
        if drill is not None:
            for app in drill.apps:
                if app.poll() is None:
                    _stop(app)
            for proc in drill.groups:
                _stop_group(proc)
        if primary.is_running():
            primary.stop()
        for home in (restore_side, backup_side):
            if home is not None:  # the gpg-agent each keyring started
                subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)},
                               capture_output=True, timeout=30, check=False)
        restored = EmbeddedPostgres(folder / "restored")
        if restored.is_running():
            restored.stop()
        shutil.rmtree(folder, ignore_errors=True)


class Served:
    """``snp serve`` on a database, started now, waited for by ``ready`` (other work goes on meanwhile)."""

    def __init__(self, drill: Drill, database_url: str, keys: dict[str, str], key_id: str, name: str) -> None:
        self.port, self.log = free_port(), drill.folder / f"{name}.log"
        self.proc = _serve({"SNP_DATABASE_URL": database_url, "SNP_RATE_LIMITS_ENABLED": "false",
                            "SNP_IDENTITY_KEYS": json.dumps(keys), "SNP_IDENTITY_KEY_ID": key_id,
                            "SNP_IDENTITY_HASH_KEY": HASH_KEY}, self.port, output=self.log)
        drill.apps.append(self.proc)
        self.base = f"http://127.0.0.1:{self.port}"

    def ready(self) -> str:
        try:
            _wait_ready(self.port, self.proc)
        except AssertionError:
            raise AssertionError(self.log.read_text()[-3000:]) from None
        return self.base


def _token(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(Settings(jwt_secret=SECRET), role=role, territories=['36'])}"}


ADMIN, ANALYST, REGULATOR = _token("admin"), _token("analyst"), _token("regulator")


async def _seed(base: str, slots: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        practitioner = await create_practitioner(c, ADMIN, ["36"])
        site = await create_site(c, ADMIN, "36")
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=2)
        published = await c.post("/v1/slots/bulk", headers=ADMIN, json={"slots": [
            {"practitioner_id": practitioner["id"], "site_id": site["id"], "mode": "in_person",
             "start": (start + dt.timedelta(minutes=20 * i)).isoformat(),
             "end": (start + dt.timedelta(minutes=20 * i + 20)).isoformat()} for i in range(slots)]})
        assert published.status_code == 201, published.text
        ids: list[str] = published.json()["ids"]
        return ids


def _book(c: httpx.Client, slot: str, family_name: str) -> tuple[str, str]:
    """A call with the patient's identity, then its booking; both acknowledged."""
    call = c.post("/v1/calls", headers=ADMIN, json={
        "territory_code": "36", "channel": "15",
        "patient": {"family_name": family_name, "given_name": "Jeanne", "phone": "0611223344"}})
    assert call.status_code == 201, call.text
    booked = c.post("/v1/bookings", headers=ADMIN, json={"slot_id": slot, "call_id": call.json()["id"]})
    assert booked.status_code == 201, booked.text
    return call.json()["id"], booked.json()["id"]


def _stats(c: httpx.Client) -> dict:
    month = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Paris")).strftime("%Y-%m")
    report = c.get("/v1/stats/monthly", headers=ANALYST, params={"territory": "36", "from": month, "to": month})
    assert report.status_code == 200, report.text
    body: dict = report.json()
    body.pop("generated_at", None)
    return body


async def _fetch(url: str, statement: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(statement)
    finally:
        await conn.close()


async def _execute(url: str, statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statements)
    finally:
        await conn.close()


# The mistake: a cleanup meant for a test database, run on the primary. Every booking goes, with what refers to it.
MISTAKE = """
BEGIN;
DELETE FROM held_events; DELETE FROM declared_appointments; DELETE FROM hub_messages;
UPDATE decisions SET booking_id = NULL WHERE booking_id IS NOT NULL;
DELETE FROM bookings;
COMMIT;
"""


def _switch_wal(drill: Drill) -> None:
    """`barman switch-wal --archive`: the segment holding the commits after T closed and archived. pg_receivewal
    finishes a segment when the next one begins: an idle primary writes nothing there, a busy one does at once,
    so the drill writes a record now and then until the switch is archived."""
    proc = subprocess.Popen(drill.barman_command("switch-wal", "--force", "--archive", "--archive-timeout", "60",
                                                 "snp"), env=drill.backup_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    drill.groups.append(proc)
    deadline = time.monotonic() + 90
    while proc.poll() is None:  # a record now and then, until the switched segment is in the archive
        assert time.monotonic() < deadline, "the WAL switch was not archived within 90 s"
        time.sleep(0.3)
        asyncio.run(_execute(drill.primary_url, "SELECT pg_logical_emit_message(true, 'snp', 'drill')"))
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


def _encrypted(path: Path) -> bool:
    described = subprocess.run(["file", "--brief", str(path)], capture_output=True, text=True, check=True).stdout
    return "PGP" in described and "encrypted" in described


@tools
def test_a_restore_to_before_a_mistaken_delete_brings_back_every_booking_acknowledged_before_it(drill: Drill) -> None:
    began = time.monotonic()
    # The WAL streamed to Barman from now on, through its replication slot (`barman cron` keeps this running).
    drill.barman("receive-wal", "--create-slot", "snp")
    receiver = subprocess.Popen(drill.barman_command("receive-wal", "snp"), env=drill.backup_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    drill.groups.append(receiver)
    assert drill.app is not None
    app, base = drill.app.proc, drill.app.ready()
    slots = asyncio.run(_seed(base, 8))
    with httpx.Client(base_url=base, timeout=30) as c:
        before = [_book(c, slots[i], f"Avant{i}") for i in range(2)]

        # The nightly backup, on the backup side: Barman's configuration and the public key only.
        metrics = drill.folder / "textfile" / "snp_backup.prom"
        backed = drill.snp({**drill.backup_env, "SNP_BACKUP_METRICS_FILE": str(metrics)}, "db", "backup")
        backup_id = backed.stdout.strip()
        written = re.search(r'^snp_backup_last_success_timestamp_seconds\{server="snp"\} (\S+)$',
                            metrics.read_text(), re.M)
        assert written and abs(float(written.group(1)) - time.time()) < 60, metrics.read_text()
        # Barman's own checks pass on the backup side, which has no private key.
        checked = drill.barman("check", "snp")
        assert "FAILED" not in checked, checked

        before += [_book(c, slots[i], f"Avant{i}") for i in range(2, 4)]  # after the backup: from the WAL
        at_t = _stats(c)
        moment = asyncio.run(_fetch(drill.primary_url, "SELECT clock_timestamp()"))
        assert isinstance(moment, dt.datetime)

        after = [_book(c, slots[i], f"Apres{i}") for i in range(4, 6)]
        # The key is rotated after T: k2 seals from now on, k1 is retired but kept (the backup needs it).
        drill.snp({**os.environ, "SNP_DATABASE_URL": drill.primary_url, "SNP_IDENTITY_KEYS": json.dumps(
            {"k1": K1, "k2": K2}), "SNP_IDENTITY_KEY_ID": "k2", "SNP_IDENTITY_HASH_KEY": HASH_KEY}, "keys", "rotate")
        asyncio.run(_execute(drill.primary_url, MISTAKE))
        assert all(c.get(f"/v1/bookings/{b}", headers=ADMIN).status_code == 404 for _, b in before + after)
        assert _stats(c) != at_t
    _stop(app)
    _switch_wal(drill)

    # What the backup host holds is encrypted: the base backup and every WAL segment.
    shown = json.loads(drill.barman("-f", "json", "show-backup", "snp", backup_id))["snp"]
    assert shown["base_backup_information"]["encryption"] == "gpg"
    files = list((drill.barman_home / "base" / backup_id / "data").glob("*.tar*"))
    assert files and all(f.name.endswith(".gpg") and _encrypted(f) for f in files), files
    segments = [f for f in (drill.barman_home / "wals").glob("*/*") if f.is_file()]
    assert segments and all(_encrypted(f) for f in segments), segments
    size = shown["base_backup_information"]["backup_size_bytes"]
    wal_size = shown["wal_information"]["disk_usage_bytes"]

    # The restore, where the private key and its passphrase are.
    restored = EmbeddedPostgres(drill.folder / "restored", port=free_port(), listen_tcp=True)
    restore_began = time.monotonic()
    said = drill.snp(drill.restore_env, "db", "restore", "--to", moment.isoformat(), "--into", str(restored.data_dir))
    assert said.stdout.strip() == str(restored.pgdata), said.stdout + said.stderr
    recovered = time.monotonic() - restore_began
    restored.start()
    restored_url = f"postgresql://postgres@127.0.0.1:{restored.port}/snp"
    deadline = time.monotonic() + 60
    while asyncio.run(_fetch(restored_url, "SELECT pg_is_in_recovery()")):  # replays up to T, then promotes
        assert time.monotonic() < deadline, "the restored cluster did not reach T within 60 s"
        time.sleep(0.1)
    restore_seconds = time.monotonic() - restore_began

    served = Served(drill, restored_url, {"k1": K1, "k2": K2}, "k2", "restored")
    # Without the retired key, what was sealed before the rotation does not open.
    unkept = drill.snp({**os.environ, "SNP_DATABASE_URL": restored_url, "SNP_IDENTITY_KEYS": json.dumps({"k2": K2}),
                        "SNP_IDENTITY_KEY_ID": "k2", "SNP_IDENTITY_HASH_KEY": HASH_KEY}, "keys", "rotate", ok=False)
    assert unkept.returncode == 1 and "k1" in unkept.stdout + unkept.stderr, unkept.stdout + unkept.stderr

    with httpx.Client(base_url=served.ready(), timeout=30) as c:
        for _, booking in before:
            found = c.get(f"/v1/bookings/{booking}", headers=ADMIN)
            assert found.status_code == 200 and found.json()["status"] == "active", found.text
        for _, booking in after:
            assert c.get(f"/v1/bookings/{booking}", headers=ADMIN).status_code == 404
        assert _stats(c) == at_t
        call = c.get(f"/v1/calls/{before[0][0]}", headers=REGULATOR)
        assert call.status_code == 200, call.text
        assert call.json()["patient"]["family_name"] == "Avant0"
    print(f"\nrestore drill: backup {backup_id} {size / 2**20:.1f} MiB (compressed, encrypted; WAL "
          f"{wal_size / 2**20:.1f} MiB), restored to T in {restore_seconds:.1f} s (barman recover "
          f"{recovered:.1f} s, then replay and promotion); bookings acknowledged before T "
          f"{len(before)}, found {len(before)}; after T {len(after)}, found 0; drill {time.monotonic() - began:.1f} s")


def test_a_restore_refuses_a_time_without_its_offset_and_a_folder_already_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before Barman is asked anything: a time that could be UTC or Paris, a folder that holds a cluster."""
    from tests.support.command_line import snp

    url = "postgresql://postgres@127.0.0.1:1/snp"  # never reached
    naive = snp(url, monkeypatch, "db", "restore", "--to", "2026-03-01T14:05:00", "--into", str(tmp_path / "new"))
    assert naive.exit_code == 2 and "offset" in naive.output, naive.output
    garbled = snp(url, monkeypatch, "db", "restore", "--to", "yesterday", "--into", str(tmp_path / "new"))
    assert garbled.exit_code == 2 and "ISO 8601" in garbled.output, garbled.output
    (tmp_path / "used" / "pg").mkdir(parents=True)
    (tmp_path / "used" / "pg" / "PG_VERSION").write_text("18\n")
    used = snp(url, monkeypatch, "db", "restore", "--to", "2026-03-01T14:05:00+01:00", "--into", str(tmp_path / "used"))
    assert used.exit_code == 2 and "not empty" in re.sub(r"[\s│]+", " ", used.output), used.output
    assert not (tmp_path / "new").exists()


@tools
def test_a_failed_backup_says_why_and_writes_no_time(tmp_path: Path) -> None:
    """The database unreachable: Barman's own message, exit 1, and the alert's file left as it was (absent)."""
    assert not MISSING, f"{', '.join(MISSING)} missing: `make test` installs them"
    (tmp_path / "barman").mkdir()
    conf = _configuration(tmp_path, free_port(), "0" * 40, None)  # nobody listens there
    metrics = tmp_path / "snp_backup.prom"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNP_")}
    failed = subprocess.run([sys.executable, "-m", "app.cli", "db", "backup"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False,
                            env={**env, "SNP_BARMAN_CONFIG": str(conf), "SNP_BACKUP_METRICS_FILE": str(metrics)})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "the backup failed" in failed.stderr and "snp" in failed.stderr, failed.stderr
    assert not metrics.exists()
