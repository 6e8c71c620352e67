"""Orchestration: scenario + library -> engine -> Result (an xarray.Dataset with labels)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sim import __version__
from sim.core import engine
from sim.core.pollutants import NAMES_ZH
from sim.core.units import parse_quantity
from sim.model.coefficients import Library, load_library
from sim.model.compile import Model, compile_model
from sim.model.feasibility import TargetSpec, evaluate_targets, status
from sim.model.scenario import Scenario

__all__ = ["Result", "run", "target_specs"]


@dataclass
class Result:
    """One evaluated scenario: the dataset plus what is needed to write and explain it."""

    model: Model
    dataset: xr.Dataset
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extra_writers: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))

    @property
    def scenario(self) -> Scenario:
        return self.model.scenario

    def to_dataset(self) -> xr.Dataset:
        """The result as an xarray.Dataset (dims pool, measure, pollutant, year, target)."""
        return self.dataset

    def targets_frame(self) -> pd.DataFrame:
        """One row per target: required, achieved, margin (t), probability, status."""
        ds = self.dataset
        if "target" not in ds.dims:
            return pd.DataFrame(columns=["target", "pollutant", "year", "kind", "value", "required", "achieved", "margin", "status"])
        cols: dict[str, Any] = {
            "target": ds["target"].values,
            "name": ds["target_name"].values,
            "pollutant": ds["target_pollutant"].values,
            "year": ds["target_year"].values,
            "kind": ds["target_kind"].values,
            "value": ds["target_value"].values,
            "required": ds["required"].values,
            "achieved": ds["achieved"].values,
            "margin": ds["margin"].values,
            "unit": ds["target_unit"].values,
        }
        for q in ("margin_p5", "margin_p50", "margin_p95", "probability"):
            if q in ds:
                cols[q] = ds[q].values
        cols["status"] = ds["status"].values
        return pd.DataFrame(cols)

    def summary_frame(self) -> pd.DataFrame:
        """One row per pollutant and year (t/a): baseline, reduction, emissions; target margins joined."""
        ds = self.dataset
        rows = []
        tf = self.targets_frame()
        for p in ds["pollutant"].values:
            for y in ds["year"].values:
                base = {"pollutant": str(p), "year": int(y),
                        "baseline": float(ds["baseline_total"].sel(pollutant=p, year=y)),
                        "reduction": float(ds["reduction_total"].sel(pollutant=p, year=y)),
                        "emissions": float(ds["emissions_total"].sel(pollutant=p, year=y))}
                hits = tf[(tf["pollutant"] == p) & (tf["year"] == y)] if len(tf) else tf
                if len(hits) == 0:
                    rows.append(base)
                for _, t in hits.iterrows():
                    row = dict(base)
                    for c in ("target", "kind", "value", "required", "achieved", "margin", "margin_p5", "margin_p50", "margin_p95", "probability", "status"):
                        if c in t:
                            row[c] = t[c]
                    rows.append(row)
        return pd.DataFrame(rows)

    def measures_frame(self) -> pd.DataFrame:
        """One row per measure, pollutant and year: attributed reduction (t/a)."""
        ds = self.dataset
        df = ds["reduction"].to_dataframe().reset_index()
        names = dict(zip(ds["measure"].values, ds["measure_name"].values, strict=True))
        types = dict(zip(ds["measure"].values, ds["measure_type"].values, strict=True))
        df.insert(1, "name", df["measure"].map(names))
        df.insert(2, "type", df["measure"].map(types))
        keep = ["measure", "name", "type", "pollutant", "year", "reduction"]
        for q in ("reduction_p5", "reduction_p95"):
            if q in ds:
                df[q] = ds[q].to_dataframe().reset_index()[q].to_numpy()
                keep.append(q)
        return df[keep]


def target_specs(model: Model) -> list[TargetSpec]:
    """The scenario's targets as indices into the model's pollutant and year axes."""
    specs = []
    air = model.scenario._air
    for t in model.scenario.targets:
        q = parse_quantity(t.value)
        ref = t.base_year if t.base_year is not None else model.scenario.base_year
        precursors: tuple[tuple[str, int, str], ...] = ()
        if t.kind == "reduction_percent":
            value = float(q.to("dimensionless").magnitude)
        elif t.kind == "concentration":
            value = float(q.to("ug/m**3").magnitude)
            precursors = tuple((name, model.pollutants.index(name), row.form) for name, row in air.precursors.items()
                               if name in model.pollutants)
        else:
            value = float(q.to("t").magnitude)
        p = model.pollutants.index(t.pollutant) if t.pollutant in model.pollutants else 0
        specs.append(TargetSpec(t.id, t.kind, p, model.years.index(t.year), model.years.index(ref), value, precursors))
    return specs


def air_values(model: Model, x: np.ndarray) -> dict[str, np.ndarray] | None:
    """Columns air:* of a parameter matrix as {'base': [N], 'SO2': [N], ...}, or None."""
    names = model.param_names
    out = {n[4:]: x[:, i] for i, n in enumerate(names) if n.startswith("air:")}
    return out or None


def run(scenario: Scenario, library: Library | None = None, *, attribution: str | None = None) -> Result:
    """Evaluate *scenario* deterministically at central values -> Result."""
    lib = library if library is not None else load_library()
    model = compile_model(scenario, lib)
    settings = scenario.settings
    method = attribution or settings.attribution
    inp = model.inputs()
    base = engine.baseline(inp)[0]  # [K,P,Y]
    emis = engine.emissions(inp)[0]
    info: dict[str, Any] = {}
    if method == "shapley":
        red, info = engine.attribute_shapley(inp, settings.shapley_exact_max, settings.shapley_permutations, settings.seed)
    else:
        from sim.evaluation.evaluator import sequential_reductions

        red = sequential_reductions(inp)[0]  # engine.attribute_sequential's numbers, memory linear in measures
    ds = build_dataset(model, base, emis, red)
    specs = target_specs(model)
    if specs:
        req, ach = evaluate_targets(specs, base.sum(axis=0)[None], emis.sum(axis=0)[None], air_values(model, model.param_matrix(n=1)))
        margin = (ach - req)[0]
        st = [status(float(margin[i]), float(req[0, i]), None, settings.at_risk_margin,
                     settings.met_probability, settings.at_risk_probability) for i in range(len(specs))]
        ds = add_targets(ds, model, req[0], ach[0], margin, st)
    run_settings = {"attribution": method, "credit_rule": settings.credit_rule, "samples": 0,
                    "seed": settings.seed, **({"shapley": info} if info else {})}
    ds.attrs["attribution"] = method
    return Result(model, ds, run_settings, list(model.warnings))


def build_dataset(model: Model, base: np.ndarray, emis: np.ndarray, red: np.ndarray) -> xr.Dataset:
    """Label the engine's arrays: every dim named, units in attrs."""
    scen = model.scenario
    t_a = {"units": "t/a"}
    act = engine.grown_activity(model.inputs())[0]
    ds = xr.Dataset(
        {
            "activity": (("pool", "year"), act, {"long_name": "baseline activity (pool unit)"}),
            "baseline": (("pool", "pollutant", "year"), base, {**t_a, "long_name": "baseline emissions with growth, no measures"}),
            "emissions": (("pool", "pollutant", "year"), emis, {**t_a, "long_name": "emissions with measures"}),
            "reduction": (("measure", "pollutant", "year"), red, {**t_a, "long_name": "reduction attributed to measure"}),
            "baseline_total": (("pollutant", "year"), base.sum(axis=0), t_a),
            "emissions_total": (("pollutant", "year"), emis.sum(axis=0), t_a),
            "reduction_total": (("pollutant", "year"), (base - emis).sum(axis=0), t_a),
        },
        coords={
            "pool": model.pools,
            "measure": model.measures,
            "pollutant": model.pollutants,
            "year": model.years,
            "pool_name": ("pool", model.pool_names),
            "pool_sector": ("pool", model.pool_sectors),
            "pool_unit": ("pool", model.pool_units),
            "measure_name": ("measure", model.measure_names),
            "measure_type": ("measure", model.measure_types),
            "measure_category": ("measure", model.measure_categories),
            "measure_pool": ("measure", [model.pools[k] for k in model.src] if model.measures else []),
            "pollutant_name": ("pollutant", [NAMES_ZH[p] for p in model.pollutants]),
        },
        attrs={
            "scenario": scen.name,
            "scenario_id": scen.slug,
            "region": scen.region,
            "base_year": scen.base_year,
            "report_years": list(scen.years),
            "ersim_version": __version__,
            "units_note": "emissions and reductions in tonnes per year (t/a)",
        },
    )
    return ds


