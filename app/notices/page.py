"""The patient's cancel page (``/p/{token}``), in French, without JavaScript: the appointment and a button to
cancel it, and one to receive no reminder while one is still to come (a GET changes nothing: mail scanners and SMS
previews fetch links), then what happened."""

from __future__ import annotations

import html
from typing import Any

from app.notices import messages
from app.platform import pages

NO_REMINDER = "/no-reminder"  # after the link's path: the form that stops the reminders of the appointment

STYLE = ("body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
         "button{font-size:1.1rem;padding:.6rem 1.2rem;background:#b00020;color:#fff;border:0;border-radius:.3rem}"
         "button.quiet{font-size:1rem;background:#fff;color:#222;border:1px solid #888}"
         ".box{border:1px solid #ccc;border-radius:.4rem;padding:1rem;margin:1rem 0}")


def _document(title: str, body: str) -> str:
    return pages.document(title, body, STYLE)


def _appointment(ctx: Any) -> str:
    a = messages.Appointment(
        booking_id=ctx["id"], message_id=ctx["id"], kind="confirmation", start=ctx["start_at"], end=ctx["end_at"],
        timezone=ctx["timezone"], mode=ctx["mode"], doctor_given=ctx["given_name"], doctor_family=ctx["family_name"],
        site_name=ctx["site_name"], address=ctx["address"], postcode=ctx["postcode"], child=False, cancel_url=None,
        phone="", sender="")
    return (f'<div class="box"><p>Le {html.escape(messages.when(a.local_start))}<br>avec '
            f"{html.escape(a.doctor)}<br>{html.escape(messages.where(a))}</p></div>")


def _call_us(phone: str) -> str:
    return f"<p>Pour toute question, appelez le {html.escape(phone)}.</p>"


def unknown(phone: str) -> str:
    return _document("Lien expiré ou inconnu", "<p>Ce lien n'est pas ou plus valable : il ne sert que jusqu'à l'heure "
                     "du rendez-vous.</p>" + _call_us(phone))


def confirm(ctx: Any, action: str, phone: str, *, reminder: bool = False) -> str:
    """The appointment and its cancel button; ``reminder``: a reminder is still to come, and a button stops it
    (``{action}/no-reminder``)."""
    form = (f'<form method="post" action="{html.escape(action)}"><p>Vous ne pourrez pas venir ? Annulez pour '
            "libérer la place pour un autre patient.</p><button type=\"submit\">Annuler ce rendez-vous</button></form>")
    if reminder:
        form += (f'<form method="post" action="{html.escape(action + NO_REMINDER)}"><p>Vous viendrez et ne '
                 "souhaitez pas de rappel avant le rendez-vous ?</p>"
                 '<button type="submit" class="quiet">Ne plus recevoir de rappel</button></form>')
    return _document("Votre rendez-vous", _appointment(ctx) + form + _call_us(phone))


def reminders_stopped(ctx: Any, phone: str) -> str:
    return _document("Rappel supprimé", _appointment(ctx) + "<p>Vous ne recevrez pas de rappel pour ce rendez-vous. "
                     "Il reste confirmé.</p>" + _call_us(phone))


def cancelled_now(ctx: Any, phone: str) -> str:
    return _document("Rendez-vous annulé", _appointment(ctx) + "<p>Votre rendez-vous est annulé et la place est "
                     "libérée. Le service d'accès aux soins vous rappellera si nécessaire.</p>" + _call_us(phone))


def already(ctx: Any, phone: str, *, outcome: bool) -> str:
    said = ("Ce rendez-vous a déjà eu lieu." if outcome else "Ce rendez-vous est déjà annulé : il n'y a rien de plus "
            "à faire.")
    return _document("Rendez-vous déjà annulé" if not outcome else "Rendez-vous passé",
                     _appointment(ctx) + f"<p>{said}</p>" + _call_us(phone))
