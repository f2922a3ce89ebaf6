"""Whether the Hub Santé's broker answers, for /metrics: an AMQP connection opened and closed at scrape time
(none configured: no probe)."""

from __future__ import annotations

import aio_pika

from app.platform.config import Settings
from app.platform.probes import PROBE_SECONDS, Probe


def broker_probe(settings: Settings) -> Probe | None:
    if not settings.hub_amqp_url:
        return None
    url = str(settings.hub_amqp_url)

    async def probe() -> None:
        connection = await aio_pika.connect(url, timeout=PROBE_SECONDS)
        await connection.close()

    return probe
