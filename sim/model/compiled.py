"""The compiled model: labels, the engine's positional arrays, and the expressions behind the
uncertain and sweepable inputs (a sum of products of coefficient keys per slot).

:func:`sim.model.compile.compile_model` builds it; the consistency stage, the evaluation loop and
the analyses read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from sim.core import engine
from sim.core.units import Q_, parse_unit, ureg
from sim.model.coefficients import Library, eval_formula
from sim.model.measure_types import MEASURE_TYPES
from sim.model.scenario import Scenario

__all__ = ["KIND_CODES", "Model", "Param", "Term", "base_scale", "completion_high", "group_shares"]

KIND_CODES = {t.id: t.engine_code for t in MEASURE_TYPES.values()}


@dataclass(frozen=True)
class Param:
    """One uncertain (or sweepable) input: a coefficient key, a completion or a growth rate."""

    name: str
    value: float
    low: float | None
    high: float | None
    distribution: str
    unit: str = ""
    label: str = ""

    @property
    def uncertain(self) -> bool:
        return (self.low is not None and self.high is not None and self.high > self.low
                and self.distribution != "fixed")


@dataclass
class Term:
    coef: float
    keys: dict[str, int]  # key -> exponent


#: most keys in a product term evaluated by multiplication (more: exp of a sum of logs)
PRODUCT_KEYS = 4
#: a grid with fewer defined cells than this share is filled with its default and then written
#: where defined (a removal grid has a cell per treatment and pollutant it removes, of all measures')
SPARSE_SHARE = 0.5


@dataclass(frozen=True)
class _Cells:
    """How one grid's cells are read from the key values (see :meth:`Model.cells`)."""

    key: np.ndarray  # [cells] key column of each cell (the constant columns for constants and empty cells)
    factor: np.ndarray  # [cells] its factor
    sum_cells: np.ndarray  # cells that are sums of products of keys
    sum_keys: np.ndarray  # [len(sum_cells), terms, keys] their key columns (padded with the column of ones)
    sum_coef: np.ndarray  # [len(sum_cells), terms] their factors (padded with 0)
    other: np.ndarray  # cells read from slot_values
    other_slots: np.ndarray  # their slots
    sparse: np.ndarray | None = None  # the cells that are not the default, when they are few (see read)

    def read(self, kv: np.ndarray, default: float) -> np.ndarray:
        """[N, cells] of key values *kv*: one gather and one product per cell, or, for a sparse grid
        (a removal only treatments have), the default everywhere and the product where defined."""
        if self.sparse is None:
            out = np.take(kv, self.key, axis=1)
            out *= self.factor
            return out
        out = np.full((kv.shape[0], len(self.key)), default)
        out[:, self.sparse] = np.take(kv, self.key[self.sparse], axis=1) * self.factor[self.sparse]
        return out

    def sums(self, kv: np.ndarray) -> np.ndarray:
        """[N, len(sum_cells)]: coef * k1 * k2 ... of each term, summed (at most two terms: one rounding, as slot_values)."""
        acc = None
        for q in range(self.sum_keys.shape[1]):
            v = self.sum_coef[None, :, q] * np.take(kv, self.sum_keys[:, q, 0], axis=1)
            for j in range(1, self.sum_keys.shape[2]):
                v *= np.take(kv, self.sum_keys[:, q, j], axis=1)
            acc = v if acc is None else acc + v
        assert acc is not None
        return acc


def _frozen(values: list[int]) -> np.ndarray:
    a = np.array(values, dtype=np.int64)
    a.flags.writeable = False
    return a


_NO_CELLS = (_frozen([]), _frozen([]), _frozen([]))


