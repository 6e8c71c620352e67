"""Consistency: one stage, every path (DESIGN.md section 3).

Every rule about what an input may be is stated once, in :data:`RULES` (rule id, the field it
governs, what would be valid, refuse or warn, and its message), and checked here, before any
evaluation. :func:`compile_model` runs the stage (so ``run``, ``solve`` and every city of a
batch pass through it); sweeps check every grid point's extremes with :func:`check_rows`;
Monte Carlo draws are checked with :func:`sample_breaches`, and the share of samples beyond a
limit is reported as a warning. A rule either refuses (an :class:`InputError` with file:line,
the key and what is valid) or warns (into ``Model.warnings``: terminal, manifest, appendix);
nothing is clipped silently.

Resource limits are decided here too, before anything is allocated: grid points, Shapley
permutations and the estimated working memory, each refused with the number and the cap.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sim.core import engine
from sim.core.errors import InputError, Problem
from sim.core.units import parse_quantity
from sim.model.compiled import Model
from sim.model.compiled import completion_high as _completion_high
from sim.model.compiled import group_shares as _group_shares
from sim.model.yamlio import LineMap

if TYPE_CHECKING:
    from sim.model.scenario import Scenario

__all__ = [
    "MAX_GRID_POINTS",
    "MAX_MEMORY_BYTES",
    "MAX_PERMUTATIONS",
    "RULES",
    "Findings",
    "Rule",
    "check",
    "check_grid",
    "check_groups",
    "check_memory",
    "check_overrides",
    "check_rows",
    "check_scenario",
    "enforce",
    "estimate_memory",
    "extreme_rows",
    "rules_table",
    "sample_breaches",
]

MAX_GRID_POINTS = 1_000_000  # sweep points (product of the axes' lengths), times samples
MAX_PERMUTATIONS = 100_000  # Shapley permutations per linked group of measures
MAX_MEMORY_BYTES = 2 * 2**30  # estimated working memory of one evaluation (2 GiB)

Action = Literal["refuse", "warn"]


@dataclass(frozen=True)
class Rule:
    """One named rule: where it applies, what is valid, and what happens when it is broken."""

    id: str
    field: str
    valid: str
    action: Action
    message: str  # a str.format template
    message_zh: str  # the same in Chinese, said first: a planner reads it

    def text(self, **values: Any) -> str:
        """``中文 (English)``, as every message a planner reads from the stage."""
        en, zh = self.message.format(**values), self.message_zh.format(**values)
        return en if zh == en else f"{zh} ({en})"


def _rules(*rows: tuple[str, str, str, Action, str, str]) -> dict[str, Rule]:
    return {r[0]: Rule(*r) for r in rows}


R: Action = "refuse"
W: Action = "warn"

RULES: dict[str, Rule] = _rules(
    # ---- pools ----------------------------------------------------------------------------
    ("activity-negative", "inventory[].activity", ">= 0", R, "activity must not be negative",
     "活动水平不能为负"),
    ("growth-range", "inventory[].growth", "above -100% and at most +100% a year", R,
     "growth (and its range) must lie above -100% and at most +100% a year, got {got}",
     "增长率（及其范围）应大于每年 -100%、不超过每年 +100%，实为 {got}"),
    ("emissions-negative", "inventory[].emissions.<pollutant>", ">= 0 t/a", R, "emissions must not be negative",
     "排放量不能为负"),
    ("emissions-without-activity", "inventory[].emissions.<pollutant>", "an activity > 0, or no activity", R,
     "pool {pool!r} has activity 0 but base-year emissions of {pollutant}: the factor would be infinite; "
     "give the pool's real activity, or leave 'activity' empty for an emission-only pool",
     "排放源 {pool!r} 的活动水平为 0，却给了 {pollutant} 的基准年排放量：排放因子将为无穷大；请给出实际活动水平，或对只有排放量的排放源不填 'activity'"),
    ("ef-negative", "inventory[].ef.<pollutant>", ">= 0", R,
     "the emission factor of {pollutant} is negative ({value:.6g} t/a per unit); factors must be >= 0",
     "{pollutant} 的排放因子为负（每单位 {value:.6g} t/a）；排放因子应 >= 0"),
    ("baseline-overflow", "inventory[].activity", "a finite number of tonnes", R,
     "pool {pool!r}: activity times emission factor overflows (not a finite number of tonnes); check its activity, factors and growth",
     "排放源 {pool!r}：活动水平乘排放因子溢出（不是有限的吨数）；请检查其活动水平、排放因子和增长率"),
    # ---- measures: what they act on --------------------------------------------------------
    ("switch-to-itself", "measures[].to", "another pool", R,
     "measure {measure!r} moves activity from pool {pool!r} into itself; name another pool (valid: {valid})",
     "措施 {measure!r} 把排放源 {pool!r} 的活动水平转入其自身；请指定另一个排放源（可选：{valid}）"),
    ("pollutant-not-emitted", "measures[].(efficiency, ef, removal, c_in).<pollutant>", "a pollutant the pool emits", R,
     "pool {pool!r} does not emit {pollutant}, so this has no effect; pollutants of the pool: {valid}",
     "排放源 {pool!r} 不排放 {pollutant}，此项不起作用；该排放源的污染物：{valid}"),
    ("efficiency-range", "measures[].efficiency.<pollutant>", "0% to 100%", R,
     "efficiency must lie between 0% and 100%, got {got}",
     "去除效率应在 0% 到 100% 之间，实为 {got}"),
    ("standard-looser", "measures[].ef.<pollutant>", "a factor below the pool's", W,
     "measure {measure!r}: the new {pollutant} factor ({new:.6g}) is not below pool {pool!r}'s ({old:.6g}); the standard changes nothing",
     "措施 {measure!r}：新的 {pollutant} 排放因子（{new:.6g}）不低于排放源 {pool!r} 的（{old:.6g}），该标准不产生减排"),
    ("treat-negative-removal", "measures[].c_out.<pollutant>", "c_out <= c_in, removal >= 0", R,
     "measure {measure!r} removes a negative load of {pollutant}: c_out must not exceed c_in (and removal must be >= 0)",
     "措施 {measure!r} 的 {pollutant} 削减量为负：出水浓度 c_out 不能高于进水浓度 c_in（removal 应 >= 0）"),
    ("cover-empty-pool", "measures[].quantity", "a pool with baseline activity, or a 'share'", R,
     "measure {measure!r} covers {qty:.6g} {unit} of pool {pool!r}, whose baseline activity is 0 in {year}: it would cover nothing; "
     "give a 'share' of the pool (e.g. 50%) instead of a quantity",
     "措施 {measure!r} 覆盖排放源 {pool!r} 的 {qty:.6g} {unit}，而该源 {year} 年基准活动水平为 0，覆盖不到任何量；请改用覆盖比例 'share'（如 50%）"),
    # ---- limits: a measure never takes more than its pool holds ----------------------------
    ("move-over-pool", "measures[].quantity", "at most what the pool holds", R,
     "measures {measures} retire or switch {taken:.6g} {unit} of pool {pool!r} in {year}, {pct:.0f}% of the {held:.6g} it holds",
     "措施 {measures} 在 {year} 年淘汰或替代排放源 {pool!r} 的 {taken:.6g} {unit}，为其现有量 {held:.6g} 的 {pct:.0f}%"),
    ("cover-over-pool", "measures[].quantity", "at most what the pool holds", R,
     "measure {measure!r} covers {qty:.6g} {unit}, more than pool {pool!r} holds ({held:.6g})",
     "措施 {measure!r} 覆盖 {qty:.6g} {unit}，超过排放源 {pool!r} 的现有量（{held:.6g}）"),
    ("treat-over-load", "measures[].quantity", "at most the pool's load", R,
     "treatment measures {measures} remove {removed:.6g} t of {pollutant} from pool {pool!r} in {year}, more than its {held:.6g} t",
     "治理措施 {measures} 在 {year} 年从排放源 {pool!r} 削减 {pollutant} {removed:.6g} t，超过其负荷 {held:.6g} t"),
    ("limit-at-extremes", "measures[].quantity", "within the pool at the ends of every range", W,
     "{what} at the ends of the ranges ({corner}); where a sample goes that far, the engine caps the measure at what the pool holds",
     "在各不确定范围的端点（{corner}）{what}；抽样到这么远时，模型将措施限制在排放源现有量以内"),
    ("limit-in-samples", "measures[].quantity", "within the pool in every sample", W,
     "in {count} of {total} samples ({pct:.0f}%) {what}; those samples are capped at what the pool holds",
     "{total} 个样本中有 {count} 个（{pct:.0f}%）{what}；这些样本按排放源现有量封顶"),
    # ---- timing ------------------------------------------------------------------------------
    ("commissioned-before-base", "measures[].(commissioned, year)", "after the base year", R,
     "measure {measure!r} takes effect in {year}, before the base year {base}: it is already in the base-year inventory; "
     "edit the pool instead, or give a date after {base}",
     "措施 {measure!r} 在 {year} 年生效，早于基准年 {base}：它已包含在基准年清单中；请直接修改基准年清单中的排放源，或给出基准年之后的日期"),
    ("after-last-year", "measures[].(commissioned, year, schedule)", "within the scenario years", W,
     "measure {measure!r} takes effect in {year}, after the last year {last}: it contributes nothing",
     "措施 {measure!r} 在 {year} 年生效，晚于最后一年 {last}：不产生减排"),
    ("schedule-empty", "measures[].schedule", "at least one year", R, "schedule is empty; give {{year: share}}, e.g. {{2023: 40%, 2025: 100%}}",
     "进度表为空；请写成 {{年份: 比例}}，如 {{2023: 40%, 2025: 100%}}"),
    ("schedule-decreasing", "measures[].schedule", "non-decreasing shares (it is cumulative)", R,
     "schedule shares are cumulative and must not decrease: {prev} in {prev_year}, then {got} in {year}",
     "进度表的比例是累计值，不能下降：{prev_year} 年为 {prev}，{year} 年为 {got}"),
    ("schedule-outside", "measures[].schedule.<year>", "a scenario year", R,
     "schedule year {year} lies outside the scenario years {first}-{last}",
     "进度表年份 {year} 不在情景年份 {first}-{last} 之内"),
    ("schedule-share", "measures[].schedule", "0 to 1", R, "schedule shares lie between 0 and 1",
     "进度表比例应在 0 到 1 之间"),
    # ---- costs -------------------------------------------------------------------------------
    ("lifetime", "measures[].cost.lifetime", "a time > 0, e.g. '15 a'", R, "lifetime must be a time above zero, e.g. '15 a'; got {got!r}",
     "使用年限应为大于零的时间，如 '15 a'；实为 {got!r}"),
    ("capital-negative", "measures[].cost.capital", ">= 0 元", R, "capital cost must not be negative, got {got}",
     "投资不能为负，实为 {got}"),
    ("discount-rate", "discount_rate", "above -100% and below 100%", R, "discount_rate (and its range) must lie above -100% and below 100%, got {got}",
     "折现率 discount_rate（及其范围）应大于 -100%、小于 100%，实为 {got}"),
    ("unit-size", "measures[].unit_size", "> 0 in the quantity's unit", R, "unit_size must be above zero, got {got!r}",
     "单个项目规模 unit_size 应大于零，实为 {got!r}"),
    ("potential-negative", "measures[].potential", ">= 0", R, "potential must not be negative, got {got!r}",
     "潜力 potential 不能为负，实为 {got!r}"),
    # ---- coefficient overrides -------------------------------------------------------------
    ("override-unit", "coefficients.<key>.unit", "a unit of the library coefficient's dimension", R,
     "'{unit}' does not convert to '{library_unit}', the unit of {key!r} in the library ({table}); give the value in "
     "'{library_unit}' or a unit that converts to it",
     "'{unit}' 不能换算为 '{library_unit}'（系数库中 {key!r} 的单位，{table}）；请以 '{library_unit}' 或可换算的单位给值"),
    ("override-parent-unit", "coefficients.<key>.unit", "a unit of the dimension the parent scenario gives the key", R,
     "'{unit}' does not convert to '{parent_unit}', the unit of {key!r} in the parent scenario ({at}); give the value in "
     "'{parent_unit}' or a unit that converts to it",
     "'{unit}' 不能换算为 '{parent_unit}'（上级情景中 {key!r} 的单位，{at}）；请以 '{parent_unit}' 或可换算的单位给值"),
    ("override-unknown", "coefficients.<key>", "a key of the library, or one the scenario uses", R,
     "coefficient {key!r} is neither in the library nor used by the scenario, so this override changes nothing{hint}",
     "系数 {key!r} 既不在系数库中，也未被情景使用，此项覆盖不起作用{hint}"),
    ("override-range", "coefficients.<key>", "finite low <= value <= high", R, "{what}",
     "{what_zh}"),
    ("override-lognormal", "coefficients.<key>.low", "low > 0", R, "a lognormal range needs low > 0, got {got}",
     "对数正态分布的范围要求 low > 0，实为 {got}"),
    ("override-efficiency", "coefficients.<key>.value", "0% to 100% where it is a measure's efficiency", R,
     "with this override the {pollutant} efficiency of measure {measure!r} ({at}) is {got}{end}; an efficiency lies between "
     "0% and 100% (95% is value 95 with unit '%', or value 0.95 with unit '1')",
     "按此覆盖值，措施 {measure!r}（{at}）的 {pollutant} 去除效率为 {got}{end_zh}；去除效率应在 0% 到 100% 之间（95% 写作 value 95、unit '%'，或 value 0.95、unit '1'）"),
    # ---- scenario structure ------------------------------------------------------------------
    ("remove-without-extends", "remove_measures, remove_targets", "only with 'extends' (or in a variant)", R,
     "{key} only drops entries of a parent scenario; this scenario has no 'extends'",
     "{key} 只能删除上级情景中的条目；本情景没有 'extends'"),
    # ---- resources ---------------------------------------------------------------------------
    ("grid-points", "--set", f"at most {MAX_GRID_POINTS:,} points x samples", R,
     "the sweep has {points:,} points ({shape}), more than the cap of {cap:,}; use fewer values per axis",
     "扫描有 {points:,} 个点（{shape}），超过上限 {cap:,}；请减少每个维度的取值"),
    ("evaluations", "--n", f"at most {MAX_GRID_POINTS:,} model evaluations", R,
     "{method} with {n:,} base samples over {k} inputs needs {rows:,} model evaluations, above the cap of {cap:,}; use a smaller --n",
     "{method} 以 {n:,} 个基础样本、{k} 个输入需要 {rows:,} 次模型计算，超过上限 {cap:,}；请减小 --n"),
    ("permutations", "settings.shapley_permutations", f"at most {MAX_PERMUTATIONS:,}", R,
     "shapley_permutations is {got:,}, above the cap of {cap:,}",
     "shapley_permutations 为 {got:,}，超过上限 {cap:,}"),
    ("memory", "measures", f"an estimated working memory below {MAX_MEMORY_BYTES / 2**30:.0f} GiB", R,
     "{what} needs an estimated {need:.1f} GiB of working memory, above the cap of {cap:.1f} GiB; {hint}",
     "{what} 估计需要 {need:.1f} GiB 工作内存，超过上限 {cap:.1f} GiB；{hint}"),
)


def rules_table() -> list[dict[str, str]]:
    """The rules as rows (id, field, valid, action), for ``ersim schema`` and the README."""
    return [{"id": r.id, "field": r.field, "valid": r.valid, "action": r.action} for r in RULES.values()]


@dataclass
class Findings:
    """Problems (refusals) and warnings found by the stage."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, rule_id: str, where: LineMap | None, path: tuple[Any, ...], **values: Any) -> None:
        rule = RULES[rule_id]
        msg = rule.text(**values)
        p = where.problem(path, msg) if where is not None else Problem(msg)
        if rule.action == "refuse":
            self.problems.append(p)
        else:
            text = str(p) if where is not None else msg
            if text not in self.warnings:
                self.warnings.append(text)

    def extend(self, other: Findings) -> None:
        self.problems.extend(other.problems)
        for w in other.warnings:
            if w not in self.warnings:
                self.warnings.append(w)


