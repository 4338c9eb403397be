"""/assign step by step on a real database: a library template or a task of their own, the
rationale always typed by the therapist, cancel at any step, history and audit written, and
a plan file applied later leaves the task alone."""

import asyncio
from pathlib import Path

from sqlalchemy import select

from data import task_changes
from data.care_plans import apply_plan
from data.db import transaction
from data.library import task_templates
from data.models import Assignment, AuditEvent, DeskStep
from data.plan_schema import load_plan
from tests.bot.test_therapist_desk import OLA, TESS, conversation  # noqa: F401 - the fixture
from tests.support.wording import is_response

FIXTURES = Path(__file__).parent.parent / "fixtures"


def run(coro):
    return asyncio.run(coro)


def _payload(reply, title: str) -> str:
    [found] = [b.payload for b in reply.buttons if b.title == title]
    return found


def test_assign_a_library_task_with_the_therapists_own_rationale(conversation, sessions):  # noqa: F811
    [kinds] = run(conversation.on_command(TESS, "assign", "Jo", "k1"))
    assert is_response(kinds.text, "assign.kind")
    template = task_templates()["worry_time"]
    [title_q] = run(conversation.on_button(TESS, _payload(kinds, template.name), "k2"))
    [why_q] = run(conversation.on_button(TESS, title_q.buttons[0].payload, "k3"))  # the library's name
    # The library's line is offered to copy and edit, never taken without typing.
    assert template.why.strip() in why_q.text
    assert [b.payload for b in why_q.buttons] == ["bw:d:cancel"]
    [too_short] = run(conversation.on_text(TESS, "ok", "k4"))
    assert is_response(too_short.text.split("\n\n")[0], "assign.rationale_bad")
    mine = "Jo, putting worries off to 6pm showed you last week that they can wait."
    [how_q] = run(conversation.on_text(TESS, mine, "k5"))
    [minutes_q] = run(conversation.on_text(TESS, "Write the worries down, then read them at 6pm.", "k6"))
    [bad] = run(conversation.on_text(TESS, "ages", "k7"))
    assert is_response(bad.text, "assign.minutes_bad")
    [when_q] = run(conversation.on_button(TESS, _payload(minutes_q, "15"), "k8"))
    [bad] = run(conversation.on_text(TESS, "sometimes", "k9"))
    assert is_response(bad.text, "assign.schedule_bad")
    [confirm] = run(conversation.on_text(TESS, "mon wed fri at 6pm", "k10"))
    assert mine in confirm.text and "mon wed fri at 18:00" in confirm.text
    [done] = run(conversation.on_button(TESS, _payload(confirm, "Assign it"), "k11"))
    assert is_response(done.text, "assign.done")
    with sessions() as session:
        task = session.scalar(select(Assignment).where(Assignment.task_id == "worry-time"))
        assert (task.patient_id, task.template, task.rationale, task.minutes, task.set_by) == (
            "p-200",
            "worry_time",
            mine,
            15,
            "desk",
        )
        assert task.schedule == {"days": ["mon", "wed", "fri"], "at": "18:00"} and task.active
        [change] = task_changes.history(session=session, assignment_id=task.id)
        assert (change.actor, change.action, change.after["rationale"]) == (
            "therapist:t-test",
            "assigned",
            mine,
        )
        assert session.get(DeskStep, "t-test") is None
        [row] = session.scalars(select(AuditEvent).where(AuditEvent.action == "assign")).all()
        assert (row.patient_id, row.allowed) == ("p-200", True)
    # Pressing "Assign it" again creates nothing more.
    [again] = run(conversation.on_button(TESS, _payload(confirm, "Assign it"), "k12"))
    assert is_response(again.text, "desk_expired")

    # A plan file applied later (it doesn't list this task) leaves it active.
    with transaction(sessions) as session:
        changes = apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
    assert not any("worry-time" in c for c in changes)
    with sessions() as session:
        assert session.scalar(select(Assignment).where(Assignment.task_id == "worry-time")).active


def test_a_task_of_their_own_and_cancel_midway(conversation, sessions):  # noqa: F811
    [kinds] = run(conversation.on_command(TESS, "assign", "alex", "k1"))
    [title_q] = run(conversation.on_button(TESS, _payload(kinds, "A task of my own"), "k2"))
    assert [b.payload for b in title_q.buttons] == ["bw:d:cancel"]  # no library name to offer
    run(conversation.on_text(TESS, "Call a friend", "k3"))
    [how_q] = run(conversation.on_text(TESS, "Reaching out, even briefly, eases the isolation.", "k4"))
    assert [b.title for b in how_q.buttons][-2:] == ["No instructions", "Cancel"]
    run(conversation.on_button(TESS, _payload(how_q, "No instructions"), "k5"))
    [when_q] = run(conversation.on_text(TESS, "10", "k6"))
    [cancelled] = run(conversation.on_button(TESS, "bw:d:cancel", "k7"))
    assert is_response(cancelled.text, "desk_cancelled")
    [stale] = run(conversation.on_button(TESS, _payload(when_q, "3 times a week"), "k8"))
    assert is_response(stale.text, "desk_expired")
    with sessions() as session:
        assert session.scalar(select(Assignment).where(Assignment.title == "Call a friend")) is None


