"""Batch benchmark: 337 generated city scenarios x 1,000 samples x 200 measures.

Every figure is measured in this same run:

* ``run_batch`` on this machine (a process pool over blocks of cities): the figure under test;
* against a plain serial loop (``run_uncertain`` city by city in one process, what a script
  without ersim batch would do), timed on ``--ref-cities`` cities and scaled to the batch;
* against a dask LocalCluster with 2 worker processes, the whole batch, run two ways: workers
  started by ``sim.batch.local_cluster`` (allocator settings of sim/batch.py) and a plain
  ``LocalCluster`` with dask's defaults (MALLOC_TRIM_THRESHOLD_=64 KiB), the latter on
  ``--ref-cities`` cities and scaled.

Where the time goes is summed from the workers' own clocks (validate, compile, central
values, Monte Carlo) and set against wall time x workers (start-up, transfer, idle).

Run: python benchmarks/bench_batch.py [--cities 337] [--samples 1000] [--measures 200] [--ref-cities 24]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import synthetic_scenario


def province(n: int, measures: int, years: int) -> list[dict[str, Any]]:
    """*n* synthetic cities, each its own seed and region, all of one structure.

    Every city has the same pools, measures (types, order, pools acted on), pollutants, years,
    targets, coefficient keys and units; the seed draws only the numbers (activities, factors,
    shares, efficiencies, removals, coefficient values). See :func:`structure_key`.

    synthetic_scenario gives each treatment measure a removal of 1-5 t/a on a pool whose COD
    may be smaller (about 30% of seeds then fail validation: removing more than a pool emits);
    here each treatment removes 20% of its pool's central COD instead.
    """
    out = []
    for i in range(n):
        d = synthetic_scenario(measures, years, seed=i, region=f"合成{i:03d}市")
        d["id"] = f"city-{i:03d}"
        coeff = {k: v["value"] for k, v in d["coefficients"].items()}
        cod = {}
        for pool in d["inventory"]:
            key, factor = pool["ef"]["COD"]
            cod[pool["id"]] = float(pool["activity"].split()[0]) * coeff[key] * float(factor) / 1000  # kg/t -> t
        for m in d["measures"]:
            if m["type"] == "treat":
                m["removal"] = {"COD": f"{0.2 * cod[m['pool']]:.6g} t/(座*a)"}
        out.append(d)
    return out


_NUMBER = re.compile(r"^[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?(?=\s|$)")
_LABELS = {"name", "source", "note"}  # labels, not structure (and the scenario's own id and region)


def structure_key(d: Any) -> str:
    """A scenario mapping with its numbers blanked ('12.5 t/a' -> '# t/a') and labels dropped:
    two cities with the same key differ only in numbers."""
    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in _LABELS}
        if isinstance(v, list):
            return [strip(x) for x in v]
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, (int, float)):
            return "#"
        return _NUMBER.sub("#", str(v))
    return json.dumps(strip({k: v for k, v in d.items() if k not in ("id", "region")}), sort_keys=True, ensure_ascii=False)


def serial_loop(cities: list[dict[str, Any]], samples: int, seed: int) -> float:
    """Seconds of the plain loop: validate, then run_uncertain, city by city."""
    from sim.analyses.batch import region_seed
    from sim.evaluation.evaluate import run_uncertain
    from sim.model.coefficients import load_library
    from sim.model.load import scenario_from_dict

    t = time.perf_counter()
    lib = load_library()
    for d in cities:
        scen = scenario_from_dict(d)
        run_uncertain(scen, lib, samples=samples, seed=region_seed(seed, scen.region), keep="quantiles")
    return time.perf_counter() - t


def main() -> None:
    import xarray as xr

    from sim.analyses.batch import evaluate_batch, local_cluster

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cities", type=int, default=337)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--measures", type=int, default=200)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--ref-cities", type=int, default=24, help="cities timed for the scaled references")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()

    cities = province(args.cities, args.measures, args.years)
    ref = cities[: max(1, min(args.ref_cities, len(cities)))]
    scale = len(cities) / len(ref)
    n, s = len(cities), args.samples
    print(f"{n} cities x {s} samples x {args.measures} measures x {args.years} years; {os.cpu_count()} cores; "
          f"a city's scenario pickles to {len(pickle.dumps(cities[0])) / 1024:.0f} KiB; "
          f"load average {os.getloadavg()[0]:.1f} (other processes on this machine slow every figure alike)")
    print(f"structures: {len({structure_key(d) for d in cities})} distinct among the {n} cities "
          "(same pools, measures, units and targets; the numbers differ city by city)")

    # the figure under test: the process pool
    b = evaluate_batch(cities, samples=s, seed=args.seed)
    wall = b.timing["wall"]
    print(f"\nersim batch ({b.settings['execution']}, {b.settings['block']} cities per task): {wall:.1f} s "
          f"(goal 6 s: {wall / 6:.1f}x the goal)")
    _where(b.timing, n)

    # plain serial loop, scaled
    loop = serial_loop(ref, s, args.seed) * scale
    print(f"\nplain serial loop (run_uncertain per city, one process), {len(ref)} cities scaled to {n}: {loop:.1f} s "
          f"-> ersim batch is {loop / wall:.2f}x faster")
    one = evaluate_batch(ref, samples=s, seed=args.seed, workers=1)
    xr.testing.assert_identical(one.dataset, b.dataset.isel(region=slice(0, len(ref))))  # whichever way they ran
    print(f"ersim batch serially in this process, {len(ref)} cities scaled to {n}: {one.timing['wall'] * scale:.1f} s "
          f"-> the pool is {one.timing['wall'] * scale / wall:.2f}x faster (parallel efficiency "
          f"{one.timing['wall'] * scale / wall / b.timing['slots']:.0%})")

    if args.no_dask:
        return
    from distributed import Client, LocalCluster

    t = time.perf_counter()
    with local_cluster(2) as lc, Client(lc) as client:
        start = time.perf_counter() - t
        d = evaluate_batch(cities, samples=s, seed=args.seed, scheduler=client)
    xr.testing.assert_identical(d.dataset, b.dataset)
    print(f"\ndask LocalCluster, 2 workers (local_cluster: allocator settings), {d.settings['block']} cities per task: "
          f"{d.timing['wall']:.1f} s (+{start:.1f} s cluster start) -> ersim batch's pool is {d.timing['wall'] / wall:.2f}x faster; "
          "results identical")
    _where(d.timing, n)
    t = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as lc, Client(lc) as client:
        start = time.perf_counter() - t
        env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        e = evaluate_batch(ref, samples=s, seed=args.seed, scheduler=client)
    print(f"dask LocalCluster, 2 workers, dask's defaults (MALLOC_TRIM_THRESHOLD_={next(iter(env.values()))}), "
          f"{len(ref)} cities scaled to {n}: {e.timing['wall'] * scale:.1f} s (+{start:.1f} s cluster start) "
          f"-> ersim batch's pool is {e.timing['wall'] * scale / wall:.2f}x faster")
    _where(e.timing, len(ref))


def _where(t: dict[str, float], n: int) -> None:
    slots = t["slots"]
    parts = [("validate", t["load"]), ("compile", t["compile"]), ("central values", t["central"]), ("Monte Carlo", t["monte_carlo"])]
    work = sum(v for _, v in parts)
    text = ", ".join(f"{k} {v:.1f} s ({v / n * 1e3:.0f} ms/city, {v / work:.0%})" for k, v in parts)
    other = t["wall"] * slots - work
    print(f"  worker time {work:.1f} s: {text};\n  wall x {slots} workers = {t['wall'] * slots:.1f} s, of which "
          f"{other:.1f} s ({other / (t['wall'] * slots):.0%}) start-up, library load, transfer and idle")


if __name__ == "__main__":
    main()
