"""Charts (matplotlib, Agg) with Chinese labels that render after a pip-only install.

The CJK font is Noto Sans CJK SC (SIL Open Font License), shipped inside the ``mplfonts``
package on PyPI; it is registered with matplotlib's font manager, never installed system-wide.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from sim.core import safe
from sim.core.pollutants import display
from sim.evaluation.evaluate import Result

__all__ = ["CJK_FONT", "concentration_chart", "figure_writers", "margin_distribution", "setup_fonts", "waterfall"]

CJK_FONT = "Noto Sans CJK SC"
_STATUS_ZH = {"met": "可达", "at risk": "存在风险", "not met": "不可达"}


@lru_cache(maxsize=1)
def setup_fonts() -> str:
    """Register the CJK font with matplotlib and make it the default; returns its family."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager, rcParams

    path = resources.files("mplfonts") / "fonts" / "NotoSansCJKsc-Regular.otf"
    with resources.as_file(path) as p:
        font_manager.fontManager.addfont(str(p))
        family = font_manager.FontProperties(fname=str(p)).get_name()
    rcParams["font.family"] = "sans-serif"
    rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    rcParams["axes.unicode_minus"] = False  # the CJK font lacks U+2212
    return family


def _target_levels(result: Result, pollutant: str, year: int) -> list[tuple[str, float]]:
    """Emission levels (t/a) at which each target on (pollutant, year) is exactly met."""
    ds = result.dataset
    out: list[tuple[str, float]] = []
    if "target" not in ds.dims:
        return out
    for i in range(ds.sizes["target"]):
        if ds["target_pollutant"].values[i] != pollutant or int(ds["target_year"].values[i]) != year:
            continue
        if str(ds["target_kind"].values[i]) == "concentration":  # µg/m³: drawn by concentration_chart
            continue
        e_y = float(ds["emissions_total"].sel(pollutant=pollutant, year=year))
        out.append((str(ds["target_name"].values[i]), e_y + float(ds["margin"].values[i])))
    return out


def waterfall(result: Result, pollutant: str, year: int, lang: str = "zh", top: int = 8) -> Any:
    """Base-year emissions -> growth -> each measure -> target-year emissions, with target lines."""
    setup_fonts()
    import matplotlib.pyplot as plt

    ds = result.dataset
    base_year = int(ds["year"].values[0])
    e0 = float(ds["emissions_total"].sel(pollutant=pollutant, year=base_year))
    b_y = float(ds["baseline_total"].sel(pollutant=pollutant, year=year))
    red = ds["reduction"].sel(pollutant=pollutant, year=year)
    names = dict(zip(ds["measure"].values, ds["measure_name"].values, strict=True))
    order = np.argsort(-np.abs(red.values))
    steps: list[tuple[str, float]] = [(("新增量" if lang == "zh" else "growth"), b_y - e0)]
    shown = [i for i in order if abs(red.values[i]) > 0][:top]
    for i in shown:
        steps.append((str(names[red["measure"].values[i]]), -float(red.values[i])))
    rest = float(red.values.sum() - red.values[shown].sum()) if len(shown) else float(red.values.sum())
    if abs(rest) > 1e-9:
        steps.append((("其他措施" if lang == "zh" else "other measures"), -rest))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 + 0.9 * (len(steps) + 2)), 4.5), dpi=120)
    x = 0
    ax.bar(x, e0, color="#7f7f7f")
    labels = [f"{base_year}{'年排放' if lang == 'zh' else ' emissions'}"]
    level = e0
    for name, delta in steps:
        x += 1
        ax.bar(x, delta, bottom=level, color="#d62728" if delta > 0 else "#2ca02c")
        level += delta
        labels.append(name)
    x += 1
    ax.bar(x, level, color="#1f77b4")
    labels.append(f"{year}{'年排放' if lang == 'zh' else ' emissions'}")
    for name, lv in _target_levels(result, pollutant, year):
        ax.axhline(lv, color="black", linestyle="--", linewidth=1)
        ax.text(x + 0.4, lv, f"{'目标' if lang == 'zh' else 'target'}: {name}", va="bottom", ha="right", fontsize=8)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    unit = "吨/年" if lang == "zh" else "t/a"
    ax.set_ylabel(f"{display(pollutant, lang)} ({unit})")
    title = f"{display(pollutant, lang)}：{base_year}—{year}年排放变化" if lang == "zh" else f"{display(pollutant, lang)}: emissions {base_year}-{year}"
    ax.set_title(title)
    fig.tight_layout()
    return fig


