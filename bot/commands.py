"""What the conversation's command and button tables hold: a handler, and who may use it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from bot.people import PatientView, Sender
from data.wording import say
from messaging.rendering import Reply


class Who(Enum):
    """Who a command is for; the conversation answers anyone else before the handler runs."""

    ANYONE = "anyone"  # strangers too: the handler answers every case itself (/start)
    LINKED = "linked"  # any linked patient, discharged or not consented yet (/forget, /mydata)
    IN_CARE = "in care"  # consented and not discharged (the nudge settings)


@dataclass(frozen=True)
class Call:
    """One command as the patient gave it."""

    sender: Sender
    patient: PatientView | None
    argument: str
    key: str

    @property
    def linked(self) -> PatientView:
        """The patient, for a command the conversation lets only linked patients reach."""
        assert self.patient is not None
        return self.patient


@dataclass(frozen=True)
class Command:
    who: Who
    run: Callable[[Call], Awaitable[list[Reply]]]


# A bot button's handler: the patient who pressed it (strangers never reach one), the message key.
Press = Callable[[PatientView, str], Awaitable[list[Reply]]]


def saying(name: str, **values: str) -> Callable[[Call], Awaitable[list[Reply]]]:
    """A command whose answer is one message from the wording (data/wording.yml)."""

    async def answer(call: Call) -> list[Reply]:
        return [Reply(say(name, **values))]

    return answer
