"""Least cost: the cheapest mix of candidate measures that meets every target (HiGHS via scipy).

Decision variables are the candidate measures' levels 0 <= x_m <= potential_m (in the measure's
quantity unit, or its covered share), continuous or whole projects. Candidates are the measures
that carry a ``cost``; the others stay at their scenario level. Each target is linear in x::

    achieved_t(x) = achieved_t(fixed measures only) + sum_m a[t, m] x_m  >=  required_t

with a[t, m] the measure's reduction per unit (t/a, or µg/m³ for concentration targets) in the
target's year, computed by the engine for the measure alone. Measures on one pool are
alternatives acting on separate parts of it (GAINS application rates): on every pool that holds a
candidate and another retire/switch/control/standard measure (or controls and activity switched
in), all of them join one disjoint group (``disjoint_group: least-cost`` in the written mix),
their shares sum to at most 1 in every year (one row per pool and year), and the engine
evaluates the pool as ``EF * (A_eff - A * sum c d)``, which is linear in x. So the mix re-run through the engine
achieves what the LP computed (checked to 1e-6 relative, :attr:`SolveResult.achieved_engine`).

Infeasible targets: the elastic problem adds a shortfall s_t >= 0 to every target and first
minimises the shortfalls (each relative to its requirement), then the cost at those shortfalls.
Prices (shadow prices, 元 per t or per µg/m³) are the duals of the target rows; for whole
projects they come from the LP with the chosen projects fixed and are conditional on that choice.
A target that cannot be met has its shortfall and no price (NaN); the other targets' prices are
those at the shortfalls found.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from sim.core import engine
from sim.core.errors import InputError, Problem
from sim.evaluation.evaluate import air_values, target_specs
from sim.model.compile import Model, compile_model, completion_high, group_shares
from sim.model.feasibility import evaluate_targets

__all__ = [
    "GROUP",
    "LPSolution",
    "LinearProblem",
    "SolveResult",
    "build_problem",
    "mix_inputs",
    "mix_scenario",
    "rerun_check",
    "solve",
    "solve_lp",
    "solver_groups",
    "tables",
    "write_mix",
]

MOVES = (engine.RETIRE, engine.SWITCH, engine.CONTROL, engine.STANDARD)
GROUP = "least-cost"  # the disjoint group the solver puts the measures of a shared pool in
RTOL = 1e-6  # the engine's re-run of the mix equals the LP's achievements to this relative tolerance


@dataclass
class LinearProblem:
    """min c.x  s.t.  A_ge x >= b_ge,  A_le x <= b_le,  0 <= x <= upper (x_j integer where integer[j])."""

    c: np.ndarray
    a_ge: Any
    b_ge: np.ndarray
    a_le: Any
    b_le: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    names: list[str] = field(default_factory=list)
    ge_names: list[str] = field(default_factory=list)
    le_names: list[str] = field(default_factory=list)


@dataclass
class LPSolution:
    x: np.ndarray
    cost: float
    status: str  # optimal | infeasible
    prices: np.ndarray  # d cost / d b_ge (>= 0), per >= row
    seconds: float
    method: str
    gap: float | None = None
    message: str = ""


def _stack(a: Any, n: int) -> Any:
    return a if a is not None else sp.csr_matrix((0, n))


def solve_lp(prob: LinearProblem, gap: float = 1e-2, time_limit: float | None = None) -> LPSolution:
    """Solve with HiGHS: linprog for continuous problems; milp for whole projects, then the LP
    with the integer choice fixed for its prices."""
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    n = len(prob.c)
    a_ge, a_le = _stack(prob.a_ge, n), _stack(prob.a_le, n)
    a_ub = sp.vstack([-sp.csr_matrix(a_ge), sp.csr_matrix(a_le)]).tocsr()
    b_ub = np.concatenate([-prob.b_ge, prob.b_le])
    t0 = time.perf_counter()
    method = "LP (HiGHS dual simplex)"
    x_fixed = None
    mip_gap = None
    if prob.integer.any():
        opts: dict[str, Any] = {"mip_rel_gap": gap, "disp": False}
        if time_limit:
            opts["time_limit"] = time_limit
        cons = [LinearConstraint(a_ub, -np.inf, b_ub)] if a_ub.shape[0] else []
        res = milp(prob.c, integrality=prob.integer.astype(int), bounds=Bounds(np.zeros(n), prob.upper),
                   constraints=cons, options=opts)
        if res.x is None:
            return LPSolution(np.zeros(n), math.nan, "infeasible", np.zeros(len(prob.b_ge)), time.perf_counter() - t0,
                              "MILP (HiGHS branch and bound)", message=res.message)
        x_fixed = np.round(res.x)
        mip_gap = getattr(res, "mip_gap", None)
        method = f"MILP (HiGHS, relative gap <= {gap:g}); prices from the LP with the chosen projects fixed"
    lo = np.zeros(n)
    up = prob.upper.copy()
    if x_fixed is not None:
        lo[prob.integer] = x_fixed[prob.integer]
        up[prob.integer] = x_fixed[prob.integer]
    res = linprog(prob.c, A_ub=a_ub if a_ub.shape[0] else None, b_ub=b_ub if a_ub.shape[0] else None,
                  bounds=np.column_stack([lo, up]), method="highs")
    secs = time.perf_counter() - t0
    if res.status != 0 or res.x is None:
        return LPSolution(np.zeros(n), math.nan, "infeasible", np.zeros(len(prob.b_ge)), secs, method, mip_gap, res.message)
    duals = -np.asarray(res.ineqlin.marginals)[: len(prob.b_ge)] if a_ub.shape[0] else np.zeros(0)
    return LPSolution(np.asarray(res.x), float(res.fun), "optimal", np.maximum(duals, 0.0), secs, method, mip_gap)


@dataclass
class SolveResult:
    """The least-cost mix and everything reported about it."""

    model: Model
    measures: list[str]  # candidate ids
    level: np.ndarray  # chosen level per candidate, decision unit
    unit: list[str]
    potential: np.ndarray
    unit_cost: np.ndarray  # 元/a per unit
    per_unit: dict[str, np.ndarray]  # pollutant -> reduction per unit (t/a) in the last target year
    targets: list[str]
    required: np.ndarray
    achieved_lp: np.ndarray
    prices: np.ndarray
    shortfall: np.ndarray
    binding: list[str]
    feasible: bool
    cost: float
    method: str
    seconds: float
    achievable: dict[str, tuple[int, float, float]] = field(default_factory=dict)  # pollutant -> (year, max, required)
    notes: list[str] = field(default_factory=list)
    achieved_engine: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the engine's re-run of the mix
    groups: dict[str, str] = field(default_factory=dict)  # measure id -> disjoint group written in the mix
    target_units: list[str] = field(default_factory=list)  # t, or µg/m³ for concentration targets

    @property
    def engine_meets_targets(self) -> bool:
        """True when the engine's re-run of the mix meets every target (margin >= 0 up to rounding)."""
        tol = 1e-9 * np.maximum(1.0, np.abs(self.required))
        return bool(np.all(self.achieved_engine - self.required >= -tol))

    @property
    def consistent(self) -> bool:
        """True when the engine's re-run equals the LP's achievements to RTOL relative."""
        scale = np.maximum(np.maximum(np.abs(self.achieved_lp), np.abs(self.required)), 1e-9)
        return bool(np.all(np.abs(self.achieved_engine - self.achieved_lp) <= RTOL * scale))


