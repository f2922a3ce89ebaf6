from __future__ import annotations

import csv
import io
import random

import httpx
import pytest

from tests.stats.helpers import insert_call, insert_slot, monthly
from tests.support.factories import create_cpts

ZERO_DECISION = {"count": 0, "share": 0.0}


class TestMonthsAreLocalMonths:
    async def test_an_evening_call_on_31_january_is_january_in_paris_and_february_in_reunion(
        self, client, connection, auth
    ):
        await insert_call(connection, "2022-01-31T20:30:00+00:00", ["advice"], territory="36")
        await insert_call(connection, "2022-01-31T20:30:00+00:00", ["advice"], territory="974")
        paris = await monthly(client, auth("admin"), "36", "2022-01", "2022-02")
        reunion = await monthly(client, auth("admin"), "974", "2022-01", "2022-02")
        assert [m["calls"] for m in paris["months"]] == [1, 0]
        assert [m["calls"] for m in reunion["months"]] == [0, 1]
        assert reunion["timezone"] == "Indian/Reunion"

    async def test_a_call_at_23_30_utc_on_the_last_day_of_a_month_is_next_month_in_paris(
        self, client, connection, auth
    ):
        await insert_call(connection, "2022-01-31T23:30:00+00:00", ["advice"])
        report = await monthly(client, auth("admin"), "36", "2022-01", "2022-02")
        assert [m["month"] for m in report["months"]] == ["2022-01", "2022-02"]
        assert [m["calls"] for m in report["months"]] == [0, 1]

    async def test_the_period_bounds_are_local_midnights(self, client, connection, auth):
        # 31 Dec 2021 23:30 UTC is 1 Jan 2022 00:30 in Paris: inside 2022.
        await insert_call(connection, "2021-12-31T23:30:00+00:00", ["advice"])
        # 31 Dec 2022 23:30 UTC is 1 Jan 2023 in Paris: outside 2022.
        await insert_call(connection, "2022-12-31T23:30:00+00:00", ["advice"])
        report = await monthly(client, auth("admin"))
        assert report["total"]["calls"] == 1
        assert report["months"][0]["calls"] == 1 and report["months"][11]["calls"] == 0

    async def test_summer_time_is_respected(self, client, connection, auth):
        # 31 July 22:30 UTC is 1 August 00:30 in Paris (UTC+2 in summer).
        await insert_call(connection, "2022-07-31T22:30:00+00:00", ["slot"])
        report = await monthly(client, auth("admin"), "36", "2022-07", "2022-08")
        assert [m["calls"] for m in report["months"]] == [0, 1]


class TestEmptyPeriod:
    async def test_a_period_without_calls_gives_zeros_for_every_month(self, client, auth):
        report = await monthly(client, auth("analyst", ["36"]), "36", "2022-01", "2022-12")
        assert report["territory"] == "36" and report["from"] == "2022-01" and report["to"] == "2022-12"
        assert [m["month"] for m in report["months"]] == [f"2022-{i:02d}" for i in range(1, 13)]
        for figures in [*report["months"], report["total"]]:
            assert figures["calls"] == 0
            assert figures["decisions"]["advice"] == ZERO_DECISION
            assert figures["decisions"]["other"]["share"] == 0.0
            assert figures["monthly_average_calls"] == 0
            assert figures["avoided_ed_visits"]["count"] == 0
            assert figures["slots"] == {"published": 0, "published_hours": 0.0, "booked": 0, "fill_rate": 0.0,
                                        "over_capacity": 0, "effectors_active": 0}
            assert figures["bookings"]["honoured_rate"] == 0.0
            assert figures["callback_delay"]["median_minutes"] is None
            assert figures["callback_delay"]["share_within_60_minutes"] == 0.0

    async def test_calls_in_another_month_leave_the_others_at_zero(self, client, connection, auth):
        await insert_call(connection, "2022-03-10T10:00:00+01:00", ["advice"])
        report = await monthly(client, auth("admin"))
        assert [m["calls"] for m in report["months"]] == [0, 0, 1] + [0] * 9
        assert report["total"]["monthly_average_calls"] == round(1 / 12, 2)


