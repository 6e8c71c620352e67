"""Alternative scenarios side by side: one Dataset with a ``scenario`` dim, tables, exports.

``compare(items)`` accepts Results, run Datasets, run names (folder, id, prefix, scenario id)
or scenario files (run first). Measures and targets are aligned by id (outer join: a measure
missing from a scenario reduces nothing there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

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
    from sim.model.measure_types import MEASURE_TYPES

    t = MEASURE_TYPES.get(mtype)
    return t.category if t is not None else "其他"


def _dataset(item: Any) -> xr.Dataset:
    from sim.evaluation.evaluate import Result

    if isinstance(item, Result):
        return item.dataset
    if isinstance(item, xr.Dataset):
        return item
    from sim.model.scenario import Scenario

    if isinstance(item, (Scenario, Mapping)):
        from sim.evaluation.evaluate import run
        from sim.model.load import scenario_from_dict

        return run(item if isinstance(item, Scenario) else scenario_from_dict(dict(item))).dataset
    text = str(item)
    file = text.partition("#")[0]
    if file.endswith((".yaml", ".yml")):
        if not Path(file).is_file():
            raise InputError(Problem("scenario file not found", file))
        from sim.evaluation.evaluate import run
        from sim.model.load import load_scenario

        return run(load_scenario(text)).dataset
    from sim.store.runs import open_run

    return open_run(text).dataset


def _label(ds: xr.Dataset, seen: set[str]) -> str:
    base = str(ds.attrs.get("scenario_id") or ds.attrs.get("scenario") or "scenario")
    label, i = base, 2
    while label in seen:
        label, i = f"{base}-{i}", i + 1
    seen.add(label)
    return label


def _distinct(ids: list[str], metas: list[Any], known: dict[str, Any], label: str, same: int) -> list[str]:
    """The ids of one scenario's measures or targets in the comparison: an id another scenario uses
    for something else (its first *same* fields differ: another name, pollutant, year or unit) becomes
    ``id@label``, so two cities' 'cod-2025' are not one row under the first city's name. *known*
    collects each id's fields."""
    out = []
    for i, meta in zip(ids, metas, strict=True):
        if i in known and tuple(known[i])[:same] != tuple(meta)[:same]:
            # another scenario's id@label may already mean this (a third city's cod-2025 like the second's)
            i = next((k for k, v in known.items() if k.startswith(f"{i}@") and tuple(v)[:same] == tuple(meta)[:same]),
                     f"{i}@{label}")
        known.setdefault(i, meta)
        out.append(i)
    return out


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
        mids = _distinct([str(m) for m in ds["measure"].values],
                         [(str(n), str(t), category_of(str(c), str(t), str(sector.get(p, ""))))
                          for n, t, c, p in zip(ds["measure_name"].values, ds["measure_type"].values,
                                                ds["measure_category"].values, ds["measure_pool"].values, strict=True)],
                         meta_m, label, same=2)
        keep = ["baseline_total", "emissions_total", "reduction_total", "reduction"]
        tids: list[str] = []
        if "target" in ds.dims:
            keep += ["required", "achieved", "margin", "status"] + [v for v in ("probability", "margin_p5", "margin_p50", "margin_p95",
                                                                                "concentration_base", "concentration_projected",
                                                                                "concentration_target") if v in ds]
            tids = _distinct([str(t) for t in ds["target"].values],
                             [(str(n), str(p), int(y), str(u)) for n, p, y, u in zip(ds["target_name"].values, ds["target_pollutant"].values,
                                                                                     ds["target_year"].values, ds["target_unit"].values, strict=True)],
                             meta_t, label, same=4)
        part = ds[keep]
        part = part.drop_vars([c for c in part.coords if c not in part.dims])
        part = part.assign_coords({"measure": mids, **({"target": tids} if tids else {})})
        if "emissions" in ds and "pool_sector" in ds.coords:
            sectors = [(str(x) or "未分类").replace("|", "/") for x in ds["pool_sector"].values]
            by = ds["emissions"].assign_coords(sector=("pool", sectors)).groupby("sector").sum("pool")
            part = part.assign(emissions_by_sector=by.drop_vars([c for c in by.coords if c not in by.dims]))
        if "status" in part:
            part["status"] = part["status"].astype(object)
        parts.append(part.expand_dims(scenario=[label]))
    out = xr.concat(parts, dim="scenario", join="outer", coords="minimal", fill_value={"emissions_by_sector": 0.0})
    # a measure or year a scenario does not have has no number (NaN: empty cells, '—'); a sector it lacks emits 0
    has_year = xr.DataArray([[int(y) in set(ds["year"].values.tolist()) for y in out["year"].values] for ds in datasets],
                            dims=("scenario", "year"), coords={"scenario": out["scenario"], "year": out["year"]})
    for name in ("reduction", "emissions_by_sector"):
        if name in out:
            out[name] = out[name].where(has_year)
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
    out["reduction_by_category"] = out["reduction"].groupby("measure_category").sum("measure", min_count=1)
    out.attrs = {"kind": "comparison", "scenarios": ", ".join(labels),
                 "base_years": [int(ds.attrs.get("base_year", int(ds["year"].values[0]))) for ds in datasets]}
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


