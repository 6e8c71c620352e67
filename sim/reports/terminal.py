"""Terminal tables of a run (rich): reductions by pollutant and year, target margins."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table as _RichTable

from sim.core import safe
from sim.core.pollutants import display
from sim.evaluation.evaluate import Result


class Table(_RichTable):
    """A rich table whose title and cells are console-safe text (names come from input files), and
    whose columns wrap a long cell onto more lines rather than cut it with '…' (a narrow or piped
    terminal once read 'cod-20…')."""

    def __init__(self, *args: Any, title: str | None = None, **kw: Any) -> None:
        super().__init__(*args, title=None if title is None else safe.console(title), **kw)

    def add_column(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("overflow", "fold")
        super().add_column(*args, **kw)

    def add_row(self, *cells: Any, **kw: Any) -> None:
        super().add_row(*(safe.console(c) if isinstance(c, str) else c for c in cells), **kw)


def _console() -> Console:
    return Console(highlight=False, markup=False, emoji=False)

__all__ = ["fmt_c", "fmt_t", "print_run"]

_STATUS_ZH = {"met": "可达", "at risk": "存在风险", "not met": "不可达"}


def fmt_t(x: float) -> str:
    """Tonnes as planners write them: thousands separators, sensible decimals, 0 as 0."""
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 1:
        return f"{x:,.1f}"
    return f"{x:,.3f}"


def _t_or_dash(x: float) -> str:
    """Tonnes, or — where there is no number (a year the scenario does not have)."""
    return "—" if x != x else fmt_t(x)


def fmt_c(x: float) -> str:
    """A concentration (µg/m³) with one decimal."""
    return f"{x:,.1f}"


def _unit_zh(unit: str) -> str:
    return "µg/m³" if unit != "t" else "吨"


def _fmt_in(x: float, unit: str) -> str:
    return fmt_c(x) if unit != "t" else fmt_t(x)


def fmt_sig(x: float, digits: int = 4) -> str:
    """A price or rate with *digits* significant digits and thousands separators (2.14 stays 2.14)."""
    import math

    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(x)))
    if decimals <= 0:
        return f"{round(x, decimals):,.0f}"
    return f"{x:,.{decimals}f}"


def print_run(result: Result, console: Console | None = None) -> None:
    """Print the reductions table, the target table (fits 80 columns: names wrap, never cut) and warnings.

    Emission targets show required, achieved and margin in tonnes; a concentration target shows
    its target and projected concentration (µg/m³), with the linear-response caveat below.
    Under samples the margin's p5-p95 range and P(met) are shown too. Warnings (e.g. PM2.5
    precursors the inventory lacks) are printed by the caller, to stderr.
    """
    con = console or _console()
    ds = result.dataset
    years = [int(y) for y in ds["year"].values if int(y) in result.scenario.years]
    t = Table(title=f"{result.scenario.name}\n减排量（吨/年）")
    t.add_column("污染物", overflow="fold")
    t.add_column("年份", no_wrap=True)
    for c in ("基准排放", "减排量", "排放量"):
        t.add_column(c, justify="right", no_wrap=True)
    for p in ds["pollutant"].values:
        for y in years:
            t.add_row(f"{display(str(p))} ({p})", str(y),
                      fmt_t(float(ds["baseline_total"].sel(pollutant=p, year=y))),
                      fmt_t(float(ds["reduction_total"].sel(pollutant=p, year=y))),
                      fmt_t(float(ds["emissions_total"].sel(pollutant=p, year=y))))
    t.caption = f"基准排放：当年的基准排放（{result.scenario.base_year}年清单按增长率推算到当年，未计措施）；减排量 = 基准排放 − 排放量"
    con.print(t)
    tf = result.targets_frame()
    if len(tf):
        has_p = "probability" in tf
        from rich import box

        title = "目标可达性（吨；PM2.5浓度目标为µg/m³）" if (tf["kind"] == "concentration").any() else "目标可达性（吨）"
        tt = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
        tt.add_column("目标", overflow="fold", ratio=1, min_width=12)
        tt.add_column("单位", no_wrap=True)
        tt.add_column("要求", justify="right", no_wrap=True)
        tt.add_column("实现", justify="right", no_wrap=True)
        tt.add_column("余量 (p5~p95)" if has_p else "余量", justify="right", no_wrap=True)
        if has_p:
            tt.add_column("P达标", justify="right", no_wrap=True)
        tt.add_column("结论", no_wrap=True)
        for _, r in tf.iterrows():
            unit = str(r["unit"])
            if r["kind"] == "concentration":
                req = f"目标 {fmt_c(float(r['concentration_target']))}" if "concentration_target" in r else fmt_c(float(r["required"]))
                ach = f"预计 {fmt_c(float(r['concentration_projected']))}" if "concentration_projected" in r else fmt_c(float(r["achieved"]))
            else:
                req, ach = fmt_t(float(r["required"])), fmt_t(float(r["achieved"]))
            margin = _fmt_in(float(r["margin"]), unit)
            if has_p:
                margin += f"\n({_fmt_in(float(r['margin_p5']), unit)}~{_fmt_in(float(r['margin_p95']), unit)})"
            row = [f"{r['name']} ({r['year']}年)", _unit_zh(unit), req, ach, margin]
            if has_p:
                row.append(f"{r['probability']:.0%}")
            row.append(_STATUS_ZH.get(str(r["status"]), str(r["status"])))
            tt.add_row(*row)
        if (tf["kind"] == "reduction_percent").any():  # why its 实现 differs from the year's 减排量 above
            tt.caption = ("较基准年下降的目标：实现 = 基准年排放 − 目标年排放（排放增长抵消一部分减排），"
                          "因此可能小于上表当年的减排量")
        con.print(tt)
        conc = tf[tf["kind"] == "concentration"]
        if len(conc):
            from sim.model.air import ASSUMPTION_ZH

            for _, r in conc.iterrows():
                if "concentration_base" not in r:
                    continue
                parts = ""
                if "concentration_change" in ds:
                    ch = ds["concentration_change"].sel(target=r["target"])
                    parts = "，".join(f"{display(str(p))} {float(v):+.2f}" for p, v in zip(ch["precursor"].values, ch.values, strict=True) if v == v)
                con.print(f"{r['name']}：基准年 {fmt_c(float(r['concentration_base']))} µg/m³ → 预计 {fmt_c(float(r['concentration_projected']))} µg/m³"
                          f"{f'（{parts}）' if parts else ''}，目标 {fmt_c(float(r['concentration_target']))} µg/m³，"
                          f"{_STATUS_ZH.get(str(r['status']), str(r['status']))}。", highlight=False)
            missing = [w.split("清单中没有")[1].split("排放")[0] for w in result.warnings if w.startswith("PM2.5响应：清单中没有")]
            if missing:
                con.print(f"注意：清单中没有{'、'.join(missing)}排放，PM2.5浓度只计入了部分前体物的响应，预计浓度的下降可能被低估。", highlight=False)
            con.print(f"注：{ASSUMPTION_ZH}", highlight=False)
    _print_scope(result, con)


def _print_scope(result: Result, con: Console) -> None:
    """The scenario's period, verdict-deciding assumptions and what it leaves out of scope."""
    from sim.model.plan_scope import scope_lines, scope_manifest

    lines = scope_lines(scope_manifest(result.scenario))
    heads = {"period": "评估时段与计入范围 period", "assumptions": "决定结论的假设 assumptions",
             "out_of_scope": "未评估的规划目标和措施 out of scope"}
    for key, head in heads.items():
        if lines[key]:
            con.print(f"{head}:", highlight=False)
            for text in lines[key]:
                con.print(f"  - {text}", highlight=False, markup=False)


