"""The engine: arrays in, arrays out. No I/O, no project imports beyond errors.

Emission of pool k, pollutant p, year y (DESIGN.md section 3)::

    E[k,p,y] = max(0, A_eff[k,y] * EF[k,p] - R[k,p,y]) * prod_m (1 - c[m,y] * d[m,p])

* ``A_eff`` is the grown activity after the activity edits (retire, switch out, switch or
  replacement in), clipped at zero;
* ``R`` is the load removed by treatment measures (t/a);
* each control or standard measure m on the pool covers a share ``c`` of it and cuts that
  share's emission by the fraction ``d`` (control: its efficiency; standard: 1 - EF_new/EF).
  Shares are of the grown baseline activity, and activity edits are assumed to remove
  covered and uncovered activity in proportion, which keeps the total independent of order.
* measures in one *disjoint group* (``group`` >= 0, one pool each) act on separate parts of
  the pool (GAINS application rates): the group's controls give one factor
  ``1 - A * sum_g c d / B_g``, where ``B_g`` is the grown activity less what the group's own
  retire/switch members take, plus what switches bring in (both from the uncovered part).
  With every measure of a pool in one group, ``E = EF * (A_eff - A * sum_g c d)``: linear.

Every array has a leading batch dim N: samples of the uncertain inputs, or masks that
switch measures on and off for attribution (then the inputs have N = 1 and broadcast).
Units: activity in each pool's own unit; EF in t/a per activity unit; R in t/a; emissions t/a.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = [
    "CONTROL",
    "RETIRE",
    "STANDARD",
    "SWITCH",
    "TREAT",
    "EngineInputs",
    "attribute_sequential",
    "attribute_shapley",
    "baseline",
    "components",
    "emissions",
    "grown_activity",
    "moved_out",
]

RETIRE, SWITCH, CONTROL, STANDARD, TREAT = range(5)


@dataclass(frozen=True)
class EngineInputs:
    """Numeric inputs of one scenario. N is the batch (sample) dim, 1 when deterministic.

    activity0 [N,K]   base-year activity (pool unit)
    growth    [N,K]   annual growth rate (fraction)
    ef        [N,K,P] emission factor, t/a per activity unit
    offset    [Y]     years since the base year
    kind      [M]     RETIRE..TREAT
    src       [M]     pool index the measure acts on
    tgt       [M]     pool index receiving activity (switch, replacement), -1 if none
    qty       [N,M]   quantity in the source pool's unit (retire/switch/control/standard), NaN if by share
    share     [N,M]   covered share for control/standard given by share (NaN otherwise)
    conv      [N,M]   target-pool units per unit moved
    cut       [N,M,P] control/standard: fraction of the covered share's emission removed
    removal   [N,M,P] treat: load removed at full implementation, t/a
    implemented [N,M,Y] completion x schedule credit (0..1)
    group     [M]     disjoint group of the measure (-1: none, measures multiply); None: no groups
    """

    activity0: np.ndarray
    growth: np.ndarray
    ef: np.ndarray
    offset: np.ndarray
    kind: np.ndarray
    src: np.ndarray
    tgt: np.ndarray
    qty: np.ndarray
    share: np.ndarray
    conv: np.ndarray
    cut: np.ndarray
    removal: np.ndarray
    implemented: np.ndarray
    group: np.ndarray | None = None

    @property
    def n_pools(self) -> int:
        return int(self.activity0.shape[1])

    @property
    def n_measures(self) -> int:
        return int(self.kind.shape[0])

    def restrict(self, measures: np.ndarray, pools: np.ndarray) -> EngineInputs:
        """The sub-problem of some measures on some pools (pools must contain their src/tgt)."""
        remap = -np.ones(self.n_pools, dtype=np.int64)
        remap[pools] = np.arange(len(pools))
        tgt = self.tgt[measures]
        return replace(
            self,
            activity0=self.activity0[:, pools],
            growth=self.growth[:, pools],
            ef=self.ef[:, pools],
            kind=self.kind[measures],
            src=remap[self.src[measures]],
            tgt=np.where(tgt >= 0, remap[np.maximum(tgt, 0)], -1),
            qty=self.qty[:, measures],
            share=self.share[:, measures],
            conv=self.conv[:, measures],
            cut=self.cut[:, measures],
            removal=self.removal[:, measures],
            implemented=self.implemented[:, measures],
            group=None if self.group is None else self.group[measures],
        )


def _memo(inp: EngineInputs, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """``make()`` once per EngineInputs and *key*, its arrays made read-only. A memo on a frozen
    dataclass stays true because its arrays are not edited in place (``dataclasses.replace``
    gives a new, empty memo)."""
    memo = inp.__dict__.setdefault("_memo", {})
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = make()
        for a in hit if isinstance(hit, tuple) else (hit,):
            a.flags.writeable = False
    return hit


def grown_activity(inp: EngineInputs) -> np.ndarray:
    """Baseline activity [N,K,Y] = A0 * (1 + g) ** (y - base_year) (read-only; computed once per
    EngineInputs: the kernel and the consistency stage both ask for it on every chunk)."""

    def make() -> np.ndarray:
        if not inp.growth.any():
            return np.repeat(inp.activity0[:, :, None], inp.offset.shape[0], axis=2)
        return inp.activity0[:, :, None] * np.power(1.0 + inp.growth[:, :, None], inp.offset[None, None, :])

    return _memo(inp, ("grown",), make)  # type: ignore[no-any-return]


def remember_grown(inp: EngineInputs, a: np.ndarray) -> None:
    """Give *inp* its grown activity [N,K,Y] when it is already known (rows of a sweep share
    their draws' growth rates): :func:`grown_activity` then returns it as it is."""
    if a.shape != (*inp.activity0.shape, inp.offset.shape[0]):
        raise ValueError(f"grown activity of shape {a.shape} for inputs of {inp.activity0.shape} and {inp.offset.shape[0]} years")
    inp.__dict__.setdefault("_memo", {}).pop(("grown",), None)
    _memo(inp, ("grown",), lambda: a)


def treated_load(inp: EngineInputs, treats: np.ndarray, pool_of: np.ndarray, n: int, pollutants: np.ndarray) -> np.ndarray:
    """Load removed by treatment measures *treats* as implemented, summed into *n* pools
    (*pool_of*: each one's pool position) [N,n,len(pollutants),Y] t/a; computed once per
    EngineInputs and arguments (the consistency stage's limit and the kernel's clip check
    both need it on every chunk)."""

    def make() -> np.ndarray:
        removal = np.take(np.take(inp.removal, treats, axis=1), pollutants, axis=2)  # [N,T,P']
        return by_pool(removal[:, :, :, None] * np.take(inp.implemented, treats, axis=1)[:, :, None, :], pool_of, n)

    return _memo(inp, ("treated", treats.tobytes(), pool_of.tobytes(), n, pollutants.tobytes()), make)  # type: ignore[no-any-return]


def moved_out(inp: EngineInputs, moves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(activity moved by retire/switch measures *moves* as implemented [N,Mm,Y], and summed
    by source pool [N,K,Y]), in pool units per year; computed once per EngineInputs and *moves*
    (the consistency stage's limit and the kernel both need it on every chunk)."""

    def make() -> tuple[np.ndarray, np.ndarray]:
        moved = np.nan_to_num(inp.qty[:, moves])[:, :, None] * inp.implemented[:, moves]
        return moved, by_pool(moved, inp.src[moves], inp.n_pools)

    return _memo(inp, ("moved", moves.tobytes()), make)  # type: ignore[no-any-return]


def baseline(inp: EngineInputs) -> np.ndarray:
    """Baseline emissions [N,K,P,Y] in t/a: grown activity times EF, no measures."""
    a = grown_activity(inp)
    return a[:, :, None, :] * inp.ef[:, :, :, None]


#: longest run of measures on one pool that by_pool sums with whole-array adds (longer: reduceat)
SHORT_GROUP = 8


def by_pool(values: np.ndarray, index: np.ndarray, k: int, op: np.ufunc = np.add) -> np.ndarray:
    """Combine measure values [N,M,...] into pools [N,K,...] by *op* (add or multiply).

    Measures are grouped by pool once per index array (a sort); O(N*M) work, no dense
    measure x pool matrix. Pools with at most :data:`SHORT_GROUP` measures are combined
    by whole-array ops over their r-th members (r = 0, 1, ...), left to right as ``reduceat``
    does (the same numbers), several times faster than ``reduceat`` over an inner axis.
    """
    n = values.shape[0]
    out = np.full((n, k, *values.shape[2:]), op.identity, dtype=float)
    order, pools, starts, length = _grouping(index)
    if not len(order):
        return out
    longest = int(length.max())
    if longest == 1:  # one measure per pool: op with the identity is the value itself
        out[:, pools] = values[:, order]
    elif longest <= SHORT_GROUP:
        acc = values[:, order[starts]].astype(float, copy=True)
        for r in range(1, longest):
            more = np.nonzero(length > r)[0]
            acc[:, more] = op(acc[:, more], values[:, order[starts[more] + r]])
        out[:, pools] = acc
    else:
        out[:, pools] = op.reduceat(values[:, order], starts, axis=1)
    return out


_GROUPINGS: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _grouping(index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(measures in pool order, pools, segment starts, segment lengths) of *index* (pool of
    each measure, -1 for none); cached: the same few index arrays recur on every chunk."""
    key = index.astype(np.int64, copy=False).tobytes()
    hit = _GROUPINGS.get(key)
    if hit is not None:
        return hit
    sel = np.nonzero(index >= 0)[0]
    order = sel[np.argsort(index[sel], kind="stable")]
    pools, starts, length = np.unique(index[order], return_index=True, return_counts=True)
    for arr in (order, pools, starts, length):
        arr.flags.writeable = False
    if len(_GROUPINGS) > 512:
        _GROUPINGS.clear()
    _GROUPINGS[key] = (order, pools, starts, length)
    return _GROUPINGS[key]


def emissions(inp: EngineInputs, mask: np.ndarray | None = None) -> np.ndarray:
    """Emissions [N,K,P,Y] in t/a with the measures on (mask [B,M] of 0/1 switches them)."""
    f = inp.implemented  # [N,M,Y]
    if mask is not None:
        f = f * mask[:, :, None]
    a, a_eff = _activities(inp, f)
    return _pool_emissions(inp, f, a, a_eff, np.arange(inp.n_measures))


def _activities(inp: EngineInputs, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grown baseline activity and activity after retire/switch edits, both [N,K,Y]."""
    a = grown_activity(inp)
    moves = np.isin(inp.kind, (RETIRE, SWITCH))
    if not moves.any():
        return a, a
    qty = np.nan_to_num(inp.qty[:, moves])
    moved = qty[:, :, None] * f[:, moves]  # [N,Mm,Y]
    gained = moved * inp.conv[:, moves, None]
    k = inp.n_pools
    delta = by_pool(gained, inp.tgt[moves], k) - by_pool(moved, inp.src[moves], k)
    return a, np.maximum(a + delta, 0.0)


def _cover(inp: EngineInputs, f: np.ndarray, a: np.ndarray, ctl: np.ndarray, negate: bool = False) -> np.ndarray:
    """Covered share [N,Mc,Y] of control/standard measures *ctl*: quantity over grown activity (of
    the pool's baseline), or the share; times f (times -1 when *negate*: the kernel's signs)."""
    by_share = np.isnan(inp.qty[:, ctl]).all(axis=0)  # given by share in every row (quantity NaN)
    if by_share.all():  # the common case: one product, no masked assignment
        out = np.take(f, ctl, axis=1)
        share = np.clip(np.nan_to_num(inp.share[:, ctl]), 0.0, 1.0)
        out *= (np.negative(share, out=share) if negate else share)[:, :, None]
        return out
    out = np.empty((f.shape[0], len(ctl), f.shape[2]))
    if by_share.any():
        cs = ctl[by_share]
        out[:, by_share] = np.clip(np.nan_to_num(inp.share[:, cs]), 0.0, 1.0)[:, :, None] * f[:, cs, :]
    if not by_share.all():
        cq = ctl[~by_share]
        qty_c = inp.qty[:, cq]
        a_src = np.take(a, inp.src[cq], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            by_qty = np.nan_to_num(qty_c)[:, :, None] / np.where(a_src > 0, a_src, np.inf)
        share = np.nan_to_num(inp.share[:, cq])[:, :, None]
        out[:, ~by_share] = np.clip(np.where(np.isnan(qty_c)[:, :, None], share, by_qty), 0.0, 1.0) * f[:, cq, :]
    return np.negative(out, out=out) if negate else out


def _pool_emissions(inp: EngineInputs, f: np.ndarray, a: np.ndarray, a_eff: np.ndarray, measures: np.ndarray,
                    pools: np.ndarray | None = None) -> np.ndarray:
    """Dense path: [N,K',P,Y] of *pools* (all by default) from edited activity, treatment and
    the controls among *measures* (which must act on those pools)."""
    if pools is None:
        pools = np.arange(inp.n_pools)
    k = len(pools)
    local = -np.ones(inp.n_pools, dtype=np.int64)
    local[pools] = np.arange(k)
    e = a_eff[:, pools, None, :] * inp.ef[:, pools, :, None]  # [N,K',P,Y]
    kind = inp.kind[measures]
    treats = measures[kind == TREAT]
    if len(treats):
        rem = inp.removal[:, treats, :, None] * f[:, treats, None, :]
        e = np.maximum(e - by_pool(rem, local[inp.src[treats]], k), 0.0)
    ctl = measures[np.isin(kind, (CONTROL, STANDARD))]
    if inp.group is not None and (inp.group[measures] >= 0).any():
        e = e * _disjoint_factor(inp, f, a, ctl[inp.group[ctl] >= 0], pools)
        ctl = ctl[inp.group[ctl] < 0]
    if len(ctl):
        cover = _cover(inp, f, a, ctl)
        cut = np.minimum(inp.cut[:, ctl, :], 1.0)
        factor = 1.0 - cover[:, :, None, :] * cut[:, :, :, None]  # [N,Mc,P,Y]
        e = e * by_pool(np.maximum(factor, 0.0), local[inp.src[ctl]], k, np.multiply)
    return e


# ---- disjoint groups (measures on separate parts of one pool) --------------------------------

def _disjoint_factor(inp: EngineInputs, f: np.ndarray, a: np.ndarray, ctl: np.ndarray, pools: np.ndarray) -> np.ndarray:
    """Multiplier [N,K',P,Y] of *pools* from the disjoint groups of the grouped controls *ctl*.

    Group g on pool k: ``max(0, 1 - A * sum_g c d / B_g)`` with ``B_g = A - (moved out by g's
    retire/switch members) + (switched or replaced into k)``: the group's controls cover
    absolute activity ``c A`` and everything its own members move comes out of (or into) the
    uncovered part. Groups on one pool multiply with each other and with ungrouped controls.
    """
    assert inp.group is not None
    n, p, y = f.shape[0], inp.cut.shape[2], f.shape[2]
    local = -np.ones(inp.n_pools, dtype=np.int64)
    local[pools] = np.arange(len(pools))
    if not len(ctl):
        return np.ones((n, len(pools), p, y))
    gid, g_of = np.unique(inp.group[ctl], return_inverse=True)  # groups with controls here
    n_g = len(gid)
    pool_of = np.zeros(n_g, dtype=np.int64)
    pool_of[g_of] = inp.src[ctl]
    cd = _cover(inp, f, a, ctl)[:, :, None, :] * np.minimum(inp.cut[:, ctl, :], 1.0)[:, :, :, None]
    d_sum = by_pool(cd, g_of, n_g)  # [N,G,P,Y]
    moves = np.nonzero(np.isin(inp.kind, (RETIRE, SWITCH)))[0]
    moved = np.nan_to_num(inp.qty[:, moves])[:, :, None] * f[:, moves]  # [N,Mm,Y]
    gained = by_pool(moved * inp.conv[:, moves, None], inp.tgt[moves], inp.n_pools)  # [N,K,Y]
    pos = np.searchsorted(gid, inp.group[moves])
    own = (pos < n_g) & (gid[np.minimum(pos, n_g - 1)] == inp.group[moves])
    taken = by_pool(moved, np.where(own, pos, -1), n_g)  # [N,G,Y]
    a_g = a[:, pool_of]  # [N,G,Y]
    room = a_g - taken + gained[:, pool_of]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(room[:, :, None, :] > 0, a_g[:, :, None, :] * d_sum / room[:, :, None, :], 1.0)
    factor = np.clip(1.0 - np.where(d_sum > 0, frac, 0.0), 0.0, 1.0)
    return by_pool(factor, local[pool_of], len(pools), np.multiply)


def grouped_pools(inp: EngineInputs) -> np.ndarray:
    """Boolean [K]: pools holding a measure in a disjoint group (the dense path evaluates them)."""
    out = np.zeros(inp.n_pools, dtype=bool)
    if inp.group is not None:
        out[inp.src[inp.group >= 0]] = True
    return out


def components(inp: EngineInputs) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of (measures, pools) that interact: pools linked by a switch or replacement."""
    k = inp.n_pools
    parent = list(range(k))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for s, t in zip(inp.src.tolist(), inp.tgt.tolist(), strict=True):
        if t >= 0:
            parent[find(s)] = find(t)
    groups: dict[int, list[int]] = {}
    for m, s in enumerate(inp.src.tolist()):
        groups.setdefault(find(s), []).append(m)
    out = []
    for root, ms in groups.items():
        pools = np.array([p for p in range(k) if find(p) == root])
        out.append((np.array(ms), pools))
    return out


WORK_BYTES = 64 * 2**20  # working memory of one batch of mask rows


def _totals(inp: EngineInputs, mask: np.ndarray) -> np.ndarray:
    """Emissions summed over pools [B,P,Y] for each mask row."""
    return _prefix_totals(inp, np.arange(inp.n_measures), mask.shape[0], lambda lo, hi: mask[lo:hi])


def _prefix_totals(inp: EngineInputs, rank: np.ndarray, b: int, rows_of: Any = None) -> np.ndarray:
    """Emissions summed over pools [B,P,Y]; row i switches on the measures of *rank* < i
    (or the rows *rows_of(lo, hi)* gives).

    Rows are made and evaluated in batches of about :data:`WORK_BYTES`, so that a group of
    n measures (n + 1 rows of n switches) needs memory linear in n, not n squared.
    """
    m = inp.n_measures
    p, y = inp.ef.shape[2], inp.offset.shape[0]
    per_row = 8 * (4 * max(m, 1) * y + 6 * max(inp.n_pools, 1) * max(p, 1) * y + max(m, 1) * max(p, 1))
    rows = max(1, WORK_BYTES // per_row)
    if rows_of is None:
        def rows_of(lo: int, hi: int) -> np.ndarray:
            return (rank[None, :] < np.arange(lo, hi)[:, None]).astype(float)
    out = np.empty((b, p, y))
    for lo in range(0, b, rows):
        hi = min(b, lo + rows)
        out[lo:hi] = emissions(inp, rows_of(lo, hi)).sum(axis=1)
    return out


def attribute_sequential(inp: EngineInputs) -> np.ndarray:
    """Reduction by measure [M,P,Y] (t/a), measures applied in listed order (EPA CoST style).

    Per group of interacting pools, measure i gets E(first i-1 on) - E(first i on); the
    credits telescope to E(none) - E(all), so totals never depend on the attribution.
    """
    m_all = inp.n_measures
    p, y = inp.ef.shape[2], inp.offset.shape[0]
    out = np.zeros((m_all, p, y))
    for ms, pools in components(inp):
        sub = inp.restrict(ms, pools)
        n = len(ms)
        tot = _prefix_totals(sub, np.arange(n), n + 1)  # [n+1,P,Y], row i: first i measures on
        out[ms] = tot[:-1] - tot[1:]
    return out


def attribute_shapley(inp: EngineInputs, exact_max: int = 12, permutations: int = 500, seed: int = 0) -> tuple[np.ndarray, dict[str, int]]:
    """Order-independent reduction by measure [M,P,Y] (Shapley value), and how it was computed.

    Exact over all subsets for groups of up to *exact_max* measures; beyond, the mean
    marginal contribution over *permutations* seeded random orders (the manifest says so).
    """
    m_all = inp.n_measures
    p, y = inp.ef.shape[2], inp.offset.shape[0]
    out = np.zeros((m_all, p, y))
    info = {"exact_groups": 0, "estimated_groups": 0, "permutations": 0}
    rng = np.random.default_rng(seed)
    for ms, pools in components(inp):
        sub = inp.restrict(ms, pools)
        n = len(ms)
        if n <= exact_max:
            info["exact_groups"] += 1
            subsets = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(float)
            tot = _totals(sub, subsets)  # [2^n,P,Y]
            size = subsets.sum(axis=1).astype(int)
            weight = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)])
            idx = np.arange(2**n)
            for i in range(n):
                without = idx[(idx >> i) & 1 == 0]
                with_i = without | (1 << i)
                w = weight[size[without]]
                out[ms[i]] = np.tensordot(w, tot[without] - tot[with_i], axes=1)
        else:
            info["estimated_groups"] += 1
            info["permutations"] = permutations
            acc = np.zeros((n, p, y))
            for _ in range(permutations):
                order = rng.permutation(n)
                rank = np.empty(n, dtype=np.int64)
                rank[order] = np.arange(n)
                tot = _prefix_totals(sub, rank, n + 1)  # row j: the first j of *order* on
                acc[order] += tot[:-1] - tot[1:]
            out[ms] = acc / permutations
    return out, info



def baseline_totals(inp: EngineInputs, a: np.ndarray | None = None) -> np.ndarray:
    """Baseline emissions summed over pools [N,P,Y]: one batched matmul over pools."""
    if a is None:
        a = grown_activity(inp)  # [N,K,Y]
    return np.swapaxes(np.matmul(np.swapaxes(a, 1, 2), inp.ef), 1, 2)


def totals(inp: EngineInputs) -> tuple[np.ndarray, np.ndarray]:
    """(baseline, emissions) summed over pools, each [N,P,Y] t/a: the Monte Carlo kernel."""
    f = inp.implemented
    a, a_eff = _activities(inp, f)
    return baseline_totals(inp, a), emission_totals(inp, activities=(a, a_eff))


def emission_totals(inp: EngineInputs, max_expand: int = 4, activities: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Emissions summed over pools [N,P,Y], without the [N,measure,P,Y] tensor.

    Same numbers as ``emissions(inp).sum(axis=1)``. For a pool whose j control/standard
    measures cover shares c_r[y] and cut d_r[p], the product prod_r (1 - c_r d_r) expands into
    2^j separable terms (-1)^|T| prod_T c_r[y] * prod_T d_r[p], so that every term is one
    batched matmul over pools: [N,Y,K] @ [N,K,P]. Pools with more than *max_expand* controls
    take the exact dense path. Treatment removal enters as further separable terms; a pool where the
    removal would exceed the emission in this batch (so that the clip at zero bites) takes the
    dense path too.
    """
    n, k = inp.activity0.shape[0], inp.n_pools
    f = inp.implemented
    a, a_eff = activities if activities is not None else _activities(inp, f)
    ctl = np.nonzero(np.isin(inp.kind, (CONTROL, STANDARD)))[0]
    n_ctl = np.bincount(inp.src[ctl], minlength=k) if len(ctl) else np.zeros(k, dtype=np.int64)
    treats = np.nonzero(inp.kind == TREAT)[0]
    dense = (n_ctl > max_expand) | grouped_pools(inp)
    if len(treats):
        # removal is clipped at the pool's emission: pools where that clip bites in this batch
        # take the dense path (checked only on the pollutants a treatment removes)
        rp = np.nonzero((inp.removal[:, treats] != 0).any(axis=(0, 1)))[0]
        tp = np.unique(inp.src[treats])
        local = -np.ones(k, dtype=np.int64)
        local[tp] = np.arange(len(tp))
        rem = treated_load(inp, treats, local[inp.src[treats]], len(tp), rp)
        before = a_eff[:, tp, None, :] * inp.ef[:, tp][:, :, rp, None]
        dense[tp[(rem > before * (1 + 1e-12)).any(axis=(0, 2, 3))]] = True
    p, y = inp.ef.shape[2], inp.offset.shape[0]
    total = np.zeros((n, p, y))
    if dense.any():
        pools = np.nonzero(dense)[0]
        on_dense = np.nonzero(dense[inp.src] & ~np.isin(inp.kind, (RETIRE, SWITCH)))[0]
        total += _pool_emissions(inp, f, a, a_eff, on_dense, pools).sum(axis=1)
    simple = ~dense
    if not simple.any():
        return total
    ctl = ctl[simple[inp.src[ctl]]]
    src = inp.src[ctl]
    cover = _cover(inp, f, a, ctl)  # [N,Mc,Y]
    cut = np.minimum(inp.cut[:, ctl], 1.0)  # [N,Mc,P]
    pos = _positions(src)
    jmax = int(pos.max()) + 1 if len(pos) else 0
    # (A_eff EF - sum_t f_t removal_t) prod_r (1 - c_r d_r): one product term per treatment
    treats = treats[simple[inp.src[treats]]]
    heads: list[tuple[float, np.ndarray, np.ndarray]] = [(1.0, np.where(simple[None, :, None], a_eff, 0.0), inp.ef)]
    tpos = _positions(inp.src[treats])
    for q in range(int(tpos.max()) + 1 if len(tpos) else 0):
        at = treats[tpos == q]
        fy = np.zeros((n, k, y))
        rp_ = np.zeros((n, k, p))
        fy[:, inp.src[at]] = f[:, at]
        rp_[:, inp.src[at]] = inp.removal[:, at]
        heads.append((-1.0, fy, rp_))
    # per position r: covered share [N,K,Y] and cut [N,K,P] on the pools that have an r-th control
    c_at = []
    d_at = []
    for r in range(jmax):
        at = pos == r
        c_r = np.zeros((n, k, y))
        d_r = np.zeros((n, k, p))
        c_r[:, src[at]] = cover[:, at]
        d_r[:, src[at]] = cut[:, at]
        c_at.append(c_r)
        d_at.append(d_r)
    n_simple = np.bincount(src, minlength=k)
    for subset in range(2**jmax):
        members = [r for r in range(jmax) if subset >> r & 1]
        if members:
            kp = np.nonzero(n_simple > max(members))[0]  # pools holding every member position
            cy = c_at[members[0]][:, kp]
            dp = d_at[members[0]][:, kp]
            for r in members[1:]:
                cy = cy * c_at[r][:, kp]
                dp = dp * d_at[r][:, kp]
        sign = (-1.0) ** len(members)
        for h_sign, left, right in heads:
            if members:
                lt, rt = left[:, kp] * cy, right[:, kp] * dp
            else:
                lt, rt = left, right
            term = np.matmul(np.swapaxes(lt, 1, 2), rt)  # [N,Y,P]
            total += sign * h_sign * np.swapaxes(term, 1, 2)
    return total


def _positions(src: np.ndarray) -> np.ndarray:
    """Rank of each measure among those on the same pool, in listed order (0, 1, ...)."""
    pos = np.empty(len(src), dtype=np.int64)
    if not len(src):
        return pos
    order = np.argsort(src, kind="stable")
    _, first = np.unique(src[order], return_index=True)
    counts = np.diff(np.append(first, len(order)))
    pos[order] = np.arange(len(order)) - np.repeat(first, counts)
    return pos


def alone_reductions(inp: EngineInputs) -> np.ndarray:
    """Reduction [M,P,Y] (t/a) of each measure applied alone to the baseline (N must be 1).

    Closed forms, O(M*P*Y): retire/switch moves activity (the source pool's EF out, the target
    pool's EF times the conversion in); a control cuts its covered share of the pool's baseline;
    a treatment removes its load. Equals ``baseline - emissions(inp, mask=I)`` summed over pools
    wherever no clip bites (the loaders reject measures larger than their pools).
    """
    a = grown_activity(inp)[0]  # [K,Y]
    f = inp.implemented[0]  # [M,Y]
    ef = inp.ef[0]  # [K,P]
    m = inp.n_measures
    p, y = ef.shape[1], inp.offset.shape[0]
    out = np.zeros((m, p, y))
    moves = np.isin(inp.kind, (RETIRE, SWITCH))
    if moves.any():
        moved = np.nan_to_num(inp.qty[0, moves])[:, None] * f[moves]  # [Mm,Y]
        src = inp.src[moves]
        tgt = inp.tgt[moves]
        net = ef[src] - np.where(tgt[:, None] >= 0, inp.conv[0, moves, None] * ef[np.maximum(tgt, 0)], 0.0)  # [Mm,P]
        out[moves] = net[:, :, None] * moved[:, None, :]
    ctl = np.nonzero(np.isin(inp.kind, (CONTROL, STANDARD)))[0]
    if len(ctl):
        cover = _cover(inp, inp.implemented, a[None], ctl)[0]  # [Mc,Y]
        base_k = a[inp.src[ctl], None, :] * ef[inp.src[ctl], :, None]  # [Mc,P,Y]
        out[ctl] = base_k * cover[:, None, :] * np.minimum(inp.cut[0, ctl], 1.0)[:, :, None]
    treats = inp.kind == TREAT
    if treats.any():
        out[treats] = inp.removal[0, treats, :, None] * f[treats, None, :]
    return out
