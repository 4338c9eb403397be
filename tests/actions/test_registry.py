"""The action server registers exactly the custom actions the domain names."""

from pathlib import Path

import yaml
from rasa_sdk.executor import ActionExecutor

DOMAIN = Path(__file__).parents[2] / "rasa_project" / "domain"


def domain_actions() -> set[str]:
    names: set[str] = set()
    for path in DOMAIN.glob("*.yml"):
        names.update(yaml.safe_load(path.read_text()).get("actions") or [])
    return names


def test_every_domain_action_is_served_and_nothing_else():
    executor = ActionExecutor()
    executor.register_package("actions")  # imports every module, as the server does
    assert set(executor.actions) == domain_actions()