def concentration_chart(result: Result, target: str, lang: str = "zh") -> Any:
    """A concentration target: base-year PM2.5 -> each precursor's response -> projected, target line (µg/m³)."""
    setup_fonts()
    import matplotlib.pyplot as plt

    ds = result.dataset
    c0 = float(ds["concentration_base"].sel(target=target))
    proj = float(ds["concentration_projected"].sel(target=target))
    goal = float(ds["concentration_target"].sel(target=target))
    year = int(ds["target_year"].sel(target=target))
    base_year = int(ds.attrs.get("base_year", ds["year"].values[0]))
    steps: list[tuple[str, float]] = []
    if "concentration_change" in ds:
        ch = ds["concentration_change"].sel(target=target)
        for p, v in zip(ch["precursor"].values, ch.values, strict=True):
            if v == v:
                name = {"PM25": "一次PM2.5" if lang == "zh" else "primary PM2.5"}.get(str(p), display(str(p), lang))
                steps.append((f"{name}{'减排响应' if lang == 'zh' else ' response'}", float(v)))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * (len(steps) + 2) + 1.5), 4.5), dpi=200)
    ax.bar(0, c0, color="#7f7f7f")
    labels = [f"{base_year}{'年基准浓度' if lang == 'zh' else ' base'}"]
    level = c0
    for i, (name, delta) in enumerate(steps, start=1):
        ax.bar(i, delta, bottom=level, color="#d62728" if delta > 0 else "#2ca02c")
        ax.text(i, max(level, level + delta), f"{delta:+.2f}", ha="center", va="bottom", fontsize=8)
        level += delta
        labels.append(name)
    x = len(steps) + 1
    ax.bar(x, proj, color="#1f77b4")
    ax.text(x, proj, f"{proj:.1f}", ha="center", va="bottom", fontsize=8)
    ax.text(0, c0, f"{c0:.1f}", ha="center", va="bottom", fontsize=8)
    labels.append(f"{year}{'年预计浓度' if lang == 'zh' else ' projected'}")
    ax.axhline(goal, color="black", linestyle="--", linewidth=1)
    ax.annotate(f"{'目标' if lang == 'zh' else 'target'} {goal:g} µg/m³", xy=(1.0, goal), xycoords=("axes fraction", "data"),
                xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom", fontsize=8)
    top = max(c0, proj, goal, level)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=0 if len(labels) <= 4 else 20, ha="center" if len(labels) <= 4 else "right", fontsize=8)
    ax.set_ylabel("PM2.5年均浓度 (µg/m³)" if lang == "zh" else "PM2.5 annual mean (µg/m³)")
    name = str(ds["target_name"].sel(target=target).values)
    ax.set_title(f"{name}\n{'线性响应估算，仅计本地排放变化' if lang == 'zh' else 'linear response, local emissions only'}", fontsize=10)
    fig.tight_layout()
    return fig


def margin_distribution(result: Result, target: str, lang: str = "zh") -> Any:
    """Histogram of a target's margin over the Monte Carlo samples, with P(met)."""
    setup_fonts()
    import matplotlib.pyplot as plt

    ds = result.dataset
    m = ds["margin_sample"].sel(target=target).values
    p = float(ds["probability"].sel(target=target))
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.hist(m, bins=50, color="#1f77b4", alpha=0.8)
    ax.axvline(0, color="black", linewidth=1)
    name = str(ds["target_name"].sel(target=target).values)
    conc = str(ds["target_unit"].sel(target=target).values) != "t"
    unit_zh, unit_en = ("µg/m³", "µg/m³") if conc else ("吨", "t")
    if lang == "zh":
        ax.set_xlabel(f"余量（{unit_zh}）：{'目标浓度 − 预计浓度' if conc else '实现减排量 − 要求减排量'}")
        ax.set_ylabel("样本数")
        ax.set_title(f"{name}：达标概率 P = {p:.0%}")
    else:
        ax.set_xlabel(f"margin ({unit_en}): {'target - projected concentration' if conc else 'achieved - required'}")
        ax.set_ylabel("samples")
        ax.set_title(f"{name}: P(met) = {p:.0%}")
    fig.tight_layout()
    return fig


