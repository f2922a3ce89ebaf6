"""Rows written straight into the tables, for report tests that do not need the import endpoint."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

UTC = dt.UTC


def this_month() -> str:
    """The month now is in, in the Indre's time: the month the report counts a call received now in (late
    on a month's last day, UTC is still in the month Paris has left)."""

    return dt.datetime.now(ZoneInfo("Europe/Paris")).strftime("%Y-%m")


def at(value: str) -> dt.datetime:
    """An instant from ISO 8601 with offset."""
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, "give the offset"
    return parsed


async def insert_call(
    conn: AsyncConnection,
    received_at: str | dt.datetime,
    decisions: list[str] = (),  # type: ignore[assignment]
    *,
    territory: str = "36",
    channel: str = "15",
    intent: str = "inconnu",
    priority: str | None = None,
    callback_after_minutes: float | None = None,
    family_name: str | None = "Dupont",
    phone: str | None = "0600000000",
) -> uuid.UUID:
    """One call and its decisions (``"advice"``, ``"other:redirected_15"``...)."""
    received = at(received_at) if isinstance(received_at, str) else received_at
    callback = None if callback_after_minutes is None else received + dt.timedelta(minutes=callback_after_minutes)
    call_id = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO calls (id, territory_code, channel, received_at, priority, intent_without_sas, status, "
            "source, external_id, first_callback_at, patient_family_name, patient_given_name, patient_phone) "
            "VALUES (:id, :territory, :channel, :received, :priority, :intent, 'closed', 'import', :ext, "
            ":callback, :family, 'Jeanne', :phone)"
        ),
        {"id": call_id, "territory": territory, "channel": channel, "received": received, "priority": priority,
         "intent": intent, "ext": str(call_id), "callback": callback, "family": family_name, "phone": phone},
    )
    for decision in decisions:
        kind, _, reason = decision.partition(":")
        await conn.execute(
            text("INSERT INTO decisions (call_id, kind, other_reason, decided_at) VALUES (:c, :k, :r, :at)"),
            {"c": call_id, "k": kind, "r": reason or None, "at": received},
        )
    return call_id


async def insert_slot(
    conn: AsyncConnection,
    start: str,
    minutes: int = 20,
    *,
    territory: str = "36",
    status: str = "free",
    booking: str | None = None,
) -> uuid.UUID:
    """A slot of a fresh practitioner and site; ``booking``: None, active, fulfilled, noshow, cancelled."""
    practitioner, site, slot = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    begin = at(start)
    await conn.execute(
        text("INSERT INTO practitioners (id, rpps, family_name, given_name, specialty) "
             "VALUES (:id, :rpps, 'Martin', 'Claire', 'Médecine générale')"),
        {"id": practitioner, "rpps": str(uuid.uuid4().int)[:11]},
    )
    await conn.execute(
        text("INSERT INTO sites (id, name, kind, address, postcode, lat, lon, territory_code) "
             "VALUES (:id, 'MSP', 'msp', '1 place', '36000', 46.8, 1.69, :t)"),
        {"id": site, "t": territory},
    )
    slot_status = "booked" if booking in ("active", "fulfilled", "noshow") else status
    await conn.execute(
        text("INSERT INTO slots (id, practitioner_id, site_id, territory_code, start_at, end_at, mode, status) "
             "VALUES (:id, :p, :s, :t, :start, :end, 'in_person', :status)"),
        {"id": slot, "p": practitioner, "s": site, "t": territory, "start": begin,
         "end": begin + dt.timedelta(minutes=minutes), "status": slot_status},
    )
    if booking:
        call_id = await insert_call(conn, begin - dt.timedelta(hours=1), ["slot"], territory=territory)
        status_ = "cancelled" if booking == "cancelled" else "active"
        outcome = booking if booking in ("fulfilled", "noshow") else None
        await conn.execute(
            text("INSERT INTO bookings (slot_id, call_id, status, outcome) VALUES (:s, :c, :st, :o)"),
            {"s": slot, "c": call_id, "st": status_, "o": outcome},
        )
    return slot


