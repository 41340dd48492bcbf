"""Settings from the environment and ``.env``, validated once in ``main()`` and passed down."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from scheduler.care.planning import QuietHours, UnknownTimeZoneError, load_zone
from scheduler.outbox.budget import BACKEND_SCHEMES, redact

TOKEN_PATTERN = re.compile(r"^\d{5,16}:[A-Za-z0-9_-]{30,64}$")
PLACEHOLDER_TOKENS = {"changeme", "change-me", "your-token", "your_token_here", "token", "xxx"}
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
WEBHOOK_PORTS = (80, 88, 443, 8443)  # the only ports Telegram delivers webhooks to


def webhook_url_problem(url: str) -> str | None:
    """Why Telegram's setWebhook would refuse ``url`` (its own words), or None if it would not.

    Telegram answers 400 "bad webhook: An HTTPS URL must be provided for webhook" and "bad
    webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"; the local server may
    listen on any PORT behind a proxy, but the public URL must be one of these.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "https":
        return f"{url!r}: An HTTPS URL must be provided for webhook (https://...)"
    try:
        port = parts.port
    except ValueError:
        return f"{url!r} has no valid port"
    if not parts.hostname:
        return f"{url!r} has no host name"
    if port is not None and port not in WEBHOOK_PORTS:
        return f"{url!r}: Webhook can be set up only on ports 80, 88, 443 or 8443"
    return None