def _saver(make: Callable[[], Any]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import matplotlib.pyplot as plt

        fig = make()
        fig.savefig(path)
        plt.close(fig)

    return write


def figure_writers(result: Result, lang: str = "zh") -> dict[str, Callable[[Path], None]]:
    """Writers for the run's figures/: one waterfall per targeted (pollutant, year), margins."""
    ds = result.dataset
    pairs: list[tuple[str, int]] = []
    conc: list[str] = []
    if "target" in ds.dims:
        for t, p, y, k in zip(ds["target"].values, ds["target_pollutant"].values, ds["target_year"].values, ds["target_kind"].values, strict=True):
            if str(k) == "concentration":
                if "concentration_base" in ds:
                    conc.append(str(t))
            elif (str(p), int(y)) not in pairs and str(p) in ds["pollutant"].values:
                pairs.append((str(p), int(y)))
    if not pairs and not conc:
        last = int(max(result.scenario.years))
        pairs = [(str(p), last) for p in ds["pollutant"].values]
    out: dict[str, Callable[[Path], None]] = {}
    for p, y in pairs:
        out[f"figures/waterfall_{p}_{y}.png"] = _saver(partial(waterfall, result, p, y, lang))
    for t in conc:
        out[f"figures/concentration_{t}.png"] = _saver(partial(concentration_chart, result, t, lang))
    if "margin_sample" in ds:
        for t in ds["target"].values:
            out[f"figures/margin_{t}.png"] = _saver(partial(margin_distribution, result, str(t), lang))
    return out


def comparison_figures(cmp: Any, waterfalls: dict[str, Any], folder: Path, lang: str = "zh") -> list[Path]:
    """Margins by scenario per target (grouped bars) and A->B waterfalls, as PNGs in *folder*."""
    setup_fonts()
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    labels = [str(s) for s in cmp["scenario"].values]
    if "target" in cmp.dims:
        targets = [str(t) for t in cmp["target"].values]
        fig, ax = plt.subplots(figsize=(max(6.0, 1.5 * len(targets)), 4.5), dpi=120)
        width = 0.8 / len(labels)
        for i, s in enumerate(labels):
            vals = [float(cmp["margin"].sel(scenario=s, target=t)) for t in targets]
            ax.bar(np.arange(len(targets)) + i * width, vals, width, label=s)
        ax.axhline(0, color="black", linewidth=1)
        ax.set_xticks(np.arange(len(targets)) + width * (len(labels) - 1) / 2)
        ax.set_xticklabels([str(cmp["target_name"].sel(target=t).values) for t in targets], rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("余量 (吨; 浓度目标为µg/m³)" if lang == "zh" else "margin (t; µg/m³ for concentration)")
        ax.set_title("各情景目标余量比较" if lang == "zh" else "target margins by scenario")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / "margins.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    for key, wf in waterfalls.items():
        fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(wf)), 4.5), dpi=120)
        prev = 0.0
        for i, r in enumerate(wf.itertuples()):
            if r.delta != r.delta:  # the two end bars
                ax.bar(i, r.level, color="#1f77b4")
            else:
                ax.bar(i, r.delta, bottom=prev, color="#d62728" if r.delta > 0 else "#2ca02c")
            prev = r.level
        ax.set_xticks(range(len(wf)))
        ax.set_xticklabels([str(s)[:18] for s in wf["step"]], rotation=30, ha="right", fontsize=7)
        ax.set_ylabel("排放 (吨/年)" if lang == "zh" else "emissions (t/a)")
        ax.set_title(f"{labels[0]} → {labels[1]}  {key.removeprefix('waterfall_')}")
        fig.tight_layout()
        path = folder / f"{safe.path_part(key, 'waterfall')}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def macc(table: Any, pollutant: str, lang: str = "zh") -> Any:
    """Marginal abatement cost curve: bars ordered by 元/t, width = potential reduction (t/a)."""
    setup_fonts()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    x = 0.0
    for r in table.itertuples():
        ax.bar(x, r.cost_per_t, width=r.potential_reduction, align="edge", edgecolor="white",
               color="#1f77b4" if r.chosen_reduction > 0 else "#bbbbbb")
        ax.text(x + r.potential_reduction / 2, r.cost_per_t, str(r.name)[:10], ha="center", va="bottom", fontsize=7, rotation=60)
        x += r.potential_reduction
    unit_x = "吨/年" if lang == "zh" else "t/a"
    ax.set_xlabel(f"{display(pollutant, lang)} {'减排潜力' if lang == 'zh' else 'abatement potential'} ({unit_x})")
    ax.set_ylabel("边际减排成本 (元/吨)" if lang == "zh" else "marginal abatement cost (CNY/t)")
    ax.set_title(f"{display(pollutant, lang)} {'边际减排成本曲线（深色为选中措施）' if lang == 'zh' else 'MACC (dark: chosen)'}")
    fig.tight_layout()
    return fig


