"""Who may call what, for every operation of the API: one row per operation, checked for every role,
for a territory not one's own, and for missing, expired, forged and unsigned tokens.

A new operation without its row here fails the first test: access is decided when a route is added.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from app.auth.principal import ROLES
from app.auth.tokens import create_token
from app.notices import links
from tests.bookings.helpers import make_call, make_slot, world

ALL = frozenset(ROLES)
STAFF = frozenset({"operator", "regulator", "admin"})
SEARCHERS = STAFF | {"urgences", "referrer"}
EFFECTOR = frozenset({"effector", "admin"})
FHIR_READERS = frozenset({"platform", "operator", "regulator", "urgences", "admin"})
# Who declares appointments made on our slots (FrAppointmentSAS): a practitioner's agenda, the national systems.
DECLARERS = frozenset({"effector", "platform", "admin"})
PUBLIC = None  # no token needed
# The MT queue (docs/mt.md): who enters and reads requests (each within his walls), who matches, who coordinates.
MT_REQUESTERS = frozenset({"coordinator", "regulator", "operator", "effector", "referrer", "admin"})
MT_MATCHERS = frozenset({"coordinator", "regulator", "admin"})
COORDINATION = frozenset({"coordinator", "admin"})


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # with {placeholders} filled from the world below
    roles: frozenset[str] | None  # who passes the role check (None: anyone, without a token)
    body: Any = None
    # The path names an object of the Indre: a token of the Cher allowed by its role gets 404.
    walled: bool = False
    # An endless answer (a live stream): only refusals are checked here, the answers that stream are
    # checked against a served app in tests/console/test_live.py.
    endless: bool = False
    # A public route of a feature this test app does not configure (the identity provider's sign-in):
    # 404 whoever asks, with or without a token — never a 401 or 403.
    unconfigured: bool = False
    # A form (application/x-www-form-urlencoded) sent instead of a JSON body: a page without JavaScript.
    form: dict[str, str] | None = None


# operation id → what it is and who may call it (ARCHITECTURE.md, "Roles").
TABLE: dict[str, Row] = {
    "create_territory": Row("POST", "/v1/territories", frozenset({"admin"}), {}),
    "list_territories": Row("GET", "/v1/territories", ALL),
    "get_territory": Row("GET", "/v1/territories/36", ALL, walled=True),
    "update_territory": Row("PATCH", "/v1/territories/36", frozenset({"admin"}), {}),
    "create_practitioner": Row("POST", "/v1/practitioners", frozenset({"admin"}), {}),
    "list_practitioners": Row("GET", "/v1/practitioners", SEARCHERS | {"effector", "coordinator"}),
    "set_my_webhook": Row("PUT", "/v1/practitioners/me/webhook", frozenset({"effector"}), {}),
    "update_my_settings": Row("PATCH", "/v1/practitioners/me", frozenset({"effector"}), {}),
    "get_practitioner": Row("GET", "/v1/practitioners/{practitioner}", SEARCHERS | {"effector", "coordinator"},
                            walled=True),
    "update_practitioner": Row("PATCH", "/v1/practitioners/{practitioner}", frozenset({"admin"}), {}),
    "create_site": Row("POST", "/v1/sites", frozenset({"admin"}), {}),
    "list_sites": Row("GET", "/v1/sites", ALL - {"platform"}),
    "get_site": Row("GET", "/v1/sites/{site}", ALL - {"platform"}, walled=True),
    "search_slots": Row("GET", "/v1/slots/search?territory=36", SEARCHERS, walled=True),
    "slot_agenda": Row("GET", "/v1/slots/{slot}/agenda", STAFF, walled=True),
    "hold_slot": Row("POST", "/v1/slots/{slot}/hold", STAFF, {"call_id": "{call}"}, walled=True),
    "release_slot_hold": Row("DELETE", "/v1/slots/{slot}/hold?call_id={call}", STAFF, walled=True),
    "create_booking": Row("POST", "/v1/bookings", SEARCHERS, {}),
    "list_bookings": Row("GET", "/v1/bookings", SEARCHERS | {"effector"}),
    "get_booking": Row("GET", "/v1/bookings/{booking}", SEARCHERS | {"effector"}, walled=True),
    # urgences cancels only the bookings it made: this one a regulator made, so 403 (tested apart); a
    # referrer sees only the bookings he made, so this one does not exist for him (404).
    "cancel_booking": Row("POST", "/v1/bookings/{booking}/cancel", STAFF | {"effector", "referrer"}, walled=True),
    "post_booking_outcome": Row("POST", "/v1/bookings/{booking}/outcome", frozenset({"effector"}), {}),
    "publish_slot": Row("POST", "/v1/slots", EFFECTOR, {}),
    "publish_slots_bulk": Row("POST", "/v1/slots/bulk", EFFECTOR, {}),
    "import_slots_ics": Row("POST", "/v1/slots/import-ics?site_id={site}", EFFECTOR),
    "list_my_slots": Row("GET", "/v1/slots", EFFECTOR),
    "get_my_slot": Row("GET", "/v1/slots/{slot}", EFFECTOR, walled=True),
    "withdraw_slot": Row("DELETE", "/v1/slots/{spare_slot}", EFFECTOR, walled=True),
    "create_availability_rule": Row("POST", "/v1/availability-rules", EFFECTOR, {}),
    "list_availability_rules": Row("GET", "/v1/availability-rules", EFFECTOR),
    "extend_availability_rules": Row("POST", "/v1/availability-rules/extend", EFFECTOR),
    "get_availability_rule": Row("GET", "/v1/availability-rules/{rule}", EFFECTOR, walled=True),
    "update_availability_rule": Row("PATCH", "/v1/availability-rules/{rule}", EFFECTOR, {}, walled=True),
    "end_availability_rule": Row("DELETE", "/v1/availability-rules/{rule}", EFFECTOR, walled=True),
    "get_participation": Row("GET", "/v1/practitioners/{practitioner}/participation",
                             frozenset({"effector", "analyst", "admin"}), walled=True),
    "create_call": Row("POST", "/v1/calls", STAFF, {}),
    "list_calls": Row("GET", "/v1/calls", STAFF),
    "find_calls": Row("POST", "/v1/calls/find", STAFF, {"q": "dur"}),
    "create_referral": Row("POST", "/v1/referrals", frozenset({"referrer"}), {}),
    "list_my_referrals": Row("GET", "/v1/referrals", frozenset({"referrer"})),
    "create_referral_link": Row("POST", "/v1/referral-links", STAFF, {"territory_code": "36"}, walled=True),
    "self_refer": Row("POST", "/v1/self-referrals/{self_referral}", PUBLIC, {"phone": "0612345678"}),
    "import_calls": Row("POST", "/v1/calls/import", frozenset({"admin", "analyst"})),
    "purge_calls": Row("POST", "/v1/calls/purge", frozenset({"admin"}), {"days": 10_000}),
    "get_call": Row("GET", "/v1/calls/{call}", STAFF, walled=True),
    "assign_call": Row("POST", "/v1/calls/{call}/assign", STAFF, walled=True),
    "correct_call": Row("PATCH", "/v1/calls/{call}", STAFF, {}, walled=True),
    "add_observation": Row("POST", "/v1/calls/{call}/observations", STAFF, {"text": "vu"}, walled=True),
    "list_observations": Row("GET", "/v1/calls/{call}/observations", STAFF, walled=True),
    "call_timeline": Row("GET", "/v1/calls/{call}/timeline", STAFF, walled=True),
    "record_callback": Row("POST", "/v1/calls/{call}/callback", frozenset({"regulator", "admin"}), walled=True),
    "add_decision": Row("POST", "/v1/calls/{call}/decisions", frozenset({"regulator", "admin"}),
                        {"kind": "advice"}, walled=True),
    "revoke_decision": Row("POST", "/v1/calls/{call}/decisions/{decision}/revoke", frozenset({"regulator", "admin"}),
                           walled=True),
    "close_call": Row("POST", "/v1/calls/{call}/close", STAFF, walled=True),
    "list_my_booking_events": Row("GET", "/v1/effectors/me/bookings", frozenset({"effector"})),
    "stats_monthly": Row("GET", "/v1/stats/monthly?territory=36&from=2026-01&to=2026-01",
                         frozenset({"analyst", "admin"}), walled=True),
    "list_audit": Row("GET", "/v1/audit", frozenset({"admin"})),
    "get_me": Row("GET", "/v1/me", ALL),
    "create_user": Row("POST", "/v1/users", frozenset({"admin"}), {}),
    "list_users": Row("GET", "/v1/users", frozenset({"admin"})),
    "get_user": Row("GET", f"/v1/users/{uuid.UUID(int=0)}", frozenset({"admin"})),
    "update_user": Row("PATCH", f"/v1/users/{uuid.UUID(int=0)}", frozenset({"admin"}), {}),
    "list_held_declarations": Row("GET", "/v1/declarations", frozenset({"admin"})),
    "get_sign_in_config": Row("GET", "/v1/auth/config", PUBLIC),
    "sign_in": Row("POST", "/v1/auth/token", PUBLIC, {"code": "c", "code_verifier": "v" * 43,
                                                      "redirect_uri": "http://t/console/"}, unconfigured=True),
    "renew_session": Row("POST", "/v1/auth/refresh", PUBLIC, unconfigured=True),
    "sign_out": Row("POST", "/v1/auth/sign-out", PUBLIC),
    "get_terms": Row("GET", "/v1/auth/terms", PUBLIC),
    # Only an account of the users registry has terms to accept: a development token of any role is refused.
    "accept_terms": Row("POST", "/v1/auth/terms", frozenset(), {"version": "x"}),
    "stream_calls": Row("GET", "/v1/stream", STAFF, endless=True),
    "fhir_search_slots": Row("GET", "/fhir/Slot?status=free&schedule.actor:Practitioner.identifier="
                                    "urn:oid:1.2.250.1.71.4.2.1|810002909371", FHIR_READERS),
    "fhir_read_slot": Row("GET", "/fhir/Slot/{spare_slot}", FHIR_READERS, walled=True),
    "fhir_search_schedules": Row("GET", "/fhir/Schedule?actor=Practitioner/{practitioner}", FHIR_READERS),
    "fhir_read_schedule": Row("GET", "/fhir/Schedule/{role}", FHIR_READERS, walled=True),
    "fhir_read_practitioner_role": Row("GET", "/fhir/PractitionerRole/{role}", FHIR_READERS, walled=True),
    "fhir_read_healthcare_service": Row("GET", "/fhir/HealthcareService/36-nowhere", FHIR_READERS),
    "fhir_read_organization": Row("GET", "/fhir/Organization/36-nowhere", FHIR_READERS),
    "fhir_search_practitioners": Row("GET", "/fhir/Practitioner", FHIR_READERS),
    "fhir_read_practitioner": Row("GET", "/fhir/Practitioner/{practitioner}", FHIR_READERS, walled=True),
    # The national platform's regulator accounts (INT_R02): it alone administers them, and an administrator.
    "fhir_create_regulator": Row("POST", "/fhir/Practitioner", frozenset({"platform", "admin"}), {}),
    "fhir_update_regulator": Row("PUT", "/fhir/Practitioner?identifier=urn:oid:1.2.250.1.213.3.6|x",
                                 frozenset({"platform", "admin"}), {}),
    "fhir_create_appointment": Row("POST", "/fhir/Appointment", DECLARERS, {}),
    "fhir_update_appointment": Row("PUT", "/fhir/Appointment?identifier=urn:x|1", DECLARERS, {}),
    "fhir_update_appointment_by_id": Row("PUT", "/fhir/Appointment/{booking}", DECLARERS, {}),
    "fhir_read_appointment": Row("GET", "/fhir/Appointment/{booking}", DECLARERS, walled=True),
    "fhir_bulk_publish": Row("GET", "/fhir/$bulk-publish", FHIR_READERS),
    "fhir_bulk_publish_file": Row("GET", "/fhir/$bulk-publish/36/slots.ndjson", FHIR_READERS, walled=True),
    "fhir_metadata": Row("GET", "/fhir/metadata", PUBLIC),
    "health": Row("GET", "/health", PUBLIC),
    "ready": Row("GET", "/ready", PUBLIC),
    "metrics": Row("GET", "/metrics", PUBLIC),
    # the patient's cancel link: its signed token is the right (the first POST cancels, the next say it is done)
    "show_patient_link": Row("GET", "/p/{patient_link}", PUBLIC),
    "cancel_by_patient_link": Row("POST", "/p/{patient_link}", PUBLIC),
    "stop_reminders_by_patient_link": Row("POST", "/p/{patient_link}/no-reminder", PUBLIC),
    # patients without a médecin traitant
    "set_my_new_patients": Row("PUT", "/v1/practitioners/me/new-patients", frozenset({"effector"}), {}),
    "get_my_new_patients": Row("GET", "/v1/practitioners/me/new-patients", frozenset({"effector"})),
    "list_new_patient_doctors": Row("GET", "/v1/new-patient-doctors?territory=36", MT_MATCHERS, walled=True),
    "list_public_new_patient_doctors": Row("GET", "/v1/public/new-patient-doctors?territory=36", PUBLIC),
    "create_mt_request": Row("POST", "/v1/mt-requests", MT_REQUESTERS, {}),
    "list_mt_requests": Row("GET", "/v1/mt-requests", MT_REQUESTERS),
    "count_mt_requests": Row("GET", "/v1/mt-requests/counts?territory=36", MT_REQUESTERS, walled=True),
    "get_mt_request": Row("GET", "/v1/mt-requests/{mt_request}", MT_REQUESTERS, walled=True),
    "set_mt_request_priority": Row("POST", "/v1/mt-requests/{mt_request}/priority", COORDINATION,
                                   {"priority": "high", "reason": "isolement"}, walled=True),
    "list_mt_candidates": Row("GET", "/v1/mt-requests/{mt_request}/candidates", MT_MATCHERS, walled=True),
    "create_mt_proposal": Row("POST", "/v1/mt-requests/{mt_request}/proposals", COORDINATION,
                              {"practitioner_id": "{practitioner}", "patient_agreed": True}, walled=True),
    "list_my_mt_proposals": Row("GET", "/v1/mt-proposals", frozenset({"effector"})),
    "refuse_mt_proposal": Row("POST", "/v1/mt-proposals/{mt_proposal}/refuse", frozenset({"effector"}),
                              {"reason": "other"}, walled=True),
    "accept_mt_proposal": Row("POST", "/v1/mt-proposals/{mt_proposal}/accept", frozenset({"effector"}), walled=True),
    "book_mt_access_consultation": Row("POST", "/v1/mt-requests/{mt_request}/access", COORDINATION,
                                       {"slot_id": "{slot}"}, walled=True),
    "list_access_slots": Row("GET", "/v1/access-slots?territory=36", COORDINATION, walled=True),
    "import_mt_requests": Row("POST", "/v1/mt-requests/import", COORDINATION),
    "show_mt_answer_link": Row("GET", "/mt/{mt_link}", PUBLIC),
    "show_mt_self_request": Row("GET", "/v1/self-referrals/{self_referral}/mt", PUBLIC),
    "make_mt_self_request": Row("POST", "/v1/self-referrals/{self_referral}/mt", PUBLIC, form={"phone": "0612345678"}),
    "answer_mt_by_link": Row("POST", "/mt/{mt_link}", PUBLIC, form={"answer": "refuse", "reason": "other"}),
    "confirm_mt_found": Row("POST", "/v1/mt-requests/{mt_request}/found", frozenset({"coordinator", "effector",
                                                                                     "admin"}),
                            {"first_visit_on": "2026-01-01"}, walled=True),
    "close_mt_request": Row("POST", "/v1/mt-requests/{mt_request}/close", COORDINATION, {"reason": "moved"},
                            walled=True),
}


@pytest.fixture
async def place(client, auth, settings) -> dict[str, Any]:
    """Objects of the Indre that each row's path names, and a doctor of the Cher."""
    w = await world(client, auth)
    slot = await make_slot(client, auth, w)
    spare = await make_slot(client, auth, w, start=dt.datetime.now(dt.UTC) + dt.timedelta(hours=5))
    call = await make_call(client, auth)
    booked = await client.post("/v1/bookings", json={"slot_id": await make_slot(
        client, auth, w, start=dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)), "call_id": call["id"]},
        headers=auth("regulator"))
    rule = await client.post("/v1/availability-rules", headers=auth("admin", []), json={
        "practitioner_id": w.practitioner_id, "site_id": w.site["id"], "mode": "in_person", "weekdays": [3],
        "start_time": "18:00", "end_time": "19:00", "slot_minutes": 20,
        "valid_from": (dt.date.today() + dt.timedelta(days=40)).isoformat()})
    decision = (await client.get(f"/v1/calls/{call['id']}", headers=auth("regulator"))).json()["decisions"][0]
    link = await client.post("/v1/referral-links", json={"territory_code": "36"}, headers=auth("operator"))
    cher = await world(client, auth, territory="18")
    doctor = auth("effector", ["36"], practitioner_id=w.practitioner_id)
    offer = await client.put("/v1/practitioners/me/new-patients", headers=doctor, json={
        "accepting": True, "per_month": 5, "publics": ["any"], "site_ids": [w.site["id"]]})
    assert offer.status_code == 200, offer.text
    mt_request = await client.post("/v1/mt-requests", headers=auth("coordinator", ["36"]), json={
        "territory_code": "36", "source": "coordinator", "patient": {"phone": "0611223344", "postcode": "36000"}})
    mt_proposal = await client.post(f"/v1/mt-requests/{mt_request.json()['id']}/proposals",
                                    headers=auth("coordinator", ["36"]),
                                    json={"practitioner_id": w.practitioner_id, "patient_agreed": True})
    assert mt_proposal.status_code == 201, mt_proposal.text
    return {"mt_request": mt_request.json()["id"], "mt_proposal": mt_proposal.json()["id"],
            "mt_link": mt_proposal.json()["answer_link"]["token"],
            "practitioner": w.practitioner_id, "site": w.site["id"], "slot": slot, "spare_slot": spare,
            "call": call["id"], "booking": booked.json()["id"], "rule": rule.json()["id"], "decision": decision["id"],
            "cher_practitioner": cher.practitioner_id, "self_referral": link.json()["token"],
            "patient_link": links.sign(settings.link_secret, uuid.UUID(booked.json()["id"]),
                                       dt.datetime.now(dt.UTC) + dt.timedelta(hours=7)),
            "role": uuid.UUID(w.practitioner_id).hex + uuid.UUID(w.site["id"]).hex}


