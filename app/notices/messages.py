"""What the patient reads: the SMS and the e-mail (text, simple HTML, and the appointment as an ``.ics``), in French,
with the date and time in the territory's local time. An SMS carries no health detail (no reason), names the
sender, says replies are not read and which number to call, and stays within two segments."""

from __future__ import annotations

import datetime as dt
import html
import unicodedata
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import icalendar

# GSM 03.38's basic character set and its extension (two septets each): anything else makes the whole SMS
# UCS-2, 70 characters a segment (67 when split) instead of 160 (153).
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
           "¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = set("^{}\\[~]|€\f")
DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
CHILD_AGE = 16
# What an SMS gives of the place at most (the e-mail gives it whole): the address, cut at a word.
SMS_ADDRESS = 46
SMS_ADDRESS_MIN = 26  # the shortest it is cut to, to keep an SMS (a reminder says a little more) within two segments
SMS_DOCTOR = 24


def gsm7_fold(text: str) -> str:
    """``text`` with each letter GSM-7 lacks (â, ê, ç, œ, ’…) written as its nearest GSM-7 one: a single such
    letter would make the whole SMS UCS-2, less than half as long a segment."""
    out = []
    for ch in text.replace("œ", "oe").replace("Œ", "OE").replace("’", "'").replace("«", '"').replace("»", '"'):
        if ch in GSM7 or ch in GSM7_EXTENDED:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFD", ch)[0]
        out.append(base if base in GSM7 else "?")
    return "".join(out)


def clip(text: str, size: int) -> str:
    """``text`` cut at a word to ``size`` characters at most (marked by "...")."""
    flat = " ".join(text.split())
    if len(flat) <= size:
        return flat
    return flat[: size - 3].rsplit(" ", 1)[0].rstrip(",;") + "..."


