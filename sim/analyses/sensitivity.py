"""Sensitivity of a target's margin to the uncertain inputs: tornado, Morris, Sobol (SALib).

SALib samples the unit hypercube (uniform bounds [0, 1] per input); each column is then mapped
through the input's own inverse CDF (sim.uncertainty.ppf), so the distributions are exactly the
Monte Carlo's. Sobol indices are unchanged by that monotone map of independent inputs; Morris
elementary effects are per unit of probability (a step across the input's range).

SALib checks its inputs with ``assert``; :func:`validate` checks them first and says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sim.core.errors import InputError, Problem
from sim.core.uncertainty import ppf
from sim.core.units import shown
from sim.model.compile import Model

__all__ = ["margin_function", "morris", "sobol", "tornado", "uncertain_inputs", "validate"]


def uncertain_inputs(model: Model) -> list[str]:
    """Parameter names with a range (coefficients, completion, growth, shares, PM2.5 response)."""
    return [k for k, p in model.params.items() if p.uncertain]


def validate(names: list[str], n: int, method: str) -> None:
    """Check what SALib would assert: inputs present, power-of-two base sample, Morris levels."""
    if not names:
        raise InputError(Problem("no uncertain inputs: give coefficients, completion rates or growth rates a range"))
    if len(set(names)) != len(names):
        raise InputError(Problem("input names must be unique"))
    if method == "sobol" and (n < 2 or n & (n - 1)):
        raise InputError(Problem(f"Sobol needs a power-of-two base sample (e.g. 1024), got {n}"))
    if method == "morris" and n < 2:
        raise InputError(Problem(f"Morris needs at least 2 trajectories, got {n}"))
    from sim.model import consistency

    rows = n * (2 * len(names) + 2) if method == "sobol" else n * (len(names) + 1)
    if rows > consistency.MAX_GRID_POINTS:  # decided before SALib draws anything
        msg = consistency.RULES["evaluations"].text(method=method, n=n, k=len(names), rows=rows, cap=consistency.MAX_GRID_POINTS)
        raise InputError(Problem(msg, path="--n"))


def margin_function(model: Model, target: str) -> Callable[[np.ndarray, list[str]], np.ndarray]:
    """f(U [N,k] in the unit cube, names) -> the target's margin [N], via the vectorised kernel."""
    from sim.analyses.sweep import evaluate_rows
    from sim.model import consistency

    ids = [t.id for t in model.scenario.targets]
    if target not in ids:
        from sim.core.errors import did_you_mean

        raise InputError(Problem(f"unknown target {target!r}{did_you_mean(target, ids)}; targets: {', '.join(ids)}"))
    ti = ids.index(target)
    col = {k: i for i, k in enumerate(model.param_names)}

    def f(u: np.ndarray, names: list[str]) -> np.ndarray:
        x = np.repeat(model.param_matrix(n=1), len(u), axis=0)
        for j, name in enumerate(names):
            p = model.params[name]
            x[:, col[name]] = ppf(np.clip(u[:, j], 1e-12, 1 - 1e-12), p.distribution, p.value, p.low, p.high)
        for what, c in consistency.sample_breaches(model, x).items():  # limits hold in every draw, or are said
            w = consistency.RULES["limit-in-samples"].text(count=c, total=len(x), pct=100 * c / len(x), what=what)
            if w not in model.warnings:
                model.warnings.append(w)
        _, _, req, ach = evaluate_rows(model, x)
        out: np.ndarray = ach[:, ti] - req[:, ti]
        return out

    return f


def _labels(model: Model, names: list[str]) -> list[str]:
    return [model.params[n].label or n for n in names]