def problem(rule_id: str, where: LineMap, path: tuple[Any, ...], **values: Any) -> Problem:
    """The Problem of a refusing rule (for checks made where the value is read)."""
    return where.problem(path, RULES[rule_id].text(**values))


# ---- scenario-level rules (no numbers computed yet) ------------------------------------------

def _pct(v: float) -> str:
    return f"{v:.0%}" if math.isfinite(v) else str(v)


def check_overrides(scen: Scenario, library_keys: Iterable[str], used: Iterable[str]) -> Findings:
    """Overrides of keys that are neither in the library nor used by the scenario (misspelt)."""
    from sim.core.errors import did_you_mean

    f = Findings()
    lines: LineMap = scen._lines or LineMap(scen._path or "<scenario>")
    keys, used_set = set(library_keys), set(used)
    for key in scen.coefficients:
        if key not in keys and key not in used_set:
            f.add("override-unknown", lines, ("coefficients", key), key=key, hint=did_you_mean(key, keys | used_set))
    return f


def check_override_units(scen: Scenario, library: Any) -> Findings:
    """An override in a unit that does not convert to the library coefficient's unit is refused at
    the override (not where the key is used, perhaps in another file)."""
    from sim.core.units import parse_unit

    f = Findings()
    lines: LineMap = scen._lines or LineMap(scen._path or "<scenario>")
    for key, o in scen.coefficients.items():
        if key not in library:
            continue
        c = library[key]
        try:
            ok = parse_unit(o.unit).dimensionality == parse_unit(c.unit).dimensionality
        except Exception:  # an unknown unit is reported by the override's own check
            continue
        if not ok:
            f.add("override-unit", lines, ("coefficients", key, "unit"), unit=o.unit, library_unit=c.unit, key=key,
                  table=f"{Path(c.file).name}:{c.row}" if c.file else "library")
    return f


