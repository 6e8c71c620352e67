"""Many scenarios at once: results stacked along a ``region`` dim (``ersim batch``).

A province's cities, or all 337 prefecture cities, each a scenario file (or a scenario
mapping). Work is split into **blocks** of cities; a task evaluates one block: it loads,
validates and compiles its cities and, with samples, draws each city's Monte Carlo samples
itself. Only small summaries travel back (totals [P,Y], target margins, quantiles), never
sample arrays. Blocks run

* serially in this process (one worker, or a single block);
* on a process pool of this machine (``concurrent.futures``, one process per core), the
  default: the compile step is pure Python (pint), so threads would not help it. Processes
  are spawned, so a script calling :func:`run_batch` needs ``if __name__ == "__main__":``;
* on an existing dask.distributed cluster (``scheduler="tcp://host:8786"`` or a ``Client``),
  one task per block (a task costs about 2 ms of scheduler time). Workers must have ersim
  installed and see the scenario files at the same absolute paths (a shared file system).

**Shared structure.** Cities written from one template (same pools, measures and units,
other numbers) are still each loaded, checked and compiled on their own, so a bad number is
reported with its own city's file:line. What they share is cached per worker process: the
unit algebra of their expressions (sim/model/compile.py), quantity texts and units
(sim/core/units.py), the tags of YAML scalars (sim/model/yamlio.py). Stacking several cities'
rows into one kernel call was measured and not kept: a chunk's time is its arrays' size (chunks
are sized to stay in cache), not a fixed cost per call, so bigger chunks were slower.

**Seeds.** Each city's seed is derived from (base seed, region) with ``numpy.random.SeedSequence``
(the region name hashed with SHA-256 into 32-bit words), so a city's numbers never depend on
how the batch is split or run, nor on which other cities are in it: serial, process pool,
dask and every block size give identical results. The derived seed is stored per region
(``region_seed``): ``ersim run CITY.yaml --samples N --seed <region_seed>`` reproduces that
city's margins and probabilities exactly. Without a base seed, each scenario's
``settings.seed`` is the base.

**Memory allocator.** Worker processes started here get ``MALLOC_TRIM_THRESHOLD_`` = 64 MiB and
``MALLOC_MMAP_THRESHOLD_`` = 32 MiB (unless already set in the environment) and one Monte Carlo
thread each (``ERSIM_THREADS=1``; the processes already use every core). glibc reads these
only when a process starts, hence environment variables set before spawning (the pool uses the
``spawn`` start method; :func:`local_cluster` puts them into dask's
``distributed.nanny.pre-spawn-environ``). Why both: the Monte Carlo allocates and frees arrays
of a few MiB per chunk. dask's default trim threshold of 64 KiB returns freed memory to the
OS at once, and setting any trim threshold also pins glibc's mmap threshold at 128 KiB, so
every such array is a fresh ``mmap`` whose pages fault in again on each use. Measured on this
2-core machine, the Monte Carlo of a 200-measure city (1,000 samples) ran 2-3x slower with
dask's default, 1.2-1.4x slower with a 32 MiB trim threshold alone, and 1.5-1.9x faster than
glibc's adaptive default with both thresholds raised. The cost: up to 64 MiB of freed memory
kept per worker.
For a cluster you did not start, set both in its workers' environment (dask config
``distributed.nanny.pre-spawn-environ``).
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sim.core.errors import ErsimError, InputError, Problem

__all__ = [
    "WORKER_ENV",
    "Batch",
    "BatchInput",
    "batch_label",
    "evaluate_batch",
    "expand_inputs",
    "local_cluster",
    "region_seed",
    "run_batch",
    "save_batch",
    "summary_frame",
]

QUANTILES = (0.05, 0.5, 0.95)
SUFFIXES = (".yaml", ".yml")
#: environment of worker processes started by ersim (existing values are kept)
WORKER_ENV = {"MALLOC_TRIM_THRESHOLD_": str(64 * 2**20), "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "ERSIM_THREADS": "1"}
SEED_RULE = ("SeedSequence([base_seed mod 2**64, *uint32 words of sha256(region, UTF-8)])"
             ".generate_state(1, uint64) >> 1; each city's Monte Carlo uses it as run_uncertain's seed")


# ---- inputs -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchInput:
    """One scenario of a batch: a file (absolute path, maybe ``#variant``) or a scenario mapping."""

    index: int
    label: str  # how the user named it: the path as given, or "<scenario N>"
    ref: str | None = None
    data: Mapping[str, Any] | None = None
    base_dir: str = "."


Item = str | Path | Mapping[str, Any] | BatchInput


def expand_inputs(items: Item | Iterable[Item]) -> list[BatchInput]:
    """Folders -> their ``*.yaml``/``*.yml`` files (sorted); files and mappings kept in order.

    Raises InputError listing every missing file, empty folder and duplicate file.
    """
    from sim.model.variants import split_ref

    if isinstance(items, (str, Path, Mapping, BatchInput)):
        items = [items]
    cwd = os.getcwd()
    out: list[BatchInput] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}

    def add_file(ref: str, label: str) -> None:
        file, variant = split_ref(ref)
        absolute = str(Path(file).resolve()) + (f"#{variant}" if variant else "")
        if absolute in seen:
            problems.append(Problem(f"listed twice (also as {seen[absolute]})", label))
            return
        seen[absolute] = label
        out.append(BatchInput(len(out), label, ref=absolute))

    given = list(items)
    if not given:
        raise InputError(Problem("no scenarios given: name scenario files or a folder of them"))
    for item in given:
        if isinstance(item, BatchInput):  # already expanded
            out.append(BatchInput(len(out), item.label, item.ref, item.data, item.base_dir))
            continue
        if isinstance(item, Mapping):
            out.append(BatchInput(len(out), f"<scenario {len(out) + 1}>", data=item, base_dir=cwd))
            continue
        text = str(item)
        file, _ = split_ref(text)
        if file.is_dir():
            files = sorted(p for p in file.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
            if not files:
                problems.append(Problem(f"no scenario files ({', '.join('*' + s for s in SUFFIXES)}) in this folder", text))
            for p in files:
                add_file(str(p), str(p))
        elif file.is_file():
            add_file(text, text)
        else:
            problems.append(Problem("no such file or folder", text))
    if problems:
        raise InputError(problems)
    return out


def region_seed(base_seed: int, region: str) -> int:
    """A city's seed from (base seed, region): a 63-bit int, the same wherever it is computed."""
    words = np.frombuffer(hashlib.sha256(region.encode("utf-8")).digest(), dtype="<u4")
    ss = np.random.SeedSequence([int(base_seed) % 2**64, *(int(w) for w in words)])
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


# ---- one block (runs in a worker) -------------------------------------------------------------

@dataclass
class _Record:
    """What a task sends back for one city: labels and small arrays, no samples."""

    index: int
    region: str = ""
    scenario: str = ""
    scenario_id: str = ""
    file: str = ""
    sha256: str | None = None
    inventory_file: str | None = None
    inventory_sha256: str | None = None
    library: tuple[tuple[str, str], ...] = ()
    base_year: int = 0
    seed: int | None = None
    pollutants: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    baseline_total: np.ndarray | None = None  # [P,Y]
    emissions_total: np.ndarray | None = None
    targets: list[dict[str, Any]] = field(default_factory=list)  # id, name, pollutant, year, kind, value, unit
    required: np.ndarray | None = None  # [T]
    achieved: np.ndarray | None = None
    status: list[str] = field(default_factory=list)
    margin_q: np.ndarray | None = None  # [3,T]
    probability: np.ndarray | None = None  # [T]
    reduction_q: np.ndarray | None = None  # [3,P,Y]
    warnings: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)


