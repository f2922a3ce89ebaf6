"""The test database as every test finds it: the secret of the tokens tests sign, the keys a production-mode
app is given, and how what tests committed is emptied again (the seeded départements put back)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

TEST_SECRET = "test-secret-test-secret-test-secret-0123"


# Keys a test running the app in production mode gives it (the development keys are refused there), and
# the public address production requires.
PRODUCTION_KEYS = {"identity_keys": {"k1": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
                   "identity_key_id": "k1", "identity_hash_key": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
                   "public_url": "https://snp.example.test"}
PRODUCTION_ENV = {"SNP_IDENTITY_KEYS": '{"k1": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}',
                  "SNP_IDENTITY_KEY_ID": "k1", "SNP_IDENTITY_HASH_KEY": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
                  "SNP_PUBLIC_URL": "https://snp.example.test"}


TRUNCATE = (
    "TRUNCATE audit_log, idempotency_keys, outbox_events, decisions, bookings, call_callbacks, slots, "
    "availability_rules, calls, sites, practitioner_territories, users, declared_appointments, declaration_cursors, "
    "hub_messages, held_events, agenda_sources, practitioners RESTART IDENTITY CASCADE"
)


# The départements the migrations seed, as they seeded them: read from the database before any test
# writes (``database_url``), so that what tests change can be put back.
SEEDED: list[tuple[str, str, str]] = []


async def read_seed(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT code, name, timezone FROM territories WHERE kind = 'departement' ORDER BY code"
        ))
        SEEDED[:] = [(r[0], r[1], r[2]) for r in rows]
    await engine.dispose()


async def reset_database(engine: AsyncEngine) -> None:
    """Empty what tests committed; the seeded départements stay, with their default settings."""
    from app.territories.repository import forget_scopes

    forget_scopes()  # the scopes this process kept (a served app's: its watch, within a second)
    async with engine.begin() as conn:
        await conn.execute(text(TRUNCATE))
        await conn.execute(text("DELETE FROM territories WHERE kind = 'cpts'"))
        codes = [c for c, _, _ in SEEDED]
        await conn.execute(text("DELETE FROM territories WHERE NOT (code = ANY(:codes))"), {"codes": codes})
        await conn.execute(
            text(
                "UPDATE territories SET priority_delays = DEFAULT, avoided_ed_method = DEFAULT, "
                "avoided_ed_coefficients = DEFAULT, name = d.name, timezone = d.timezone "
                "FROM (SELECT unnest(CAST(:codes AS text[])) AS code, unnest(CAST(:names AS text[])) AS name, "
                "unnest(CAST(:zones AS text[])) AS timezone) AS d WHERE territories.code = d.code"
            ),
            {"codes": [c for c, _, _ in SEEDED], "names": [n for _, n, _ in SEEDED],
             "zones": [z for _, _, z in SEEDED]},
        )
