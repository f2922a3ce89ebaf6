"""The regulator accounts the national platform registers here (the guide's INT_R02, FrPractitionerRegul):
created, updated, disabled by the platform, found by the identifiers it gives.

- An account is found by its national id (IDNPS, kept as given, any form) — or, for a national id of the
  form 8 + 11 digits, by the RPPS of an account registered here — or by its SAS technical id (INTRN).
- A new account is a regulator, ``provisioned_by = 'ptf-sas'``, with the territories the settings give
  (``SNP_PTF_SAS_REGULATOR_TERRITORIES``): the resource carries none. The platform's updates never touch
  its role nor its territories (an administrator may change them).
- Its identifiers accumulate: an update names the ids it knows (the "rattachement": an account known by
  its technical id gains its national id) and keeps the others, which name past declarations.
- An account registered here (``provisioned_by`` NULL) the platform names is administered here: the
  platform fills its missing ids and its names and e-mail, and may disable it (``active: false``, its
  withdrawal), never enable it again, nor change its role or territories; one of another role than
  regulator is a conflict (409), never turned into a regulator.
- ``active: false`` is the guide's deletion: the account is disabled (its tokens refused, its streams
  ended by every process: app/auth/revocation.py), the record kept for the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import PlatformSession, User
from app.auth.principal import Principal
from app.platform.errors import Conflict
from app.platform.logging import log
from app.territories.models import Territory

PLATFORM = "ptf-sas"
_RPPS_NATIONAL_ID = re.compile(r"^8[0-9]{11}$")


@dataclass(frozen=True)
class PlatformAccount:
    """A regulator account as the platform describes it (the elements of FrPractitionerRegul we keep)."""

    national_id: str | None
    technical_id: str | None
    family_name: str
    given_name: str
    email: str | None
    active: bool

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


def rpps_of(national_id: str | None) -> str | None:
    """The RPPS of a national id of the form 8 + RPPS; None for the other forms (ADELI, structures...)."""
    return national_id[1:] if national_id and _RPPS_NATIONAL_ID.match(national_id) else None


def _by_national_id(value: str):  # noqa: ANN202 - a SQLAlchemy expression
    rpps = rpps_of(value)
    return User.national_id == value if rpps is None else or_(User.national_id == value, User.rpps == rpps)


async def find(session: AsyncSession, *, national_id: str | None = None,
               technical_id: str | None = None) -> Sequence[User]:
    """The accounts the given identifiers name (several when they name different accounts)."""
    conditions = []
    if national_id:
        conditions.append(_by_national_id(national_id))
    if technical_id:
        conditions.append(User.sas_technical_id == technical_id)
    if not conditions:
        return []
    return (await session.scalars(select(User).where(or_(*conditions)).order_by(User.created_at, User.id)
                                  .with_for_update())).all()


def _others(found: Sequence[User], user: User | None) -> list[User]:
    return [u for u in found if user is None or u.id != user.id]


async def provision(session: AsyncSession, principal: Principal, account: PlatformAccount,
                    territories: list[str], user: User | None = None) -> tuple[User, bool]:
    """Create the account, or update ``user`` (the one a conditional update found) or the one the account's
    own identifiers name; whether it was created."""
    named = await find(session, national_id=account.national_id, technical_id=account.technical_id)
    clashing = _others(named, user)
    if user is None and len(named) == 1:
        user, clashing = named[0], []
    if clashing:
        raise Conflict("The identifiers name another account here (" + ", ".join(
            f"{u.id}, role {u.role}" for u in clashing) + "): one regulator, one account; an administrator "
            "must merge or correct them", field="identifier")
    if user is None:
        return await _create(session, principal, account, territories), True
    return await _update(session, principal, account, user), False


async def _create(session: AsyncSession, principal: Principal, account: PlatformAccount,
                  territories: list[str]) -> User:
    known = sorted(set((await session.scalars(select(Territory.code).where(Territory.code.in_(territories)))).all()))
    if len(known) != len(territories):
        log.warning("regulators.unknown_territories", unknown=sorted(set(territories) - set(known)))
    user = User(role="regulator", provisioned_by=PLATFORM, national_id=account.national_id,
                sas_technical_id=account.technical_id, rpps=rpps_of(account.national_id),
                display_name=account.display_name, family_name=account.family_name,
                given_name=account.given_name, email=account.email, active=account.active, territories=known)
    session.add(user)
    await session.flush()
    await session.refresh(user)
    audit.record(session, principal, "user.provisioned", detail={
        "user_id": str(user.id), "role": user.role, "territories": user.territories, "active": user.active,
        "by": PLATFORM})
    return user


async def _update(session: AsyncSession, principal: Principal, account: PlatformAccount, user: User) -> User:
    ours = user.provisioned_by == PLATFORM
    if not ours and user.role != "regulator":
        raise Conflict(f"This identifier names an account registered here with role {user.role} ({user.id}), not a "
                       "regulator the platform administers: an administrator decides", field="identifier")
    changes: dict[str, object] = {}
    if account.national_id and account.national_id != user.national_id:
        if user.national_id and not ours:
            raise Conflict(f"The account registered here ({user.id}) has another national id: an administrator "
                           "decides", field="identifier")
        changes["national_id"] = account.national_id
        rpps = rpps_of(account.national_id)
        if rpps and rpps != user.rpps:
            if user.rpps and not ours:
                raise Conflict(f"The account registered here ({user.id}) has another RPPS", field="identifier")
            changes["rpps"] = rpps
    if account.technical_id and account.technical_id != user.sas_technical_id:
        if user.sas_technical_id and not ours:
            raise Conflict(f"The account registered here ({user.id}) has another SAS technical id: an "
                           "administrator decides", field="identifier")
        changes["sas_technical_id"] = account.technical_id
    wanted: dict[str, object] = {"family_name": account.family_name, "given_name": account.given_name}
    if ours:
        wanted |= {"display_name": account.display_name, "email": account.email, "active": account.active}
    else:
        if account.email:
            wanted["email"] = account.email
        if not account.active:  # withdrawn by the platform; enabled again by an administrator only
            wanted["active"] = False
    changes |= {name: value for name, value in wanted.items() if getattr(user, name) != value}
    if not changes:
        return user
    replaced = any(name in changes and getattr(user, name) is not None for name in ("national_id", "rpps"))
    if ours and replaced and user.subject is not None:
        # The platform corrected the national id: whoever signed in under the old one is no longer this account
        # (his sessions from the platform end, his acceptance of the terms with them); the person the new id
        # names is bound at his first sign-in.
        changes |= {"subject": None, "terms_version": None, "terms_accepted_at": None}
        await session.execute(delete(PlatformSession).where(PlatformSession.user_id == user.id))
    for name, value in changes.items():
        setattr(user, name, value)
    user.updated_at = func.now()
    await session.flush()
    await session.refresh(user)
    audit.record(session, principal, "user.updated", detail={
        "user_id": str(user.id), "changed": sorted(changes), "active": user.active, "by": PLATFORM})
    return user


async def regulator(session: AsyncSession, user_id: object) -> User | None:
    """A regulator's account by its id (what the ``Location`` of a create names)."""
    found: User | None = await session.scalar(select(User).where(User.id == user_id, User.role == "regulator"))
    return found
