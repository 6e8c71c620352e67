"""ersim: emission reduction scenario simulator (减排情景模拟).

Python API::

    import sim
    scen = sim.load_scenario("scenarios/ankang-2025.yaml")
    result = sim.run(scen)
    ds = result.to_dataset()
    sim.save_run(result)
"""

from __future__ import annotations

from typing import Any

from sim.core.version import __version__

_API = ("Library", "Result", "batch", "compare", "explore", "list_outputs", "list_runs", "load_library", "load_scenario", "open_run",
        "run", "save_run", "sensitivity", "solve", "sweep", "write_appendix")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:  # lazy: keep `import sim` and CLI start-up light
    if name in _API:
        from sim import api

        return getattr(api, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
