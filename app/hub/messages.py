"""The messages of the flow "Transmission des informations de RDV aux LRM" (ANS guide ans.fhir.fr.sas, page
specifications_techniques-transmission-info-RDV-LRM), checked against the Hub Santé's own JSON Schemas.

Every appointment booked on our slots goes to the SAMU of its territory as an RS-SAS-RDV ``appointment``
(``CreateAppointment`` at booking, ``UpdateAppointment`` when it is cancelled, honoured or not honoured)
inside an RC-DE header inside an EDXL-DE envelope addressed to ``fr.health.samuXXX`` through "Hubex". The
LRM answers with an RC-REF final acknowledgement (``Ack``); the Hub or the LRM tells errors on our "info"
queue (RS-ERROR). No patient is in any of them: the guide's model carries the appointment, the doctor, the
structure and the person who booked.

The schemas are vendored verbatim in ``app/hub/schemas`` (see PROVENANCE.md there). Each of them declares
the same ``$id`` (``classpath:/json-schema/schema#``), which would make every ``#/definitions/...`` point
at one document; the registry below gives each file its own URI instead, onto which the relative
``$ref`` that name them ("RC-DE.schema.json") resolve.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

from app.outbox.appointments import Appointment

# Where the files come from: a URI that relative references join onto (nothing is fetched).
BASE = "https://github.com/ansforge/SAMU-Hub-Modeles/src/main/resources/json-schema/"
ENVELOPE = "EDXL-DE-full.schema.json"
SPECIALTY_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
PROFESSION_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
ADDRESS_SCHEME = "Hubex"
# The guide's orientation categories (RS-SAS-RDV ``orientationCategory``) for our kinds of site.
ORIENTATION = {"msp": "MSP", "centre_sante": "CDS", "csnp": "CDS", "sos_medecins": "SOS"}


@functools.cache
def _validator() -> Draft7Validator:
    folder = resources.files("app.hub") / "schemas"
    registry: Registry[Any] = Registry()
    for entry in folder.iterdir():
        if entry.name.endswith(".schema.json"):
            contents = json.loads(entry.read_text(encoding="utf-8"))
            contents["$id"] = BASE + entry.name  # its own URI (see the module's docstring)
            registry = registry.with_resource(BASE + entry.name, DRAFT7.create_resource(contents))
    envelope = registry.contents(BASE + ENVELOPE)
    return Draft7Validator(envelope, registry=registry)


def problems(envelope: dict[str, Any]) -> list[str]:
    """Why an EDXL-DE message breaks the Hub Santé's schemas (none: it is valid). Where the content matches
    none of the Hub's messages, the reasons are those of the closest one."""
    validator = _validator()
    found: list[str] = []
    for error in validator.iter_errors(envelope):
        if error.context:  # oneOf: the branch that went furthest into the message says why
            branches: dict[Any, list[Any]] = {}
            for sub in error.context:
                branches.setdefault(sub.relative_schema_path[0], []).append(sub)
            best = max(branches.values(), key=lambda subs: max(len(e.absolute_path) for e in subs))
            found.extend(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in best)
        else:
            found.append(f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
    return found


def timestamp(moment: dt.datetime, zone: str = "Europe/Paris") -> str:
    """The Hub's date-time: seconds and an offset, never Z; in the territory's own time, as the SAMU
    reading it lives in it."""
    return moment.astimezone(ZoneInfo(zone)).replace(microsecond=0).isoformat()


def distribution_id(sender: str, event_id: uuid.UUID) -> str:
    """``<senderId>_<internalId>``: one per outbox event, the same on every attempt, so that a message sent
    twice (at least once) is known by the LRM as one."""
    return f"{sender}_{event_id}"


def appointment(appointment: Appointment) -> dict[str, Any]:
    """An RS-SAS-RDV ``appointment`` from an appointment as its outbox event tells it (app/outbox/appointments.py)."""
    zone = appointment.timezone
    body: dict[str, Any] = {
        "appointmentId": str(appointment.booking_id),
        "method": "CreateAppointment" if appointment.creates else "UpdateAppointment",
        "created": timestamp(appointment.created, zone),
        "start": timestamp(appointment.start, zone),
        "end": timestamp(appointment.end, zone),
        "status": appointment.status,
        "orientationCategory": orientation_category(appointment),
    }
    practitioner: dict[str, Any] = {"rppsId": appointment.practitioner_id,
                                    "lastName": appointment.practitioner_family_name,
                                    "firstName": appointment.practitioner_given_name}
    if appointment.specialty_code:
        practitioner |= {"specialityCode": appointment.specialty_code, "specialityUrl": SPECIALTY_SYSTEM}
    practitioner |= {"professionCode": appointment.profession_code, "professionUrl": PROFESSION_SYSTEM}
    body["practitioner"] = practitioner
    found = organization(appointment)
    if found is not None:
        body["organization"] = found
    body["regulator"] = regulator(appointment)
    return body


def orientation_category(appointment: Appointment) -> str:
    """The structure the patient is sent to: the site's own kind (an MSP, a centre de santé, SOS Médecins),
    else the CPTS whose slot it is, else a practitioner on his own."""
    return ORIENTATION.get(appointment.site_kind) or ("CPTS" if appointment.territory_kind == "cpts" else "PS")


def organization(appointment: Appointment) -> dict[str, str] | None:
    """The organization of the orientation, its FINESS prefixed 1 as national structure ids are: an MSP's
    (or another site structure's) own FINESS, a CPTS's for a CPTS orientation; an MSP whose FINESS is
    not known names none — never the CPTS it lies in."""
    category = orientation_category(appointment)
    if category == "CPTS" and appointment.finess:
        return {"organizationId": "1" + appointment.finess, "name": appointment.territory_name}
    if category not in ("CPTS", "PS") and appointment.site_finess:
        return {"organizationId": "1" + appointment.site_finess, "name": appointment.site_name}
    return None


def unidentified(appointment: Appointment) -> str | None:
    """Why who booked cannot be named to the SAMU as RS-SAS-RDV requires (his national or SAS technical id, his
    names and e-mail, from the users registry), else None: the message waits until he can."""
    why = appointment.unidentified
    if why is not None:
        return why
    missing = [name for name, value in (("family_name", appointment.operator_family_name),
                                        ("given_name", appointment.operator_given_name),
                                        ("email", appointment.operator_email)) if not value]
    if missing:
        return (f"who booked ({appointment.booked_by}) has no {', '.join(missing)} in the users registry, which "
                "RS-SAS-RDV's regulator requires: register it and the message goes")
    return None


def regulator(appointment: Appointment) -> dict[str, Any]:
    """Who booked, from the users registry: his national id (IDNPS, as the platform gave it) when he has one
    — never the SAS technical id, which the SAMU's software does not know —, his names and e-mail."""
    person: dict[str, Any] = {}
    if appointment.operator_id:
        person["regulatorId"] = appointment.operator_id
    person["regulatorName"] = appointment.operator_family_name or ""
    person["regulatorFirstname"] = appointment.operator_given_name or ""
    person["regulatorEmail"] = appointment.operator_email or ""
    return person


def envelope(*, sender: str, recipient: str, distribution: str, kind: str, message: dict[str, Any],
             sent: dt.datetime, expires: dt.datetime, with_header: bool = True) -> dict[str, Any]:
    """EDXL-DE around a message (RC-DE header fields added unless ``with_header`` is false: errors)."""
    if with_header:
        message = {
            "messageId": distribution,
            "sender": {"name": sender, "URI": f"hubex:{sender}"},
            "sentAt": timestamp(sent),
            "kind": kind,
            "status": "Actual",
            "recipient": [{"name": recipient, "URI": f"hubex:{recipient}"}],
        } | message
    return {
        "distributionID": distribution,
        "senderID": sender,
        "dateTimeSent": timestamp(sent),
        "dateTimeExpires": timestamp(expires),
        "distributionStatus": "Actual",
        "distributionKind": kind,
        "descriptor": {"language": "fr-FR",
                       "explicitAddress": {"explicitAddressScheme": ADDRESS_SCHEME, "explicitAddressValue": recipient}},
        "content": [{"jsonContent": {"embeddedJsonContent": {"message": message}}}],
    }


def report(*, sender: str, recipient: str, distribution: str, appointment: dict[str, Any], sent: dt.datetime,
           ttl: dt.timedelta) -> dict[str, Any]:
    return envelope(sender=sender, recipient=recipient, distribution=distribution, kind="Report",
                    message={"appointment": appointment}, sent=sent, expires=sent + ttl)


def acknowledgement(*, sender: str, recipient: str, acknowledged: str, sent: dt.datetime,
                    step: str | None = None) -> dict[str, Any]:
    """The final acknowledgement an LRM sends back (RC-REF): what the SAMU's side of the tests sends."""
    reference: dict[str, Any] = {"distributionID": acknowledged}
    if step:
        reference["step"] = step
    return envelope(sender=sender, recipient=recipient, distribution=f"{sender}_{uuid.uuid4()}", kind="Ack",
                    message={"reference": reference}, sent=sent, expires=sent + dt.timedelta(days=1))


def content(message: dict[str, Any]) -> dict[str, Any]:
    """The message inside an EDXL-DE envelope (the first content object)."""
    try:
        found = message["content"][0]["jsonContent"]["embeddedJsonContent"]["message"]
    except (KeyError, IndexError, TypeError):
        return {}
    return found if isinstance(found, dict) else {}
