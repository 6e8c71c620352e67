"""Orchestration: scenario + library -> engine -> Result (an xarray.Dataset with labels)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sim.core import engine
from sim.core.pollutants import NAMES_ZH
from sim.core.version import __version__
from sim.evaluation.targets import air_values, target_specs
from sim.model import consistency
from sim.model.coefficients import Library, load_library
from sim.model.compile import Model, compile_model
from sim.model.feasibility import concentration_parts, evaluate_targets, status
from sim.model.scenario import Scenario

__all__ = ["CONCENTRATION_UNIT", "T_PER_YEAR", "Result", "run", "target_attrs", "target_specs", "target_unit"]


@dataclass
class Result:
    """One evaluated scenario: the dataset plus what is needed to write and explain it."""

    model: Model
    dataset: xr.Dataset
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extra_writers: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    #: where the run was saved or opened from, its id and manifest (None until saved)
    folder: Any = None
    run_id: str | None = None
    manifest: dict[str, Any] | None = None

    @property
    def inputs(self) -> xr.Dataset:
        """The labelled inputs (pools, measures, targets, parameters, coefficients) of the run."""
        from sim.model.labels import inputs_dataset

        return inputs_dataset(self.model)

    @property
    def scenario(self) -> Scenario:
        return self.model.scenario

    def to_dataset(self) -> xr.Dataset:
        """The result as an xarray.Dataset (dims pool, measure, pollutant, year, target)."""
        return self.dataset

    def targets_frame(self) -> pd.DataFrame:
        """One row per target: required, achieved, margin in the target's unit (column ``unit``: t or ug m-3),
        probability, status; for concentration targets also base, projected and target concentration (ug m-3)."""
        ds = self.dataset
        if "target" not in ds.dims:  # the same columns as with targets, no rows
            empty = ["target", "name", "pollutant", "year", "kind", "value", "required", "achieved", "margin", "unit"]
            if self.settings.get("samples"):
                empty += ["margin_p5", "margin_p50", "margin_p95", "probability"]
            return pd.DataFrame(columns=[*empty, "status"])
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
        for c in ("concentration_base", "concentration_projected", "concentration_target"):
            if c in ds:
                cols[c] = ds[c].values
        cols["status"] = ds["status"].values
        return pd.DataFrame(cols)

    def summary_frame(self) -> pd.DataFrame:
        """One row per pollutant and year: baseline, reduction, emissions (column ``emission_unit``: t/a);
        target margins joined, in the target's unit (column ``target_unit``: t or ug m-3)."""
        ds = self.dataset
        rows = []
        tf = self.targets_frame()
        cols = ("target", "kind", "value", "required", "achieved", "margin", "margin_p5", "margin_p50", "margin_p95", "probability",
                "concentration_base", "concentration_projected", "concentration_target", "status")

        def joined(base: dict[str, Any], t: Any) -> dict[str, Any]:
            row = dict(base)
            for c in cols:
                if c in t:
                    row[c] = t[c]
                    if c == "margin":
                        row["target_unit"] = t["unit"]
            return row

        pols = [str(p) for p in ds["pollutant"].values]
        totals = {v: ds[v].transpose("pollutant", "year").values for v in ("baseline_total", "reduction_total", "emissions_total")}
        by_cell: dict[tuple[str, int], list[Any]] = {}  # the targets of each (pollutant, year), in table order
        for _, t in tf.iterrows():
            by_cell.setdefault((str(t["pollutant"]), int(t["year"])), []).append(t)
        for i, p in enumerate(pols):
            for j, y in enumerate(ds["year"].values):
                base = {"pollutant": p, "year": int(y),
                        "baseline": float(totals["baseline_total"][i, j]),
                        "reduction": float(totals["reduction_total"][i, j]),
                        "emissions": float(totals["emissions_total"][i, j]),
                        "emission_unit": "t/a"}
                hits = by_cell.get((p, int(y)), [])
                if not hits:
                    rows.append(base)
                for t in hits:
                    rows.append(joined(base, t))
        if len(tf):  # targets on a pollutant the inventory does not carry (PM2.5 concentration)
            for _, t in tf[~tf["pollutant"].isin(pols)].iterrows():
                rows.append(joined({"pollutant": str(t["pollutant"]), "year": int(t["year"]), "baseline": np.nan,
                                    "reduction": np.nan, "emissions": np.nan, "emission_unit": "t/a"}, t))
        return pd.DataFrame(rows)

    def measures_frame(self) -> pd.DataFrame:
        """One row per measure, pollutant and year: attributed reduction (t/a); with samples and sequential
        attribution its p5, p50 and p95 (reduction_p5 ...; not for Shapley, see the reduction_quantile_note attribute)."""
        ds = self.dataset
        df = ds["reduction"].to_dataframe().reset_index()
        names = dict(zip(ds["measure"].values, ds["measure_name"].values, strict=True))
        types = dict(zip(ds["measure"].values, ds["measure_type"].values, strict=True))
        df.insert(1, "name", df["measure"].map(names))
        df.insert(2, "type", df["measure"].map(types))
        keep = ["measure", "name", "type", "pollutant", "year", "reduction"]
        for q in ("reduction_p5", "reduction_p50", "reduction_p95"):
            if q in ds:
                df[q] = ds[q].transpose("measure", "pollutant", "year").values.reshape(-1)
                keep.append(q)
        df["reduction_unit"] = "t/a"  # every reduction column, as summary.csv's emission_unit
        return df[[*keep, "reduction_unit"]]


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
        ds = add_targets(ds, model, req[0], ach[0], margin, st, air=air_values(model, model.param_matrix(n=1)))
    run_settings = {"attribution": method, "credit_rule": settings.credit_rule, "samples": 0,
                    "seed": settings.seed, **({"shapley": info} if info else {})}
    ds.attrs["attribution"] = method
    return Result(model, ds, run_settings, list(model.warnings))


