"""Error handling shared by the CLI's commands: short messages, exit codes, --debug tracebacks."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from sim.core import safe
from sim.core.errors import ErsimError, InputError

__all__ = ["handled"]

F = TypeVar("F", bound=Callable[..., Any])


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


def _report(exc: ErsimError) -> None:
    err = _stderr_console()
    if isinstance(exc, InputError):
        n = len(exc.problems)
        err.print(f"[bold red]错误：输入有 {n} 处问题[/] (error: {n} problem{'s' if n != 1 else ''} in the input):", markup=True)
        for p in exc.problems:
            err.print(f"  {safe.console(p)}", markup=False, emoji=False)
    else:
        err.print(f"error: {safe.console(exc)}", markup=False, emoji=False)


def handled(fn: F) -> F:
    """Map ersim errors to short messages and exit codes; tracebacks only with --debug."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
        except ErsimError as exc:
            if debug:
                traceback.print_exc()
            _report(exc)
            ctx.exit(exc.exit_code)
        except (KeyboardInterrupt, click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as exc:  # a full disk, a read-only or forbidden folder: the cause, not a trace
            from sim.store.damage import write_error

            problem = write_error(exc)
            if problem is None or debug:
                if debug:
                    raise
                click.echo(f"internal error: {type(exc).__name__}: {safe.console(exc)} (run with --debug for the traceback)", err=True)
                ctx.exit(1)
            _report(InputError(problem))
            ctx.exit(2)
        except Exception as exc:  # a bug: say so briefly, full trace with --debug
            if debug:
                raise
            click.echo(f"internal error: {type(exc).__name__}: {safe.console(exc)} (run with --debug for the traceback)", err=True)
            ctx.exit(1)

    return wrapper  # type: ignore[return-value]