class TestAccess:
    async def test_an_analyst_of_the_indre_asking_for_the_cher_gets_404(self, client, auth):
        response = await client.get("/v1/stats/monthly", params={"territory": "18", "from": "2022-01", "to": "2022-12"},
                                    headers=auth("analyst", ["36"]))
        assert response.status_code == 404
        assert response.json()["error"] == "NotFound"

    async def test_an_operator_may_not_read_statistics(self, client, auth):
        response = await client.get("/v1/stats/monthly", params={"territory": "36", "from": "2022-01", "to": "2022-01"},
                                    headers=auth("operator", ["36"]))
        assert response.status_code == 403

    async def test_without_a_token_it_is_401(self, client):
        response = await client.get("/v1/stats/monthly", params={"territory": "36", "from": "2022-01", "to": "2022-01"})
        assert response.status_code == 401

    async def test_an_unknown_territory_is_404(self, client, auth):
        response = await client.get("/v1/stats/monthly", params={"territory": "99", "from": "2022-01", "to": "2022-01"},
                                    headers=auth("admin"))
        assert response.status_code == 404

    async def test_a_departement_analyst_reads_its_cpts_but_a_cpts_analyst_not_its_departement(
        self, client, auth
    ):
        await create_cpts(client, auth("admin"), "36-issoudun")
        assert (await client.get("/v1/stats/monthly", params={"territory": "36-issoudun", "from": "2022-01",
                                 "to": "2022-01"}, headers=auth("analyst", ["36"]))).status_code == 200
        response = await client.get("/v1/stats/monthly", params={"territory": "36", "from": "2022-01", "to": "2022-01"},
                                    headers=auth("analyst", ["36-issoudun"]))
        assert response.status_code == 404

    async def test_the_national_report_is_for_admins_and_national_analysts_only(self, client, auth):
        params = {"territory": "FR", "from": "2022-01", "to": "2022-01"}

        async def status(headers):
            return (await client.get("/v1/stats/monthly", params=params, headers=headers)).status_code

        assert await status(auth("analyst", ["36"])) == 404
        assert await status(auth("analyst", ["FR"])) == 200
        assert await status(auth("admin")) == 200


class TestValidation:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"from": "2022-13", "to": "2022-12"}, "from"),
            ({"from": "2022-1", "to": "2022-12"}, "from"),
            ({"from": "janvier", "to": "2022-12"}, "from"),
            ({"from": "2022-01", "to": "2022-00"}, "to"),
            ({"from": "2022-06", "to": "2022-05"}, "to"),
            ({"from": "2000-01", "to": "2022-12"}, "to"),
            ({"from": "2022-01", "to": "2022-12", "format": "xml"}, "format"),
            ({"from": "2022-01", "to": "2022-12", "avoided_ed_method": "guess"}, "avoided_ed_method"),
        ],
    )
    async def test_a_bad_parameter_is_422_naming_it(self, client, auth, params, field):
        response = await client.get("/v1/stats/monthly", params={"territory": "36", **params}, headers=auth("admin"))
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
        assert response.json()["detail"]

    async def test_a_missing_period_is_422(self, client, auth):
        response = await client.get("/v1/stats/monthly", params={"territory": "36"}, headers=auth("admin"))
        assert response.status_code == 422
        assert "from" in response.json()["detail"]


