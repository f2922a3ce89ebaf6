"""What each route may take and cost, in one table: its body limit, the rate budget it draws on, its
deadline. The edge reads a request's row once (``policy_of``), before anything reads its headers further
or its body; a test fails when a row names no route of the app and when a route has no row.

Rows are keyed by method and route template (``/v1/calls/{call_id:uuid}``), as the routers write them;
a request's path is matched against the templates before routing, a path no route serves gets the
default row (its 404 costs nothing more).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.routing import compile_path
from starlette.types import Scope

MB = 1024 * 1024
# What a JSON body of any route may weigh, unless its row says more.
DEFAULT_BODY_BYTES = MB


@dataclass(frozen=True, slots=True)
class Policy:
    body_bytes: int = DEFAULT_BODY_BYTES
    # The rate budget the request draws on (SNP_RATE_LIMITS), per token — per client address when
    # ``by_address`` (a public route: whatever Authorization header is sent there is not checked).
    budget: str | None = None
    by_address: bool = False
    # Seconds before the request is cancelled and answered 503; None: SNP_REQUEST_DEADLINE_SECONDS.
    deadline: float | None = None
    # False: no deadline (a stream, a file, the documentation end by themselves).
    timed: bool = True
    # False: probes, which answer whatever an address did before (no budget, no lock-out).
    limited: bool = True


DEFAULT = Policy()
UNTIMED = Policy(timed=False)
PROBE = Policy(timed=False, limited=False)

POLICIES: dict[tuple[str, str], Policy] = {
    # operations and documentation
    ("GET", "/health"): PROBE,
    ("GET", "/ready"): PROBE,
    ("GET", "/metrics"): PROBE,
    ("GET", "/"): UNTIMED,
    ("GET", "/docs"): UNTIMED,
    ("GET", "/docs/oauth2-redirect"): UNTIMED,
    ("GET", "/redoc"): UNTIMED,
    ("GET", "/docs/assets/{name}"): UNTIMED,
    ("GET", "/openapi.json"): UNTIMED,
    # the console: its files, who I am, the live stream
    ("GET", "/console"): UNTIMED,
    ("GET", "/console/"): UNTIMED,
    ("GET", "/console/agenda/{practitioner_id:uuid}/{slot_id:uuid}"): UNTIMED,
    ("GET", "/console/{name:path}"): UNTIMED,
    ("GET", "/v1/me"): DEFAULT,
    ("GET", "/v1/stream"): UNTIMED,
    # sign-in
    ("GET", "/v1/auth/config"): DEFAULT,
    ("POST", "/v1/auth/token"): Policy(budget="sign_in"),
    ("POST", "/v1/auth/refresh"): Policy(budget="sign_in"),
    ("POST", "/v1/auth/sign-out"): DEFAULT,
    ("GET", "/v1/auth/terms"): DEFAULT,
    ("POST", "/v1/auth/terms"): DEFAULT,
    # reference data
    ("GET", "/v1/territories"): DEFAULT,
    ("POST", "/v1/territories"): DEFAULT,
    ("GET", "/v1/territories/{code}"): DEFAULT,
    ("PATCH", "/v1/territories/{code}"): DEFAULT,
    ("GET", "/v1/practitioners"): DEFAULT,
    ("POST", "/v1/practitioners"): DEFAULT,
    ("PATCH", "/v1/practitioners/me"): DEFAULT,
    ("PUT", "/v1/practitioners/me/webhook"): DEFAULT,
    ("GET", "/v1/practitioners/{practitioner_id:uuid}"): DEFAULT,
    ("PATCH", "/v1/practitioners/{practitioner_id:uuid}"): DEFAULT,
    ("GET", "/v1/practitioners/{practitioner_id:uuid}/participation"): DEFAULT,
    ("GET", "/v1/sites"): DEFAULT,
    ("POST", "/v1/sites"): DEFAULT,
    ("GET", "/v1/sites/{site_id:uuid}"): DEFAULT,
    ("GET", "/v1/users"): DEFAULT,
    ("POST", "/v1/users"): DEFAULT,
    ("GET", "/v1/users/{user_id}"): DEFAULT,
    ("PATCH", "/v1/users/{user_id}"): DEFAULT,
    ("GET", "/v1/declarations"): DEFAULT,
    # slots
    ("GET", "/v1/slots"): DEFAULT,
    ("POST", "/v1/slots"): DEFAULT,
    ("POST", "/v1/slots/bulk"): Policy(body_bytes=16 * MB, budget="import", deadline=300.0),  # 5 000 slots
    ("POST", "/v1/slots/import-ics"): Policy(body_bytes=10 * MB, budget="import", deadline=300.0),
    ("GET", "/v1/slots/search"): Policy(budget="search"),
    ("GET", "/v1/slots/{slot_id:uuid}"): DEFAULT,
    ("DELETE", "/v1/slots/{slot_id:uuid}"): DEFAULT,
    ("GET", "/v1/slots/{slot_id:uuid}/agenda"): Policy(budget="search"),
    ("POST", "/v1/slots/{slot_id:uuid}/hold"): DEFAULT,
    ("DELETE", "/v1/slots/{slot_id:uuid}/hold"): DEFAULT,
    ("GET", "/v1/availability-rules"): DEFAULT,
    ("POST", "/v1/availability-rules"): DEFAULT,
    ("POST", "/v1/availability-rules/extend"): DEFAULT,
    ("GET", "/v1/availability-rules/{rule_id:uuid}"): DEFAULT,
    ("PATCH", "/v1/availability-rules/{rule_id:uuid}"): DEFAULT,
    ("DELETE", "/v1/availability-rules/{rule_id:uuid}"): DEFAULT,
    # calls
    ("GET", "/v1/calls"): DEFAULT,
    ("POST", "/v1/calls"): DEFAULT,
    ("POST", "/v1/calls/find"): DEFAULT,
    ("POST", "/v1/calls/import"): Policy(body_bytes=64 * MB, budget="import", deadline=600.0),
    ("POST", "/v1/calls/purge"): Policy(deadline=600.0),
    ("GET", "/v1/calls/{call_id:uuid}"): DEFAULT,
    ("PATCH", "/v1/calls/{call_id:uuid}"): DEFAULT,
    ("POST", "/v1/calls/{call_id:uuid}/assign"): DEFAULT,
    ("POST", "/v1/calls/{call_id:uuid}/callback"): DEFAULT,
    ("GET", "/v1/calls/{call_id:uuid}/observations"): DEFAULT,
    ("POST", "/v1/calls/{call_id:uuid}/observations"): DEFAULT,
    ("GET", "/v1/calls/{call_id:uuid}/timeline"): DEFAULT,
    ("POST", "/v1/calls/{call_id:uuid}/close"): DEFAULT,
    ("POST", "/v1/calls/{call_id:uuid}/decisions"): DEFAULT,
    ("POST", "/v1/calls/{call_id:uuid}/decisions/{decision_id:uuid}/revoke"): DEFAULT,
    ("POST", "/v1/referral-links"): DEFAULT,
    ("GET", "/v1/referrals"): DEFAULT,
    ("POST", "/v1/referrals"): DEFAULT,
    ("POST", "/v1/self-referrals/{token}"): Policy(budget="self_referral", by_address=True),
    # the patient's cancel link (public: budgeted by address)
    ("GET", "/p/{token}"): Policy(budget="patient_link", by_address=True),
    ("POST", "/p/{token}"): Policy(budget="patient_link", by_address=True),
    ("POST", "/p/{token}/no-reminder"): Policy(budget="patient_link", by_address=True),
    # bookings
    ("GET", "/v1/bookings"): DEFAULT,
    ("POST", "/v1/bookings"): Policy(budget="booking"),
    ("GET", "/v1/bookings/{booking_id:uuid}"): DEFAULT,
    ("POST", "/v1/bookings/{booking_id:uuid}/cancel"): DEFAULT,
    ("POST", "/v1/bookings/{booking_id:uuid}/outcome"): DEFAULT,
    ("GET", "/v1/effectors/me/bookings"): DEFAULT,
    # patients without a médecin traitant (app/mt): the public list is budgeted by address
    ("GET", "/v1/practitioners/me/new-patients"): DEFAULT,
    ("PUT", "/v1/practitioners/me/new-patients"): DEFAULT,
    ("GET", "/v1/new-patient-doctors"): DEFAULT,
    ("GET", "/v1/public/new-patient-doctors"): Policy(budget="public_list", by_address=True),
    ("GET", "/v1/mt-requests"): DEFAULT,
    ("GET", "/v1/mt-requests/counts"): DEFAULT,
    ("POST", "/v1/mt-requests"): DEFAULT,
    ("POST", "/v1/mt-requests/import"): Policy(body_bytes=4 * MB, budget="import", deadline=120.0),
    ("GET", "/v1/mt-requests/{request_id:uuid}"): DEFAULT,
    ("POST", "/v1/mt-requests/{request_id:uuid}/priority"): DEFAULT,
    ("POST", "/v1/mt-requests/{request_id:uuid}/close"): DEFAULT,
    ("POST", "/v1/mt-requests/{request_id:uuid}/found"): DEFAULT,
    ("GET", "/v1/mt-requests/{request_id:uuid}/candidates"): DEFAULT,
    ("POST", "/v1/mt-requests/{request_id:uuid}/access"): DEFAULT,
    ("GET", "/v1/access-slots"): DEFAULT,
    ("POST", "/v1/mt-requests/{request_id:uuid}/proposals"): DEFAULT,
    ("GET", "/v1/mt-proposals"): DEFAULT,
    ("POST", "/v1/mt-proposals/{proposal_id:uuid}/accept"): DEFAULT,
    ("POST", "/v1/mt-proposals/{proposal_id:uuid}/refuse"): DEFAULT,
    ("GET", "/mt/{token}"): Policy(budget="answer_link", by_address=True),
    ("POST", "/mt/{token}"): Policy(budget="answer_link", by_address=True),
    ("GET", "/v1/self-referrals/{token}/mt"): Policy(budget="self_referral", by_address=True),
    ("POST", "/v1/self-referrals/{token}/mt"): Policy(budget="self_referral", by_address=True),
    # statistics and audit
    ("GET", "/v1/stats/monthly"): Policy(deadline=120.0),
    ("GET", "/v1/audit"): DEFAULT,
    # the FHIR facade
    ("GET", "/fhir/metadata"): DEFAULT,
    ("GET", "/fhir/Slot"): Policy(budget="fhir_search"),  # the platform's own budget (one answer, every slot)
    ("GET", "/fhir/Slot/{slot_id:uuid}"): DEFAULT,
    ("GET", "/fhir/Schedule"): DEFAULT,
    ("GET", "/fhir/Schedule/{schedule_id}"): DEFAULT,
    ("GET", "/fhir/Practitioner"): DEFAULT,
    ("GET", "/fhir/Practitioner/{practitioner_id:uuid}"): DEFAULT,
    ("POST", "/fhir/Practitioner"): DEFAULT,  # the platform's regulator accounts (INT_R02)
    ("PUT", "/fhir/Practitioner"): DEFAULT,
    ("GET", "/fhir/PractitionerRole/{role_id}"): DEFAULT,
    ("GET", "/fhir/HealthcareService/{service_id}"): DEFAULT,
    ("GET", "/fhir/Organization/{organization_id}"): DEFAULT,
    ("POST", "/fhir/Appointment"): DEFAULT,
    ("PUT", "/fhir/Appointment"): DEFAULT,
    ("PUT", "/fhir/Appointment/{appointment_id:uuid}"): DEFAULT,
    ("GET", "/fhir/Appointment/{appointment_id:uuid}"): DEFAULT,
    ("GET", "/fhir/$bulk-publish"): DEFAULT,
    ("GET", "/fhir/$bulk-publish/{departement}/{kind}.ndjson"): DEFAULT,
}

# Static templates by (method, path); templated ones as patterns, in the table's order.
_EXACT = {key: policy for key, policy in POLICIES.items() if "{" not in key[1]}
_PATTERNS: list[tuple[str, re.Pattern[str], Policy]] = [
    (method, compile_path(path)[0], policy) for (method, path), policy in POLICIES.items() if "{" in path]


def policy_for(method: str, path: str) -> Policy:
    """The row of the route serving ``method path`` (the default row when none does)."""
    exact = _EXACT.get((method, path)) or _EXACT.get((method, path.rstrip("/") or "/"))
    if exact is not None:
        return exact
    for row_method, pattern, policy in _PATTERNS:
        if row_method == method and pattern.match(path):
            return policy
    if method == "HEAD":
        return policy_for("GET", path)
    return DEFAULT


def policy_of(scope: Scope) -> Policy:
    """The request's row, found once and kept in its scope for every layer of the edge."""
    state = scope.setdefault("state", {})
    policy = state.get("policy")
    if policy is None:
        policy = state["policy"] = policy_for(scope["method"], scope["path"])
    return policy