_LIB_LOCK = threading.Lock()
_LIBRARY: dict[str, Any] = {}


def _library() -> Any:
    """The default coefficient library, read and validated once per process (per block of
    cities, not per city), and again only when a table in its folder changes."""
    from sim.model.coefficients import default_coefficients_dir, load_library

    d = default_coefficients_dir()
    stamp = (str(d), tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in d.glob("*.csv"))))
    with _LIB_LOCK:
        if _LIBRARY.get("stamp") != stamp:
            _LIBRARY["lib"] = load_library(d)
            _LIBRARY["stamp"] = stamp
        return _LIBRARY["lib"]


def _sha256(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _run_city(item: BatchInput, samples: int, seed: int | None, check_only: bool) -> _Record:
    from sim.core import engine
    from sim.evaluation.evaluate import air_values, monte_carlo, target_specs, target_unit
    from sim.evaluation.evaluator import quantiles
    from sim.model.compile import compile_model
    from sim.model.feasibility import evaluate_targets, status
    from sim.model.load import load_scenario, scenario_from_dict

    rec = _Record(item.index, file=item.label)
    t0 = time.perf_counter()
    try:
        if item.data is not None:
            scen = scenario_from_dict(dict(item.data), item.base_dir)
        else:
            assert item.ref is not None
            scen = load_scenario(item.ref)
        t1 = time.perf_counter()
        lib = _library()
        model = compile_model(scen, lib)
    except InputError as exc:
        rec.problems = [_relabel(p, item) for p in exc.problems]
        return rec
    except ErsimError as exc:  # e.g. a unit pint cannot read, outside the loaders' checks
        rec.problems = [Problem(str(exc), item.label)]
        return rec
    t2 = time.perf_counter()
    rec.timing = {"load": t1 - t0, "compile": t2 - t1}
    if check_only:
        return rec
    settings = scen.settings
    rec.region, rec.scenario, rec.scenario_id = scen.region, scen.name, scen.slug
    rec.sha256 = _sha256(scen._path)
    rec.inventory_file, rec.inventory_sha256 = scen._inventory_path, scen._inventory_hash
    rec.library = tuple(sorted(lib.hashes.items()))
    rec.base_year = scen.base_year
    rec.pollutants, rec.years = list(model.pollutants), list(model.years)
    # central values: the same arithmetic as sim.run.run (without attribution)
    inp = model.inputs()
    base = engine.baseline(inp)[0].sum(axis=0)
    emis = engine.emissions(inp)[0].sum(axis=0)
    rec.baseline_total, rec.emissions_total = base, emis
    specs = target_specs(model)
    rec.targets = [{"id": t.id, "name": t.name or t.id, "pollutant": t.pollutant, "year": t.year, "kind": t.kind,
                    "value": t.value, "unit": target_unit(t.kind)} for t in scen.targets]
    prob: np.ndarray | None = None
    if specs:
        req, ach = evaluate_targets(specs, base[None], emis[None], air_values(model, model.param_matrix(n=1)))
        rec.required, rec.achieved = req[0], ach[0]
    else:
        rec.required = rec.achieved = np.zeros(0)
    t3 = time.perf_counter()
    rec.timing["central"] = t3 - t2
    if samples:
        rec.seed = region_seed(settings.seed if seed is None else seed, scen.region)
        mc = monte_carlo(model, samples, rec.seed)
        q = np.array(QUANTILES)
        rec.reduction_q = quantiles(mc["baseline_total"] - mc["emissions_total"], q)
        margin = mc["achieved"] - mc["required"]
        if margin.shape[1]:
            rec.margin_q = quantiles(margin, q)
            prob = (margin >= 0).mean(axis=0)
        else:
            rec.margin_q = np.zeros((len(QUANTILES), 0))
            prob = np.zeros(0)
        rec.probability = prob
        rec.timing["monte_carlo"] = time.perf_counter() - t3
    rec.warnings = list(model.warnings)  # after the Monte Carlo: draws that break a limit add theirs, as in a run
    s = settings
    margin_c = rec.achieved - rec.required
    rec.status = [status(float(margin_c[i]), float(rec.required[i]), None if prob is None else float(prob[i]),
                         s.at_risk_margin, s.met_probability, s.at_risk_probability) for i in range(len(margin_c))]
    return rec


def _relabel(p: Problem, item: BatchInput) -> Problem:
    if item.data is not None and (p.file is None or p.file.endswith("<dict>")):
        return Problem(p.message, item.label, p.line, p.path)
    return p


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while one city is evaluated; what the city left
    behind is collected after it (young generations only).

    Reading and compiling a 200-measure scenario allocates some 10^5 small objects (YAML nodes
    and their marks, validated fields), which set off collections that find next to nothing: a
    city's objects are freed by reference counting. Measured on this 2-core machine: a city's
    load ~35% faster, the whole city ~15%. Nothing is kept longer than one city.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect(1)
        if was:
            gc.enable()


def _run_block(items: Sequence[BatchInput], samples: int, seed: int | None, check_only: bool = False) -> tuple[list[_Record], float]:
    """Evaluate one block of cities (a task): records, and the seconds the block took here."""
    t = time.perf_counter()
    out = []
    for item in items:
        try:
            with _gc_paused():
                out.append(_run_city(item, samples, seed, check_only))
        except Exception as exc:  # a bug, not bad input: say which city
            raise RuntimeError(f"{item.label}: {type(exc).__name__}: {exc}") from exc
    return out, time.perf_counter() - t


# ---- where blocks run -------------------------------------------------------------------------

@contextmanager
def _worker_environ() -> Any:
    """WORKER_ENV in os.environ while worker processes are spawned (existing values kept)."""
    added = {k: v for k, v in WORKER_ENV.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def local_cluster(n_workers: int = 2, threads_per_worker: int = 1, processes: bool = True, **kwargs: Any) -> Any:
    """A dask ``LocalCluster`` whose worker processes get :data:`WORKER_ENV` (see the module doc)."""
    import dask
    from distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.update(WORKER_ENV)
    # dask's nannies, running in this process, write pre-spawn-environ into os.environ (and
    # keep it there); put this process's environment back once the workers have started
    # (a nanny restarting its worker sets the variables again for that start)
    before = {k: os.environ.get(k) for k in environ}
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            kwargs.setdefault("dashboard_address", None)
            return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes, **kwargs)
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _default_block(n: int, slots: int) -> int:
    """About eight blocks per worker slot (load balance), at most 8 cities a block."""
    return max(1, min(8, -(-n // (8 * max(1, slots)))))


@dataclass
class Batch:
    """A batch's dataset plus what its manifest records (files, hashes, timings, how it ran)."""

    dataset: xr.Dataset
    regions: list[dict[str, Any]]
    settings: dict[str, Any]
    timing: dict[str, float]
    warnings: list[str]
    created: str
    coefficient_tables: list[dict[str, str]] = field(default_factory=list)  # one per library the workers read

    def to_dataset(self) -> xr.Dataset:
        return self.dataset

    def summary_frame(self) -> pd.DataFrame:
        """One row per region and target: required, achieved, margin (and P(met)), status."""
        return summary_frame(self.dataset)

    def save(self, out: str | Path | None = None, label: str = "batch") -> Path:
        """Write the batch (``outputs/batch/batch-<id>/`` or *out*) and return its folder."""
        return save_batch(self, out, label)


def run_batch(paths_or_dicts: Item | Iterable[Item], samples: int = 0, seed: int | None = None, scheduler: Any = None,
              block: int | None = None, progress: Callable[[int], None] | None = None, workers: int | None = None) -> xr.Dataset:
    """Evaluate many scenarios -> one Dataset stacked along ``region``.

    *paths_or_dicts*: scenario files (``file.yaml#variant`` too), folders of them (their
    ``*.yaml``/``*.yml``, sorted), or scenario mappings (relative inventory paths resolve against
    the current folder). The Dataset has, per region (the scenario's region; a region that
    appears in several scenarios is labelled ``region (scenario id)``):

    * ``baseline_total``, ``emissions_total``, ``reduction_total`` (region, pollutant, year), t/a;
    * ``required``, ``achieved``, ``margin``, ``status`` and the target's pollutant, year, kind,
      value and unit (region, target), target ids joined across regions (NaN / '' where a
      region has no such target);
    * with *samples*: ``margin_p5``, ``margin_p50``, ``margin_p95``, ``probability``
      (region, target), ``reduction_total_q`` (region, quantile, pollutant, year) and each
      region's derived seed ``region_seed``.

    Central values are those of ``ersim run``; the samples are those of ``ersim run --samples N
    --seed <region_seed>``. See :func:`evaluate_batch` for *scheduler*, *block*, *workers*.
    """
    return evaluate_batch(paths_or_dicts, samples=samples, seed=seed, scheduler=scheduler, block=block,
                          progress=progress, workers=workers).dataset


def evaluate_batch(paths_or_dicts: Item | Iterable[Item], samples: int = 0, seed: int | None = None, scheduler: Any = None,
                   block: int | None = None, progress: Callable[[int], None] | None = None,
                   workers: int | None = None) -> Batch:
    """Evaluate scenario files, folders of them, or scenario mappings; results along ``region``.

    *scheduler*: None runs on this machine (a process pool of *workers* processes, default one
    per core; ``workers=1`` runs serially here); a dask scheduler address or a
    ``distributed.Client`` runs one task per block of cities on that cluster. *block*: cities
    per task (default: about eight blocks per worker). *progress*: called with the number of
    cities done after each block. Raises InputError with every problem of every city (by file)
    if any city is broken; nothing is returned for a partial batch.
    """
    import datetime as _dt

    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    if samples < 0:
        raise InputError(Problem(f"samples must be 0 or more, got {samples}"))
    if block is not None and block < 1:
        raise InputError(Problem(f"block must be 1 or more cities, got {block}"))
    items = expand_inputs(paths_or_dicts)
    t0 = time.perf_counter()
    if scheduler is None:
        n_workers = workers if workers is not None else (os.cpu_count() or 1)
        bsize = block or _default_block(len(items), n_workers)
        blocks = [items[i:i + bsize] for i in range(0, len(items), bsize)]
        if n_workers <= 1 or len(blocks) == 1:
            how = "serial (this process)"
            records, busy = _serial(blocks, samples, seed, progress)
            slots = 1
        else:
            slots = min(n_workers, len(blocks))
            how = f"process pool ({slots} processes)"
            records, busy = _pool(blocks, samples, seed, progress, slots)
    else:
        records, busy, how, slots, bsize = _dask(items, samples, seed, progress, scheduler, block)
    wall = time.perf_counter() - t0
    ds, regions, warnings, libraries = _stack(records, samples, seed)
    timing = {"wall": wall, "task_seconds": busy, "slots": slots}
    for key in ("load", "compile", "central", "monte_carlo"):
        timing[key] = float(sum(r.timing.get(key, 0.0) for r in records))
    settings: dict[str, Any] = {"samples": samples, "seed": seed, "seed_rule": SEED_RULE, "block": bsize,
                                "execution": how, "quantiles": list(QUANTILES)}
    if how.startswith("process pool"):
        settings["worker_env"] = {k: os.environ.get(k, v) for k, v in WORKER_ENV.items()}
    return Batch(ds, regions, settings, timing, warnings, created, libraries)


class _Runner:
    """Keep a bounded number of blocks in flight; after a broken city, only check the rest.

    Checking (load + compile, no Monte Carlo) still lists every problem of every city, without
    paying for the samples of a batch that will not be written.
    """

    def __init__(self, blocks: Sequence[Sequence[BatchInput]], samples: int, seed: int | None,
                 progress: Callable[[int], None] | None):
        self.blocks, self.samples, self.seed, self.progress = blocks, samples, seed, progress
        self.records: list[_Record] = []
        self.busy = 0.0
        self.failed = False

    def take(self, result: tuple[list[_Record], float]) -> None:
        recs, secs = result
        self.records.extend(recs)
        self.busy += secs
        self.failed = self.failed or any(r.problems for r in recs)
        if self.progress is not None:
            self.progress(len(recs))

    def args(self, i: int) -> tuple[Sequence[BatchInput], int, int | None, bool]:
        return self.blocks[i], (0 if self.failed else self.samples), self.seed, self.failed

    def drive(self, submit: Callable[[int], Any], wait_first: Callable[[set[Any]], tuple[set[Any], set[Any]]],
              inflight: int) -> None:
        pending: set[Any] = set()
        nxt = 0
        while nxt < len(self.blocks) or pending:
            while nxt < len(self.blocks) and len(pending) < inflight:
                pending.add(submit(nxt))
                nxt += 1
            done, pending = wait_first(pending)
            for fut in done:
                self.take(fut.result())


def _serial(blocks: Sequence[Sequence[BatchInput]], samples: int, seed: int | None,
            progress: Callable[[int], None] | None) -> tuple[list[_Record], float]:
    r = _Runner(blocks, samples, seed, progress)
    for i in range(len(blocks)):
        r.take(_run_block(*r.args(i)))
    return r.records, r.busy


def _pool(blocks: Sequence[Sequence[BatchInput]], samples: int, seed: int | None, progress: Callable[[int], None] | None,
          n_workers: int) -> tuple[list[_Record], float]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    r = _Runner(blocks, samples, seed, progress)
    def wait_first(p: set[Any]) -> tuple[set[Any], set[Any]]:
        done, rest = wait(p, return_when=FIRST_COMPLETED)
        return set(done), set(rest)

    # spawn: fresh interpreters that read WORKER_ENV at start (fork would inherit this
    # process's allocator settings and any threads' locks)
    # processes, started as tasks are submitted, are spawned with WORKER_ENV
    with _worker_environ():
        from sim.core.startup import hide_dask

        # workers never use dask: keep it out of their start-up
        pool = ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn"), initializer=hide_dask)
        try:
            r.drive(lambda i: pool.submit(_run_block, *r.args(i)), wait_first, 2 * n_workers)
        except BrokenProcessPool:
            pool.shutdown(wait=False, cancel_futures=True)
            raise ErsimError("the batch's worker processes stopped before finishing. A script that calls sim.batch "
                             "(or run_batch) must call it under `if __name__ == \"__main__\":`, since every worker starts "
                             "by importing the script again; or pass workers=1 to run in this process. A worker killed "
                             "for lack of memory stops the batch the same way") from None
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    return r.records, r.busy


def _dask(items: list[BatchInput], samples: int, seed: int | None, progress: Callable[[int], None] | None,
          scheduler: Any, block: int | None) -> tuple[list[_Record], float, str, int, int]:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - the 'scale' extra
        raise InputError(Problem("--scheduler needs dask.distributed: pip install 'ersim[scale]'")) from None
    import secrets

    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, set_as_default=False) if own else scheduler
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(Problem(f"cannot reach the dask scheduler {scheduler!r}: {exc}")) from None
    try:
        slots = max(1, sum(client.nthreads().values()))
        bsize = block or _default_block(len(items), slots)
        blocks = [items[i:i + bsize] for i in range(0, len(items), bsize)]
        r = _Runner(blocks, samples, seed, progress)
        tag = secrets.token_hex(4)

        def submit(i: int) -> Any:  # an explicit key: nothing to hash, never deduplicated
            return client.submit(_run_block, *r.args(i), key=f"ersim-batch-{tag}-{i:05d}", pure=False)

        ac = as_completed(loop=client.loop)  # the client's loop: no default client needed
        nxt = min(len(blocks), max(4, 2 * slots))  # a bounded number in flight (see _Runner)
        for i in range(nxt):
            ac.add(submit(i))
        for fut in ac:
            r.take(fut.result())
            if nxt < len(blocks):
                ac.add(submit(nxt))
                nxt += 1
        how = f"dask {client.scheduler.address if client.scheduler else scheduler} ({slots} threads)"
        return r.records, r.busy, how, slots, bsize
    finally:
        if own:
            client.close()


# ---- stacking ---------------------------------------------------------------------------------

def _stack(records: list[_Record], samples: int, seed: int | None) -> tuple[xr.Dataset, list[dict[str, Any]], list[str], list[dict[str, str]]]:
    """Records (any order) -> Dataset along ``region`` in input order; InputError if any failed."""
    from sim.core.pollutants import POLLUTANTS
    from sim.core.version import __version__
    from sim.evaluation.evaluate import CONVENTIONS, T_PER_YEAR

    records = sorted(records, key=lambda r: r.index)
    problems = [_shorten(p) for r in records for p in r.problems]
    if problems:
        raise InputError(problems)
    labels = _region_labels(records)
    n = len(records)
    used = {p for r in records for p in r.pollutants}
    pollutants = [p for p in POLLUTANTS if p in used] + sorted(used - set(POLLUTANTS))
    years = sorted({y for r in records for y in r.years})
    targets: list[str] = list(dict.fromkeys(t["id"] for r in records for t in r.targets))
    pi, yi, ti = ({v: i for i, v in enumerate(x)} for x in (pollutants, years, targets))
    P, Y, T = len(pollutants), len(years), len(targets)
    base = np.full((n, P, Y), np.nan)
    emis = np.full((n, P, Y), np.nan)
    red_q = np.full((n, len(QUANTILES), P, Y), np.nan)
    num = {k: np.full((n, T), np.nan) for k in ("required", "achieved", "margin", "margin_p5", "margin_p50",
                                                "margin_p95", "probability", "target_year")}
    text = {k: np.full((n, T), "", dtype=object) for k in ("status", "target_name", "target_pollutant", "target_kind",
                                                           "target_value", "target_unit")}
    for r_i, r in enumerate(records):
        assert r.baseline_total is not None and r.emissions_total is not None
        rows = np.array([pi[p] for p in r.pollutants], dtype=np.int64)
        cols = np.array([yi[y] for y in r.years], dtype=np.int64)
        grid = np.ix_(rows, cols)
        base[r_i][grid] = r.baseline_total
        emis[r_i][grid] = r.emissions_total
        if r.reduction_q is not None:
            for q in range(len(QUANTILES)):
                red_q[r_i, q][grid] = r.reduction_q[q]
        for j, t in enumerate(r.targets):
            c = ti[t["id"]]
            assert r.required is not None and r.achieved is not None
            num["required"][r_i, c] = r.required[j]
            num["achieved"][r_i, c] = r.achieved[j]
            num["margin"][r_i, c] = r.achieved[j] - r.required[j]
            num["target_year"][r_i, c] = t["year"]
            if r.margin_q is not None and r.probability is not None:
                for q, name in enumerate(("margin_p5", "margin_p50", "margin_p95")):
                    num[name][r_i, c] = r.margin_q[q, j]
                num["probability"][r_i, c] = r.probability[j]
            text["status"][r_i, c] = r.status[j]
            for key in ("name", "pollutant", "kind", "value", "unit"):
                text[f"target_{key}"][r_i, c] = str(t[key])
    t_a = {"units": T_PER_YEAR}
    rt = ("region", "target")
    data: dict[str, Any] = {
        "baseline_total": (("region", "pollutant", "year"), base, {**t_a, "long_name": "baseline emissions with growth, no measures"}),
        "emissions_total": (("region", "pollutant", "year"), emis, {**t_a, "long_name": "emissions with measures"}),
        "reduction_total": (("region", "pollutant", "year"), base - emis, {**t_a, "long_name": "reduction against the same year's baseline"}),
        "required": (rt, num["required"], {"long_name": "required reduction", "comment": "in each target's own unit, given by target_unit (t for emission targets, ug m-3 for concentration targets)"}),
        "achieved": (rt, num["achieved"], {"long_name": "achieved reduction", "comment": "in each target's own unit, given by target_unit (t for emission targets, ug m-3 for concentration targets)"}),
        "margin": (rt, num["margin"], {"long_name": "margin: achieved - required (>= 0 met)", "comment": "in each target's own unit, given by target_unit (t for emission targets, ug m-3 for concentration targets)"}),
        "status": (rt, text["status"].astype(str), {"long_name": "met / at risk / not met ('' where the region has no such target)"}),
    }
    for key in ("name", "pollutant", "kind", "value", "unit"):
        data[f"target_{key}"] = (rt, text[f"target_{key}"].astype(str), {"long_name": f"target {key} ('' where the region has no such target)"})
    data["target_year"] = (rt, num["target_year"], {"long_name": "target year (NaN where the region has no such target)"})
    coords: dict[str, Any] = {
        "region": ("region", labels, {"long_name": "region (with its scenario id where regions repeat)"}),
        "region_name": ("region", [r.region for r in records], {"long_name": "region name"}),
        "pollutant": ("pollutant", pollutants, {"long_name": "pollutant id"}),
        "year": ("year", years, {"long_name": "calendar year"}),
        "target": ("target", targets, {"long_name": "target id"}),
        "scenario": ("region", [r.scenario for r in records], {"long_name": "scenario name"}),
        "scenario_id": ("region", [r.scenario_id for r in records], {"long_name": "scenario id"}),
        "scenario_file": ("region", [r.file for r in records], {"long_name": "scenario file"}),
        "base_year": ("region", np.array([r.base_year for r in records], dtype=np.int64), {"long_name": "base year of the region's scenario"}),
    }
    attrs: dict[str, Any] = {"Conventions": CONVENTIONS, "samples": samples, "ersim_version": __version__,
                             "units_note": "emissions and reductions in tonnes per year (t yr-1); NaN where a region lacks a pollutant, year or target"}
    if samples:
        for name in ("margin_p5", "margin_p50", "margin_p95"):
            data[name] = (rt, num[name], {"long_name": f"{name.removeprefix('margin_')} percentile of the margin", "comment": "in each target's own unit, given by target_unit"})
        data["probability"] = (rt, num["probability"], {"units": "1", "long_name": "P(margin >= 0)"})
        data["reduction_total_q"] = (("region", "quantile", "pollutant", "year"), red_q, {**t_a, "long_name": "quantiles of the total reduction"})
        coords["quantile"] = ("quantile", list(QUANTILES), {"units": "1", "long_name": "probability of the quantile"})
        coords["region_seed"] = ("region", np.array([r.seed for r in records], dtype=np.int64), {"long_name": "seed of the region's draws"})
        attrs["seed"] = seed if seed is not None else "each scenario's settings.seed"
        attrs["seed_rule"] = SEED_RULE
        attrs["sampling"] = "Latin hypercube per city, as ersim run --samples with the seed region_seed"
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    regions = [{"region": label, "region_name": r.region, "scenario": r.scenario, "scenario_id": r.scenario_id, "file": r.file,
                "scenario_sha256": r.sha256, "inventory_file": r.inventory_file, "inventory_sha256": r.inventory_sha256,
                "base_year": r.base_year, **({"seed": r.seed} if samples else {}), "warnings": r.warnings} for label, r in zip(labels, records, strict=True)]
    warnings = list(dict.fromkeys(f"{r.region}: {w}" for r in records for w in r.warnings))
    libs = list(dict.fromkeys(r.library for r in records))
    if len(libs) > 1:
        warnings.append(f"the workers read {len(libs)} different coefficient libraries (see the manifest's coefficient_tables)")
    return ds, regions, warnings, [dict(lib) for lib in libs]


def _region_labels(records: list[_Record]) -> list[str]:
    """The ``region`` coordinate: the scenario's region, with its scenario id where regions repeat.

    Scenarios of one region (variants of a city's plan) share the region's seed, so they are
    compared on common random numbers.
    """
    count: dict[str, int] = {}
    for r in records:
        count[r.region] = count.get(r.region, 0) + 1
    labels = [r.region if count[r.region] == 1 else f"{r.region} ({r.scenario_id})" for r in records]
    seen: dict[str, int] = {}
    for i, lab in enumerate(labels):
        seen[lab] = seen.get(lab, 0) + 1
        if seen[lab] > 1:
            labels[i] = f"{lab} [{records[i].file}]"
    return labels


def _shorten(p: Problem) -> Problem:
    """Problem paths relative to the current folder where they lie under it."""
    if p.file and os.path.isabs(p.file):
        try:
            rel = os.path.relpath(p.file)
        except ValueError:
            return p
        if not rel.startswith(".."):
            return Problem(p.message, rel, p.line, p.path)
    return p


# ---- on disk ----------------------------------------------------------------------------------

def summary_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One row per region and target (a region without targets: one row without a target)."""
    cols = ["required", "achieved", "margin"] + [c for c in ("margin_p5", "margin_p50", "margin_p95", "probability") if c in ds]
    rows: list[dict[str, Any]] = []
    for i, reg in enumerate(ds["region"].values):
        base: dict[str, Any] = {"region": str(reg), "scenario": str(ds["scenario"].values[i]), "scenario_id": str(ds["scenario_id"].values[i])}
        have = [j for j in range(ds.sizes["target"]) if ds["status"].values[i, j] != ""]
        if not have:
            rows.append(base)
        for j in have:
            row = dict(base, target=str(ds["target"].values[j]), name=str(ds["target_name"].values[i, j]),
                       pollutant=str(ds["target_pollutant"].values[i, j]), year=int(ds["target_year"].values[i, j]),
                       kind=str(ds["target_kind"].values[i, j]), value=str(ds["target_value"].values[i, j]),
                       unit=str(ds["target_unit"].values[i, j]))
            for c in cols:
                row[c] = float(ds[c].values[i, j])
            row["status"] = str(ds["status"].values[i, j])
            rows.append(row)
    df = pd.DataFrame(rows)
    if "year" in df:
        df["year"] = df["year"].astype("Int64")  # blank for a region without targets
    return df


def batch_label(items: Any) -> str:
    """Folder name stem: the folder's name when one folder is given, else 'batch'."""
    if isinstance(items, (str, Path)) or (isinstance(items, (list, tuple)) and len(items) == 1 and isinstance(items[0], (str, Path))):
        one = Path(str(items if isinstance(items, (str, Path)) else items[0]))
        if one.is_dir():
            name = re.sub(r"[^0-9A-Za-z_-]+", "-", one.resolve().name).strip("-")
            return name or "batch"
    return "batch"


def save_batch(batch: Batch, out: str | Path | None = None, label: str = "batch") -> Path:
    """Write results.nc, summary.csv and the manifest through the one output writer.

    Without *out*: ``outputs/batch/batch-<time>-<hex>/``. With *out*: that folder, which must
    not exist, be empty, or hold an earlier ersim output (replaced only once the new one is complete).
    """
    from sim.store.folders import OutputFolder, write_output
    from sim.store.netcdf import write_netcdf
    from sim.store.tables import write_csv

    ds = batch.dataset
    manifest = {
        "label": label,
        "scenario_id": "batch",
        "scenario": f"batch of {ds.sizes['region']} regions",
        "created": batch.created,
        "settings": batch.settings,
        "regions": batch.regions,
        "coefficient_tables": batch.coefficient_tables[0] if len(batch.coefficient_tables) == 1 else batch.coefficient_tables,
        "timing_seconds": {k: round(v, 3) if isinstance(v, float) else v for k, v in batch.timing.items()},
        "warnings": batch.warnings,
    }

    def write(folder: OutputFolder) -> None:
        write_netcdf(ds, folder / "results.nc")
        write_csv(summary_frame(ds), folder / "summary.csv")

    return write_output("batch", "batch", write, manifest, out)
