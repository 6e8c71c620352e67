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

import math
from dataclasses import dataclass
from pathlib import Path

from sim.core.errors import InputError, Problem, UnitError
from sim.core.units import Q_, parse_unit
from sim.model.textio import csv_records, decode, read_source, table_rows
from sim.model.yamlio import MAX_INPUT_BYTES

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
    from sim.model.coefficients import default_coefficients_dir

    return default_coefficients_dir() / "response" / "pm25_response.csv"


def _num(text: str, what: str, problems: list[Problem], file: str, line: int) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        v = float(text)
    except ValueError:
        problems.append(Problem(f"{what} {text!r} is not a number", file, line, what))
        return None
    if not math.isfinite(v):
        problems.append(Problem(f"{what} {text!r} must be a finite number", file, line, what))
        return None
    return v


def read_response(path: str | Path, region: str, fallback: str = "全国") -> AirResponse:
    """Rows for *region* from a response CSV; precursors it lacks come from *fallback*."""
    name = str(path)
    raw = read_source(path, "PM2.5 response file", MAX_INPUT_BYTES)
    records = csv_records(decode(raw, name, "PM2.5 response file", ("utf-8-sig",), "save it as UTF-8 CSV"), name)
    problems: list[Problem] = []
    if not records or tuple(h.strip() for h in records[0][1]) != COLUMNS:
        raise InputError(Problem(f"columns must be {', '.join(COLUMNS)}", name, 1))
    rows: list[ResponseRow] = []
    for i, rec in table_rows(records, COLUMNS, name, problems):
        n0 = len(problems)
        prec, form = rec["precursor"], rec["form"]
        if prec not in (*PRECURSORS, "base"):
            problems.append(Problem(f"precursor {prec!r} must be one of {', '.join(PRECURSORS)} or base", name, i, "precursor"))
        if form not in ("share", "coefficient", "concentration") or (prec == "base") != (form == "concentration"):
            problems.append(Problem("form is 'concentration' for the base row, 'share' or 'coefficient' for a precursor", name, i, "form"))
        want = {"share": "dimensionless", "coefficient": "ug/m**3/(t/a)", "concentration": "ug/m**3"}.get(form)
        scale = 1.0
        try:
            unit = parse_unit(rec["unit"])
            if want:
                scale = float(Q_(1, unit).to(want).magnitude)
        except (UnitError, Exception):
            problems.append(Problem(f"unit {rec['unit']!r} does not fit form {form!r}", name, i, "unit"))
        if not rec["source"]:
            problems.append(Problem("source is empty", name, i, "source"))
        value = _num(rec["value"], "value", problems, name, i)
        low = _num(rec["low"], "low", problems, name, i)
        high = _num(rec["high"], "high", problems, name, i)
        if value is not None and low is not None and high is not None and not low <= value <= high:
            problems.append(Problem("need low <= value <= high", name, i, "low"))
        for what, x in (("value", value), ("low", low), ("high", high)):
            if x is not None and form == "share" and not 0 <= x * scale <= 1:
                problems.append(Problem(f"a share lies between 0 and 1 (0% to 100%), got {what} {x:g}{'' if rec['unit'] in ('', '1', '-') else ' ' + rec['unit']}", name, i, what))
            elif x is not None and x < 0:
                problems.append(Problem(f"{what} must not be negative, got {x:g}", name, i, what))
        if rec["year"] and not (rec["year"].isdigit() and 1900 <= int(rec["year"]) <= 2100):
            problems.append(Problem(f"year {rec['year']!r} must be a year such as 2021, or empty", name, i, "year"))
        if len(problems) == n0 and value is not None:
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
        from sim.core.errors import did_you_mean

        raise InputError(Problem(f"no rows for region {region!r}{did_you_mean(region, regions)}; regions in the file: {', '.join(regions)}", name))
    return AirResponse(region, base, precursors, name)