def tornado(model: Model, target: str) -> pd.DataFrame:
    """Each uncertain input at its low and its high, the others central: margins and swing."""
    names = uncertain_inputs(model)
    validate(names, 2, "tornado")
    from sim.analyses.sweep import evaluate_rows

    ti = [t.id for t in model.scenario.targets].index(target) if target in [t.id for t in model.scenario.targets] else None
    if ti is None:
        margin_function(model, target)  # raises with 'did you mean'
    col = {k: i for i, k in enumerate(model.param_names)}
    base = model.param_matrix(n=1)
    x = np.repeat(base, 2 * len(names) + 1, axis=0)
    for j, name in enumerate(names):
        p = model.params[name]
        x[2 * j, col[name]] = p.low
        x[2 * j + 1, col[name]] = p.high
    _, _, req, ach = evaluate_rows(model, x)
    m = ach[:, ti] - req[:, ti]
    df = pd.DataFrame({
        "input": names, "label": _labels(model, names),
        "low": [model.params[n].low for n in names], "high": [model.params[n].high for n in names],
        "input_unit": [shown(model.params[n].unit or "1") for n in names],
        "margin_at_low": m[0:-1:2], "margin_at_high": m[1:-1:2], "margin_central": m[-1],
    })
    df["swing"] = (df["margin_at_high"] - df["margin_at_low"]).abs()
    df["margin_unit"] = margin_unit(model, target)
    return df.sort_values("swing", ascending=False).reset_index(drop=True)


def sobol(model: Model, target: str, n: int = 1024, seed: int = 0) -> pd.DataFrame:
    """First and total order Sobol indices with 95 % confidence intervals (SALib, Saltelli/Sobol')."""
    names = uncertain_inputs(model)
    validate(names, n, "sobol")
    f = margin_function(model, target)
    return sobol_indices(lambda u: f(u, names), names, n, seed, _labels(model, names))


def sobol_indices(f: Callable[[np.ndarray], np.ndarray], names: list[str], n: int, seed: int = 0,
                  labels: list[str] | None = None) -> pd.DataFrame:
    """Sobol S1/ST of f on the unit cube [0,1]^k (validated, then SALib)."""
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    validate(names, n, "sobol")
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    u = sample.sample(problem, n, calc_second_order=False, seed=seed)
    y = f(u)
    if not np.all(np.isfinite(y)):
        raise InputError(Problem("the model returned non-finite margins for some samples"))
    if np.ptp(y) == 0:
        raise InputError(Problem("the target's margin does not vary with the uncertain inputs: no indices to compute"))
    res = analyze.analyze(problem, y, calc_second_order=False, seed=seed)
    df = pd.DataFrame({"input": names, "label": labels or names, "S1": res["S1"], "S1_conf": res["S1_conf"],
                       "ST": res["ST"], "ST_conf": res["ST_conf"]})
    return df.sort_values("ST", ascending=False).reset_index(drop=True)


def morris(model: Model, target: str, trajectories: int = 64, levels: int = 4, seed: int = 0) -> pd.DataFrame:
    """Morris elementary effects: mu* (mean absolute effect) and sigma, per unit of probability."""
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    names = uncertain_inputs(model)
    validate(names, trajectories, "morris")
    if levels < 2 or levels % 2:
        raise InputError(Problem(f"Morris levels must be an even number >= 2, got {levels}"))
    f = margin_function(model, target)
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    u = sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    y = f(u, names)
    res = analyze.analyze(problem, u, y, num_levels=levels, seed=seed)
    df = pd.DataFrame({"input": names, "label": _labels(model, names), "mu_star": res["mu_star"],
                       "mu_star_conf": res["mu_star_conf"], "sigma": res["sigma"]})
    df["margin_unit"] = margin_unit(model, target)  # mu, mu_star and sigma are in the margin's unit
    return df.sort_values("mu_star", ascending=False).reset_index(drop=True)


def margin_unit(model: Model, target: str) -> str:
    """The unit of *target*'s margin: t, or µg/m³ for a concentration target."""
    kind = next((t.kind for t in model.scenario.targets if t.id == target), None)
    return "µg/m³" if kind == "concentration" else "t"


def run_method(model: Model, method: str, target: str, n: int, seed: int) -> Any:
    """Dispatch for the CLI."""
    if method == "tornado":
        return tornado(model, target)
    if method == "sobol":
        return sobol(model, target, n, seed)  # indices: shares of the variance, no unit
    return morris(model, target, n, seed=seed)
