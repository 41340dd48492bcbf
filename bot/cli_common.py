"""What every `aftercare` subcommand shares: one way to fail, one way to read the settings."""

from __future__ import annotations

import typer

from bot.config import ConfigurationError, Settings, load_settings

USAGE_ERROR = 2


def fail(message: str, code: int = USAGE_ERROR) -> typer.Exit:
    """One red ``Error:`` line on stderr; raise the returned Exit (exit 2: a usage error)."""
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    """The validated settings, or one line naming what is wrong and exit 2."""
    try:
        return load_settings()
    except ConfigurationError as exc:
        raise fail(f"configuration: {exc}") from None