def print_comparison(cmp, tabs, waterfalls, console: Console | None = None) -> None:  # type: ignore[no-untyped-def]
    """Side-by-side tables of a comparison (margins, reductions by category, A->B waterfalls)."""
    con = console or _console()
    labels = [str(s) for s in cmp["scenario"].values]
    if "target" in cmp.dims:
        t = Table(title="目标余量比较 target margins")
        t.add_column("目标 target", overflow="fold", min_width=10)
        t.add_column("单位")
        for s in labels:
            t.add_column(s, justify="right", overflow="fold")
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
    from sim.analyses.compare import last_year_label, last_years, scenario_years

    when, final = last_year_label(cmp), last_years(cmp)
    heads = labels if when != "末年" else [f"{s} ({final[s]}年)" for s in labels]
    spans = scenario_years(cmp)
    if len({(v[0], v[-1]) for v in spans.values() if v}) > 1:
        con.print("注意：各情景的年份不同（" + "；".join(f"{s} {v[0]}—{v[-1]}年" for s, v in spans.items() if v)
                  + "），分类和分措施减排量取各情景的末年；情景没有的年份显示为“—”，也不画该年的瀑布图。", highlight=False)
    t = Table(title=f"{when}分类减排量 reductions by category (t/a)")
    t.add_column("类别 category", overflow="fold")
    t.add_column("污染物")
    for h in heads:
        t.add_column(h, justify="right", overflow="fold")
    df = tabs["by_category"]
    for _, r in df.iterrows():
        vals = [float(r[s]) for s in labels]
        if any(abs(v) > 0 for v in vals):
            t.add_row(str(r["measure_category"]), display(str(r["pollutant"])), *[_t_or_dash(v) for v in vals])
    con.print(t)
    t = Table(title=f"{when}分措施减排量 reductions by measure (t/a)")
    t.add_column("措施 measure", overflow="fold", min_width=10)
    t.add_column("污染物")
    for h in heads:
        t.add_column(h, justify="right", overflow="fold")
    names = dict(zip(cmp["measure"].values, cmp["measure_name"].values, strict=True))
    for _, r in tabs["by_measure"].iterrows():
        vals = [float(r[s]) for s in labels]
        if any(abs(v) > 0 for v in vals):
            t.add_row(str(names.get(r["measure"], r["measure"])), display(str(r["pollutant"])), *[_t_or_dash(v) for v in vals])
    con.print(t)
    from sim.analyses.compare import step_label

    for key, wf in waterfalls.items():
        pol, _, year = key.removeprefix("waterfall_").rpartition("_")
        t = Table(title=f"{labels[0]} → {labels[1]}：{display(pol)} {year}年 (t/a)")
        t.add_column("步骤 step", overflow="fold", min_width=10)
        t.add_column("变化 change", justify="right")
        t.add_column("排放 level", justify="right")
        for _, r in wf.iterrows():
            t.add_row(step_label(str(r["step"]), labels, "zh"), "" if r["delta"] != r["delta"] else fmt_t(float(r["delta"])), fmt_t(float(r["level"])))
        con.print(t)


