"""Single-use, expiring invite codes that link a Telegram account to a patient."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data.models import Invite, Patient, utcnow

# No 0/O or 1/I, so a code read aloud or copied by hand survives.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def new_code() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{body[:4]}-{body[4:]}"


def issue_invite(*, session: Session, patient_id: str, ttl_days: int, code: str | None = None) -> str:
    """Revoke the patient's open invites and issue a new one; returns the plain code."""
    code = code or new_code()
    now = utcnow()
    session.execute(
        update(Invite)
        .where(Invite.patient_id == patient_id, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.add(
        Invite(
            patient_id=patient_id,
            code_hash=hash_code(code),
            created_at=now,
            expires_at=now + dt.timedelta(days=ttl_days),
        )
    )
    return code


def open_invite_matches(*, session: Session, patient_id: str, code: str) -> bool:
    invite = session.scalar(select(Invite).where(Invite.code_hash == hash_code(code)))
    return (
        invite is not None
        and invite.patient_id == patient_id
        and invite.used_at is None
        and invite.revoked_at is None
    )


@dataclass(frozen=True)
class LinkResult:
    ok: bool
    reason: str  # linked | unknown | used | expired | already_linked
    patient_id: str | None = None


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
    patient = session.get(Patient, invite.patient_id)
    if patient is None or patient.erased_at is not None:
        return LinkResult(False, "unknown")
    other = session.scalar(select(Patient).where(Patient.telegram_user_id == telegram_user_id))
    if other is not None and other.id != patient.id:
        return LinkResult(False, "already_linked")
    invite.used_at = now
    patient.telegram_user_id = telegram_user_id
    patient.telegram_chat_id = telegram_chat_id
    patient.linked_at = now
    return LinkResult(True, "linked", patient.id)