def check_scenario(scen: Scenario, library_keys: Iterable[str]) -> Findings:
    """Rules that need only the scenario: timing, structure, costs, overrides."""

    f = Findings()
    lines: LineMap = scen._lines or LineMap(scen._path or "<scenario>")
    inv: LineMap = scen._inventory_lines or lines
    years = scen.year_range
    pools = {p.id: p for p in scen.pools}
    keys = set(library_keys)
    for key in ("remove_measures", "remove_targets"):
        if getattr(scen, key):
            f.add("remove-without-extends", lines, (key,), key=key)
    s = scen.settings
    if s.shapley_permutations > MAX_PERMUTATIONS:
        f.add("permutations", lines, ("settings", "shapley_permutations"), got=s.shapley_permutations, cap=MAX_PERMUTATIONS)
    dr = scen.discount_rate
    if dr is not None and not all(-1 < v < 1 for v in (dr.value, dr.low, dr.high) if v is not None):
        f.add("discount-rate", lines, ("discount_rate",), got=", ".join(_pct(v) for v in (dr.value, dr.low, dr.high) if v is not None))
    for i, pool in enumerate(scen.pools):
        g = pool.growth
        if not all(-1 < v <= 1 for v in (g.value, g.low, g.high) if v is not None):
            f.add("growth-range", inv, (i, "growth"), got=", ".join(_pct(v) for v in (g.value, g.low, g.high) if v is not None))
        if pool.activity is not None and pool.emissions:
            q = parse_quantity(pool.activity)
            if q.magnitude == 0:
                for pol, text in pool.emissions.items():
                    if parse_quantity(text).magnitude != 0:
                        f.add("emissions-without-activity", inv, (i, "emissions", pol), pool=pool.id, pollutant=pol)
    for key, o in scen.coefficients.items():
        at = ("coefficients", key)
        for name in ("low", "high"):
            v = getattr(o, name)
            if v is not None and not math.isfinite(v):
                f.add("override-range", lines, (*at, name), what=f"{name} must be a finite number, got {v}", what_zh=f"{name} 应为有限数值，实为 {v}")
        if o.distribution == "lognormal" and (o.low is None or o.low <= 0):
            f.add("override-lognormal", lines, (*at, "low"), got=o.low)
        if o.distribution in ("triangular", "uniform", "lognormal") and o.low is None:
            f.add("override-range", lines, (*at, "distribution"), what=f"a {o.distribution} distribution needs low and high",
                  what_zh=f"{o.distribution} 分布需要给出 low 和 high")
    for j, m in enumerate(scen.measures):
        path = ("measures", j)
        spec = pools.get(m.pool)
        # what the measure acts on
        if (m.type == "switch" and m.to == m.pool) or (m.type == "retire" and m.replaced_by == m.pool):
            key = "to" if m.type == "switch" else "replaced_by"
            others = [p for p in pools if p != m.pool]
            f.add("switch-to-itself", lines, (*path, key), measure=m.id, pool=m.pool, valid=", ".join(others[:6]) or "none")
        if spec is not None:
            emitted = [*spec.ef, *spec.emissions]
            for fieldname in ("efficiency", "ef", "removal", "c_in"):
                for pol in getattr(m, fieldname):
                    if pol not in emitted:
                        f.add("pollutant-not-emitted", lines, (*path, fieldname, pol), pool=m.pool, pollutant=pol, valid=", ".join(emitted))
        # timing
        first: int | None = None
        if m.commissioned:
            first = int(m.commissioned[:4])
        elif m.year is not None:
            first = m.year
        if first is not None:
            key = "commissioned" if m.commissioned else "year"
            if first < scen.base_year:
                f.add("commissioned-before-base", lines, (*path, key), measure=m.id, year=first, base=scen.base_year)
            elif first > years[-1]:
                f.add("after-last-year", lines, (*path, key), measure=m.id, year=first, last=years[-1])
        if m.schedule is not None:
            if not m.schedule:
                f.add("schedule-empty", lines, (*path, "schedule"))
            prev: tuple[int, float] | None = None
            for yr in sorted(m.schedule):
                v = m.schedule[yr].value
                if yr not in years:
                    f.add("schedule-outside", lines, (*path, "schedule", yr), year=yr, first=years[0], last=years[-1])
                if prev is not None and v < prev[1]:
                    f.add("schedule-decreasing", lines, (*path, "schedule", yr), prev=_pct(prev[1]), prev_year=prev[0], got=_pct(v), year=yr)
                prev = (yr, v)
            if any(not 0 <= v.value <= 1 for v in m.schedule.values()):
                f.add("schedule-share", lines, (*path, "schedule"))
        # costs (validation only)
        for name in ("potential", "unit_size"):
            text = getattr(m, name)
            if text is None:
                continue
            mag = float(parse_quantity(text).magnitude)
            if name == "potential" and mag < 0:
                f.add("potential-negative", lines, (*path, name), got=text)
            if name == "unit_size" and mag <= 0:
                f.add("unit-size", lines, (*path, name), got=text)
        c = m.cost
        if c is not None:
            if c.lifetime is not None:
                try:
                    life = float(parse_quantity(c.lifetime).to("a").magnitude)
                except Exception:
                    life = float("nan")
                if not (math.isfinite(life) and life > 0):
                    f.add("lifetime", lines, (*path, "cost", "lifetime"), got=c.lifetime)
            cap = c.capital
            num = cap if isinstance(cap, (int, float)) and not isinstance(cap, bool) else None
            if isinstance(cap, str) and cap.strip() not in keys:
                try:
                    num = float(parse_quantity(cap).magnitude)
                except Exception:
                    num = None
            if num is not None and num < 0:
                f.add("capital-negative", lines, (*path, "cost", "capital"), got=cap)
    return f


