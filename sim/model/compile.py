"""Compile a Scenario and the coefficient library into numbers the engine can use.

Every emission factor, conversion, efficiency and removal is an expression over coefficient
keys (a sum of products, each with a constant that folds in the unit conversion). Central
values and sampled values go through the same vectorised evaluation: one matrix product
of log-values over all terms, no loop over measures or samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pint

from sim.core.errors import InputError, Problem, UnitError, did_you_mean
from sim.core.pollutants import POLLUTANTS, display
from sim.core.units import DIMENSIONLESS, Q_, parse_quantity, parse_unit, quantity_parts, ureg
from sim.model import consistency
from sim.model.air import PRECURSORS
from sim.model.coefficients import Coefficient, Library
from sim.model.compiled import (
    KIND_CODES,
    Model,
    Param,
    Term,
    completion_high,
    group_shares,
)
from sim.model.plan_scope import check_scope
from sim.model.scenario import Measure, PoolSpec, Scenario, Uncertain
from sim.model.standards import check_standards
from sim.model.yamlio import LineMap

__all__ = ["KIND_CODES", "Model", "Param", "compile_model", "completion_high", "group_shares"]  # Model and friends live in compiled.py

Unit = Any  # pint's unit classes (PlainUnit/Unit) differ between versions

_T_PER_A = ureg.Unit("t/a")
_T = ureg.Unit("t")


# ---- compilation ------------------------------------------------------------------------------

class _Compiler:
    def __init__(self, scen: Scenario, lib: Library):
        self.scen = scen
        self.lib = lib
        self.problems: list[Problem] = []
        self.lines: LineMap = scen._lines or LineMap(scen._path or "<scenario>")
        self.inv_lines: LineMap = scen._inventory_lines or self.lines
        self.keys_used: list[str] = []
        self.uses: dict[str, list[str]] = {}  # key -> who uses it; its keys are keys_used, in order
        self.unverified: dict[str, list[str]] = {}  # key -> the base keys of basis U it rests on
        self.warnings: list[str] = []

    def err(self, where: LineMap, path: tuple[Any, ...], msg: str) -> None:
        self.problems.append(where.problem(path, msg))

    def factor(self, spec: Any, where: LineMap, path: tuple[Any, ...], user: str) -> tuple[float, dict[str, int], Unit] | None:
        """A product of keys and quantities -> (constant, key exponents, unit)."""
        items = spec if isinstance(spec, list) else [spec]
        const = 1.0
        keys: dict[str, int] = {}
        units: list[Any] = []  # unit texts of keys, units of quantities: multiplied once, cached
        for item in items:
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                if not np.isfinite(item):
                    self.err(where, path, f"{item!r} 应为有限数值 ({item!r} must be a finite number)")
                    return None
                const *= float(item)
                continue
            text = str(item).strip()
            if text in self.lib:
                c: Coefficient = self.lib[text]
                keys[text] = keys.get(text, 0) + 1
                units.append(c.unit)
                if text not in self.uses:  # first use: the key and the unverified coefficients it rests on
                    self.keys_used.append(text)
                    self.uses[text] = []
                    self.unverified[text] = [b for b in self.lib.dependencies(text) if self.lib[b].basis == "U"]
                self.uses[text].append(user)
                for b in self.unverified[text]:
                    msg = f"coefficient {b!r} is unverified (basis U); check it before relying on {user}"
                    if msg not in self.warnings:
                        self.warnings.append(msg)
                continue
            try:
                magnitude, q_unit = quantity_parts(text)
            except UnitError:
                looks_like_key = text.replace("_", "").replace(".", "").isalnum() and not text[:1].isdigit()
                hint = did_you_mean(text, self.lib.keys()) if looks_like_key else ""
                self.err(where, path, f"{text!r} 既不是系数库的键，也不是带单位的数值（如 '3 kg/t'） ({text!r} is neither a coefficient key{hint} nor a number with a unit ('3 kg/t'))")
                return None
            if not np.isfinite(magnitude):
                self.err(where, path, f"{text!r} 应为有限数值 ({text!r} must be a finite number)")
                return None
            const *= float(magnitude)
            units.append(q_unit)
        return const, keys, _unit_product(tuple(units))

    def scale(self, unit: Unit, target: Unit, where: LineMap, path: tuple[Any, ...], what: str, what_zh: str) -> float | None:
        s = _conversion(unit, target)
        if s is None:
            self.err(where, path, f"{what_zh}的单位 '{unit:~}' 不能换算为 '{target:~}' ({what} is in '{unit:~}', which does not convert to '{target:~}')")
        return s


def _param_from(name: str, u: Uncertain, label: str, unit: str = "") -> Param:
    return Param(name, u.value, u.low, u.high, u.distribution if u.uncertain else "fixed", unit, label)


def _credit(m: Measure, years: Sequence[int], rule: str, lines: LineMap, path: tuple[Any, ...], problems: list[Problem]) -> np.ndarray:
    """Share of the measure in effect in each year (0..1): schedule, part-year or full."""
    y = np.array(years)
    if m.schedule:
        out = np.zeros(len(years))
        last = 0.0
        for yr in years:
            if yr in m.schedule:
                last = m.schedule[yr].value
            out[years.index(yr)] = last
        return out  # schedule years and shares: sim.model.consistency
    if m.commissioned:
        year, month = (int(x) for x in m.commissioned.split("-"))
        first = {"next_month": (12 - month) / 12, "same_month": (13 - month) / 12, "full_year": 1.0}[rule]
        return np.where(y > year, 1.0, np.where(y == year, first, 0.0))
    if m.year is not None:
        return (y >= m.year).astype(float)
    return (y > years[0]).astype(float) if len(years) > 1 else np.ones(len(years))


def compile_model(scen: Scenario, library: Library) -> Model:
    """Resolve keys, units and references; InputError lists every problem with file:line."""
    overrides = {
        key: Coefficient(key=key, value=o.value, unit=o.unit, source=o.source, basis="V",
                         low=o.low, high=o.high,
                         distribution=o.distribution or ("triangular" if o.low is not None else "fixed"),
                         note=o.note or "scenario override", domain="scenario", file=scen._path or "")
        for key, o in scen.coefficients.items()
    }
    lib = library.with_overrides(overrides) if overrides else library
    cc = _Compiler(scen, lib)
    stage = consistency.check_scenario(scen, library.keys())
    override_units = consistency.check_override_units(scen, library)
    if override_units.problems:  # said at the override; its uses elsewhere would only repeat it
        raise InputError([*stage.problems, *override_units.problems])
    cc.problems.extend(stage.problems)
    cc.warnings.extend(stage.warnings)
    lines, inv_lines = cc.lines, cc.inv_lines
    pools: list[PoolSpec] = scen.pools
    years = scen.year_range

    # ids ---------------------------------------------------------------------------
    pool_ids = [p.id for p in pools]
    seen: dict[str, int] = {}
    for i, pid in enumerate(pool_ids):
        if pid in seen:
            cc.err(inv_lines, (i, "id"), f"排放源编号 {pid!r} 重复（第 {seen[pid] + 1} 个排放源也用了它） (duplicate pool id {pid!r} (also pool {seen[pid] + 1}))")
        seen[pid] = i
    for what, id_list in (("measure", [m.id for m in scen.measures]), ("target", [t.id for t in scen.targets])):
        ids: dict[str, int] = {}
        for i, item_id in enumerate(id_list):
            if item_id in ids:
                cc.err(lines, (what + "s", i, "id"), f"{'措施' if what == 'measure' else '目标'}编号 {item_id!r} 重复 (duplicate {what} id {item_id!r})")
            ids[item_id] = i
    pidx = {pid: i for i, pid in enumerate(pool_ids)}

    # pollutants ----------------------------------------------------------------------
    used = {p for pool in pools for p in (*pool.ef, *pool.emissions)}
    pollutants = [p for p in POLLUTANTS if p in used]
    pol_idx = {p: i for i, p in enumerate(pollutants)}

    model = Model(
        scenario=scen, library=lib, pools=pool_ids,
        pool_names=[p.name or p.id for p in pools], pool_sectors=[p.sector or "" for p in pools],
        pool_units=[], measures=[m.id for m in scen.measures],
        measure_names=[m.name or m.id for m in scen.measures],
        measure_types=[m.type for m in scen.measures],
        measure_categories=[m.category or "" for m in scen.measures],
        pollutants=pollutants, years=years,
        activity0=np.zeros(len(pools)), kind=np.array([KIND_CODES[m.type] for m in scen.measures], dtype=np.int64),
        src=np.zeros(len(scen.measures), dtype=np.int64), tgt=-np.ones(len(scen.measures), dtype=np.int64),
        qty=np.full(len(scen.measures), np.nan), share_param=[None] * len(scen.measures),
        credit=np.zeros((len(scen.measures), len(years))),
    )

    def add(slot: str, coef: float, keys: dict[str, int]) -> None:
        model.terms.append((model.slot(slot), Term(coef, dict(keys))))

    # pools ---------------------------------------------------------------------------
    units: list[Any] = []
    no_unit: set[int] = set()  # pools whose activity is a bare number its factors need a unit for
    for i, pool in enumerate(pools):
        if pool.activity is not None:
            q = parse_quantity(pool.activity)
            if q.magnitude < 0:
                cc.problems.append(consistency.problem("activity-negative", inv_lines, (i, "activity")))
            unit = q.units
            model.activity0[i] = float(q.magnitude)
        else:
            unit = DIMENSIONLESS
            model.activity0[i] = 1.0
        units.append(unit)
        model.pool_units.append(_unit_text(unit) if unit != DIMENSIONLESS else "")
        model.params[f"growth:{pool.id}"] = _param_from(f"growth:{pool.id}", pool.growth, f"{pool.name or pool.id} 增长率")
        for pol, spec in pool.ef.items():
            r = cc.factor(spec, inv_lines, (i, "ef", pol), f"pool {pool.id}")
            if r is None:
                continue
            const, keys, ef_unit = r
            per = _unit_product((ef_unit, unit))
            s = _scale_emission(per)
            if s is None and _conversion(unit, _T_PER_D) is not None and _scale_emission(ef_unit * _M3_PER_D) is not None:
                # a sewage flow written as plans write it (40万吨/日): water, 1 t = 1 m³
                flow = _water_flow(Q_(model.activity0[i], unit), cc, inv_lines, (i, "activity"))
                unit, units[i] = flow.units, flow.units
                model.activity0[i] = float(flow.magnitude)
                model.pool_units[i] = f"{unit:~}"
                per = _unit_product((ef_unit, unit))
                s = _scale_emission(per)
            if s is None and pool.activity is not None and unit == DIMENSIONLESS:
                if i not in no_unit:  # one problem, not one per factor and per measure on the pool
                    no_unit.add(i)
                    try:  # the kind of unit the factor is per, e.g. 蒸吨 for t/(蒸吨*a)
                        kind = f"{Q_(1.0, _T_PER_A / ef_unit).to_reduced_units().units:~}"
                    except Exception:
                        kind = ""
                    cc.err(inv_lines, (i, "activity"), f"活动水平 {model.activity0[i]:g} 没有单位，而 {pol} 的排放因子单位为 "
                           f"'{ef_unit:~}'；请给活动水平加上单位{f'，如 {kind!r}' if kind else ''} (the activity {model.activity0[i]:g} "
                           f"has no unit, and the emission factor of {pol} is in '{ef_unit:~}'; give the activity a unit"
                           f"{f' such as {kind!r}' if kind else ''})")
                continue
            if s is None:
                cc.err(inv_lines, (i, "ef", pol), f"排放因子 '{ef_unit:~}' 乘活动水平 '{unit:~}' 得 '{per:~}'，不是吨/年 (emission factor in '{ef_unit:~}' times activity in '{unit:~}' gives '{per:~}', not tonnes per year)")
                continue
            add(f"ef[{i},{pol_idx[pol]}]", const * s, keys)
        for pol, text in pool.emissions.items():
            if pol in pool.ef:
                cc.err(inv_lines, (i, "emissions", pol), f"{pol} 同时给了排放因子和基准年排放量；只给其一 (pollutant {pol} has both an emission factor and base-year emissions; give one)")
                continue
            q = parse_quantity(text)
            s = _scale_emission(q.units)
            if s is None:
                cc.err(inv_lines, (i, "emissions", pol), f"排放量的单位 '{q.units:~}' 不是吨（每年） (emissions in '{q.units:~}' are not tonnes (per year))")
                continue
            if q.magnitude < 0:
                cc.problems.append(consistency.problem("emissions-negative", inv_lines, (i, "emissions", pol)))
            act = model.activity0[i] if model.activity0[i] > 0 else 1.0
            add(f"ef[{i},{pol_idx[pol]}]", float(q.magnitude) * s / act, {})

    # measures ------------------------------------------------------------------------
    for j, m in enumerate(scen.measures):
        path = ("measures", j)
        model.params[f"completion:{m.id}"] = _param_from(f"completion:{m.id}", m.completion, f"{m.name or m.id} 完成率")
        if m.quantity is not None:  # a scale on the quantity, for sweeps (1 = as written)
            model.params[f"qty:{m.id}"] = Param(f"qty:{m.id}", 1.0, None, None, "fixed", "", f"{m.name or m.id} 工程量倍数")
        model.credit[j] = _credit(m, years, scen.settings.credit_rule, lines, path, cc.problems)
        if m.pool not in pidx:
            cc.err(lines, (*path, "pool"), f"未知排放源 {m.pool!r} (unknown pool {m.pool!r}{did_you_mean(m.pool, pool_ids)})")
            continue
        k = pidx[m.pool]
        model.src[j] = k
        target = m.to if m.type == "switch" else m.replaced_by if m.type == "retire" else None
        if k in no_unit or pidx.get(target or "") in no_unit:
            continue  # its units rest on a pool whose activity lacks one (said at the pool)
        unit = units[k]
        user = f"measure {m.id}"
        if m.type != "treat" and m.quantity is not None:
            q = parse_quantity(m.quantity)
            if _conversion(q.units, unit) is None:
                q = _water_flow(q, cc, lines, (*path, "quantity"))
            s = cc.scale(q.units, unit, lines, (*path, "quantity"), f"quantity of {m.id}", f"措施 {m.id} 的工程量")
            if s is not None:
                model.qty[j] = float(q.magnitude) * s
        if m.share is not None and m.type in ("control", "standard"):
            name = f"share:{m.id}"
            model.params[name] = _param_from(name, m.share, f"{m.name or m.id} 覆盖比例")
            model.share_param[j] = name
            if m.quantity is not None:
                cc.err(lines, (*path, "share"), "'quantity'（工程量）与 'share'（覆盖比例）只给其一 (give 'quantity' or 'share', not both)")
        target = m.to if m.type == "switch" else m.replaced_by if m.type == "retire" else None
        if target is not None:
            if target not in pidx:
                cc.err(lines, (*path, "to" if m.type == "switch" else "replaced_by"), f"未知排放源 {target!r} (unknown pool {target!r}{did_you_mean(target, pool_ids)})")
            else:
                t = pidx[target]
                model.tgt[j] = t
                want = units[t] / unit
                if m.conversion is not None:
                    r = cc.factor(m.conversion, lines, (*path, "conversion"), user)
                    if r is not None:
                        s = cc.scale(r[2], want, lines, (*path, "conversion"), "conversion", "换算系数 conversion ")
                        if s is not None:
                            add(f"conv[{j}]", r[0] * s, r[1])
                else:
                    s = cc.scale(DIMENSIONLESS, want, lines, (*path, "to"), f"moving '{unit:~}' into a pool counted in '{units[t]:~}' needs a 'conversion'; default 1",
                                 f"把 '{unit:~}' 转入以 '{units[t]:~}' 计的排放源需要换算系数 'conversion'；默认值 1 ")
                    if s is not None:
                        add(f"conv[{j}]", s, {})
        elif m.type in ("retire", "switch"):
            pass
        if m.type == "control":
            for pol, spec in m.efficiency.items():
                if pol not in pol_idx:
                    cc.err(lines, (*path, "efficiency", pol), f"没有排放源排放 {pol}；清单中有 {'、'.join(pollutants)} (no pool emits {pol}; the inventory has {', '.join(pollutants)})")
                    continue
                r = cc.factor(spec, lines, (*path, "efficiency", pol), user)
                if r is None:
                    continue
                s = cc.scale(r[2], DIMENSIONLESS, lines, (*path, "efficiency", pol), "efficiency", "去除效率")
                if s is not None:
                    if not r[1] and not 0 <= r[0] * s <= 1:
                        cc.problems.append(consistency.problem("efficiency-range", lines, (*path, "efficiency", pol), got=f"{r[0] * s:.0%}"))
                    add(f"eff[{j},{pol_idx[pol]}]", r[0] * s, r[1])
        if m.type == "standard":
            for pol, spec in m.ef.items():
                if pol not in pol_idx:
                    cc.err(lines, (*path, "ef", pol), f"没有排放源排放 {pol}；清单中有 {'、'.join(pollutants)} (no pool emits {pol}; the inventory has {', '.join(pollutants)})")
                    continue
                r = cc.factor(spec, lines, (*path, "ef", pol), user)
                if r is None:
                    continue
                s = _scale_emission(_unit_product((r[2], unit)))
                if s is None:
                    cc.err(lines, (*path, "ef", pol), f"新排放因子的单位 '{r[2]:~}' 与排放源活动水平的单位 '{unit:~}' 不匹配 (new emission factor in '{r[2]:~}' does not fit the pool's activity in '{unit:~}')")
                    continue
                add(f"newef[{j},{pol_idx[pol]}]", r[0] * s, r[1])
        if m.type == "treat" and m.quantity is not None:
            q = _water_flow(parse_quantity(m.quantity), cc, lines, (*path, "quantity"))
            lf: tuple[float, dict[str, int], Unit] | None = (1.0, {}, DIMENSIONLESS)
            if m.load_factor is not None:
                lf = cc.factor(m.load_factor, lines, (*path, "load_factor"), user)
            if lf is None:
                continue
            pairs: list[tuple[str, Any, float, str]] = [(p, spec, 1.0, "removal") for p, spec in m.removal.items()]
            for p in m.c_in:
                pairs.append((p, m.c_in[p], 1.0, "c_in"))
                pairs.append((p, m.c_out[p], -1.0, "c_out"))
            for pol, spec, sign, fieldname in pairs:
                if pol not in pol_idx:
                    cc.err(lines, (*path, fieldname, pol), f"没有排放源排放 {pol}；清单中有 {'、'.join(pollutants)} (no pool emits {pol}; the inventory has {', '.join(pollutants)})")
                    continue
                r = cc.factor(spec, lines, (*path, fieldname, pol), user)
                if r is None:
                    continue
                u = _unit_product((q.units, lf[2], r[2]))
                s = _scale_emission(u)
                if s is not None and _conversion(q.units, _M3) is not None and _conversion(u, _T_PER_A) is None:
                    # a volume where a capacity is meant: '10 万m3' has no time, and a bare mass would count as per year
                    cc.err(lines, (*path, "quantity"), f"工程量 '{q.magnitude:g} {q.units:~}' 是体积而不是处理能力；请写明时间，如 "
                           f"'{q.magnitude:g} {q.units:~}/d'（每日）或 '/a'（每年） (quantity '{q.magnitude:g} {q.units:~}' is a volume, "
                           f"not a capacity: give its time, e.g. '{q.magnitude:g} {q.units:~}/d' a day or '/a' a year)")
                    break
                if s is None:
                    cc.err(lines, (*path, fieldname, pol), f"工程量 '{q.units:~}' 乘 '{r[2]:~}' 得 '{u:~}'，不是吨/年 (quantity '{q.units:~}' x '{r[2]:~}' gives '{u:~}', not tonnes per year)")
                    continue
                keys = dict(r[1])
                for kk, e in lf[1].items():
                    keys[kk] = keys.get(kk, 0) + e
                add(f"removal[{j},{pol_idx[pol]}]", sign * float(q.magnitude) * lf[0] * r[0] * s, keys)

    model.group = -np.ones(len(scen.measures), dtype=np.int64)
    for j, m in enumerate(scen.measures):
        if m.disjoint_group is not None and m.pool in pidx:
            label = f"{m.pool}:{m.disjoint_group}"
            if label not in model.group_names:
                model.group_names.append(label)
            model.group[j] = model.group_names.index(label)

    for j, m in enumerate(scen.measures):
        if m.cost is not None:
            _measure_cost(cc, model, j, m, units[model.src[j]] if m.pool in pidx else DIMENSIONLESS)

    # targets reference known pollutants and years
    for i, tg in enumerate(scen.targets):
        if tg.pollutant not in pol_idx and tg.kind != "concentration":
            cc.err(lines, ("targets", i, "pollutant"), f"没有排放源排放 {tg.pollutant}；清单中有 {'、'.join(pollutants) or '无污染物'} (no pool emits {tg.pollutant}; the inventory has {', '.join(pollutants) or 'no pollutants'})")
        if tg.year not in years:
            cc.err(lines, ("targets", i, "year"), f"目标年 {tg.year} 不在 {years[0]}-{years[-1]} 之内；请把它加入 'years' (target year {tg.year} lies outside {years[0]}-{years[-1]}; add it to 'years')")
        if tg.base_year is not None and tg.base_year not in years:
            cc.err(lines, ("targets", i, "base_year"), f"基准年 base_year {tg.base_year} 不在 {years[0]}-{years[-1]} 之内 (base_year {tg.base_year} lies outside {years[0]}-{years[-1]})")

    model.warnings = cc.warnings
    if scen._air is not None:
        _air_params(model, scen)  # appends its own warnings (precursors the inventory lacks)
    model.keys_used = cc.keys_used
    model.coefficient_uses = cc.uses
    for key in model.base_keys():
        c = lib[key]
        model.params[f"coef:{key}"] = Param(f"coef:{key}", c.value, c.low, c.high, c.distribution if c.uncertain else "fixed", c.unit, key)
    cc.problems.extend(consistency.check_overrides(scen, library.keys(), model.base_keys()).problems)
    if cc.problems:
        raise InputError(cc.problems)
    consistency.enforce(model)
    groups = consistency.check_groups(model)
    if groups:
        raise InputError(groups)
    model.warnings += [w for w in check_standards(scen, lib) + check_scope(scen) if w not in model.warnings]
    return model


def crf(rate: float, years: float) -> float:
    """Capital recovery factor: r (1+r)^n / ((1+r)^n - 1); 1/n when r = 0."""
    if rate == 0:
        return 1.0 / years
    g = (1.0 + rate) ** years
    return rate * g / (g - 1.0)


def _measure_cost(cc: _Compiler, model: Model, j: int, m: Measure, pool_unit: Any) -> None:
    """Annualised cost per unit of the measure's decision variable (元/a), its bounds and unit."""
    path = ("measures", j, "cost")
    lines = cc.lines
    if m.share is not None and m.quantity is None:
        unit, level = DIMENSIONLESS, m.share.value
    elif m.quantity is not None:
        q = parse_quantity(m.quantity)
        unit, level = q.units, float(q.magnitude)
    else:
        return
    yuan = ureg.Unit("元")
    per_year = ureg.Unit("元/a")

    by_share = unit == DIMENSIONLESS and m.share is not None
    pool_act = float(model.activity0[model.src[j]])

    def per_unit(spec: Any, field: str, annual: bool) -> float | None:
        """One meaning for every measure: a cost per unit (元/a per 蒸吨) is per unit of the quantity,
        or of the pool's base-year activity for a measure given by share; a total (元/a, 元) is the
        cost of the measure at its written level (quantity or share), scaling linearly."""
        r = cc.factor(spec, lines, (*path, field), f"measure {m.id}")
        if r is None:
            return None
        const, keys, u = r
        value = const
        for k, e in keys.items():
            value *= model.library[k].value ** e
        want = per_year if annual else yuan
        total = (want, 1.0 / level if level else 0.0)
        forms = [total] if by_share else [(want / unit, 1.0), total]
        if by_share and pool_unit != DIMENSIONLESS:
            forms.append((want / pool_unit, pool_act))  # per unit of activity x the pool's base-year activity
        for target, scale in forms:
            try:
                return float(Q_(value, u).to(target).magnitude) * scale
            except pint.DimensionalityError:
                continue
        per = pool_unit if by_share else unit
        cc.err(lines, (*path, field), f"{field} 的单位 '{u:~}' 既不是每 '{per:~}' 的 {want:~}，也不是 {want:~} 总额 ({field} in '{u:~}' is neither {want:~} per '{per:~}' nor {want:~} in total)")
        return None

    c = m.cost
    assert c is not None
    total = 0.0
    if c.unit_cost is not None:
        v = per_unit(c.unit_cost, "unit_cost", True)
        total += v or 0.0
    if c.capital is not None:
        v = per_unit(c.capital, "capital", False)
        if cc.scen.discount_rate is None:
            cc.err(lines, ("discount_rate",), "投资年化需要情景的折现率 discount_rate（如 8%） (capital costs need the scenario's discount_rate (e.g. 8%) to be annualised)")
        elif v is not None and c.lifetime is not None:
            try:  # a lifetime that is not a time above zero is refused by the consistency stage
                n = float(parse_quantity(c.lifetime).to("a").magnitude)
            except (UnitError, pint.DimensionalityError):
                n = 0.0
            if n > 0 and -1 < cc.scen.discount_rate.value < 1:
                total += v * crf(cc.scen.discount_rate.value, n)
    for fname in ("om", "fuel"):
        spec = getattr(c, fname)
        if spec is not None:
            total += per_unit(spec, fname, True) or 0.0
    for pol, spec in c.per_tonne.items():
        r = cc.factor(spec, lines, (*path, "per_tonne", pol), f"measure {m.id}")
        if r is None:
            continue
        value = r[0]
        for k, e in r[1].items():
            value *= model.library[k].value ** e
        try:
            model.abatement_price.setdefault(j, {})[pol] = float(Q_(value, r[2]).to("元/t").magnitude)
        except pint.DimensionalityError:
            cc.err(lines, (*path, "per_tonne", pol), f"per_tonne 的单位 '{r[2]:~}' 不是元/吨 (per_tonne in '{r[2]:~}' is not 元 per tonne)")
    model.unit_cost[j] = total
    model.decision_unit[j] = f"{unit:~}" if unit != DIMENSIONLESS else ""
    model.decision_level[j] = level
    pot = level
    if m.potential is not None:
        qp = parse_quantity(m.potential)
        s = cc.scale(qp.units, unit, lines, ("measures", j, "potential"), "potential", "潜力 potential ")
        if s is not None:
            pot = float(qp.magnitude) * s
    model.potential[j] = pot
    if m.integer:
        size = pot
        if m.unit_size is not None:
            qs = parse_quantity(m.unit_size)
            s = cc.scale(qs.units, unit, lines, ("measures", j, "unit_size"), "unit_size", "单个项目规模 unit_size ")
            size = float(qs.magnitude) * s if s is not None else pot
        model.project_size[j] = size


