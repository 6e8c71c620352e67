"""Charts (matplotlib, Agg) with Chinese labels that render after a pip-only install.

The CJK font is Noto Sans CJK SC (SIL Open Font License), shipped inside the ``mplfonts``
package on PyPI; it is registered with matplotlib's font manager, never installed system-wide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core import safe
from sim.core.pollutants import display
from sim.core.units import shown

if TYPE_CHECKING:  # a chart reads only a run's Dataset: a chart worker imports no more than this module
    from sim.evaluation.evaluate import Result

__all__ = ["CJK_FONT", "DPI", "Drawn", "concentration_chart", "figure_writers", "margin_distribution", "save_png", "setup_fonts", "waterfall",
           "wrap_label"]

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


def new_figure(figsize: tuple[float, float]) -> tuple[Any, Any]:
    """(figure, axes) at :data:`DPI` on an Agg canvas, without pyplot: no global figure registry,
    so nothing to close (the garbage collector frees the figure like any other object)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_png(fig: Any, path: Path) -> None:
    """Write *fig* as a PNG at :data:`DPI`, as ``savefig`` would, in half the encoding time.

    The pixels are matplotlib's (Agg); an opaque figure is stored as RGB rather than RGBA (a quarter
    fewer bytes to compress) with zlib level 3: ~35 ms instead of ~70 ms a chart, and a smaller file.
    A figure at another dpi, or with transparent pixels, goes through ``savefig``.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image, PngImagePlugin

    if fig.dpi != DPI:
        fig.savefig(path, dpi=DPI)
        return
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    w, h = canvas.get_width_height(physical=True)
    rgba = Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    if rgba.getchannel("A").getextrema()[0] != 255:  # some pixel not opaque
        fig.savefig(path, dpi=DPI)
        return
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")
    rgba.convert("RGB").save(path, format="png", compress_level=3, dpi=(DPI, DPI), pnginfo=info)


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


def _target_levels(result: Result | Drawn, pollutant: str, year: int) -> list[tuple[str, float]]:
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
    return (0.0 if lo >= 0 else lo - pad * max(span, 1e-9)), max(hi, 0.0) + pad * max(span, 1e-9), False


def waterfall(result: Result | Drawn, pollutant: str, year: int, lang: str = "zh", top: int = 8) -> Any:
    """Base-year emissions -> growth -> each measure -> target-year emissions, with target lines.

    The y axis starts near the lowest level when the bars are large against the changes (it says
    so), each target is one dashed line with one label, and a shortfall is marked by an arrow."""
    setup_fonts()

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
    fig, ax = new_figure((max(8.0, 1.05 * n_bars + 1.5), 4.8))
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
        if abs(delta) >= 0.005:
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
            ax.text(x + 0.55, (lv + level) / 2, f"{'缺口' if zh else 'gap'}\n{_fmt_t(gap)}{'吨' if zh else ' t'}", color="#d62728", fontsize=7, va="center")
    ax.set_xlim(-0.6, x + 1.2)
    ax.set_ylim(bottom, top_y + 0.06 * span)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([wrap_label(lb, 12, 5) for lb in labels], fontsize=7)
    unit = "吨/年" if zh else "t/a"
    note = ("；纵轴未从零开始" if zh else "; axis not from zero") if zoomed else ""
    ylabel = f"{display(pollutant, lang)}（{unit}{note}）" if zh else f"{display(pollutant, lang)} ({unit}{note})"
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(_thousands())
    title = f"{display(pollutant, lang)}：{base_year}—{year}年排放变化" if zh else f"{display(pollutant, lang)}: emissions {base_year}-{year}"
    ax.set_title(title)
    fig.tight_layout()
    return fig


def concentration_chart(result: Result | Drawn, target: str, lang: str = "zh") -> Any:
    """A concentration target: base-year PM2.5 -> each precursor's response -> projected, target line (µg/m³)."""
    setup_fonts()

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
    fig, ax = new_figure((max(6.0, 1.2 * (len(steps) + 2) + 1.5), 4.5))
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


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:,.0f}" if abs(v) >= 10 else f"{v:,.2g}")


