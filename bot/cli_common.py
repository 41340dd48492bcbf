"""What every `aftercare` subcommand shares: one way to fail, one way to read the settings."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

try:  # typer 0.2x carries its own copy of click; older releases use click itself
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_errors  # type: ignore[no-redef]

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


class OneLineErrors(TyperGroup):
    """The root command: a usage error (unknown command or option, a missing or bad value) is
    one red ``Error:`` line and exit 2, like every other error of the CLI, instead of typer's
    boxed usage text."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; errors are raised to us (standalone_mode off) and told in a line."""
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except click_errors.NoArgsIsHelpError as exc:
            exc.show()  # a group without its command: its help, as before
            _exit(exc.exit_code, standalone_mode, exc)
        except click_errors.UsageError as exc:
            path = exc.ctx.command_path if exc.ctx is not None else prog_name or "aftercare"
            where = f" (see `{path} --help`)"
            typer.secho(
                f"Error: {_one_line(exc.format_message()).rstrip('.')}{where}", err=True, fg="red"
            )
            _exit(USAGE_ERROR, standalone_mode, exc)
        except click_errors.ClickException as exc:
            typer.secho(f"Error: {_one_line(exc.format_message())}", err=True, fg="red")
            _exit(exc.exit_code, standalone_mode, exc)
        except typer.Abort as exc:
            typer.secho("Aborted.", err=True, fg="red")
            _exit(1, standalone_mode, exc)
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else 0)
        return result


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _exit(code: int, standalone_mode: bool, exc: BaseException) -> NoReturn:
    if standalone_mode:
        sys.exit(code)
    raise exc
