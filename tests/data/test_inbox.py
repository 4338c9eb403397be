"""The durable inbox keeps each update once: the same update sent again is dropped, an old
id given to a new update (Telegram's ids may start again after a quiet week) is not."""

import datetime as dt

from data import inbox
from data.db import transaction
from data.models import InboxUpdate, utcnow


def _update(update_id: int, text: str) -> dict:
    return {"update_id": update_id, "message": {"message_id": 1, "text": text}}


def test_the_same_update_again_is_dropped_and_an_old_id_reused_later_is_kept(sessions):
    with transaction(sessions) as session:
        assert inbox.store(session=session, updates=[_update(5, "first")]) == {5}
        inbox.mark_done(session=session, update_id=5)
    with transaction(sessions) as session:
        # Sent again within the window: the same update, not stored twice.
        assert inbox.store(session=session, updates=[_update(5, "first")]) == set()
        session.get(InboxUpdate, 5).received_at = utcnow() - inbox.DEDUPE_WINDOW - dt.timedelta(hours=1)
    with transaction(sessions) as session:
        # The same id, long after the first was handled: a new update, kept and due.
        assert inbox.store(session=session, updates=[_update(5, "second")]) == {5}
    with transaction(sessions) as session:
        [(update_id, payload, attempts)] = inbox.due(session=session)
    assert (update_id, payload["message"]["text"], attempts) == (5, "second", 0)


def test_an_unhandled_update_is_never_replaced(sessions):
    with transaction(sessions) as session:
        inbox.store(session=session, updates=[_update(9, "waiting for rasa")])
        session.get(InboxUpdate, 9).received_at = utcnow() - dt.timedelta(days=30)
    with transaction(sessions) as session:
        assert inbox.store(session=session, updates=[_update(9, "something else")]) == set()
        assert session.get(InboxUpdate, 9).payload["message"]["text"] == "waiting for rasa"