T_PER_YEAR = "t yr-1"  # UDUNITS: "t/a" would read as tonnes per are
CONCENTRATION_UNIT = "ug m-3"
CONVENTIONS = "CF-1.8"


def target_unit(kind: str) -> str:
    """The UDUNITS unit of a target's required/achieved/margin: t, or ug m-3 for concentration."""
    return CONCENTRATION_UNIT if kind == "concentration" else "t"


def target_attrs(units: list[str], long_name: str) -> dict[str, str]:
    """Attributes of a per-target variable: one ``units`` when all targets share it, else a comment."""
    attrs = {"long_name": long_name}
    if len(set(units)) == 1:
        attrs["units"] = units[0]
    elif units:
        attrs["comment"] = "in each target's own unit, given by the coordinate target_unit (t for emission targets, ug m-3 for concentration targets)"
    return attrs


def build_dataset(model: Model, base: np.ndarray, emis: np.ndarray, red: np.ndarray) -> xr.Dataset:
    """Label the engine's arrays: every dim named, CF attributes (long_name, UDUNITS units)."""
    scen = model.scenario
    t_a = {"units": T_PER_YEAR}
    act = engine.grown_activity(model.inputs())[0]
    ds = xr.Dataset(
        {
            "activity": (("pool", "year"), act, {"long_name": "baseline activity with growth, in each pool's unit (coordinate pool_unit)"}),
            "baseline": (("pool", "pollutant", "year"), base, {**t_a, "long_name": "baseline emissions with growth, no measures"}),
            "emissions": (("pool", "pollutant", "year"), emis, {**t_a, "long_name": "emissions with measures"}),
            "reduction": (("measure", "pollutant", "year"), red, {**t_a, "long_name": "reduction attributed to measure"}),
            "baseline_total": (("pollutant", "year"), base.sum(axis=0), {**t_a, "long_name": "total baseline emissions with growth"}),
            "emissions_total": (("pollutant", "year"), emis.sum(axis=0), {**t_a, "long_name": "total emissions with measures"}),
            "reduction_total": (("pollutant", "year"), (base - emis).sum(axis=0), {**t_a, "long_name": "total reduction by the measures"}),
        },
        coords={
            "pool": ("pool", model.pools, {"long_name": "source pool id"}),
            "measure": ("measure", model.measures, {"long_name": "measure id"}),
            "pollutant": ("pollutant", model.pollutants, {"long_name": "pollutant id"}),
            "year": ("year", model.years, {"long_name": "calendar year"}),
            "pool_name": ("pool", model.pool_names, {"long_name": "source pool name"}),
            "pool_sector": ("pool", model.pool_sectors, {"long_name": "sector of the pool"}),
            "pool_unit": ("pool", model.pool_units, {"long_name": "unit of the pool's activity"}),
            "measure_name": ("measure", model.measure_names, {"long_name": "measure name"}),
            "measure_type": ("measure", model.measure_types, {"long_name": "measure type (retire, switch, control, standard, treat)"}),
            "measure_category": ("measure", model.measure_categories, {"long_name": "measure category"}),
            "measure_pool": ("measure", [model.pools[k] for k in model.src] if model.measures else [], {"long_name": "pool the measure acts on"}),
            "pollutant_name": ("pollutant", [NAMES_ZH[p] for p in model.pollutants], {"long_name": "pollutant name (Chinese)"}),
        },
        attrs={
            "Conventions": CONVENTIONS,
            "title": f"ersim run: {scen.name}",
            "scenario": scen.name,
            "scenario_id": scen.slug,
            "region": scen.region,
            "base_year": scen.base_year,
            "report_years": list(scen.years),
            "ersim_version": __version__,
            "units_note": "emissions and reductions in tonnes per year (t yr-1); target quantities in each target's unit (target_unit: t or ug m-3)",
        },
    )
    return ds


