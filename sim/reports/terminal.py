"""Terminal tables of a run (rich): reductions by pollutant and year, target margins."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table as _RichTable

from sim.core import safe
from sim.core.pollutants import display
from sim.evaluation.evaluate import Result


class Table(_RichTable):
    """A rich table whose title and cells are console-safe text (names come from input files)."""

    def __init__(self, *args: Any, title: str | None = None, **kw: Any) -> None:
        super().__init__(*args, title=None if title is None else safe.console(title), **kw)

    def add_row(self, *cells: Any, **kw: Any) -> None:
        super().add_row(*(safe.console(c) if isinstance(c, str) else c for c in cells), **kw)


def _console() -> Console:
    return Console(highlight=False, markup=False, emoji=False)

__all__ = ["fmt_t", "print_run"]

_STATUS_ZH = {"met": "可达", "at risk": "存在风险", "not met": "不可达"}


def fmt_t(x: float) -> str:
    """Tonnes as planners write them: thousands separators, sensible decimals."""
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 1:
        return f"{x:,.1f}"
    return f"{x:,.3f}"


def print_run(result: Result, console: Console | None = None) -> None:
    """Print the reductions table and the target table to stdout."""
    con = console or _console()
    ds = result.dataset
    years = [int(y) for y in ds["year"].values if int(y) in result.scenario.years]
    t = Table(title=f"{result.scenario.name} — 减排量 reductions (t/a)")
    for c in ("污染物 pollutant", "年份 year", "基准 baseline", "减排 reduction", "排放 emissions"):
        t.add_column(c, justify="left" if c[0] in "污年" else "right")
    for p in ds["pollutant"].values:
        for y in years:
            t.add_row(f"{display(str(p))} ({p})", str(y),
                      fmt_t(float(ds["baseline_total"].sel(pollutant=p, year=y))),
                      fmt_t(float(ds["reduction_total"].sel(pollutant=p, year=y))),
                      fmt_t(float(ds["emissions_total"].sel(pollutant=p, year=y))))
    con.print(t)
    tf = result.targets_frame()
    if len(tf):
        tt = Table(title="目标可达性 target feasibility")
        for c in ("目标 target", "污染物", "年份", "单位", "要求 required", "实现 achieved", "余量 margin"):
            tt.add_column(c, justify="right" if c[0] in "要实余" else "left")
        has_p = "probability" in tf
        if has_p:
            tt.add_column("P(达标)", justify="right")
        tt.add_column("结论 status")
        for _, r in tf.iterrows():
            unit = "µg/m³" if r["kind"] == "concentration" else "吨"
            row = [str(r["name"]), display(str(r["pollutant"])), str(r["year"]), unit, fmt_t(r["required"]),
                   fmt_t(r["achieved"]), fmt_t(r["margin"])]
            if has_p:
                row.append(f"{r['probability']:.0%}")
            row.append(f"{_STATUS_ZH.get(str(r['status']), r['status'])} ({r['status']})")
            tt.add_row(*row)
        con.print(tt)
        if (tf["kind"] == "concentration").any():
            from sim.model.air import ASSUMPTION_ZH

            con.print(f"注：{ASSUMPTION_ZH}", highlight=False)


def print_comparison(cmp, tabs, waterfalls, console: Console | None = None) -> None:  # type: ignore[no-untyped-def]
    """Side-by-side tables of a comparison (margins, reductions by category, A->B waterfalls)."""
    con = console or _console()
    labels = [str(s) for s in cmp["scenario"].values]
    if "target" in cmp.dims:
        t = Table(title="目标余量比较 target margins")
        t.add_column("目标 target")
        t.add_column("单位")
        for s in labels:
            t.add_column(s, justify="right")
        has_p = "probability" in cmp
        for tid in cmp["target"].values:
            unit = "µg/m³" if str(cmp["target_unit"].sel(target=tid).values) != "t" else "吨"
            row = [str(cmp["target_name"].sel(target=tid).values), unit]
            for s in labels:
                m = float(cmp["margin"].sel(scenario=s, target=tid))
                cell = "—" if m != m else fmt_t(m)
                if has_p:
                    p = float(cmp["probability"].sel(scenario=s, target=tid))
                    if p == p:
                        cell += f" (P={p:.0%})"
                st = str(cmp["status"].sel(scenario=s, target=tid).values)
                cell += f" {_STATUS_ZH.get(st, st)}"
                row.append(cell)
            t.add_row(*row)
        con.print(t)
    last = int(cmp["year"].max())
    t = Table(title=f"{last}年分类减排量 reductions by category (t/a)")
    t.add_column("类别 category")
    t.add_column("污染物")
    for s in labels:
        t.add_column(s, justify="right")
    df = tabs["by_category"]
    for _, r in df.iterrows():
        vals = [float(r[s]) for s in labels]
        if any(abs(v) > 0 for v in vals):
            t.add_row(str(r["measure_category"]), display(str(r["pollutant"])), *[fmt_t(v) for v in vals])
    con.print(t)
    t = Table(title=f"{last}年分措施减排量 reductions by measure (t/a)")
    t.add_column("措施 measure")
    t.add_column("污染物")
    for s in labels:
        t.add_column(s, justify="right")
    names = dict(zip(cmp["measure"].values, cmp["measure_name"].values, strict=True))
    for _, r in tabs["by_measure"].iterrows():
        vals = [float(r[s]) for s in labels]
        if any(abs(v) > 0 for v in vals):
            t.add_row(str(names.get(r["measure"], r["measure"])), display(str(r["pollutant"])), *[fmt_t(v) for v in vals])
    con.print(t)
    for key, wf in waterfalls.items():
        t = Table(title=f"{labels[0]} → {labels[1]}: {key.removeprefix('waterfall_')} (t/a)")
        t.add_column("步骤 step")
        t.add_column("变化 change", justify="right")
        t.add_column("排放 level", justify="right")
        for _, r in wf.iterrows():
            t.add_row(str(r["step"]), "" if r["delta"] != r["delta"] else fmt_t(float(r["delta"])), fmt_t(float(r["level"])))
        con.print(t)


def print_solve(res, rerun, pollutant: str, console: Console | None = None) -> None:  # type: ignore[no-untyped-def]
    """The least-cost mix, target prices and shortfalls, and the engine's re-run."""
    con = console or _console()
    names = dict(zip(res.model.measures, res.model.measure_names, strict=True))
    t = Table(title=f"最低成本组合 least-cost mix — {res.method}")
    for c in ("措施 measure", "选择 chosen", "潜力 potential", "单位", "年化成本 (元/a)"):
        t.add_column(c, justify="left" if c[0] in "措单" else "right")
    for m, lv, pot, u, c in zip(res.measures, res.level, res.potential, res.unit, res.unit_cost, strict=True):
        t.add_row(str(names[m]), fmt_t(lv), fmt_t(pot), u or "share", fmt_t(c * lv))
    t.add_row("合计 total", "", "", "", fmt_t(res.cost))
    con.print(t)
    t = Table(title="目标与影子价格 targets and shadow prices")
    for c in ("目标 target", "要求 required", "实现(线性) achieved LP", "实现(引擎) engine", "缺口 shortfall", "影子价格 (元/单位)", "约束 binding"):
        t.add_column(c, justify="left" if c[0] in "目约" else "right")
    eng = rerun.targets_frame().set_index("target") if rerun is not None else None
    for i, tid in enumerate(res.targets):
        e = fmt_t(float(eng.loc[tid, "achieved"])) if eng is not None and tid in eng.index else "—"
        t.add_row(tid, fmt_t(res.required[i]), fmt_t(res.achieved_lp[i]), e, fmt_t(res.shortfall[i]),
                  f"{res.prices[i]:,.0f}", "是" if tid in res.binding else "")
    con.print(t)
    if res.achievable:
        t = Table(title="最大可达减排量 largest achievable (candidates at full potential)")
        for c in ("目标 target", "年份", "最大可达 achievable", "要求 required"):
            t.add_column(c)
        for k, (y, best, req) in res.achievable.items():
            t.add_row(k, str(y), fmt_t(best), fmt_t(req))
        con.print(t)
    for n in res.notes:
        con.print(f"注：{safe.console(n)}")
    if rerun is not None:
        con.print("引擎复算 engine re-run of the mix (controls on one pool multiply):")
        print_run(rerun, con)


