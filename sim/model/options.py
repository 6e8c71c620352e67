"""Options of an analysis, as given in Python or on the command line (samples, seed, keep,
attribution, the solver's gap and time limit): checked here before any work, one problem per
bad option naming what is valid. The CLI's click types state the same bounds."""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

from sim.core.errors import InputError, Problem
from sim.core.seeds import SEED_MAX

__all__ = ["KEEP", "TIME_LIMIT_MIN", "checked"]

#: what a Monte Carlo run keeps: every sample, or p5/p50/p95 only
KEEP = ("samples", "quantiles")
#: shortest time limit of the solver, seconds
TIME_LIMIT_MIN = 0.1


_BAD = object()  # what a check returns for a value it refuses


def _whole(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _attribution(v: Any) -> Any:
    from sim.model.scenario import _enum

    if v is None:
        return None
    try:
        norm = _enum("attribution", v)
    except ValueError:
        return _BAD
    return norm if isinstance(norm, str) else _BAD


def _attribution_words() -> str:
    from sim.model.scenario import _aliases_text

    return _aliases_text("attribution")


#: each option: its check (the normalised value, or _BAD) and what would be valid
_OPTIONS: dict[str, tuple[Callable[[Any], Any], Callable[[], str]]] = {
    "samples": (lambda v: int(v) if _whole(v) and v >= 0 else _BAD, lambda: "must be a whole number >= 0"),
    "seed": (lambda v: None if v is None else int(v) if _whole(v) and 0 <= v <= SEED_MAX else _BAD,
             lambda: f"must be a whole number from 0 to {SEED_MAX} (2**63 - 1), or None for the scenario's settings.seed"),
    "n": (lambda v: int(v) if _whole(v) and v >= 2 else _BAD, lambda: "must be a whole number >= 2"),
    "keep": (lambda v: v if isinstance(v, str) and v in KEEP else _BAD, lambda: f"must be one of {', '.join(KEEP)}"),
    "attribution": (_attribution, lambda: f"must be None (the scenario's setting) or one of {_attribution_words()}"),
    "gap": (lambda v: float(v) if _number(v) and v >= 0 else _BAD,
            lambda: "must be a number >= 0 (the relative optimality gap, e.g. 0.01)"),
    "workers": (lambda v: None if v is None else int(v) if _whole(v) and v >= 1 else _BAD,
                lambda: "must be a whole number of processes >= 1, or None for one per core"),
    "time_limit": (lambda v: None if v is None else float(v) if _number(v) and v >= TIME_LIMIT_MIN else _BAD,
                   lambda: f"must be a number of seconds >= {TIME_LIMIT_MIN}, or None for no limit"),
}


def checked(**given: Any) -> dict[str, Any]:
    """The given options, checked and normalised (``attribution='沙普利'`` -> ``'shapley'``).

    Known options: samples (whole number >= 0), seed (None or 0..SEED_MAX), keep (KEEP),
    attribution (None, sequential or shapley, or a Chinese alias), gap (number >= 0),
    time_limit (None or a number >= TIME_LIMIT_MIN), n (whole number >= 2), workers (None or a whole number >= 1).
    InputError lists every bad one.
    """
    out: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, v in given.items():
        check, valid = _OPTIONS[name]
        value = check(v)
        if value is _BAD:
            problems.append(Problem(f"{valid()}, got {v!r}", path=name))
        else:
            out[name] = value
    if problems:
        raise InputError(problems)
    return out