def add_targets(ds: xr.Dataset, model: Model, req: np.ndarray, ach: np.ndarray, margin: np.ndarray, st: list[str],
                extra: dict[str, np.ndarray] | None = None, air: dict[str, np.ndarray] | None = None) -> xr.Dataset:
    """Attach per-target variables (dim ``target``), each in the target's own unit (coordinate target_unit).

    For concentration targets also the base, projected and target concentrations (ug m-3, NaN for
    emission targets) and each precursor's response (dims target, precursor). *air* holds the
    central PM2.5 parameters (see :func:`air_values`).
    """
    targets = model.scenario.targets
    units = [target_unit(t.kind) for t in targets]
    data: dict[str, Any] = {
        "required": (("target",), req, target_attrs(units, "required reduction")),
        "achieved": (("target",), ach, target_attrs(units, "achieved reduction")),
        "margin": (("target",), margin, target_attrs(units, "margin: achieved - required (>= 0 met)")),
        "status": (("target",), np.array(st, dtype=object), {"long_name": "verdict: met, at risk or not met"}),
    }
    for k, v in (extra or {}).items():
        data[k] = (("target",), v, {"units": "1", "long_name": "P(margin >= 0)"} if k == "probability" else target_attrs(units, k))
    conc = [i for i, t in enumerate(targets) if t.kind == "concentration"]
    if conc and air is not None:
        specs = target_specs(model)
        c0 = np.full(len(targets), np.nan)
        c0[conc] = float(air["base"][0])
        proj = c0 - np.where(np.isnan(c0), np.nan, ach)
        goal = c0 - np.where(np.isnan(c0), np.nan, req)
        cu = {"units": CONCENTRATION_UNIT}
        data["concentration_base"] = (("target",), c0, {**cu, "long_name": "PM2.5 annual mean concentration in the base year"})
        data["concentration_projected"] = (("target",), proj, {**cu, "long_name": "projected PM2.5 annual mean concentration (linear response)"})
        data["concentration_target"] = (("target",), goal, {**cu, "long_name": "target PM2.5 annual mean concentration"})
        names = list(dict.fromkeys(name for i in conc for name, _p, _f in specs[i].precursors))
        if names:
            parts = np.full((len(targets), len(names)), np.nan)
            emis_tot = ds["emissions_total"].values[None]
            for i in conc:
                for name, v in concentration_parts(specs[i], emis_tot, air).items():
                    parts[i, names.index(name)] = -float(v[0])
            data["concentration_change"] = (("target", "precursor"), parts,
                                            {**cu, "long_name": "change of the PM2.5 concentration from each precursor's emission change (negative: a fall)"})
            ds = ds.assign_coords(precursor=("precursor", names, {"long_name": "PM2.5 precursor"}))
    out = ds.assign(data)
    out = out.assign_coords(
        target=("target", [t.id for t in targets], {"long_name": "target id"}),
        target_name=("target", [t.name or t.id for t in targets], {"long_name": "target name"}),
        target_pollutant=("target", [t.pollutant for t in targets], {"long_name": "pollutant of the target"}),
        target_year=("target", [t.year for t in targets], {"long_name": "year of the target"}),
        target_kind=("target", [t.kind for t in targets], {"long_name": "kind: reduction_percent, reduction_amount, cap or concentration"}),
        target_value=("target", [t.value for t in targets], {"long_name": "target value as written in the scenario"}),
        target_unit=("target", units, {"long_name": "unit of required, achieved and margin for this target (UDUNITS)"}),
    )
    missing = [w for w in model.warnings if w.startswith("PM2.5响应")]
    if conc and missing:
        out.attrs["concentration_warnings"] = missing
    return out


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

    counts: dict[str, int] = {}
    ev = evaluate(model, Sampler(model, n, seed, chunk), reductions=reductions, reduction_dtype=reduction_dtype,
                  progress=progress, breaches=counts)
    for w in consistency.breach_warnings(counts, n):
        if w not in model.warnings:
            model.warnings.append(w)
    out = ev.as_dict()
    if ev.reduction is not None:
        out["reduction"] = ev.reduction
    return out


