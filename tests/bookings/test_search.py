"""GET /v1/slots/search: free slots of a territory, soonest first, near a point, paginated."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import text

from app.bookings import search as slot_search
from app.bookings.search import SearchFilter
from tests.bookings.helpers import make_call, make_slot, now, scalar, world
from tests.support.factories import create_cpts

SEARCH = "/v1/slots/search"


async def search(client: httpx.AsyncClient, headers: dict[str, str], **params) -> httpx.Response:
    return await client.get(SEARCH, params=params, headers=headers)


class TestWhatSearchReturns:
    async def test_free_slots_come_soonest_first_with_the_doctor_and_the_site(self, client, auth, connection):
        w = await world(client, auth)
        later = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=5))
        sooner = await make_slot(client, auth, w, start=now() + dt.timedelta(hours=1))
        response = await search(client, auth("regulator"), territory="36")
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [i["id"] for i in items] == [sooner, later]
        first = items[0]
        assert first["practitioner"]["rpps"] == w.practitioner["rpps"]
        assert first["practitioner"]["family_name"] == "Martin"
        assert first["site"]["address"] == "1 place de la République" and first["site"]["postcode"] == "36000"
        assert first["site"]["kind"] == "msp" and first["distance_km"] is None
        assert first["mode"] == "in_person" and first["territory_code"] == "36"
        assert response.json()["next_cursor"] is None

    async def test_booked_withdrawn_started_and_held_slots_are_left_out_but_a_lapsed_hold_is_free(
        self, client, auth, connection
    ):
        w = await world(client, auth)
        start = now() + dt.timedelta(hours=1)
        ids = [await make_slot(client, auth, w, start=start + dt.timedelta(hours=i)) for i in range(6)]
        free, booked, withdrawn, started, held, lapsed = ids
        call = await make_call(client, auth)
        await connection.execute(text("UPDATE slots SET status = 'booked' WHERE id = :id"), {"id": booked})
        await connection.execute(text("UPDATE slots SET status = 'withdrawn' WHERE id = :id"), {"id": withdrawn})
        await connection.execute(
            text("UPDATE slots SET start_at = now() - interval '10 minutes', end_at = now() + interval '10 minutes' "
                 "WHERE id = :id"), {"id": started})
        await connection.execute(
            text("UPDATE slots SET held_by_call_id = :c, held_until = now() + interval '5 minutes' WHERE id = :id"),
            {"id": held, "c": call["id"]})
        await connection.execute(
            text("UPDATE slots SET held_by_call_id = :c, held_until = now() - interval '1 second' WHERE id = :id"),
            {"id": lapsed, "c": call["id"]})
        items = (await search(client, auth("operator"), territory="36")).json()["items"]
        assert [i["id"] for i in items] == [free, lapsed]

    async def test_a_departement_includes_its_cpts_and_a_cpts_only_itself(self, client, auth, connection):
        await create_cpts(client, auth("admin", []), "36-boischaut-sud")
        in_dept = await world(client, auth, territory="36")
        in_cpts = await world(client, auth, territory="36-boischaut-sud")
        a = await make_slot(client, auth, in_dept, start=now() + dt.timedelta(hours=1))
        b = await make_slot(client, auth, in_cpts, start=now() + dt.timedelta(hours=2))
        dept = (await search(client, auth("regulator", ["36"]), territory="36")).json()["items"]
        assert [i["id"] for i in dept] == [a, b]
        cpts = (await search(client, auth("regulator", ["36"]), territory="36-boischaut-sud")).json()["items"]
        assert [i["id"] for i in cpts] == [b]

    async def test_without_a_territory_it_searches_every_territory_of_the_user(self, client, auth, connection):
        w36 = await world(client, auth, territory="36")
        w18 = await world(client, auth, territory="18")
        a = await make_slot(client, auth, w36, start=now() + dt.timedelta(hours=1))
        await make_slot(client, auth, w18, start=now() + dt.timedelta(hours=2))
        items = (await search(client, auth("urgences", ["36"]))).json()["items"]
        assert [i["id"] for i in items] == [a]

    async def test_another_territory_is_404_as_if_it_did_not_exist(self, client, auth):
        response = await search(client, auth("regulator", ["36"]), territory="18")
        assert response.status_code == 404

    async def test_analysts_and_effectors_may_not_search(self, client, auth):
        assert (await search(client, auth("analyst"), territory="36")).status_code == 403
        w = await world(client, auth)
        effector = auth("effector", practitioner_id=w.practitioner_id)
        assert (await search(client, effector, territory="36")).status_code == 403


class TestFilters:
    async def test_the_window_mode_and_audience_narrow_the_answer(self, client, auth, connection):
        w = await world(client, auth)
        base = now() + dt.timedelta(hours=1)
        visit = await make_slot(client, auth, w, start=base, mode="home_visit")
        general = await make_slot(client, auth, w, start=base + dt.timedelta(hours=1))
        children = await make_slot(client, auth, w, start=base + dt.timedelta(hours=2), audience="children")
        ehpad = await make_slot(client, auth, w, start=base + dt.timedelta(hours=3), audience="ehpad")
        far = await make_slot(client, auth, w, start=base + dt.timedelta(days=3))
        headers = auth("regulator")

        async def ids(**params) -> list[str]:
            response = await search(client, headers, territory="36", **params)
            assert response.status_code == 200, response.text
            return [i["id"] for i in response.json()["items"]]

        assert await ids(mode="home_visit") == [visit]
        window_end = (base + dt.timedelta(hours=2, minutes=30)).isoformat()
        assert await ids(start_from=base.isoformat(), start_to=window_end) == [visit, general, children]
        assert await ids(start_from=(base + dt.timedelta(days=1)).isoformat()) == [far]
        assert await ids(audience="children") == [visit, general, children, far]
        assert await ids(audience="ehpad") == [visit, general, ehpad, far]
        assert await ids(audience="all") == [visit, general, far]

    async def test_near_a_point_it_gives_the_distance_and_keeps_what_is_within_the_radius(
        self, client, auth, connection
    ):
        chateauroux = await world(client, auth, lat=46.8103, lon=1.6913)
        issoudun = await world(client, auth, lat=46.9481, lon=1.9933, postcode="36100")
        le_blanc = await world(client, auth, lat=46.6333, lon=1.0628, postcode="36300")
        a = await make_slot(client, auth, le_blanc, start=now() + dt.timedelta(hours=1))
        b = await make_slot(client, auth, issoudun, start=now() + dt.timedelta(hours=2))
        c = await make_slot(client, auth, chateauroux, start=now() + dt.timedelta(hours=3))
        headers = auth("regulator")
        near = {"near_lat": 46.8103, "near_lon": 1.6913}
        within = (await search(client, headers, territory="36", radius_km=30, **near)).json()["items"]
        assert [i["id"] for i in within] == [b, c]
        assert within[1]["distance_km"] == 0.0
        assert 26 < within[0]["distance_km"] < 28  # Châteauroux–Issoudun, as the crow flies
        nearest = (await search(client, headers, territory="36", sort="distance", **near)).json()["items"]
        assert [i["id"] for i in nearest] == [c, b, a]
        assert 50 < nearest[2]["distance_km"] < 55

    async def test_nearest_among_the_soonest_goes_day_by_local_day_then_nearest(self, client, auth, connection):
        """sort=soonest_near: a day's 8 km slot before the next day's 2 km one; within a day, nearest first;
        the day is the territory's local day (23:30 and 00:30 in Paris fall on one UTC day, not one local day),
        and sort=distance keeps its meaning (nearest first, whatever the day)."""
        from zoneinfo import ZoneInfo

        paris = ZoneInfo("Europe/Paris")
        here = {"near_lat": 46.81, "near_lon": 1.69}
        km2 = await world(client, auth, lat=46.81 + 2 / 111.2, lon=1.69)
        km8 = await world(client, auth, lat=46.81 + 8 / 111.2, lon=1.69)
        day = dt.datetime.now(paris).date() + dt.timedelta(days=1)

        def at(days: int, hour: int, minute: int = 0) -> dt.datetime:
            return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(hour, minute), paris)

        far_early = await make_slot(client, auth, km8, start=at(0, 9))
        near_late = await make_slot(client, auth, km2, start=at(0, 20))
        far_before_midnight = await make_slot(client, auth, km8, start=at(0, 23, 30))
        near_after_midnight = await make_slot(client, auth, km2, start=at(1, 0, 30))
        far_next_day = await make_slot(client, auth, km8, start=at(1, 9))
        headers = auth("regulator")
        body = (await search(client, headers, territory="36", sort="soonest_near", **here)).json()
        items = body["items"]
        assert [i["id"] for i in items] == [near_late, far_early, far_before_midnight, near_after_midnight,
                                            far_next_day]
        assert [round(i["distance_km"]) for i in items] == [2, 8, 8, 2, 8]
        nearest = (await search(client, headers, territory="36", sort="distance", **here)).json()["items"]
        assert [i["id"] for i in nearest] == [near_late, near_after_midnight, far_early, far_before_midnight,
                                              far_next_day]
        soonest = (await search(client, headers, territory="36", **here)).json()["items"]
        assert [i["id"] for i in soonest] == [far_early, near_late, far_before_midnight, near_after_midnight,
                                              far_next_day]
        # a point from a postcode does as well; no point at all is a 422 naming sort
        by_postcode = await search(client, headers, territory="36", sort="soonest_near", near_postcode="36000")
        assert by_postcode.status_code == 200, by_postcode.text
        refused = await search(client, headers, territory="36", sort="soonest_near")
        assert refused.status_code == 422 and refused.json()["field"] == "sort"
        assert "near_lat" in refused.json()["detail"]

    async def test_the_page_is_the_documented_schema_byte_for_byte(self, client, auth, connection):
        """The page is written from the statement's rows without models: it must be exactly what the
        SearchPage model makes of it (every field, its type, its form: instants in UTC with Z, the release
        delay as an ISO 8601 duration, identifiers as text)."""
        from app.bookings.schemas import SearchPage

        w = await world(client, auth, lat=46.6333, lon=1.0628, postcode="36300")
        start = now() + dt.timedelta(hours=3)
        released = await client.post("/v1/slots", headers=auth("admin", []), json={
            "practitioner_id": w.practitioner_id, "site_id": w.site["id"], "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=20)).isoformat(), "mode": "home_visit",
            "bookable_by": ["regulation"], "release_before": "PT1H30M"})
        assert released.status_code == 201, released.text
        await make_slot(client, auth, w, start=now() + dt.timedelta(hours=1))
        pages = ({"territory": "36", "limit": 1}, {"territory": "36", "near_postcode": "36000", "sort": "distance"})
        for params in pages:
            response = await search(client, auth("regulator"), **params)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/json"
            assert SearchPage.model_validate_json(response.content).model_dump_json().encode() == response.content
        page = response.json()
        assert page["near"] == {"lat": page["near"]["lat"], "lon": page["near"]["lon"], "postcode": "36000",
                                "source": "near_postcode"}
        item = next(i for i in page["items"] if i["id"] == released.json()["id"])
        assert item["release_before"] == "PT1H30M" and item["bookable_by"] == ["regulation"]
        assert item["start"].endswith("Z") and item["site"]["lat"] == 46.6333

    async def test_bad_parameters_are_422_naming_the_field(self, client, auth):
        headers = auth("regulator")
        cases = [
            ({"start_from": "2030-01-02T00:00:00+00:00", "start_to": "2030-01-01T00:00:00+00:00"}, "start_to"),
            ({"radius_km": 10}, "radius_km"),
            ({"near_lat": 46.8}, "near_lon"),
            ({"sort": "distance"}, "sort"),
            ({"sort": "soonest_near"}, "sort"),
            ({"sort": "soonest_near", "near_lat": 46.8, "near_lon": 1.7, "cursor": f"s0.{uuid.UUID(int=0).hex}"},
             "cursor"),
            ({"cursor": "not-a-cursor"}, "cursor"),
            ({"start_from": "2030-01-01T00:00:00"}, "query.start_from"),
            ({"mode": "drive_through"}, "query.mode"),
            ({"limit": 0}, "query.limit"),
            ({"near_lat": 120, "near_lon": 1}, "query.near_lat"),
        ]
        for params, field in cases:
            response = await search(client, headers, territory="36", **params)
            assert response.status_code == 422, (params, response.text)
            assert response.json()["field"] == field, params

    async def test_an_admin_must_name_the_territory(self, client, auth):
        response = await search(client, auth("admin", []))
        assert response.status_code == 422 and response.json()["field"] == "territory"


class TestPagination:
    async def test_the_cursor_walks_every_slot_once_in_order(self, client, auth, connection):
        w = await world(client, auth)
        created = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=1, minutes=30 * i))
                   for i in range(7)]
        seen, cursor, pages = [], None, 0
        while pages < 10:
            params = {"territory": "36", "limit": 3, **({"cursor": cursor} if cursor else {})}
            body = (await search(client, auth("operator"), **params)).json()
            seen += [i["id"] for i in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == created and pages == 3

    async def test_every_cursor_of_the_documented_form_is_read(self, client, auth):
        import re

        from app.bookings.search import CURSOR_PATTERN

        w = await world(client, auth)
        created = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=1 + i)) for i in range(4)]
        first = (await search(client, auth("operator"), territory="36", limit=2)).json()
        assert re.fullmatch(CURSOR_PATTERN, first["next_cursor"])
        # Skipping by count works soonest first too, and a cursor written by hand in the form is read.
        skipped = (await search(client, auth("operator"), territory="36", limit=2, cursor="o2")).json()
        assert [i["id"] for i in skipped["items"]] == created[2:]
        after = f"s0.{uuid.UUID(int=0).hex}"  # after 1970: everything
        assert len((await search(client, auth("operator"), territory="36", cursor=after)).json()["items"]) == 4

    async def test_distance_order_pages_too(self, client, auth, connection):
        w = await world(client, auth)
        created = [await make_slot(client, auth, w, start=now() + dt.timedelta(hours=1 + i)) for i in range(5)]
        params = {"territory": "36", "limit": 2, "near_lat": 46.81, "near_lon": 1.69, "sort": "distance"}
        first = (await search(client, auth("operator"), **params)).json()
        second = (await search(client, auth("operator"), **params, cursor=first["next_cursor"])).json()
        assert [i["id"] for i in first["items"] + second["items"]] == created[:4]


    async def test_nearest_among_the_soonest_pages_every_slot_once_in_order(self, client, auth, connection):
        from zoneinfo import ZoneInfo

        paris = ZoneInfo("Europe/Paris")
        near = await world(client, auth, lat=46.81, lon=1.69)
        far = await world(client, auth, lat=46.90, lon=1.69)
        day = dt.datetime.now(paris).date() + dt.timedelta(days=1)
        expected = []
        for days in range(3):  # each day: the near site's slots (in time), then the far site's
            start = dt.datetime.combine(day + dt.timedelta(days=days), dt.time(8), paris)
            far_ones = [await make_slot(client, auth, far, start=start + dt.timedelta(hours=h)) for h in (0, 2)]
            near_ones = [await make_slot(client, auth, near, start=start + dt.timedelta(hours=h)) for h in (1, 3)]
            expected += near_ones + far_ones
        seen, cursor, pages = [], None, 0
        while pages < 10:
            params = {"territory": "36", "limit": 5, "near_lat": 46.81, "near_lon": 1.69, "sort": "soonest_near",
                      **({"cursor": cursor} if cursor else {})}
            response = await search(client, auth("operator"), **params)
            assert response.status_code == 200, response.text
            body = response.json()
            seen += [i["id"] for i in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
            assert cursor.startswith("o")
        assert seen == expected and pages == 3


class TestSearchPlan:
    async def test_the_planner_walks_the_partial_index_of_free_slots(self, client, auth, connection):
        w = await world(client, auth)
        # 20 000 slots over 20 départements (a site in each) so that the planner prefers the index to a scan.
        await scalar(connection, """
            WITH codes AS (
                SELECT code, row_number() OVER (ORDER BY code) - 1 AS n
                FROM unnest(ARRAY['01','02','03','04','05','06','07','08','09','10','11','12','13','14','15',
                                  '16','17','18','19','36']) AS code
            ), sites_made AS (
                INSERT INTO sites (name, kind, address, postcode, lat, lon, territory_code)
                SELECT 'Cabinet ' || code, 'cabinet', '1 rue', '00000', 46.8, 1.7, code FROM codes
                RETURNING id, territory_code
            )
            INSERT INTO slots (practitioner_id, site_id, territory_code, start_at, end_at, mode)
            SELECT :p, s.id, s.territory_code,
                   now() + make_interval(mins => 20 * g), now() + make_interval(mins => 20 * g + 20), 'in_person'
            FROM generate_series(1, 20000) AS g
            JOIN codes c ON c.n = g % 20
            JOIN sites_made s ON s.territory_code = c.code
        """, p=w.practitioner_id)
        await connection.execute(text("ANALYZE slots"))
        from sqlalchemy.ext.asyncio import AsyncSession

        async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
            plan = await slot_search.explain(session, SearchFilter(codes=["36"], limit=20))
            plan_many = await slot_search.explain(session, SearchFilter(codes=["36", "18"], limit=20))
        assert "ix_slots_free_territory_start" in plan, plan
        assert "ix_slots_free_territory_start" in plan_many, plan_many
        assert (await search(client, auth("operator"), territory="36")).status_code == 200


class TestExtremeInput:
    async def test_instants_at_the_edges_of_the_calendar_are_answered_not_crashed_on(self, client, auth):
        for value in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
            response = await search(client, auth("operator"), territory="36", start_from=value)
            assert response.status_code == 422, response.text
            assert response.json()["field"] == "start_from"
