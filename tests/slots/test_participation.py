from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text

from tests.slots.helpers import doctor

PARIS = ZoneInfo("Europe/Paris")


def monday(weeks_ago: int) -> dt.date:
    today = dt.datetime.now(PARIS).date()
    return today - dt.timedelta(days=today.weekday(), weeks=weeks_ago)


async def past_slot(connection, doc, day: dt.date, hour: int, minutes: int = 60, status: str = "free",
                    booking: str | None = None, booking_status: str = "active") -> None:
    """History cannot be published through the API (slots start in the future): written directly."""
    start = dt.datetime.combine(day, dt.time(hour), tzinfo=PARIS)
    slot_id = (await connection.execute(text(
        "INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode, status) "
        "VALUES (:p, :s, '36', :a, :b, 'in_person', :st) RETURNING id"
    ), {"p": doc.id, "s": doc.site_id, "a": start, "b": start + dt.timedelta(minutes=minutes), "st": status})).scalar()
    if booking is None:
        return
    call_id = (await connection.execute(text(
        "INSERT INTO calls (territory_code, channel, received_at) VALUES ('36', '15', :at) RETURNING id"
    ), {"at": start - dt.timedelta(hours=3)})).scalar()
    await connection.execute(text(
        "INSERT INTO bookings (slot_id, call_id, status, outcome) VALUES (:s, :c, :st, NULLIF(:o, 'none'))"
    ), {"s": slot_id, "c": call_id, "st": booking_status, "o": booking})


async def history(connection, doc) -> None:
    two_weeks_ago, last_week = monday(2), monday(1)
    await past_slot(connection, doc, two_weeks_ago, 9, status="booked", booking="fulfilled")
    await past_slot(connection, doc, two_weeks_ago, 10, status="booked", booking="noshow")
    await past_slot(connection, doc, two_weeks_ago + dt.timedelta(days=3), 18, status="booked", booking="none")
    await past_slot(connection, doc, two_weeks_ago + dt.timedelta(days=4), 18, status="withdrawn")
    await past_slot(connection, doc, last_week, 18, 90, booking="fulfilled", booking_status="cancelled")


class TestParticipationEvidence:
    async def test_hours_per_iso_week_against_the_two_hour_forfait_and_orientations(
        self, client: httpx.AsyncClient, auth, connection
    ):
        doc = await doctor(client, auth)
        await history(connection, doc)
        params = {"from": monday(3).isoformat(), "to": (monday(0) + dt.timedelta(days=6)).isoformat()}
        response = await client.get(f"/v1/practitioners/{doc.id}/participation", params=params, headers=doc.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["from"] == params["from"] and body["forfait_hours_per_week"] == 2
        weeks = {w["week_start"]: w for w in body["weeks"]}
        assert list(weeks) == [monday(n).isoformat() for n in (3, 2, 1, 0)]
        busy = weeks[monday(2).isoformat()]
        assert busy["week"] == f"{monday(2).isocalendar().year}-W{monday(2).isocalendar().week:02d}"
        assert (busy["slots_offered"], busy["hours_offered"], busy["reaches_forfait"]) == (3, 3.0, True)
        assert (busy["orientations_received"], busy["fulfilled"], busy["noshow"]) == (3, 1, 1)
        short = weeks[monday(1).isoformat()]
        assert (short["hours_offered"], short["reaches_forfait"], short["orientations_received"]) == (1.5, False, 0)
        assert weeks[monday(3).isoformat()]["hours_offered"] == 0
        assert body["total"] == {"weeks": 4, "weeks_reaching_forfait": 1, "slots_offered": 4, "hours_offered": 4.5,
                                 "orientations_received": 3, "over_capacity": 0, "fulfilled": 1, "noshow": 1}

    async def test_the_csv_has_french_headers_and_one_line_per_week_plus_a_total(self, client, auth, connection):
        doc = await doctor(client, auth)
        await history(connection, doc)
        params = {"from": monday(2).isoformat(), "to": monday(1).isoformat(), "format": "csv"}
        response = await client.get(f"/v1/practitioners/{doc.id}/participation", params=params, headers=auth("admin"))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        lines = response.text.strip().split("\r\n")
        assert lines[0] == ("semaine;debut_semaine;creneaux_proposes;heures_proposees;forfait_atteint;"
                            "orientations_recues;dont_surnumeraires;honorees;non_honorees")
        assert lines[1].split(";")[2:] == ["3", "3,00", "oui", "3", "0", "1", "1"]
        assert lines[2].split(";")[2:5] == ["1", "1,50", "non"]
        assert lines[3].startswith("total;;4;4,50;1/2")

    async def test_an_analyst_of_the_doctors_territory_may_read_it_another_may_not(self, client, auth):
        doc = await doctor(client, auth)
        url = f"/v1/practitioners/{doc.id}/participation"
        assert (await client.get(url, headers=auth("analyst", ["36"]))).status_code == 200
        assert (await client.get(url, headers=auth("analyst", ["37"]))).status_code == 404

    async def test_another_doctor_gets_404_and_an_operator_403(self, client, auth):
        doc, other = await doctor(client, auth), await doctor(client, auth)
        url = f"/v1/practitioners/{doc.id}/participation"
        assert (await client.get(url, headers=other.headers)).status_code == 404
        assert (await client.get(url, headers=auth("operator"))).status_code == 403

    async def test_from_after_to_is_422(self, client, auth):
        doc = await doctor(client, auth)
        params = {"from": "2026-05-01", "to": "2026-04-01"}
        response = await client.get(f"/v1/practitioners/{doc.id}/participation", params=params, headers=doc.headers)
        assert response.status_code == 422 and response.json()["field"] == "from"

    async def test_years_out_of_this_century_are_422_at_once(self, client, auth):
        # Year 1 once kept PostgreSQL at 100 % CPU writing gigabytes of temporary files.
        doc = await doctor(client, auth)
        for params, field in (({"from": "0001-01-01", "to": "0001-01-07"}, "from"),
                              ({"from": "9999-12-20", "to": "9999-12-31"}, "from"),
                              ({"to": "0001-01-07"}, "to")):
            response = await client.get(f"/v1/practitioners/{doc.id}/participation", params=params,
                                        headers=doc.headers)
            assert response.status_code == 422 and response.json()["field"] == field, (params, response.text)

    async def test_by_default_the_last_twelve_weeks_are_reported(self, client, auth):
        doc = await doctor(client, auth)
        body = (await client.get(f"/v1/practitioners/{doc.id}/participation", headers=doc.headers)).json()
        assert len(body["weeks"]) in (12, 13) and body["total"]["hours_offered"] == 0
