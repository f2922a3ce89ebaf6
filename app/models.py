"""Every table, imported once so that alembic and the mappers see the whole schema."""

from app.audit.models import AuditEntry
from app.auth.models import User
from app.bookings.models import Booking, IdempotencyKey
from app.calls.models import Call, CallbackAttempt, Decision
from app.fhir.models import DeclaredAppointment
from app.http.ratelimit import RATE_USAGE
from app.hub.models import HubMessage
from app.mt.models import MtCapacity, MtOffer, MtProposal, MtRequest
from app.notices.models import GpReport, Notice
from app.notifications.models import WebhookReceiver
from app.outbox.models import DeclarationCursor, OutboxEvent
from app.platform.database import Base
from app.practitioners.models import Practitioner, PractitionerSite, PractitionerTerritory
from app.sites.models import Site
from app.slots.models import AgendaSource, AvailabilityRule, Slot
from app.stats import models as stats_models  # noqa: F401,I001  (indexes of the report)
from app.territories.models import Territory

__all__ = [
    "RATE_USAGE", "AgendaSource", "AuditEntry", "AvailabilityRule", "Base", "Booking", "Call", "CallbackAttempt",
    "DeclarationCursor",
    "DeclaredAppointment", "Decision", "GpReport", "HubMessage", "IdempotencyKey", "MtCapacity", "MtOffer",
    "MtProposal", "MtRequest", "Notice", "OutboxEvent", "Practitioner",
    "PractitionerSite", "PractitionerTerritory", "Site", "Slot", "Territory", "User", "WebhookReceiver",
]
