"""Emission standards a pool's combustion factors must keep (the library rule behind a run warning).

A boiler pool's emission factor implies a stack concentration: for coal,
``C (mg/m3) = EF (kg/t coal) / 0.01`` at the 9 % O2 reference of GB 13271-2014 (library row
``boiler_coal_conc_to_ef``, ≈ 10 Nm3 dry flue gas per kg coal); for natural gas,
``C = EF (kg/10^4 m3) / 0.11`` at 3.5 % O2 (≈ 10.89 Nm3 flue gas per m3 gas,
``boiler_gas_fluegas_volume``). :func:`check_standards` compares that concentration with the limit
of GB 13271-2014 that applies to the pool (``standard:`` in the inventory: in-use, new or special
limits; boilers default to in-use) and returns one warning per factor above it, naming the
standard, table and limit. Nothing is changed: the run says so, the planner decides.

Pool activity per 蒸吨 (t/h of steam capacity) is turned into fuel with the fuel-use row the
factor itself rests on (``steam_ton_coal_industrial_annual`` and the like, found by walking the
factor's formulas); per t of coal or per m3 of gas the factor is used as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sim.core.units import Q_, parse_quantity, parse_unit
from sim.model.coefficients import Library, formula_names

__all__ = ["GB13271_2014", "KEY_REGION_2_26", "Limit", "check_standards", "implied_concentration", "pool_standard"]

GB = "GB 13271-2014 锅炉大气污染物排放标准"
_TABLE = {"in_use": "表1 在用锅炉", "new": "表2 新建锅炉", "special": "表3 大气污染物特别排放限值"}
_TABLE_EN = {"in_use": "in-use limit", "new": "new-boiler limit", "special": "special limit"}


@dataclass(frozen=True)
class Limit:
    fuel: str  # coal | oil | gas
    period: str  # in_use | new | special
    pollutant: str
    mg_m3: float


# GB 13271-2014 tables 1-3 (mg/m3; coal at 9 % O2, oil and gas at 3.5 % O2). Table 1 coal/oil/gas
# PM 80/60/30 and coal SO2 400 were read on a reproduction of the standard (zglvche.com/sys-nd/843.html,
# also the source of library rows boiler_coal_pm_limit_inuse, boiler_coal_so2_limit_inuse); the other
# cells are those of the library's basis-S rows (boiler_coal_limits_*) and the project reference
# notes (coefficients.md, "Emission limits"). Coal SO2 in use is 550 in 广西、重庆、四川、贵州
# (table 1 note); none of the example cities is there, so 400 applies.
_CELLS = {
    ("coal", "in_use"): {"PM": 80, "SO2": 400, "NOx": 400},
    ("oil", "in_use"): {"PM": 60, "SO2": 300, "NOx": 400},
    ("gas", "in_use"): {"PM": 30, "SO2": 100, "NOx": 400},
    ("coal", "new"): {"PM": 50, "SO2": 300, "NOx": 300},
    ("oil", "new"): {"PM": 30, "SO2": 200, "NOx": 250},
    ("gas", "new"): {"PM": 20, "SO2": 50, "NOx": 200},
    ("coal", "special"): {"PM": 30, "SO2": 200, "NOx": 200},
    ("oil", "special"): {"PM": 30, "SO2": 100, "NOx": 200},
    ("gas", "special"): {"PM": 20, "SO2": 50, "NOx": 150},
}
GB13271_2014: dict[tuple[str, str, str], Limit] = {
    (fuel, period, pol): Limit(fuel, period, pol, float(v))
    for (fuel, period), cells in _CELLS.items() for pol, v in cells.items()
}

# kg of pollutant per unit of fuel for 1 mg/m3 in the flue gas at the standard's O2 reference
_PER_MG = {"coal": Q_(0.01, "kg/t"), "gas": Q_(0.11e-4, "kg/m**3")}  # 0.11 kg/10^4 m3
_FUEL_UNIT = {"coal": "t", "gas": "m**3"}
_FUEL_ROW = {"coal": re.compile(r"^steam_ton_coal_.*annual$"), "gas": re.compile(r"^steam_ton_gas_.*annual$")}
_POLLUTANTS = ("PM", "PM25", "SO2", "NOx")


# 京津冀及周边地区“2+26”城市: special limits (表3) for in-use coal boilers from 2018-10-01
# (环境保护部公告2018年第9号, a secondary citation; the 28 cities are those of the 2017 京津冀及周边地区
# 大气污染防治工作方案, listed from memory: check the 公告 before relying on a city's membership).
KEY_REGION_2_26 = frozenset(
    ["北京", "天津", "石家庄", "唐山", "廊坊", "保定", "沧州", "衡水", "邢台", "邯郸", "太原", "阳泉", "长治", "晋城", "济南", "淄博", "济宁", "德州", "聊城", "滨州", "菏泽", "郑州", "开封", "安阳", "鹤壁", "新乡", "焦作", "濮阳"]
)
SPECIAL_FROM_YEAR = 2019  # first whole year under the special limits


def _key_region(scen: Any) -> bool:
    region = str(getattr(scen, "region", "") or "")
    return any(region.startswith(city) for city in KEY_REGION_2_26) and int(getattr(scen, "base_year", 0)) >= SPECIAL_FROM_YEAR


def pool_standard(pool: Any, scen: Any = None) -> str | None:
    """'in_use' | 'new' | 'special' for a pool subject to GB 13271, else None.

    A boiler pool without a ``standard`` takes the in-use limits, or the special limits when the
    scenario's base year lies after they took effect in its region (a “2+26” city from 2019 on).
    """
    std = getattr(pool, "standard", None)
    if std == "none":
        return None
    if std:
        return str(std)
    if not str(pool.id).startswith("boiler."):
        return None
    return "special" if scen is not None and _key_region(scen) else "in_use"


def _fuel(pool_id: str) -> str | None:
    parts = pool_id.split(".")
    for fuel in ("coal", "gas", "oil"):
        if fuel in parts:
            return fuel
    return None


def _closure(lib: Library, keys: Iterable[str]) -> list[str]:
    out: list[str] = []

    def visit(k: str) -> None:
        if k in out or k not in lib:
            return
        out.append(k)
        f = lib[k].formula
        if f:
            for name in formula_names(f):
                visit(name)

    for k in keys:
        visit(k)
    return out


def _factor(lib: Library, spec: Any) -> tuple[Any, list[str]] | None:
    """The factor as a pint Quantity (central values) and the keys it names."""
    items = spec if isinstance(spec, list) else [spec]
    # a factor per unit (台, 个) = size per unit x factor per 蒸吨: the pollutant-bearing rows carry the concentration
    bearing = [x for x in items if str(x).strip() in lib and lib[str(x).strip()].pollutant not in ("-", "")]
    if bearing and len(bearing) < len(items):
        items = bearing
    q = Q_(1.0, "dimensionless")
    keys: list[str] = []
    for item in items:
        text = str(item).strip()
        if text in lib:
            q = q * Q_(lib.evaluate(text), parse_unit(lib[text].unit))
            keys.append(text)
            continue
        try:
            q = q * parse_quantity(text)
        except Exception:
            return None
    return q, keys


def implied_concentration(lib: Library, spec: Any, fuel: str) -> float | None:
    """mg/m3 at the standard's O2 reference implied by a pool factor, or None when it cannot tell."""
    got = _factor(lib, spec)
    if got is None or fuel not in _PER_MG:
        return None
    ef, keys = got
    per_activity = ef  # kg or t per unit of activity (per year for capacities such as 蒸吨)
    fuel_unit = parse_unit(_FUEL_UNIT[fuel])
    per_fuel = None
    try:
        per_fuel = per_activity.to(parse_unit("kg") / fuel_unit)
    except Exception:
        per_fuel = None
    if per_fuel is None:
        rows = [k for k in _closure(lib, keys) if _FUEL_ROW[fuel].match(k)]
        if not rows:
            return None
        use = Q_(lib.evaluate(rows[0]), parse_unit(lib[rows[0]].unit))
        try:
            per_fuel = (per_activity / use).to(parse_unit("kg") / fuel_unit)
        except Exception:
            return None
    return float((per_fuel / _PER_MG[fuel]).to("dimensionless").magnitude)


