"""Progress bars on stderr (rich) for long work: shown only on a terminal, after one second."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["progress"]


@contextmanager
def progress(total: int | None, label: str, quiet: bool = False, delay: float = 1.0) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; a rich bar appears on stderr once the work has run *delay* seconds.

    Silent with *quiet* or when stderr is not a terminal (pipes, CI, click's test runner).
    """
    enabled = not quiet and sys.stderr.isatty()
    start = time.perf_counter()
    state: dict[str, Any] = {"done": 0, "bar": None, "task": None}

    def advance(n: int) -> None:
        state["done"] += n
        if not enabled:
            return
        if state["bar"] is None and time.perf_counter() - start >= delay:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(label, total=total, completed=state["done"])
        elif state["bar"] is not None:
            state["bar"].update(state["task"], completed=state["done"])

    try:
        yield advance
    finally:
        if state["bar"] is not None:
            state["bar"].stop()
