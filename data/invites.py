"""Single-use, expiring invite codes that link a Telegram account to a patient or a therapist."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data.db import rowcount
from data.models import Invite, Patient, Therapist, utcnow

# No 0/O or 1/I, so a code read aloud or copied by hand survives.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def new_code() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{body[:4]}-{body[4:]}"


def issue_invite(
    *,
    session: Session,
    ttl_days: int,
    patient_id: str | None = None,
    therapist_id: str | None = None,
    code: str | None = None,
) -> str:
    """Revoke the person's open invites and issue a new one; returns the plain code."""
    if (patient_id is None) == (therapist_id is None):
        raise ValueError("an invite is for one patient or one therapist")
    code = code or new_code()
    now = utcnow()
    owner = Invite.patient_id == patient_id if patient_id else Invite.therapist_id == therapist_id
    session.execute(
        update(Invite)
        .where(owner, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.add(
        Invite(
            patient_id=patient_id,
            therapist_id=therapist_id,
            code_hash=hash_code(code),
            created_at=now,
            expires_at=now + dt.timedelta(days=ttl_days),
        )
    )
    return code


def revoke_codes(*, session: Session, codes: list[str]) -> int:
    """Revoke whichever of these codes are still open (published ones: the demo's); how many."""
    if not codes:
        return 0
    return rowcount(
        session.execute(
            update(Invite)
            .where(
                Invite.code_hash.in_([hash_code(code) for code in codes]),
                Invite.used_at.is_(None),
                Invite.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )


def open_invite_matches(
    *, session: Session, code: str, patient_id: str | None = None, therapist_id: str | None = None
) -> bool:
    invite = session.scalar(select(Invite).where(Invite.code_hash == hash_code(code)))
    return (
        invite is not None
        and (invite.patient_id, invite.therapist_id) == (patient_id, therapist_id)
        and invite.used_at is None
        and invite.revoked_at is None
    )


@dataclass(frozen=True)
class LinkResult:
    ok: bool
    reason: str  # linked | unknown | used | expired | already_linked
    patient_id: str | None = None
    therapist_id: str | None = None


def redeem(*, session: Session, code: str, telegram_user_id: int, telegram_chat_id: int) -> LinkResult:
    """Link the Telegram account to the invite's patient, once."""
    if not normalise_code(code):
        return LinkResult(False, "unknown")
    invite = session.scalar(select(Invite).where(Invite.code_hash == hash_code(code)).with_for_update())
    now = utcnow()
    if invite is None or invite.revoked_at is not None:
        return LinkResult(False, "unknown")
    if invite.used_at is not None:
        return LinkResult(False, "used")
    if invite.expires_at <= now:
        return LinkResult(False, "expired")
    if invite.therapist_id is not None:
        return _link_therapist(session, invite, telegram_user_id, telegram_chat_id)
    patient = session.get(Patient, invite.patient_id)
    if patient is None or patient.erased_at is not None:
        return LinkResult(False, "unknown")
    other = session.scalar(select(Patient).where(Patient.telegram_user_id == telegram_user_id))
    as_therapist = therapist_by_chat(session=session, chat_id=telegram_chat_id)
    if (other is not None and other.id != patient.id) or as_therapist is not None:
        return LinkResult(False, "already_linked")
    invite.used_at = now
    patient.telegram_user_id = telegram_user_id
    patient.telegram_chat_id = telegram_chat_id
    patient.linked_at = now
    return LinkResult(True, "linked", patient.id)


def _link_therapist(
    session: Session, invite: Invite, telegram_user_id: int, telegram_chat_id: int
) -> LinkResult:
    """A therapist's account, for crisis alerts; never also a patient's."""
    therapist = session.get(Therapist, invite.therapist_id)
    if therapist is None:
        return LinkResult(False, "unknown")
    as_patient = session.scalar(select(Patient.id).where(Patient.telegram_user_id == telegram_user_id))
    other = session.scalar(select(Therapist).where(Therapist.telegram_chat_id == telegram_chat_id))
    if as_patient is not None or (other is not None and other.id != therapist.id):
        return LinkResult(False, "already_linked")
    invite.used_at = utcnow()
    therapist.telegram_chat_id = telegram_chat_id
    therapist.linked_at = invite.used_at
    return LinkResult(True, "linked", therapist_id=therapist.id)


def therapist_by_chat(*, session: Session, chat_id: int) -> Therapist | None:
    return session.scalar(select(Therapist).where(Therapist.telegram_chat_id == chat_id))
