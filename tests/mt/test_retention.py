"""Retention: a patient's identity on the MT waiting list goes SNP_MT_RETENTION_DAYS after his request is found or
closed, never while it waits — and the calls' own purge (90 days) leaves a waiting request's copy alone."""

from __future__ import annotations

from sqlalchemy import text

from app.calls import service as call_service
from app.mt import retention
from tests.mt.helpers import request


async def _age(engine, request_id: str, days: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(
            "UPDATE mt_requests SET created_at = created_at - make_interval(days => :d), "
            "ended_at = ended_at - make_interval(days => :d), closed_at = closed_at - make_interval(days => :d) "
            "WHERE id = :id"), {"d": days, "id": request_id})


class TestRetention:
    async def test_closed_past_the_delay_is_purged_a_waiting_one_never_and_the_calls_purge_spares_them(
        self, committed_app, committed_client, auth, engine
    ):
        coordinator, regulator = auth("coordinator"), auth("regulator")
        call = await committed_client.post("/v1/calls", headers=regulator, json={
            "territory_code": "36", "channel": "15", "patient": {"family_name": "Attente", "phone": "0611223344"}})
        waiting = await committed_client.post("/v1/mt-requests", headers=regulator, json={
            "territory_code": "36", "source": "regulation", "call_id": call.json()["id"]})
        assert waiting.status_code == 201, waiting.text
        closed_long_ago = await request(committed_client, coordinator, family_name="Parti")
        closed_lately = await request(committed_client, coordinator, family_name="Recent")
        for made in (closed_long_ago, closed_lately):
            done = await committed_client.post(f"/v1/mt-requests/{made['id']}/close", headers=coordinator,
                                               json={"reason": "unreachable"})
            assert done.status_code == 200
        await _age(engine, waiting.json()["id"], 400)
        await _age(engine, closed_long_ago["id"], 31)
        await _age(engine, closed_lately["id"], 29)
        async with engine.begin() as conn:  # the call, too, is past the calls' retention
            await conn.execute(text("UPDATE calls SET received_at = received_at - interval '400 days'"))
        async with committed_app.state.sessionmaker() as session, session.begin():
            assert (await call_service.purge(session, None, days=90, record_days=7305)).purged == 1
        assert await retention.purge_once(committed_app.state.sessionmaker, 30) == 1
        admin = auth("admin", [])
        read = {r: (await committed_client.get(f"/v1/mt-requests/{r}", headers=admin)).json()
                for r in (waiting.json()["id"], closed_long_ago["id"], closed_lately["id"])}
        assert read[waiting.json()["id"]]["patient"]["family_name"] == "Attente"
        assert read[waiting.json()["id"]]["purged_at"] is None
        assert read[closed_long_ago["id"]]["patient"]["family_name"] is None
        assert read[closed_long_ago["id"]]["patient"]["phone"] is None
        assert read[closed_long_ago["id"]]["purged_at"] is not None
        assert read[closed_lately["id"]]["patient"]["family_name"] == "Recent"
        assert await retention.purge_once(committed_app.state.sessionmaker, 30) == 0