def _air_params(model: Model, scen: Scenario) -> None:
    """Parameters of the PM2.5 response: air:base (µg/m³) and air:<precursor> (share or coefficient)."""
    air = scen._air
    aq = scen.air_quality
    if aq is not None and aq.base_concentration is not None:
        c0 = float(parse_quantity(aq.base_concentration).to("ug/m**3").magnitude)
        model.params["air:base"] = Param("air:base", c0, None, None, "fixed", "ug/m3", "PM2.5基准年浓度")
    else:
        b = air.base
        model.params["air:base"] = Param("air:base", b.value, b.low, b.high, "triangular" if b.low is not None else "fixed", "ug/m3", "PM2.5基准年浓度")
    for name, row in air.precursors.items():
        unc = row.low is not None and row.high is not None and row.high > row.low
        model.params[f"air:{name}"] = Param(f"air:{name}", row.value, row.low, row.high, "triangular" if unc else "fixed",
                                            "1" if row.form == "share" else "ug/m3/(t/a)",
                                            f"PM2.5中{'一次PM2.5' if name == 'PM25' else display(name)}的"
                                            f"{'贡献份额' if row.form == 'share' else '响应系数'}")
        if name not in model.pollutants:
            zh, en = {"PM25": ("一次PM2.5", "primary PM2.5")}.get(name, (display(name), display(name, "en")))
            msg = (f"PM2.5响应：清单中没有{zh}排放，其对PM2.5的贡献按不变计，浓度变化只计入了部分前体物 "
                   f"(PM2.5 response: the inventory has no {en}, so its part of PM2.5 is held constant and only part of the response is counted)")
            if msg not in model.warnings:
                model.warnings.append(msg)
    for name in PRECURSORS:
        if name not in air.precursors and name in model.pollutants:  # reduced, but no response row: counted as no change
            zh, en = display(name), display(name, "en")
            msg = (f"PM2.5响应：响应表中没有{zh}的份额或系数，{zh}的减排对PM2.5浓度按无影响计，浓度的下降可能被低估 "
                   f"(PM2.5 response: the response table has no share or coefficient for {en}, so its reductions count as no "
                   f"change of PM2.5 and the fall of the concentration may be underestimated)")
            if msg not in model.warnings:
                model.warnings.append(msg)


