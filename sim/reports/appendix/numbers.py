"""Numbers as planners write them: 吨 and 万吨, thousands separators, sensible decimals.

Every number in the appendix goes through these functions, so the DOCX, HTML and Markdown
outputs (built from one content model) show the same text. :func:`parse_number` reads a
formatted number back (tests compare tables with results.nc through it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "MassUnit",
    "decimals_for",
    "fmt_amount",
    "fmt_in",
    "fmt_number",
    "fmt_pct",
    "fmt_probability",
    "fmt_sig",
    "mass_unit",
    "parse_number",
]

DASH = "—"
# a column switches to 万吨 when its largest value reaches 10万吨 (100,000 t)
WAN_THRESHOLD = 1e5


@dataclass(frozen=True)
class MassUnit:
    """A display unit for tonnes: its label and how many tonnes one display unit holds."""

    label: str
    factor: float
    wan: bool = False


def decimals_for(x: float, wan: bool = False) -> int:
    """Decimals for one value: 3,895 / 65.7 / 5.4 / 0.32 (吨); 11.44 / 0.123 (万吨)."""
    ax = abs(x)
    if ax == 0 or not math.isfinite(ax):
        return 0
    if wan:
        if ax >= 1:
            return 2
        return min(4, max(2, 2 - math.floor(math.log10(ax))))
    if ax >= 100:
        return 0
    if ax >= 1:
        return 1
    if ax >= 0.01:
        return 2
    return min(4, 2 - math.floor(math.log10(ax)))


def fmt_number(x: float, decimals: int | None = None, wan: bool = False) -> str:
    """A number with thousands separators and *decimals* (chosen by size when None)."""
    if x is None or not math.isfinite(x):
        return DASH
    d = decimals_for(x, wan) if decimals is None else decimals
    text = f"{x:,.{d}f}"
    if re.fullmatch(r"-0(\.0*)?", text):
        text = text[1:]
    return text


def mass_unit(values: list[float], lang: str = "zh", per_year: bool = False) -> MassUnit:
    """One display unit for a column of tonnes: 万吨 when its largest value is ≥ 10万吨 (zh)."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    big = bool(finite) and max(finite) >= WAN_THRESHOLD
    if lang == "zh":
        base = "万吨" if big else "吨"
        return MassUnit(base + ("/年" if per_year else ""), 1e4 if big else 1.0, big)
    return MassUnit("t/a" if per_year else "t", 1.0, False)


def fmt_in(x: float, unit: MassUnit) -> str:
    """*x* tonnes in the display unit (the unit itself goes in the column header)."""
    if x is None or not math.isfinite(x):
        return DASH
    return fmt_number(x / unit.factor, wan=unit.wan)


def fmt_amount(x: float, lang: str = "zh") -> str:
    """Tonnes in running text: ``3,895吨``, ``11.44万吨``; ``3,895 t`` in English."""
    if lang == "zh":
        if abs(x) >= WAN_THRESHOLD:
            text = fmt_number(x / 1e4, wan=True)
            return f"{text.rstrip('0').rstrip('.') if '.' in text else text}万吨"
        return f"{fmt_number(x)}吨"
    return f"{fmt_number(x)} t"


def fmt_pct(share: float, decimals: int | None = None) -> str:
    """A share as a percentage: 0.1 -> ``10%``, 0.085 -> ``8.5%``, 0.0123 -> ``1.2%``."""
    if share is None or not math.isfinite(share):
        return DASH
    pct = share * 100
    if decimals is None:
        decimals = 0 if abs(pct - round(pct)) < 1e-9 else (1 if abs(pct) >= 1 else 2)
    text = f"{pct:,.{decimals}f}%"
    return text[1:] if re.fullmatch(r"-0(\.0*)?%", text) else text


def fmt_probability(p: float) -> str:
    """P(met) in whole percent; ``<1%`` and ``>99%`` instead of a misleading 0% or 100%."""
    if p is None or not math.isfinite(p):
        return DASH
    if p <= 0:
        return "0%"
    if p >= 1:
        return "100%"
    if p < 0.01:
        return "<1%"
    if p > 0.99:
        return ">99%"
    return f"{round(p * 100):.0f}%"


_NUM = re.compile(r"^[<>]?-?[\d,]*\.?\d+%?$")


def parse_number(text: str) -> tuple[float, float] | None:
    """(value, half of the last shown digit) of a formatted number; None for text or a dash.

    ``"3,895"`` -> (3895, 0.5); ``"65.7"`` -> (65.7, 0.05); ``"10%"`` -> (0.1, 0.005).
    """
    t = text.strip().replace("\u2212", "-")
    if not t or t == DASH or not _NUM.match(t):
        return None
    pct = t.endswith("%")
    core = t.lstrip("<>").rstrip("%").replace(",", "")
    value = float(core)
    decimals = len(core.split(".")[1]) if "." in core else 0
    tol = 0.5 * 10.0 ** (-decimals)
    if pct:
        return value / 100, tol / 100
    return value, tol


def fmt_sig(x: float, sig: int = 4) -> str:
    """A coefficient value with *sig* significant digits: 1,071 / 45.9 / 0.0252."""
    if x is None or not math.isfinite(x):
        return DASH
    if x == 0:
        return "0"
    d = max(0, sig - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{d}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
