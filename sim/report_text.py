"""Terminal tables of a run (rich): reductions by pollutant and year, target margins."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sim.pollutants import display
from sim.run import Result

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
    con = console or Console(highlight=False)
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
            from sim.air import ASSUMPTION_ZH

            con.print(f"注：{ASSUMPTION_ZH}", highlight=False)
