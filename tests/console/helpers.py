"""Shared by the tests of this folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from app.auth.tokens import create_token
from app.platform.config import Settings
from tests.support.database import TEST_SECRET

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


SCREENSHOTS = Path(os.environ.get("SNP_SCREENSHOTS", "/tmp"))


ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _token(role: str, territories=("36",), **kw) -> str:
    return create_token(Settings(jwt_secret=TEST_SECRET), role=role, territories=list(territories), **kw)


def _accessible(page, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [(v["id"], v["impact"], len(v["nodes"]), [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], (name, bad)


def committed_rows(url: str, statement: str, **params) -> list[tuple]:
    """Run one statement (committed) in a thread of its own: the browser's driver owns this thread's loop."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> list[tuple]:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            rows = result.all() if result.returns_rows else []
        await engine.dispose()
        return [tuple(r) for r in rows]
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()