def margin_distribution(result: Result | Drawn, target: str, lang: str = "zh") -> Any:
    """Histogram of a target's margin over the Monte Carlo samples, with P(met)."""
    setup_fonts()

    ds = result.dataset
    m = ds["margin_sample"].sel(target=target).values
    p = float(ds["probability"].sel(target=target))
    fig, ax = new_figure((6.5, 4.2))
    ax.hist(m, bins=50, color="#1f77b4", alpha=0.8)
    ax.axvline(0, color="black", linewidth=1)
    name = str(ds["target_name"].sel(target=target).values)
    conc = str(ds["target_unit"].sel(target=target).values) != "t"
    unit_zh, unit_en = ("µg/m³", "µg/m³") if conc else ("吨", "t")
    if lang == "zh":
        ax.set_xlabel(f"余量（{unit_zh}）：{'目标浓度 − 预计浓度' if conc else '实现减排量 − 要求减排量'}")
        ax.set_ylabel("样本数")
        ax.set_title(wrap_label(f"{name}：达标概率 P = {p:.0%}", 56, 2), fontsize=10)
    else:
        ax.set_xlabel(f"margin ({unit_en}): {'target - projected concentration' if conc else 'achieved - required'}")
        ax.set_ylabel("samples")
        ax.set_title(f"{name}: P(met) = {p:.0%}")
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Drawn:
    """What a run's charts read: its Dataset (small to pickle to a chart worker, unlike the Result)."""

    dataset: Any


def _write_chart(make: Callable[..., Any], args: tuple[Any, ...], path: Path) -> None:
    fig = make(*args)
    save_png(fig, path)


def figure_writers(result: Result, lang: str = "zh") -> dict[str, Callable[[Path], None]]:
    """Writers for the run's figures/: one waterfall per targeted (pollutant, year), margins.

    Each writer is a picklable ``partial`` over the run's Dataset alone, so a worker process
    that has imported only this module and matplotlib can draw it."""
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
    drawn = Drawn(ds)
    out: dict[str, Callable[[Path], None]] = {}
    for p, y in pairs:
        out[f"figures/waterfall_{p}_{y}.png"] = partial(_write_chart, waterfall, (drawn, p, y, lang))
    for t in conc:
        out[f"figures/concentration_{t}.png"] = partial(_write_chart, concentration_chart, (drawn, t, lang))
    if "margin_sample" in ds:
        for t in ds["target"].values:
            out[f"figures/margin_{t}.png"] = partial(_write_chart, margin_distribution, (drawn, str(t), lang))
    return out


def _margin_panel(ax: Any, cmp: Any, labels: list[str], targets: list[str], tonnes: bool, zh: bool, percent: Any,
                  legend: bool) -> None:
    """Grouped bars of the margins of *targets* (all in tonnes, or all in µg/m³) by scenario;
    as a share of each requirement when the requirements differ in size (a 80 t shortfall next
    to a 4,000 t margin would vanish in tonnes)."""
    required = np.array([[float(cmp["required"].sel(scenario=s, target=t)) if "required" in cmp else np.nan for t in targets] for s in labels])
    margins = np.array([[float(cmp["margin"].sel(scenario=s, target=t)) for t in targets] for s in labels])
    req = np.abs(required)  # each scenario's margin over its own requirement (cities may share a target id)
    has = np.isfinite(margins)
    share = bool(has.any() and np.all(np.isfinite(req[has])) and np.all(req[has] > 0) and req[has].max() > 3 * req[has].min())
    unit = ("吨" if zh else " t") if tonnes else " µg/m³"
    width = 0.8 / len(labels)
    for i, s in enumerate(labels):
        with np.errstate(invalid="ignore", divide="ignore"):
            vals = margins[i] / req[i] if share else margins[i]
        bars = ax.bar(np.arange(len(targets)) + i * width, vals, width, label=s)
        for b, v, m in zip(bars, vals, margins[i], strict=True):
            if m < 0:
                b.set_hatch("//")
                b.set_edgecolor("#d62728")
                gap = _fmt_t(-m) if tonnes else f"{-m:.1f}"
                ax.annotate(f"{'缺口' if zh else 'gap'} {gap}{unit}", (b.get_x() + b.get_width() / 2, v),
                            xytext=(0, -3), textcoords="offset points", ha="center", va="top", fontsize=7, color="#d62728")
    ax.axhline(0, color="black", linewidth=1)
    ax.set_xticks(np.arange(len(targets)) + width * (len(labels) - 1) / 2)
    ax.set_xticklabels([wrap_label(str(cmp["target_name"].sel(target=t).values), 14, 3) for t in targets], fontsize=7)
    if share:
        ax.yaxis.set_major_formatter(percent(1.0))
        ax.set_ylabel("余量占要求的比例" if zh else "margin as a share of the requirement")
    elif tonnes:
        ax.set_ylabel("余量（吨）" if zh else "margin (t)")
    else:
        ax.set_ylabel("浓度余量（µg/m³）" if zh else "concentration margin (µg/m³)")
    if legend:
        ax.legend(fontsize=7, loc="best")