def _levels(model: Model) -> np.ndarray:
    """Each measure's decision level in the scenario (quantity or share)."""
    out = np.zeros(len(model.measures))
    for j in range(len(model.measures)):
        if j in model.decision_level:
            out[j] = model.decision_level[j]
    return out


def solver_groups(model: Model, cands: list[int]) -> tuple[np.ndarray, list[str], list[int]]:
    """Disjoint groups for the LP: on every pool that holds a candidate retire/switch/control/standard
    measure and at least two such measures in all, or that holds a control and receives a switch
    or replacement (one of them a candidate), those measures join one group ``<pool>:least-cost``
    (groups the scenario gave on that pool merge into it). Returns (group per measure, group
    names, the grouped pools)."""
    group = model.group.copy() if len(model.group) else -np.ones(len(model.measures), dtype=np.int64)
    names = list(model.group_names)
    takes = np.isin(model.kind, MOVES)
    cand = np.zeros(len(model.measures), dtype=bool)
    cand[cands] = True
    n_k = len(model.pools)
    count = np.bincount(model.src[takes], minlength=n_k)
    shared = np.zeros(n_k, dtype=bool)
    shared[model.src[takes & cand & (count[model.src] >= 2)]] = True
    # activity switched (or replaced) into a pool with controls enters its uncovered part, so that
    # the controls' reductions do not depend on it: needed when the control or the move is a candidate
    ctl = np.isin(model.kind, (engine.CONTROL, engine.STANDARD))
    moves_in = model.tgt >= 0
    has_ctl = np.bincount(model.src[ctl], minlength=n_k) > 0
    has_ctl_cand = np.bincount(model.src[ctl & cand], minlength=n_k) > 0
    gets = np.bincount(model.tgt[moves_in], minlength=n_k) > 0
    gets_cand = np.bincount(model.tgt[moves_in & cand], minlength=n_k) > 0
    shared |= (has_ctl & gets_cand) | (has_ctl_cand & gets)
    pools = np.nonzero(shared)[0].tolist()
    index = {name: g for g, name in enumerate(names)}
    gid = -np.ones(len(model.pools), dtype=np.int64)
    for k in pools:
        label = f"{model.pools[k]}:{GROUP}"
        if label not in index:
            index[label] = len(names)
            names.append(label)
        gid[k] = index[label]
    sel = takes & (gid[model.src] >= 0)
    group[sel] = gid[model.src[sel]]
    return group, names, pools