def test_assign_never_reaches_another_therapists_patient(conversation, sessions):  # noqa: F811
    [refused] = run(conversation.on_command(TESS, "assign", "Kim", "k1"))
    assert is_response(refused.text, "desk_no_such_patient")
    # Ola's kinds question, pressed from Tess's account: Tess has no assign step under way.
    [kinds] = run(conversation.on_command(OLA, "assign", "Kim", "k2"))
    [stale] = run(conversation.on_button(TESS, _payload(kinds, "A task of my own"), "k3"))
    assert is_response(stale.text, "desk_expired")
    with sessions() as session:
        assert session.get(DeskStep, "t-test") is None
        refusals = session.scalars(select(AuditEvent).where(AuditEvent.allowed.is_(False))).all()
        assert [(r.actor, r.action) for r in refusals] == [("therapist:t-test", "assign")]


def test_tasks_pause_resume_smaller_new_rationale_and_end_with_history(conversation, sessions):  # noqa: F811
    head, task = run(conversation.on_command(TESS, "tasks", "Alex", "k1"))
    assert is_response(head.text, "tasks.head") and "Thought record" in task.text
    assert [b.title for b in task.buttons] == [
        "Pause",
        "Make it smaller",
        "Change when",
        "New rationale",
        "Rename",
        "New instructions",
        "End it",
    ]
    [paused] = run(conversation.on_button(TESS, _payload(task, "Pause"), "k2"))
    assert _payload(paused, "Resume")
    [resumed] = run(conversation.on_button(TESS, _payload(paused, "Resume"), "k3"))
    [smaller] = run(conversation.on_button(TESS, _payload(resumed, "Make it smaller"), "k4"))
    [ask] = run(conversation.on_button(TESS, _payload(smaller, "New rationale"), "k5"))
    assert "Writing the thought down slows it" in ask.text  # the current one, shown
    new = "Alex, catching the thought on paper gives you a moment before it decides for you."
    [changed] = run(conversation.on_text(TESS, new, "k6"))
    assert new in changed.text
    [when_q] = run(conversation.on_button(TESS, _payload(changed, "Change when"), "k7a"))
    assert "mon wed fri at 19:00" in when_q.text  # what it is now
    [bad] = run(conversation.on_text(TESS, "whenever", "k7b"))
    assert is_response(bad.text, "tasks.schedule_bad")
    [moved] = run(conversation.on_text(TESS, "weekdays 8am", "k7c"))
    assert "mon tue wed thu fri at 08:00" in moved.text
    # A plan's task for someone not yet in the chat: met at linking, not told of each change.
    with transaction(sessions) as session:
        row = session.scalar(select(Assignment).where(Assignment.patient_id == "p-100"))
        assert row.introduced_at is not None
        row.patient.telegram_chat_id = 5100  # Alex joins the chat
    [name_q] = run(conversation.on_button(TESS, _payload(moved, "Rename"), "k7d"))
    assert is_response(name_q.text, "tasks.title_ask")
    [bad] = run(conversation.on_text(TESS, "x" * 61, "k7e"))
    assert is_response(bad.text, "tasks.title_bad")
    [renamed] = run(conversation.on_text(TESS, "  Catching  the thought ", "k7f"))
    assert renamed.text.split("\n")[1].startswith("Catching the thought (running)")
    [steps_q] = run(conversation.on_button(TESS, _payload(renamed, "New instructions"), "k7g"))
    assert is_response(steps_q.text, "tasks.instructions_ask")
    steps = "When your mood drops, note:\n1. the situation\n2. the thought"
    [restepped] = run(conversation.on_text(TESS, steps, "k7h"))
    assert is_response(restepped.text.split("\n")[0], "tasks.done.instructions")
    with sessions() as session:
        row = session.scalar(select(Assignment).where(Assignment.patient_id == "p-100"))
        assert (row.title, row.instructions, row.introduced_at) == ("Catching the thought", steps, None)
    moved = restepped
    [ended] = run(conversation.on_button(TESS, _payload(moved, "End it"), "k7"))
    assert ended.buttons == ()
    # An ended task's old buttons do nothing more.
    [late] = run(conversation.on_button(TESS, _payload(changed, "Pause"), "k8"))
    assert is_response(late.text, "tasks.not_now")
    with sessions() as session:
        row = session.scalar(select(Assignment).where(Assignment.patient_id == "p-100"))
        assert (row.active, row.minutes, row.rationale) == (False, 5, new)
        assert row.schedule == {"days": ["mon", "tue", "wed", "thu", "fri"], "at": "08:00"}
        history = task_changes.history(session=session, assignment_id=row.id)
        assert [h.action for h in history] == [
            "assigned",
            "pause",
            "resume",
            "smaller",
            "rationale",
            "schedule",
            "title",
            "instructions",
            "end",
        ]
        assert history[5].before["schedule"] == {"days": ["mon", "wed", "fri"], "at": "19:00"}
        rationale_change = history[4]
        assert rationale_change.before["rationale"].startswith("Writing the thought down slows it")
        assert rationale_change.actor == "therapist:t-test"
    # Another therapist's button for the task reaches nothing.
    from data.assigning import task_token

    [forged] = run(conversation.on_button(OLA, f"bw:d:tkresume:{task_token('t-other', row.id)}", "k9"))
    assert is_response(forged.text, "desk_expired")
    [forged] = run(conversation.on_button(OLA, _payload(task, "Pause"), "k10"))
    assert is_response(forged.text, "desk_expired")
