"""One evaluation loop: parameter rows -> engine totals -> targets, chunked, on two threads.

Every many-row evaluation goes through :func:`evaluate`: the Monte Carlo of a run and of each
city of a batch (rows drawn inside the chunk loop by a :class:`Sampler`), sweeps (grid points x
common random numbers, built per chunk by :class:`GridRows`) and sensitivity (a parameter
matrix, via ``sim.analyses.sweep.evaluate_rows``). A chunk is one vectorised kernel call
(sim/core/kernel.py) on a few MiB of working memory; no loop over samples or measures. Chunks
run on two threads (numpy releases the GIL in its kernels), or, from :data:`PROCESS_WORK` on
Linux, in two forked processes (same numbers; no interpreter lock to share);
``ERSIM_THREADS=1`` keeps everything in one thread.

Units: totals in t/a [N, pollutant, year]; required/achieved per target [N, target] in the
target's unit (t, or µg/m³ for concentration targets); per-measure reductions in t/a.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sim.core import engine, kernel
from sim.core.uncertainty import Ranges
from sim.model.compile import Model
from sim.model.feasibility import evaluate_targets

__all__ = ["Evaluation", "GridRows", "RowSource", "Sampler", "evaluate", "quantiles", "sequential_reductions", "shared_bytes",
           "working_chunk", "working_memory"]

#: bytes of working memory per chunk of rows (a few MiB: the arrays of one chunk stay in cache)
CHUNK_BYTES = 4 * 2**20
#: memory for per-measure reductions kept for quantiles ([rows, measures, pollutants, years], float32 in runs)
REDUCTION_BYTES = 16 * 2**20
#: rows per call of the per-measure attribution (its temporaries are [rows, measures, pollutants, years])
REDUCTION_ROWS = 16
#: most memory a sweep keeps for the inputs its grid points share (GridRows.shared)
SHARED_BYTES = 256 * 2**20
#: fewest samples worth quantiles of per-measure reductions (fewer fit: none are computed)
MIN_REDUCTION_SAMPLES = 100


def working_chunk(model: Model, n: int) -> int:
    """Rows per chunk: about CHUNK_BYTES of doubles per working array, at least 16.

    For the Monte Carlo this is also the size of a seed block (one ``SeedSequence.spawn``
    child per block of samples), so it is part of what makes a seed reproducible: changing
    it changes the draws.
    """
    pn, yn = max(1, len(model.pollutants)), len(model.years)
    m, k = max(1, len(model.measures)), max(1, len(model.pools))
    dense = len(set(model.src[model.kind == engine.TREAT].tolist()))  # pools that may take the dense path
    per_row = max(dense * 4 * pn * yn, m * pn, m * yn, k * pn * 2, k * yn * 2)
    return int(max(16, min(n, CHUNK_BYTES // (8 * per_row))))


def working_memory(model: Model, n: int, reductions: int = 0) -> int:
    """Estimated peak working memory (bytes) of :func:`evaluate` on *n* rows, outputs aside.

    The chunk loop holds one chunk of rows per thread; the per-measure reductions kept for
    quantiles are float32 [reductions, measures, pollutants, years].
    """
    from sim.model import consistency

    cells = len(model.measures) * len(model.pollutants) * len(model.years)
    return 2 * consistency.estimate_memory(model, working_chunk(model, max(1, n))) + 4 * reductions * cells


class RowSource(Protocol):
    """Parameter rows built block by block inside the chunk loop (never all at once)."""

    n: int  # rows in all
    block: int  # rows per block (the last may be shorter)

    def rows(self, b: int) -> np.ndarray:
        """Rows [<= block, n_params] of block *b*."""
        ...


class Sampler:
    """Latin-hypercube rows of the model's uncertain inputs, drawn block by block.

    Block b (rows b*block .. (b+1)*block) is drawn from ``SeedSequence(seed).spawn(n_blocks)[b]``,
    so the same (seed, n) gives the same rows however the blocks are scheduled. Inputs without
    a range stay at their central value.
    """

    def __init__(self, model: Model, n: int, seed: int, block: int | None = None):
        from sim.core.uncertainty import chunk_seeds

        self.n = int(n)
        self.block = int(block) if block is not None else working_chunk(model, self.n)
        self.block = max(1, self.block)
        self.cols, self.ranges = uncertain_ranges(model)
        self.central = model.param_matrix(n=1)
        self.seeds = chunk_seeds(seed, -(-self.n // self.block)) if self.n else []

    def rows(self, b: int) -> np.ndarray:
        """Parameter rows [rows, n_params] of block *b*."""
        lo, hi = b * self.block, min(self.n, (b + 1) * self.block)
        x = np.repeat(self.central, hi - lo, axis=0)
        if self.cols:
            x[:, self.cols] = self.ranges.draw(hi - lo, self.seeds[b])
        return x


def uncertain_ranges(model: Model) -> tuple[list[int], Ranges]:
    """(parameter columns with a range, their ranges): what a Latin hypercube draws."""
    names = model.param_names
    cols = [i for i, k in enumerate(names) if model.params[k].uncertain]
    spec = tuple((names[i], model.params[names[i]].distribution, model.params[names[i]].value,
                  model.params[names[i]].low, model.params[names[i]].high) for i in cols)
    return cols, Ranges.of(spec)


class GridRows:
    """Rows of a sweep: every grid point with every sample (common random numbers).

    Row i is ``draws[i % s]`` with the swept columns *cols* set to ``grid[i // s]``
    (parameter units), the order of ``np.repeat(draws[None], g, 0).reshape(g * s, -1)``.
    """

    def __init__(self, draws: np.ndarray, cols: list[int], grid: np.ndarray, block: int):
        self.draws, self.cols, self.grid = draws, cols, grid
        self.n = grid.shape[0] * draws.shape[0]
        self.block = max(1, int(block))

    def draw_of(self, b: int) -> np.ndarray:
        """The draw (row of *draws*) behind each row of block *b*."""
        return np.arange(b * self.block, min(self.n, (b + 1) * self.block)) % self.draws.shape[0]

    def rows(self, b: int) -> np.ndarray:
        i = np.arange(b * self.block, min(self.n, (b + 1) * self.block))
        s = self.draws.shape[0]
        x = self.draws[i % s]
        if self.cols:
            x[:, self.cols] = self.grid[i // s]
        return x

    def shared(self, model: Model) -> _Shared | None:
        """What every grid point shares, made once from the draws: the coefficient grids when no
        ``coef:`` input is swept, and the grown activity when no growth rate is swept (None: nothing,
        or more than :data:`SHARED_BYTES`). Made a working chunk of draws at a time."""
        names = model.param_names
        swept = [names[c] for c in self.cols]
        if self.grid.shape[0] < 2 or any(n.startswith("coef:") for n in swept) or shared_bytes(model, self.draws.shape[0]) > SHARED_BYTES:
            return None
        s = self.draws.shape[0]
        grow = not any(n.startswith("growth:") for n in swept)
        grids: list[np.ndarray] = []
        grown: np.ndarray | None = None
        step = working_chunk(model, s)
        for lo in range(0, s, step):
            x = self.draws[lo : lo + step]
            part = model.grids(x)
            if not grids:
                grids = [np.empty((s, *a.shape[1:])) for a in part]
                grown = np.empty((s, len(model.pools), len(model.years))) if grow else None
            for whole, a in zip(grids, part, strict=True):
                whole[lo : lo + len(x)] = a
            if grown is not None:
                grown[lo : lo + len(x)] = engine.grown_activity(model.inputs_from_matrix(x, part))
        return _Shared(tuple(grids), grown)


def shared_bytes(model: Model, draws: int) -> int:
    """Bytes a sweep keeps for the inputs its grid points share (at most; see GridRows.shared)."""
    k, m, p, y = len(model.pools), len(model.measures), len(model.pollutants), len(model.years)
    return 8 * draws * (k * p + 2 * m * p + m + k * y)


@dataclass
class _Shared:
    """Inputs of a sweep's draws that do not depend on the swept inputs (see GridRows.shared)."""

    grids: tuple[np.ndarray, ...]  # Model.grids of the draws
    grown: np.ndarray | None  # grown activity [S,K,Y] of the draws, when growth is not swept

    def inputs(self, model: Model, x: np.ndarray, draw: np.ndarray) -> engine.EngineInputs:
        """EngineInputs of rows *x*, each equal to draw *draw* in every unswept input."""
        inp = model.inputs_from_matrix(x, tuple(np.take(g, draw, axis=0) for g in self.grids))
        if self.grown is not None:
            engine.remember_grown(inp, np.take(self.grown, draw, axis=0))
        return inp


@dataclass
class Evaluation:
    """Totals and targets of N parameter rows (see the module docstring for units)."""

    baseline_total: np.ndarray  # [N,P,Y] t/a
    emissions_total: np.ndarray  # [N,P,Y] t/a
    required: np.ndarray  # [N,T]
    achieved: np.ndarray  # [N,T]
    reduction: np.ndarray | None = None  # [S,M,P,Y] t/a, sequential attribution of the first S rows

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"baseline_total": self.baseline_total, "emissions_total": self.emissions_total,
                "required": self.required, "achieved": self.achieved}