def _share_use(model: Model, inp: engine.EngineInputs, js: np.ndarray, a_k: np.ndarray) -> np.ndarray:
    """[len(js), Y]: share of the pool (activity a_k [Y]) each candidate takes per unit of its level
    (by share: 1; by quantity: 1 / activity, in the decision unit), at the high end of completion,
    times its credit, as the loader's disjoint-group check (``group_shares``) counts it."""
    js = np.asarray(js, dtype=np.int64)
    by_share = np.array([model.share_param[j] is not None for j in js], dtype=bool)
    lv = np.array([model.decision_level.get(int(j), 0.0) for j in js])
    q = np.nan_to_num(inp.qty[0, js])
    unit_q = np.where(lv > 0, q / np.where(lv > 0, lv, 1.0), 1.0)  # pool units per decision unit
    per = np.where(a_k[None, :] > 0, unit_q[:, None] / np.where(a_k > 0, a_k, 1.0)[None, :], 0.0)
    per = np.where(by_share[:, None], 1.0, per)
    return per * completion_high(model)[js, None] * model.credit[js]


def mix_inputs(model: Model, cands: list[int], level: np.ndarray) -> engine.EngineInputs:
    """Engine inputs with the candidates at *level* (decision units), as the written mix gives them."""
    from dataclasses import replace

    inp = model.inputs()
    qty, share, removal = inp.qty.copy(), inp.share.copy(), inp.removal.copy()
    for j, x in zip(cands, level, strict=True):
        if model.share_param[j] is not None:
            share[:, j] = x
            continue
        scale = x / model.decision_level[j]
        qty[:, j] = qty[:, j] * scale
        removal[:, j] = removal[:, j] * scale
    return replace(inp, qty=qty, share=share, removal=removal)


def _with_fixed(model: Model, inp: engine.EngineInputs, cands: list[int], fixed: np.ndarray, red: np.ndarray) -> None:
    """Replace in *red* [C,P,Y] the alone reductions of candidates on (or into) a pool that holds a
    fixed measure by their reduction on top of the fixed measures: a treatment on a pool with a
    fixed control (or a control on a pool with a fixed treatment) acts on what the other leaves."""
    on = np.zeros(len(model.pools), dtype=bool)
    on[model.src[(fixed > 0) & model.credit.any(axis=1)]] = True
    cand = np.array(cands)
    need = np.nonzero(on[model.src[cand]] | ((model.tgt[cand] >= 0) & on[np.maximum(model.tgt[cand], 0)]))[0]
    if not len(need):
        return
    from scipy.sparse.csgraph import connected_components

    # pools linked by a switch or replacement interact (engine.components, without its Python loops)
    k = len(model.pools)
    moves = model.tgt >= 0
    link = sp.csr_matrix((np.ones(int(moves.sum())), (model.src[moves], model.tgt[moves])), shape=(k, k))
    _, label = connected_components(link, directed=False)
    comp_of = label[model.src]
    m_order = np.argsort(comp_of, kind="stable")
    p_order = np.argsort(label, kind="stable")
    for c in np.unique(comp_of[cand[need]]):
        ms = m_order[np.searchsorted(comp_of[m_order], c, "left"):np.searchsorted(comp_of[m_order], c, "right")]
        pools = p_order[np.searchsorted(label[p_order], c, "left"):np.searchsorted(label[p_order], c, "right")]
        sub = inp.restrict(ms, np.sort(pools))
        rows = need[comp_of[cand[need]] == c]
        local = np.searchsorted(ms, cand[rows])  # ms is sorted
        for start in range(0, len(rows), 64):
            chunk = slice(start, start + 64)
            mask = np.repeat(fixed[ms][None, :], len(rows[chunk]) + 1, axis=0)
            mask[np.arange(1, len(rows[chunk]) + 1), local[chunk]] = 1.0
            e = engine.emissions(sub, mask).sum(axis=1)  # [1+R,P,Y]: the fixed ones, then each candidate on top
            red[rows[chunk]] = e[0][None] - e[1:]