def _fill(value: Any, place: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**place)
    if isinstance(value, dict):
        return {k: _fill(v, place) for k, v in value.items()}
    return value


async def _call(client, row: Row, place: dict[str, Any], headers: dict[str, str]) -> int:
    body = _fill(row.body, place)
    response = await client.request(row.method, _fill(row.path, place), json=body, data=row.form, headers=headers)
    return response.status_code


def _token(settings, role: str, territory: str, place: dict[str, Any]) -> dict[str, str]:
    practitioner = (place["practitioner"] if territory == "36" else place["cher_practitioner"]) \
        if role == "effector" else None
    token = create_token(settings, role=role, territories=[territory], practitioner_id=practitioner,
                         referrer_kind="nurse" if role == "referrer" else None)
    return {"Authorization": f"Bearer {token}"}


class TestAuthorization:
    def test_every_operation_of_the_document_has_its_row(self, app):
        documented = {op["operationId"] for ops in app.openapi()["paths"].values() for op in ops.values()}
        assert documented == set(TABLE), (documented - set(TABLE), set(TABLE) - documented)

    async def test_each_role_passes_or_is_403_exactly_as_its_row_says(self, client, settings, place):
        wrong: list[str] = []
        for operation, row in TABLE.items():
            for role in ROLES:
                allowed = row.roles is None or role in row.roles
                if allowed and row.endless:
                    continue
                status = await _call(client, row, place, _token(settings, role, "36", place))
                if (allowed and status in (401, 403)) or (not allowed and status != 403):
                    wrong.append(f"{operation} as {role}: {status}")
        assert wrong == []

    async def test_another_territory_finds_nothing_of_the_indre(self, client, settings, place):
        wrong: list[str] = []
        for operation, row in TABLE.items():
            if not row.walled or row.roles is None:
                continue
            for role in sorted(row.roles - {"admin", "platform"}):  # national roles see every territory
                status = await _call(client, row, place, _token(settings, role, "18", place))
                if status != 404:
                    wrong.append(f"{operation} as {role} of the Cher: {status}")
        assert wrong == []

    async def test_no_token_an_expired_a_forged_or_an_unsigned_one_is_401_everywhere(
        self, app, client, settings, place
    ):
        # Four refused tokens per operation from one address outnumber the failed sign-ins an address may
        # make in a minute (tests/test_ratelimit.py holds that budget): here every 401 must be seen.
        app.state.limiter.per_minute["auth_failure"] = 100_000
        # The self-referral pages (the call's and the MT request's) share one small budget by address.
        app.state.limiter.per_minute["self_referral"] = 100_000
        now = int(time.time())
        claims = {"sub": "x", "role": "admin", "territories": [], "iss": settings.jwt_issuer}
        bad = {
            "none": {},
            "expired": {"Authorization": "Bearer " + jwt.encode({**claims, "exp": now - 10}, settings.jwt_secret,
                                                              algorithm="HS256")},
            "forged": {"Authorization": "Bearer " + jwt.encode({**claims, "exp": now + 600}, "y" * 40,
                                                             algorithm="HS256")},
            "alg none": {"Authorization": "Bearer " + jwt.encode({**claims, "exp": now + 600}, None,
                                                               algorithm="none")},
        }
        wrong: list[str] = []
        for operation, row in TABLE.items():
            for name, headers in bad.items():
                status = await _call(client, row, place, headers)
                public_ok = status == 404 if row.unconfigured else status < 400
                if (row.roles is None and not public_ok) or (row.roles is not None and status != 401):
                    wrong.append(f"{operation} with {name}: {status}")
        assert wrong == []