def evaluate(model: Model, rows: np.ndarray | RowSource, values: np.ndarray | None = None, *,
             reductions: int = 0, reduction_dtype: Any = np.float64, chunk: int | None = None,
             progress: Callable[[int], Any] | None = None, breaches: dict[str, int] | None = None,
             mean_every: int = 1) -> Evaluation:
    """Evaluate parameter *rows* (a matrix [N, n_params], a :class:`Sampler` or other RowSource) -> Evaluation.

    *values* [N,T] replaces the targets' values row by row (sweeps of a target's value).
    *reductions* > 0 also attributes each measure's reduction (sequential, in listed order) on
    the first min(N, reductions) rows, stored as *reduction_dtype* (float32 halves the memory of
    quantiles, ~1e-7 relative). *progress* is called with the rows done per chunk.
    *breaches*, when given, counts the rows where a measure takes more than its pool holds
    (the consistency stage's limits, checked on every drawn row: nothing is clipped silently).
    *mean_every* > 1 keeps the totals only as means over each block of that many consecutive
    rows ([N / mean_every, P, Y]; a sweep's samples at one grid point), never all rows.
    """
    from sim.core import allocator

    allocator.tune()
    from sim.evaluation.targets import target_specs

    sampler = None if isinstance(rows, np.ndarray) else rows
    if sampler is not None:
        n, step = sampler.n, sampler.block
    else:
        assert isinstance(rows, np.ndarray)
        n = rows.shape[0]
        step = chunk or working_chunk(model, n)
    specs = target_specs(model)
    p, y = len(model.pollutants), len(model.years)
    every = max(1, int(mean_every))
    if n % every:
        raise ValueError(f"mean_every={every} does not divide {n} rows")
    kept_rows = n // every
    totals_init = np.zeros if every > 1 else np.empty
    out = Evaluation(totals_init((kept_rows, p, y)), totals_init((kept_rows, p, y)), np.empty((n, len(specs))),
                     np.empty((n, len(specs))))
    keep = min(n, max(0, reductions))
    if keep:
        out.reduction = np.empty((keep, len(model.measures), p, y), dtype=reduction_dtype)
    job = _Job(model, rows, sampler, values, n, step, every, keep, reduction_dtype, breaches is not None, specs,
               kernel.make_plan(model.kind, model.src, model.tgt, len(model.pools), group=model.group,
                                removes=model.removed_pollutants()),
               sampler.shared(model) if isinstance(sampler, GridRows) else None)
    count = len(job.starts)

    def store(res: _Chunk) -> int:
        """Put one chunk's results in place (in chunk order: sums over a block of rows are added
        in the same order however the chunks were scheduled)."""
        lo, hi = res.lo, res.hi
        if every == 1:
            out.baseline_total[lo:hi], out.emissions_total[lo:hi] = res.baseline, res.emissions
        else:
            out.baseline_total[res.blocks] += res.baseline
            out.emissions_total[res.blocks] += res.emissions
        if specs:
            out.required[lo:hi], out.achieved[lo:hi] = res.required, res.achieved
        if res.reduction is not None and out.reduction is not None:
            out.reduction[lo : lo + len(res.reduction)] = res.reduction
        if breaches is not None:
            for what, k in res.breaches.items():
                breaches[what] = breaches.get(what, 0) + k
        if progress is not None:
            progress(hi - lo)
        return hi - lo

    workers = 1 if os.environ.get("ERSIM_THREADS") == "1" else min(2, os.cpu_count() or 1, count)
    if workers > 1 and n * (len(model.measures) + len(model.pools)) >= PROCESS_WORK and _can_fork():
        for done in _in_processes(job, workers):
            store(done)
    elif workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            for done in pool.map(job.chunk, range(count)):
                store(done)
    else:
        for c in range(count):
            store(job.chunk(c))
    if every > 1:
        out.baseline_total /= every
        out.emissions_total /= every
    return out