def build_problem(model: Model) -> tuple[LinearProblem, dict[str, Any]]:
    """The LP of a compiled scenario (see the module docstring); ``info["model"]`` is *model* with
    the solver's disjoint groups (:func:`solver_groups`), the model the LP and its re-run describe."""
    cands = sorted(model.unit_cost)
    if not cands:
        raise InputError(Problem("no candidate measures: give measures a 'cost' (and a 'potential') to choose among them",
                                 model.scenario._path or "<scenario>"))
    specs = target_specs(model)
    if not specs:
        raise InputError(Problem("no targets to meet", model.scenario._path or "<scenario>"))
    group, group_names, grouped = solver_groups(model, cands)
    model = model.with_groups(group, group_names)
    inp = model.inputs()
    m_all = len(model.measures)
    fixed = np.ones((1, m_all))
    fixed[0, cands] = 0.0
    # per-unit reductions: each candidate alone, at its scenario level (linear in the level)
    base = engine.baseline(inp)[0].sum(axis=0)  # [P,Y]
    e_fixed = engine.emissions(inp, fixed)[0].sum(axis=0)
    alone_red = engine.alone_reductions(inp)[cands]  # [C,P,Y]
    _with_fixed(model, inp, cands, fixed[0], alone_red)
    levels = _levels(model)
    lv = np.array([levels[j] for j in cands])
    if np.any(lv <= 0):
        bad = [model.measures[j] for j, v in zip(cands, lv, strict=True) if v <= 0]
        raise InputError(Problem(f"candidate measures need a positive quantity or share to scale from: {', '.join(bad)}",
                                 model.scenario._path or "<scenario>"))
    per_unit = alone_red / lv[:, None, None]  # [C,P,Y] t/a per unit
    air = air_values(model, model.param_matrix(n=1))
    req, ach_fixed = evaluate_targets(specs, base[None], e_fixed[None], air)
    # target rows: achieved_t is linear in the totals; differentiate by unit cuts of the totals
    a = np.zeros((len(specs), len(cands)))
    for i, t in enumerate(specs):
        if t.kind == "concentration":
            assert air is not None
            for name, p, form in t.precursors:
                e_ref = e_fixed[p, t.ref]
                alpha = air["base"][0] * air[name][0] / e_ref if form == "share" and e_ref > 0 else (air[name][0] if form != "share" else 0.0)
                a[i] += alpha * per_unit[:, p, t.y]
        else:
            a[i] = per_unit[:, t.p, t.y]
    b = req[0] - ach_fixed[0]
    # pool shares: the measures of a solver group act on separate parts of their pool, so in every
    # year their shares (quantities over the grown activity) sum to at most 1
    a_act = engine.grown_activity(inp)[0]  # [K,Y]
    cand_arr = np.array(cands)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    rhs_l: list[float] = []
    names: list[str] = []
    cand_pos = -np.ones(len(model.measures), dtype=np.int64)
    cand_pos[cand_arr] = np.arange(len(cand_arr))
    on_pool: dict[int, list[int]] = {}
    for j in np.nonzero(np.isin(model.kind, MOVES) & np.isin(model.src, grouped))[0].tolist():
        on_pool.setdefault(int(model.src[j]), []).append(j)
    for k in grouped:
        on = np.array(on_pool[k], dtype=np.int64)
        c_on = cand_pos[on[cand_pos[on] >= 0]]
        fixed_j = on[cand_pos[on] < 0]
        use_c = _share_use(model, inp, cand_arr[c_on], a_act[k])  # [C_k,Y] per unit of level
        use_f = group_shares(model, inp, fixed_j, a_act[k])  # [F_k,Y] at their scenario levels
        for y in np.nonzero(use_c.any(axis=0))[0]:
            nz = np.nonzero(use_c[:, y])[0]
            rows.extend([len(rhs_l)] * len(nz))
            cols.extend(c_on[nz].tolist())
            vals.extend(use_c[nz, y].tolist())
            rhs_l.append(max(0.0, 1.0 - float(use_f[:, y].sum())))
            names.append(f"share[{model.pools[k]}, {model.years[y]}]")
    rows_sp = sp.csr_matrix((vals, (rows, cols)), shape=(len(rhs_l), len(cands))) if rhs_l else None
    rhs = np.array(rhs_l)
    pot = np.array([model.potential[j] for j in cands])
    integer = np.array([j in model.project_size for j in cands])
    size = np.array([model.project_size.get(j, 1.0) for j in cands])
    costs = np.array([model.unit_cost[j] for j in cands])
    last = max(t.y for t in specs)
    for ci, jc in enumerate(cands):  # cost per tonne abated -> per unit of the measure
        for pol, price in model.abatement_price.get(jc, {}).items():
            if pol in model.pollutants:
                costs[ci] += price * per_unit[ci, model.pollutants.index(pol), last]
    # whole projects: x = size * k, k integer
    scale = np.where(integer, size, 1.0)
    prob = LinearProblem(
        c=costs * scale, a_ge=sp.csr_matrix(a * scale[None, :]), b_ge=b,
        a_le=rows_sp @ sp.diags(scale) if rows_sp is not None else None, b_le=rhs,
        upper=np.where(integer, np.floor(pot / np.where(size > 0, size, 1) + 1e-9), pot), integer=integer,
        names=[model.measures[j] for j in cands], ge_names=[t.id for t in specs], le_names=names,
    )
    info = {"model": model, "grouped": grouped, "cands": cands, "scale": scale, "per_unit": per_unit, "required": req[0], "achieved_fixed": ach_fixed[0],
            "specs": specs, "potential": pot, "a": a, "unit_cost": costs}
    return prob, info


