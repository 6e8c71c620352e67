"""Charts (matplotlib, Agg) with Chinese labels that render after a pip-only install.

The CJK font is Noto Sans CJK SC (SIL Open Font License), shipped inside the ``mplfonts``
package on PyPI; it is registered with matplotlib's font manager, never installed system-wide.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.pollutants import display
from sim.evaluation.evaluate import Result

__all__ = ["CJK_FONT", "DPI", "figure_writers", "margin_distribution", "setup_fonts", "waterfall", "wrap_label"]

CJK_FONT = "Noto Sans CJK SC"
DPI = 200  # every chart: ready to paste into a printed report
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
    rcParams["figure.dpi"] = DPI
    rcParams["savefig.dpi"] = DPI
    return family


def _width(ch: str) -> int:
    return 2 if ord(ch) >= 0x2E80 else 1


def wrap_label(text: str, width: int = 16, max_lines: int = 3) -> str:
    """*text* on lines of at most *width* half-width characters (a CJK character counts two),
    broken between words or CJK characters, never inside a Latin word or number; beyond
    *max_lines* the last line ends in an ellipsis."""
    tokens = re.findall(r"[A-Za-z0-9.%+\-/·²³]+|\s+|.", text.strip())
    lines: list[str] = []
    line, w = "", 0
    for tok in tokens:
        tw = sum(_width(c) for c in tok)
        if tok.isspace():
            if line:
                line, w = line + " ", w + 1
            continue
        if w + tw > width and line.strip():
            lines.append(line.rstrip())
            line, w = "", 0
        line, w = line + tok, w + tw
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(1, len(lines[-1]) - 1)] + "…"
    return "\n".join(lines)


def _target_levels(result: Result, pollutant: str, year: int) -> list[tuple[str, float]]:
    """Emission levels (t/a) at which each target on (pollutant, year) is exactly met."""
    ds = result.dataset
    out: list[tuple[str, float]] = []
    if "target" not in ds.dims:
        return out
    for i in range(ds.sizes["target"]):
        if ds["target_pollutant"].values[i] != pollutant or int(ds["target_year"].values[i]) != year:
            continue
        e_y = float(ds["emissions_total"].sel(pollutant=pollutant, year=year))
        out.append((str(ds["target_name"].values[i]), e_y + float(ds["margin"].values[i])))
    return out


def _fmt_t(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}" if abs(x) >= 1 else f"{x:,.2f}"


def zoomed_limits(levels: list[float], pad: float = 0.18) -> tuple[float, float, bool]:
    """(bottom, top, zoomed) of a y axis that shows the differences between *levels*: it starts
    at 0 unless the levels all sit far above 0, where it starts just below the lowest level."""
    lo, hi = min(levels), max(levels)
    span = hi - lo
    if lo > 0 and span < 0.5 * hi:
        span = max(span, 1e-6 * hi)
        return max(0.0, lo - pad * span * 1.5), hi + pad * span, True
    return min(0.0, lo - pad * max(span, 1e-9)), hi + pad * max(span, 1e-9), False


def waterfall(result: Result, pollutant: str, year: int, lang: str = "zh", top: int = 8) -> Any:
    """Base-year emissions -> growth -> each measure -> target-year emissions, with target lines.

    The y axis starts near the lowest level when the bars are large against the changes (it says
    so), each target is one dashed line with one label, and a shortfall is marked by an arrow."""
    setup_fonts()
    import matplotlib.pyplot as plt

    zh = lang == "zh"
    ds = result.dataset
    base_year = int(ds["year"].values[0])
    e0 = float(ds["emissions_total"].sel(pollutant=pollutant, year=base_year))
    b_y = float(ds["baseline_total"].sel(pollutant=pollutant, year=year))
    red = ds["reduction"].sel(pollutant=pollutant, year=year)
    names = dict(zip(ds["measure"].values, ds["measure_name"].values, strict=True))
    order = np.argsort(-np.abs(red.values))
    steps: list[tuple[str, float]] = [(("新增量" if zh else "growth"), b_y - e0)]
    shown = [i for i in order if abs(red.values[i]) > 0][:top]
    for i in shown:
        steps.append((str(names[red["measure"].values[i]]), -float(red.values[i])))
    rest = float(red.values.sum() - red.values[shown].sum()) if len(shown) else float(red.values.sum())
    if abs(rest) > 1e-9:
        steps.append((("其他措施" if zh else "other measures"), -rest))
    n_bars = len(steps) + 2
    fig, ax = plt.subplots(figsize=(max(8.0, 1.05 * n_bars + 1.5), 4.8), dpi=DPI)
    levels = [e0]
    level = e0
    for _, delta in steps:
        level += delta
        levels.append(level)
    targets = _target_levels(result, pollutant, year)
    bottom, top_y, zoomed = zoomed_limits(levels + [lv for _, lv in targets])
    x = 0
    ax.bar(x, e0 - bottom, bottom=bottom, color="#7f7f7f")
    labels = [f"{base_year}{'年排放' if zh else ' emissions'}"]
    level = e0
    for name, delta in steps:
        x += 1
        ax.bar(x, delta, bottom=level, color="#d62728" if delta > 0 else "#2ca02c")
        ax.annotate(("+" if delta > 0 else "−") + _fmt_t(abs(delta)), (x, max(level, level + delta)), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7)
        level += delta
        labels.append(name)
    x += 1
    ax.bar(x, level - bottom, bottom=bottom, color="#1f77b4")
    labels.append(f"{year}{'年排放' if zh else ' emissions'}")
    span = top_y - bottom
    for k, (name, lv) in enumerate(targets):
        ax.axhline(lv, color="black", linestyle="--", linewidth=1)
        ax.annotate(wrap_label(f"{'目标' if zh else 'target'}：{name}" if zh else f"target: {name}", 40, 2), (-0.45, lv),
                    xytext=(0, 3 + 12 * k), textcoords="offset points", ha="left", va="bottom", fontsize=7,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9})
        gap = level - lv
        if gap > 1e-9 * max(abs(level), 1.0):
            ax.annotate("", xy=(x + 0.5, lv), xytext=(x + 0.5, level),
                        arrowprops={"arrowstyle": "<->", "color": "#d62728", "linewidth": 1.2})
            ax.text(x + 0.55, (lv + level) / 2, f"{'缺口' if zh else 'gap'}\n{_fmt_t(gap)}", color="#d62728", fontsize=7, va="center")
    ax.set_xlim(-0.6, x + 1.2)
    ax.set_ylim(bottom, top_y + 0.06 * span)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([wrap_label(lb, 10, 4) for lb in labels], fontsize=7)
    unit = "吨/年" if zh else "t/a"
    ylabel = f"{display(pollutant, lang)}（{unit}）" if zh else f"{display(pollutant, lang)} ({unit})"
    if zoomed:
        ylabel += "，纵轴未从零开始" if zh else ", axis not from zero"
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(_thousands())
    title = f"{display(pollutant, lang)}：{base_year}—{year}年排放变化" if zh else f"{display(pollutant, lang)}: emissions {base_year}-{year}"
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:,.0f}" if abs(v) >= 10 else f"{v:,.2g}")


def margin_distribution(result: Result, target: str, lang: str = "zh") -> Any:
    """Histogram of a target's margin over the Monte Carlo samples, with P(met)."""
    setup_fonts()
    import matplotlib.pyplot as plt

    ds = result.dataset
    m = ds["margin_sample"].sel(target=target).values
    p = float(ds["probability"].sel(target=target))
    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=DPI)
    ax.hist(m, bins=50, color="#1f77b4", alpha=0.8)
    ax.axvline(0, color="black", linewidth=1)
    name = str(ds["target_name"].sel(target=target).values)
    if lang == "zh":
        ax.set_xlabel("余量（吨）：实现减排量 − 要求减排量")
        ax.set_ylabel("样本数")
        ax.set_title(wrap_label(f"{name}：达标概率 P = {p:.0%}", 56, 2), fontsize=10)
    else:
        ax.set_xlabel("margin (t): achieved - required")
        ax.set_ylabel("samples")
        ax.set_title(f"{name}: P(met) = {p:.0%}")
    fig.tight_layout()
    return fig


def _saver(make: Callable[[], Any]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import matplotlib.pyplot as plt

        fig = make()
        fig.savefig(path, dpi=DPI)
        plt.close(fig)

    return write


def figure_writers(result: Result, lang: str = "zh") -> dict[str, Callable[[Path], None]]:
    """Writers for the run's figures/: one waterfall per targeted (pollutant, year), margins."""
    ds = result.dataset
    pairs: list[tuple[str, int]] = []
    if "target" in ds.dims:
        for p, y in zip(ds["target_pollutant"].values, ds["target_year"].values, strict=True):
            if (str(p), int(y)) not in pairs:
                pairs.append((str(p), int(y)))
    if not pairs:
        last = int(max(result.scenario.years))
        pairs = [(str(p), last) for p in ds["pollutant"].values]
    out: dict[str, Callable[[Path], None]] = {}
    for p, y in pairs:
        out[f"figures/waterfall_{p}_{y}.png"] = _saver(partial(waterfall, result, p, y, lang))
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
        path = folder / f"{key}.png"
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
    for t in ds["target"].values:
        da = ds[var].sel(target=t)
        name = str(ds["target_name"].sel(target=t).values)
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
        path = folder / f"sweep_{t}.png"
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