#: work (rows x (measures + pools)) from which :func:`evaluate` runs its chunks in two forked
#: processes rather than two threads. The threads share the interpreter lock between numpy
#: calls: on a small model (Ankang, 9 measures) two threads ran a sweep only 1.2x faster than
#: one, with 15,000 lock hand-overs per 300,000 rows; two processes have no lock to share
#: (10,000 draws of a 200-measure city: 1.23 s on one thread, 0.98 s on two, 0.84 s in two
#: processes). Below it, forking and sending results back cost more than they save.
PROCESS_WORK = 2_000_000


@dataclass
class _Chunk:
    """What one chunk of rows gives back (see :func:`evaluate`)."""

    lo: int
    hi: int
    blocks: np.ndarray | None  # block of each summed row group (mean_every > 1), else None
    baseline: np.ndarray  # [rows or blocks, P, Y] t/a
    emissions: np.ndarray
    required: np.ndarray  # [rows, T]
    achieved: np.ndarray
    reduction: np.ndarray | None  # [rows kept, M, P, Y] t/a
    breaches: dict[str, int]


@dataclass
class _Job:
    """Everything a chunk needs: evaluated by threads here, or by forked processes (inherited)."""

    model: Model
    rows: Any
    sampler: RowSource | None
    values: np.ndarray | None
    n: int
    step: int
    every: int
    keep: int
    reduction_dtype: Any
    count_breaches: bool
    specs: list[Any]
    plan: kernel.Plan
    shared: _Shared | None = None  # a sweep's inputs common to its grid points

    @property
    def starts(self) -> range:
        return range(0, self.n, self.step)

    def chunk(self, c: int) -> _Chunk:
        """Evaluate chunk *c* (rows c*step .. (c+1)*step)."""
        from sim.evaluation.targets import air_values
        from sim.model import consistency

        model = self.model
        lo, hi = c * self.step, min(self.n, (c + 1) * self.step)
        x = self.sampler.rows(c) if self.sampler is not None else self.rows[lo:hi]
        if self.shared is not None and isinstance(self.sampler, GridRows):
            inp = self.shared.inputs(model, x, self.sampler.draw_of(c))
        else:
            inp = model.inputs_from_matrix(x)
        found = consistency.sample_breaches(model, x, inp) if self.count_breaches else {}
        b, e = kernel.totals(inp, self.plan)
        if self.specs:
            r, a = evaluate_targets(self.specs, b, e, air_values(model, x), None if self.values is None else self.values[lo:hi])
        else:
            r = a = np.empty((hi - lo, 0))
        blocks = None
        if self.every > 1:  # sums per block of rows (a block may span chunks)
            block = np.arange(lo, hi) // self.every
            firsts = np.concatenate([[0], np.nonzero(np.diff(block))[0] + 1])
            b, e, blocks = np.add.reduceat(b, firsts, axis=0), np.add.reduceat(e, firsts, axis=0), block[firsts]
        red = None
        if lo < self.keep:
            top = min(hi, self.keep)
            red = np.empty((top - lo, len(model.measures), len(model.pollutants), len(model.years)), dtype=self.reduction_dtype)
            for s0 in range(lo, top, REDUCTION_ROWS):  # a few rows at a time: the attribution's temporaries stay small
                s1 = min(top, s0 + REDUCTION_ROWS)
                red[s0 - lo : s1 - lo] = sequential_reductions(model.inputs_from_matrix(x[s0 - lo : s1 - lo]))
        return _Chunk(lo, hi, blocks, b, e, r, a, red, found)