def add_targets(ds: xr.Dataset, model: Model, req: np.ndarray, ach: np.ndarray, margin: np.ndarray, st: list[str], extra: dict[str, np.ndarray] | None = None) -> xr.Dataset:
    """Attach per-target variables (dim ``target``)."""
    targets = model.scenario.targets
    data = {
        "required": (("target",), req, {"units": "t", "long_name": "required reduction"}),
        "achieved": (("target",), ach, {"units": "t", "long_name": "achieved reduction"}),
        "margin": (("target",), margin, {"units": "t", "long_name": "achieved - required (>= 0 met)"}),
        "status": (("target",), np.array(st, dtype=object)),
    }
    for k, v in (extra or {}).items():
        data[k] = (("target",), v, {"units": "1" if k == "probability" else "t"})
    out = ds.assign(data)
    return out.assign_coords(
        target=[t.id for t in targets],
        target_name=("target", [t.name or t.id for t in targets]),
        target_pollutant=("target", [t.pollutant for t in targets]),
        target_year=("target", [t.year for t in targets]),
        target_kind=("target", [t.kind for t in targets]),
        target_value=("target", [t.value for t in targets]),
        target_unit=("target", ["µg/m3" if t.kind == "concentration" else "t" for t in targets]),
    )


QUANTILES = (0.05, 0.5, 0.95)


