"""The Python API the CLI wraps (DESIGN.md section 8).

Each name here is a function or class; no module of the package shadows one of them.
"""

from __future__ import annotations

from sim.analyses.compare import compare
from sim.evaluation.evaluate import Result, run
from sim.model.coefficients import Library, load_library
from sim.model.load import load_scenario
from sim.store.runs import list_runs, save_run

__all__ = ["Library", "Result", "compare", "list_runs", "load_library", "load_scenario", "run", "save_run"]