def check_standards(scen: Any, lib: Library) -> list[str]:
    """One warning per boiler-pool factor that implies a concentration above its GB 13271 limit."""
    out: list[str] = []
    for pool in scen.pools:
        period = pool_standard(pool, scen)
        why = ("; 2+26 city: special limits for in-use coal boilers from 2018-10-01 (环境保护部公告2018年第9号)"
               if period == "special" and not getattr(pool, "standard", None) else "")
        fuel = _fuel(str(pool.id))
        if period is None or fuel is None:
            continue
        for pol, spec in pool.ef.items():
            lim_pol = "PM" if pol == "PM25" else pol
            limit = GB13271_2014.get((fuel, period, lim_pol))
            if limit is None or pol not in _POLLUTANTS:
                continue
            conc = implied_concentration(lib, spec, fuel)
            if conc is None or conc <= limit.mg_m3 * 1.005:
                continue
            shown = spec if isinstance(spec, str) else "*".join(str(x) for x in spec)
            out.append(
                f"pool {pool.id}: {pol} factor {shown} implies ≈{conc:,.0f} mg/m³ "
                f"(at {'0.01 (kg/t)/(mg/m³)' if fuel == 'coal' else '0.11 (kg/10⁴m³)/(mg/m³)'}), above the {GB} "
                f"{_TABLE[period]} {'燃煤' if fuel == 'coal' else '燃气' if fuel == 'gas' else '燃油'}锅炉 limit "
                f"{limit.mg_m3:g} mg/m³ ({_TABLE_EN[period]}); set the pool's factor within the limit, or its "
                f"'standard' column if another limit applies{why}"
            )
    return out