def sweep_figures(ds: Any, folder: Path, lang: str = "zh") -> list[Path]:
    """Line charts (one swept input) or heat maps (two or more: the first two) of each target's margin."""
    setup_fonts()
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    dims = [d for d in ds["margin"].dims if d != "target"]
    written = []
    var = "probability" if "probability" in ds else "margin"
    label = ("达标概率 P(met)" if lang == "zh" else "P(met)") if var == "probability" else ("余量 margin" if lang == "zh" else "margin")
    base_label = label
    for t in ds["target"].values:
        da = ds[var].sel(target=t)
        name = str(ds["target_name"].sel(target=t).values)
        if var == "margin":  # each target in its own unit
            conc = "target_unit" in ds.coords and str(ds["target_unit"].sel(target=t).values) != "t"
            label = f"{base_label} ({'µg/m³' if conc else ('吨' if lang == 'zh' else 't')})"
        if len(dims) == 1:
            fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
            ax.plot(ds[dims[0]].values, da.values, marker="o", markersize=3)
            ax.axhline(0.5 if var == "probability" else 0.0, color="black", linewidth=1, linestyle="--")
            ax.set_xlabel(f"{dims[0]} ({ds[dims[0]].attrs.get('units', '')})")
            ax.set_ylabel(label)
        else:
            others = {o: int(np.abs(ds[o].values - ds[o].attrs.get("central", ds[o].values[0])).argmin()) for o in dims[2:]}
            grid = da.isel(others).transpose(dims[1], dims[0]).values
            fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=120)
            mesh = ax.pcolormesh(ds[dims[0]].values, ds[dims[1]].values, grid, shading="auto", cmap="RdYlGn")
            ax.contour(ds[dims[0]].values, ds[dims[1]].values, grid, levels=[0.5 if var == "probability" else 0.0], colors="black")
            fig.colorbar(mesh, ax=ax, label=label)
            ax.set_xlabel(f"{dims[0]} ({ds[dims[0]].attrs.get('units', '')})")
            ax.set_ylabel(f"{dims[1]} ({ds[dims[1]].attrs.get('units', '')})")
        ax.set_title(name)
        fig.tight_layout()
        path = folder / f"sweep_{safe.path_part(t, 'target')}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def sensitivity_figure(df: Any, method: str, target: str, path: Path, lang: str = "zh", top: int = 15) -> Path:
    """Tornado bars, Sobol S1/ST with confidence intervals, or Morris mu*-sigma."""
    setup_fonts()
    import matplotlib.pyplot as plt

    d = df.head(top)
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.35 * len(d) + 1.5)), dpi=120)
    labels = [str(s)[:24] for s in d["label"]]
    yy = np.arange(len(d))[::-1]
    if method == "tornado":
        c = float(d["margin_central"].iloc[0]) if len(d) else 0.0
        ax.barh(yy, d["margin_at_low"] - c, left=c, color="#d62728", label="低值 low" if lang == "zh" else "low")
        ax.barh(yy, d["margin_at_high"] - c, left=c, color="#2ca02c", label="高值 high" if lang == "zh" else "high")
        ax.axvline(c, color="black", linewidth=1)
        ax.axvline(0, color="grey", linewidth=1, linestyle="--")
        ax.set_xlabel(f"{'目标余量' if lang == 'zh' else 'margin of'} {target}")
    elif method == "sobol":
        ax.barh(yy + 0.2, d["ST"], height=0.4, xerr=d["ST_conf"], label="ST 总效应" if lang == "zh" else "ST")
        ax.barh(yy - 0.2, d["S1"], height=0.4, xerr=d["S1_conf"], label="S1 一阶" if lang == "zh" else "S1")
        ax.set_xlabel("Sobol 指数" if lang == "zh" else "Sobol index")
    else:
        ax.barh(yy, d["mu_star"], xerr=d["mu_star_conf"], label="μ*")
        ax.set_xlabel("Morris μ*")
    ax.set_yticks(yy)
    ax.set_yticklabels(labels, fontsize=8)
    ax.legend(fontsize=8)
    ax.set_title(f"{'敏感性分析' if lang == 'zh' else 'sensitivity'} ({method}): {target}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