def scenario_years(cmp: xr.Dataset) -> dict[str, list[int]]:
    """The years each scenario has (scenarios of different plans may cover different years)."""
    has = cmp["emissions_total"].notnull().any("pollutant")
    return {str(s): [int(y) for y in cmp["year"].values[has.sel(scenario=s).values]] for s in cmp["scenario"].values}


def last_years(cmp: xr.Dataset) -> dict[str, int]:
    """Each scenario's last year."""
    return {s: years[-1] for s, years in scenario_years(cmp).items()}


def at_last_year(cmp: xr.Dataset, name: str) -> xr.DataArray:
    """*name* of each scenario in its own last year (no year dim)."""
    last = last_years(cmp)
    return xr.concat([cmp[name].sel(scenario=s, year=y).drop_vars("year") for s, y in last.items()], dim="scenario",
                     coords="minimal", compat="override")


def last_year_label(cmp: xr.Dataset) -> str:
    """'2025年' when every scenario ends in 2025, else '末年' (each scenario's last year, given per column)."""
    years = set(last_years(cmp).values())
    return f"{years.pop()}年" if len(years) == 1 else "末年"


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
    red = at_last_year(cmp, "reduction").to_dataframe().reset_index()
    out["by_measure"] = red.pivot(index=["measure", "pollutant"], columns="scenario", values="reduction").reset_index()
    cat = at_last_year(cmp, "reduction_by_category").to_dataframe().reset_index()
    out["by_category"] = cat.pivot(index=["measure_category", "pollutant"], columns="scenario", values="reduction_by_category").reset_index()
    tot = cmp[["baseline_total", "reduction_total", "emissions_total"]].to_dataframe().reset_index()
    out["totals"] = tot[[c for c in tot.columns if c in ("scenario", "pollutant", "year", "baseline_total", "reduction_total", "emissions_total")]]
    return out


_STATUS_ZH = {"met": "可达", "at risk": "存在风险", "not met": "不可达", "": "—"}
_T_FMT, _C_FMT, _P_FMT = "#,##0.0", "0.00", "0%"


