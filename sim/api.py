"""The Python API the CLI wraps (DESIGN.md section 8)."""

from __future__ import annotations

from sim.coefficients import Library, load_library
from sim.comparison import compare
from sim.load import load_scenario
from sim.run import Result, run
from sim.store import list_runs, save_run

__all__ = ["Library", "Result", "compare", "list_runs", "load_library", "load_scenario", "run", "save_run"]
