"""What /metrics probes at scrape time beside the database: whether a service the product depends on answers
(``snp_dependency_up``), and when the certificates it is configured with expire. A dependency that is not
configured has no series; a probe is bounded by a short timeout, so that a scrape outlives an unreachable one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path

import httpx
from cryptography import x509
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.platform.config import Settings
from app.platform.logging import log
from app.platform.scrape import render

PROBE_SECONDS = 2.0
Probe = Callable[[], Awaitable[None]]


class _Up(Collector):
    def __init__(self, up: Mapping[str, bool]) -> None:
        self.up = up

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("snp_dependency_up", "1 when a service the product depends on answered this "
                                   "scrape's probe (identity_provider: its JWKS; hub_broker: an AMQP connection), "
                                   "0 when it did not", labels=["dependency"])
        for name, up in sorted(self.up.items()):
            family.add_metric([name], 1.0 if up else 0.0)
        yield family


async def _answers(name: str, probe: Probe) -> bool:
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            await probe()
    except Exception as exc:  # noqa: BLE001 - any failure is "down", named in the log
        log.warning("metrics.dependency_down", dependency=name, error=type(exc).__name__)
        return False
    return True


def identity_provider_probe(settings: Settings) -> Probe | None:
    """The identity provider's JWKS, which every token's check needs (none configured: no probe)."""
    if not settings.oidc_jwks_url:
        return None
    url = str(settings.oidc_jwks_url)

    async def probe() -> None:
        async with httpx.AsyncClient(timeout=PROBE_SECONDS, follow_redirects=False) as client:
            (await client.get(url)).raise_for_status()

    return probe


async def dependencies_up(probes: Mapping[str, Probe | None]) -> bytes:
    """Each configured probe run now, together; a ``snp_dependency_up`` series each."""
    configured = {name: probe for name, probe in probes.items() if probe is not None}
    if not configured:
        return b""
    results = await asyncio.gather(*(_answers(name, probe) for name, probe in configured.items()))
    return render(_Up(dict(zip(configured, results, strict=True))))


class _Expiry(Collector):
    def __init__(self, not_after: Mapping[str, float]) -> None:
        self.not_after = not_after

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("snp_certificate_not_after_timestamp_seconds",
                                   "When a certificate the app is configured with expires (Unix time), read from "
                                   "its file", labels=["certificate"])
        for name, when in sorted(self.not_after.items()):
            family.add_metric([name], when)
        yield family


def _not_after(path: Path) -> float:
    """The earliest expiry of the certificates in a PEM file (a chain: the first to expire ends it)."""
    certificates = x509.load_pem_x509_certificates(path.read_bytes())
    return min(c.not_valid_after_utc for c in certificates).timestamp()


def certificates_expiry(files: Mapping[str, Path | None]) -> bytes:
    """The expiry of each configured certificate file; a file that cannot be read is logged and left out (its
    absence is alerted on too: the series goes missing)."""
    found: dict[str, float] = {}
    for name, path in files.items():
        if path is None:
            continue
        try:
            found[name] = _not_after(path)
        except (OSError, ValueError) as exc:
            log.warning("metrics.certificate_unreadable", certificate=name, error=type(exc).__name__)
    return render(_Expiry(found)) if found else b""


def configured_certificates(settings: Settings) -> dict[str, Path | None]:
    """The certificate files the app itself presents: the national platform's client certificate."""
    return {"ptf_sas_client": settings.ptf_sas_client_cert}