# ---- numeric rules (on the compiled model) ---------------------------------------------------

def _col(model: Model) -> dict[str, int]:
    return {k: i for i, k in enumerate(model.param_names)}


def extreme_rows(model: Model) -> tuple[np.ndarray, str]:
    """One parameter row at the ends of the ranges that make measures take the most of their
    pools: growth at its low end, completion and share at their high ends. (row [1, n], words)"""
    x = model.param_matrix(n=1)
    col = _col(model)
    said: list[str] = []
    for name, p in model.params.items():
        if p.low is None or p.high is None or not p.uncertain:
            continue
        if name.startswith("growth:"):
            x[0, col[name]] = p.low
            if p.low != p.value:
                said.append(f"{p.label} {p.low:+.1%}/a")
        elif name.startswith(("completion:", "share:")):
            x[0, col[name]] = p.high
    return x, ", ".join(said) or "every range at its end"


@dataclass
class _Breach:
    rule: str
    path: tuple[Any, ...]
    mask: np.ndarray  # [N] bool: the rows where the limit is broken
    detail: Callable[[int], dict[str, Any]]  # row -> the message's values (for a row where mask is True)
    what: str  # a short description for sampled warnings


@dataclass(frozen=True)
class _LimitPlan:
    """Which measures and pools each limit concerns (fixed per model; built once, see _limit_plan)."""

    mv: np.ndarray  # retire/switch measures
    mv_pools: np.ndarray  # the pools they take from or bring into
    mv_tgt: np.ndarray  # [len(mv)] position of its target (-1: none)
    ctl_qty: list[int]  # controls and standards given by quantity
    treats: np.ndarray  # treatment measures
    tpools: np.ndarray  # the pools they treat
    t_pool: np.ndarray  # [len(treats)] position of each one's pool in tpools
    rp: np.ndarray  # pollutants some treatment may remove (a removal cell is defined for it)


