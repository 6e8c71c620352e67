"""One exception hierarchy. CLI maps ErsimError to exit code 2 (input) or 3 (infeasible)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ErsimError", "InfeasibleError", "InputError", "Problem", "UnitError"]


@dataclass(frozen=True)
class Problem:
    """One input problem: where (file, line, key path) and what would be valid."""

    message: str
    file: str | None = None
    line: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ErsimError(Exception):
    """Base of every error ersim raises on purpose."""

    exit_code = 1


class InputError(ErsimError):
    """Bad input: carries every problem found, so a planner fixes them all at once."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        # file order, then line order: a planner fixes them top to bottom
        self.problems: list[Problem] = sorted(problems, key=lambda p: (p.file or "", p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


class UnitError(ErsimError, ValueError):
    """A unit that pint cannot read or convert; wrapped into a Problem by loaders."""

    exit_code = 2


class InfeasibleError(ErsimError):
    """Targets cannot all be met (exit code 3); carries the shortfall per target."""

    exit_code = 3

    def __init__(self, message: str, shortfalls: dict[str, float] | None = None):
        super().__init__(message)
        self.shortfalls = shortfalls or {}


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of *choices*, or an empty string."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
