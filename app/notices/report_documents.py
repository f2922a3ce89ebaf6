"""What the médecin traitant receives by secure mail: one message from the CPTS's applicative mailbox carrying the
visit's report as text (the body), as PDF, and as an IHE XDM zip (``IHE_XDM.ZIP``) holding a CDA R2 document of
level 1 (the PDF in a ``nonXMLBody``) with its XDS metadata, as the ANS's MSSanté and CI-SIS material describes
the exchange (docs/notices.md). The identity traits let the doctor file it: birth name, first name, birth date,
sex. The attachments are shaped after those documents, not validated by the ANS's test tools."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import uuid
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from fpdf import FPDF

from app.notices.messages import when

# Identifiers the documents use: the RPPS's national OID (8 + RPPS: a practitioner's national id), the CI-SIS
# templates of a French CDA header, and UUID-based OIDs (2.25) for what has no registered OID.
RPPS_OID = "1.2.250.1.71.4.2.1"
CDA_TEMPLATES = ("2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1")  # HL7 France; CI-SIS structuration minimale
LOINC = "2.16.840.1.113883.6.1"
CONSULT_NOTE = ("11488-4", "Note de consultation")
SEX = {"F": ("F", "Féminin"), "M": ("M", "Masculin"), "U": ("U", "Inconnu")}
DOCUMENT = "DOC0001.XML"
XDM_ZIP = "IHE_XDM.ZIP"
STABLE_DOCUMENT = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"  # XDS DocumentEntry objectType
SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"  # XDS SubmissionSet classification


@dataclass(frozen=True)
class Traits:
    """What the médecin traitant files the report by (asked of the effector only when he writes one)."""

    birth_name: str
    given_name: str
    birth_date: dt.date
    sex: str


@dataclass(frozen=True)
class Report:
    id: uuid.UUID
    text: str
    traits: Traits
    visit: dt.datetime  # the appointment's start
    timezone: str
    author_rpps: str
    author_given: str
    author_family: str
    site_name: str
    territory_name: str
    gp_address: str
    gp_rpps: str | None
    gp_family: str | None
    gp_given: str | None
    patient_key: str  # the call's id: names the patient within the service, never outside it


def _oid(value: uuid.UUID) -> str:
    return f"2.25.{value.int}"


def born(traits: Traits) -> str:
    word = "née" if traits.sex == "F" else "né"
    return f"{traits.birth_name.upper()} {traits.given_name}, {word} le {traits.birth_date.strftime('%d/%m/%Y')}"


def subject(r: Report) -> str:
    # Neutral: a subject is shown outside the message's protected body (mailbox lists, notifications, server logs);
    # the patient is named in the body, the PDF and the CDA.
    return f"Compte rendu de consultation non programmée du {r.visit.astimezone(ZoneInfo(r.timezone)):%d/%m/%Y}"


def text_body(r: Report) -> str:
    visit = r.visit.astimezone(ZoneInfo(r.timezone))
    doctor = " ".join(p for p in ("Dr", r.gp_given, r.gp_family) if p) if r.gp_family else "Docteur"
    return "\n".join([
        f"{doctor},",
        "",
        f"Votre patient(e) {born(r.traits)} (sexe : {SEX[r.traits.sex][1]}), a été vu(e) {when(visit)} par le "
        f"Dr {r.author_given} {r.author_family} ({r.site_name}), sur orientation du service d'accès aux soins "
        f"({r.territory_name}).",
        "",
        "Compte rendu :",
        r.text,
        "",
        "Le patient a été informé de cet envoi et ne s'y est pas opposé.",
        "Pièces jointes : le compte rendu en PDF, et en document CDA (IHE_XDM.ZIP).",
        "Message envoyé par la boîte applicative du SAS ; les réponses ne sont pas lues.",
    ]) + "\n"


def _latin1(text: str) -> str:
    """The PDF's core font writes Latin-1: the few French signs beyond it are written as their nearest."""
    table = {"œ": "oe", "Œ": "OE", "’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...",
             "€": "EUR", "\u202f": " "}
    folded = "".join(table.get(ch, ch) for ch in text)
    return folded.encode("latin-1", "replace").decode("latin-1")


