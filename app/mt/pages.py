"""The public pages of the MT queue, in French, without JavaScript: the doctor's answer to a proposal (``/mt/{token}``:
what he needs to decide — publics, postcode, priority, distance — never who the patient is) and the patient's own
request (``/v1/self-referrals/{token}/mt``: a form, the information notice he is owed, then nothing shown back)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from app.platform import pages

STYLE = ("body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
         "button{font-size:1.05rem;padding:.55rem 1.1rem;border:0;border-radius:.3rem;color:#fff;background:#1b5e20}"
         "button.no{background:#8d1b1b}label{display:block;margin:.5rem 0}input,select{font-size:1rem;padding:.3rem}"
         ".box{border:1px solid #ccc;border-radius:.4rem;padding:1rem;margin:1rem 0}.error{color:#8d1b1b}"
         "small{color:#555}")

PRIORITY = {"high": "haute", "medium": "moyenne", "normal": "normale"}
PUBLICS = {"ald": "en affection de longue durée (ALD)", "disability": "en situation de handicap",
           "children": "enfant de moins de 6 ans", "elderly": "70 ans et plus", "pregnancy": "grossesse en cours"}
REASONS = {"ald": "ALD", "pregnancy": "grossesse", "disability": "handicap",
           "child_under_6": "enfant de moins de 6 ans", "elderly_70": "70 ans et plus",
           "snp_visit": "vu en soins non programmés"}
REFUSALS = {"no_capacity": "je n'ai plus de place", "publics": "ce patient n'est pas de ma patientèle habituelle",
            "too_far": "le patient habite trop loin", "patient_known": "je connais déjà ce patient",
            "other": "autre raison"}
STATES = {"accepted": "acceptée", "refused": "refusée", "withdrawn": "retirée (le patient a trouvé un médecin, ou sa "
          "demande est close)"}
# The patient's declarations on his own request (the age publics come from his birth year).
DECLARED = {"ald": "J'ai une affection de longue durée (ALD)", "disability": "Je suis en situation de handicap",
            "pregnancy": "Je suis enceinte"}


def _document(title: str, body: str) -> str:
    return pages.document(title, body, STYLE)


def _e(value: object) -> str:
    return html.escape(str(value))


# --------------------------------------------------------------------------- the doctor's answer


def unknown() -> str:
    return _document("Lien expiré ou inconnu", "<p>Ce lien n'est pas ou plus valable. Votre réponse peut aussi se "
                     "donner dans votre espace, ou auprès de la coordination de la CPTS.</p>")


def _proposal(ctx: dict[str, Any]) -> str:
    publics: Sequence[str] = ctx["publics"]
    situation = ", ".join(PUBLICS.get(p, p) for p in publics) or "aucune situation particulière déclarée"
    reasons = ", ".join(REASONS.get(r, r) for r in ctx["reasons"])
    age = f"{ctx['age']} ans" if ctx["age"] is not None else "non précisé"
    where = _e(ctx["postcode"]) if ctx["postcode"] else "non précisé"
    if ctx["distance_km"] is not None and ctx["site_name"]:
        where += f" (à environ {_e(round(ctx['distance_km']))} km de {_e(ctx['site_name'])})"
    return ('<div class="box"><p>La coordination de la CPTS vous propose un patient sans médecin traitant, qui a '
            "accepté d'être suivi par vous.</p><ul>"
            f"<li>Âge : {_e(age)}</li><li>Situation : {_e(situation)}</li><li>Code postal : {where}</li>"
            f"<li>Priorité : {_e(PRIORITY.get(ctx['priority'], ctx['priority']))}"
            f"{' (' + _e(reasons) + ')' if reasons else ''}</li></ul>"
            "<p><small>Son identité vous est communiquée une fois le patient accepté.</small></p></div>")


def answer_form(ctx: dict[str, Any], action: str, error: str | None = None) -> str:
    options = '<option value="">— choisir un motif —</option>' + "".join(
        f'<option value="{k}">{_e(v)}</option>' for k, v in REFUSALS.items())
    form = (f'<form method="post" action="{_e(action)}">'
            + (f'<p class="error">{html.escape(error, quote=False)}</p>' if error else "")
            + '<p><button type="submit" name="answer" value="accept">J\'accepte ce patient</button></p>'
            f'<p><label>Motif du refus <select name="reason">{options}</select></label>'
            '<button class="no" type="submit" name="answer" value="refuse">Je refuse</button></p></form>')
    return _document("Un nouveau patient vous est proposé", _proposal(ctx) + form)


def accepted(ctx: dict[str, Any]) -> str:
    return _document("Patient accepté", _proposal(ctx) + "<p>Merci : le patient compte parmi vos nouveaux patients de "
                     "ce mois. La coordination vous transmet ses coordonnées ; elles sont aussi dans votre espace. "
                     "Confirmez-y la première consultation quand elle a eu lieu.</p>")


def refused(ctx: dict[str, Any]) -> str:
    return _document("Refus enregistré", "<p>Votre refus est enregistré ; la coordination proposera un autre médecin "
                     "au patient.</p>")


def already(ctx: dict[str, Any], state: str) -> str:
    return _document("Proposition déjà traitée", f"<p>Cette proposition est déjà {_e(STATES.get(state, state))} : il "
                     "n'y a rien de plus à faire.</p>")


def not_possible(ctx: dict[str, Any], why: str) -> str:
    return _document("Acceptation impossible", _proposal(ctx) + f"<p class=\"error\">{_e(why)}</p>")


# --------------------------------------------------------------------------- the patient's own request


NOTICE = ("<details open><summary>Vos données</summary><p><small>La coordination de la CPTS (communauté "
          "professionnelle territoriale de santé) de votre territoire utilise ces informations pour vous trouver "
          "un médecin traitant et vous rappeler : c'est une mission d'intérêt public. Seuls la coordination et le "
          "médecin qui vous accepte les lisent. Elles sont chiffrées, et effacées {days} jours après que votre "
          "demande est close (médecin trouvé ou demande abandonnée) ; jamais pendant que vous attendez. Vous pouvez "
          "y accéder, les faire rectifier ou effacer, et vous opposer à leur usage, auprès de la coordination de "
          "votre CPTS ; en cas de difficulté, vous pouvez saisir la CNIL (www.cnil.fr).</small></p></details>")


def self_form(action: str, days: int, error: str | None = None) -> str:
    boxes = "".join(f'<label><input type="checkbox" name="publics" value="{k}"> {_e(v)}</label>'
                    for k, v in DECLARED.items())
    body = ("<p>Vous n'avez pas de médecin traitant ? Laissez votre numéro : la coordination des médecins de votre "
            "territoire vous rappelle pour vous en proposer un.</p>"
            + (f'<p class="error">{html.escape(error, quote=False)}</p>' if error else "")
            + f'<form method="post" action="{_e(action)}">'
            '<label>Téléphone (obligatoire) <input name="phone" type="tel" required autocomplete="tel"></label>'
            '<label>Nom <input name="family_name" autocomplete="family-name"></label>'
            '<label>Prénom <input name="given_name" autocomplete="given-name"></label>'
            '<label>Année de naissance <input name="birth_year" inputmode="numeric" maxlength="4"></label>'
            '<label>Code postal <input name="postcode" inputmode="numeric" maxlength="5" '
            'autocomplete="postal-code"></label>'
            f"<fieldset><legend>Votre situation (si vous le souhaitez)</legend>{boxes}</fieldset>"
            '<p><button type="submit">Envoyer ma demande</button></p></form>' + NOTICE.format(days=days))
    return _document("Trouver un médecin traitant", body)


def self_received() -> str:
    return _document("Votre demande est enregistrée", "<p>Votre demande est enregistrée. La coordination vous "
                     "rappellera.</p>")


def self_unknown() -> str:
    return _document("Lien expiré ou inconnu", "<p>Ce lien n'est pas ou plus valable. Demandez-en un nouveau à votre "
                     "pharmacie, à votre mairie ou à votre CPTS.</p>")
