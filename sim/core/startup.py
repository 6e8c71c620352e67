"""Start-up: keep dask and distributed out of processes that do not use a cluster.

pint imports ``dask.base`` whenever dask is installed (0.3-0.4 s), and xarray's netCDF writer
imports ``dask.distributed`` (another 0.4 s) just to ask which scheduler is active. ersim only
uses dask for ``ersim batch --scheduler``; everywhere else :func:`hide_dask` marks both
packages as absent (``sys.modules[name] = None``, which ``import`` and ``find_spec`` read as
"not installed"), so pint and xarray take their numpy-only paths. Nothing in the numbers
changes. Imports nothing of the project.

A process that imported xarray first keeps dask visible: xarray asks whether dask is installed
once, at import, and would later fail to import the dask it was told exists.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["HIDDEN", "hide_dask", "show_dask"]

HIDDEN = ("dask", "distributed")


def hide_dask() -> Callable[[], None]:
    """Mark dask and distributed as absent unless already imported (or xarray is); returns the undo."""
    hidden = [] if "xarray" in sys.modules else [name for name in HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]

    def undo() -> None:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]

    return undo


def show_dask() -> None:
    """Undo :func:`hide_dask` (before connecting to a cluster)."""
    for name in HIDDEN:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]
