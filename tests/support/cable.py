"""A network cable between a browser and a served app, on loopback, that a test can pull out: ``cut()``
closes every connection through it at once (an open stream included) and refuses new ones until
``mend()``. A real drop, seen by the browser as one: no emulation of the page's network."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from tests.support.processes import free_port


class Cable:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.listen = free_port()
        self.url = f"http://127.0.0.1:{self.listen}"
        self.connected = True
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="cable", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", self.listen))
        self.ready.set()
        self.loop.run_forever()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.connected:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def _cut(self) -> None:
        self.connected = False
        for writer in list(self.writers):
            writer.transport.abort()  # a reset, as a dead link gives: no orderly end of the stream
        self.writers.clear()

    def cut(self) -> None:
        self.loop.call_soon_threadsafe(self._cut)

    def mend(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._cut)
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@contextmanager
def cable(upstream: str) -> Iterator[Cable]:
    line = Cable(upstream)
    line.thread.start()
    line.ready.wait(5)
    try:
        yield line
    finally:
        line.close()