def print_sweep(ds, breakeven, console: Console | None = None) -> None:  # type: ignore[no-untyped-def]
    """Break-even values, and the margins at the ends of each swept range."""
    con = console or _console()
    t = Table(title=f"盈亏平衡点 break-even values ({ds.attrs.get('sampling', '')})")
    for c in ("输入 input", "目标 target", "平衡值 break-even", "判据 criterion", "说明 note"):
        t.add_column(c)
    for r in breakeven:
        val = "—" if r["break_even"] is None else f"{r['break_even']:,.6g} {ds[r['input']].attrs.get('units', '')}".strip()
        t.add_row(r["input"], r["target"], val, r["criterion"], r["note"])
    con.print(t)
    dims = [d for d in ds["margin"].dims if d != "target"]
    n = int(ds["margin"].isel(target=0).size)
    con.print(f"{n} grid points over {', '.join(dims)}; margins (t, µg/m³ for concentration) from "
              f"{float(ds['margin'].min()):,.1f} to {float(ds['margin'].max()):,.1f}")


def print_sensitivity(df, method: str, target: str, console: Console | None = None) -> None:  # type: ignore[no-untyped-def]
    """Ranked table of a sensitivity analysis."""
    con = console or _console()
    cols = {"tornado": ["margin_at_low", "margin_at_high", "swing"], "sobol": ["S1", "S1_conf", "ST", "ST_conf"],
            "morris": ["mu_star", "mu_star_conf", "sigma"]}[method]
    t = Table(title=f"敏感性排序 sensitivity ({method}) — 目标 {target} 的余量")
    t.add_column("#", justify="right")
    t.add_column("输入 input")
    for c in cols:
        t.add_column(c, justify="right")
    for i, r in df.iterrows():
        t.add_row(str(i + 1), str(r["label"]), *[f"{float(r[c]):,.4g}" for c in cols])
    con.print(t)