def comparison_figures(cmp: Any, waterfalls: dict[str, Any], folder: Path, lang: str = "zh") -> list[Path]:
    """Margins by scenario per target (grouped bars) and A->B waterfalls, as PNGs in *folder*.

    Margins are drawn as a share of each target's requirement when the targets differ in
    size (a 80 t shortfall next to a 4,000 t margin would vanish in tonnes)."""
    setup_fonts()
    from matplotlib.ticker import PercentFormatter

    from sim.analyses.compare import step_label

    zh = lang == "zh"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    labels = [str(s) for s in cmp["scenario"].values]
    if "target" in cmp.dims:
        targets = [str(t) for t in cmp["target"].values]
        units = [str(u) for u in cmp["target_unit"].values] if "target_unit" in cmp.coords else ["t"] * len(targets)
        # one panel per unit: tonnes and µg/m³ never share an axis
        panels = [[i for i, u in enumerate(units) if (u == "t") == tonnes] for tonnes in (True, False)]
        panels = [p for p in panels if p]
        fig, _ = new_figure((max(7.0, 1.6 * len(targets) + 2 + 1.5 * (len(panels) - 1)), 4.8))
        fig.clear()
        grid = fig.add_gridspec(1, len(panels), width_ratios=[max(1, len(p)) for p in panels])
        for k, idx in enumerate(panels):
            _margin_panel(fig.add_subplot(grid[0, k]), cmp, labels, [targets[i] for i in idx], units[idx[0]] == "t", zh,
                          PercentFormatter, legend=k == 0)
        fig.suptitle("各情景目标余量比较（阴影为未达标）" if zh else "target margins by scenario (hatched: not met)")
        fig.tight_layout()
        path = folder / "margins.png"
        save_png(fig, path)
        written.append(path)
    for key, wf in waterfalls.items():
        fig, ax = new_figure((max(7.0, 1.1 * len(wf) + 1.5), 4.8))
        prev = 0.0
        lv = [float(v) for v in wf["level"]]
        bottom, top_y, zoomed = zoomed_limits(lv)
        for i, r in enumerate(wf.itertuples()):
            if r.delta != r.delta:  # the two end bars
                ax.bar(i, r.level - bottom, bottom=bottom, color="#1f77b4")
            else:
                ax.bar(i, r.delta, bottom=prev, color="#d62728" if r.delta > 0 else "#2ca02c")
            prev = r.level
        ax.set_ylim(bottom, top_y)
        ax.set_xticks(range(len(wf)))
        ax.set_xticklabels([wrap_label(step_label(str(s), labels, lang), 12, 5) for s in wf["step"]], fontsize=7)
        note = ("；纵轴未从零开始" if zh else "; axis not from zero") if zoomed else ""
        ylabel = f"排放（吨/年{note}）" if zh else f"emissions (t/a{note})"
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(_thousands())
        pollutant, _, year = key.removeprefix("waterfall_").rpartition("_")
        names = [str(n) for n, p, y in zip(cmp["target_name"].values, cmp["target_pollutant"].values, cmp["target_year"].values, strict=True)
                 if str(p) == pollutant and str(int(y)) == year] if "target" in cmp.dims else []
        what = "、".join(names) if names and zh else ", ".join(names) if names else f"{display(pollutant, lang)} {year}"
        title = f"{labels[0]} → {labels[1]}：{what}" if zh else f"{labels[0]} → {labels[1]}: {what}"
        ax.set_title(wrap_label(title, 70, 2), fontsize=10)
        fig.tight_layout()
        path = folder / f"{safe.path_part(key, 'waterfall')}.png"
        save_png(fig, path)
        written.append(path)
    return written