class TestDecisionCounting:
    async def test_a_call_counts_once_per_kind_and_shares_are_over_calls(self, client, connection, auth):
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice", "prescription"])
        await insert_call(connection, "2022-05-02T11:00:00+02:00", ["prescription", "prescription"])
        await insert_call(connection, "2022-05-02T12:00:00+02:00", ["slot"])
        await insert_call(connection, "2022-05-02T13:00:00+02:00", [])
        may = (await monthly(client, auth("admin"), "36", "2022-05", "2022-05"))["months"][0]
        assert may["calls"] == 4
        assert may["decisions"]["advice"] == {"count": 1, "share": 0.25}
        assert may["decisions"]["prescription"] == {"count": 2, "share": 0.5}
        assert may["decisions"]["slot"] == {"count": 1, "share": 0.25}
        assert may["decisions"]["other"]["count"] == 0
        # Two prescriptions are one kind: only the advice + prescription call carries several kinds.
        assert may["calls_with_several_decisions"] == 1
        assert may["calls_without_decision"] == 1

    async def test_other_decisions_are_broken_down_by_reason(self, client, connection, auth):
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["other:no_answer"])
        await insert_call(connection, "2022-05-02T11:00:00+02:00", ["other:no_answer", "other:redirected_15"])
        await insert_call(connection, "2022-05-02T12:00:00+02:00", ["other:redirected_ed"])
        await insert_call(connection, "2022-05-02T13:00:00+02:00", ["advice", "other:other"])
        other = (await monthly(client, auth("admin"), "36", "2022-05", "2022-05"))["total"]["decisions"]["other"]
        assert other["count"] == 4 and other["share"] == 1.0
        assert other["by_reason"] == {"no_answer": 2, "redirected_15": 1, "redirected_ed": 1, "other": 1}

    async def test_calls_are_counted_by_channel(self, client, connection, auth):
        for channel in ("15", "15", "116117", "urgences", "professionnel"):
            await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"], channel=channel)
        total = (await monthly(client, auth("admin"), "36", "2022-05", "2022-05"))["total"]
        assert total["calls_by_channel"] == {"15": 2, "116117": 1, "urgences": 1, "professionnel": 1, "autre": 0}

    async def test_a_departement_counts_its_cpts_and_not_its_neighbours(self, client, connection, auth):
        await create_cpts(client, auth("admin"), "36-issoudun")
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"], territory="36")
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["slot"], territory="36-issoudun")
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["slot"], territory="18")
        indre = await monthly(client, auth("analyst", ["36"]), "36", "2022-05", "2022-05")
        assert indre["total"]["calls"] == 2 and indre["scope"] == ["36", "36-issoudun"]
        cpts = await monthly(client, auth("analyst", ["36"]), "36-issoudun", "2022-05", "2022-05")
        assert cpts["total"]["calls"] == 1 and cpts["total"]["decisions"]["slot"]["count"] == 1
        national = await monthly(client, auth("admin"), "FR", "2022-05", "2022-05")
        assert national["total"]["calls"] == 3

    async def test_the_national_report_reads_each_call_in_its_own_time_zone(self, client, connection, auth):
        await insert_call(connection, "2022-01-31T20:30:00+00:00", ["advice"], territory="36")
        await insert_call(connection, "2022-01-31T20:30:00+00:00", ["advice"], territory="974")
        national = await monthly(client, auth("admin"), "FR", "2022-01", "2022-02")
        assert [m["calls"] for m in national["months"]] == [1, 1]

    async def test_every_figure_matches_a_count_made_call_by_call(self, client, connection, auth):
        rng = random.Random(20221)
        expected = {m: {"calls": 0, "advice": 0, "slot": 0, "prescription": 0, "other": 0, "several": 0}
                    for m in range(1, 13)}
        for _ in range(240):
            month, day, hour = rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23)
            kinds = rng.sample(["advice", "slot", "prescription", "other:no_answer"], rng.choice([0, 1, 1, 1, 2, 3]))
            await insert_call(connection, f"2022-{month:02d}-{day:02d}T{hour:02d}:15:00+01:00", kinds)
            row = expected[month]
            row["calls"] += 1
            for kind in kinds:
                row[kind.partition(":")[0]] += 1
            row["several"] += len(kinds) >= 2
        report = await monthly(client, auth("admin"))
        for figures in report["months"]:
            want = expected[int(figures["month"][5:])]
            got = {"calls": figures["calls"], "several": figures["calls_with_several_decisions"],
                   **{k: figures["decisions"][k]["count"] for k in ("advice", "slot", "prescription", "other")}}
            assert got == want, figures["month"]
        assert report["total"]["calls"] == 240
        assert report["total"]["decisions"]["slot"]["count"] == sum(r["slot"] for r in expected.values())