_T_PER_D = ureg.Unit("t/d")
_WATER = ureg.Unit("m**3/t")  # water: 1 t = 1 m³
_M3_PER_D = ureg.Unit("立方米/日")
_M3 = ureg.Unit("m**3")


def _water_flow(q: Any, cc: _Compiler, where: LineMap, path: tuple[Any, ...]) -> Any:
    """A flow of water in tonnes per time (吨/日, 万吨/日) as 立方米/日 (1 t = 1 m³), said in a warning."""
    if _conversion(q.units, _T_PER_D) is None:
        return q
    out = Q_(float(q.magnitude), q.units * _WATER).to(_M3_PER_D)
    p = where.problem(path, f"'{q.magnitude:g} {q.units:~}' read as {out.magnitude:,.6g} 立方米/日 (water: 1 吨 = 1 立方米)")
    if str(p) not in cc.warnings:
        cc.warnings.append(str(p))
    return out


@lru_cache(maxsize=4096)
def _unit_product(parts: tuple[Any, ...]) -> Unit:
    """dimensionless x each part in turn (a unit text, parsed, or a unit), cached: pint is slow."""
    unit = DIMENSIONLESS
    for part in parts:
        unit = unit * (parse_unit(part) if isinstance(part, str) else part)
    return unit


@lru_cache(maxsize=4096)
def _unit_text(unit: Unit) -> str:
    """A unit in pint's short form ('t/a'), cached."""
    return f"{unit:~}"


@lru_cache(maxsize=4096)
def _conversion(unit: Unit, target: Unit) -> float | None:
    """Factor from *unit* to *target*, or None when they do not convert (cached: pint is slow)."""
    try:
        return float(Q_(1.0, unit).to(target).magnitude)
    except pint.DimensionalityError:
        return None


@lru_cache(maxsize=4096)
def _scale_emission(unit: Unit) -> float | None:
    """Factor turning *unit* into t/a; a bare mass counts as per year (annual activity)."""
    q = Q_(1.0, unit)
    for target in (_T_PER_A, _T):
        try:
            return float(q.to(target).magnitude)
        except pint.DimensionalityError:
            continue
    return None


