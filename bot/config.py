"""Application settings: config.yml validated by pydantic-settings, secrets from the environment.

Each component declares its own section schema (e.g. `knowledge_base.settings`); this
module only composes them. A bad file raises `ConfigError` naming every bad key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import (AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator,
                      model_validator)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

from knowledge_base.settings import KnowledgeBaseSettings, RetrievalSettings
from nlu.settings import NluSettings

from .storage.db import supported_url
from .study.settings import StudySettings
from .outbox.settings import OutboxSettings
from .tickets.settings import Branches, TicketSettings

DEFAULT_CONFIG = Path("config.yml")
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook accepts as secret_token
# Files and folders the bot reads at start-up. A wrong path would otherwise show up late
# and quietly: an empty knowledge base (the bot never answers), retrieval without its domain
# dictionary and situation table, or a traceback from the NLU.
INPUT_PATHS = ("knowledge_base.faq_file", "knowledge_base.dict_dir", "nlu.data_file", "nlu.dict_dir",
               "study.library_file")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and keys."""


class DatabaseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = "sqlite:///data/driverhome.db"


class TelegramSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str | None = None
    admins: list[int] = []
    max_update_age_s: int = Field(120, ge=0)
    poll_timeout_s: int = Field(30, ge=0, le=60)
    concurrent_updates: int = Field(32, ge=1, le=1024)
    send_rate: float = Field(30, ge=0)  # overall sends/s of PTB's AIORateLimiter; 0: no overall limit
    # How updates arrive (README "Webhook"): long polling, or Telegram POSTing to webhook_url.
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None  # the public URL given to setWebhook (behind the reverse proxy)
    webhook_path: str = "/telegram"  # where the bot's own HTTP server listens for it

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be a URL like https://bot.example.org/telegram")
        return v

    @field_validator("webhook_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or any(c.isspace() for c in v):
            raise ValueError("must be a path starting with '/', like /telegram")
        return v

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> "TelegramSettings":
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("telegram.webhook_url is required with telegram.mode: webhook")
        return self


class ServerSettings(BaseModel):
    """The bot's HTTP server: /healthz, /metrics and (webhook mode) the Telegram webhook."""

    model_config = ConfigDict(extra="forbid")
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=0, le=65535)  # 0: any free port (tests)


class AssistantSettings(BaseModel):
    """How the assistant behaves in groups (platform-independent)."""

    model_config = ConfigDict(extra="forbid")
    repeat_window_s: int = Field(300, ge=0)
    flood_rate: str = "4/minute"

    @field_validator("flood_rate")
    @classmethod
    def _rate(cls, v: str) -> str:
        from limits import parse

        try:
            parse(v)
        except ValueError as exc:
            raise ValueError(f"not a rate like '4/minute': {exc}") from None
        return v


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chat_id: int = -1
    user_id: int = 1
    user_name: str = "司机"


class LoggingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"  # json: one object per line (bot/observability/logs.py)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", populate_by_name=True)

    database: DatabaseSettings = DatabaseSettings()
    knowledge_base: KnowledgeBaseSettings = KnowledgeBaseSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    nlu: NluSettings = NluSettings()
    telegram: TelegramSettings = TelegramSettings()
    server: ServerSettings = ServerSettings()
    assistant: AssistantSettings = AssistantSettings()
    console: ConsoleSettings = ConsoleSettings()
    logging: LoggingSettings = LoggingSettings()
    study: StudySettings = StudySettings()
    branches: Branches = []  # Party branches: groups and secretaries (tickets, study)
    tickets: TicketSettings = TicketSettings()
    outbox: OutboxSettings = OutboxSettings()

    # Secrets and deployment overrides: environment only, never in the file.
    telegram_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN"), exclude=True)
    database_url: str | None = Field(None, validation_alias=AliasChoices("DATABASE_URL"), exclude=True)
    telegram_base_url: str | None = Field(None, validation_alias=AliasChoices("TELEGRAM_BASE_URL"), exclude=True)
    telegram_webhook_secret: SecretStr | None = Field(None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_SECRET"),
                                                      exclude=True)

    root: Path = Field(Path("."), exclude=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        # Order = precedence: explicit arguments, then the environment, then the file.
        return init_settings, env_settings, YamlConfigSettingsSource(settings_cls)

    # -- derived values ---------------------------------------------------------
    def missing_inputs(self) -> list[str]:
        """The INPUT_PATHS that do not exist (the study library only while study is on)."""
        out = []
        for key in INPUT_PATHS:
            section, name = key.split(".")
            if key == "study.library_file" and not self.study.enabled:
                continue
            path = self.path(getattr(getattr(self, section), name))
            if not path.exists():
                out.append(f"  {key}: not found: {path}")
        return out

    def path(self, p: Path) -> Path:
        """Relative paths in the file are relative to the file's folder."""
        return p if p.is_absolute() else (self.root / p).resolve()

    @property
    def db_url(self) -> str:
        url = self.database_url or self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            url = prefix + str(self.path(Path(url[len(prefix):])))
        return url

    @property
    def token(self) -> str | None:
        return self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else None

    @property
    def bot_api_base_url(self) -> str | None:
        return self.telegram_base_url or self.telegram.base_url

    def webhook_secret(self) -> str:
        """The webhook's secret token (TELEGRAM_WEBHOOK_SECRET); Telegram sends it back in the
        X-Telegram-Bot-Api-Secret-Token header of every update."""
        secret = self.telegram_webhook_secret.get_secret_value() if self.telegram_webhook_secret else ""
        if not secret:
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET is not set: it is required with telegram.mode: webhook "
                              "(1-256 characters A-Z, a-z, 0-9, _ and -)")
        if not WEBHOOK_SECRET.fullmatch(secret):
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET: Telegram accepts only 1-256 characters A-Z, a-z, 0-9, _ and -")
        return secret


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the config file (default: $DRIVERHOME_CONFIG or ./config.yml)."""
    path = Path(path or os.environ.get("DRIVERHOME_CONFIG") or DEFAULT_CONFIG)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")

    class FileSettings(Settings):
        model_config = SettingsConfigDict(yaml_file=str(path), yaml_file_encoding="utf-8")

    try:
        settings = FileSettings(root=path.resolve().parent)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"  {key}: {msg}")
        raise ConfigError(f"{path}: invalid configuration\n" + "\n".join(problems)) from None
    except Exception as exc:  # e.g. YAML syntax errors
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    # Checks that need the whole file read (paths against its folder, the URL with the environment's).
    later = settings.missing_inputs()
    if not supported_url(settings.db_url):
        key = "DATABASE_URL" if settings.database_url else "database.url"
        later.append(f"  {key}: only SQLite (sqlite:///path) and PostgreSQL (postgresql://...) are supported")
    if later:
        raise ConfigError(f"{path}: invalid configuration\n" + "\n".join(later))
    return settings