def segments(text: str) -> tuple[str, int]:
    """The encoding an SMS of ``text`` goes in (gsm7 or ucs2) and how many segments it takes."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in text):
        septets = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return "gsm7", 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return "ucs2", 1 if units <= 70 else -(-units // 67)


@dataclass(frozen=True)
class Appointment:
    """What a message tells of a booking (no reason, nothing of the patient but whether he is a child)."""

    booking_id: uuid.UUID
    message_id: uuid.UUID
    kind: str  # confirmation, reminder, moved (a change of slot: the new time) or cancellation
    start: dt.datetime
    end: dt.datetime
    timezone: str
    mode: str  # in_person, home_visit, teleconsultation
    doctor_given: str
    doctor_family: str
    site_name: str
    address: str
    postcode: str
    child: bool
    cancel_url: str | None  # None once it cannot be used (the appointment has started, or it is cancelled)
    phone: str  # the number to call
    sender: str  # who writes (the SMS's sender name, the e-mail's signature)

    @property
    def doctor(self) -> str:
        return f"Dr {self.doctor_given} {self.doctor_family}"

    @property
    def local_start(self) -> dt.datetime:
        return self.start.astimezone(ZoneInfo(self.timezone))

    @property
    def local_end(self) -> dt.datetime:
        return self.end.astimezone(ZoneInfo(self.timezone))


def when(at: dt.datetime) -> str:
    """« mardi 8 décembre à 14h30 »."""
    return f"{DAYS[at.weekday()]} {at.day} {MONTHS[at.month - 1]} à {at.hour}h{at.minute:02d}"


def short_when(at: dt.datetime) -> str:
    """« 08/12 à 14h30 », for the SMS."""
    return f"{at.day:02d}/{at.month:02d} à {at.hour}h{at.minute:02d}"


def where(a: Appointment) -> str:
    if a.mode == "teleconsultation":
        return "Téléconsultation : le médecin vous rappelle"
    if a.mode == "home_visit":
        return "Visite à domicile : le médecin vient chez vous"
    return f"{a.site_name}, {a.address}, {a.postcode}"


def sms(a: Appointment) -> str:
    """The SMS: the sender, the appointment, where, what to bring, how to cancel, and that replies go unread;
    in GSM-7, within two segments (the e-mail says the rest): the address is cut shorter when it takes that."""
    text = ""
    for size in range(SMS_ADDRESS, SMS_ADDRESS_MIN - 1, -4):
        text = _sms(a, size)
        if segments(text)[1] <= 2:
            break
    return text


def _sms(a: Appointment, address_size: int) -> str:
    doctor = "Dr " + clip(a.doctor_family, SMS_DOCTOR)
    if a.kind == "cancellation":
        body = (f"{a.sender}: votre RDV du {short_when(a.local_start)} avec {doctor} est annulé. "
                f"Besoin d'un médecin ? Appelez le {a.phone}.")
    else:
        if a.mode == "teleconsultation":
            place = "le médecin vous rappelle"
        elif a.mode == "home_visit":
            place = "le médecin vient chez vous"
        else:
            place = f"{clip(a.address, address_size)} {a.postcode}"
        what = {"reminder": "rappel RDV", "moved": "RDV déplacé au"}.get(a.kind, "RDV")
        body = (f"{a.sender}: {what} {short_when(a.local_start)}, {doctor}, {place}. "
                f"Apportez {to_bring(a)}.")
        if a.cancel_url:
            body += f" Annuler: {a.cancel_url}"
    return gsm7_fold(body + f" Réponses non lues, appelez le {a.phone}.")


def to_bring(a: Appointment) -> str:
    items = ["carte Vitale", "ordonnances"]
    if a.child:
        items.append("carnet de santé")
    return ", ".join(items)


def subject(a: Appointment) -> str:
    if a.kind == "cancellation":
        return f"Rendez-vous annulé : {when(a.local_start)}"
    if a.kind == "reminder":
        return f"Rappel de votre rendez-vous médical : {when(a.local_start)}"
    if a.kind == "moved":
        return f"Rendez-vous déplacé : {when(a.local_start)}"
    return f"Votre rendez-vous médical : {when(a.local_start)}"


def text_body(a: Appointment) -> str:
    if a.kind == "cancellation":
        lines = [
            "Bonjour,", "",
            f"Votre rendez-vous du {when(a.local_start)} avec {a.doctor} est annulé.",
            f"Si vous avez encore besoin d'un médecin, appelez le {a.phone}.",
        ]
    else:
        lines = [
            "Bonjour,", "",
            {"reminder": f"Nous vous rappelons votre rendez-vous médical le {when(a.local_start)} avec {a.doctor}.",
             "moved": f"Votre rendez-vous médical est déplacé : il a lieu le {when(a.local_start)} avec {a.doctor}."}
            .get(a.kind, f"Votre rendez-vous médical est confirmé le {when(a.local_start)} avec {a.doctor}."),
            where(a) + ".", "",
            f"À apporter : {to_bring(a)}.", "",
        ]
        if a.cancel_url:
            lines.append(f"Si vous ne pouvez pas venir, annulez en un clic : {a.cancel_url}")
            lines.append("La même page permet de ne plus recevoir de rappel pour ce rendez-vous.")
        lines.append(f"Pour toute question, appelez le {a.phone}.")
    lines += ["", f"{a.sender}", "Ce message est envoyé automatiquement : les réponses ne sont pas lues."]
    return "\n".join(lines) + "\n"


def html_body(a: Appointment) -> str:
    paragraphs = []
    for block in text_body(a).split("\n\n"):
        escaped = html.escape(block.strip())
        if a.cancel_url and html.escape(a.cancel_url) in escaped:
            link = html.escape(a.cancel_url)
            escaped = escaped.replace(link, f'<a href="{link}">annuler le rendez-vous</a>')
        paragraphs.append(f"<p>{escaped.replace(chr(10), '<br>')}</p>")
    return ('<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>'
            f"{html.escape(subject(a))}</title></head><body>{''.join(paragraphs)}</body></html>")


def calendar(a: Appointment) -> bytes:
    """The appointment as an iCalendar event, in the territory's local time (its TZID)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//SNP//Rendez-vous//FR")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if a.kind == "cancellation" else "PUBLISH")
    event = icalendar.Event()
    event.add("uid", f"{a.booking_id}@snp")
    event.add("dtstamp", dt.datetime.now(dt.UTC))
    event.add("dtstart", a.local_start)
    event.add("dtend", a.local_end)
    event.add("summary", f"Rendez-vous médical avec {a.doctor}")
    event.add("location", where(a))
    event.add("status", "CANCELLED" if a.kind == "cancellation" else "CONFIRMED")
    event.add("sequence", 1 if a.kind == "cancellation" else 0)
    cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def email(a: Appointment, sender: str, recipient: str) -> EmailMessage:
    """The e-mail: text and HTML alternatives, the ``.ics`` attached; its Message-ID is the message's id."""
    message = EmailMessage()
    message["Subject"] = subject(a)
    message["From"] = sender
    message["To"] = recipient
    domain = sender.rsplit("@", 1)[-1].rstrip(">") or "snp"
    message["Message-ID"] = f"<{a.message_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text_body(a))
    message.add_alternative(html_body(a), subtype="html")
    message.add_attachment(calendar(a).decode(), subtype="calendar", filename="rendez-vous.ics",
                           params={"method": "CANCEL" if a.kind == "cancellation" else "PUBLISH"})
    return message