def macc(table: Any, pollutant: str, lang: str = "zh") -> Any:
    """Marginal abatement cost curve: bars ordered by 元/t, width = potential reduction (t/a);
    the chosen part of a bar dark, the rest light (a measure chosen in part shows as part)."""
    setup_fonts()

    zh = lang == "zh"
    n = len(table)
    fig, ax = new_figure((max(8.0, 0.9 * n + 3), 5.2))
    x = 0.0
    top = max([float(v) for v in table["cost_per_t"]] + [1.0])
    for k, r in enumerate(table.itertuples()):
        pot, chosen = float(r.potential_reduction), max(0.0, min(float(r.chosen_reduction), float(r.potential_reduction)))
        ax.bar(x, r.cost_per_t, width=pot, align="edge", edgecolor="white", color="#c7d7ea")
        if chosen > 0:
            ax.bar(x, r.cost_per_t, width=chosen, align="edge", edgecolor="white", color="#1f77b4")
        part = "" if chosen >= pot - 1e-9 or chosen <= 0 else (f"（选用{chosen / pot:.0%}）" if zh else f" ({chosen / pot:.0%} chosen)")
        ax.annotate(wrap_label(str(r.name) + part, 14, 6), (x + pot / 2, r.cost_per_t), xytext=(0, 3 + 10 * (k % 2)),
                    textcoords="offset points", ha="center", va="bottom", fontsize=6.5)
        x += pot
    ax.set_ylim(0, top * 1.45)  # room for the labels under the title
    unit_x = "吨/年" if zh else "t/a"
    ax.set_xlabel(f"{display(pollutant, lang)}{'减排潜力' if zh else ' abatement potential'}（{unit_x}）" if zh else f"{display(pollutant, lang)} abatement potential ({unit_x})")
    ax.set_ylabel("边际减排成本（元/吨）" if zh else "marginal abatement cost (CNY/t)")
    ax.yaxis.set_major_formatter(_thousands())
    ax.set_title(f"{display(pollutant, lang)}{'边际减排成本曲线（深色为选用部分）' if zh else ' MACC (dark: chosen part)'}", pad=10)
    fig.tight_layout()
    return fig


def input_names(model: Any, lang: str = "zh") -> dict[str, str]:
    """Readable names of a model's inputs, by parameter name (``coef:key``, ``completion:m``) and by
    sweep path (``measures.m.quantity``): coefficients by their description, measures and pools by name."""
    zh = lang == "zh"
    out: dict[str, str] = {}
    for name, p in model.params.items():
        kind, _, key = name.partition(":")
        if kind == "coef" and key in model.library:
            c = model.library[key]
            out[name] = str((c.description_zh or c.description_en) if zh else (c.description_en or c.description_zh) or key)
            out[f"coefficients.{key}"] = out[name]
        elif p.label:
            out[name] = str(p.label)
    fields = {"quantity": "工程量", "completion": "完成率", "share": "覆盖比例"} if zh else {"quantity": "quantity", "completion": "completion", "share": "share"}
    for mid, mname in zip(model.measures, model.measure_names, strict=True):
        for f, label in fields.items():
            out[f"measures.{mid}.{f}"] = f"{mname} {label}"
    for pid, pname in zip(model.pools, model.pool_names, strict=True):
        out[f"growth.{pid}"] = f"{pname} {'增长率' if zh else 'growth'}"
    for t in model.scenario.targets:
        out[f"targets.{t.id}.value"] = f"{t.name or t.id} {'目标值' if zh else 'target value'}"
    return out


def sweep_figures(ds: Any, folder: Path, lang: str = "zh", names: Mapping[str, str] | None = None) -> list[Path]:
    """Line charts (one swept input) or heat maps (two or more: the first two) of each target's margin.

    P(met) is drawn on a fixed 0–1 scale (0.8 is never the darkest green) and a margin on a
    scale centred on zero, each with its colour bar; inputs by name (*names*: path -> name)."""
    setup_fonts()
    from matplotlib.colors import TwoSlopeNorm

    zh = lang == "zh"
    names = names or {}
    folder.mkdir(parents=True, exist_ok=True)
    dims = [d for d in ds["margin"].dims if d != "target"]
    written = []
    var = "probability" if "probability" in ds else "margin"
    label = ("达标概率 P(met)" if zh else "P(met)") if var == "probability" else ("余量" if zh else "margin")
    base_label = label

    def axis_label(d: str) -> str:
        unit = shown(str(ds[d].attrs.get("units", "") or ""))
        text = names.get(d, d)
        return wrap_label(f"{text}（{unit}）" if unit and zh else f"{text} ({unit})" if unit else text, 60, 2)

    for t in ds["target"].values:
        da = ds[var].sel(target=t)
        name = str(ds["target_name"].sel(target=t).values)
        if var == "margin":  # each target in its own unit
            conc = "target_unit" in ds.coords and str(ds["target_unit"].sel(target=t).values) != "t"
            label = f"{base_label} ({'µg/m³' if conc else ('吨' if lang == 'zh' else 't')})"
        if len(dims) == 1:
            fig, ax = new_figure((6.5, 4.2))
            ax.plot(ds[dims[0]].values, da.values, marker="o", markersize=3)
            ax.axhline(0.5 if var == "probability" else 0.0, color="black", linewidth=1, linestyle="--")
            if var == "probability":
                ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel(axis_label(dims[0]))
            ax.set_ylabel(label)
        else:
            others = {o: int(np.abs(ds[o].values - ds[o].attrs.get("central", ds[o].values[0])).argmin()) for o in dims[2:]}
            grid = da.isel(others).transpose(dims[1], dims[0]).values
            fig, ax = new_figure((7.0, 4.8))
            if var == "probability":
                mesh = ax.pcolormesh(ds[dims[0]].values, ds[dims[1]].values, grid, shading="auto", cmap="RdYlGn", vmin=0.0, vmax=1.0)
            else:
                lo, hi = float(np.nanmin(grid)), float(np.nanmax(grid))
                span = max(abs(lo), abs(hi), 1e-9)
                norm = TwoSlopeNorm(0.0, min(lo, -1e-9 * span) if lo < 0 else -span, max(hi, 1e-9 * span) if hi > 0 else span)
                mesh = ax.pcolormesh(ds[dims[0]].values, ds[dims[1]].values, grid, shading="auto", cmap="RdYlGn", norm=norm)
            level = 0.5 if var == "probability" else 0.0
            if np.nanmin(grid) < level < np.nanmax(grid):
                ax.contour(ds[dims[0]].values, ds[dims[1]].values, grid, levels=[level], colors="black")
            fig.colorbar(mesh, ax=ax, label=label)
            ax.set_xlabel(axis_label(dims[0]))
            ax.set_ylabel(axis_label(dims[1]))
        ax.set_title(wrap_label(name, 50, 2), fontsize=10)
        fig.tight_layout()
        path = folder / f"sweep_{safe.path_part(t, 'target')}.png"
        save_png(fig, path)
        written.append(path)
    return written


