"""What the coordinator's view reads of the API without paging or extra lookups: the counts by state (numbers only,
not audited, walled like the list), the centroid of the patient's postcode in his record (the point the map places
him at and the distances are measured from), and each proposal's doctor and site named in the record."""

from __future__ import annotations

import math

from sqlalchemy import text

from tests.mt.helpers import ISSOUDUN, doctor, propose, request

EMPTY = {"waiting": 0, "proposed": 0, "accepted": 0, "found": 0, "closed": 0}


def _km(a: dict[str, float], b: dict[str, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


class TestTheCounts:
    async def test_each_state_is_counted_and_reading_them_audits_nothing(self, client, auth, connection):
        coordinator = auth("coordinator")
        d = await doctor(client, auth, per_month=5)
        await request(client, coordinator)
        await request(client, coordinator, publics=["ald"])
        proposed = await request(client, coordinator)
        accepted = await request(client, coordinator)
        found = await request(client, coordinator)
        closed = await request(client, coordinator)
        await propose(client, coordinator, proposed["id"], d["id"])
        for r in (accepted, found):
            proposal = await propose(client, coordinator, r["id"], d["id"])
            assert (await client.post(f"/v1/mt-proposals/{proposal['id']}/accept", headers=d["headers"])
                    ).status_code == 200
        assert (await client.post(f"/v1/mt-requests/{found['id']}/found", headers=coordinator,
                                  json={"first_visit_on": found["created_at"][:10]})).status_code == 200
        assert (await client.post(f"/v1/mt-requests/{closed['id']}/close", headers=coordinator,
                                  json={"reason": "moved"})).status_code == 200
        await request(client, auth("coordinator", ["18"]), territory="18", postcode="18000")  # not the Indre's
        audited = text("SELECT count(*) FROM audit_log")
        trail_before = (await connection.execute(audited)).scalar_one()

        counted = await client.get("/v1/mt-requests/counts", params={"territory": "36"}, headers=coordinator)
        assert counted.status_code == 200, counted.text
        assert counted.json() == {"waiting": 2, "proposed": 1, "accepted": 1, "found": 1, "closed": 1}
        assert (await client.get("/v1/mt-requests/counts", headers=coordinator)).json() == counted.json()
        # Numbers only: nothing of a patient was read, so nothing is audited (the lists below are).
        assert (await connection.execute(audited)).scalar_one() == trail_before
        # The same numbers the list gives, state by state.
        for state, n in counted.json().items():
            listed = await client.get("/v1/mt-requests", params={"territory": "36", "state": state},
                                      headers=coordinator)
            assert len(listed.json()) == n, state

    async def test_walled_like_the_list_another_territory_is_404_a_referrer_counts_what_he_sent(self, client, auth):
        await request(client, auth("coordinator", ["36"]))
        await request(client, auth("referrer", sub="pharma-1"), source="referrer")
        await request(client, auth("referrer", sub="pharma-1"), source="referrer")
        await request(client, auth("referrer", sub="pharma-2"), source="referrer")
        cher = auth("coordinator", ["18"])
        refused = await client.get("/v1/mt-requests/counts", params={"territory": "36"}, headers=cher)
        assert (refused.status_code, refused.json()["field"]) == (404, "territory")
        assert (await client.get("/v1/mt-requests/counts", headers=cher)).json() == EMPTY
        mine = await client.get("/v1/mt-requests/counts", params={"territory": "36"},
                                headers=auth("referrer", sub="pharma-1"))
        assert mine.json() == {**EMPTY, "waiting": 2}
        bad = await client.get("/v1/mt-requests/counts", params={"territory": "x y"}, headers=auth("coordinator"))
        assert (bad.status_code, bad.json()["field"]) == (422, "query.territory")
        assert (await client.get("/v1/mt-requests/counts", headers=auth("analyst"))).status_code == 403


class TestThePatientsPoint:
    async def test_the_record_carries_his_postcodes_centroid_the_point_distances_are_measured_from(
        self, client, auth, connection
    ):
        coordinator = auth("coordinator")
        d = await doctor(client, auth, site=ISSOUDUN)
        made = await request(client, coordinator, postcode="36100")
        centroid = made["patient"]["postcode_centroid"]
        lat, lon = (await connection.execute(text("SELECT lat, lon FROM postcodes WHERE postcode = '36100'"))).one()
        assert centroid == {"lat": float(lat), "lon": float(lon)}
        read = await client.get(f"/v1/mt-requests/{made['id']}", headers=coordinator)
        assert read.json()["patient"]["postcode_centroid"] == centroid
        candidate = (await client.get(f"/v1/mt-requests/{made['id']}/candidates", headers=coordinator)).json()[0]
        assert candidate["practitioner_id"] == d["id"]
        assert abs(_km(centroid, candidate["site"]) - candidate["distance_km"]) <= 0.06
        # The doctor proposed reads the same point (the postcode is his to read, the name is not yet).
        await propose(client, coordinator, made["id"], d["id"])
        his = (await client.get(f"/v1/mt-requests/{made['id']}", headers=d["headers"])).json()["patient"]
        assert (his["postcode_centroid"], his["family_name"]) == (centroid, None)

    async def test_without_a_postcode_there_is_no_point(self, client, auth):
        made = await request(client, auth("coordinator"), postcode=None)
        assert made["patient"]["postcode"] is None and made["patient"]["postcode_centroid"] is None


class TestTheProposalsNamed:
    async def test_each_proposal_names_the_doctor_and_his_site_and_a_doctor_reads_only_his_own(self, client, auth):
        coordinator = auth("coordinator")
        near = await doctor(client, auth, site=ISSOUDUN, family_name="Proche")
        other = await doctor(client, auth, family_name="Autre")
        made = await request(client, coordinator, postcode="36100")
        await propose(client, coordinator, made["id"], near["id"])
        await propose(client, coordinator, made["id"], other["id"])
        read = await client.get(f"/v1/mt-requests/{made['id']}", headers=coordinator)
        assert read.status_code == 200, read.text
        assert [(p["practitioner_id"], p["family_name"], p["given_name"], p["site_name"])
                for p in read.json()["proposals"]] == [(near["id"], "Proche", "Claire", "MSP Issoudun"),
                                                       (other["id"], "Autre", "Claire", "MSP Châteauroux")]
        his = await client.get(f"/v1/mt-requests/{made['id']}", headers=near["headers"])
        assert [(p["family_name"], p["site_name"]) for p in his.json()["proposals"]] == [("Proche", "MSP Issoudun")]

    async def test_the_record_stays_walled_another_territory_is_404_a_referrer_reads_only_his_own(self, client, auth):
        d = await doctor(client, auth)
        sent = await request(client, auth("referrer", sub="pharma-1"), source="referrer")
        await propose(client, auth("coordinator"), sent["id"], d["id"])
        assert (await client.get(f"/v1/mt-requests/{sent['id']}", headers=auth("coordinator", ["18"]))
                ).status_code == 404
        assert (await client.get(f"/v1/mt-requests/{sent['id']}", headers=auth("referrer", sub="pharma-2"))
                ).status_code == 404
        own = await client.get(f"/v1/mt-requests/{sent['id']}", headers=auth("referrer", sub="pharma-1"))
        assert own.status_code == 200
        assert [p["family_name"] for p in own.json()["proposals"]] == ["Martin"]
        assert own.json()["patient"]["postcode_centroid"] is not None