def _elastic(prob: LinearProblem, gap: float, time_limit: float | None) -> tuple[LPSolution, np.ndarray]:
    """Minimise shortfalls (relative to each requirement) first, then cost with them fixed."""
    n, t = len(prob.c), len(prob.b_ge)
    norm = np.maximum(np.abs(prob.b_ge), 1e-9)
    eye = sp.identity(t, format="csr")
    a_ge = sp.hstack([sp.csr_matrix(prob.a_ge), eye]).tocsr()
    a_le = sp.hstack([_stack(prob.a_le, n), sp.csr_matrix((len(prob.b_le), t))]).tocsr() if prob.a_le is not None else None
    upper = np.concatenate([prob.upper, np.maximum(prob.b_ge, 0.0)])
    integer = np.concatenate([prob.integer, np.zeros(t, dtype=bool)])
    phase1 = LinearProblem(np.concatenate([np.zeros(n), 1.0 / norm]), a_ge, prob.b_ge, a_le, prob.b_le, upper, integer)
    s1 = solve_lp(phase1, gap, time_limit)
    short = s1.x[n:]
    # a target phase 1 could not meet has a shortfall and no price (no amount of money buys more of
    # it); below the solver's feasibility tolerance a shortfall is none
    missed = short > SHORTFALL_RTOL * np.maximum(1.0, np.abs(prob.b_ge))
    # phase 2: cost, with each shortfall at most its phase-1 value (none for the targets met)
    upper2 = np.concatenate([prob.upper, np.where(missed, short * (1 + 1e-9) + 1e-9, 0.0)])
    phase2 = LinearProblem(np.concatenate([prob.c, np.zeros(t)]), a_ge, prob.b_ge, a_le, prob.b_le, upper2, integer)
    s2 = solve_lp(phase2, gap, time_limit)
    prices = np.where(missed, np.nan, s2.prices)
    sol = LPSolution(s2.x[:n], s2.cost, "infeasible", prices, s1.seconds + s2.seconds, s2.method, s2.gap)
    return sol, np.where(missed, s2.x[n:], 0.0)


#: a shortfall at or below this share of its requirement (at least of 1 unit) is none: HiGHS's
#: primal feasibility tolerance is 1e-7
SHORTFALL_RTOL = 1e-7