def _limit_plan(model: Model) -> _LimitPlan:
    stamp = (len(model.measures), len(model.pools), len(model.slots))
    cached = model.__dict__.get("_limit_plan")
    if cached is not None and cached[0] == stamp:
        return cached[1]  # type: ignore[no-any-return]
    mv = np.nonzero(np.isin(model.kind, (engine.RETIRE, engine.SWITCH)))[0]
    tgt = model.tgt[mv]
    mv_pools = np.unique(np.concatenate([model.src[mv], tgt[tgt >= 0]]))
    ctl = np.isin(model.kind, (engine.CONTROL, engine.STANDARD))
    treats = np.nonzero(model.kind == engine.TREAT)[0]
    tpools = np.unique(model.src[treats])
    plan = _LimitPlan(mv=mv, mv_pools=mv_pools,
                      mv_tgt=np.where(tgt >= 0, np.searchsorted(mv_pools, tgt), -1),
                      ctl_qty=np.nonzero(ctl & ~np.isnan(model.qty))[0].tolist(), treats=treats, tpools=tpools,
                      t_pool=np.searchsorted(tpools, model.src[treats]), rp=model.removed_pollutants())
    model.__dict__["_limit_plan"] = (stamp, plan)
    return plan


def _limits(model: Model, x: np.ndarray, completion_high: bool = False, inp: engine.EngineInputs | None = None) -> list[_Breach]:
    """Every limit of a measure against its pool, over parameter rows *x* [N, n_params].

    Vectorised over rows and restricted to the measures and pools a limit concerns (it runs on
    every chunk of Monte Carlo draws; :func:`_limit_plan` finds them once per model); a
    breach's message values are made only when asked for.
    """
    n = x.shape[0]
    out: list[_Breach] = []
    if not model.measures:
        return out
    lp = _limit_plan(model)
    with np.errstate(all="ignore"):
        if inp is None:
            inp = model.inputs_from_matrix(x)
        if completion_high:  # these rows at every measure's highest completion: implemented as that x credit
            comp = np.broadcast_to(_completion_high(model), (n, len(model.measures)))
            inp = dataclasses.replace(inp, implemented=comp[:, :, None] * model.credit[None])
        qty = inp.qty  # [N,M]
        a = engine.grown_activity(inp)  # [N,K,Y]
        mv = lp.mv
        if len(mv):
            pools = lp.mv_pools
            moved, by_src = engine.moved_out(inp, mv)  # as implemented: the kernel reads the same
            taken = np.take(by_src, pools, axis=1)  # [N,K',Y]
            a_p = a[:, pools]
            if (lp.mv_tgt >= 0).any():
                a_p = a_p + engine.by_pool(moved * inp.conv[:, mv, None], lp.mv_tgt, len(pools))
            over = taken > a_p * (1 + 1e-9)
            for i in np.nonzero(over.any(axis=(0, 2)))[0].tolist():
                k = int(pools[i])
                ms = [int(j) for j in mv if model.src[j] == k]

                def move_detail(r: int, i: int = i, k: int = k, ms: list[int] = ms,
                                over: np.ndarray = over, taken: np.ndarray = taken) -> dict[str, Any]:
                    y = int(np.nonzero(over[r, i])[0][0])
                    held = a[r, k, y]
                    return {"measures": ", ".join(model.measures[j] for j in ms), "taken": taken[r, i, y],
                            "unit": model.pool_units[k], "pool": model.pools[k], "year": model.years[y], "held": held,
                            "pct": taken[r, i, y] / held * 100 if held > 0 else float("inf")}

                out.append(_Breach("move-over-pool", ("measures", ms[0], "quantity"), np.asarray(over[:, i].any(axis=1)),
                                   move_detail,
                                   f"measures {', '.join(model.measures[j] for j in ms)} retire or switch more than pool {model.pools[k]!r} holds"))
        for j in lp.ctl_qty:
            k = int(model.src[j])
            on = model.credit[j] > 0
            if not on.any():
                continue
            held = a[:, k][:, on]  # [N,Yon]: covered shares are of the pool's baseline activity
            if np.all(held <= 0) and qty[0, j] > 0:
                first = model.years[int(np.nonzero(on)[0][0])]

                def empty_detail(r: int, j: int = j, k: int = k, first: int = first) -> dict[str, Any]:
                    return {"measure": model.measures[j], "qty": qty[r, j], "unit": model.pool_units[k],
                            "pool": model.pools[k], "year": first}

                out.append(_Breach("cover-empty-pool", ("measures", j, "quantity"), np.ones(n, bool), empty_detail,
                                   f"measure {model.measures[j]!r} covers an empty pool"))
                continue
            mask = np.asarray((qty[:, j][:, None] > held * (1 + 1e-9)).any(axis=1))
            if mask.any():
                def cover_detail(r: int, j: int = j, k: int = k, held: np.ndarray = held) -> dict[str, Any]:
                    return {"measure": model.measures[j], "qty": qty[r, j], "unit": model.pool_units[k],
                            "pool": model.pools[k], "held": float(held[r].min())}

                out.append(_Breach("cover-over-pool", ("measures", j, "quantity"), mask, cover_detail,
                                   f"measure {model.measures[j]!r} covers more than pool {model.pools[k]!r} holds"))
        treats = lp.treats
        if len(treats) and len(lp.rp):
            tpools, rp = lp.tpools, lp.rp
            base = a[:, tpools, None, :] * np.take(np.take(inp.ef, tpools, axis=1), rp, axis=2)[:, :, :, None]  # [N,Kt,P',Y]
            tot = engine.treated_load(inp, treats, lp.t_pool, len(tpools), rp)  # as implemented: the kernel's clip check reads the same
            hit = tot > base * (1 + 1e-9) + 1e-12  # [N,Kt,P',Y] (a pollutant nothing removes never hits)
            for i in np.nonzero(hit.any(axis=(0, 2, 3)))[0].tolist():
                kt = int(tpools[i])
                tms = [int(j) for j in treats if model.src[j] == kt]

                def treat_detail(r: int, i: int = i, kt: int = kt, tms: list[int] = tms, hit: np.ndarray = hit,
                                 tot: np.ndarray = tot, base: np.ndarray = base, rp: np.ndarray = rp) -> dict[str, Any]:
                    p, y = (int(v) for v in np.argwhere(hit[r, i])[0])
                    return {"measures": ", ".join(model.measures[j] for j in tms), "removed": tot[r, i, p, y],
                            "pollutant": model.pollutants[rp[p]], "pool": model.pools[kt], "year": model.years[y],
                            "held": base[r, i, p, y]}

                out.append(_Breach("treat-over-load", ("measures", tms[0], "quantity"), np.asarray(hit[:, i].any(axis=(1, 2))),
                                   treat_detail,
                                   f"treatment measures {', '.join(model.measures[j] for j in tms)} remove more than pool {model.pools[kt]!r} emits"))
    return out