def sensitivity_figure(df: Any, method: str, target: str, path: Path, lang: str = "zh", top: int = 15,
                       names: Mapping[str, str] | None = None, target_name: str | None = None) -> Path:
    """Tornado bars, Sobol S1/ST with confidence intervals, or Morris mu*-sigma: inputs by name
    (*names*: parameter -> name), those without effect left out (no empty rows)."""
    setup_fonts()

    zh = lang == "zh"
    names = names or {}
    effect = {"tornado": "swing", "sobol": "ST", "morris": "mu_star"}.get(method)
    d = df
    if effect in df.columns:  # Sobol estimates scatter around zero: below 0.005 counts as none
        d = df[np.abs(df[effect].astype(float)) > (0.005 if method == "sobol" else 1e-9)]
    d = d.head(top)
    key_col = "input" if "input" in d.columns else d.columns[0]
    fig, ax = new_figure((7.5, max(2.6, 0.42 * len(d) + 1.6)))
    labels = [wrap_label(names.get(str(k), str(lb)), 30, 2) for k, lb in zip(d[key_col], d["label"] if "label" in d.columns else d[key_col], strict=True)]
    yy = np.arange(len(d))[::-1]
    tname = target_name or target
    if not len(d):
        ax.text(0.5, 0.5, "各输入对该目标余量均无影响" if zh else "no input moves this margin", ha="center", va="center", transform=ax.transAxes)
    elif method == "tornado":
        c = float(d["margin_central"].iloc[0])
        ax.barh(yy, d["margin_at_low"] - c, left=c, color="#d62728", label="取下限" if zh else "low")
        ax.barh(yy, d["margin_at_high"] - c, left=c, color="#2ca02c", label="取上限" if zh else "high")
        ax.axvline(c, color="black", linewidth=1)
        ax.axvline(0, color="grey", linewidth=1, linestyle="--")
        ax.set_xlabel("目标余量（吨）" if zh else "margin (t)")
        ax.xaxis.set_major_formatter(_thousands())
    elif method == "sobol":
        ax.barh(yy + 0.2, d["ST"], height=0.4, xerr=d["ST_conf"], label="ST 总效应" if zh else "ST")
        ax.barh(yy - 0.2, d["S1"], height=0.4, xerr=d["S1_conf"], label="S1 一阶效应" if zh else "S1")
        ax.set_xlabel("Sobol 指数" if zh else "Sobol index")
    else:
        ax.barh(yy, d["mu_star"], xerr=d["mu_star_conf"], label="μ*")
        ax.set_xlabel("Morris μ*")
    ax.set_yticks(yy)
    ax.set_yticklabels(labels, fontsize=8)
    if len(d):
        ax.legend(fontsize=8)
    what = {"tornado": "龙卷风排序", "sobol": "Sobol 指数", "morris": "Morris 筛选"}.get(method, method) if zh else method
    ax.set_title(wrap_label(f"{'敏感性分析' if zh else 'sensitivity'}（{what}）：{tname}" if zh else f"sensitivity ({what}): {tname}", 60, 2), fontsize=10)
    fig.tight_layout()
    save_png(fig, path)
    return path
