"""The simulator at work: a SAS's traffic played through the public API, as its users would.

Doctors (one practitioner each, a site for every three) publish weekly rules with evening and weekend
hours; operators take the calls of the plan (tools/simulator/plan.py) with the patient's postcode,
priority and intent; regulators call back and decide — advice, a prescription sent to a pharmacy, an
"other" with its reason, or a slot: search, hold, book (which records the decision); the ED redirects
its share of the slot orientations itself; some bookings are cancelled and booked again (a
re-orientation); the doctors post whether the patient came once the slot has begun. Every step is an
HTTP request with the token of the role that makes it; nothing is written to the database directly.

The service stamps everything with its own clock: ``--speed`` paces the arrivals (simulated seconds per
real second; 0: as fast as the service answers), it does not move the service's time. The past comes in
through the calls import (``history``), since the API rightly refuses slots and bookings in the past.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.auth.tokens import create_token
from app.platform.config import Settings
from app.reference.identifiers import luhn_key
from tools.simulator.plan import KINDS, POSTCODES, PlannedCall, Profile, plan

SITE_KINDS = ("msp", "cabinet", "centre_sante", "sos_medecins")
FAMILY_NAMES = ("Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
                "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard")
GIVEN_NAMES = ("Camille", "Louise", "Hugo", "Jules", "Claire", "Paul", "Anne", "Marc", "Julie", "Pierre", "Sophie",
               "Luc")
# Weekly hours of the doctors, by thirds: weekday evenings; lunchtimes and Saturday mornings; weekends.
RULES = (
    [([1, 2, 3, 4, 5], "18:00", "20:00")],
    [([1, 2, 3, 4, 5], "12:00", "14:00"), ([6], "09:00", "12:00")],
    [([6], "14:00", "18:00"), ([7], "09:00", "13:00")],
)
# The regulators of each département's shift, named in the users registry: the queue says who has a call.
REGULATOR_NAMES = ("Dr Claire Morel", "Dr Paul Girard", "Dr Sophie Laurent")
OTHER_LABEL = {"no_answer": "pas de réponse au rappel", "redirected_15": "réorienté vers le 15",
               "redirected_ed": "adressé aux urgences", "other": "autre"}


@dataclass
class Tally:
    calls: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)  # calls per decision kind
    several: int = 0
    bookings: int = 0
    ed_redirections: int = 0
    cancellations: int = 0
    reoriented: int = 0
    no_slot: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    first_errors: list[str] = field(default_factory=list)
    slots_published: int = 0

    def error(self, what: str, response: httpx.Response | Exception) -> None:
        label = f"{what}: {response.status_code}" if isinstance(response, httpx.Response) else \
            f"{what}: {type(response).__name__}"
        self.errors[label] += 1
        if len(self.first_errors) < 5:
            detail = response.text[:200] if isinstance(response, httpx.Response) else str(response)[:200]
            self.first_errors.append(f"{label} {detail}")

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "by_channel": dict(self.by_channel), "decisions": dict(self.decisions),
                "calls_with_several_decisions": self.several, "bookings": self.bookings,
                "ed_redirections": self.ed_redirections, "cancellations": self.cancellations,
                "reoriented": self.reoriented, "no_slot": self.no_slot, "outcomes": dict(self.outcomes),
                "errors": dict(self.errors), "first_errors": self.first_errors,
                "slots_published": self.slots_published}


@dataclass(frozen=True)
class Shift:
    """How long people take, so that the queue looks like a shift's: a call waits for a regulator (a P1 a few
    minutes, a P3 up to half an hour), then he calls back and decides in a few more minutes. Times are
    simulated minutes, played at ``speed`` simulated seconds per real second but never more than
    ``people_speed`` times faster than life: the arrivals may be hurried, people only so much, so that at
    60 a P2 still waits a minute or more on screen. ``speed`` 0 (as fast as answered): nobody waits."""

    speed: float
    people_speed: float = 5.0

    def queue_minutes(self, call: PlannedCall) -> float:
        low, high = {"P1": (1, 4), "P2": (4, 15), "P3": (8, 30)}.get(call.priority, (4, 15))
        return low + (call.number * 7919 % 101) / 100 * (high - low)

    def regulation_minutes(self, call: PlannedCall) -> float:
        return 4 + (call.number * 104729 % 97) / 96 * 8

    def seconds(self, minutes: float) -> float:
        """Real seconds for ``minutes`` of a person's work."""
        if self.speed <= 0:
            return 0.0
        return minutes * 60 / min(self.speed, self.people_speed)


@dataclass
class Booked:
    booking_id: str
    practitioner_id: str
    start: dt.datetime
    noshow: bool