_FORKED_JOB: _Job | None = None  # the job a forked worker inherits (set just before the fork)


def _can_fork() -> bool:
    """Linux with the fork start method, outside a daemonic worker process (which may not have
    children, e.g. a multiprocessing pool's); elsewhere the threads are kept. Other threads of
    the parent (a progress display) do not matter here: the children only evaluate chunks of
    the inherited job and send the results back, touching no lock those threads may hold."""
    import multiprocessing
    import sys

    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def _chunks_of_forked_job(cs: list[int]) -> list[_Chunk]:
    assert _FORKED_JOB is not None
    return [_FORKED_JOB.chunk(c) for c in cs]


def _in_processes(job: _Job, workers: int) -> Any:
    """Chunks of *job* evaluated by *workers* forked processes, yielded in chunk order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _FORKED_JOB
    count = len(job.starts)
    per = max(1, count // (8 * workers))  # a few chunks per task: progress, and little traffic
    tasks = [list(range(c, min(count, c + per))) for c in range(0, count, per)]
    _FORKED_JOB = job
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for results in pool.map(_chunks_of_forked_job, tasks):
                yield from results
    finally:
        _FORKED_JOB = None


def _component_labels(inp: engine.EngineInputs) -> np.ndarray:
    """Component of each pool [K]: pools linked by a switch or replacement share one (O(K + M))."""
    k = inp.n_pools
    parent = np.arange(k)

    def find(a: int) -> int:
        root = a
        while parent[root] != root:
            root = parent[root]
        while parent[a] != root:
            parent[a], a = root, parent[a]
        return root

    for s, t in zip(inp.src.tolist(), inp.tgt.tolist(), strict=True):
        if t >= 0:
            rs, rt = find(s), find(t)
            if rs != rt:
                parent[max(rs, rt)] = min(rs, rt)
    return np.array([find(i) for i in range(k)], dtype=np.int64)


def sequential_reductions(inp: engine.EngineInputs) -> np.ndarray:
    """Per-measure reductions [N,M,P,Y] (t/a) of N samples, measures applied in listed order.

    The same attribution as :func:`sim.core.engine.attribute_sequential`, for every sample at
    once: in each group of interacting pools, measure i gets E(first i-1 on) - E(first i on).
    Step r evaluates, for all groups with at least r measures together, the emissions with
    their first r measures on: as many engine calls as the largest group has measures, each
    on the pools of the groups still active. Memory is linear in measures (no mask of
    measures x measures).
    """
    n = inp.activity0.shape[0]
    m, p, y = inp.n_measures, inp.ef.shape[2], inp.offset.shape[0]
    out = np.zeros((n, m, p, y))
    if m == 0:
        return out
    _, label = np.unique(_component_labels(inp), return_inverse=True)  # group of each pool, 0..C-1
    n_groups = int(label.max()) + 1
    comp = label[inp.src]  # [M]
    order = np.argsort(comp, kind="stable")
    _, first, counts = np.unique(comp[order], return_index=True, return_counts=True)
    pos = np.empty(m, dtype=np.int64)  # rank of each measure in its group, in listed order
    pos[order] = np.arange(m) - np.repeat(first, counts)
    size = np.bincount(comp, minlength=n_groups)  # measures per group
    prev = np.zeros((n, n_groups, p, y))  # per group: E with the first r-1 measures on
    for r in range(int(size.max()) + 1):
        live = size >= max(r, 1)
        pools = np.nonzero(live[label])[0]
        ms = np.nonzero(live[comp])[0]
        sub = inp.restrict(ms, pools)
        e = engine.baseline(sub) if r == 0 else None  # no measure on: A EF, where that is what the engine gives
        if e is None or not _all_off_is_baseline(sub, e):
            e = engine.emissions(sub, (pos[ms] < r).astype(float)[None, :])  # [N,K',P,Y]
        by = np.argsort(label[pools], kind="stable")
        groups, starts = np.unique(label[pools][by], return_index=True)
        # [N,C',P,Y], groups in ascending order (one pool per group: nothing to add up)
        cur = e[:, by] if len(groups) == len(pools) else np.add.reduceat(e[:, by], starts, axis=1)
        if r:
            at = ms[pos[ms] == r - 1]  # the r-th measure of each live group
            out[:, at] = prev[:, comp[at]] - cur[:, np.searchsorted(groups, comp[at])]
        prev[:, groups] = cur
    return out


def _all_off_is_baseline(inp: engine.EngineInputs, base: np.ndarray) -> bool:
    """Whether the engine with every measure off gives *base* (A EF) itself: it does when the grown
    activity and A EF are >= 0 (no clip at zero bites) and what it multiplies by the zero switches
    (removals, cuts, conversions, implemented shares) is finite (0 * inf would be NaN)."""
    with np.errstate(invalid="ignore"):
        return bool((engine.grown_activity(inp) >= 0).all() and (base >= 0).all()
                    and all(np.isfinite(v).all() for v in (inp.removal, inp.cut, inp.conv, inp.implemented)))


def quantiles(a: np.ndarray, q: tuple[float, ...] | np.ndarray, block: int = 4096) -> np.ndarray:
    """``np.quantile(a, q, axis=0)`` (linear interpolation) by sorting: [len(q), *a.shape[1:]] float64.

    numpy's own quantile over axis 0 of a [samples, measures, pollutants, years] array spends
    most of its time on strided copies; this sorts *block* cells at a time with the sample axis
    last, so the extra memory is one block. The same values as numpy's (its interpolation formula;
    where -0.0 and 0.0 tie, the sign of a zero may differ); an array holding NaN or infinities goes
    to ``np.quantile`` itself.
    """
    q = np.asarray(q, dtype=float)
    if not np.isfinite(a).all():
        return np.quantile(a, q, axis=0)  # type: ignore[no-any-return]
    n = a.shape[0]
    cells = a.reshape(n, -1)
    h = (n - 1) * q
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    t = h - lo
    out = np.empty((len(q), cells.shape[1]))
    for c0 in range(0, cells.shape[1], block):
        part = np.sort(cells[:, c0 : c0 + block].T, axis=1)  # [cells, samples]
        a_lo, a_hi = part[:, lo].astype(float), part[:, hi].astype(float)  # [cells, len(q)]
        out[:, c0 : c0 + block] = np.where(t >= 0.5, a_hi - (a_hi - a_lo) * (1 - t), a_lo + (a_hi - a_lo) * t).T
    return out.reshape(len(q), *a.shape[1:])
