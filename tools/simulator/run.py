"""The simulator at work: a SAS's traffic played through the public API, as its users would.

Doctors (one practitioner each, a site for every three) publish weekly rules with evening and weekend
hours; operators take the calls of the plan (tools/simulator/plan.py) with the patient's postcode,
priority and intent; regulators call back and decide — advice, a prescription sent to a pharmacy, an
"other" with its reason, or a slot: search, hold, book (which records the decision); the ED redirects
its share of the slot orientations itself; some bookings are cancelled and booked again (a
re-orientation); the doctors post whether the patient came once the slot has begun. Every step is an
HTTP request with the token of the role that makes it; nothing is written to the database directly.

Patients without a médecin traitant (docs/mt.md): every third doctor declares that he takes new patients
(``PUT /v1/practitioners/me/new-patients``); the regulator of a call whose patient has none (the plan's share)
puts him on the territory's waiting list from the call (``POST /v1/mt-requests``, source ``regulation``); the
CPTS's coordinator then works through the new requests in the calls' order (``coordinate``): he closes some,
leaves some waiting, and for the others takes the nearest candidate (``GET .../candidates``) and proposes him
(``patient_agreed: true``); the doctor refuses (with a reason) or accepts, and the first consultation is
confirmed (``POST .../found``) by the doctor or the coordinator. ``Tally.mt`` counts what the API took.

The service stamps everything with its own clock: ``--speed`` paces the arrivals (simulated seconds per
real second; 0: as fast as the service answers), it does not move the service's time. The past comes in
through the calls import (``history``), since the API rightly refuses slots and bookings in the past.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

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
# Whom the doctors who take new patients take, in turn (app/mt/schemas.py's publics).
NEW_PATIENT_PUBLICS = (("any",), ("ald", "elderly"), ("any",), ("ald", "disability", "children"))
OTHER_LABEL = {"no_answer": "pas de réponse au rappel", "redirected_15": "réorienté vers le 15",
               "redirected_ed": "adressé aux urgences", "other": "autre"}


@dataclass
class MtTally:
    """What the simulator did for the patients without a médecin traitant, as the API took it."""

    offers: int = 0  # doctors who declared they take new patients
    places_per_month: int = 0  # how many a month, together
    requests: Counter[str] = field(default_factory=Counter)  # by source
    proposals: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # by reason (app/mt/schemas.py's names)
    accepted: int = 0
    found: int = 0
    closed: Counter[str] = field(default_factory=Counter)  # by reason
    no_candidate: int = 0  # requests the coordinator had no doctor to propose for: they wait
    states: Counter[str] = field(default_factory=Counter)  # each request's state at the end
    days_to_find: list[float] = field(default_factory=list)  # found_at − created_at, as the API stamped them

    def as_dict(self) -> dict[str, Any]:
        return {"offers": self.offers, "places_per_month": self.places_per_month,
                "requests": sum(self.requests.values()), "requests_by_source": dict(self.requests),
                "proposals": self.proposals, "refusals_by_reason": dict(self.refusals), "accepted": self.accepted,
                "found": self.found, "closed_by_reason": dict(self.closed), "no_candidate": self.no_candidate,
                "states": dict(self.states),
                "waiting": sum(self.states[s] for s in ("waiting", "proposed", "accepted")),
                "median_days_to_find": round(statistics.median(self.days_to_find), 1) if self.days_to_find else None}


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
    mt: MtTally = field(default_factory=MtTally)

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
                "slots_published": self.slots_published, "mt": self.mt.as_dict()}


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


@dataclass
class MtRequest:
    """A request the regulation made, waiting for the coordinator's turn."""

    request_id: str
    call: PlannedCall


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
            for role, sub in (("operator", "sim-osnp"), ("regulator", "sim-regulateur"), ("urgences", "sim-ioa"),
                              ("coordinator", "sim-coordination")):
                self.tokens[f"{role}-{departement}"] = self._token(role, [departement], sub=f"{sub}-{departement}")
            for number in range(len(REGULATOR_NAMES)):
                self.tokens[f"regulator-{departement}-{number}"] = self._token(
                    "regulator", [departement], sub=self.regulator_subject(departement, number))
        self.effectors: dict[str, str] = {}  # practitioner id -> his token
        self.names: dict[str, str] = {}  # practitioner id -> "Dr Given Family"
        self.backlog: set[int] = set()
        self.mt_new: list[MtRequest] = []  # requests made, not yet seen by the coordinator
        self.mt_turn = asyncio.Lock()  # one coordinator works through them, in the calls' order

    def _token(self, role: str, territories: list[str], **claims: Any) -> str:
        return create_token(self.settings, role=role, territories=territories, ttl_seconds=7 * 24 * 3600, **claims)

    def console_token(self, role: str, departement: str) -> str:
        """A token of the shift's people for the console: the first named regulator, the operator, the ED's
        nurse; a pharmacist for a referrer; the analyst; the admin."""
        if role == "regulator":
            return self.tokens[f"regulator-{departement}-0"]
        if role in ("operator", "urgences", "coordinator"):
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
                await self._offer(number, doctor["id"], list(doctor.get("site_ids") or []))
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
            await self._offer(number, doctor["id"], [sites[-1]["id"]])
            for weekdays, start, end in RULES[number % 3]:
                rule = await self._request("POST", "/v1/availability-rules", headers=admin, json={
                    "practitioner_id": doctor["id"], "site_id": sites[-1]["id"], "mode": "in_person",
                    "weekdays": weekdays, "start_time": start, "end_time": end, "slot_minutes": 20,
                    "valid_from": dt.date.today().isoformat()})
                if rule.status_code != 201:
                    self.tally.error("rule", rule)
                else:
                    self.tally.slots_published += int(rule.json().get("slots_created", 0) or 0)

    async def _offer(self, number: int, practitioner_id: str, site_ids: list[str]) -> None:
        """Every ``new_patients_every``-th doctor takes new patients as their médecin traitant: 2 to 5 a month, at
        his site, some anyone and some only a public; half of them on the CPTS's public list. Declared by himself,
        the whole offer each time (a run again finds it as it was)."""
        if number % self.profile.new_patients_every or not site_ids:
            return
        per_month = 2 + number // self.profile.new_patients_every % 4
        publics = NEW_PATIENT_PUBLICS[number // self.profile.new_patients_every % len(NEW_PATIENT_PUBLICS)]
        offer = await self._request("PUT", "/v1/practitioners/me/new-patients", headers=self._doctor(practitioner_id),
                                    json={"accepting": True, "per_month": per_month, "publics": list(publics),
                                          "site_ids": site_ids[:1], "until": None, "public_listing": number % 2 == 0})
        if offer.status_code != 200:
            self.tally.error("mt_offer", offer)
            return
        self.tally.mt.offers += 1
        self.tally.mt.places_per_month += per_month

    def _doctor(self, practitioner_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.effectors[practitioner_id]}"}

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
                    await self.coordinate()
            await self.gate.acquire()
            tasks.append(asyncio.create_task(self._one(call, progress)))
        await asyncio.gather(*tasks)
        await self.post_outcomes()
        await self.coordinate()

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
        if call.mt is not None:
            await self._without_mt(call, call_id)
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

    # ------------------------------------------------------------------ patients without a médecin traitant

    async def _without_mt(self, call: PlannedCall, call_id: str) -> None:
        """"Le patient n'a pas de médecin traitant": the regulator puts him on the waiting list from the call (his
        identity, birth year and postcode copied from it), with what he declares."""
        assert call.mt is not None
        made = await self._request("POST", "/v1/mt-requests", headers=self._regulator(call), json={
            "territory_code": call.departement, "source": "regulation", "call_id": call_id,
            "publics": list(call.mt.publics)})
        if made.status_code != 201:
            self.tally.error("mt_request", made)
            return
        self.tally.mt.requests["regulation"] += 1
        self.tally.mt.states["waiting"] += 1
        self.mt_new.append(MtRequest(made.json()["id"], call))

    async def coordinate(self) -> None:
        """The coordinator's turn: the requests made since, in the calls' order, each to its planned end."""
        async with self.mt_turn:
            batch = sorted(self.mt_new, key=lambda r: r.call.number)
            self.mt_new = []
            for request in batch:
                try:
                    await self._place(request)
                except httpx.HTTPError as exc:
                    self.tally.error("transport", exc)

    async def _place(self, request: MtRequest) -> None:
        call, mt = request.call, request.call.mt
        assert mt is not None
        coordinator = self._as("coordinator", call.departement)
        path = f"/v1/mt-requests/{request.request_id}"
        if mt.fate == "waiting":
            return
        if mt.fate == "closed":
            closed = await self._request("POST", f"{path}/close", headers=coordinator,
                                         json={"reason": mt.closed_reason})
            if closed.status_code != 200:
                self.tally.error("mt_close", closed)
                return
            self.tally.mt.closed[str(mt.closed_reason)] += 1
            self._moved("waiting", "closed")
            return
        refusal = mt.refusal
        while True:
            proposal = await self._propose(request, coordinator)
            if proposal is None:
                return  # nobody to propose: he waits
            doctor = self._doctor(proposal["practitioner_id"])
            if refusal is not None:
                refused = await self._request("POST", f"/v1/mt-proposals/{proposal['id']}/refuse", headers=doctor,
                                              json={"reason": refusal})
                if refused.status_code != 200:
                    self.tally.error("mt_refuse", refused)
                    return
                self.tally.mt.refusals[refusal] += 1
                self._moved("proposed", "waiting")
                refusal = None  # the next doctor proposed answers as planned
                continue
            break
        if mt.fate == "proposed":
            return  # the doctor has not answered yet
        accepted = await self._request("POST", f"/v1/mt-proposals/{proposal['id']}/accept", headers=doctor)
        if accepted.status_code != 200:
            self.tally.error("mt_accept", accepted)
            return
        self.tally.mt.accepted += 1
        self._moved("proposed", "accepted")
        if mt.fate != "found":
            return
        # The first consultation, confirmed by the doctor (or, every other patient, by the coordinator).
        today = dt.datetime.now(ZoneInfo(self.profile.timezone)).date()
        found = await self._request("POST", f"{path}/found", headers=doctor if call.number % 2 else coordinator,
                                    json={"first_visit_on": today.isoformat()})
        if found.status_code != 200:
            self.tally.error("mt_found", found)
            return
        body = found.json()
        self.tally.mt.found += 1
        self._moved("accepted", "found")
        took = dt.datetime.fromisoformat(body["found_at"]) - dt.datetime.fromisoformat(body["created_at"])
        self.tally.mt.days_to_find.append(took.total_seconds() / 86400)

    async def _propose(self, request: MtRequest, coordinator: dict[str, str]) -> dict[str, Any] | None:
        """The nearest candidate among the simulator's doctors, proposed with the patient's agreement."""
        path = f"/v1/mt-requests/{request.request_id}"
        found = await self._request("GET", f"{path}/candidates", headers=coordinator)
        if found.status_code != 200:
            self.tally.error("mt_candidates", found)
            return None
        candidates = [c for c in found.json() if c["practitioner_id"] in self.effectors]
        if not candidates:
            self.tally.mt.no_candidate += 1
            return None
        made = await self._request("POST", f"{path}/proposals", headers=coordinator, json={
            "practitioner_id": candidates[0]["practitioner_id"], "patient_agreed": True})
        if made.status_code != 201:
            self.tally.error("mt_proposal", made)
            return None
        self.tally.mt.proposals += 1
        self._moved("waiting", "proposed")
        return dict(made.json())

    def _moved(self, before: str, after: str) -> None:
        self.tally.mt.states[before] -= 1
        self.tally.mt.states[after] += 1

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
