"""docker-compose.yml: valid, and nothing but the bot reaches outside."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (make test installs it)")
    env = tmp_path_factory.mktemp("compose") / "check.env"
    env.write_text("TELEGRAM_BOT_TOKEN=check\nRASA_TOKEN=check\nPOSTGRES_PASSWORD=check\n")
    result = subprocess.run(
        [
            "docker-compose",
            "--env-file",
            str(env),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_no_service_publishes_a_port(config):
    assert all("ports" not in service for service in config["services"].values())


def test_only_the_bot_has_a_route_out(config):
    assert config["networks"]["backend"].get("internal") is True
    for name, service in config["services"].items():
        networks = set(service.get("networks") or {})
        assert networks == ({"backend", "egress"} if name == "bot" else {"backend"}), name


def test_services_wait_for_what_they_need(config):
    services = config["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["bot"]["depends_on"]["rasa"]["condition"] == "service_healthy"
    assert "healthcheck" in services["rasa"] and "healthcheck" in services["actions"]
    assert "3.6.21" in services["rasa"]["image"]


def test_required_secrets_are_refused_when_missing(tmp_path):
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (make test installs it)")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = subprocess.run(
        [
            "docker-compose",
            "--env-file",
            str(empty),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0 and "in .env" in result.stderr