async def monthly(client: Any, headers: dict[str, str], territory: str = "36", first: str = "2022-01",
                  last: str = "2022-12", **params: str) -> dict[str, Any]:
    response = await client.get(
        "/v1/stats/monthly", params={"territory": territory, "from": first, "to": last, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


CPTS = ["36-chateauroux", "36-boischaut-nord", "36-mille-etangs", "36-boischaut-sud", "36-val-de-creuse",
        "36-issoudun"]


def reference() -> dict:
    return json.loads(REFERENCE.read_text())


def build_csv(published: dict) -> tuple[str, list[float]]:
    """The year as the import's CSV (instants written in UTC) and the callback delays in minutes."""
    rng = random.Random(2022)
    decisions = decision_lists(published)
    rng.shuffle(decisions)
    wanted_intents = intents(decisions, published_avoided(published), rng)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["external_id", "territory_code", "channel", "received_at", "priority", "intent_without_sas",
                     "first_callback_at", "decisions"])
    delays: list[float] = []
    for n, local in enumerate(received_instants(rng)):
        received = local.astimezone(dt.UTC)
        delay = rng.randint(3, 150)
        delays.append(float(delay))
        writer.writerow([
            f"indre-2022-{n:05d}", rng.choice(["36", *CPTS]), rng.choice(["15", "15", "15", "116117"]),
            received.isoformat(), rng.choice(["", "P2", "P3"]), wanted_intents[n],
            (received + dt.timedelta(minutes=delay)).isoformat(), decisions[n],
        ])
    return out.getvalue(), delays


REFERENCE = Path(__file__).resolve().parent / "data" / "indre-2022.json"


def decision_lists(published: dict) -> list[str]:
    """One decisions string per call: 300 advice|prescription, the rest one kind each."""
    counts = {k: published[k]["count"] for k in ("advice", "slot", "prescription", "other")}
    lists = ["advice|prescription"] * TWO_KINDS
    lists += ["advice"] * (counts["advice"] - TWO_KINDS) + ["prescription"] * (counts["prescription"] - TWO_KINDS)
    lists += ["slot"] * counts["slot"]
    lists += [f"other:{reason}" for reason in OTHER_REASONS]
    assert len(OTHER_REASONS) == counts["other"]
    return lists


def intents(decisions: list[str], avoided: int, rng: random.Random) -> list[str]:
    """``urgences`` on exactly ``avoided`` calls not sent to the ED/15, and on some that were."""
    sent_on = [i for i, d in enumerate(decisions) if d in ("other:redirected_15", "other:redirected_ed")]
    kept = [i for i, d in enumerate(decisions) if d not in ("other:redirected_15", "other:redirected_ed")]
    chosen = set(rng.sample(kept, avoided)) | set(rng.sample(sent_on, URGENCES_SENT_ON))
    return ["urgences" if i in chosen else rng.choice(["medecin", "pharmacie", "rien", "inconnu"])
            for i in range(len(decisions))]


def received_instants(rng: random.Random) -> list[dt.datetime]:
    """Local instants in each month of 2022, some just after local midnight on the 1st."""
    instants = []
    for month, count in enumerate(MONTHS, start=1):
        days = (dt.date(2022 + month // 12, month % 12 + 1, 1) - dt.date(2022, month, 1)).days
        for n in range(count):
            if n < 5:  # 00:30 on the 1st in Paris is the previous UTC day
                local = dt.datetime(2022, month, 1, 0, 30, tzinfo=PARIS)
            else:
                local = dt.datetime(2022, month, rng.randint(1, days), rng.randint(6, 23), rng.randint(0, 59),
                                    tzinfo=PARIS)
            instants.append(local)
    return instants


def published_avoided(published: dict) -> int:
    return published["avoided_ed_visits_estimated"]


PARIS = ZoneInfo("Europe/Paris")


# Calls per month: a winter peak and a summer peak, summing to the published year.
MONTHS = [1562, 1371, 1420, 1398, 1441, 1355, 1508, 1560, 1380, 1402, 1395, 1440]


OTHER_REASONS = ["no_answer"] * 800 + ["redirected_15"] * 400 + ["redirected_ed"] * 144 + ["other"] * 100


TWO_KINDS = 300


URGENCES_SENT_ON = 150  # calls that declared the ED but were sent to the ED or the 15: not avoided