def monte_carlo(model: Model, n: int, seed: int, chunk: int | None = None, progress: Any = None,
                reductions: int = 0, reduction_dtype: Any = np.float64) -> dict[str, np.ndarray]:
    """Evaluate *n* Latin-hypercube samples -> totals [N,P,Y] (t/a) and targets [N,T].

    The loop is :func:`sim.evaluation.evaluator.evaluate` with a Sampler: each block of
    samples is drawn inside the chunk loop from ``SeedSequence(seed).spawn``, so the same seed
    gives the same numbers. *reductions* > 0 adds 'reduction' [S,M,P,Y]: each measure's
    sequential attribution on the first S = min(n, reductions) samples.
    """
    from sim.evaluation.evaluator import Sampler, evaluate

    ev = evaluate(model, Sampler(model, n, seed, chunk), reductions=reductions, reduction_dtype=reduction_dtype,
                  progress=progress)
    out = ev.as_dict()
    if ev.reduction is not None:
        out["reduction"] = ev.reduction
    return out


def _broadcast_inputs(inp: engine.EngineInputs, n: int) -> engine.EngineInputs:
    from dataclasses import fields, replace

    out = {}
    for f in fields(inp):
        v = getattr(inp, f.name)
        if f.name in ("offset", "kind", "src", "tgt"):
            continue
        out[f.name] = np.broadcast_to(v, (n, *v.shape[1:]))
    return replace(inp, **out)


