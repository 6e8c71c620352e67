"""The Python API (DESIGN.md section 8). The ``ersim`` command only wraps these functions.

Every analysis takes a scenario (a file ``x.yaml`` or ``x.yaml#variant``, a mapping of the same
keys, or a loaded Scenario) or a run (a Result, a run folder, id, id prefix or scenario id), and returns an object
that gives its Dataset (``.dataset``), its tables, and saves itself (``.save(out=None)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.evaluation.evaluate import Result
from sim.model.coefficients import Library, load_library
from sim.model.compile import Model, compile_model
from sim.model.options import checked
from sim.model.scenario import Scenario
from sim.reports.outputs import Comparison, SensitivityResult, SolveOutput, SweepResult
from sim.store.runs import Run

__all__ = ["Comparison", "Library", "Result", "Run", "SensitivityResult", "SolveOutput", "SweepResult", "batch", "compare",
           "explore", "list_outputs", "list_runs", "load_library", "load_scenario", "open_run", "run", "save_run", "sensitivity",
           "solve", "sweep", "write_appendix"]

Source = str | Path | Scenario | Result | Mapping[str, Any]


def _is_scenario_ref(item: Any) -> bool:
    return isinstance(item, (str, Path)) and str(item).partition("#")[0].endswith((".yaml", ".yml"))


def load_scenario(source: str | Path | Mapping[str, Any]) -> Scenario:
    """A validated Scenario from a file (``x.yaml`` or ``x.yaml#variant``) or a mapping of the same
    keys (relative inventory paths then resolve against the current folder); InputError lists every problem."""
    from sim.model.load import load_scenario as _load
    from sim.model.load import scenario_from_dict

    if isinstance(source, Mapping):
        return scenario_from_dict(dict(source))
    return _load(source)


def _model(item: Source, library: Library | None = None) -> tuple[Model, str | None]:
    """(compiled model, the run it came from or None) of a scenario file or mapping, Scenario, Result or run name."""
    if isinstance(item, Result):
        return item.model, item.run_id
    if isinstance(item, Mapping):
        item = load_scenario(item)
    if isinstance(item, Scenario):
        return compile_model(item, library or load_library()), None
    if _is_scenario_ref(item):
        return compile_model(load_scenario(item), library or load_library()), None
    res = open_run(item)
    return res.model, res.run_id


def run(scenario: str | Path | Scenario | Mapping[str, Any], library: Library | None = None, *, samples: int = 0, seed: int | None = None,
        keep: str = "samples", attribution: str | None = None, progress: Callable[[int], None] | None = None) -> Run:
    """Evaluate a scenario: central values, and with *samples* a seeded Monte Carlo (P(met) per target)."""
    from sim.evaluation.evaluate import run as run_central
    from sim.evaluation.evaluate import run_uncertain

    opt = checked(samples=samples, seed=seed, keep=keep, attribution=attribution)
    samples, seed, keep, attribution = opt["samples"], opt["seed"], opt["keep"], opt["attribution"]
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)  # a file or a mapping
    if samples:
        return Run.of(run_uncertain(scen, library, samples=samples, seed=seed, keep=keep, attribution=attribution, progress=progress))
    return Run.of(run_central(scen, library, attribution=attribution))


def save_run(result: Result, out: str | Path | None = None) -> Path:
    """Write *result* as a run folder (``outputs/<scenario>/<run-id>/`` or *out*)."""
    from sim.store.runs import save_run as _save

    return _save(result, out)


def open_run(name: str | Path) -> Run:
    """The run in a folder (or by id, id prefix or scenario id) as the Result :func:`run` returned."""
    from sim.store.runs import open_run as _open

    return _open(name)


def list_runs() -> list[dict[str, Any]]:
    """Manifests of the readable runs under ``outputs/`` (``$ERSIM_OUTPUTS``), oldest first."""
    from sim.store.runs import list_runs as _list

    return _list()


def list_outputs() -> list[dict[str, Any]]:
    """Manifests of every output (runs, sweeps, solves, …; damaged ones flagged), oldest first."""
    from sim.store.runs import list_outputs as _list

    return _list()


def compare(items: Iterable[Source | Any]) -> Comparison:
    """Runs or scenario files side by side (a ``scenario`` dim); ``.save()`` writes charts and a workbook."""
    from sim.analyses.compare import compare as _compare

    return Comparison(_compare(list(items)))


def solve(scenario: Source, *, gap: float = 1e-2, time_limit: float | None = 60.0, pollutant: str | None = None) -> SolveOutput:
    """The least-cost levels of the measures that carry a cost, meeting every target, and the engine's re-run of that mix."""
    from sim.analyses.solve import mix_scenario
    from sim.analyses.solve import solve as _solve
    from sim.evaluation.evaluate import run as run_central

    opt = checked(gap=gap, time_limit=time_limit)
    gap, time_limit = opt["gap"], opt["time_limit"]
    model, origin = _model(scenario)
    res = _solve(model.scenario, model.library, gap=gap, time_limit=time_limit)
    rerun = None
    if res.feasible or res.level.any():
        rerun = run_central(mix_scenario(res), model.library)
    return SolveOutput(res, rerun, pollutant, origin)


def sweep(scenario: Source, sets: Mapping[str, str] | Iterable[str], *, samples: int = 0, seed: int | None = None,
          progress: Callable[[int], None] | None = None) -> SweepResult:
    """Inputs over a grid: ``{"measures.coal-to-gas.completion": "0.5:1:6"}`` or ``["PATH=SPEC", ...]``."""
    from sim.analyses.sweep import parse_set
    from sim.analyses.sweep import sweep as _sweep

    opt = checked(samples=samples, seed=seed)
    samples, seed = opt["samples"], opt["seed"]
    texts = [f"{k}={v}" for k, v in sets.items()] if isinstance(sets, Mapping) else [str(s) for s in sets]
    model, origin = _model(scenario)
    axes = [parse_set(model, s) for s in texts]
    ds = _sweep(model, axes, samples, seed, progress=progress)
    return SweepResult(model, ds, texts, samples, origin)


def sensitivity(scenario: Source, method: str = "tornado", target: str | None = None, *, n: int = 1024,
                seed: int | None = 0) -> SensitivityResult:
    """Rank the uncertain inputs by their effect on a target's margin (tornado, Morris or Sobol)."""
    from sim.analyses.sensitivity import run_method
    from sim.core.errors import InputError, Problem, did_you_mean

    methods = ("tornado", "morris", "sobol")
    if method not in methods:
        raise InputError(Problem(f"unknown method {method!r}{did_you_mean(method, methods)}; valid: {', '.join(methods)}"))
    opt = checked(n=n, seed=seed)
    n, seed = opt["n"], opt["seed"]
    model, origin = _model(scenario)
    if seed is None:  # as everywhere: the scenario's settings.seed
        seed = model.scenario.settings.seed
    if not model.scenario.targets:
        raise InputError(Problem("the scenario has no targets to analyse", model.scenario._path))
    tid = target or model.scenario.targets[0].id
    table = run_method(model, method, tid, n, seed)
    return SensitivityResult(model, method, tid, table, n, seed, origin)


def batch(items: Any, *, samples: int = 0, seed: int | None = None, scheduler: Any = None, block: int | None = None,
          workers: int | None = None, progress: Callable[[int], None] | None = None) -> Any:
    """Many scenarios (files, folders, mappings) stacked along ``region``; ``.save()`` writes the batch.

    With more than one worker (the default on a machine with several cores) the cities run in
    spawned processes, which import the calling script again: in a script, call this under
    ``if __name__ == "__main__":`` (or pass ``workers=1``)."""
    from sim.analyses.batch import evaluate_batch

    opt = checked(samples=samples, seed=seed, workers=workers)
    samples, seed, workers = opt["samples"], opt["seed"], opt["workers"]
    return evaluate_batch(items, samples=samples, seed=seed, scheduler=scheduler, block=block, progress=progress,
                          workers=workers)


def write_appendix(run: str | Path | Result, compare: Iterable[str | Path] = (), formats: str | Iterable[str] = "docx,html,md",
                   lang: str = "zh", out: str | Path | None = None) -> list[Path]:
    """The feasibility appendix (目标可达性分析) of a saved run as DOCX/HTML/Markdown; returns the files."""
    from sim.reports.appendix import write_appendix as _write

    if isinstance(run, Result):
        if run.folder is None:
            save_run(run)
        run = Path(run.folder)
    return _write(run, compare, formats, lang, out)


def explore(run: str | Path | Result, *, out: str | Path | None = None, lang: str = "zh") -> Path:
    """The what-if explorer of a run: one self-contained HTML file (``outputs/<scenario>/explore-<id>/explore.html`` or *out*)."""
    from sim.reports.explore import write_explore

    return write_explore(run, out=out, lang=lang)
