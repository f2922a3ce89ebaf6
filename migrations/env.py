"""Alembic environment, async (asyncpg). The URL comes from the caller or from the settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401  (registers every table)
from app.platform.config import get_settings
from app.platform.database import Base, resolve_database_url

config = context.config
MIGRATION_LOCK = 0x534E504D  # "SNPM"
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    resolved, _ = resolve_database_url(get_settings())
    return resolved


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # The exclusion constraint's GiST index is created by the constraint itself.
    if type_ == "index" and name and name.startswith("ex_"):
        return False
    return True


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_object=include_object,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        await connectable.run_sync(do_run_migrations)
        return
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        # One migrator at a time: the workers or instances that start together on a fresh database
        # wait here, then find it at head (the lock is the session's: it outlives each migration's
        # transaction, and goes with the connection).
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        await connection.commit()
        await connection.run_sync(do_run_migrations)
        await connection.commit()
        await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        await connection.commit()
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
