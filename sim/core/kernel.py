"""The Monte Carlo kernel: emission totals [N,P,Y] of many rows as one stacked matmul.

Same numbers as :func:`sim.core.engine.totals` (to rounding, ~1e-15 relative), faster: the
structure (which measure acts on which pool, in which position) is turned into index arrays
once per model (:class:`Plan`), and each chunk of rows is then a few gathers and a single
batched matrix product, with no Python loop over measures, pools or inclusion-exclusion terms.

For a pool k with controls r = 1..j (covered share c_r[y], cut d_r[p]) and treatments t
(implemented f_t[y], removal R_t[p])::

    E[k,p,y] = (A_eff[k,y] EF[k,p] - sum_t f_t[y] R_t[p]) * prod_r (1 - c_r[y] d_r[p])
             = sum_{head h} sum_{S subset of controls} (-1)^|S| (L_h[y] prod_S c_r[y]) (R_h[p] prod_S d_r[p])

Each (pool, head, subset) is one *row* of a left matrix L [N,rows,Y] and a right matrix
R [N,rows,P]; the total over pools is L^T R, one stacked matmul. The signs are carried by the
factors (-c for each subset member, -R for a treatment head): exact in floating point. A pool with more than
``max_expand`` controls (2^j rows) takes the engine's dense path, and so does any pool named
in ``dense`` (e.g. pools whose per-pool multiplier is not the product above, such as
disjoint shares). A chunk where a treatment would remove more than its pool emits (the clip
at zero bites) is evaluated by the engine instead. Inputs of a shape this kernel does not
know (fields added to EngineInputs later) also go to the engine, so it is never wrong, only
slower.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from sim.core import engine

__all__ = ["Plan", "make_plan", "totals"]

_KNOWN_FIELDS = ("activity0", "growth", "ef", "offset", "kind", "src", "tgt", "qty", "share", "conv", "cut",
                 "removal", "implemented", "group")


@dataclass(frozen=True)
class Plan:
    """Index arrays of one model structure (kind/src/tgt), built once by :func:`make_plan`."""

    n_pools: int
    moves: np.ndarray  # measures that move activity (retire, switch)
    moves_in: bool  # whether some of them bring activity into a pool (switch, replacement)
    ctl: np.ndarray  # control/standard measures on pools of the expanded path
    treats: np.ndarray  # treatment measures on pools of the expanded path
    dense_pools: np.ndarray  # pools evaluated by the engine's dense path
    dense_measures: np.ndarray  # their control/standard/treat measures
    row_head: np.ndarray  # [R] index into [pools..., treats...] of each row's head
    row_ctl: np.ndarray  # [R,J] index into ctl (len(ctl) pads rows with fewer members), rows sorted by subset size
    row_depth: np.ndarray  # [J] number of rows with more than j subset members
    treat_pools: np.ndarray  # pools holding a treatment (clip check)
    treat_index: np.ndarray  # [len(treats)] position of each one's pool in treat_pools
    removes: np.ndarray | None  # pollutants a treatment may remove (None: found per chunk)
    plain_pools: np.ndarray  # pools of the expanded path: their A_eff EF term is one direct product


def make_plan(kind: np.ndarray, src: np.ndarray, tgt: np.ndarray, n_pools: int, max_expand: int = 4,
              dense: np.ndarray | None = None, group: np.ndarray | None = None, removes: np.ndarray | None = None) -> Plan:
    """The rows of the stacked matmul for measures (kind, src, tgt) on *n_pools* pools.

    *dense* (bool [K]) sends pools to the engine's dense path whatever their controls; so does
    *group* [M] (disjoint groups, -1 for none) for every pool holding a grouped measure.
    *removes*: the pollutants (indices) whose removal by a treatment can be non-zero, when
    known from the model (the clip check then looks at those only).
    """
    k = n_pools  # activity moves are evaluated per chunk; the rows depend on controls and treatments only
    is_ctl = np.isin(kind, (engine.CONTROL, engine.STANDARD))
    is_treat = kind == engine.TREAT
    n_ctl = np.bincount(src[is_ctl], minlength=k) if is_ctl.any() else np.zeros(k, dtype=np.int64)
    to_dense = n_ctl > max_expand
    if dense is not None:
        to_dense = to_dense | dense
    if group is not None and (group >= 0).any():
        to_dense = to_dense.copy()
        to_dense[src[group >= 0]] = True
    dense_pools = np.nonzero(to_dense)[0]
    moves = np.nonzero(np.isin(kind, (engine.RETIRE, engine.SWITCH)))[0]
    on_dense = to_dense[src] & (is_ctl | is_treat)
    ctl = np.nonzero(is_ctl & ~to_dense[src])[0]
    treats = np.nonzero(is_treat & ~to_dense[src])[0]
    # (pool, head index); the empty subset of each pool's own head is the plain product
    # A_eff EF, contracted directly without a row of its own. Signs are not stored: a treatment
    # head enters as -R and each subset member as -c (see totals)
    heads: list[tuple[int, int]] = [(p, p) for p in range(k) if not to_dense[p]]
    heads += [(int(src[t]), k + i) for i, t in enumerate(treats)]
    ctl_of: dict[int, list[int]] = {}
    for i, m in enumerate(ctl):
        ctl_of.setdefault(int(src[m]), []).append(i)
    rows: list[tuple[int, tuple[int, ...]]] = []
    for pool, head in heads:
        members = ctl_of.get(pool, [])
        for subset in range(1 if head < k else 0, 2 ** len(members)):
            rows.append((head, tuple(members[r] for r in range(len(members)) if subset >> r & 1)))
    rows.sort(key=lambda r: -len(r[1]))
    j = max((len(r[1]) for r in rows), default=0)
    row_ctl = np.full((len(rows), j), len(ctl), dtype=np.int64)
    for i, (_, chosen) in enumerate(rows):
        row_ctl[i, : len(chosen)] = chosen
    depth = np.array([sum(1 for r in rows if len(r[1]) > d) for d in range(j)], dtype=np.int64)
    return Plan(
        n_pools=k,
        moves=moves,
        moves_in=bool((tgt[moves] >= 0).any()),
        ctl=ctl,
        treats=treats,
        dense_pools=dense_pools,
        dense_measures=np.nonzero(on_dense)[0],
        row_head=np.array([r[0] for r in rows], dtype=np.int64),
        row_ctl=row_ctl,
        row_depth=depth,
        treat_pools=np.unique(src[treats]),
        treat_index=np.searchsorted(np.unique(src[treats]), src[treats]),
        removes=None if removes is None else np.asarray(removes, dtype=np.int64),
        plain_pools=np.nonzero(~to_dense)[0],
    )


def totals(inp: engine.EngineInputs, plan: Plan | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(baseline, emissions) summed over pools, each [N,P,Y] t/a (as ``engine.totals``)."""
    if tuple(f.name for f in dataclasses.fields(inp)) != _KNOWN_FIELDS:
        return engine.totals(inp)
    if plan is None:
        plan = make_plan(inp.kind, inp.src, inp.tgt, inp.n_pools, group=inp.group)
    elif inp.group is not None and not np.isin(inp.src[inp.group >= 0], plan.dense_pools).all():
        return engine.totals(inp)  # a plan made without these groups: the engine knows them
    f = inp.implemented
    a = engine.grown_activity(inp)  # [N,K,Y]
    a_eff = _moved(inp, plan, a)
    base = np.matmul(np.swapaxes(a, 1, 2), inp.ef).swapaxes(1, 2)  # [N,P,Y]
    if len(plan.treats) and _clip_bites(inp, plan, a_eff):
        return base, engine.emission_totals(inp, activities=(a, a_eff))
    ctl = plan.ctl
    # heads: pools (A_eff, EF) and treatments (f_t, -R_t) side by side
    if len(plan.treats):
        n, k, y = a_eff.shape
        left_h = np.empty((n, k + len(plan.treats), y))
        left_h[:, :k] = a_eff
        np.take(f, plan.treats, axis=1, out=left_h[:, k:], mode="clip")
        right_h = np.empty((n, k + len(plan.treats), inp.ef.shape[2]))
        right_h[:, :k] = inp.ef
        np.negative(np.take(inp.removal, plan.treats, axis=1), out=right_h[:, k:])
    else:
        left_h, right_h = a_eff, inp.ef
    left = np.take(left_h, plan.row_head, axis=1)  # [N,R,Y]
    right = np.take(right_h, plan.row_head, axis=1)  # [N,R,P]
    if len(ctl):
        # rows are sorted by subset size, so the first row_depth[j] rows all have a j-th member:
        # the padding index len(ctl) is never read. The shares come negated: a row of subset S
        # gets (-1)^|S| from its |S| factors (exact in floating point, as is the treatment's -R)
        c = engine._cover(inp, f, a, ctl, negate=True)  # [N,Mc,Y]
        d = np.take(inp.cut, ctl, axis=1)  # [N,Mc,P]
        np.minimum(d, 1.0, out=d)
        for j, rows in enumerate(plan.row_depth.tolist()):
            idx = plan.row_ctl[:rows, j]
            left[:, :rows] *= np.take(c, idx, axis=1)
            right[:, :rows] *= np.take(d, idx, axis=1)
    emis = np.matmul(np.swapaxes(left, 1, 2), right).swapaxes(1, 2)  # [N,P,Y]
    plain = plan.plain_pools
    if len(plain) == plan.n_pools:
        emis += np.matmul(np.swapaxes(a_eff, 1, 2), inp.ef).swapaxes(1, 2)
    elif len(plain):
        emis += np.matmul(np.swapaxes(np.take(a_eff, plain, axis=1), 1, 2), np.take(inp.ef, plain, axis=1)).swapaxes(1, 2)
    if len(plan.dense_pools):
        emis = emis + engine._pool_emissions(inp, f, a, a_eff, plan.dense_measures, plan.dense_pools).sum(axis=1)
    return base, emis