class TestAvoidedEdVisits:
    async def _calls(self, connection):
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"], intent="urgences")
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["slot", "other:no_answer"], intent="urgences")
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["other:redirected_ed"], intent="urgences")
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice", "other:redirected_15"], intent="urgences")
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["prescription"], intent="medecin")
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["slot"], intent="inconnu")

    async def test_declared_intent_counts_urgences_calls_not_sent_to_the_ed_or_the_15(self, client, connection, auth):
        await self._calls(connection)
        avoided = (await monthly(client, auth("admin"), "36", "2022-05", "2022-05"))["total"]["avoided_ed_visits"]
        assert avoided["method"] == "declared_intent"
        assert avoided["count"] == 2
        assert avoided["parameters"]["calls_with_that_intent"] == 4
        assert sorted(avoided["parameters"]["excluded_other_reasons"]) == ["redirected_15", "redirected_ed"]

    async def test_a_request_may_ask_for_the_coefficients_of_the_territory(self, client, connection, auth):
        await self._calls(connection)
        report = await monthly(client, auth("admin"), "36", "2022-05", "2022-05", avoided_ed_method="coefficients")
        avoided = report["total"]["avoided_ed_visits"]
        # default coefficients: advice 0.1 × 2 + slot 0.3 × 2 + prescription 0.1 × 1 + other 0 × 3 = 0.9 → 1
        assert avoided == {"count": 1, "method": "coefficients", "parameters": {
            "coefficients": {"advice": 0.1, "slot": 0.3, "prescription": 0.1, "other": 0.0},
            "formula": avoided["parameters"]["formula"]}}

    async def test_the_territory_setting_chooses_the_method_and_its_coefficients(self, client, connection, auth):
        await self._calls(connection)
        body = {"avoided_ed_method": "coefficients",
                "avoided_ed_coefficients": {"advice": 0.25, "slot": 0.5, "prescription": 0.5, "other": 0}}
        assert (await client.patch("/v1/territories/36", json=body, headers=auth("admin"))).status_code == 200
        avoided = (await monthly(client, auth("admin"), "36", "2022-05", "2022-05"))["total"]["avoided_ed_visits"]
        # 0.25 × 2 + 0.5 × 2 + 0.5 × 1 = 2.0; rounding is half up on exact decimals
        assert avoided["method"] == "coefficients" and avoided["count"] == 2
        other = await monthly(client, auth("admin"), "36", "2022-05", "2022-05", avoided_ed_method="declared_intent")
        assert other["total"]["avoided_ed_visits"]["count"] == 2
        assert other["total"]["avoided_ed_visits"]["method"] == "declared_intent"

    async def test_half_an_avoided_visit_rounds_up(self, client, connection, auth):
        body = {"avoided_ed_method": "coefficients",
                "avoided_ed_coefficients": {"advice": 0.5, "slot": 0, "prescription": 0, "other": 0}}
        assert (await client.patch("/v1/territories/36", json=body, headers=auth("admin"))).status_code == 200
        for _ in range(5):
            await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"])
        avoided = (await monthly(client, auth("admin"), "36", "2022-05", "2022-05"))["total"]["avoided_ed_visits"]
        assert avoided["count"] == 3


class TestSlotsAndBookings:
    async def test_published_booked_and_outcomes_by_local_month_of_the_slot(self, client, connection, auth):
        await insert_slot(connection, "2022-05-10T09:00:00+02:00", 40)
        await insert_slot(connection, "2022-05-10T10:00:00+02:00", 30, status="withdrawn")
        await insert_slot(connection, "2022-05-11T09:00:00+02:00", 20, booking="fulfilled")
        await insert_slot(connection, "2022-05-12T09:00:00+02:00", 20, booking="fulfilled")
        await insert_slot(connection, "2022-05-13T09:00:00+02:00", 20, booking="noshow")
        await insert_slot(connection, "2022-05-14T09:00:00+02:00", 10, booking="active")
        await insert_slot(connection, "2022-05-15T09:00:00+02:00", 10, booking="cancelled")
        # 31 May 22:30 UTC is June in Paris.
        await insert_slot(connection, "2022-05-31T22:30:00+00:00", 60)
        report = await monthly(client, auth("admin"), "36", "2022-05", "2022-06")
        may, june = report["months"]
        assert may["slots"] == {"published": 6, "published_hours": 2.0, "booked": 4, "fill_rate": 4 / 6,
                                "over_capacity": 0, "effectors_active": 6}  # each slot its own doctor
        assert may["bookings"] == {"fulfilled": 2, "noshow": 1, "without_outcome": 1, "honoured_rate": 2 / 3}
        assert june["slots"]["published"] == 1 and june["slots"]["published_hours"] == 1.0
        assert report["total"]["slots"]["published"] == 7 and report["total"]["slots"]["effectors_active"] == 7


