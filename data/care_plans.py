"""Applying a validated care plan: an idempotent upsert that says what changed."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data import invites, plan_schema, task_changes, tasks
from data.models import Assignment, Clinic, Patient, Therapist, utcnow
from data.plan_schema import CarePlan


def new_sender_id() -> str:
    return "pz-" + secrets.token_hex(12)


def _sync(row: Any, values: dict[str, Any]) -> list[str]:
    """Set the differing attributes; return their names."""
    changed = []
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    return changed


def _note(changes: list[str], what: str, row: Any, values: dict[str, Any], is_new: bool) -> None:
    fields = _sync(row, values)
    if is_new:
        changes.append(f"created {what}")
    elif fields:
        changes.append(f"updated {what}: {', '.join(fields)}")


def apply_plan(
    plan: CarePlan, *, session: Session, invite_ttl_days: int, default_timezone: str = "Europe/London"
) -> list[str]:
    """Upsert the plan; returns one line per change (empty when nothing changed).

    New invite codes that were generated are reported as `invite for ID: CODE`,
    the only time a generated code is ever shown.
    """
    changes: list[str] = []
    clinic_row = session.get(Clinic, plan.clinic.id)
    is_new = clinic_row is None
    if clinic_row is None:
        clinic_row = Clinic(id=plan.clinic.id)
        session.add(clinic_row)
    _note(
        changes,
        f"clinic {plan.clinic.id}",
        clinic_row,
        {
            "name": plan.clinic.name,
            "timezone": plan.clinic.timezone or default_timezone,
            "crisis_resources": list(plan.clinic.crisis_resources),
        },
        is_new,
    )

    for therapist in plan.therapists:
        row = session.get(Therapist, therapist.id)
        is_new = row is None
        if row is None:
            row = Therapist(id=therapist.id)
            session.add(row)
        _note(
            changes,
            f"therapist {therapist.id}",
            row,
            {"clinic_id": plan.clinic.id, "name": therapist.name},
            is_new,
        )
        session.flush()
        if (
            therapist.invite_code
            and row.linked_at is None
            and not invites.open_invite_matches(
                session=session, therapist_id=row.id, code=therapist.invite_code
            )
        ):
            invites.issue_invite(
                session=session, therapist_id=row.id, code=therapist.invite_code, ttl_days=invite_ttl_days
            )
            changes.append(f"invite for therapist {therapist.id} set from the plan")
    session.flush()

    for patient in plan.patients:
        changes += _apply_patient(
            patient, clinic_row.timezone, session=session, invite_ttl_days=invite_ttl_days
        )
    return changes


def set_discharged(row: Patient, discharged: bool) -> None:
    """Close (or reopen) a patient's plan; the goodbye and the erasure follow from the row."""
    row.discharged_at = utcnow() if discharged else None
    row.goodbye_sent_at = None


def _apply_patient(
    patient: plan_schema.Patient, clinic_timezone: str, *, session: Session, invite_ttl_days: int
) -> list[str]:
    changes: list[str] = []
    row = session.get(Patient, patient.id)
    is_new = row is None
    if row is None:
        row = Patient(id=patient.id, sender_id=new_sender_id())
        session.add(row)
    _note(
        changes,
        f"patient {patient.id}",
        row,
        {
            "therapist_id": patient.therapist,
            "display_name": patient.display_name,
            "timezone": patient.timezone or clinic_timezone,
            "language": patient.language,
            "discreet": patient.discreet,
            "routine": patient.routine.model_dump(mode="json"),
            "safety_plan": list(patient.safety_plan) or None,
        },
        is_new,
    )
    if (patient.status == "discharged") != (row.discharged_at is not None):
        changes.append(f"patient {patient.id}: {patient.status}")
        set_discharged(row, patient.status == "discharged")
    session.flush()

    if patient.invite_code:
        if row.linked_at is None and not invites.open_invite_matches(
            session=session, patient_id=patient.id, code=patient.invite_code
        ):
            invites.issue_invite(
                session=session,
                patient_id=patient.id,
                ttl_days=invite_ttl_days,
                code=patient.invite_code,
            )
            changes.append(f"invite for {patient.id}: set from the plan")
    elif is_new:
        code = invites.issue_invite(session=session, patient_id=patient.id, ttl_days=invite_ttl_days)
        changes.append(f"invite for {patient.id}: {code}")

    existing = {
        a.task_id: a for a in session.scalars(select(Assignment).where(Assignment.patient_id == patient.id))
    }
    for task in patient.tasks:
        found = existing.pop(task.id, None)
        is_new = found is None
        # Someone not yet linked meets a plan's tasks at linking and their first check-ins;
        # someone already in the chat is told of a new or changed one (data/introductions.py).
        assignment = found or Assignment(
            patient_id=patient.id, task_id=task.id, set_by="plan", introduced_at=utcnow()
        )
        if is_new:
            session.add(assignment)
        values = {
            "template": task.template,
            "title": task.title,
            "rationale": task.rationale,
            "instructions": task.instructions,
            "minutes": task.minutes,
            "schedule": task.schedule.model_dump(mode="json", exclude_none=True),
            "start": task.start,
            "end": task.end,
            "active": True,
        }
        old = {name: getattr(assignment, name) for name in values}
        _note(changes, f"task {patient.id}/{task.id}", assignment, values, is_new)
        changed = [name for name in values if is_new or old[name] != values[name]]
        tasks.retell(assignment, changed=changed, linked=row.telegram_chat_id is not None)
        if changed:
            session.flush()
            task_changes.record(
                session=session,
                assignment_id=assignment.id,
                actor="plan",
                action="assigned" if is_new else "edited",
                before={} if is_new else {name: old[name] for name in changed},
                after={name: values[name] for name in changed},
            )
    # Tasks dropped from the plan are retired, not deleted: their history stays. Tasks the
    # therapist set in Telegram were never in the file, so its silence says nothing of them.
    for assignment in existing.values():
        if assignment.active and assignment.set_by == "plan":
            assignment.active = False
            task_changes.record(
                session=session,
                assignment_id=assignment.id,
                actor="plan",
                action="ended",
                before={"active": True},
                after={"active": False},
            )
            changes.append(f"retired task {patient.id}/{assignment.task_id}")
    session.flush()
    return changes