def _display_width(text: str) -> int:
    """Columns a cell's text takes in a spreadsheet (CJK characters count two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _sheet(wb: Any, title: str, header: list[str], rows: list[list[Any]], formats: list[str | None]) -> None:
    """One sheet: bold frozen header, number formats per column, widths from the content.

    Text cells are written as text even when they begin with = + - @ (no formula injection).
    """
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title[:31])
    ws.append(header)
    for c in ws[1]:
        c.font = Font(bold=True)
        c.alignment = Alignment(wrap_text=True, vertical="center")
    for r in rows:
        ws.append([None if isinstance(v, float) and math.isnan(v) else v for v in r])
        for c, fmt in zip(ws[ws.max_row], formats, strict=False):
            if isinstance(c.value, str):
                c.data_type = "s"  # never a formula
                if c.value[:1] in ("=", "+", "-", "@"):
                    c.quotePrefix = True
            elif fmt and isinstance(c.value, (int, float)):
                c.number_format = fmt
    ws.freeze_panes = "A2"
    for j, h in enumerate(header, start=1):
        texts = [h] + [(f"{r[j - 1]:,.1f}" if isinstance(r[j - 1], float) else str(r[j - 1])) for r in rows if r[j - 1] is not None]
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, max(_display_width(t) for t in texts) + 2))


def step_label(step: str, labels: list[str], lang: str) -> str:
    """A compare-waterfall step as a planner reads it: 'ankang-2025 emissions' -> 'ankang-2025 排放',
    'urban-sewage 城镇污水…' -> '城镇污水…' (the measure's name without its id)."""
    zh = lang == "zh"
    for s in labels:
        if step == f"{s} emissions":
            return f"{s} 排放" if zh else step
    if step == "baseline (growth) difference":
        return "新增量差异" if zh else step
    head, _, rest = step.partition(" ")
    return rest or head


def to_xlsx(cmp: xr.Dataset, path: str | Path, extra: dict[str, pd.DataFrame] | None = None) -> Path:
    """The comparison as a workbook a planner can hand over (openpyxl).

    Chinese sheet and column names, units in every numeric header (吨, 吨/年, µg/m³), names beside
    ids, status and P(达标) per scenario, number formats and widths, scenarios in the order given.
    Concentration targets get their own sheet (µg/m³), so tonnes and µg/m³ never share a column.
    """
    from openpyxl import Workbook

    from sim.core.pollutants import display

    wb = Workbook()
    wb.remove(wb.active)
    labels = [str(s) for s in cmp["scenario"].values]  # the order given on the command line
    if "target" in cmp.dims:
        units = [str(u) for u in cmp["target_unit"].values]
        for conc, title, unit in ((False, "目标余量", "吨"), (True, "浓度目标", "µg/m³")):
            tids = [str(t) for t, u in zip(cmp["target"].values, units, strict=True) if (u != "t") == conc]
            if not tids:
                continue
            header = ["目标编号", "目标名称", "污染物", "年份"]
            formats: list[str | None] = [None, None, None, None]
            for s in labels:
                header += [f"{s} 要求（{unit}）", f"{s} 实现（{unit}）", f"{s} 余量（{unit}）"]
                formats += [_C_FMT if conc else _T_FMT] * 3
                if "probability" in cmp:
                    header.append(f"{s} P(达标)")
                    formats.append(_P_FMT)
                header.append(f"{s} 结论")
                formats.append(None)
            rows = []
            for t in tids:
                sel = cmp.sel(target=t)
                row: list[Any] = [t, str(sel["target_name"].values), display(str(sel["target_pollutant"].values)), int(sel["target_year"].values)]
                for s in labels:
                    one = sel.sel(scenario=s)
                    row += [float(one["required"]), float(one["achieved"]), float(one["margin"])]
                    if "probability" in cmp:
                        row.append(float(one["probability"]))
                    row.append(_STATUS_ZH.get(str(one["status"].values), str(one["status"].values)))
                rows.append(row)
            if conc:
                header = [h.replace("要求（µg/m³）", "要求降幅（µg/m³）").replace("实现（µg/m³）", "预计降幅（µg/m³）") for h in header]
            _sheet(wb, title, header, rows, formats)
    names = dict(zip(cmp["measure"].values, cmp["measure_name"].values, strict=True))
    red = at_last_year(cmp, "reduction")  # each scenario in its own last year
    final = last_years(cmp)
    when = last_year_label(cmp)
    cols = [f"{s}（{'' if when != '末年' else f'{final[s]}年，'}吨/年）" for s in labels]
    rows = []
    for m in cmp["measure"].values:
        for p in cmp["pollutant"].values:
            vals = [float(red.sel(scenario=s, measure=m, pollutant=p)) for s in labels]
            if any(abs(v) > 0 for v in vals):
                rows.append([str(m), str(names[m]), display(str(p)), *vals])
    _sheet(wb, f"{when}分措施减排量", ["措施编号", "措施名称", "污染物", *cols], rows, [None, None, None, *[_T_FMT] * len(labels)])
    cat = at_last_year(cmp, "reduction_by_category")
    rows = []
    for c in cat["measure_category"].values:
        for p in cmp["pollutant"].values:
            vals = [float(cat.sel(scenario=s, measure_category=c, pollutant=p)) for s in labels]
            if any(abs(v) > 0 for v in vals):
                rows.append([str(c), display(str(p)), *vals])
    _sheet(wb, f"{when}分类别减排量", ["类别", "污染物", *cols], rows, [None, None, *[_T_FMT] * len(labels)])
    rows = []
    for s in labels:
        for p in cmp["pollutant"].values:
            for y in cmp["year"].values:
                one = cmp.sel(scenario=s, pollutant=p, year=y)
                rows.append([s, str(p), display(str(p)), int(y), float(one["baseline_total"]), float(one["reduction_total"]), float(one["emissions_total"])])
    _sheet(wb, "排放总量", ["情景", "污染物编号", "污染物", "年份", "基准排放（吨/年）", "减排量（吨/年）", "排放量（吨/年）"], rows,
           [None, None, None, None, _T_FMT, _T_FMT, _T_FMT])
    for key, df in (extra or {}).items():
        if key.startswith("waterfall_"):
            pol, _, year = key.removeprefix("waterfall_").rpartition("_")
            rows = [[step_label(str(st), labels, "zh"), float(d), float(lv)] for st, d, lv in
                    zip(df["step"], df["delta"].to_numpy(float), df["level"].to_numpy(float), strict=True)]
            _sheet(wb, f"变化分解 {display(pol)} {year}", ["步骤", "变化（吨/年）", "排放（吨/年）"], rows, [None, _T_FMT, _T_FMT])
        else:
            _sheet(wb, key, [str(c) for c in df.columns], df.values.tolist(), [None] * len(df.columns))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    wb.save(p)
    return p


def to_iamc(cmp: xr.Dataset, path: str | Path, model: str = "ersim") -> Path:
    """IAMC-format CSV (model, scenario, region, variable, unit, one column per year), UTF-8 with BOM.

    Variables, a hierarchy that passes pyam's ``check_aggregate``:

    * ``Emissions|<pollutant>`` (t/yr), emissions with measures = the sum of its components
      ``Emissions|<pollutant>|<sector>`` (the pools' sectors);
    * ``Baseline Emissions|<pollutant>``: the same year's baseline with growth, no measures (t/yr);
    * ``Emission Reduction|<pollutant>`` (t/yr) = the sum of its components
      ``Emission Reduction|<pollutant>|<category>`` (attributed reductions telescope exactly);
    * ``Concentration|PM2.5`` (ug/m3): base-year value and the projected value in each
      concentration target's year (linear response).
    """
    rows = []
    years = [int(y) for y in cmp["year"].values]
    base_years = list(cmp.attrs.get("base_years") or [years[0]] * cmp.sizes["scenario"])

    def add(scen: str, region: str, var: str, unit: str, vals: Any) -> None:
        rows.append({"model": model, "scenario": scen, "region": region, "variable": var, "unit": unit,
                     **{str(y): float(v) for y, v in zip(years, vals, strict=True)}})

    for k, (s, name, region) in enumerate(zip(cmp["scenario"].values, cmp["scenario_name"].values, cmp["region"].values, strict=True)):
        scen = f"{s} {name}".strip()
        for p in cmp["pollutant"].values:
            pid = {"PM25": "PM2.5", "NH3N": "NH3-N"}.get(str(p), str(p))
            emis = cmp["emissions_total"].sel(scenario=s, pollutant=p).values
            if np.all(np.isnan(emis)):
                continue
            add(scen, str(region), f"Emissions|{pid}", "t/yr", emis)
            if "emissions_by_sector" in cmp:
                for sec in cmp["sector"].values:
                    vals = cmp["emissions_by_sector"].sel(scenario=s, pollutant=p, sector=sec).values
                    if np.any(np.nan_to_num(vals)):  # a sector with emissions in some year (NaN: a year the scenario lacks)
                        add(scen, str(region), f"Emissions|{pid}|{sec}", "t/yr", vals)
            add(scen, str(region), f"Baseline Emissions|{pid}", "t/yr", cmp["baseline_total"].sel(scenario=s, pollutant=p).values)
            add(scen, str(region), f"Emission Reduction|{pid}", "t/yr", cmp["reduction_total"].sel(scenario=s, pollutant=p).values)
            for c in cmp["measure_category"].values:
                vals = cmp["reduction_by_category"].sel(scenario=s, pollutant=p, measure_category=c).values
                if not np.any(np.nan_to_num(vals)):
                    continue
                add(scen, str(region), f"Emission Reduction|{pid}|{c}", "t/yr", vals)
        if "concentration_projected" in cmp:
            conc = np.full(len(years), np.nan)
            for t in cmp["target"].values:
                one = cmp.sel(scenario=s, target=t)
                if np.isnan(float(one["concentration_projected"])):
                    continue
                if base_years[k] in years:
                    conc[years.index(base_years[k])] = float(one["concentration_base"])
                conc[years.index(int(cmp["target_year"].sel(target=t)))] = float(one["concentration_projected"])
            if not np.all(np.isnan(conc)):
                add(scen, str(region), "Concentration|PM2.5", "ug/m3", conc)
    df = pd.DataFrame(rows, columns=["model", "scenario", "region", "variable", "unit", *[str(y) for y in years]])
    p = Path(path)
    from sim.store.tables import write_csv

    p.parent.mkdir(parents=True, exist_ok=True)
    write_csv(df, p)
    return p
