"""Migrations: upgrade → downgrade → upgrade on a database of their own, and no drift from the models."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401
from app.platform import migrate
from app.platform.database import Base

SCRATCH = "snp_migrations_roundtrip"


def _asyncpg_dsn(url: str, database: str) -> dict:
    u = make_url(url)
    return {
        "user": u.username, "password": u.password, "database": database,
        "host": u.query.get("host") or u.host, "port": int(u.query.get("port") or u.port or 5432),
    }


async def _recreate(url: str) -> str:
    conn = await asyncpg.connect(**_asyncpg_dsn(url, make_url(url).database or "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}"')
        await conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    finally:
        await conn.close()
    return make_url(url).set(database=SCRATCH).render_as_string(hide_password=False)


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        names = {r[0] for r in rows}
    await engine.dispose()
    return names


async def _drift(url: str) -> list:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"compare_type": True, "include_object": _include_object}
                ),
                Base.metadata,
            )
        )
    await engine.dispose()
    return diff


def _include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (type_ == "index" and name and name.startswith("ex_"))


class TestMigrations:
    async def test_upgrade_downgrade_upgrade_round_trips(self, database_url: str) -> None:
        scratch = await _recreate(database_url)
        await asyncio.to_thread(migrate.upgrade, scratch)
        expected = {t.name for t in Base.metadata.sorted_tables}
        assert await _tables(scratch) == expected
        await asyncio.to_thread(migrate.downgrade, scratch, "base")
        assert await _tables(scratch) == set()
        await asyncio.to_thread(migrate.upgrade, scratch)
        assert await _tables(scratch) == expected

    async def test_autogenerate_finds_no_drift_between_models_and_migrations(self, database_url: str) -> None:
        assert await _drift(database_url) == []


def test_instances_that_start_together_on_a_fresh_database_migrate_one_after_the_other(database_url: str) -> None:
    """Three processes (workers or instances) migrating an empty database at once: one migrates, the
    others wait for it and find the database at head — none fails on a table another just created."""
    import os
    import subprocess
    import sys

    from app.platform import migrate
    from tests.support.second_instance import database, sql

    with database(database_url, "snp_migrated_together") as url:
        env = {**os.environ, "SNP_DATABASE_URL": url, "SNP_LOG_LEVEL": "WARNING"}
        runs = [subprocess.Popen([sys.executable, "-m", "app.cli", "migrate"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True) for _ in range(3)]
        outputs = [run.communicate(timeout=300)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0, 0], outputs
        assert sql(url, "SELECT version_num FROM alembic_version") == [(migrate.head_revision(),)]
