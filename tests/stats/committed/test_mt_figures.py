"""The monthly report counts the patients without a médecin traitant: requests by source, found (the IGAS
indicator), waiting at each month's end, refusals by reason, the doctors taking new patients now."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import text

from tests.mt.helpers import ISSOUDUN, doctor, propose, request
from tests.stats.helpers import at, insert_slot, monthly, this_month


async def test_a_month_of_the_coordination_is_counted_as_it_happened(client, auth):
    coordinator = auth("coordinator", ["36"], sub="coord-36")
    month = this_month()
    martin = await doctor(client, auth, per_month=3)
    bernard = await doctor(client, auth, per_month=2, site=ISSOUDUN, family_name="Bernard")
    found = await request(client, coordinator)
    refused = await request(client, coordinator, publics=["ald"])
    closed = await request(client, auth("operator", ["36"]), source="regulation")
    accepted = (await propose(client, coordinator, found["id"], martin["id"]))["id"]
    assert (await client.post(f"/v1/mt-proposals/{accepted}/accept", headers=martin["headers"])).status_code == 200
    visit = await client.post(f"/v1/mt-requests/{found['id']}/found", headers=coordinator,
                              json={"first_visit_on": str(dt.date.today())})
    assert visit.status_code == 200, visit.text
    no = (await propose(client, coordinator, refused["id"], bernard["id"]))["id"]
    answer = await client.post(f"/v1/mt-proposals/{no}/refuse", headers=bernard["headers"],
                               json={"reason": "too_far"})
    assert answer.status_code == 200, answer.text
    shut = await client.post(f"/v1/mt-requests/{closed['id']}/close", headers=coordinator,
                             json={"reason": "unreachable"})
    assert shut.status_code == 200, shut.text

    report = await monthly(client, auth("analyst", ["36"]), "36", month, month)
    for figures in (report["months"][0], report["total"]):
        assert figures["mt_requests"] == 3 and figures["mt_found"] == 1 and figures["mt_waiting"] == 1
        assert figures["mt_median_days_to_find"] is not None and figures["mt_median_days_to_find"] < 1
        mt = figures["mt"]
        assert mt["requests_by_source"] == {"regulation": 1, "effector": 0, "referrer": 0, "self": 0,
                                            "coordinator": 2, "import": 0}
        assert mt["accepted"] == 1 and mt["closed"] == 1 and mt["closed_by_reason"]["unreachable"] == 1
        assert mt["found_share"] == 0.5
        assert mt["refusals_by_reason"] == {"no_capacity": 0, "publics": 0, "too_far": 1, "already_known": 0,
                                            "other": 0}
        assert mt["doctors_accepting_now"] == 2 and mt["places_per_month_now"] == 5
    # Another département counts none of it; the CSV carries the columns, in French too.
    other = await monthly(client, auth("admin"), "18", month, month)
    assert other["total"]["mt_requests"] == 0 and other["total"]["mt"]["doctors_accepting_now"] == 0
    french = await client.get("/v1/stats/monthly", params={"territory": "36", "from": month, "to": month,
                                                           "format": "csv-fr"}, headers=auth("admin"))
    assert "médecins traitants trouvés" in french.text and "refus : trop loin" in french.text


async def _request_at(connection, created: str, *, found: str | None = None, closed: str | None = None) -> uuid.UUID:
    rid = uuid.uuid4()
    state = "found" if found else "closed" if closed else "waiting"
    await connection.execute(text(
        "INSERT INTO mt_requests (id, territory_code, source, state, closed_reason, created_by, created_by_role, "
        "priority, priority_computed, practitioner_id, accepted_at, first_visit_on, found_at, closed_at, ended_at, "
        "created_at) VALUES (:id, '36', 'coordinator', :state, :reason, 'coord', 'coordinator', 'normal', 'normal', "
        "CASE WHEN CAST(:found AS timestamptz) IS NULL THEN NULL ELSE (SELECT id FROM practitioners LIMIT 1) END, "
        "CAST(:found AS timestamptz), CAST(CAST(:found AS timestamptz) AS date), CAST(:found AS timestamptz), "
        "CAST(:closed AS timestamptz), "
        "coalesce(CAST(:found AS timestamptz), CAST(:closed AS timestamptz)), CAST(:created AS timestamptz))"),
        {"id": rid, "state": state, "reason": "moved" if closed else None, "found": found and at(found),
         "closed": closed and at(closed), "created": at(created)})
    return rid


async def test_past_months_count_each_event_in_its_month_and_waiting_at_each_end(client, connection, auth):
    await doctor(client, auth)  # a practitioner to be found
    found = await _request_at(connection, "2022-03-10T10:00:00+01:00", found="2022-05-20T10:00:00+02:00")
    await _request_at(connection, "2022-04-02T10:00:00+02:00")  # waiting still
    await _request_at(connection, "2022-03-31T23:30:00+02:00", closed="2022-04-15T10:00:00+02:00")  # 31 March, Paris
    report = await monthly(client, auth("admin"), "36", "2022-03", "2022-05")
    march, april, may = report["months"]
    assert [m["mt_requests"] for m in report["months"]] == [2, 1, 0] and report["total"]["mt_requests"] == 3
    assert [m["mt_waiting"] for m in report["months"]] == [2, 2, 1] and report["total"]["mt_waiting"] == 1
    assert [m["mt_found"] for m in report["months"]] == [0, 0, 1]
    assert may["mt_median_days_to_find"] == 71.0 and report["total"]["mt_median_days_to_find"] == 71.0
    assert april["mt"]["closed_by_reason"]["moved"] == 1 and april["mt"]["found_share"] == 0.0
    assert report["total"]["mt"]["found_share"] == 0.5
    assert march["mt"]["median_waiting_days"] is not None
    # A late correction (the request was in fact closed, not found) is counted at once: the kept report goes.
    await connection.execute(text("UPDATE mt_requests SET state = 'closed', closed_reason = 'found_elsewhere', "
                                  "found_at = NULL, first_visit_on = NULL, practitioner_id = NULL, accepted_at = NULL, "
                                  "closed_at = found_at WHERE id = :id"), {"id": found})
    again = await monthly(client, auth("admin"), "36", "2022-03", "2022-05")
    assert again["total"]["mt_found"] == 0 and again["months"][2]["mt"]["closed_by_reason"]["found_elsewhere"] == 1


async def test_access_consultations_count_in_the_month_of_their_slot(client, connection, auth):
    waiting = await _request_at(connection, "2022-03-10T10:00:00+01:00")
    slot = await insert_slot(connection, "2022-04-12T14:00:00+02:00")
    await connection.execute(text("UPDATE slots SET kind = 'access', status = 'booked' WHERE id = :s"), {"s": slot})
    before = await monthly(client, auth("admin"), "36", "2022-03", "2022-04")
    assert before["total"]["mt"]["access_consultations"] == 0
    assert before["months"][1]["slots"]["published"] == 0  # never an SNP slot
    await connection.execute(text("UPDATE mt_requests SET access_slot_id = :s, access_booked_at = now() "
                                  "WHERE id = :r"), {"s": slot, "r": waiting})
    after = await monthly(client, auth("admin"), "36", "2022-03", "2022-04")
    assert [m["mt"]["access_consultations"] for m in after["months"]] == [0, 1]
    assert after["total"]["mt"]["access_consultations"] == 1