def _values(model: Model, f: Findings, x: np.ndarray | None = None) -> None:
    """Central values the engine can use: factors >= 0 and finite, removals >= 0, efficiencies in
    0..1 (at both ends of every coefficient range), standards that bind."""
    lines = model.scenario._lines or LineMap("<scenario>")
    inv = model.scenario._inventory_lines or lines
    with np.errstate(all="ignore"):
        inp = model.inputs_from_matrix(model.param_matrix(n=1) if x is None else x[:1])
        base = engine.baseline(inp)[0]  # [K,P,Y]
    for k, p in zip(*np.nonzero(inp.ef[0] < 0), strict=True):
        f.add("ef-negative", inv, (int(k), "ef", model.pollutants[p]), pollutant=model.pollutants[p], value=inp.ef[0, k, p])
    for k in np.nonzero(~np.isfinite(base).all(axis=(1, 2)))[0]:
        f.add("baseline-overflow", inv, (int(k), "activity"), pool=model.pools[k])
    for j in np.nonzero(model.kind == engine.TREAT)[0]:
        for p in np.nonzero(inp.removal[0, j] < 0)[0]:
            meas = model.scenario.measures[int(j)]
            key = "c_out" if model.pollutants[p] in meas.c_out else "removal"
            f.add("treat-negative-removal", lines, ("measures", int(j), key, model.pollutants[p]),
                  measure=model.measures[j], pollutant=model.pollutants[p])
    # efficiencies that rest on coefficients: at the central value and both ends of their ranges
    eff_idx, rows, cols = model._layout("eff")
    if len(eff_idx):
        xs = [model.param_matrix(n=1) if x is None else x]
        col = _col(model)
        for end in ("low", "high") if x is None else ():
            xe = model.param_matrix(n=1)
            for name, par in model.params.items():
                if name.startswith("coef:") and getattr(par, end) is not None:
                    xe[0, col[name]] = getattr(par, end)
            xs.append(xe)
        with np.errstate(all="ignore"):
            sv = model.slot_values(np.concatenate(xs))[:, eff_idx]  # [3, n_eff]
        seen: set[tuple[int, int]] = set()
        for t in range(sv.shape[1]):
            v = sv[:, t]
            bad = np.nonzero((v < 0) | (v > 1) | ~np.isfinite(v))[0]
            jm, pm = int(rows[t]), int(cols[t])
            if len(bad) and (jm, pm) not in seen:
                seen.add((jm, pm))
                path = ("measures", jm, "efficiency", model.pollutants[pm])
                got = _pct(float(v[bad[0]]))
                # values of the scenario itself (not a sweep's points): said at the override behind them
                override = _overridden_key(model, int(eff_idx[t])) if x is None else None
                end = ("value", "low", "high")[int(bad[0])]
                if override is not None and end != "value" and getattr(model.scenario.coefficients[override], end) is None:
                    override = None  # the end of another key's range: not this override's doing
                if override is None:
                    f.add("efficiency-range", lines, path, got=got)
                else:  # said at the override that makes it so, not where the key is used (perhaps another file)
                    file, line = lines.where(path)
                    f.add("override-efficiency", lines, ("coefficients", override, end), pollutant=model.pollutants[pm],
                          measure=model.measures[jm], at=f"{Path(file).name}:{line}" if line else Path(file).name, got=got,
                          end="" if end == "value" else f" at the {end} end of its range",
                          end_zh="" if end == "value" else f"（取值范围的{'下' if end == 'low' else '上'}限处）")
    std = np.nonzero(model.kind == engine.STANDARD)[0]
    if len(std):
        idx, rows, cols = model._layout("newef")
        with np.errstate(all="ignore"):
            sv = model.slot_values(model.param_matrix(n=1) if x is None else x[:1])[0]
        for t in range(len(idx)):
            jm, pm = int(rows[t]), int(cols[t])
            k = int(model.src[jm])
            new, old = float(sv[idx[t]]), float(inp.ef[0, k, pm])
            if old > 0 and new >= old * (1 - 1e-9):
                f.add("standard-looser", lines, ("measures", jm, "ef", model.pollutants[pm]), measure=model.measures[jm],
                      pollutant=model.pollutants[pm], new=new, old=old, pool=model.pools[k])