def print_solve(res, rerun, pollutant: str, console: Console | None = None) -> None:  # type: ignore[no-untyped-def]
    """The least-cost mix, target prices and shortfalls, and the engine's re-run."""
    con = console or _console()
    names = dict(zip(res.model.measures, res.model.measure_names, strict=True))
    t = Table(title=f"最低成本组合 least-cost mix — {res.method}")
    for c in ("措施 measure", "选择 chosen", "潜力 potential", "单位", "互斥分组 group", "年化成本 (元/a)"):
        t.add_column(c, justify="left" if c[0] in "措单互" else "right")
    groups = getattr(res, "groups", {})
    for m, lv, pot, u, c in zip(res.measures, res.level, res.potential, res.unit, res.unit_cost, strict=True):
        t.add_row(str(names[m]), fmt_t(lv), fmt_t(pot), u or "share", groups.get(m, ""), fmt_t(c * lv))
    t.add_row("合计 total", "", "", "", "", fmt_t(res.cost))
    con.print(t)
    t = Table(title="目标与影子价格 targets and shadow prices (影子价格: 元 per unit of the target, full precision in prices.csv)")
    for c in ("目标 target", "单位 unit", "要求 required", "实现(线性) achieved LP", "实现(引擎) engine", "缺口 shortfall",
              "影子价格 price", "约束 binding"):
        t.add_column(c, justify="left" if c[0] in "目单约" else "right")
    eng = rerun.targets_frame().set_index("target") if rerun is not None else None
    units = res.target_units or ["t"] * len(res.targets)
    for i, tid in enumerate(res.targets):
        e = fmt_t(float(eng.loc[tid, "achieved"])) if eng is not None and tid in eng.index else "—"
        price_unit = "元/t" if units[i] == "t" else f"元/({units[i]})"
        t.add_row(tid, units[i], fmt_t(res.required[i]), fmt_t(res.achieved_lp[i]), e, fmt_t(res.shortfall[i]),
                  f"{fmt_sig(float(res.prices[i]))} {price_unit}" if np.isfinite(res.prices[i]) else "不可达",
                  "是" if tid in res.binding else "")
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
        con.print("引擎复算 engine re-run of the mix (measures of one disjoint group act on separate parts of their pool):")
        print_run(rerun, con)