class TestCallbackDelay:
    async def test_median_p90_and_shares_within_targets(self, client, connection, auth):
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"], priority="P1", callback_after_minutes=10)
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"], priority="P1", callback_after_minutes=30)
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"], callback_after_minutes=90)
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["slot"], priority="P2", callback_after_minutes=200)
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"])
        delay = (await monthly(client, auth("admin"), "36", "2022-05", "2022-05"))["total"]["callback_delay"]
        assert delay["called_back"] == 4
        assert delay["median_minutes"] == 60.0  # between 30 and 90
        assert delay["p90_minutes"] == pytest.approx(167.0)  # 90 + 0.7 × 110
        assert delay["share_within_60_minutes"] == 0.5
        # P1 target 20: 10 yes, 30 no; no priority → P3 (180): 90 yes; P2 target 60: 200 no.
        assert delay["share_within_priority_target"] == 0.5

    async def test_the_territory_targets_are_used(self, client, connection, auth):
        body = {"priority_delays": {"P1": 40, "P2": 60, "P3": 60}}
        assert (await client.patch("/v1/territories/36", json=body, headers=auth("admin"))).status_code == 200
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"], priority="P1", callback_after_minutes=30)
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"], callback_after_minutes=90)
        delay = (await monthly(client, auth("admin"), "36", "2022-05", "2022-05"))["total"]["callback_delay"]
        assert delay["share_within_priority_target"] == 0.5


class TestNoPatientIdentity:
    async def test_neither_json_nor_csv_carries_a_patient_field_or_value(self, client, connection, auth):
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"], family_name="Zyxomma",
                          phone="0611223344")
        headers = auth("analyst", ["36"])
        params = {"territory": "36", "from": "2022-05", "to": "2022-05"}
        as_json = await client.get("/v1/stats/monthly", params=params, headers=headers)
        as_csv = await client.get("/v1/stats/monthly", params={**params, "format": "csv"}, headers=headers)
        for body in (as_json.text, as_csv.text):
            assert "Zyxomma" not in body and "Jeanne" not in body and "0611223344" not in body
            assert "patient" not in body.lower() and "phone" not in body.lower()
        assert as_json.json()["total"]["calls"] == 1


class TestCsv:
    async def test_csv_has_a_row_per_month_and_a_total_row_matching_the_json(self, client, connection, auth):
        await insert_call(connection, "2022-02-02T10:00:00+01:00", ["advice", "slot"], channel="116117")
        await insert_call(connection, "2022-03-02T10:00:00+01:00", ["other:no_answer"])
        params = {"territory": "36", "from": "2022-01", "to": "2022-12", "format": "csv"}
        response = await client.get("/v1/stats/monthly", params=params, headers=auth("admin"))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["month"] for r in rows] == [f"2022-{i:02d}" for i in range(1, 13)] + ["total"]
        assert rows[1]["calls"] == "1" and rows[1]["decisions_slot_count"] == "1"
        assert rows[1]["calls_by_channel_116117"] == "1" and rows[1]["calls_with_several_decisions"] == "1"
        assert rows[-1]["calls"] == "2" and rows[-1]["decisions_other_by_reason_no_answer"] == "1"
        assert rows[-1]["monthly_average_calls"] == str(round(2 / 12, 2))
        assert {r["territory"] for r in rows} == {"36"}


async def test_the_report_is_read_only(client: httpx.AsyncClient, auth) -> None:
    response = await client.post("/v1/stats/monthly", params={"territory": "36", "from": "2022-01", "to": "2022-01"},
                                 headers=auth("admin"))
    assert response.status_code == 405