def run_uncertain(scenario: Scenario, library: Library | None = None, *, samples: int, seed: int | None = None,
                  keep: str = "samples", attribution: str | None = None, progress: Any = None) -> Result:
    """Deterministic run at central values, plus *samples* Monte Carlo draws of the targets."""
    result = run(scenario, library, attribution=attribution)
    model = result.model
    s = scenario.settings
    seed = s.seed if seed is None else seed
    from sim.evaluation.evaluator import MIN_REDUCTION_SAMPLES, REDUCTION_BYTES

    per_sample = 4 * max(1, len(model.measures) * len(model.pollutants) * len(model.years))  # float32
    kept = min(samples, REDUCTION_BYTES // per_sample)
    if kept < min(samples, MIN_REDUCTION_SAMPLES):
        kept = 0  # too few samples fit the memory bound for meaningful quantiles: none, and the dataset says so
    mc = monte_carlo(model, samples, seed, progress=progress, reductions=kept, reduction_dtype=np.float32)
    ds = result.dataset
    margin = mc["achieved"] - mc["required"]
    q = np.array(QUANTILES)
    if keep == "samples":
        ds = ds.assign(
            emissions_total_sample=(("sample", "pollutant", "year"), mc["emissions_total"], {"units": "t/a"}),
            reduction_total_sample=(("sample", "pollutant", "year"), mc["baseline_total"] - mc["emissions_total"], {"units": "t/a"}),
        )
        if margin.shape[1]:
            ds = ds.assign(margin_sample=(("sample", "target"), margin, {"units": "t"}))
        ds = ds.assign_coords(sample=np.arange(samples))
    else:
        ds = ds.assign(
            emissions_total_q=(("quantile", "pollutant", "year"), np.quantile(mc["emissions_total"], q, axis=0), {"units": "t/a"}),
            reduction_total_q=(("quantile", "pollutant", "year"), np.quantile(mc["baseline_total"] - mc["emissions_total"], q, axis=0), {"units": "t/a"}),
        )
        ds = ds.assign_coords(quantile=q)
    if "reduction" in mc and len(model.measures):
        from sim.evaluation.evaluator import quantiles

        rq = quantiles(mc.pop("reduction"), q)  # [3,M,P,Y]
        note = f"sequential attribution on the first {kept} of {samples} samples" + (
            "" if kept == samples else f" (memory bound {REDUCTION_BYTES // 2**20} MiB)")
        for i, name in enumerate(("reduction_p5", "reduction_p50", "reduction_p95")):
            ds = ds.assign({name: (("measure", "pollutant", "year"), rq[i],
                                   {"units": "t/a", "long_name": f"{name[-3:].lstrip('_')} of the reduction attributed to the measure",
                                    "samples": kept, "note": note})})
        ds.attrs["reduction_quantile_samples"] = kept
    elif len(model.measures):
        ds.attrs["reduction_quantile_samples"] = 0
        ds.attrs["reduction_quantile_note"] = (f"per-measure reduction quantiles not computed: fewer than {MIN_REDUCTION_SAMPLES} "
                                               f"samples of {len(model.measures)} measures fit in {REDUCTION_BYTES // 2**20} MiB")
    if margin.shape[1]:
        mq = np.quantile(margin, q, axis=0)
        prob = (margin >= 0).mean(axis=0)
        st = [status(float(ds["margin"].values[i]), float(ds["required"].values[i]), float(prob[i]),
                     s.at_risk_margin, s.met_probability, s.at_risk_probability) for i in range(margin.shape[1])]
        ds = ds.assign(
            margin_p5=(("target",), mq[0], {"units": "t"}),
            margin_p50=(("target",), mq[1], {"units": "t"}),
            margin_p95=(("target",), mq[2], {"units": "t"}),
            probability=(("target",), prob, {"units": "1", "long_name": "P(margin >= 0)"}),
            status=(("target",), np.array(st, dtype=object)),
        )
    ds.attrs["samples"] = samples
    ds.attrs["seed"] = seed
    ds.attrs["uncertain_inputs"] = [p.name for p in model.params.values() if p.uncertain]
    result.dataset = ds
    result.settings.update({"samples": samples, "seed": seed, "keep": keep, "sampling": "Latin hypercube (scipy.stats.qmc), chunked, SeedSequence.spawn per chunk"})
    return result
