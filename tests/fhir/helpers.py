"""Shared by the tests of this folder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.support.factories import create_practitioner, create_site

FHIR = {"Content-Type": "application/fhir+json"}


def declared(rpps: str, start: dt.datetime, end: dt.datetime, value: str = "b6e39355-8a61-4556-b340-36f7b95fec6a",
             status: str = "booked") -> dict[str, Any]:
    """The guide's example, for our practitioner and slot."""
    body = json.loads((GUIDE / "Appointment-1.json").read_text(encoding="utf-8"))
    body.pop("id")
    body["identifier"][0]["value"] = value
    body["participant"][0]["actor"]["identifier"]["value"] = "8" + rpps
    body.update(start=start.isoformat(), end=end.isoformat(), status=status)
    return body


async def _world(client, auth) -> dict[str, Any]:
    admin = auth("admin")
    doctor = await create_practitioner(client, admin, ["36"])
    site = await create_site(client, admin, "36")
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    end = start + dt.timedelta(minutes=15)
    effector = auth("effector", ["36"], practitioner_id=doctor["id"])
    slot = await client.post("/v1/slots", json={"practitioner_id": doctor["id"], "site_id": site["id"],
                                                "start": start.isoformat(), "end": end.isoformat(),
                                                "mode": "in_person"}, headers=effector)
    assert slot.status_code == 201, slot.text
    return {"doctor": doctor, "site": site, "slot": slot.json(), "start": start, "end": end, "effector": effector}


GUIDE = Path(__file__).parent / "guide"
