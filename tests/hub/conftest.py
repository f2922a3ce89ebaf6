from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from app.hub import messages
from tests.support.broker import RabbitMQ, server_binary

SENDER = "fr.health.snp"
SAMU = "fr.health.samu360"  # the Indre's SAMU, as the tests configure it
EXCHANGE = "hubsante"


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQ]:
    if server_binary() is None:
        if os.environ.get("SNP_REQUIRE_BROKER"):
            pytest.fail("rabbitmq-server is missing: `make test` installs Debian's package when run as root")
        pytest.skip("rabbitmq-server is missing (Debian package rabbitmq-server; `make test` installs it as root)")
    broker = RabbitMQ(tmp_path_factory.mktemp("rabbitmq"))
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


class HubAndLrm:
    """Plays the Hub Santé and the SAMU's regulation software (LRM) on a real broker, in a thread of its own.

    As the Hub: clients publish on the ``hubsante`` exchange with their own id as routing key; the Hub
    reads the envelope's explicit address and puts the message on the addressee's queue — ``.message``
    for a report, ``.ack`` for a final acknowledgement, ``.info`` for an error. As the LRM: every message
    on ``fr.health.samu360.message`` is kept, and acknowledged (RC-REF, step INTEGRE) unless ``refuse``
    names its appointment, which gets an error (409, as an LRM answers a create it already has)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[dict[str, Any]] = []
        self.refuse: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._connection: aio_pika.abc.AbstractConnection | None = None

    def start(self) -> HubAndLrm:
        if not self._thread.is_alive():
            self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def messages_for(self, appointment_id: str) -> list[dict[str, Any]]:
        return [m for m in list(self.received)
                if messages.content(m).get("appointment", {}).get("appointmentId") == appointment_id]

    async def _start(self) -> None:
        self._connection = await aio_pika.connect(self.url)
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
        dispatch = await channel.declare_queue("hub.dispatch", durable=True)
        for client in (SENDER, SAMU):
            await dispatch.bind(exchange, routing_key=client)
            for kind in ("message", "ack", "info"):
                await channel.declare_queue(f"{client}.{kind}", durable=True)

        async def route(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            envelope = json.loads(message.body)
            address = envelope["descriptor"]["explicitAddress"]["explicitAddressValue"]
            suffix = {"Ack": "ack", "Error": "info"}.get(envelope["distributionKind"], "message")
            await channel.default_exchange.publish(
                aio_pika.Message(message.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=f"{address}.{suffix}")
            await message.ack()

        async def lrm(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            envelope = json.loads(message.body)
            self.received.append(envelope)
            appointment = messages.content(envelope).get("appointment", {})
            answer = _answer(envelope, refused=appointment.get("appointmentId") in self.refuse)
            await exchange.publish(aio_pika.Message(json.dumps(answer).encode(),
                                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                   routing_key=SAMU)
            await message.ack()

        await dispatch.consume(route)
        await (await channel.get_queue(f"{SAMU}.message")).consume(lrm)

    async def _stop(self) -> None:
        if self._connection is not None and not self._connection.is_closed:
            await self._connection.close()
        self._connection = None


def _answer(envelope: dict[str, Any], *, refused: bool) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    if not refused:
        return messages.acknowledgement(sender=SAMU, recipient=envelope["senderID"],
                                        acknowledged=envelope["distributionID"], sent=now, step="INTEGRE")
    return messages.envelope(sender=SAMU, recipient=envelope["senderID"], distribution=f"{SAMU}_error-{now:%s%f}",
                             kind="Error", sent=now, expires=now + dt.timedelta(days=1), with_header=False,
                             message={"error": {"errorCode": {"statusCode": 409, "statusString": "CONFLICT"},
                                                "errorCause": "l'identifiant du RDV à créer existe déjà",
                                                "referencedDistributionID": envelope["distributionID"]}})


@pytest.fixture
def hub(rabbit: RabbitMQ) -> Iterator[HubAndLrm]:
    player = HubAndLrm(rabbit.url).start()
    try:
        yield player
    finally:
        player.close()


def example(name: str) -> dict[str, Any]:
    """A message of the guide, as the Hub Santé's models publish it (vendored in tests/hub/examples)."""
    return json.loads((Path(__file__).parent / "examples" / f"{name}.json").read_text())
