"""CPU-heavy work off the event loop: a small pool of worker processes, each job with a time and a
memory limit.

Parsing and expanding a calendar, reading an import, drawing a report's chart or writing its workbook
hold the GIL (icalendar, recurring-ical-events, openpyxl, matplotlib): in a thread they still stop every
other request of the worker. They run here instead, in processes forked from a server that has
already imported those libraries (``forkserver``), so a new worker is ready in milliseconds. A job
that passes its time limit is killed with its process (pebble replaces it); a job that asks for more
memory than its limit gets a ``MemoryError`` in its own process (an address-space limit set when the
job starts, above what the worker already maps). Jobs wait at most ``wait_seconds`` for a free
worker: past that the pool is busy, and the caller answers 503 with ``Retry-After``.

One pool per process of the app, started on first use (the lifespan starts it early and stops it).
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import pebble

from app.platform.config import Settings
from app.platform.logging import log

T = TypeVar("T")

# What the worker processes import once, in the fork server, before any job.
PRELOAD = ["app.slots.ics", "app.stats.render_png", "app.stats.render_xlsx", "app.calls.importer"]


class PoolBusy(Exception):
    """No worker became free in time."""


class JobOverLimit(Exception):
    """The job passed its time or memory limit and was stopped."""

    def __init__(self, limit: str, amount: str) -> None:
        super().__init__(limit)
        self.limit = limit  # "time" or "memory"
        self.amount = amount  # the limit it passed, as people read it: "10 s", "160 MB"


def _mapped_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _peak_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    return 0


# A job whose address space came this close to its limit before it failed failed for want of memory.
NEAR_LIMIT = 16 * 1024 * 1024


def _limited(function: Callable[..., T], megabytes: int, *args: Any) -> T:
    """In the worker: ``function(*args)`` with the address space allowed to grow by ``megabytes`` beyond
    what the worker maps now (a soft limit, set again for each job). Parsers catch a ``MemoryError`` and
    raise their own error instead: a job that failed near its limit is answered as over it all the same."""
    limit = 0
    if megabytes > 0:
        try:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            limit = _mapped_bytes() + megabytes * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        except (OSError, ValueError):  # no /proc, or a hard limit below: the time limit still holds
            limit = 0
    peak_before = _peak_bytes() if limit else 0
    try:
        return function(*args)
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, MemoryError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None or (limit and peak_before < _peak_bytes() >= limit - NEAR_LIMIT):
            raise MemoryError(f"over {megabytes} MB") from None
        raise


def _ready() -> int:
    return os.getpid()


class Jobs:
    def __init__(self, workers: int, seconds: float, memory_mb: int, wait_seconds: float) -> None:
        self.workers = max(workers, 1)
        self.seconds = seconds
        self.memory_mb = memory_mb
        self.wait_seconds = wait_seconds
        self._pool: pebble.ProcessPool | None = None
        self._lock = threading.Lock()
        self._free: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self._owners: set[str] = set()  # who has a job running or waiting for a worker

    def _started(self) -> pebble.ProcessPool:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
                self._pool = pebble.ProcessPool(max_workers=self.workers, max_tasks=200, context=context)
            return self._pool

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        free = self._free.get(loop)
        if free is None:
            free = self._free[loop] = asyncio.Semaphore(self.workers)
        return free

    async def run(
        self, function: Callable[..., T], *args: Any, seconds: float | None = None, memory_mb: int | None = None,
        owner: str | None = None,
    ) -> T:
        """``function(*args)`` in a worker process, within ``seconds`` and ``memory_mb`` (the pool's limits by
        default); PoolBusy, JobOverLimit, or what the function raised. An ``owner`` (who asks) has one job
        at a time: one party never holds every worker, whatever it sends."""
        began = time.monotonic()
        if owner is not None:
            while owner in self._owners:
                if time.monotonic() - began > self.wait_seconds:
                    raise PoolBusy()
                await asyncio.sleep(0.05)
            self._owners.add(owner)
        try:
            return await self._run(function, args, seconds, memory_mb, self.wait_seconds - (time.monotonic() - began))
        finally:
            if owner is not None:
                self._owners.discard(owner)

    async def _run(self, function: Callable[..., T], args: tuple[Any, ...], seconds: float | None,
                   memory_mb: int | None, wait_seconds: float) -> T:
        free = self._semaphore()
        try:
            await asyncio.wait_for(free.acquire(), max(wait_seconds, 0.01))
        except TimeoutError:
            raise PoolBusy() from None
        try:
            megabytes = self.memory_mb if memory_mb is None else memory_mb
            timeout = seconds or self.seconds
            future = self._started().schedule(_limited, args=(function, megabytes, *args), timeout=timeout)
            try:
                return await asyncio.wrap_future(future)
            except FutureTimeout:
                log.warning("jobs.over_time", job=getattr(function, "__name__", "?"))
                raise JobOverLimit("time", f"{timeout:g} s") from None
            except MemoryError:
                log.warning("jobs.over_memory", job=getattr(function, "__name__", "?"))
                raise JobOverLimit("memory", f"{megabytes} MB") from None
            except pebble.ProcessExpired as exc:  # killed from outside (the kernel's OOM killer, a signal)
                log.warning("jobs.worker_died", job=getattr(function, "__name__", "?"), code=exc.exitcode)
                raise JobOverLimit("memory", f"{megabytes} MB") from None
            except FutureCancelled:
                raise asyncio.CancelledError() from None
        finally:
            free.release()

    async def warm(self) -> None:
        """Start the workers now (the first import or report then waits for nothing)."""
        await asyncio.gather(*(self.run(_ready) for _ in range(self.workers)))

    def stop(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        self._free.clear()
        if pool is not None:
            pool.stop()
            pool.join(timeout=5)


_jobs: Jobs | None = None
_guard = threading.Lock()


def jobs_of(settings: Settings) -> Jobs:
    """This process's pool (made with these settings the first time)."""
    global _jobs
    with _guard:
        if _jobs is None:
            _jobs = Jobs(settings.job_workers, settings.job_seconds, settings.job_memory_mb,
                         settings.job_wait_seconds)
        return _jobs


@atexit.register
def _stop_at_exit() -> None:
    if _jobs is not None:
        _jobs.stop()
