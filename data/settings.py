"""Settings shared by every Bridgework process, from the environment or `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent

# Values people paste from examples; refusing them beats running with a guessable secret.
_PLACEHOLDERS = {"changeme", "change-me", "secret", "token", "your-token-here", "xxx"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    database_url: str = f"sqlite:///{ROOT / 'var' / 'bridgework.db'}"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: SecretStr | None = None
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    # Rasa shows it to the action server on every call (a bearer token); the action
    # server refuses calls without it. `make run` makes a fresh one each run.
    action_server_token: SecretStr | None = None
    log_level: str = "INFO"
    default_timezone: str = "Europe/London"
    # Extensions of the contract.
    # Rasa's own tracker store; a separate SQLite file by default, the app
    # database in docker-compose.
    rasa_tracker_url: str = f"sqlite:///{ROOT / 'var' / 'rasa_tracker.db'}"
    invite_ttl_days: int = 14
    rasa_timeout_seconds: float = 20.0
    # How often the scheduler re-derives its jobs from the rows.
    nudge_reconcile_seconds: float = 60.0
    # A nudge later than this (the scheduler was down) is recorded as missed, not sent late.
    nudge_grace_minutes: float = 120.0
    # More messages than this in a minute from one person: one "slow down", then quiet.
    flood_messages_per_minute: int = 20
    # After a crisis response the patient gets no nudges for this long.
    crisis_nudge_pause_hours: float = 24.0
    # The nudge log and Rasa's transcripts are kept this long, and a discharged patient's
    # data this long after the clinic closed the plan (data/retention.py; /privacy says so).
    retention_days: int = Field(default=180, ge=1, le=3650)
    # Each process's log file (var/logs) is cut at this size, keeping this many old ones.
    log_max_bytes: int = Field(default=10_000_000, ge=10_000)
    log_backups: int = Field(default=3, ge=0, le=50)

    @field_validator("telegram_bot_token", "rasa_token", "action_server_token")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("is a placeholder; set a real secret in the environment")
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @field_validator("telegram_api_base_url", "rasa_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