def _moved(inp: engine.EngineInputs, plan: Plan, a: np.ndarray) -> np.ndarray:
    """Activity after retire/switch edits [N,K,Y], clipped at zero (as the engine's)."""
    mv = plan.moves
    if not len(mv):
        return a
    moved, taken = engine.moved_out(inp, mv)  # shared with the limit check
    if plan.moves_in:
        gained = moved * inp.conv[:, mv, None]
        delta = engine.by_pool(gained, inp.tgt[mv], plan.n_pools) - taken
        return np.maximum(a + delta, 0.0)
    out = np.subtract(a, taken)  # nothing comes in: a - out = a + (0 - out) exactly
    return np.maximum(out, 0.0, out=out)


def _clip_bites(inp: engine.EngineInputs, plan: Plan, a_eff: np.ndarray) -> bool:
    """Whether any treatment in this chunk removes more than its pool emits before controls."""
    t, tp = plan.treats, plan.treat_pools
    rp = plan.removes
    if rp is None:
        rp = np.nonzero((np.take(inp.removal, t, axis=1) != 0).any(axis=(0, 1)))[0]
    if not len(rp):
        return False
    rem = engine.treated_load(inp, t, plan.treat_index, len(tp), rp)
    before = a_eff[:, tp, None, :] * np.take(np.take(inp.ef, tp, axis=1), rp, axis=2)[:, :, :, None]
    return bool((rem > before * (1 + 1e-12)).any())