def _overridden_key(model: Model, slot: int) -> str | None:
    """The first coefficient the scenario overrides among those the slot's value rests on."""
    overrides = model.scenario.coefficients
    if not overrides:
        return None
    for s, term in model.terms:
        if s != slot:
            continue
        for key in term.keys:
            if key in overrides:
                return key
            for base in model.library.dependencies(key):
                if base in overrides:
                    return base
    return None


def check(model: Model, x: np.ndarray | None = None) -> Findings:
    """Every numeric rule on *model*: values at central values, limits at central values
    (completion at its high end) and at the ends of every range (a warning).

    *x* (parameter rows [N, n_params]) checks other levels instead, e.g. a sweep's points.
    """
    f = Findings()
    lines = model.scenario._lines or LineMap("<scenario>")
    if x is None:
        _values(model, f)
        if f.problems:
            return f
        central = _limits(model, model.param_matrix(n=1), completion_high=True)
        for b in central:
            f.add(b.rule, lines, b.path, **b.detail(0))
        if f.problems:
            return f
        row, corner = extreme_rows(model)
        if not np.array_equal(row, model.param_matrix(n=1)):
            for b in _limits(model, row):
                f.add("limit-at-extremes", lines, b.path, what=b.what, corner=corner)
        return f
    for r in range(x.shape[0]):
        _values(model, f, x[r : r + 1])
    if f.problems:
        return f
    for b in _limits(model, x):
        r = int(np.nonzero(b.mask)[0][0])
        f.add(b.rule, lines, b.path, **b.detail(r))
    return f