def pdf(r: Report) -> bytes:
    document = FPDF(format="A4")
    document.set_title(_latin1(subject(r)))
    document.set_creator("SAS")
    document.set_creation_date(r.visit)
    document.add_page()
    document.set_font("Helvetica", "B", 14)
    document.multi_cell(0, 8, _latin1("Compte rendu de consultation non programmée"), new_x="LMARGIN", new_y="NEXT")
    document.set_font("Helvetica", size=11)
    document.ln(2)
    for line in text_body(r).splitlines():
        document.multi_cell(0, 6, _latin1(line) or " ", new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


def cda(r: Report, pdf_bytes: bytes) -> bytes:
    """A CDA R2 document of level 1: the French header (patient, author, custodian, recipient, the visit) and the
    PDF as its ``nonXMLBody``."""
    t = r.traits
    at = r.visit.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    code, label = CONSULT_NOTE
    gp = (f'<id root="{RPPS_OID}" extension="8{escape(r.gp_rpps)}"/>' if r.gp_rpps else "") + (
        f"<telecom value={quoteattr('mailto:' + r.gp_address)}/>")
    gp_name = (f"<informationRecipient><name><given>{escape(r.gp_given or '')}</given><family>"
               f"{escape(r.gp_family)}</family></name></informationRecipient>") if r.gp_family else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  {"".join(f'<templateId root="{root}"/>' for root in CDA_TEMPLATES)}
  <id root="{_oid(r.id)}"/>
  <code code="{code}" codeSystem="{LOINC}" codeSystemName="LOINC" displayName="{label}"/>
  <title>{escape(subject(r))}</title>
  <effectiveTime value="{at}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <setId root="{_oid(r.id)}"/>
  <versionNumber value="1"/>
  <recordTarget><patientRole>
    <id root="{_oid(uuid.UUID(r.patient_key))}"/>
    <patient>
      <name><given>{escape(t.given_name)}</given><family qualifier="BR">{escape(t.birth_name)}</family></name>
      <administrativeGenderCode code="{SEX[t.sex][0]}" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="{t.birth_date.strftime('%Y%m%d')}"/>
    </patient>
  </patientRole></recordTarget>
  <author><time value="{at}"/><assignedAuthor>
    <id root="{RPPS_OID}" extension="8{escape(r.author_rpps)}"/>
    <assignedPerson><name><given>{escape(r.author_given)}</given><family>{escape(r.author_family)}</family></name>
    </assignedPerson>
  </assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="{_oid(uuid.uuid5(uuid.NAMESPACE_URL, r.territory_name))}"/>
    <name>{escape(r.territory_name)}</name>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <informationRecipient><intendedRecipient>{gp}{gp_name}</intendedRecipient></informationRecipient>
  <documentationOf><serviceEvent><effectiveTime><low value="{at}"/></effectiveTime></serviceEvent></documentationOf>
  <componentOf><encompassingEncounter><effectiveTime value="{at}"/></encompassingEncounter></componentOf>
  <component><nonXMLBody>
    <text mediaType="application/pdf" representation="B64">{base64.b64encode(pdf_bytes).decode()}</text>
  </nonXMLBody></component>
</ClinicalDocument>
""".encode()


def _slot(name: str, *values: str) -> str:
    inner = "".join(f"<rim:Value>{escape(v)}</rim:Value>" for v in values)
    return f'<rim:Slot name="{name}"><rim:ValueList>{inner}</rim:ValueList></rim:Slot>'


def _classification(scheme: str, obj: str, code: str, system: str, label: str) -> str:
    return (f'<rim:Classification classificationScheme="{scheme}" classifiedObject="{obj}" nodeRepresentation='
            f'{quoteattr(code)} id="urn:uuid:{uuid.uuid4()}">{_slot("codingScheme", system)}'
            f'<rim:Name><rim:LocalizedString value={quoteattr(label)}/></rim:Name></rim:Classification>')


def _external(scheme: str, obj: str, value: str, label: str) -> str:
    return (f'<rim:ExternalIdentifier identificationScheme="{scheme}" registryObject="{obj}" value={quoteattr(value)} '
            f'id="urn:uuid:{uuid.uuid4()}"><rim:Name><rim:LocalizedString value="{label}"/></rim:Name>'
            f"</rim:ExternalIdentifier>")


def metadata(r: Report, document: bytes) -> bytes:
    """The XDS metadata of the one document of the XDM subset: its entry, the submission set naming the
    médecin traitant as its intended recipient, and the association between them."""
    entry, package = "urn:uuid:" + str(r.id), f"urn:uuid:{uuid.uuid4()}"
    code, label = CONSULT_NOTE
    patient = f"{uuid.UUID(r.patient_key).hex}^^^&{_oid(uuid.uuid5(uuid.NAMESPACE_URL, 'snp-patient'))}&ISO"
    stamp = r.visit.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
    recipient = f"|{r.gp_address}^^^^^^^^^{r.gp_address}" if not r.gp_rpps else (
        f"8{r.gp_rpps}^{r.gp_family or ''}^{r.gp_given or ''}^^^^^^&{RPPS_OID}&ISO|{r.gp_address}")
    birth = r.traits.birth_date.strftime("%Y%m%d")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
  xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><rim:RegistryObjectList>
<rim:ExtrinsicObject id="{entry}" mimeType="text/xml" objectType="{STABLE_DOCUMENT}">
{_slot("creationTime", stamp)}{_slot("languageCode", "fr-FR")}{_slot("URI", DOCUMENT)}
{_slot("hash", hashlib.sha1(document, usedforsecurity=False).hexdigest())}{_slot("size", str(len(document)))}
{_slot("sourcePatientId", patient)}
{_slot("sourcePatientInfo", f"PID-5|{r.traits.birth_name}^{r.traits.given_name}^^^^^L", f"PID-7|{birth}",
       f"PID-8|{r.traits.sex}")}
<rim:Name><rim:LocalizedString value={quoteattr(subject(r))}/></rim:Name>
{_classification("urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a", entry, code, LOINC, label)}
{_classification("urn:uuid:f0306f51-975f-434e-a61c-c59651d33983", entry, code, LOINC, label)}
{_classification("urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d", entry, "urn:ihe:iti:xds-sd:pdf:2008",
                 "1.3.6.1.4.1.19376.1.2.3", "PDF embedded in CDA")}
{_classification("urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f", entry, "N", "2.16.840.1.113883.5.25", "Normal")}
{_external("urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab", entry, _oid(r.id), "XDSDocumentEntry.uniqueId")}
{_external("urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427", entry, patient, "XDSDocumentEntry.patientId")}
</rim:ExtrinsicObject>
<rim:RegistryPackage id="{package}">
{_slot("submissionTime", stamp)}{_slot("intendedRecipient", recipient)}
{_external("urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8", package, _oid(uuid.uuid4()), "XDSSubmissionSet.uniqueId")}
{_external("urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832", package, _oid(r.id), "XDSSubmissionSet.sourceId")}
{_external("urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446", package, patient, "XDSSubmissionSet.patientId")}
</rim:RegistryPackage>
<rim:Classification classifiedObject="{package}" classificationNode="{SUBMISSION_SET}" id="urn:uuid:{uuid.uuid4()}"/>
<rim:Association associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
  sourceObject="{package}" targetObject="{entry}" id="urn:uuid:{uuid.uuid4()}">
{_slot("SubmissionSetStatus", "Original")}</rim:Association>
</rim:RegistryObjectList></lcm:SubmitObjectsRequest>
""".encode()


def xdm(r: Report, pdf_bytes: bytes) -> bytes:
    """The IHE XDM media as a zip: ``INDEX.HTM`` and ``README.TXT`` at its root, the subset's ``METADATA.XML`` and
    its CDA document under ``IHE_XDM/SUBSET01/``."""
    document = cda(r, pdf_bytes)
    index = (f"<html><head><meta charset=\"utf-8\"><title>{escape(subject(r))}</title></head><body>"
             f"<p>{escape(subject(r))}</p><ul><li><a href=\"IHE_XDM/SUBSET01/{DOCUMENT}\">Compte rendu (CDA)</a>"
             f"</li></ul></body></html>")
    readme = (f"Compte rendu de consultation non programmee, envoye par le SAS ({r.territory_name}).\r\n"
              "Contenu : IHE_XDM/SUBSET01/METADATA.XML (metadonnees XDS), "
              f"IHE_XDM/SUBSET01/{DOCUMENT} (CDA R2 niveau 1, PDF integre).\r\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("INDEX.HTM", index)
        z.writestr("README.TXT", readme)
        z.writestr("IHE_XDM/SUBSET01/METADATA.XML", metadata(r, document))
        z.writestr(f"IHE_XDM/SUBSET01/{DOCUMENT}", document)
    return buffer.getvalue()


def email(r: Report, sender: str) -> EmailMessage:
    """The secure mail: the report as text, its PDF, and the XDM zip; its Message-ID is the report's id."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, r.gp_address, subject(r)
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    domain = sender.rsplit("@", 1)[-1].rstrip(">") or "snp"
    message["Message-ID"] = f"<{r.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text_body(r))
    document = pdf(r)
    message.add_attachment(document, maintype="application", subtype="pdf", filename="compte-rendu.pdf")
    message.add_attachment(xdm(r, document), maintype="application", subtype="zip", filename=XDM_ZIP)
    return message