@lru_cache(maxsize=16)
def _grid_layout(slots: tuple[str, ...]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Grid cells among slot names ("prefix[i]" or "prefix[i,j]"): per prefix, the slot indices
    and their (row, col) positions, in one pass over the names."""
    found: dict[str, tuple[list[int], list[int], list[int]]] = {}
    for s, name in enumerate(slots):
        head, bracket, rest = name.partition("[")
        parts = rest[:-1].split(",")
        if not bracket or not rest.endswith("]") or not all(q.strip().isdigit() for q in parts):
            continue  # not a grid cell name
        idx, rows, cols = found.setdefault(head, ([], [], []))
        idx.append(s)
        rows.append(int(parts[0]))
        cols.append(int(parts[1]) if len(parts) > 1 else 0)
    return {head: (_frozen(i), _frozen(r), _frozen(c)) for head, (i, r, c) in found.items()}


@dataclass
class Model:
    """A compiled scenario: labels, fixed arrays and the expressions behind the uncertain ones."""

    scenario: Scenario
    library: Library
    pools: list[str]
    pool_names: list[str]
    pool_sectors: list[str]
    pool_units: list[str]
    measures: list[str]
    measure_names: list[str]
    measure_types: list[str]
    measure_categories: list[str]
    pollutants: list[str]
    years: list[int]
    activity0: np.ndarray
    kind: np.ndarray
    src: np.ndarray
    tgt: np.ndarray
    qty: np.ndarray
    share_param: list[str | None]
    credit: np.ndarray  # [M,Y]
    # expressions: slot name -> list of terms
    slots: list[str] = field(default_factory=list)
    terms: list[tuple[int, Term]] = field(default_factory=list)
    keys_used: list[str] = field(default_factory=list)
    params: dict[str, Param] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    coefficient_uses: dict[str, list[str]] = field(default_factory=dict)
    # least cost (solve): per measure, annualised cost per unit of its decision variable (元/a),
    # the decision variable's unit, scenario level, upper bound and whole-project size
    unit_cost: dict[int, float] = field(default_factory=dict)
    decision_unit: dict[int, str] = field(default_factory=dict)
    decision_level: dict[int, float] = field(default_factory=dict)
    potential: dict[int, float] = field(default_factory=dict)
    project_size: dict[int, float] = field(default_factory=dict)
    abatement_price: dict[int, dict[str, float]] = field(default_factory=dict)  # 元 per t abated
    # disjoint groups: per measure the index into group_names (-1: none); one group per (pool, name)
    group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    group_names: list[str] = field(default_factory=list)
    _slot_index: dict[str, int] = field(default_factory=dict)

    # ---- expression machinery -------------------------------------------------------------
    def slot(self, name: str) -> int:
        if name not in self._slot_index:
            self._slot_index[name] = len(self.slots)
            self.slots.append(name)
        return self._slot_index[name]

    def base_keys(self) -> list[str]:
        """Non-derived coefficient keys that the scenario's numbers rest on."""
        out: list[str] = []
        for k in self.keys_used:
            for b in self.library.dependencies(k):
                if b not in out:
                    out.append(b)
        return out

    def central_values(self) -> dict[str, np.ndarray]:
        """Every parameter at its central value, as arrays of length 1."""
        return {name: np.array([p.value]) for name, p in self.params.items()}

    @property
    def param_names(self) -> list[str]:
        """Parameters in a fixed order: the columns of a parameter matrix."""
        return list(self.params)

    def param_matrix(self, values: Mapping[str, np.ndarray] | None = None, n: int | None = None) -> np.ndarray:
        """[N, n_params]: central values, with the columns named in *values* replaced."""
        names = self.param_names
        if n is None:
            n = max((np.size(v) for v in (values or {}).values()), default=1)
        x = np.empty((n, len(names)))
        x[:] = np.array([self.params[k].value for k in names])[None, :]
        if values:
            col = {k: i for i, k in enumerate(names)}
            for k, v in values.items():
                if k not in col:
                    raise KeyError(f"unknown parameter {k!r}")
                x[:, col[k]] = v
        return x

    def key_values(self, x: np.ndarray) -> np.ndarray:
        """[N, n_keys + 3]: every coefficient key's value for parameter rows *x* (derived keys by
        their formulas), then three constant columns 1, 0 and NaN (see :meth:`cells`)."""
        n = x.shape[0]
        nk = len(self.keys_used)
        direct, direct_cols, derived, coef_cols = self._key_columns()
        kv = np.empty((n, nk + 3))
        kv[:, direct] = x[:, direct_cols]
        if len(derived):
            base = {key: x[:, i] for key, i in coef_cols.items()}
            for j in derived.tolist():
                kv[:, j] = self._formula(self.keys_used[j])(base)
        kv[:, nk:] = (1.0, 0.0, np.nan)
        return kv

    def slot_values(self, x: np.ndarray, kv: np.ndarray | None = None) -> np.ndarray:
        """Evaluate every slot for N parameter rows *x* [N, n_params] -> [N, n_slots] (*kv*: their
        :meth:`key_values`, when already made)."""
        n = x.shape[0]
        kv = self.key_values(x) if kv is None else kv
        keyvals = kv[:, : len(self.keys_used)]
        expo, coef, onehot = self._term_matrices()
        prod, prod_keys, general = self.__dict__["_term_kinds"]
        tv = np.empty((n, len(self.terms)))
        if len(prod):  # coef * k1 * k2 ... left to right (a constant: coef * 1)
            v = coef[prod][None, :] * kv[:, prod_keys[:, 0]]
            for j in range(1, prod_keys.shape[1]):
                v *= kv[:, prod_keys[:, j]]
            tv[:, prod] = v
        if len(general):
            e = np.ascontiguousarray(expo[:, general])  # a strided exponent matrix makes the product 100x slower
            with np.errstate(divide="ignore", invalid="ignore"):
                logv = np.log(np.abs(keyvals))
                logv[np.isneginf(logv)] = -745.0  # exp -> 0 without nan in the product
            g = coef[general][None, :] * np.exp(logv @ e)
            if (keyvals < 0).any():
                parity = np.mod((keyvals < 0).astype(float) @ np.abs(e), 2.0)
                g = np.where(parity > 0.5, -g, g)
            tv[:, general] = g
        order, starts, slots = onehot
        out = np.zeros((n, len(self.slots)))
        if len(order) == len(starts):  # one term per slot (the common case): a gather, no sums
            out[:, slots] = tv[:, order]
        elif len(order):
            out[:, slots] = np.add.reduceat(tv[:, order], starts, axis=1)
        return out

    def _key_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
        """(keys read directly, their parameter columns, derived keys, {coefficient key: column}), cached."""
        cached = self.__dict__.get("_key_cols")
        if cached is not None and cached[0] == (len(self.keys_used), len(self.params)):
            return cached[1]  # type: ignore[no-any-return]
        coef_cols = {k[5:]: i for i, k in enumerate(self.param_names) if k.startswith("coef:")}
        is_derived = np.array([bool(self.library[k].formula) for k in self.keys_used], dtype=bool)
        direct = np.nonzero(~is_derived)[0]
        cols = np.array([coef_cols[self.keys_used[j]] for j in direct.tolist()], dtype=np.int64)
        out = (direct, cols, np.nonzero(is_derived)[0], coef_cols)
        self.__dict__["_key_cols"] = ((len(self.keys_used), len(self.params)), out)
        return out

    def _formula(self, key: str) -> Any:
        """f(base values) -> the derived coefficient *key* in its table unit, on plain arrays (cached).

        Every input is scaled to SI base units, the formula (+ - * / and numbers) evaluated on
        numbers, and the result scaled back: pint's arithmetic on arrays without its overhead.
        Checked once against the library's own (pint) evaluation at central values; a formula
        that does not agree to 1e-12 (an offset unit, say) keeps the pint path.
        """
        cache = self.__dict__.setdefault("_formula_cache", {})
        if key not in cache:
            lib = self.library

            def numeric(values: Mapping[str, Any], name: str = key) -> Any:
                c = lib[name]
                if c.formula is None:
                    return values.get(name, c.value)
                v = eval_formula(c.formula, lambda dep: numeric(values, dep) * base_scale(lib[dep].unit))
                return v / base_scale(c.unit)

            def pint_path(values: Mapping[str, Any]) -> Any:
                return lib.evaluate(key, values)

            fn: Any = pint_path
            try:
                want = float(lib.evaluate(key))
                got = float(numeric({}))
                if abs(got - want) <= 1e-12 * max(abs(want), 1e-300) or got == want:
                    fn = numeric
            except Exception:  # any unit pint cannot scale this way: keep pint
                fn = pint_path
            cache[key] = fn
        return cache[key]

    def _term_matrices(self) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(exponents [keys, terms], constants [terms], (term order, slot starts, slots)), cached."""
        cache = self.__dict__.get("_term_cache")
        if cache is not None and cache[0] == (len(self.terms), len(self.keys_used), len(self.slots)):
            return cache[1]
        col = {k: j for j, k in enumerate(self.keys_used)}
        expo = np.zeros((len(self.keys_used), len(self.terms)))
        coef = np.array([term.coef for _, term in self.terms], dtype=float)
        slot_of = np.array([s for s, _ in self.terms], dtype=np.int64)
        for t, (_, term) in enumerate(self.terms):
            for k, e in term.keys.items():
                expo[col[k], t] += e
        order = np.argsort(slot_of, kind="stable")
        slots, starts = np.unique(slot_of[order], return_index=True)
        mats = (expo, coef, (order, starts, slots))
        # term kinds: products of up to PRODUCT_KEYS keys to the first power (a constant has none),
        # multiplied left to right; the rest (other powers) as exp of a sum of logs
        nk = len(self.keys_used)
        is_prod = np.all((expo == 0) | (expo == 1), axis=0) & (expo.sum(axis=0) <= PRODUCT_KEYS)
        prod = np.nonzero(is_prod)[0]
        width = max(1, int(expo[:, prod].sum(axis=0).max(initial=0)))
        prod_keys = np.full((len(prod), width), nk, dtype=np.int64)  # padded with the column of ones
        for r, t in enumerate(prod.tolist()):
            ks = np.nonzero(expo[:, t])[0]
            prod_keys[r, : len(ks)] = ks
        general = np.nonzero(~is_prod)[0]
        self.__dict__["_term_kinds"] = (prod, prod_keys, general)
        self.__dict__["_term_cache"] = ((len(self.terms), len(self.keys_used), len(self.slots)), mats)
        return mats

    def _layout(self, prefix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slot indices of *prefix* and their (row, col) positions (read-only arrays), cached per
        model and per list of slot names (cities of one template share them)."""
        cache = self.__dict__.setdefault("_layout_cache", {})
        if cache.get("stamp") != len(self.slots):
            cache.clear()
            cache["stamp"] = len(self.slots)
            cache["grids"] = _grid_layout(tuple(self.slots))
        return cache["grids"].get(prefix, _NO_CELLS)

    def cells(self, prefix: str, rows: int, cols: int, default: float = 0.0) -> _Cells:
        """How the grid *prefix* [rows, cols] is read from :meth:`key_values`, cached.

        A cell whose slot is one term ``coef * key`` (or a constant, or no slot: *default*) is
        ``kv[:, key] * factor``; a cell of one or two products of keys is multiplied and added
        here; the rest (longer sums, other powers) are taken from :meth:`slot_values`. Each is
        the same arithmetic, in the same order, as :meth:`slot_values`.
        """
        cache = self.__dict__.setdefault("_cells_cache", {})
        stamp = (prefix, rows, cols, repr(default), len(self.slots), len(self.terms), len(self.keys_used))
        if stamp in cache:
            return cache[stamp]  # type: ignore[no-any-return]
        if not (default in (0.0, 1.0) or np.isnan(default)):
            raise ValueError(f"default {default!r}: 0, 1 or NaN")
        nk = len(self.keys_used)
        _, tcoef, (order, starts, slot_ids) = self._term_matrices()
        prod, prod_keys, _ = self.__dict__["_term_kinds"]
        width = prod_keys.shape[1] if len(prod_keys) else 1
        slot_of = np.array([sl for sl, _ in self.terms], dtype=np.int64)
        n_terms = np.bincount(slot_of, minlength=len(self.slots))
        row_of = np.full(len(self.terms), -1, dtype=np.int64)  # each term's row in prod_keys (-1: not a product)
        row_of[prod] = np.arange(len(prod))
        not_prod = np.bincount(slot_of, weights=(row_of < 0).astype(float), minlength=len(self.slots)) > 0
        first = np.zeros(len(self.slots), dtype=np.int64)  # each slot's first term, in slot_values' order
        first[slot_ids] = order[starts]
        idx, i, j = self._layout(prefix)
        pos = i * cols + j
        default_col = nk + (0 if default == 1.0 else 1 if default == 0.0 else 2)
        key = np.full(rows * cols, default_col, dtype=np.int64)
        factor = np.ones(rows * cols)
        nt, bad = n_terms[idx], not_prod[idx]
        r0 = row_of[first[idx]] if len(row_of) else np.full(len(idx), -1, dtype=np.int64)
        one_key = (nt == 1) & ~bad
        if width > 1:  # and that term has one key (the rest of its row is padding)
            one_key &= (prod_keys[np.maximum(r0, 0), 1:] == nk).all(axis=1)
        key[pos[one_key]] = prod_keys[r0[one_key], 0]
        factor[pos[one_key]] = tcoef[first[idx[one_key]]]
        key[pos[nt == 0]] = nk + 1  # a slot without terms is 0 (as slot_values)
        # sums of two terms here (a + b has one rounding); longer sums from slot_values, whose
        # reduceat may associate them otherwise than left to right
        is_sum = (nt > 0) & (nt <= 2) & ~bad & ~one_key
        other = (nt > 0) & ~one_key & ~is_sum
        sum_slots = idx[is_sum]
        most = int(nt[is_sum].max(initial=0))
        sum_keys = np.full((len(sum_slots), most, width), nk, dtype=np.int64)
        sum_coef = np.zeros((len(sum_slots), most))  # a missing term: 0 * 1, adds nothing
        at = np.searchsorted(slot_ids, sum_slots)
        for q in range(most):
            has = n_terms[sum_slots] > q
            t = order[starts[at[has]] + q]
            sum_keys[has, q] = prod_keys[row_of[t]]
            sum_coef[has, q] = tcoef[t]
        # cells whose value is read here: one key or a constant (whatever column it uses), or an empty slot
        defined = np.sort(np.concatenate([pos[one_key], pos[nt == 0]]))
        out = _Cells(key, factor, pos[is_sum], sum_keys, sum_coef, pos[other], idx[other],
                     defined if len(defined) < SPARSE_SHARE * len(key) else None)
        cache[stamp] = out
        return out

    def removed_pollutants(self) -> np.ndarray:
        """Pollutants (indices) for which some treatment measure has a removal: any other's is 0 in every row."""
        _, rows, cols = self._layout("removal")
        return np.unique(cols[np.isin(rows, np.nonzero(self.kind == engine.TREAT)[0])])

    # ---- engine inputs --------------------------------------------------------------------
    def inputs(self, values: Mapping[str, np.ndarray] | None = None) -> engine.EngineInputs:
        """EngineInputs for N samples (central values when *values* is None)."""
        return self.inputs_from_matrix(self.param_matrix(values))

    def grids(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The inputs that rest on coefficient keys, for parameter rows *x*: (ef [N,K,P], cut
        [N,M,P], removal before quantity scales [N,M,P], conv [N,M]). They read only the ``coef:``
        columns of *x*; rows equal in those give equal grids (see :meth:`inputs_from_matrix`)."""
        n = x.shape[0]
        kv = self.key_values(x)
        sv: list[np.ndarray] = []
        k, m, p = len(self.pools), len(self.measures), len(self.pollutants)

        def grid(prefix: str, rows: int, cols: int, default: float = 0.0) -> np.ndarray:
            c = self.cells(prefix, rows, cols, default)
            out = c.read(kv, default)
            if len(c.sum_cells):
                out[:, c.sum_cells] = c.sums(kv)
            if len(c.other):
                if not sv:
                    sv.append(self.slot_values(x, kv))
                out[:, c.other] = sv[0][:, c.other_slots]
            return out.reshape(n, rows, cols)

        ef = grid("ef", k, p)
        eff = grid("eff", m, p)
        removal = grid("removal", m, p)
        conv = grid("conv", m, 1, 1.0).reshape(n, m)
        cut = eff
        std = self.kind == engine.STANDARD
        if std.any():
            sj = np.nonzero(std)[0]
            pool_ef = np.take(ef, self.src[sj], axis=1)
            # cut = 1 - new/pool factor, in 0..1, where the pool has a factor; 0 where the standard
            # sets none for the pollutant (NaN) or the pool emits none: a standard binds only
            # where it is stricter than the pool's current factor. In place, one array.
            cut_s = np.take(grid("newef", m, p, np.nan), sj, axis=1)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                np.divide(cut_s, pool_ef, out=cut_s)
                np.subtract(1.0, cut_s, out=cut_s)
            cut_s[np.isnan(cut_s)] = 0.0
            np.clip(cut_s, 0.0, 1.0, out=cut_s)
            cut_s[~(pool_ef > 0)] = 0.0
            cut[:, sj, :] = cut_s
        return ef, cut, removal, conv

    def inputs_from_matrix(self, x: np.ndarray, grids: tuple[np.ndarray, ...] | None = None) -> engine.EngineInputs:
        """EngineInputs from a parameter matrix [N, n_params] (see :attr:`param_names`).

        *grids*: :meth:`grids` of rows equal to *x* in every ``coef:`` column, when already made
        (a sweep's grid points share the drawn coefficients); they are used as they are (removal
        is copied before its quantity scale).
        """
        n = x.shape[0]
        k, m = len(self.pools), len(self.measures)
        if grids is None:
            ef, cut, removal, conv = self.grids(x)
        else:
            ef, cut, removal, conv = grids
        cols = self._input_columns()
        # np.take keeps rows contiguous (x[:, cols] is column-major): every later pass over
        # growth, completion and implemented [N,M,Y] runs along memory
        growth = np.take(x, cols["growth"], axis=1)
        completion = np.take(x, cols["completion"], axis=1)
        share = np.full((n, m), np.nan)
        sj = cols["share_measures"]
        if len(sj):
            share[:, sj] = x[:, cols["share"]]
        y = self.credit.shape[1]
        implemented = np.repeat(completion, y, axis=1)  # completion x credit, the inner loop along M*Y
        implemented *= self.credit.reshape(-1)
        implemented = implemented.reshape(n, m, y)
        qty = np.broadcast_to(self.qty, (n, m))
        if len(cols["qty"]):
            js, cs = cols["qty_measures"], cols["qty"]
            scale = x[:, cs]
            if not np.all(scale == 1.0):
                qty = qty.copy()
                qty[:, js] = qty[:, js] * scale
                if grids is not None:
                    removal = removal.copy()
                removal[:, js, :] = removal[:, js, :] * scale[:, :, None]
        offset = np.array(self.years, dtype=float) - self.scenario.base_year
        return engine.EngineInputs(
            activity0=np.broadcast_to(self.activity0, (n, k)), growth=growth, ef=ef, offset=offset,
            kind=self.kind, src=self.src, tgt=self.tgt, qty=qty,
            share=share, conv=conv, cut=cut, removal=removal, implemented=implemented,
            group=self.group if len(self.group) and (self.group >= 0).any() else None,
        )

    def _input_columns(self) -> dict[str, np.ndarray]:
        """Parameter columns of growth [K], completion [M], shares and quantity scales, cached."""
        cached = self.__dict__.get("_input_cols")
        if cached is not None and cached[0] == (len(self.params), len(self.measures), len(self.pools)):
            return cached[1]  # type: ignore[no-any-return]
        col = {name: i for i, name in enumerate(self.param_names)}
        sj = [j for j, name in enumerate(self.share_param) if name is not None]
        qj = [j for j, mid in enumerate(self.measures) if f"qty:{mid}" in col]
        idx = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
        out = {"growth": idx([col[f"growth:{pid}"] for pid in self.pools]),
               "completion": idx([col[f"completion:{mid}"] for mid in self.measures]),
               "share_measures": idx(sj), "share": idx([col[self.share_param[j]] for j in sj]),  # type: ignore[index]
               "qty_measures": idx(qj), "qty": idx([col[f"qty:{self.measures[j]}"] for j in qj])}
        self.__dict__["_input_cols"] = ((len(self.params), len(self.measures), len(self.pools)), out)
        return out

    def with_groups(self, group: np.ndarray, names: list[str]) -> Model:
        """A copy whose measures sit in the disjoint groups *group* (indices into *names*)."""
        from dataclasses import replace

        out = replace(self, group=np.asarray(group, dtype=np.int64), group_names=list(names))
        for key in ("_term_cache", "_term_kinds", "_layout_cache"):
            if key in self.__dict__:
                out.__dict__[key] = self.__dict__[key]
        return out


@lru_cache(maxsize=4096)
def base_scale(unit: str) -> float:
    """Magnitude of 1 *unit* in SI base units (ValueError for offset units such as degC)."""
    u = parse_unit(unit)
    if not ureg.Quantity(1.0, u)._is_multiplicative:
        raise ValueError(f"offset unit {unit!r}")
    return float(Q_(1.0, u).to_base_units().magnitude)


def completion_high(model: Model) -> np.ndarray:
    """[M]: each measure's completion at the high end of its range (its value when fixed), cached."""
    cached = model.__dict__.get("_completion_high")
    if cached is None or len(cached) != len(model.measures):
        ps = [model.params[f"completion:{m}"] for m in model.measures]
        cached = np.array([p.high if p.high is not None else p.value for p in ps], dtype=float)
        model.__dict__["_completion_high"] = cached
    return cached  # type: ignore[no-any-return]


def group_shares(model: Model, inp: engine.EngineInputs, js: np.ndarray, a_k: np.ndarray) -> np.ndarray:
    """[len(js), Y]: the share of their pool (grown activity *a_k* [Y]) that measures *js* cover,
    retire or switch in each year, at the high end of their completion and share ranges, times
    their credit (inf where a positive quantity meets an empty pool)."""
    js = np.asarray(js, dtype=np.int64)
    hi = [None if model.share_param[j] is None else model.params[model.share_param[j]] for j in js]  # type: ignore[index]
    share_hi = np.array([np.nan if p is None else (p.high if p.high is not None else p.value) for p in hi])
    share_hi = np.fmax(share_hi, np.where(np.isnan(share_hi), np.nan, inp.share[0, js]))  # a swept share above the range
    q = np.nan_to_num(inp.qty[0, js])[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        by_qty = np.where(q > 0, q / np.where(a_k > 0, a_k, 0.0)[None, :], 0.0)
    share = np.where(np.isnan(share_hi)[:, None], by_qty, share_hi[:, None])
    credit = model.credit[js]
    return np.where(credit > 0, share * completion_high(model)[js, None] * credit, 0.0)
