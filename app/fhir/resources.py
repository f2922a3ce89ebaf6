"""The resources of the guide's CPTS flow (ans.fhir.fr.sas 1.2.0), built from our rows.

Every system, code, profile and extension URL below is the guide's (tests/fhir/guide holds its own
examples, which the tests compare ours with). Ids: a Slot, a Practitioner are ours; a Schedule and a
PractitionerRole are one doctor at one site (both ids written one after the other, 64 hex digits, the
longest id FHIR allows); a HealthcareService and an Organization are a CPTS (its territory code).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from app.slots import bookers

IG = "https://interop.esante.gouv.fr/ig/fhir/sas"
PROFILES = {
    "Bundle": f"{IG}/StructureDefinition/sas-cpts-bundle-aggregator",
    "Slot": f"{IG}/StructureDefinition/sas-cpts-slot-aggregator",
    "Schedule": "http://sas.fr/fhir/StructureDefinition/FrScheduleAgregateur",
    "Practitioner": "http://sas.fr/fhir/StructureDefinition/FrPractitionerAgregateur",
    "PractitionerRole": "http://sas.fr/fhir/StructureDefinition/FrPractitionerRoleExerciceAgregateur",
    "Location": "http://sas.fr/fhir/StructureDefinition/FrLocationAgregateur",
    "HealthcareService": f"{IG}/StructureDefinition/sas-cpts-healthcareservice-aggregator",
    "Organization": f"{IG}/StructureDefinition/sas-cpts-organization-aggregator",
}
TYPE_CRENEAU = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CATEGORIE_ETABLISSEMENT = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
CPTS_CATEGORY = "604"
SERVICE_TYPE_R5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
SPECIALITE = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
APPOINTMENT_REASON = "http://terminology.hl7.org/CodeSystem/v2-0276"
IDENTIFIER_TYPE = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"
ORGANIZATION_IDENTIFIER_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
LOCATION_IDENTIFIER_TYPE = "http://interopsante.org/fhir/CodeSystem/fr-location-identifier-type"
PS_OID = "urn:oid:1.2.250.1.71.4.2.1"
STRUCTURE_OID = "urn:oid:1.2.250.1.71.4.2.2"
SITE_SYSTEM = "urn:snp:site"
# The most slots one search answers: the guide's Bundle has one link (self), so an answer is never a
# page; its examples send _count=1000. 25 practitioners with a slot every 15 minutes, 12 hours a day,
# for 3 days, is 3 600.
MAX_SLOTS = 5000

# Consultation modes as the guide codes them (v3 ActCode): at the practice, at home, by video.
MODES = {"in_person": ("AMB", "ambulatory"), "home_visit": ("HH", "home health"), "teleconsultation": ("VR", "virtual")}


def security(bookable_by: int, *, of_cpts: bool) -> list[dict[str, str]]:
    """Who may book the slot, in the guide's terms (TRE-R314): the regulation (SNP), professionals (PRO:
    the ED and city referrers), the CPTS's own (CPTS: only on a slot of a CPTS, "accessible par une
    structure de type CPTS"). SNP slots are never PUBLIC."""
    codes = []
    if bookable_by & bookers.BOOKER_BITS["regulation"]:
        codes.append("SNP")
    if bookable_by & (bookers.BOOKER_BITS["urgences"] | bookers.BOOKER_BITS["referrers"]):
        codes.append("PRO")
    if bookable_by & bookers.CPTS_BIT and of_cpts:
        codes.append("CPTS")
    return [{"system": TYPE_CRENEAU, "code": code} for code in codes]


def instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def role_id(practitioner_id: uuid.UUID, site_id: uuid.UUID) -> str:
    """The Schedule and the PractitionerRole of a doctor at a site."""
    return practitioner_id.hex + site_id.hex