class Settings(BaseSettings):
    """Everything an operator can configure. Secrets never appear in a repr or a log line."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = Field(
        default=None, description="from @BotFather; without it the bot runs offline"
    )
    telegram_bot_username: str = Field(
        default="",
        description="the bot's @username, for invite links; default: asked from Telegram",
    )
    data_dir: Path = Field(default=Path("data"), description="where the SQLite file lives")
    database_url: str = Field(
        default="", description="SQLAlchemy URL; default: a SQLite file in DATA_DIR"
    )
    default_timezone: str = Field(default="Asia/Karachi", description="IANA zone for new patients")
    quiet_hours: Annotated[QuietHours, NoDecode] = Field(
        default=QuietHours.parse("21:00-08:00"), description="local span with no messages"
    )
    log_level: str = Field(default="INFO", description="CRITICAL, ERROR, WARNING, INFO or DEBUG")
    log_third_party_debug: bool = Field(
        default=False,
        description="let the libraries log at LOG_LEVEL too (their records hold patient data)",
    )
    default_plan: str = Field(default="microneedling", description="care plan for new sessions")
    date_order: Literal["DMY", "MDY"] = Field(
        default="DMY", description="how typed dates like 05/11 are read"
    )
    webhook_url: str = Field(default="", description="public HTTPS URL for webhook mode")
    webhook_secret: SecretStr | None = Field(
        default=None, description="secret token Telegram sends back in a header"
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        description="Bot API server (a local telegram-bot-api server, or the stand-in)",
    )
    telegram_rate: float = Field(
        default=30.0,
        gt=0,
        le=1000,
        description="messages a second over all chats, for every process sharing the bot token",
    )
    telegram_budget_url: str = Field(
        default="memory://",
        description="where the Telegram budget is counted: memory:// (one process) or"
        " redis://host:6379/0 (shared by every process of the deployment)",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="webhook server port")
    dashboard_url: str = Field(
        default="",
        description="where staff open the web dashboard (scheme and host); default: the"
        " origin of WEBHOOK_URL, else http://127.0.0.1:PORT (`aftercare web`)",
    )
    dashboard_secret: SecretStr | None = Field(
        default=None,
        description="signs the dashboard's cookies; default: derived from the bot token",
    )

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _check_token(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        raw = raw.strip()
        if raw.lower() in PLACEHOLDER_TOKENS:
            raise ValueError("is a placeholder; paste the token @BotFather gave you")
        if not TOKEN_PATTERN.match(raw):
            raise ValueError("does not look like a bot token (digits, a colon, 30+ characters)")
        return raw

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _check_secret(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value):
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", raw):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return raw

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str) -> str:
        value = value.strip()
        problem = webhook_url_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("dashboard_url")
    @classmethod
    def _check_dashboard_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value:
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ValueError(f"{value!r} is not a URL like https://clinic.example.org")
        return value

    def dashboard_base(self) -> str:
        """The scheme and host sign-in links point at."""
        if self.dashboard_url:
            return self.dashboard_url
        if self.webhook_url:
            parts = urlsplit(self.webhook_url)
            return f"{parts.scheme}://{parts.netloc}"
        return f"http://127.0.0.1:{self.port}"

    @field_validator("telegram_budget_url")
    @classmethod
    def _check_budget_url(cls, value: str) -> str:
        value = value.strip() or "memory://"
        if urlsplit(value).scheme.lower() not in BACKEND_SCHEMES:
            raise ValueError(f"{redact(value)!r}: use memory:// or redis://host:6379/0")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            load_zone(value)
        except UnknownTimeZoneError as exc:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Karachi)") from exc
        return value

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _parse_quiet(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return QuietHours.parse(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a span like 21:00-08:00 (or off)") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
        return level

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / "aftercare.sqlite3").as_posix()
            self.database_url = f"sqlite+aiosqlite:///{path}"
        else:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                backend = make_url(self.database_url).get_backend_name()
            except ArgumentError as exc:
                raise ValueError(f"DATABASE_URL is not a database URL: {exc}") from exc
            if backend not in {"sqlite", "postgresql", "postgres"}:
                raise ValueError(
                    f"DATABASE_URL: {backend!r} is not supported; use sqlite or postgresql"
                )
        return self


class ConfigurationError(Exception):
    """A setting is wrong; the message is one line naming the variable."""


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, or raise ConfigurationError with one clear line."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:
        raise ConfigurationError(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigurationError(f"{name}: {message}" if name else message) from None


class SecretFilter(logging.Filter):
    """Blanks out secrets (the bot token) wherever they appear in a log record."""

    def __init__(self, secrets: list[str]) -> None:
        """Hide each of ``secrets``."""
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message and traceback without the secrets (an HTTP error's
        text quotes its URL, and a Bot API URL carries the token)."""
        if self.secrets:
            record.msg, record.args = self._hide(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._hide(record.exc_text)
            if record.stack_info:
                record.stack_info = self._hide(record.stack_info)
        return True

    def _hide(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


OUR_LOGGERS = ("bot", "scheduler", "storage", "content")
# Loggers that see raw updates, request parameters or SQL parameters: patients' words, invite
# codes in "/start <code>", staff replies, broadcast texts, and the token in every Bot API URL.
# Anything else not ours inherits the root's WARNING; these are named so that a library that
# sets its own level (uvicorn does) is held at WARNING too. The stand-in plays Telegram and logs
# every call with its text.
THIRD_PARTY_LOGGERS = (
    "telegram",
    "httpx",
    "httpcore",
    "hpack",
    "h11",
    "aiosqlite",
    "sqlalchemy",
    "asyncpg",
    "alembic",
    "apscheduler",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "starlette",
    "asyncio",
    "bot.standin",
)
THIRD_PARTY_WARNING = (
    "LOG_THIRD_PARTY_DEBUG is set: python-telegram-bot, httpx, SQLAlchemy and the other "
    "libraries log at %s, and their records hold patients' messages, invite codes and SQL "
    "parameters (health data). Use it only to debug, never in production, and delete the log."
)


def third_party_level(settings: Settings) -> str:
    """The level of the libraries' loggers: LOG_LEVEL, but never below WARNING unless
    LOG_THIRD_PARTY_DEBUG is set."""
    if settings.log_third_party_debug:
        return settings.log_level
    return max(settings.log_level, "WARNING", key=logging.getLevelName)


def configure_logging(settings: Settings) -> None:
    """Log to stderr: our loggers at LOG_LEVEL, every library at WARNING, the token redacted.

    python-telegram-bot logs whole updates and request parameters at DEBUG, httpx every URL
    (with the token), aiosqlite and SQLAlchemy SQL parameters: patient data that must never
    reach a log. Only LOG_THIRD_PARTY_DEBUG lets them through, with a loud warning.
    """
    token = settings.telegram_bot_token
    secret_filter = SecretFilter([token.get_secret_value()] if token else [])
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(secret_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    libraries = third_party_level(settings)
    root.setLevel(libraries)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(settings.log_level)
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(libraries)
    if settings.log_third_party_debug:
        logging.getLogger(__name__).warning(THIRD_PARTY_WARNING, libraries)
