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

Every array has a leading batch dim N: samples of the uncertain inputs, or masks that
switch measures on and off for attribution (then the inputs have N = 1 and broadcast).
Units: activity in each pool's own unit; EF in t/a per activity unit; R in t/a; emissions t/a.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

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
        )


def grown_activity(inp: EngineInputs) -> np.ndarray:
    """Baseline activity [N,K,Y] = A0 * (1 + g) ** (y - base_year)."""
    return inp.activity0[:, :, None] * np.power(1.0 + inp.growth[:, :, None], inp.offset[None, None, :])


def baseline(inp: EngineInputs) -> np.ndarray:
    """Baseline emissions [N,K,P,Y] in t/a: grown activity times EF, no measures."""
    a = grown_activity(inp)
    return a[:, :, None, :] * inp.ef[:, :, :, None]


def _incidence(index: np.ndarray, n: int) -> np.ndarray:
    w = np.zeros((index.shape[0], n))
    ok = index >= 0
    w[np.nonzero(ok)[0], index[ok]] = 1.0
    return w


def emissions(inp: EngineInputs, mask: np.ndarray | None = None) -> np.ndarray:
    """Emissions [N,K,P,Y] in t/a with the measures on (mask [B,M] of 0/1 switches them)."""
    a = grown_activity(inp)  # [N,K,Y]
    f = inp.implemented  # [N,M,Y]
    if mask is not None:
        f = f * mask[:, :, None]
    k = inp.n_pools
    w_src = _incidence(inp.src, k)
    w_tgt = _incidence(inp.tgt, k)
    moves = np.isin(inp.kind, (RETIRE, SWITCH))
    qty = np.where(moves[None, :], np.nan_to_num(inp.qty), 0.0)
    moved = qty[:, :, None] * f  # [N,M,Y]
    gained = moved * inp.conv[:, :, None]
    delta = np.einsum("nmy,mk->nky", gained, w_tgt) - np.einsum("nmy,mk->nky", moved, w_src)
    a_eff = np.maximum(a + delta, 0.0)
    e = a_eff[:, :, None, :] * inp.ef[:, :, :, None]  # [N,K,P,Y]
    treats = inp.kind == TREAT
    if treats.any():
        rem = inp.removal[:, treats, :, None] * f[:, treats, None, :]
        e = np.maximum(e - np.einsum("nmpy,mk->nkpy", rem, w_src[treats]), 0.0)
    ctl = np.isin(inp.kind, (CONTROL, STANDARD))
    if ctl.any():
        src = inp.src[ctl]
        a_src = a[:, src, :]  # [N,Mc,Y]
        by_qty = np.nan_to_num(inp.qty[:, ctl])[:, :, None] / np.where(a_src > 0, a_src, np.inf)
        share = np.where(np.isnan(inp.share[:, ctl]), 0.0, inp.share[:, ctl])[:, :, None]
        cover = np.clip(np.where(np.isnan(inp.qty[:, ctl])[:, :, None], share, by_qty), 0.0, 1.0)
        cover = cover * f[:, ctl, :]
        cut = np.clip(inp.cut[:, ctl, :], -np.inf, 1.0)
        factor = 1.0 - cover[:, :, None, :] * cut[:, :, :, None]  # [N,Mc,P,Y]
        with np.errstate(divide="ignore"):
            logf = np.log(np.maximum(factor, 0.0))
        e = e * np.exp(np.einsum("nmpy,mk->nkpy", logf, w_src[ctl]))
    return e


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


def _totals(inp: EngineInputs, mask: np.ndarray) -> np.ndarray:
    """Emissions summed over pools [B,P,Y] for each mask row."""
    return emissions(inp, mask).sum(axis=1)


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
        mask = np.tril(np.ones((n + 1, n)), -1)  # row i: first i measures on
        tot = _totals(sub, mask)  # [n+1,P,Y]
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
                mask = np.zeros((n + 1, n))
                for j in range(1, n + 1):
                    mask[j, order[:j]] = 1.0
                tot = _totals(sub, mask)
                acc[order] += tot[:-1] - tot[1:]
            out[ms] = acc / permutations
    return out, info

