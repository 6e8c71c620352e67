"""Sweeps: set inputs by path over a grid; every swept input becomes a dim of the result.

Paths: ``measures.<id>.quantity``, ``measures.<id>.completion``, ``measures.<id>.share``,
``coefficients.<key>``, ``growth.<pool>``, ``targets.<id>.value``. Specs: a list ``a,b,c``,
a range ``start:stop:n``, or ``low,mid,high`` (the input's own range). Values may carry units
(``70%``, ``15000 立方米/日``); bare numbers are in the input's unit.

Every grid point is one row of the parameter matrix, evaluated with the same vectorised kernel
as the Monte Carlo. With samples, the draws are common random numbers: drawn once, and reused
at every grid point, so differences between points are not sampling noise.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from sim.core.errors import InputError, Problem, UnitError, did_you_mean
from sim.core.units import parse_quantity, shown
from sim.evaluation.evaluate import (
    CONVENTIONS,
    T_PER_YEAR,
    target_attrs,
    target_specs,
    target_unit,
)
from sim.evaluation.evaluator import (
    SHARED_BYTES,
    GridRows,
    evaluate,
    shared_bytes,
    working_chunk,
    working_memory,
)
from sim.model import consistency
from sim.model.compile import Model

__all__ = ["SweepAxis", "break_even", "evaluate_rows", "parse_set", "sweep"]


@dataclass
class SweepAxis:
    """One swept input: its path, values (in *unit*), and how it maps onto the model."""

    path: str
    values: np.ndarray
    unit: str
    param: str | None = None  # parameter column, or None for a target value
    scale: float = 1.0  # param value = value * scale (quantities: value / scenario quantity)
    target: int | None = None  # index of the target whose value is swept
    central: float = float("nan")


def _number(text: str, unit: str, what: str) -> float:
    text = text.strip()
    try:
        q = parse_quantity(text)
    except UnitError as exc:
        raise InputError(Problem(f"{what}: {exc}")) from None
    if str(q.units) in ("", "dimensionless"):  # a bare number is in the input's unit ('10%' is not bare)
        return float(q.magnitude)
    try:
        return float(q.to(parse_quantity(f"1 {unit}").units).magnitude) if unit else float(q.to("dimensionless").magnitude)
    except Exception:
        raise InputError(Problem(f"{what}: {text!r} does not convert to '{unit or 'a number'}'")) from None


def _spec_values(spec: str, unit: str, rng: tuple[float, float, float] | None, what: str) -> np.ndarray:
    spec = spec.strip()
    if spec in ("low,mid,high", "low,value,high"):
        if rng is None:
            raise InputError(Problem(f"{what}: 'low,mid,high' needs an input with a range; give values instead"))
        return np.array(rng, dtype=float)
    if ":" in spec and "," not in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise InputError(Problem(f"{what}: a range is start:stop:n, got {spec!r}"))
        start, stop = _number(parts[0], unit, what), _number(parts[1], unit, what)
        try:
            n = int(parts[2])
        except ValueError:
            raise InputError(Problem(f"{what}: the number of points in {spec!r} must be a whole number")) from None
        if not 1 <= n <= 100_000:
            raise InputError(Problem(f"{what}: between 1 and 100,000 points, got {n}"))
        return np.linspace(start, stop, n)
    vals = [_number(v, unit, what) for v in spec.split(",") if v.strip()]
    if not vals:
        raise InputError(Problem(f"{what}: no values in {spec!r}"))
    out = np.array(vals, dtype=float)
    if not np.all(np.isfinite(out)):
        raise InputError(Problem(f"{what}: values must be finite numbers"))
    return out


def parse_set(model: Model, text: str) -> SweepAxis:
    """``PATH=SPEC`` -> a SweepAxis; InputError with 'did you mean' for unknown paths."""
    if "=" not in text:
        raise InputError(Problem(f"--set takes PATH=SPEC, e.g. measures.c2g.quantity=0:2000:11; got {text!r}"))
    path, spec = (x.strip() for x in text.split("=", 1))
    what = f"--set {path}"
    head, _, rest = path.partition(".")
    params = model.params
    if head == "measures":
        mid, _, field = rest.rpartition(".")
        if mid not in model.measures:
            raise InputError(Problem(f"{what}: unknown measure {mid!r}{did_you_mean(mid, model.measures)}"))
        j = model.measures.index(mid)
        meas = model.scenario.measures[j]
        if field == "quantity":
            if meas.quantity is None:
                raise InputError(Problem(f"{what}: measure {mid!r} is given by share; sweep measures.{mid}.share"))
            q = parse_quantity(meas.quantity)
            unit = f"{q.units:~}"
            vals = _spec_values(spec, unit, None, what)
            if np.any(vals < 0):
                raise InputError(Problem(f"{what}: quantities must not be negative"))
            return SweepAxis(path, vals, unit, f"qty:{mid}", 1.0 / float(q.magnitude) if q.magnitude else 0.0, central=float(q.magnitude))
        if field in ("completion", "share"):
            name = f"{field}:{mid}"
            if name not in params:
                raise InputError(Problem(f"{what}: measure {mid!r} has no {field}"))
            p = params[name]
            rng = (p.low, p.value, p.high) if p.low is not None and p.high is not None else None
            vals = _spec_values(spec, "", rng, what)
            if np.any((vals < 0) | (vals > 1)):
                raise InputError(Problem(f"{what}: a {field} lies between 0 and 1 (0% to 100%)"))
            return SweepAxis(path, vals, "", name, central=p.value)
        raise InputError(Problem(f"{what}: a measure's sweepable fields are quantity, completion, share{did_you_mean(field, ['quantity', 'completion', 'share'])}"))
    if head == "coefficients":
        name = f"coef:{rest}"
        if name not in params:
            lib = model.library
            if rest in lib and lib[rest].formula:
                raise InputError(Problem(f"{what}: {rest!r} is derived ({lib[rest].formula}); sweep one of its inputs: {', '.join(lib.dependencies(rest))}"))
            used = [k[5:] for k in params if k.startswith("coef:")]
            raise InputError(Problem(f"{what}: the scenario does not use coefficient {rest!r}{did_you_mean(rest, used)}"))
        p = params[name]
        rng = (p.low, p.value, p.high) if p.low is not None and p.high is not None else None
        return SweepAxis(path, _spec_values(spec, p.unit, rng, what), p.unit, name, central=p.value)
    if head == "growth":
        name = f"growth:{rest}"
        if name not in params:
            raise InputError(Problem(f"{what}: unknown pool {rest!r}{did_you_mean(rest, model.pools)}"))
        p = params[name]
        rng = (p.low, p.value, p.high) if p.low is not None and p.high is not None else None
        vals = _spec_values(spec, "", rng, what)
        if np.any((vals <= -1) | (vals > 1)):
            rule = consistency.RULES["growth-range"]
            raise InputError(Problem(rule.text(got=", ".join(f"{v:.0%}" for v in vals if not -1 < v <= 1)), path=what))
        return SweepAxis(path, vals, "", name, central=p.value)
    if head == "targets":
        tid, _, field = rest.rpartition(".")
        ids = [t.id for t in model.scenario.targets]
        if tid not in ids or field != "value":
            raise InputError(Problem(f"{what}: sweep targets.<id>.value; unknown target {tid!r}{did_you_mean(tid, ids)}" if tid not in ids else f"{what}: only a target's value can be swept"))
        i = ids.index(tid)
        t = model.scenario.targets[i]
        unit = {"reduction_percent": "", "concentration": "ug/m**3"}.get(t.kind, "t")
        central = float(parse_quantity(t.value).to(unit or "dimensionless").magnitude)
        vals = _spec_values(spec, unit, None, what)
        if t.kind == "reduction_percent" and np.any(np.abs(vals) >= 1):
            raise InputError(Problem(f"{what}: a reduction_percent target lies between -100% and 100% (e.g. 2% or 0.02)"))
        if t.kind != "reduction_percent" and np.any(vals < 0):
            raise InputError(Problem(f"{what}: a {t.kind} target must not be negative"))
        return SweepAxis(path, vals, unit or "", None, target=i, central=central)
    raise InputError(Problem(f"{what}: a path starts with measures., coefficients., growth. or targets.{did_you_mean(head, ['measures', 'coefficients', 'growth', 'targets'])}"))


MAX_CORNER_AXES = 6  # all 2^d corners of up to 6 axes are checked together; beyond, each axis alone


def check_extremes(model: Model, axes: list[SweepAxis]) -> None:
    """The grid's extreme points pass the consistency stage: every corner of the swept axes
    (each at its smallest or largest value, the other inputs at the scenario's levels)."""
    col = {k: i for i, k in enumerate(model.param_names)}
    swept = [a for a in axes if a.param is not None and len(a.values)]
    ends = [sorted({float(np.min(a.values)), float(np.max(a.values))}) for a in swept]
    if len(swept) <= MAX_CORNER_AXES:
        corners = [tuple(zip(swept, c, strict=True)) for c in itertools.product(*ends)]
    else:
        corners = [((a, v),) for a, e in zip(swept, ends, strict=True) for v in e]
    for corner in corners:
        x = model.param_matrix(n=1)
        for a, v in corner:
            x[0, col[a.param]] = v * a.scale  # type: ignore[index]
        problems = consistency.check_rows(model, x) + consistency.check_groups(model, x)
        if problems:
            if len(corner) == 1:
                a, v = corner[0]
                head = f"--set {a.path}: at {v:g} {a.unit}".rstrip()
            else:
                head = "--set grid corner at " + ", ".join(f"{a.path}={v:g}{(' ' + a.unit) if a.unit else ''}" for a, v in corner)
            raise InputError([Problem(f"{head}: {p.message}", p.file, p.line, p.path) for p in problems]) from None


def evaluate_rows(model: Model, x: np.ndarray, values: np.ndarray | None = None, chunk: int | None = None,
                  progress: Any = None, breaches: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(baseline totals, emission totals [N,P,Y] t/a, required, achieved [N,T]) for parameter rows *x*.

    The shared evaluation loop (:func:`sim.evaluation.evaluator.evaluate`) on a matrix of rows;
    *breaches*, when given, counts the rows where a measure takes more than its pool holds.
    """
    ev = evaluate(model, x, values, chunk=chunk, progress=progress, breaches=breaches)
    return ev.baseline_total, ev.emissions_total, ev.required, ev.achieved


def sweep(model: Model, axes: list[SweepAxis], samples: int = 0, seed: int | None = None, progress: Any = None) -> xr.Dataset:
    """Evaluate the grid of *axes* (deterministic, or with common random numbers)."""
    if not axes:
        raise InputError(Problem("give at least one --set PATH=SPEC"))
    paths = [a.path for a in axes]
    if len(set(paths)) != len(paths):
        raise InputError(Problem("each input may be swept once"))
    shape = tuple(len(a.values) for a in axes)
    consistency.check_grid(shape, samples)  # before anything is allocated
    g = int(np.prod(shape))
    names = model.param_names
    rows = g * max(samples, 1)
    # held: the drawn samples, per row the targets (values, required, achieved), per point the mean totals
    held = 8 * (max(samples, 1) * len(names) + rows * (3 * len(model.scenario.targets) + len(axes))
                + g * 2 * len(model.pollutants) * len(model.years))
    held += min(shared_bytes(model, max(samples, 1)), SHARED_BYTES) if g > 1 else 0  # inputs the grid points share
    consistency.check_memory(held + working_memory(model, rows),
                             f"a sweep of {rows:,} rows of {len(names):,} inputs", "use fewer points or samples")
    check_extremes(model, axes)
    col = {k: i for i, k in enumerate(names)}
    grid = np.array(list(itertools.product(*[a.values for a in axes]))) if g else np.zeros((0, len(axes)))
    central = model.param_matrix(n=1)
    specs = target_specs(model)
    t_values = np.array([t.value for t in specs])
    s = max(samples, 1)
    if samples:
        from sim.evaluation.evaluator import uncertain_ranges

        unc, ranges = uncertain_ranges(model)
        draws = np.repeat(central, s, axis=0)
        if unc:
            draws[:, unc] = ranges.draw(s, np.random.SeedSequence(model.scenario.settings.seed if seed is None else seed))
    else:
        draws = central
    values = np.repeat(t_values[None], g * s, axis=0) if specs else None
    cols, scaled = [], []
    for k, a in enumerate(axes):
        if a.param is not None:
            cols.append(col[a.param])
            scaled.append(grid[:, k] * a.scale)
        elif a.target is not None and values is not None:
            values[:, a.target] = np.repeat(grid[:, k], s)
    # rows are built chunk by chunk inside the evaluation loop, never as one [points x samples, params] matrix
    source = GridRows(draws, cols, np.column_stack(scaled) if scaled else np.zeros((g, 0)), working_chunk(model, g * s))
    counts: dict[str, int] = {}
    # totals are kept as means over each grid point's samples (not [points x samples] rows)
    ev = evaluate(model, source, values, progress=progress, breaches=counts if samples else None, mean_every=s)
    for w in consistency.breach_warnings(counts, g * s):
        if w not in model.warnings:
            model.warnings.append(w)
    base, emis, req, ach = ev.baseline_total, ev.emissions_total, ev.required, ev.achieved
    dims = [a.path for a in axes]
    coords: dict[str, Any] = {a.path: xr.Variable(a.path, a.values, {"units": a.unit}) for a in axes}
    margin = (ach - req).reshape(*shape, s, -1)
    ds = xr.Dataset(coords=coords)
    ds = ds.assign_coords(target=[t.id for t in specs], pollutant=model.pollutants, year=model.years)
    emis_g = emis.reshape(*shape, len(model.pollutants), len(model.years))  # means over the samples
    base_g = base.reshape(*shape, len(model.pollutants), len(model.years))
    units = [target_unit(t.kind) for t in model.scenario.targets]
    t_a = {"units": T_PER_YEAR}
    if samples:
        ds["margin"] = ((*dims, "target"), np.median(margin, axis=-2), target_attrs(units, "median margin over the samples"))
        ds["margin_p5"] = ((*dims, "target"), np.quantile(margin, 0.05, axis=-2), target_attrs(units, "5th percentile of the margin"))
        ds["margin_p95"] = ((*dims, "target"), np.quantile(margin, 0.95, axis=-2), target_attrs(units, "95th percentile of the margin"))
        ds["probability"] = ((*dims, "target"), (margin >= 0).mean(axis=-2), {"units": "1", "long_name": "P(margin >= 0)"})
        ds["emissions_total"] = ((*dims, "pollutant", "year"), emis_g, {**t_a, "long_name": "total emissions with measures, mean over samples"})
        ds["reduction_total"] = ((*dims, "pollutant", "year"), base_g - emis_g, {**t_a, "long_name": "total reduction, mean over samples"})
    else:
        ds["margin"] = ((*dims, "target"), margin[..., 0, :], target_attrs(units, "margin: achieved - required (>= 0 met)"))
        ds["emissions_total"] = ((*dims, "pollutant", "year"), emis_g, {**t_a, "long_name": "total emissions with measures"})
        ds["reduction_total"] = ((*dims, "pollutant", "year"), base_g - emis_g, {**t_a, "long_name": "total reduction by the measures"})
    ds.attrs = {"Conventions": CONVENTIONS, "scenario": model.scenario.name, "scenario_id": model.scenario.slug, "samples": samples,
                "seed": model.scenario.settings.seed if seed is None else seed, "swept": ", ".join(paths),
                "sampling": "common random numbers: one Latin hypercube reused at every grid point" if samples else "deterministic",
                "warnings": "\n".join(model.warnings)}
    ds = ds.assign_coords(target_name=("target", [t.name or t.id for t in model.scenario.targets], {"long_name": "target name"}),
                          target_unit=("target", units, {"long_name": "unit of the margin for this target (UDUNITS)"}))
    for c, ln in (("target", "target id"), ("pollutant", "pollutant id"), ("year", "calendar year")):
        ds[c].attrs["long_name"] = ln
    for a in axes:
        ds[a.path].attrs.setdefault("long_name", f"swept input {a.path}")
    for a in axes:
        ds[a.path].attrs["central"] = a.central
    return ds


def break_even(ds: xr.Dataset) -> list[dict[str, Any]]:
    """Per swept input and target: the value at which the target turns from not met to met
    (linear interpolation between grid points; the other inputs at the point nearest their
    scenario value).

    With samples, where P(met) = 50%: where the median margin (``margin``) is 0, interpolated as
    the margin is. P(met) itself jumps between grid points (from 0 to 1 when the spread is
    narrower than a step), so interpolating it put the point anywhere between them.
    """
    sampled = "probability" in ds
    out = []
    dims = [d for d in ds["margin"].dims if d != "target"]
    for d in dims:
        others = {o: int(np.abs(ds[o].values - ds[o].attrs.get("central", ds[o].values[0])).argmin()) for o in dims if o != d}
        for t in ds["target"].values:
            line = ds["margin"].sel(target=t).isel(others).values.astype(float)
            xs = ds[d].values.astype(float)
            met = line >= 0
            row: dict[str, Any] = {"input": d, "target": str(t),
                                   "criterion": "达标概率 = 50%，即余量中位数 = 0 (P(met) = 50%: median margin = 0)" if sampled
                                   else "余量 = 0 (margin = 0)"}
            unit = shown(str(ds[d].attrs.get("units", "") or ""))
            if met.all():
                row.update(break_even=None, unit=unit, note="整个范围内均可达 (met over the whole range)")
            elif not met.any():
                row.update(break_even=None, unit=unit, note="整个范围内均不可达 (not met anywhere in the range)")
            else:
                i = int(np.nonzero(met[1:] != met[:-1])[0][0])
                y0, y1 = line[i], line[i + 1]
                xb = xs[i] + (xs[i + 1] - xs[i]) * (-y0 / (y1 - y0)) if y1 != y0 else xs[i]
                row.update(break_even=float(xb), unit=unit,
                           note="高于此值可达 (met above)" if met[i + 1] else "低于此值可达 (met below)")
            out.append(row)
    return out
