"""The decision facts on each call's row never disagree with the decisions table.

Random sequences of writes, through every path that writes decisions (the HTTP API, the import,
plain SQL inserts, deletes and updates, several rows a statement), then every call's stored masks
are compared with the masks folded afresh, in Python, from the decisions table.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.stats.facts import KIND_BITS, REASON_BITS, masks
from tests.stats.helpers import insert_call

REASONS = list(REASON_BITS)
API_KINDS = ("advice", "prescription", "other")


async def disagreements(connection) -> list[tuple[uuid.UUID, tuple[int, int], tuple[int, int]]]:
    calls = (await connection.execute(text("SELECT id, decision_kinds, other_reasons FROM calls"))).all()
    decisions: dict[uuid.UUID, list[tuple[str, str | None]]] = {}
    for row in (await connection.execute(text("SELECT call_id, kind, other_reason FROM decisions"))).all():
        decisions.setdefault(row.call_id, []).append((row.kind, row.other_reason))
    return [(c.id, (c.decision_kinds, c.other_reasons), masks(decisions.get(c.id, [])))
            for c in calls if (c.decision_kinds, c.other_reasons) != masks(decisions.get(c.id, []))]


def random_decision(rng: random.Random) -> tuple[str, str | None]:
    kind = rng.choice(list(KIND_BITS))
    return kind, rng.choice(REASONS) if kind == "other" else None


class Writer:
    """One random write through one of the paths that write decisions."""

    def __init__(self, rng: random.Random, client, connection, headers) -> None:
        self.rng, self.client, self.connection, self.headers = rng, client, connection, headers
        self.imported = 0

    async def call_ids(self) -> list[uuid.UUID]:
        return list((await self.connection.execute(text("SELECT id FROM calls ORDER BY id"))).scalars())

    async def api_call(self) -> None:
        body = {"territory_code": "36", "channel": "15", "patient": {"birth_year": 1980, "phone": "0611223344"}}
        response = await self.client.post("/v1/calls", json=body, headers=self.headers)
        assert response.status_code == 201, response.text

    async def api_decision(self) -> None:
        ids = await self.call_ids()
        if not ids:
            return await self.api_call()
        kind = self.rng.choice(API_KINDS)
        body: dict = {"kind": kind}
        if kind == "other":
            body["other_reason"] = self.rng.choice(REASONS)
        if kind == "prescription":
            body["pharmacy"] = {"name": "Pharmacie du Marché"}
        response = await self.client.post(f"/v1/calls/{self.rng.choice(ids)}/decisions", json=body,
                                          headers=self.headers)
        assert response.status_code in (201, 409), response.text  # 409: the call is closed

    async def api_import(self) -> None:
        lines = []
        for _ in range(self.rng.randint(1, 6)):
            self.imported += 1
            decisions = [random_decision(self.rng) for _ in range(self.rng.randint(1, 3))]
            lines.append({"external_id": f"R-{self.imported}", "territory_code": "36", "channel": "15",
                          "received_at": "2022-03-01T10:00:00+01:00",
                          "decisions": [{"kind": k, **({"other_reason": r} if r else {})} for k, r in decisions]})
        body = "\n".join(json.dumps(line) for line in lines).encode()
        response = await self.client.post("/v1/calls/import", content=body,
                                          headers={**self.headers, "Content-Type": "application/x-ndjson"})
        assert response.status_code == 201, response.text

    async def sql_call(self) -> None:
        decisions = [":".join(filter(None, random_decision(self.rng))) for _ in range(self.rng.randint(0, 3))]
        await insert_call(self.connection, "2022-05-01T10:00:00+02:00", decisions)

    async def sql_insert_many(self) -> None:
        ids = await self.call_ids()
        count = self.rng.randint(1, 8) if ids else 0
        rows = [(self.rng.choice(ids), *random_decision(self.rng)) for _ in range(count)]
        if rows:
            await self.connection.execute(text(
                "INSERT INTO decisions (call_id, kind, other_reason, decided_at) "
                "SELECT * , now() FROM unnest(CAST(:c AS uuid[]), CAST(:k AS text[]), CAST(:r AS text[]))"
            ), {"c": [r[0] for r in rows], "k": [r[1] for r in rows], "r": [r[2] for r in rows]})

    async def sql_delete(self) -> None:
        await self.connection.execute(text(
            "DELETE FROM decisions WHERE id IN (SELECT id FROM decisions ORDER BY random() LIMIT :n)"
        ), {"n": self.rng.randint(1, 4)})

    async def sql_change_kind(self) -> None:
        kind, reason = random_decision(self.rng)
        await self.connection.execute(text(
            "UPDATE decisions SET kind = :k, other_reason = :r, booking_id = NULL "
            "WHERE id IN (SELECT id FROM decisions ORDER BY random() LIMIT :n)"
        ), {"k": kind, "r": reason, "n": self.rng.randint(1, 3)})

    async def sql_move(self) -> None:
        ids = await self.call_ids()
        if ids:
            await self.connection.execute(text(
                "UPDATE decisions SET call_id = :c WHERE id IN (SELECT id FROM decisions ORDER BY random() LIMIT 2)"
            ), {"c": self.rng.choice(ids)})

    async def sql_delete_call(self) -> None:
        await self.connection.execute(text(
            "DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE NOT EXISTS "
            "(SELECT 1 FROM bookings b WHERE b.call_id = calls.id) ORDER BY random() LIMIT 1)"
        ))

    async def step(self) -> str:
        name = self.rng.choice([
            "api_call", "api_decision", "api_decision", "api_import", "sql_call", "sql_insert_many",
            "sql_delete", "sql_change_kind", "sql_move", "sql_delete_call",
        ])
        await getattr(self, name)()
        return name


class TestFactsNeverDisagree:
    @pytest.mark.parametrize("seed", range(6))
    async def test_after_any_random_sequence_of_writes_every_call_holds_the_masks_of_its_decisions(
        self, seed, client, connection, auth
    ):
        rng = random.Random(seed)
        await connection.execute(text("SELECT setseed(:s)"), {"s": seed / 10})
        writer = Writer(rng, client, connection, auth("admin"))
        done = []
        for _ in range(40):
            done.append(await writer.step())
            assert await disagreements(connection) == [], done
        assert len(set(done)) >= 6  # the sequence really mixed the paths

    async def test_the_masks_are_set_and_cleared_as_decisions_come_and_go(self, connection):
        call = await insert_call(connection, "2022-05-01T10:00:00+02:00", ["advice", "other:redirected_15"])
        facts = "SELECT decision_kinds, other_reasons FROM calls WHERE id = :id"
        assert tuple((await connection.execute(text(facts), {"id": call})).one()) == (1 | 8, 2)
        await connection.execute(text("DELETE FROM decisions WHERE call_id = :id AND kind = 'other'"), {"id": call})
        assert tuple((await connection.execute(text(facts), {"id": call})).one()) == (1, 0)
        await connection.execute(text("UPDATE decisions SET kind = 'prescription' WHERE call_id = :id"), {"id": call})
        assert tuple((await connection.execute(text(facts), {"id": call})).one()) == (4, 0)
        await connection.execute(text("DELETE FROM decisions WHERE call_id = :id"), {"id": call})
        assert tuple((await connection.execute(text(facts), {"id": call})).one()) == (0, 0)

    async def test_a_slot_decision_written_by_a_booking_sets_the_slot_bit(self, connection):
        call = await insert_call(connection, "2022-05-01T10:00:00+02:00", ["slot"])
        kinds = "SELECT decision_kinds FROM calls WHERE id = :id"
        assert (await connection.execute(text(kinds), {"id": call})).scalar_one() == KIND_BITS["slot"]


class TestFactsCannotBeWrittenDirectly:
    async def test_updating_the_masks_by_hand_is_refused(self, connection):
        call = await insert_call(connection, "2022-05-01T10:00:00+02:00", ["advice"])
        nested = await connection.begin_nested()
        with pytest.raises(DBAPIError, match="derived from the decisions table"):
            await connection.execute(text("UPDATE calls SET decision_kinds = 15 WHERE id = :id"), {"id": call})
        await nested.rollback()

    async def test_inserting_a_call_with_masks_is_refused(self, connection):
        nested = await connection.begin_nested()
        with pytest.raises(DBAPIError, match="derived from the decisions table"):
            await connection.execute(text(
                "INSERT INTO calls (territory_code, channel, received_at, decision_kinds) VALUES ('36', '15', now(), 1)"
            ))
        await nested.rollback()


FACTS = "SELECT decision_kinds, other_reasons FROM calls WHERE id = :id"


async def _committed_call(engine, decisions: list[str]) -> uuid.UUID:
    async with engine.begin() as conn:
        return await insert_call(conn, "2022-05-01T10:00:00+02:00", decisions)


async def _advice_id(engine, call: uuid.UUID) -> uuid.UUID:
    async with engine.connect() as conn:
        sql = "SELECT id FROM decisions WHERE call_id = :c AND kind = 'advice'"
        return (await conn.execute(text(sql), {"c": call})).scalar_one()


class TestConcurrentWriters:
    """A delete and an insert of the same call's decisions in two transactions, in both orders."""

    @pytest.mark.parametrize("first", ["delete", "insert"])
    async def test_a_removed_advice_and_a_new_advice_leave_the_advice_bit_set(self, first, committed_client, engine):
        call = await _committed_call(engine, ["advice"])
        old_advice = await _advice_id(engine, call)
        insert = text("INSERT INTO decisions (call_id, kind, decided_at) VALUES (:c, 'advice', now())")
        delete = text("DELETE FROM decisions WHERE id = :d")
        async with engine.connect() as a, engine.connect() as b:
            await a.begin()
            await b.begin()
            if first == "delete":
                await a.execute(delete, {"d": old_advice})
                blocked = asyncio.create_task(b.execute(insert, {"c": call}))
            else:
                await a.execute(insert, {"c": call})
                blocked = asyncio.create_task(b.execute(delete, {"d": old_advice}))
            await asyncio.sleep(0.3)
            assert not blocked.done()  # waits for the first writer's lock on the call
            await a.commit()
            await blocked
            await b.commit()
        async with engine.connect() as conn:
            assert tuple((await conn.execute(text(FACTS), {"id": call})).one()) == (KIND_BITS["advice"], 0)
            assert await disagreements(conn) == []
