"""PM2.5 concentration response: from a city's emission changes to its annual mean (µg/m³).

Linear-response assumption (stated wherever results are reported)::

    C[y] = C_base - sum_p alpha_p * (E[p, base] - E[p, y])

with alpha_p either a response coefficient (µg/m³ per t/a) or, from a source-apportionment
share, alpha_p = C_base * share_p / E[p, base]. Valid for small changes around the base year,
for the city's own emissions only: secondary aerosol chemistry is nonlinear, regional transport
and weather are held fixed, and an inventory that misses part of a precursor's emissions
overstates the response to the part it has.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from sim.errors import InputError, Problem, UnitError
from sim.units import Q_, parse_unit

__all__ = ["ASSUMPTION_EN", "ASSUMPTION_ZH", "PRECURSORS", "AirResponse", "ResponseRow", "default_response_file", "read_response"]

PRECURSORS = ("SO2", "NOx", "NH3", "VOCs", "PM25")
COLUMNS = ("region", "precursor", "form", "value", "unit", "low", "high", "year", "source", "note")
ASSUMPTION_ZH = ("PM2.5浓度按线性响应估算：ΔC = Σ α_p·ΔE_p（α_p 由源解析分担率或响应系数给出），仅计本地排放变化，"
                 "不考虑二次气溶胶生成的非线性、区域传输和气象变化，只适用于基准年附近的小幅变化。")
ASSUMPTION_EN = ("PM2.5 follows a linear response: dC = sum_p alpha_p * dE_p (alpha_p from source-apportionment shares "
                 "or response coefficients), local emissions only; nonlinear secondary aerosol chemistry, regional "
                 "transport and weather are not represented; valid for small changes around the base year.")


@dataclass(frozen=True)
class ResponseRow:
    """One row: a precursor's share (fraction) or coefficient (µg/m³ per t/a), or the base concentration."""

    region: str
    precursor: str
    form: str
    value: float
    low: float | None
    high: float | None
    year: int | None
    source: str
    file: str
    line: int


@dataclass
class AirResponse:
    """The response rows of one region (national defaults filling the precursors it lacks)."""

    region: str
    base: ResponseRow | None
    precursors: dict[str, ResponseRow]
    file: str


def default_response_file() -> Path:
    from sim.coefficients import default_coefficients_dir

    return default_coefficients_dir() / "response" / "pm25_response.csv"


def _num(text: str, what: str, problems: list[Problem], file: str, line: int) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        problems.append(Problem(f"{what} {text!r} is not a number", file, line, what))
        return None


def read_response(path: str | Path, region: str, fallback: str = "全国") -> AirResponse:
    """Rows for *region* from a response CSV; precursors it lacks come from *fallback*."""
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise InputError(Problem("PM2.5 response file not found", name))
    problems: list[Problem] = []
    text = p.read_bytes().decode("utf-8-sig", errors="strict") if p.stat().st_size < 10_000_000 else ""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(h.strip() for h in (reader.fieldnames or ())) != COLUMNS:
        raise InputError(Problem(f"columns must be {', '.join(COLUMNS)}", name, 1))
    rows: list[ResponseRow] = []
    for i, rec in enumerate(reader, start=2):
        rec = {k: (v or "").strip() for k, v in rec.items() if k}
        n0 = len(problems)
        prec, form = rec["precursor"], rec["form"]
        if prec not in (*PRECURSORS, "base"):
            problems.append(Problem(f"precursor {prec!r} must be one of {', '.join(PRECURSORS)} or base", name, i, "precursor"))
        if form not in ("share", "coefficient", "concentration") or (prec == "base") != (form == "concentration"):
            problems.append(Problem("form is 'concentration' for the base row, 'share' or 'coefficient' for a precursor", name, i, "form"))
        want = {"share": "dimensionless", "coefficient": "ug/m**3/(t/a)", "concentration": "ug/m**3"}.get(form)
        try:
            unit = parse_unit(rec["unit"])
            if want:
                Q_(1, unit).to(want)
        except (UnitError, Exception):
            problems.append(Problem(f"unit {rec['unit']!r} does not fit form {form!r}", name, i, "unit"))
        if not rec["source"]:
            problems.append(Problem("source is empty", name, i, "source"))
        value = _num(rec["value"], "value", problems, name, i)
        low = _num(rec["low"], "low", problems, name, i)
        high = _num(rec["high"], "high", problems, name, i)
        if value is not None and low is not None and high is not None and not low <= value <= high:
            problems.append(Problem("need low <= value <= high", name, i, "low"))
        if len(problems) == n0 and value is not None:
            scale = float(Q_(1, parse_unit(rec["unit"])).to(want).magnitude) if want else 1.0
            year = int(rec["year"]) if rec["year"].isdigit() else None
            rows.append(ResponseRow(rec["region"], prec, form, value * scale,
                                    None if low is None else low * scale, None if high is None else high * scale,
                                    year, rec["source"], name, i))
    if problems:
        raise InputError(problems)
    mine = {r.precursor: r for r in rows if r.region == region}
    back = {r.precursor: r for r in rows if r.region == fallback}
    base = mine.get("base")
    precursors = {pr: mine.get(pr) or back[pr] for pr in PRECURSORS if pr in mine or pr in back}
    if not mine:
        regions = sorted({r.region for r in rows})
        from sim.coefficients import did_you_mean

        raise InputError(Problem(f"no rows for region {region!r}{did_you_mean(region, regions)}; regions in the file: {', '.join(regions)}", name))
    return AirResponse(region, base, precursors, name)
