"""Alternative scenarios side by side: one Dataset with a ``scenario`` dim, tables, exports.

``compare(items)`` accepts Results, run Datasets, run names (folder, id, prefix, scenario id)
or scenario files (run first). Measures and targets are aligned by id (outer join: a measure
missing from a scenario reduces nothing there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sim.core import safe
from sim.core.errors import InputError, Problem

__all__ = ["CATEGORY_ZH", "category_of", "compare", "to_iamc", "to_xlsx", "waterfall_table"]

CATEGORY_ZH = {"energy": "能源结构", "industry": "工业治理", "structure": "产业结构", "transport": "交通",
               "area": "面源", "water": "水", "other": "其他"}
_BY_SECTOR = {"污水": "水", "水": "水", "农业农村": "水", "交通": "交通", "工业": "工业治理", "扬尘": "面源",
              "生活": "能源结构", "油品储运销": "工业治理", "能源": "能源结构"}


def category_of(category: str, mtype: str, sector: str) -> str:
    """The measure's category: as written in the scenario, else from its pool's sector and type."""
    if category:
        return category
    if sector in _BY_SECTOR:
        return _BY_SECTOR[sector]
    return {"switch": "能源结构", "retire": "产业结构", "treat": "水"}.get(mtype, "其他")


def _dataset(item: Any) -> xr.Dataset:
    from sim.evaluation.evaluate import Result

    if isinstance(item, Result):
        return item.dataset
    if isinstance(item, xr.Dataset):
        return item
    text = str(item)
    file = text.partition("#")[0]
    if file.endswith((".yaml", ".yml")):
        if not Path(file).is_file():
            raise InputError(Problem("scenario file not found", file))
        from sim.evaluation.evaluate import run
        from sim.model.load import load_scenario

        return run(load_scenario(text)).dataset
    from sim.store.runs import open_run

    return open_run(text)[0]


def _label(ds: xr.Dataset, seen: set[str]) -> str:
    base = str(ds.attrs.get("scenario_id") or ds.attrs.get("scenario") or "scenario")
    label, i = base, 2
    while label in seen:
        label, i = f"{base}-{i}", i + 1
    seen.add(label)
    return label


def compare(items: Sequence[Any]) -> xr.Dataset:
    """One Dataset over a ``scenario`` dim: totals, reductions by measure and category, targets."""
    if len(items) < 2:
        raise InputError(Problem("compare needs at least two runs or scenarios"))
    datasets = [_dataset(it) for it in items]
    seen: set[str] = set()
    labels = [_label(ds, seen) for ds in datasets]
    parts = []
    meta_m: dict[str, tuple[str, str, str]] = {}
    meta_t: dict[str, tuple[str, str, int, str]] = {}
    for label, ds in zip(labels, datasets, strict=True):
        sector = dict(zip(ds["pool"].values, ds["pool_sector"].values, strict=True))
        for m, n, t, c, p in zip(ds["measure"].values, ds["measure_name"].values, ds["measure_type"].values,
                                 ds["measure_category"].values, ds["measure_pool"].values, strict=True):
            meta_m.setdefault(str(m), (str(n), str(t), category_of(str(c), str(t), str(sector.get(p, "")))))
        keep = ["baseline_total", "emissions_total", "reduction_total", "reduction"]
        if "target" in ds.dims:
            keep += ["required", "achieved", "margin", "status"] + [v for v in ("probability", "margin_p5", "margin_p50", "margin_p95") if v in ds]
            for t, n, p, y, u in zip(ds["target"].values, ds["target_name"].values, ds["target_pollutant"].values,
                                     ds["target_year"].values, ds["target_unit"].values, strict=True):
                meta_t.setdefault(str(t), (str(n), str(p), int(y), str(u)))
        part = ds[keep]
        part = part.drop_vars([c for c in part.coords if c not in part.dims])
        if "status" in part:
            part["status"] = part["status"].astype(object)
        parts.append(part.expand_dims(scenario=[label]))
    out = xr.concat(parts, dim="scenario", join="outer", fill_value={"reduction": 0.0})
    mids = [str(m) for m in out["measure"].values]
    out = out.assign_coords(measure_name=("measure", [meta_m[m][0] for m in mids]),
                            measure_type=("measure", [meta_m[m][1] for m in mids]),
                            measure_category=("measure", [meta_m[m][2] for m in mids]))
    if "target" in out.dims:
        tids = [str(t) for t in out["target"].values]
        out = out.assign_coords(target_name=("target", [meta_t[t][0] for t in tids]),
                                target_pollutant=("target", [meta_t[t][1] for t in tids]),
                                target_year=("target", [meta_t[t][2] for t in tids]),
                                target_unit=("target", [meta_t[t][3] for t in tids]))
    names = [str(ds.attrs.get("scenario", "")) for ds in datasets]
    out = out.assign_coords(scenario_name=("scenario", names),
                            region=("scenario", [str(ds.attrs.get("region", "")) for ds in datasets]))
    if "status" in out:
        out["status"] = out["status"].where(out["status"].notnull(), "")
    out["reduction_by_category"] = out["reduction"].groupby("measure_category").sum("measure")
    out.attrs = {"kind": "comparison", "scenarios": ", ".join(labels)}
    return out


def waterfall_table(cmp: xr.Dataset, a: str, b: str, pollutant: str, year: int) -> pd.DataFrame:
    """Steps from scenario *a*'s emissions to *b*'s: baseline difference, then each measure.

    E_b - E_a = (baseline_b - baseline_a) - sum_m (reduction_b,m - reduction_a,m); the steps
    sum to the difference of the totals (attribution totals telescope exactly).
    """
    sel: dict[str, Any] = {"pollutant": pollutant, "year": year}
    e_a = float(cmp["emissions_total"].sel(scenario=a, **sel))
    e_b = float(cmp["emissions_total"].sel(scenario=b, **sel))
    rows = [{"step": f"{a} emissions", "delta": math.nan, "level": e_a}]
    d_base = float(cmp["baseline_total"].sel(scenario=b, **sel) - cmp["baseline_total"].sel(scenario=a, **sel))
    level = e_a + d_base
    rows.append({"step": "baseline (growth) difference", "delta": d_base, "level": level})
    red = cmp["reduction"].sel(**sel).fillna(0.0)
    diff = red.sel(scenario=b) - red.sel(scenario=a)
    for m, name, d in zip(cmp["measure"].values, cmp["measure_name"].values, diff.values, strict=True):
        if abs(d) > 0:
            level -= float(d)
            rows.append({"step": f"{m} {name}", "delta": -float(d), "level": level})
    rows.append({"step": f"{b} emissions", "delta": math.nan, "level": e_b})
    return pd.DataFrame(rows)


def tables(cmp: xr.Dataset) -> dict[str, pd.DataFrame]:
    """Every comparison table, by sheet name."""
    out: dict[str, pd.DataFrame] = {}
    if "target" in cmp.dims:
        cols = {"margin": cmp["margin"]}
        if "probability" in cmp:
            cols["probability"] = cmp["probability"]
        df = xr.Dataset(cols).to_dataframe().reset_index()
        wide = df.pivot(index="target", columns="scenario", values=list(cols))
        wide.columns = [f"{c[0]}:{c[1]}" for c in wide.columns]
        out["targets"] = wide.reset_index()
    last = int(cmp["year"].max())
    red = cmp["reduction"].sel(year=last).to_dataframe().reset_index()
    out["by_measure"] = red.pivot_table(index=["measure", "pollutant"], columns="scenario", values="reduction", fill_value=0.0).reset_index()
    cat = cmp["reduction_by_category"].sel(year=last).to_dataframe().reset_index()
    out["by_category"] = cat.pivot_table(index=["measure_category", "pollutant"], columns="scenario", values="reduction_by_category", fill_value=0.0).reset_index()
    tot = cmp[["baseline_total", "reduction_total", "emissions_total"]].to_dataframe().reset_index()
    out["totals"] = tot[[c for c in tot.columns if c in ("scenario", "pollutant", "year", "baseline_total", "reduction_total", "emissions_total")]]
    return out


def to_xlsx(cmp: xr.Dataset, path: str | Path, extra: dict[str, pd.DataFrame] | None = None) -> Path:
    """Every table as a sheet (openpyxl)."""
    p = Path(path)
    with pd.ExcelWriter(p, engine="openpyxl") as xw:
        for name, df in {**tables(cmp), **(extra or {})}.items():
            safe.frame(df).to_excel(xw, sheet_name=name[:31], index=False)
    return p


def to_iamc(cmp: xr.Dataset, path: str | Path, model: str = "ersim") -> Path:
    """IAMC-format CSV (model, scenario, region, variable, unit, one column per year) that pyam reads.

    Variables: ``Emissions|<pollutant>`` (total), ``Emissions|<pollutant>|Baseline``, and
    ``Emission Reduction|<pollutant>|<category>`` (t/yr).
    """
    rows = []
    years = [int(y) for y in cmp["year"].values]
    for s, name, region in zip(cmp["scenario"].values, cmp["scenario_name"].values, cmp["region"].values, strict=True):
        for p in cmp["pollutant"].values:
            pid = {"PM25": "PM2.5", "NH3N": "NH3-N"}.get(str(p), str(p))
            for var, arr in ((f"Emissions|{pid}", cmp["emissions_total"]), (f"Emissions|{pid}|Baseline", cmp["baseline_total"])):
                vals = arr.sel(scenario=s, pollutant=p).values
                if np.all(np.isnan(vals)):
                    continue
                rows.append({"model": model, "scenario": f"{s} {name}".strip(), "region": str(region), "variable": var, "unit": "t/yr",
                             **{str(y): float(v) for y, v in zip(years, vals, strict=True)}})
            for c in cmp["measure_category"].values:
                vals = cmp["reduction_by_category"].sel(scenario=s, pollutant=p, measure_category=c).values
                if not np.any(vals):
                    continue
                rows.append({"model": model, "scenario": f"{s} {name}".strip(), "region": str(region),
                             "variable": f"Emission Reduction|{pid}|{c}", "unit": "t/yr",
                             **{str(y): float(v) for y, v in zip(years, vals, strict=True)}})
    df = pd.DataFrame(rows, columns=["model", "scenario", "region", "variable", "unit", *[str(y) for y in years]])
    p = Path(path)
    safe.frame(df).to_csv(p, index=False, encoding="utf-8")
    return p