class Simulation:
    def __init__(self, base_url: str, settings: Settings, profile: Profile, *, seed: int = 1,
                 concurrency: int = 8, shift: Shift | None = None) -> None:
        self.profile = profile
        self.shift = shift  # None: every call is handled as soon as it is made
        self.seed = seed
        self.tally = Tally()
        self.booked: list[Booked] = []
        self.settings = settings
        self.http = httpx.AsyncClient(base_url=base_url, timeout=60.0,
                                      limits=httpx.Limits(max_connections=concurrency + 4))
        self.gate = asyncio.Semaphore(concurrency)
        departements = profile.departements
        self.tokens = {
            "admin": self._token("admin", []),
            "analyst": self._token("analyst", departements, sub="sim-analyste"),
        }
        # The people of each département's SAS and ED: one identity each, as the service's per-person limits
        # expect (one regulator booking for all France would be stopped by them, rightly).
        for departement in departements:
            for role, sub in (("operator", "sim-osnp"), ("regulator", "sim-regulateur"), ("urgences", "sim-ioa")):
                self.tokens[f"{role}-{departement}"] = self._token(role, [departement], sub=f"{sub}-{departement}")
            for number in range(len(REGULATOR_NAMES)):
                self.tokens[f"regulator-{departement}-{number}"] = self._token(
                    "regulator", [departement], sub=self.regulator_subject(departement, number))
        self.effectors: dict[str, str] = {}  # practitioner id -> his token
        self.names: dict[str, str] = {}  # practitioner id -> "Dr Given Family"
        self.backlog: set[int] = set()

    def _token(self, role: str, territories: list[str], **claims: Any) -> str:
        return create_token(self.settings, role=role, territories=territories, ttl_seconds=7 * 24 * 3600, **claims)

    def console_token(self, role: str, departement: str) -> str:
        """A token of the shift's people for the console: the first named regulator, the operator, the ED's
        nurse; a pharmacist for a referrer; the analyst; the admin."""
        if role == "regulator":
            return self.tokens[f"regulator-{departement}-0"]
        if role in ("operator", "urgences"):
            return self.tokens[f"{role}-{departement}"]
        if role == "referrer":
            return self._token("referrer", [departement], sub=f"sim-pharmacien-{departement}",
                               referrer_kind="pharmacist")
        return self.tokens[role]

    @staticmethod
    def regulator_subject(departement: str, number: int) -> str:
        return f"sim-regulateur-{departement}-{number + 1}"

    def _regulator(self, call: PlannedCall) -> dict[str, str]:
        """The regulator of the shift who handles this call, from taking it to closing it."""
        return {"Authorization": f"Bearer {self.tokens[f'regulator-{call.departement}-{call.number // 3 % 3}']}"}

    def _as(self, role: str, departement: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[f'{role}-{departement}' if departement else role]}"}

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A polite client: told to slow down (429), it waits as long as it is told, three times at most."""
        for _ in range(3):
            answer = await self.http.request(method, url, **kwargs)
            if answer.status_code != 429:
                return answer
            await asyncio.sleep(min(float(answer.headers.get("Retry-After") or 1), 10.0))
        return answer

    async def close(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------------------------ doctors

    async def setup(self) -> None:
        """The profile's doctors, their sites and weekly rules; those already there are kept."""
        for index, departement in enumerate(self.profile.departements):
            await self._setup_departement(index, departement)

    async def _setup_departement(self, index: int, departement: str) -> None:
        admin = self._as("admin")
        for number, name in enumerate(REGULATOR_NAMES):
            user = await self._request("POST", "/v1/users", headers=admin, json={
                "subject": self.regulator_subject(departement, number), "display_name": name,
                "role": "regulator", "territories": [departement]})
            if user.status_code not in (201, 409):  # 409: registered by an earlier run
                self.tally.error("user", user)
        places = POSTCODES.get(departement) or []
        if not places:
            return
        existing = await self._request("GET", "/v1/practitioners", params={"territory": departement, "limit": 500},
                                       headers=admin)
        known = {p["rpps"]: p for p in existing.json()} if existing.status_code == 200 else {}
        sites: list[dict[str, Any]] = []
        for number in range(self.profile.doctors_per_departement):
            body = f"18{index:03d}{number:05d}"
            rpps = body + luhn_key(body)
            doctor = known.get(rpps)
            if doctor is not None:  # his site and rules are there already
                self.names[doctor["id"]] = _doctor_name(doctor)
                self.effectors[doctor["id"]] = self._token("effector", [departement], practitioner_id=doctor["id"],
                                                           sub=f"sim-dr-{rpps}")
                continue
            if number % 3 == 0:
                postcode, lat, lon = places[(number * 7 + index) % len(places)]
                kind = SITE_KINDS[(number // 3) % len(SITE_KINDS)]
                site = await self._request("POST", "/v1/sites", headers=admin, json={
                    "name": f"{_site_label(kind)} {postcode}", "kind": kind, "address": f"{number + 1} rue de la Gare",
                    "postcode": postcode, "lat": lat, "lon": lon, "territory_code": departement,
                    "phone": f"02{index % 100:02d}{number:06d}"})
                if site.status_code != 201:
                    self.tally.error("site", site)
                    continue
                sites.append(site.json())
            # the site he works at is his own (over-capacity appointments are recorded only there), and the
            # regulation has his phone
            made = await self._request("POST", "/v1/practitioners", headers=admin, json={
                "rpps": rpps, "family_name": FAMILY_NAMES[(number + index) % len(FAMILY_NAMES)],
                "given_name": GIVEN_NAMES[number % len(GIVEN_NAMES)], "specialty_code": "SM54",
                "territory_codes": [departement], "phone": f"06{index % 100:02d}{number:06d}",
                "site_ids": [sites[-1]["id"]] if sites else []})
            if made.status_code != 201:
                self.tally.error("practitioner", made)
                continue
            doctor = made.json()
            self.names[doctor["id"]] = _doctor_name(doctor)
            self.effectors[doctor["id"]] = self._token("effector", [departement], practitioner_id=doctor["id"],
                                                       sub=f"sim-dr-{rpps}")
            if not sites:
                continue
            for weekdays, start, end in RULES[number % 3]:
                rule = await self._request("POST", "/v1/availability-rules", headers=admin, json={
                    "practitioner_id": doctor["id"], "site_id": sites[-1]["id"], "mode": "in_person",
                    "weekdays": weekdays, "start_time": start, "end_time": end, "slot_minutes": 20,
                    "valid_from": dt.date.today().isoformat()})
                if rule.status_code != 201:
                    self.tally.error("rule", rule)
                else:
                    self.tally.slots_published += int(rule.json().get("slots_created", 0) or 0)

    # -------------------------------------------------------------------------------------- calls

    async def run(self, calls: list[PlannedCall], speed: float, progress: Any = None, backlog: int = 0) -> None:
        """The calls, each when its time comes (``speed`` simulated seconds per real second; 0: at once). The
        first ``backlog`` calls come at once, the shift being joined under way: a third of them taken already
        (with a ``shift``, the others wait for a regulator as any call does)."""
        if not calls:
            return
        began = time.monotonic()
        origin = calls[min(backlog, len(calls)) - 1].at if backlog else calls[0].at
        self.backlog = {call.number for call in calls[:backlog]}
        for index, call in enumerate(calls[:backlog]):  # a queue joined under way holds every priority
            call.priority = ("P2", "P3", "P1")[index % 3]
        tasks = []
        for call in calls:
            if speed > 0 and call.at > origin:
                delay = (call.at - origin).total_seconds() / speed - (time.monotonic() - began)
                if delay > 0:
                    await asyncio.sleep(delay)
                    await self.post_outcomes()
            await self.gate.acquire()
            tasks.append(asyncio.create_task(self._one(call, progress)))
        await asyncio.gather(*tasks)
        await self.post_outcomes()

    async def _one(self, call: PlannedCall, progress: Any) -> None:
        try:
            if call.channel == "urgences":
                await self._redirect(call)
            else:
                await self._regulate(call)
        except httpx.HTTPError as exc:
            self.tally.error("transport", exc)
        finally:
            self.gate.release()
            if progress is not None:
                progress()

    async def _regulate(self, call: PlannedCall) -> None:
        operator = self._as("operator", call.departement)
        made = await self._request("POST", "/v1/calls", headers=operator, json={
            "territory_code": call.departement, "channel": call.channel, "priority": call.priority,
            "intent_without_sas": call.intent, "reason": "fièvre depuis 48 h",
            "patient": {"postcode": call.postcode, "birth_year": 1940 + call.number % 80,
                        "sex": "F" if call.number % 2 else "M", "phone": _phone(call)}})
        if made.status_code != 201:
            self.tally.error("call", made)
            return
        call_id = made.json()["id"]
        self.tally.calls += 1
        self.tally.by_channel[call.channel] += 1
        regulator = self._regulator(call)
        if self.shift is not None and not (call.number in self.backlog and call.number % 3 == 0):
            await self._busy(self.shift.queue_minutes(call))  # in the queue until a regulator is free
        taken = await self._request("POST", f"/v1/calls/{call_id}/assign", headers=regulator, json={})
        if taken.status_code != 200:
            self.tally.error("assign", taken)
        if self.shift is not None:
            await self._busy(self.shift.regulation_minutes(call))  # he reads, calls back, thinks
        answered = call.other_reason != "no_answer"
        callback = await self._request("POST", f"/v1/calls/{call_id}/callback", headers=regulator,
                                        json={"answered": answered})
        if callback.status_code != 201:
            self.tally.error("callback", callback)
        decided: list[str] = []
        for planned in call.kinds:
            kind, reason = planned, call.other_reason
            if planned == "slot":
                if await self._book(call, call_id):
                    decided.append(planned)
                    continue
                kind, reason = "other", "other"  # no slot left for him: the regulator says what he did instead
            body: dict[str, Any] = {"kind": kind}
            if kind == "prescription":
                body["pharmacy"] = {"name": f"Pharmacie du centre {call.postcode}"}
            if kind == "other":
                body["other_reason"] = reason
            decision = await self._request("POST", f"/v1/calls/{call_id}/decisions", headers=regulator, json=body)
            if decision.status_code == 201:
                decided.append(kind)
            else:
                self.tally.error("decision", decision)
        self._count(decided)
        closed = await self._request("POST", f"/v1/calls/{call_id}/close", headers=regulator)
        if closed.status_code != 200:
            self.tally.error("close", closed)

    async def _busy(self, minutes: float) -> None:
        """A person at work for ``minutes``: the call keeps no place of the concurrency meanwhile."""
        assert self.shift is not None
        self.gate.release()
        # Not in a ``finally``: a simulation stopped meanwhile (Ctrl-C) must not wait here for a free place.
        await asyncio.sleep(self.shift.seconds(minutes))
        await self.gate.acquire()

    def _count(self, kinds: list[str]) -> None:
        for kind in set(kinds):
            self.tally.decisions[kind] += 1
        if len(set(kinds)) > 1:
            self.tally.several += 1

    async def _free_slots(self, call: PlannedCall, role: str, call_id: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"territory": call.departement, "near_postcode": call.postcode, "limit": 5}
        if call_id:
            params["call_id"] = call_id
        found = await self._request("GET", "/v1/slots/search", params=params, headers=self._as(role, call.departement))
        if found.status_code != 200:
            self.tally.error("search", found)
            return []
        return list(found.json()["items"])

    async def _book(self, call: PlannedCall, call_id: str) -> bool:
        """Search, hold, book — the next slot when another regulator was quicker; then maybe cancel and book
        again (a re-orientation)."""
        regulator = self._regulator(call)
        booking = await self._hold_and_book(call, call_id)
        if booking is None:
            self.tally.no_slot += 1
            return False
        if call.cancelled:
            cancelled = await self._request("POST", f"/v1/bookings/{booking['id']}/cancel", headers=regulator,
                                             json={"reason": "le patient a trouvé un médecin plus près"})
            if cancelled.status_code != 200:
                self.tally.error("cancel", cancelled)
                return True
            self.tally.cancellations += 1
            booking = await self._hold_and_book(call, call_id)
            if booking is None:
                self.tally.no_slot += 1
                return False
            self.tally.reoriented += 1
        return True

    async def _hold_and_book(self, call: PlannedCall, call_id: str) -> dict[str, Any] | None:
        regulator = self._regulator(call)
        for _ in range(3):  # other regulators take slots too: look again
            for slot in await self._free_slots(call, "regulator", call_id):
                held = await self._request("POST", f"/v1/slots/{slot['id']}/hold", headers=regulator,
                                            json={"call_id": call_id})
                if held.status_code == 409:
                    continue  # taken meanwhile: the next one
                if held.status_code not in (200, 201):
                    self.tally.error("hold", held)
                    continue
                made = await self._request("POST", "/v1/bookings", headers=regulator,
                                            json={"slot_id": slot["id"], "call_id": call_id})
                if made.status_code == 201:
                    self._keep(made.json(), call)
                    return dict(made.json())
                if made.status_code != 409:
                    self.tally.error("booking", made)
        return None

    async def _redirect(self, call: PlannedCall) -> None:
        """The ED's nurse sends a patient who does not need the ED to a city slot: one request makes the
        call and the booking."""
        urgences = self._as("urgences", call.departement)
        for _ in range(3):
            for slot in await self._free_slots(call, "urgences"):
                made = await self._request("POST", "/v1/bookings", headers=urgences, json={
                    "slot_id": slot["id"], "reason": "entorse de cheville, pas de signe de gravité",
                    "patient": {"postcode": call.postcode, "birth_year": 1940 + call.number % 80,
                                "family_name": f"Patient {call.number}", "phone": _phone(call)}})
                if made.status_code == 201:
                    self._keep(made.json(), call)
                    self.tally.calls += 1
                    self.tally.by_channel["urgences"] += 1
                    self.tally.ed_redirections += 1
                    self._count(["slot"])
                    return
                if made.status_code != 409:
                    self.tally.error("ed_redirection", made)
                    return
        self.tally.no_slot += 1  # the patient stays at the ED

    def _keep(self, booking: dict[str, Any], call: PlannedCall) -> None:
        self.tally.bookings += 1
        slot = booking["slot"]
        self.booked.append(Booked(booking["id"], slot["practitioner_id"], dt.datetime.fromisoformat(slot["start"]),
                                  call.noshow))

    async def post_outcomes(self) -> None:
        """The doctors tell whether the patients of the slots that have begun came."""
        now = dt.datetime.now(dt.UTC)
        due = [b for b in self.booked if b.start <= now]
        self.booked = [b for b in self.booked if b.start > now]
        for booked in due:
            token = self.effectors.get(booked.practitioner_id)
            if token is None:
                continue
            status = "noshow" if booked.noshow else "fulfilled"
            posted = await self._request("POST", f"/v1/bookings/{booked.booking_id}/outcome",
                                          headers={"Authorization": f"Bearer {token}"}, json={"status": status})
            if posted.status_code == 200:
                self.tally.outcomes[status] += 1
            elif posted.status_code != 409:  # 409: cancelled meanwhile, or told already
                self.tally.error("outcome", posted)

    # ----------------------------------------------------------------------------- past and report

    async def import_history(self, calls: list[PlannedCall]) -> int:
        """The past weeks through the calls import (decisions only: no slot exists in the past)."""
        rows = [_history_row(call) for call in calls]
        imported = 0
        for start in range(0, len(rows), 5000):
            body = "\n".join(json.dumps(r) for r in rows[start:start + 5000]).encode()
            answer = await self._request("POST", "/v1/calls/import", headers={**self._as("admin"),
                                                                       "Content-Type": "application/x-ndjson"},
                                          content=body)
            if answer.status_code != 201:
                self.tally.error("import", answer)
                break
            imported += int(answer.json().get("imported", 0))
        return imported

    async def report(self, territory: str, months: list[str]) -> dict[str, Any] | None:
        reader = self._as("analyst" if territory != "FR" else "admin")
        answer = await self._request("GET", "/v1/stats/monthly", headers=reader,
                                     params={"territory": territory, "from": months[0], "to": months[-1]})
        if answer.status_code != 200:
            self.tally.error("report", answer)
            return None
        return dict(answer.json()["total"])


def _doctor_name(doctor: dict[str, Any]) -> str:
    return f"Dr {doctor.get('given_name') or ''} {doctor.get('family_name') or ''}".strip()


def _site_label(kind: str) -> str:
    return {"msp": "MSP", "cabinet": "Cabinet médical", "centre_sante": "Centre de santé",
            "sos_medecins": "SOS Médecins"}[kind]


def _history_row(call: PlannedCall) -> dict[str, Any]:
    decisions: list[dict[str, Any]] = []
    for kind in KINDS[call.category]:
        decision: dict[str, Any] = {"kind": kind}
        if kind == "other":
            decision["other_reason"] = call.other_reason
        if kind == "prescription":
            decision["pharmacy_name"] = f"Pharmacie du centre {call.postcode}"
        decisions.append(decision)
    callback = call.at + dt.timedelta(minutes=10 + call.number % 50)
    closed = callback + dt.timedelta(minutes=15)
    now = dt.datetime.now(dt.UTC)
    return {"external_id": f"sim-{call.departement}-{call.at:%Y%m%dT%H%M%S}-{call.number}",
            "territory_code": call.departement, "channel": call.channel, "received_at": call.at.isoformat(),
            "priority": call.priority, "intent_without_sas": call.intent if call.channel != "urgences" else "urgences",
            "first_callback_at": callback.isoformat() if call.channel != "urgences" and callback < now else None,
            "closed_at": closed.isoformat() if closed < now else None, "decisions": decisions,
            "patient_postcode": call.postcode}


__all__ = ["Shift", "Simulation", "Tally", "plan"]


def _phone(call: PlannedCall) -> str:
    """A made-up mobile number for the simulated patient: a call entered live needs a way to reach him."""
    return f"06{call.number % 10**8:08d}"