def _broadcast_inputs(inp: engine.EngineInputs, n: int) -> engine.EngineInputs:
    from dataclasses import fields, replace

    out = {}
    for f in fields(inp):
        v = getattr(inp, f.name)
        if f.name in ("offset", "kind", "src", "tgt", "group"):
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
    # decided before drawing: the per-sample arrays kept (totals, targets; twice over when samples are kept)
    p_y, t = len(model.pollutants) * len(model.years), len(scenario.targets)
    from sim.evaluation.evaluator import (
        MIN_REDUCTION_SAMPLES,
        REDUCTION_BYTES,
        quantiles,
        working_memory,
    )

    per_sample = 4 * max(1, len(model.measures) * len(model.pollutants) * len(model.years))  # float32
    kept = min(samples, REDUCTION_BYTES // per_sample)
    if kept < min(samples, MIN_REDUCTION_SAMPLES):
        kept = 0  # too few samples fit the memory bound for meaningful quantiles: none, and the dataset says so
    shapley = result.settings.get("attribution") == "shapley"
    if shapley:
        kept = 0  # the quantiles are sequential attribution's: they would not be quantiles of the Shapley values shown
    need = 8 * samples * (2 * p_y + 2 * t) * (2 if keep == "samples" else 1) + working_memory(model, samples, kept)
    consistency.check_memory(need, f"{samples:,} samples", "use fewer samples (or keep quantiles only)", at="--samples")
    mc = monte_carlo(model, samples, seed, progress=progress, reductions=kept, reduction_dtype=np.float32)
    result.warnings.extend(w for w in model.warnings if w not in result.warnings)
    ds = result.dataset
    margin = mc["achieved"] - mc["required"]
    q = np.array(QUANTILES)
    t_a = {"units": T_PER_YEAR}
    units = [str(u) for u in ds["target_unit"].values] if "target" in ds.dims else []
    if keep == "samples":
        ds = ds.assign(
            emissions_total_sample=(("sample", "pollutant", "year"), mc["emissions_total"], {**t_a, "long_name": "total emissions with measures, per sample"}),
            reduction_total_sample=(("sample", "pollutant", "year"), mc["baseline_total"] - mc["emissions_total"], {**t_a, "long_name": "total reduction, per sample"}),
        )
        if margin.shape[1]:
            ds = ds.assign(margin_sample=(("sample", "target"), margin, target_attrs(units, "margin per sample: achieved - required")))
        ds = ds.assign_coords(sample=("sample", np.arange(samples), {"long_name": "Monte Carlo sample"}))
    else:
        ds = ds.assign(
            emissions_total_q=(("quantile", "pollutant", "year"), quantiles(mc["emissions_total"], q), {**t_a, "long_name": "quantiles of total emissions with measures"}),
            reduction_total_q=(("quantile", "pollutant", "year"), quantiles(mc["baseline_total"] - mc["emissions_total"], q), {**t_a, "long_name": "quantiles of total reduction"}),
        )
        ds = ds.assign_coords(quantile=("quantile", q, {"units": "1", "long_name": "probability of the quantile"}))
    if "reduction" in mc and len(model.measures):
        rq = quantiles(mc.pop("reduction"), q)  # [3,M,P,Y]
        note = f"sequential attribution on the first {kept} of {samples} samples" + (
            "" if kept == samples else f" (memory bound {REDUCTION_BYTES // 2**20} MiB)")
        for i, name in enumerate(("reduction_p5", "reduction_p50", "reduction_p95")):
            ds = ds.assign({name: (("measure", "pollutant", "year"), rq[i],
                                   {"units": T_PER_YEAR, "long_name": f"{name[-3:].lstrip('_')} of the reduction attributed to the measure",
                                    "samples": kept, "note": note})})
        ds.attrs["reduction_quantile_samples"] = kept
    elif len(model.measures):
        ds.attrs["reduction_quantile_samples"] = 0
        ds.attrs["reduction_quantile_note"] = (
            "per-measure reduction quantiles not computed: they are computed for sequential attribution only (Shapley "
            "values per sample would need the engine on every subset of measures for every sample); totals and target "
            "margins have their quantiles" if shapley else
            f"per-measure reduction quantiles not computed: fewer than {MIN_REDUCTION_SAMPLES} "
            f"samples of {len(model.measures)} measures fit in {REDUCTION_BYTES // 2**20} MiB")
    if margin.shape[1]:
        mq = quantiles(margin, q)
        prob = (margin >= 0).mean(axis=0)
        st = [status(float(ds["margin"].values[i]), float(ds["required"].values[i]), float(prob[i]),
                     s.at_risk_margin, s.met_probability, s.at_risk_probability) for i in range(margin.shape[1])]
        ds = ds.assign(
            margin_p5=(("target",), mq[0], target_attrs(units, "5th percentile of the margin")),
            margin_p50=(("target",), mq[1], target_attrs(units, "median of the margin")),
            margin_p95=(("target",), mq[2], target_attrs(units, "95th percentile of the margin")),
            probability=(("target",), prob, {"units": "1", "long_name": "P(margin >= 0)"}),
            status=(("target",), np.array(st, dtype=object), {"long_name": "verdict: met, at risk or not met"}),
        )
    ds.attrs["samples"] = samples
    ds.attrs["seed"] = seed
    ds.attrs["uncertain_inputs"] = [p.name for p in model.params.values() if p.uncertain]
    result.dataset = ds
    result.settings.update({"samples": samples, "seed": seed, "keep": keep, "sampling": ("Latin hypercube (strata permuted at random, uniform jitter within each: the construction of "
                                                                                               "scipy.stats.qmc.LatinHypercube, scramble=True), chunked, SeedSequence.spawn per chunk")})
    return result
