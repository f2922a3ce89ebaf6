"""The Hub Santé's broker (AMQP 0-9-1): a connection and a confirming channel, opened with every step
bounded (a broker still starting can accept a connection and answer nothing), and the one publishing
connection the publisher keeps, dropped on any failure and opened again when next needed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from pamqp.commands import Basic

from app.platform.config import Settings

TIMEOUT = 10.0  # each step of a connection, and each confirmation


async def open_channel(url: str) -> tuple[AbstractConnection, AbstractChannel]:
    """A connection and a confirming channel, each step bounded by hand: a broker still starting can
    accept the connection and not answer it."""
    connection = await asyncio.wait_for(aio_pika.connect(url, timeout=TIMEOUT), TIMEOUT)
    channel = await asyncio.wait_for(connection.channel(publisher_confirms=True), TIMEOUT)
    return connection, channel


class Broker:
    """One connection and confirming channel to the Hub, opened when needed and dropped on any failure."""

    def __init__(self, settings: Settings) -> None:
        self.url = str(settings.hub_amqp_url)
        self.exchange_name = settings.hub_exchange
        self.routing_key = settings.hub_sender_id
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def exchange(self) -> AbstractExchange:
        if self._exchange is None:
            self._connection, channel = await open_channel(self.url)
            self._exchange = (await channel.get_exchange(self.exchange_name, ensure=False) if self.exchange_name
                              else channel.default_exchange)
        return self._exchange

    async def publish(self, envelope: dict[str, Any]) -> None:
        """Returns once the broker has confirmed the message (persistent, routed to a queue), or raises."""
        exchange = await self.exchange()
        body = json.dumps(envelope, ensure_ascii=False).encode()
        message = aio_pika.Message(body, content_type="application/json", content_encoding="utf-8",
                                   delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                   message_id=envelope["distributionID"])
        confirmation = await exchange.publish(message, routing_key=self.routing_key, mandatory=True,
                                              timeout=TIMEOUT)
        if confirmation is not None and not isinstance(confirmation, Basic.Ack):
            raise ConnectionError(f"the broker did not take the message ({type(confirmation).__name__})")

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # noqa: BLE001 - already gone
                pass