def solve(scenario: Any, library: Any = None, *, gap: float = 1e-2, time_limit: float | None = 60.0,
          round_up_above: int = 10_000) -> SolveResult:
    """The least-cost mix for *scenario* (a Scenario); see the module docstring."""
    from sim.model.coefficients import load_library

    model = compile_model(scenario, library if library is not None else load_library())
    prob, info = build_problem(model)
    notes: list[str] = []
    if prob.integer.sum() > round_up_above:
        notes.append(f"整体项目候选措施有 {int(prob.integer.sum())} 项（多于 {round_up_above}）：按线性规划求解后把非整数项目向上取整，"
                     f"费用为上限 ({int(prob.integer.sum())} whole-project candidates (> {round_up_above}): solved as an LP and the "
                     "fractional projects rounded up, so the cost is an upper bound)")
        relaxed = LinearProblem(prob.c, prob.a_ge, prob.b_ge, prob.a_le, prob.b_le, prob.upper, np.zeros_like(prob.integer),
                                prob.names, prob.ge_names, prob.le_names)
        sol = solve_lp(relaxed, gap, time_limit)
        if sol.status == "optimal":
            sol.x = np.where(prob.integer, np.ceil(sol.x - 1e-9), sol.x)
            sol.cost = float(prob.c @ sol.x)
    else:
        sol = solve_lp(prob, gap, time_limit)
    shortfall = np.zeros(len(prob.b_ge))
    feasible = sol.status == "optimal"
    if not feasible:
        sol, shortfall = _elastic(prob, gap, time_limit)
    x = sol.x * info["scale"]
    a = info["a"]
    achieved = info["achieved_fixed"] + a @ x
    specs = info["specs"]
    binding = [t.id for t, s, p in zip(specs, shortfall, sol.prices, strict=True) if s > 1e-9 * max(1.0, abs(t.value)) or p > 1e-9]
    if prob.integer.any():
        notes.append("影子价格以已选定的整体项目为前提（固定这些项目后的线性规划） "
                     "(prices are conditional on the chosen whole projects (the LP with those projects fixed))")
    cands = info["cands"]
    last_y = max(t.y for t in specs)
    per_unit = {p: info["per_unit"][:, i, last_y] for i, p in enumerate(model.pollutants)}
    achievable: dict[str, tuple[int, float, float]] = {}
    if not feasible:
        achievable = _largest_reductions(model, prob, info)
    gmodel: Model = info["model"]
    groups = {gmodel.measures[j]: gmodel.group_names[g].split(":", 1)[1] for j, g in enumerate(gmodel.group) if g >= 0}
    # the mix re-run through the engine, with the groups the LP assumed
    inp = mix_inputs(gmodel, cands, x)
    air = air_values(gmodel, gmodel.param_matrix(n=1))
    _, ach_engine = evaluate_targets(specs, engine.baseline(inp).sum(axis=1), engine.emissions(inp).sum(axis=1), air)
    cand_ids = {gmodel.measures[j] for j in cands}
    regrouped = [m for m, g in groups.items() if g == GROUP and m not in cand_ids]
    if regrouped:
        notes.append(f"措施 {'、'.join(regrouped)} 与候选措施作用于同一排放源：组合按最低费用模型的假设，使它们作用于该源的不同部分"
                     f"（disjoint_group: {GROUP}） (measures {', '.join(regrouped)} share a pool with candidates: the mix puts them on "
                     f"separate parts of it (disjoint_group: {GROUP}), as the least-cost model assumes)")
    res = SolveResult(
        model=gmodel, measures=[model.measures[j] for j in cands], level=x,
        unit=[model.decision_unit[j] for j in cands], potential=info["potential"],
        unit_cost=info["unit_cost"], per_unit=per_unit,
        targets=[t.id for t in specs], required=info["required"], achieved_lp=achieved, prices=sol.prices,
        shortfall=shortfall, binding=binding, feasible=feasible, cost=float(info["unit_cost"] @ x),
        method=sol.method, seconds=sol.seconds, achievable=achievable, notes=notes,
        achieved_engine=ach_engine[0], groups=groups,
        target_units=["µg/m³" if t.kind == "concentration" else "t" for t in specs],
    )
    if not res.consistent:
        worst = int(np.argmax(np.abs(res.achieved_engine - res.achieved_lp)))
        notes.append(f"用模型重算该组合的结果与线性规划不一致（目标 {res.targets[worst]}：{res.achieved_engine[worst]:.6g} 对 "
                     f"{res.achieved_lp[worst]:.6g} {res.target_units[worst]}）：同一排放源上的治理候选与控制候选、与淘汰加控制措施组并存的治理措施，"
                     "或以候选措施起作用年份为基准的目标，都不是措施规模的线性函数 "
                     f"(the engine's re-run of the mix differs from the linear model (target {res.targets[worst]}: "
                     f"{res.achieved_engine[worst]:.6g} vs {res.achieved_lp[worst]:.6g} {res.target_units[worst]}); "
                     "a treatment candidate with a control candidate on one pool, a treatment beside a group that retires "
                     "and controls, or a target measured against a year the candidates act in, are not linear in the levels)")
    return res


