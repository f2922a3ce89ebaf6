from __future__ import annotations

import asyncio

import httpx

from tests.slots.helpers import at, doctor, slot


async def _mine(client, doc):
    return (await client.get("/v1/slots", headers=doc.headers)).json()


class TestBulkPublish:
    async def test_a_valid_batch_is_written_at_once_with_ids_in_item_order(self, client: httpx.AsyncClient, auth):
        doc = await doctor(client, auth)
        items = [slot(doc.site_id, at(2, hour=8, minute=20 * i)) for i in range(6)]
        response = await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["created"] == 6 and body["skipped"] == 0
        mine = await _mine(client, doc)
        assert [s["id"] for s in mine] == body["ids"]
        assert {s["source"] for s in mine} == {"bulk"}

    async def test_an_admin_publishes_for_many_doctors_in_one_batch(self, client, auth):
        one, two = await doctor(client, auth), await doctor(client, auth)
        items = [slot(d.site_id, at(2), practitioner_id=d.id) for d in (one, two)]
        response = await client.post("/v1/slots/bulk", json={"slots": items}, headers=auth("admin"))
        assert response.status_code == 201, response.text
        assert len(await _mine(client, one)) == 1 and len(await _mine(client, two)) == 1

    async def test_one_bad_item_writes_nothing_and_is_named_by_index_and_reason(self, client, auth):
        doc = await doctor(client, auth)
        items = [slot(doc.site_id, at(2, hour=8, minute=20 * i)) for i in range(5)]
        items[3]["end"] = items[3]["start"]
        response = await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)
        assert response.status_code == 422
        body = response.json()
        assert body["field"] == "slots" and "nothing was published" in body["detail"]
        assert body["rejected"] == [{"index": 3, "field": "end", "reason": "must be after start"}]
        assert await _mine(client, doc) == []

    async def test_every_rejected_item_is_listed_shape_time_and_site(self, client, auth):
        doc = await doctor(client, auth)
        items = [slot(doc.site_id, at(2, hour=8, minute=20 * i)) for i in range(5)]
        items[0]["mode"] = "drive"
        items[1] = slot(doc.site_id, at(-1))
        items[2]["site_id"] = "00000000-0000-0000-0000-000000000000"
        items[4]["colour"] = "red"
        response = await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)
        assert response.status_code == 422
        rejected = {(r["index"], r["field"]) for r in response.json()["rejected"]}
        assert rejected == {(0, "mode"), (1, "start"), (2, "site_id"), (4, "colour")}
        assert await _mine(client, doc) == []

    async def test_a_refused_batch_names_its_overlaps_too_and_a_naive_time_says_why(self, client, auth):
        doc = await doctor(client, auth)
        existing = (await client.post("/v1/slots", json=slot(doc.site_id, at(2, hour=9)), headers=doc.headers)).json()
        items = [slot(doc.site_id, at(2, hour=8)), slot(doc.site_id, at(2, hour=9, minute=10)),
                 slot(doc.site_id, at(2, hour=11), source_key="a\x00b"), slot(doc.site_id, at(2, hour=12))]
        items[3]["start"] = items[3]["start"][:19]  # no offset: a local time of unknown zone
        response = await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)
        assert response.status_code == 422
        rejected = {r["index"]: r for r in response.json()["rejected"]}
        assert set(rejected) == {1, 2, 3}
        assert rejected[1]["conflicting_slot_id"] == existing["id"]
        assert rejected[2]["field"] == "source_key" and "NUL" in rejected[2]["reason"]
        assert rejected[3]["field"] == "start" and "UTC offset" in rejected[3]["reason"]
        assert len(await _mine(client, doc)) == 1

    async def test_items_overlapping_each_other_are_409_naming_both(self, client, auth):
        doc = await doctor(client, auth)
        items = [slot(doc.site_id, at(2, hour=8), 60), slot(doc.site_id, at(2, hour=10)),
                 slot(doc.site_id, at(2, hour=8, minute=30))]
        response = await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)
        assert response.status_code == 409
        assert response.json()["rejected"] == [
            {"index": 2, "field": "start", "reason": "overlaps item 0 of this batch", "conflicting_index": 0}
        ]
        assert await _mine(client, doc) == []

    async def test_an_overlap_hidden_behind_a_long_item_is_found(self, client, auth):
        doc = await doctor(client, auth)
        items = [slot(doc.site_id, at(2, hour=8), 180), slot(doc.site_id, at(2, hour=8, minute=30)),
                 slot(doc.site_id, at(2, hour=10))]
        response = await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)
        assert response.status_code == 409
        assert {r["index"] for r in response.json()["rejected"]} == {1, 2}

    async def test_an_item_overlapping_an_existing_slot_is_409_naming_that_slot(self, client, auth):
        doc = await doctor(client, auth)
        existing = (await client.post("/v1/slots", json=slot(doc.site_id, at(2, hour=9)), headers=doc.headers)).json()
        items = [slot(doc.site_id, at(2, hour=8)), slot(doc.site_id, at(2, hour=9, minute=10))]
        response = await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)
        assert response.status_code == 409
        assert response.json()["rejected"] == [
            {"index": 1, "field": "start", "reason": f"overlaps slot {existing['id']}",
             "conflicting_slot_id": existing["id"]}
        ]
        assert len(await _mine(client, doc)) == 1

    async def test_an_item_for_another_doctor_sent_by_an_effector_is_403(self, client, auth):
        doc, other = await doctor(client, auth), await doctor(client, auth)
        items = [slot(doc.site_id, at(2)), slot(other.site_id, at(3), practitioner_id=other.id)]
        response = await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)
        assert response.status_code == 403
        assert await _mine(client, doc) == []

    async def test_an_empty_or_oversized_batch_is_422(self, client, auth):
        doc = await doctor(client, auth)
        assert (await client.post("/v1/slots/bulk", json={"slots": []}, headers=doc.headers)).status_code == 422
        many = [slot(doc.site_id, at(2))] * 5001
        response = await client.post("/v1/slots/bulk", json={"slots": many}, headers=doc.headers)
        assert response.status_code == 422 and response.json()["field"] == "slots"

    async def test_resending_a_batch_with_source_keys_creates_nothing_twice(self, client, auth):
        doc = await doctor(client, auth)
        items = [slot(doc.site_id, at(2, hour=8, minute=20 * i), source_key=f"agenda-{i}") for i in range(3)]
        first = (await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)).json()
        items.append(slot(doc.site_id, at(2, hour=9), source_key="agenda-3"))
        second = await client.post("/v1/slots/bulk", json={"slots": items}, headers=doc.headers)
        assert second.status_code == 201, second.text
        body = second.json()
        assert (body["created"], body["skipped"]) == (1, 3)
        assert body["ids"][:3] == [None, None, None] and body["ids"][3]
        assert len(await _mine(client, doc)) == 4 and first["created"] == 3


class TestBulkRace:
    async def test_two_batches_racing_for_the_same_hour_one_wins_whole_the_other_writes_nothing(
        self, committed_client: httpx.AsyncClient, auth
    ):
        doc = await doctor(committed_client, auth)
        a = [slot(doc.site_id, at(2, hour=8, minute=20 * i)) for i in range(10)]
        b = [slot(doc.site_id, at(2, hour=11, minute=20 * i)) for i in range(3)] + [slot(doc.site_id, at(2, hour=9))]
        responses = await asyncio.gather(
            committed_client.post("/v1/slots/bulk", json={"slots": a}, headers=doc.headers),
            committed_client.post("/v1/slots/bulk", json={"slots": b}, headers=doc.headers),
        )
        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
        created = next(r.json()["created"] for r in responses if r.status_code == 201)
        assert len((await committed_client.get("/v1/slots", headers=doc.headers)).json()) == created
