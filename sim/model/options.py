"""Options of an analysis, as given in Python or on the command line (samples, seed, keep,
attribution, the solver's gap and time limit): checked here before any work, one problem per
bad option naming what is valid. The CLI's click types state the same bounds."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from sim.core.errors import InputError, Problem
from sim.core.seeds import SEED_MAX

__all__ = ["KEEP", "checked"]
#: what a Monte Carlo run keeps: every sample, or p5/p50/p95 only
KEEP = ("samples", "quantiles")


def _whole(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def checked(**given: Any) -> dict[str, Any]:
    """The given options, checked and normalised (``attribution='沙普利'`` -> ``'shapley'``).

    Known options: samples (whole number >= 0), seed (None or 0..SEED_MAX), keep (KEEP),
    attribution (None, sequential or shapley, or a Chinese alias), gap (number >= 0),
    time_limit (None or a number > 0), n (whole number >= 2). InputError lists every bad one.
    """
    from sim.model.scenario import _aliases_text, _enum

    out: dict[str, Any] = {}
    problems: list[Problem] = []

    def bad(name: str, message: str) -> None:
        problems.append(Problem(f"{message}, got {given[name]!r}", path=name))

    for name, v in given.items():
        if name == "samples":
            if not _whole(v) or v < 0:
                bad(name, "must be a whole number >= 0")
            else:
                out[name] = int(v)
        elif name == "seed":
            if v is not None and (not _whole(v) or not 0 <= v <= SEED_MAX):
                bad(name, f"must be a whole number from 0 to {SEED_MAX} (2**63 - 1), or None for the scenario's settings.seed")
            else:
                out[name] = None if v is None else int(v)
        elif name == "n":
            if not _whole(v) or v < 2:
                bad(name, "must be a whole number >= 2")
            else:
                out[name] = int(v)
        elif name == "keep":
            if v not in KEEP:
                bad(name, f"must be one of {', '.join(KEEP)}")
            else:
                out[name] = v
        elif name == "attribution":
            norm = None
            if v is not None:
                try:
                    norm = _enum("attribution", v)
                except ValueError:
                    norm = None
                if not isinstance(norm, str):
                    bad(name, f"must be None (the scenario's setting) or one of {_aliases_text('attribution')}")
            out[name] = norm
        elif name == "gap":
            if not _number(v) or v < 0:
                bad(name, "must be a number >= 0 (the relative optimality gap, e.g. 0.01)")
            else:
                out[name] = float(v)
        elif name == "time_limit":
            if v is not None and (not _number(v) or v <= 0):
                bad(name, "must be a number of seconds > 0, or None for no limit")
            else:
                out[name] = None if v is None else float(v)
        else:
            raise TypeError(f"unknown option {name!r}")
    if problems:
        raise InputError(problems)
    return out