def split_role_id(value: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    if len(value) != 64:
        return None
    try:
        return uuid.UUID(hex=value[:32]), uuid.UUID(hex=value[32:])
    except ValueError:
        return None


def is_cpts(row: Any) -> bool:
    """A slot of a CPTS whose FINESS is known carries its CPTS (the guide's Organization needs the FINESS)."""
    return row["territory_kind"] == "cpts" and row["finess"] is not None


def booking_page(base: str, practitioner_id: Any, slot_id: Any) -> str:
    """Our booking page for a slot, in its doctor's agenda (the guide's "URL de redirection vers l'agenda du PS"):
    a path without a query, so that the ``origin`` parameter the platform appends is the page's only one."""
    return f"{base}/console/agenda/{practitioner_id}/{slot_id}"


def slot(row: Any, base: str) -> dict[str, Any]:
    code, display = MODES[row["mode"]]
    service_type: list[dict[str, Any]] = [{"coding": [{"system": ACT_CODE, "code": code, "display": display}]}]
    if is_cpts(row):
        service_type.append({
            "extension": [{"url": SERVICE_TYPE_R5,
                           "valueReference": {"reference": f"HealthcareService/{row['territory_code']}"}}],
            "coding": [{"system": CATEGORIE_ETABLISSEMENT, "code": CPTS_CATEGORY}],
        })
    resource: dict[str, Any] = {
        "resourceType": "Slot", "id": str(row["id"]),
        "meta": {"profile": [PROFILES["Slot"]], "security": security(row["bookable_by"], of_cpts=is_cpts(row))},
        "serviceType": service_type,
        "appointmentType": {"coding": [{"system": APPOINTMENT_REASON, "code": "ROUTINE"}]},
        "schedule": {"reference": f"Schedule/{role_id(row['practitioner_id'], row['site_id'])}"},
        "status": "free", "start": instant(row["start_at"]), "end": instant(row["end_at"]),
        "comment": booking_page(base, row["practitioner_id"], row["id"]),
    }
    if row["specialty_code"]:
        resource["specialty"] = [{"coding": [{"system": SPECIALITE, "code": row["specialty_code"]}]}]
    return resource


def schedule(practitioner_id: uuid.UUID, site_id: uuid.UUID) -> dict[str, Any]:
    rid = role_id(practitioner_id, site_id)
    return {"resourceType": "Schedule", "id": rid, "meta": {"profile": [PROFILES["Schedule"]]},
            "actor": [{"reference": f"Practitioner/{practitioner_id}"}, {"reference": f"PractitionerRole/{rid}"}]}


def national_ids(row: Any) -> list[str]:
    """A practitioner's national ids, prefixed as the guide has them: 8 + RPPS, and 0 + ADELI where he has one."""
    return ["8" + row["rpps"]] + (["0" + row["adeli"]] if row["adeli"] else [])


def practitioner(row: Any) -> dict[str, Any]:
    """FrPractitionerAgregateur: each national id an IDNPS identifier (``identifier 1..*``)."""
    return {
        "resourceType": "Practitioner", "id": str(row["practitioner_id"]),
        "meta": {"profile": [PROFILES["Practitioner"]]},
        "identifier": [{"type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "IDNPS"}]}, "system": PS_OID,
                        "value": value} for value in national_ids(row)],
        "name": [{"family": row["family_name"], "given": [row["given_name"]]}],
    }


def practitioner_role(row: Any) -> dict[str, Any]:
    address = {"line": [row["site_address"]], "postalCode": row["site_postcode"]}
    if row["site_city"]:
        address["city"] = row["site_city"]
    return {
        "resourceType": "PractitionerRole", "id": role_id(row["practitioner_id"], row["site_id"]),
        "meta": {"profile": [PROFILES["PractitionerRole"]]},
        "contained": [{
            "resourceType": "Location", "id": "site", "meta": {"profile": [PROFILES["Location"]]},
            "identifier": [{"type": {"coding": [{"system": LOCATION_IDENTIFIER_TYPE, "code": "INTRN"}]},
                            "system": SITE_SYSTEM, "value": str(row["site_id"])}],
            "name": row["site_name"], "address": address,
            "position": {"latitude": row["site_lat"], "longitude": row["site_lon"]},
        }],
        "practitioner": {"reference": f"Practitioner/{row['practitioner_id']}"},
        "location": [{"reference": "#site"}],
    }


def healthcare_service(row: Any) -> dict[str, Any]:
    return {"resourceType": "HealthcareService", "id": row["territory_code"],
            "meta": {"profile": [PROFILES["HealthcareService"]]},
            "providedBy": {"reference": f"Organization/{row['territory_code']}"}}


def organization(row: Any) -> dict[str, Any]:
    return {
        "resourceType": "Organization", "id": row["territory_code"], "meta": {"profile": [PROFILES["Organization"]]},
        "identifier": [{"type": {"coding": [{"system": ORGANIZATION_IDENTIFIER_TYPE, "code": "IDNST"}]},
                        "system": STRUCTURE_OID, "value": "1" + row["finess"]}],
        "name": row["territory_name"],
    }


def included(rows: list[Any], wanted: set[str]) -> list[dict[str, Any]]:
    """The resources the includes ask for, each once, in the guide's example order."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if "Slot:schedule" in wanted:
            found = schedule(row["practitioner_id"], row["site_id"])
            out.setdefault(("Schedule", found["id"]), found)
            if "Schedule:actor" in wanted:
                out.setdefault(("Practitioner", str(row["practitioner_id"])), practitioner(row))
                role = practitioner_role(row)
                out.setdefault(("PractitionerRole", role["id"]), role)
        if "Slot:service-type-reference" in wanted and is_cpts(row):
            out.setdefault(("HealthcareService", row["territory_code"]), healthcare_service(row))
            if "HealthcareService:organization" in wanted:
                out.setdefault(("Organization", row["territory_code"]), organization(row))
    return list(out.values())


def entry(base: str, resource: dict[str, Any], mode: str) -> dict[str, Any]:
    return {"fullUrl": f"{base}/fhir/{resource['resourceType']}/{resource['id']}", "resource": resource,
            "search": {"mode": mode}}


def bundle(self_url: str, entries: list[dict[str, Any]], total: int, *, slots: bool = True) -> dict[str, Any]:
    """A searchset with its one link (self: every match is in it, never a page); the guide's Bundle
    profile is the slot search's (a Practitioner search has none). No match: ``total`` 0 and no ``entry``
    at all (FHIR's JSON has no empty arrays), as the guide's page says an empty result is a success — its
    Bundle profile's ``1..*`` Slot cannot hold one (docs/interop.md)."""
    found: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total,
                             "link": [{"relation": "self", "url": self_url}]}
    if entries:
        found["entry"] = entries
    if slots:
        found["meta"] = {"profile": [PROFILES["Bundle"]]}
    return found


GUIDE_CAPABILITY = f"{IG}/CapabilityStatement/SAS-GestionnaireAgenda-CPTS"
GUIDE_APPOINTMENTS_CAPABILITY = f"{IG}/CapabilityStatement/SAS-GestionnaireAgenda-RDVpsindiv"
GUIDE_STRUCTURE_CAPABILITY = f"{IG}/CapabilityStatement/SAS-GestionnaireStructure"
REGULATOR_PROFILE = f"{IG}/StructureDefinition/FrPractitionerRegul"


def capability_statement(base: str) -> dict[str, Any]:
    """What this server serves: the guide's "gestionnaire d'agenda CPTS", and the reads around it."""
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-30", "kind": "instance",
        "publisher": "SNP", "instantiates": [GUIDE_CAPABILITY, GUIDE_APPOINTMENTS_CAPABILITY,
                                                     GUIDE_STRUCTURE_CAPABILITY],
        "software": {"name": "SNP — Service d'Accès aux Soins"},
        "implementation": {"description": "Créneaux SNP des CPTS pour la plateforme nationale du SAS", "url": base},
        "fhirVersion": "4.0.1", "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Mise à disposition de créneaux de disponibilité CPTS (ans.fhir.fr.sas 1.2.0)",
            "security": {"cors": False,
                         "description": "Mutual TLS with an IGC-Santé certificate registered here (the national "
                                        "platform, role platform), or a bearer JWT",
                         "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                                  "code": code}]} for code in ("Certificates", "OAuth")]},
            "resource": [
                {"type": "Slot", "profile": PROFILES["Slot"],
                 "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchInclude": ["Slot:schedule", "Schedule:actor", "Slot:service-type-reference",
                                   "HealthcareService:organization"],
                 "searchParam": [
                     {"name": "start", "definition": f"{IG}/SearchParameter/slot-sp-start", "type": "date",
                      "documentation": "ge and le, both"},
                     {"name": "schedule.actor:Practitioner.identifier", "type": "token",
                      "documentation": f"1 to 25 national identifiers {PS_OID}|8<RPPS> or |0<ADELI>, "
                                       "comma-separated"},
                     {"name": "status", "definition": "http://hl7.org/fhir/SearchParameter/Slot-status",
                      "type": "token", "documentation": "free (the only status served)"},
                     {"name": "_count", "type": "number",
                      "documentation": f"the most slots one answer holds, 1 to {MAX_SLOTS} (default): every "
                                       "match is in one answer, never a page; a search matching more is refused"}]},
                {"type": "Schedule", "profile": PROFILES["Schedule"],
                 "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [{"name": "actor", "definition": "http://hl7.org/fhir/SearchParameter/Schedule-actor",
                                  "type": "reference",
                                  "documentation": "Practitioner/<id>, PractitionerRole/<id>, or chained "
                                                   "actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|8<RPPS> "
                                                   "(or |0<ADELI>)"}]},
                {"type": "PractitionerRole", "profile": PROFILES["PractitionerRole"],
                 "interaction": [{"code": "read"}]},
                {"type": "HealthcareService", "profile": PROFILES["HealthcareService"],
                 "interaction": [{"code": "read"}]},
                {"type": "Organization", "profile": PROFILES["Organization"], "interaction": [{"code": "read"}]},
                # The practitioners publishing slots; and the guide's "gestionnaire de structure": the
                # national platform's regulator accounts (FrPractitionerRegul), created and updated here.
                {"type": "Practitioner", "profile": PROFILES["Practitioner"],
                 "supportedProfile": [REGULATOR_PROFILE],
                 "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}, {"code": "update"}],
                 "updateCreate": True, "conditionalUpdate": True,
                 "searchParam": [{"name": "identifier",
                                  "definition": "http://hl7.org/fhir/SearchParameter/Practitioner-identifier",
                                  "type": "token", "documentation": f"{PS_OID}|8<RPPS> or |0<ADELI> (the search "
                                  "finds practitioners publishing slots, never a regulator account); the "
                                  f"conditional update: {PS_OID}|<national id> or "
                                  "urn:oid:1.2.250.1.213.3.6|<SAS technical id>"}]},
                # The guide's "gestionnaire d'agenda RDV": agendas declare the appointments of our slots.
                {"type": "Appointment", "profile": "http://sas.fr/fhir/StructureDefinition/FrAppointmentSAS",
                 "interaction": [{"code": "create"}, {"code": "update"}, {"code": "read"}],
                 "updateCreate": True, "conditionalUpdate": True,
                 "searchParam": [{"name": "identifier",
                                  "definition": "http://hl7.org/fhir/SearchParameter/Appointment-identifier",
                                  "type": "token", "documentation": "the conditional update's system|value"}]},
            ],
        }],
    }