def _largest_reductions(model: Model, prob: LinearProblem, info: dict[str, Any]) -> dict[str, tuple[int, float, float]]:
    """Per targeted pollutant: the most the candidates (plus fixed measures) can achieve, and the requirement."""
    out: dict[str, tuple[int, float, float]] = {}
    for i, t in enumerate(info["specs"]):
        obj = -np.asarray(prob.a_ge.getrow(i).todense()).ravel()
        lp = LinearProblem(obj, None, np.zeros(0), prob.a_le, prob.b_le, prob.upper, np.zeros_like(prob.integer))
        s = solve_lp(lp)
        best = float(info["achieved_fixed"][i] - s.cost) if s.status == "optimal" else float("nan")
        key = f"{t.id} ({model.pollutants[t.p] if t.kind != 'concentration' else 'PM25'})"
        out[key] = (model.years[t.y], best, float(info["required"][i]))
    return out


def macc_table(res: SolveResult, pollutant: str) -> Any:
    """Marginal abatement cost curve data: candidates by 元/t of *pollutant*, width = potential reduction."""
    import pandas as pd

    r = res.per_unit.get(pollutant)
    if r is None:
        raise InputError(Problem(f"pollutant {pollutant!r} is not in the scenario; it has {', '.join(res.per_unit)}"))
    rows = []
    names = dict(zip(res.model.measures, res.model.measure_names, strict=True))
    for i, m in enumerate(res.measures):
        if r[i] <= 0:
            continue
        rows.append({"measure": m, "name": names[m], "cost_per_t": res.unit_cost[i] / r[i],
                     "potential_reduction": r[i] * res.potential[i], "chosen_reduction": r[i] * res.level[i]})
    df = pd.DataFrame(rows, columns=["measure", "name", "cost_per_t", "potential_reduction", "chosen_reduction"])
    return df.sort_values("cost_per_t").reset_index(drop=True)


def rerun_check(res: SolveResult, achieved: np.ndarray) -> tuple[list[str], list[str]]:
    """Targets the re-run (*achieved* per target, the mix run from its file) misses, and those where it
    differs from the LP by more than RTOL relative; each as 'id: engine vs LP unit'."""
    missed, differ = [], []
    for i, tid in enumerate(res.targets):
        req, lp, eng, u = res.required[i], res.achieved_lp[i], float(achieved[i]), res.target_units[i]
        if eng - req < -1e-9 * max(1.0, abs(req)):
            missed.append(f"{tid}: achieved {eng:.9g} {u}, required {req:.9g} {u}")
        if abs(eng - lp) > RTOL * max(abs(lp), abs(req), 1e-9):
            differ.append(f"{tid}: engine {eng:.9g} vs least-cost model {lp:.9g} {u}")
    return missed, differ


def tables(res: SolveResult, rerun_achieved: np.ndarray | None = None) -> dict[str, Any]:
    """The solve's files as DataFrames, numbers at full precision: ``mix`` (levels), ``costs``
    (元/a by measure and in total), ``prices`` (shadow prices, 元 per unit of each target: 元/t, or
    元 per µg/m³ for a concentration target) and ``targets`` (required, LP, engine, re-run)."""
    import pandas as pd

    m = res.model
    idx = [m.measures.index(x) for x in res.measures]
    mix = pd.DataFrame({
        "measure": res.measures, "name": [m.measure_names[j] for j in idx], "type": [m.measure_types[j] for j in idx],
        "pool": [m.pools[m.src[j]] for j in idx], "disjoint_group": [res.groups.get(x, "") for x in res.measures],
        "level": res.level, "unit": [u or "share" for u in res.unit], "potential": res.potential,
    })
    cost = res.unit_cost * res.level
    costs = pd.DataFrame({
        "measure": [*res.measures, "total"], "name": [*(m.measure_names[j] for j in idx), "合计"],
        "level": [*res.level, np.nan], "unit": [*(u or "share" for u in res.unit), ""],
        "unit_cost_yuan_per_a_per_unit": [*res.unit_cost, np.nan], "cost_yuan_per_a": [*cost, float(cost.sum())],
    })
    specs = {t.id: t for t in m.scenario.targets}
    prices = pd.DataFrame({
        "target": res.targets, "pollutant": [specs[t].pollutant for t in res.targets],
        "kind": [specs[t].kind for t in res.targets], "year": [specs[t].year for t in res.targets],
        "price": res.prices, "price_unit": [f"元/{u}" if u == "t" else f"元/({u})" for u in res.target_units],
        "binding": [t in res.binding for t in res.targets],
    })
    targets = pd.DataFrame({
        "target": res.targets, "unit": res.target_units, "required": res.required, "achieved_lp": res.achieved_lp,
        "achieved_engine": res.achieved_engine, "margin_engine": res.achieved_engine - res.required, "shortfall": res.shortfall,
    })
    if rerun_achieved is not None:
        targets["achieved_rerun"] = rerun_achieved
        targets["margin_rerun"] = np.asarray(rerun_achieved) - res.required
    return {"mix": mix, "costs": costs, "prices": prices, "targets": targets}


