"""What every Bridgework form shares."""

from __future__ import annotations

import abc
import functools
import inspect
from typing import Any

from rasa_sdk import FormValidationAction


def _none_is_no_answer(slot: str, validate):
    @functools.wraps(validate)
    async def wrapper(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        # Actions clear a flow's slots when it starts or ends; the SDK then hands
        # the cleared values to validation. A cleared slot is not an answer:
        # no "sorry, I need a number" for something the patient never said.
        if value is None:
            return {slot: None}
        result = validate(self, value, dispatcher, tracker, domain)
        return await result if inspect.isawaitable(result) else result

    return wrapper


class BridgeworkFormValidation(FormValidationAction):
    """Base for every form's validation: wraps each `validate_<slot>` method."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, method in list(vars(cls).items()):
            if name.startswith("validate_") and callable(method):
                setattr(cls, name, _none_is_no_answer(name.removeprefix("validate_"), method))

    @abc.abstractmethod
    def name(self) -> str:
        """Abstract, so the action server doesn't register this base as an action."""