def print_sweep(ds, breakeven, console: Console | None = None) -> None:  # type: ignore[no-untyped-def]
    """Break-even values, and the margins at the ends of each swept range."""
    con = console or _console()
    t = Table(title=f"盈亏平衡点 break-even values ({ds.attrs.get('sampling', '')})")
    for c in ("输入 input", "目标 target", "平衡值 break-even", "判据 criterion", "说明 note"):
        t.add_column(c)
    for r in breakeven:
        val = "—" if r["break_even"] is None else f"{r['break_even']:,.6g} {r.get('unit', '')}".strip()
        t.add_row(r["input"], r["target"], val, r["criterion"], r["note"])
    con.print(t)
    dims = [d for d in ds["margin"].dims if d != "target"]
    n = int(np.prod([ds.sizes[d] for d in dims]))
    if ds.sizes.get("target", 0) == 0:
        con.print(f"{n}个网格点（{', '.join(dims)}）；情景未设目标，只计算了各网格点的排放与减排量 (no targets: emissions and reductions only)")
        return
    units = [str(u) for u in ds["target_unit"].values] if "target_unit" in ds.coords else ["t"] * ds.sizes["target"]
    for unit in dict.fromkeys(units):
        sel = ds["margin"].sel(target=[t for t, u in zip(ds["target"].values, units, strict=True) if u == unit])
        con.print(f"{n}个网格点（{', '.join(dims)}）；{_unit_zh(unit)}计的目标余量从 {_fmt_in(float(sel.min()), unit)} 到 "
                  f"{_fmt_in(float(sel.max()), unit)} {_unit_zh(unit)}")


def print_sensitivity(df, method: str, target: str, console: Console | None = None,  # type: ignore[no-untyped-def]
                      names: dict[str, str] | None = None) -> None:
    """Ranked table of a sensitivity analysis; inputs by their Chinese names (*names*: parameter -> name)."""
    con = console or _console()
    unit = str(df["margin_unit"].iloc[0]) if "margin_unit" in df and len(df) else ""
    u = f" ({unit})" if unit else ""
    cols = {"tornado": [("margin_at_low", f"低值时余量 at low{u}"), ("margin_at_high", f"高值时余量 at high{u}"),
                        ("swing", f"摆幅 swing{u}")],
            "sobol": [("S1", "一阶指数 S1"), ("S1_conf", "S1 置信区间 ±"), ("ST", "总效应指数 ST"), ("ST_conf", "ST 置信区间 ±")],
            "morris": [("mu_star", f"μ* 平均绝对效应{u}"), ("mu_star_conf", "μ* 置信区间 ±"), ("sigma", f"σ 效应离散度{u}")]}[method]
    title = {"tornado": "龙卷风图", "sobol": "Sobol指数", "morris": "Morris筛选"}[method]
    t = Table(title=f"敏感性排序 {title} ({method}) — 目标 {target} 的余量{u}")
    t.add_column("#", justify="right")
    t.add_column("输入 input")
    for _, head in cols:
        t.add_column(head, justify="right")
    # rounding noise (μ* 6e-13 t beside 5,202 t for an input with no effect) is shown as 0
    scale = {c: float(np.nanmax(np.abs(df[c].to_numpy(float)), initial=0.0)) if len(df) else 0.0 for c, _ in cols}

    def cell(c: str, v: float) -> str:
        return "0" if abs(v) <= 1e-9 * scale[c] else f"{v:,.4g}"

    for i, r in df.iterrows():
        label = (names or {}).get(str(r["input"]), str(r["label"])) if "input" in r else str(r["label"])
        t.add_row(str(i + 1), label, *[cell(c, float(r[c])) for c, _ in cols])
    con.print(t)