def mix_scenario(solution: SolveResult) -> Any:
    """The scenario with the least-cost levels in place: what :func:`sim.analyses.solve.write_mix` writes.

    Candidates chosen at zero are removed; levels are written a hair above the optimum (1e-10
    relative, 12 significant digits), exactly as in the YAML, so the re-run is the file's.
    """
    from sim.model.scenario import Uncertain

    scen = solution.model.scenario
    chosen = {m: (float(lvl), u) for m, lvl, u in zip(solution.measures, solution.level, solution.unit, strict=True)}
    measures = []
    for j, m in enumerate(scen.measures):
        if m.id in chosen:
            level, unit = chosen[m.id]
            if level <= 1e-9:
                continue
            up = float(f"{level * (1 + 1e-10):.12g}")
            if solution.model.share_param[j] is not None:
                m = m.model_copy(update={"share": Uncertain(value=min(up, 1.0))})
            else:
                m = m.model_copy(update={"quantity": f"{up:.12g} {unit}".strip()})
        if m.id in solution.groups:  # candidates (and fixed measures) the solver put on separate parts of a pool
            m = m.model_copy(update={"disjoint_group": solution.groups[m.id]})
        measures.append(m)
    mix = scen.model_copy(update={"measures": measures, "id": f"{scen.slug}-least-cost", "name": f"{scen.name}(最低成本组合)"})
    return mix


def write_mix(res: SolveResult, path: Any) -> Any:
    """The chosen mix as a scenario YAML extending the original (runs with `ersim run`/`compare`).

    When the original file is not at hand (a solve started from a run received from elsewhere),
    the mix is written whole: the run's resolved scenario with the chosen levels in place.
    """
    import os
    from pathlib import Path

    import yaml

    scen = res.model.scenario
    src = scen._path
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if not src or not Path(src).is_file():
        from sim.store.record import scenario_document

        doc = scenario_document(mix_scenario(res))["scenario"]
        doc["description"] = f"written by `ersim solve` (whole: its scenario file was not at hand): {res.method}; annualised cost {res.cost:,.0f} 元/a"
        header = "# The least-cost mix found by `ersim solve`, written whole from the run's record.\n"
        p.write_text(header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return p
    ref = os.path.relpath(src, p.parent) + (f"#{scen._variant}" if scen._variant else "")
    measures: list[dict[str, Any]] = []
    removed = []
    for m, level, unit in zip(res.measures, res.level, res.unit, strict=True):
        j = res.model.measures.index(m)
        if level <= 1e-9:
            removed.append(m)
        else:
            # written a hair above the optimum (1e-10 relative) so that rounding never leaves a
            # binding target a fraction of a gram short when the mix is re-run
            up = float(f"{level * (1 + 1e-10):.12g}")
            entry: dict[str, Any] = {"id": m}
            if res.model.share_param[j] is not None:
                entry["share"] = min(up, 1.0)
            else:
                entry["quantity"] = f"{up:.12g} {unit}".strip()
            if m in res.groups:
                entry["disjoint_group"] = res.groups[m]
            measures.append(entry)
    # measures the solver put on separate parts of a pool with candidates (fixed ones included)
    for m, g in res.groups.items():
        if m not in res.measures and g != _given_group(scen, m):
            measures.append({"id": m, "disjoint_group": g})
    data: dict[str, Any] = {
        "extends": ref,
        "id": f"{scen.slug}-least-cost",
        "name": f"{scen.name}(最低成本组合)",
        "description": f"written by `ersim solve`: {res.method}; annualised cost {res.cost:,.0f} 元/a",
    }
    if measures:
        data["measures"] = measures
    if removed:
        data["remove_measures"] = removed
    header = "# The least-cost mix found by `ersim solve` for the scenario it extends.\n"
    p.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def _given_group(scen: Any, measure: str) -> str | None:
    """The disjoint group the scenario itself gives *measure*."""
    for m in scen.measures:
        if m.id == measure:
            return m.disjoint_group  # type: ignore[no-any-return]
    return None