def check_rows(model: Model, x: np.ndarray) -> list[Problem]:
    """Problems of the first offending row of *x* (the points a sweep will evaluate)."""
    return check(model, x).problems


def enforce(model: Model) -> None:
    """Run the stage on a compiled model: raise InputError with every refusal; add warnings."""
    f = check(model)
    if f.problems:
        raise InputError(f.problems)
    for w in f.warnings:
        if w not in model.warnings:
            model.warnings.append(w)


def sample_breaches(model: Model, x: np.ndarray, inp: engine.EngineInputs | None = None) -> dict[str, int]:
    """How many rows of *x* (Monte Carlo draws; *inp* their engine inputs) break each limit: {what: count}."""
    return {b.what: int(b.mask.sum()) for b in _limits(model, x, inp=inp) if b.mask.any()}


def breach_warnings(counts: dict[str, int], total: int) -> list[str]:
    """The warnings for limits broken in some Monte Carlo samples (with their share)."""
    return [RULES["limit-in-samples"].text(count=c, total=total, pct=100 * c / total, what=what)
            for what, c in counts.items() if c]


# ---- resources ------------------------------------------------------------------------------

def estimate_memory(model: Model, rows: int) -> int:
    """Estimated peak working memory in bytes of evaluating *rows* parameter rows at once."""
    m, k = max(1, len(model.measures)), max(1, len(model.pools))
    p, y = max(1, len(model.pollutants)), len(model.years)
    per_row = 8 * (len(model.params) + len(model.slots) + 6 * m * p + 4 * m * y + 3 * k * p * y + 2 * m * p * y)
    return rows * per_row


def check_grid(shape: tuple[int, ...], samples: int, what: str = "--set") -> None:
    """Refuse a sweep grid whose points (times samples) exceed :data:`MAX_GRID_POINTS`."""
    points = 1
    for s in shape:
        points *= int(s)
    total = points * max(1, samples)
    if total > MAX_GRID_POINTS:
        dims = " x ".join(str(s) for s in shape) + (f" x {samples} samples" if samples else "")
        f = Findings()
        f.add("grid-points", None, (), points=total, shape=dims, cap=MAX_GRID_POINTS)
        raise InputError([Problem(f.problems[0].message, path=what)])


def check_memory(need: int, what: str, hint: str, at: str = "--set") -> None:
    """Refuse an evaluation whose estimated working memory *need* (bytes) exceeds the cap."""
    if need > MAX_MEMORY_BYTES:
        msg = RULES["memory"].text(what=what, need=need / 2**30, cap=MAX_MEMORY_BYTES / 2**30, hint=hint)
        raise InputError([Problem(msg, path=at)])


def check_groups(model: Model, x: np.ndarray | None = None) -> list[Problem]:
    """Measures of one disjoint group act on separate parts of their pool: in every year their
    covered shares plus the shares they retire or switch sum to at most 100%."""
    problems: list[Problem] = []
    if not len(model.group) or not (model.group >= 0).any():
        return problems
    lines = model.scenario._lines or LineMap(model.scenario._path or "<scenario>")
    with np.errstate(all="ignore"):
        inp = model.inputs() if x is None else model.inputs_from_matrix(x)
        a = engine.grown_activity(inp)[0]  # [K,Y]
    members: dict[int, list[int]] = {}
    for j in np.nonzero(model.group >= 0)[0].tolist():
        members.setdefault(int(model.group[j]), []).append(j)
    for g, js in members.items():
        label = model.group_names[g]
        ms = np.array(js, dtype=np.int64)
        k = int(model.src[ms[0]])
        used = _group_shares(model, inp, ms, a[k])
        total = used.sum(axis=0)
        over = np.nonzero(total > 1 + 1e-9)[0]
        if len(over):
            y = int(over[0])
            parts = ", ".join(f"{model.measures[j]} {s:.4g}" for j, s in zip(ms, used[:, y], strict=True))
            problems.append(lines.problem(("measures", int(ms[0]), "disjoint_group"),
                            f"disjoint group {label.split(':', 1)[1]!r} on pool {model.pools[k]!r} takes {total[y]:.6g} of it in "
                            f"{model.years[y]} ({parts}); the shares of one group's measures sum to at most 1 (100%)"))
    return problems
