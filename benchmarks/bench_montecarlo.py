"""Monte Carlo benchmark: 10,000 samples x 200 measures x 8 pollutants x 10 years.

Every figure is a ratio measured in this same run:

* against a naive reference: a pandas loop over samples and measures that applies each
  measure to its pool's emissions table (timed on a few samples, per-sample cost scaled);
* against this machine's memory-bandwidth roofline: a numpy read stream is timed here, and
  the kernel's bytes (its input arrays read once and its totals written once) are divided by it.

Run: python benchmarks/bench_montecarlo.py [--samples 10000] [--measures 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import synthetic_scenario

from sim.core import engine
from sim.core import kernel as kernel_mod
from sim.core.uncertainty import draw_matrix
from sim.evaluation.evaluate import monte_carlo
from sim.model.coefficients import Library
from sim.model.compile import compile_model
from sim.model.load import scenario_from_dict


def read_bandwidth(nbytes: int = 512 * 2**20, repeat: int = 5) -> float:
    """Bytes per second of a numpy read stream (sum of a large array), best of *repeat*."""
    x = np.ones(nbytes // 8)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        x.sum()
        best = min(best, time.perf_counter() - t)
    return nbytes / best


def naive_per_sample(model, inp_one, n: int = 3) -> float:
    """Seconds per sample of a pandas loop over samples and measures (the naive reference)."""
    t0 = time.perf_counter()
    for s in range(n):
        a = engine.grown_activity(inp_one)[0]
        table = pd.DataFrame(
            {(p, y): a[:, j] * inp_one.ef[0, :, i] for i, p in enumerate(model.pollutants) for j, y in enumerate(model.years)},
            index=model.pools,
        )
        base = table.copy()
        for m in range(len(model.measures)):  # one measure at a time, one pandas op each
            k = model.pools[inp_one.src[m]]
            f = inp_one.implemented[0, m]
            kind = inp_one.kind[m]
            for i, p in enumerate(model.pollutants):
                for j, y in enumerate(model.years):
                    cur = table.at[k, (p, y)]
                    if kind in (engine.CONTROL, engine.STANDARD):
                        share = inp_one.share[0, m] if not np.isnan(inp_one.share[0, m]) else inp_one.qty[0, m] / a[inp_one.src[m], j]
                        table.at[k, (p, y)] = cur * (1 - min(1, share) * f[j] * inp_one.cut[0, m, i])
                    elif kind == engine.TREAT:
                        table.at[k, (p, y)] = max(0.0, cur - inp_one.removal[0, m, i] * f[j])
                    else:
                        frac = inp_one.qty[0, m] * f[j] / a[inp_one.src[m], j]
                        table.at[k, (p, y)] = cur * (1 - frac)
        _ = (base.sum() - table.sum()).to_numpy()
        del s
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--measures", type=int, default=200)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    model = compile_model(scenario_from_dict(synthetic_scenario(args.measures, args.years)), Library())
    n = args.samples
    print(f"model: {len(model.pools)} pools, {len(model.measures)} measures, {len(model.pollutants)} pollutants, "
          f"{len(model.years)} years, {sum(p.uncertain for p in model.params.values())} uncertain inputs; {n} samples; "
          f"{os.cpu_count()} cores")

    # end to end in process: draw, evaluate, summarise (targets), best of repeat
    e2e = min(_timed(lambda: monte_carlo(model, n, seed=1)) for _ in range(args.repeat))

    # the kernel alone on prepared inputs of the same size
    names = model.param_names
    unc = [i for i, k in enumerate(names) if model.params[k].uncertain]
    spec = [(names[i], model.params[names[i]].distribution, model.params[names[i]].value,
             model.params[names[i]].low, model.params[names[i]].high) for i in unc]
    chunk = 1000
    inputs = []
    for c in range(0, n, chunk):
        x = np.repeat(model.param_matrix(n=1), min(chunk, n - c), axis=0)
        x[:, unc] = draw_matrix(spec, x.shape[0], c)
        inputs.append(model.inputs_from_matrix(x))
    plan = kernel_mod.make_plan(model.kind, model.src, model.tgt, len(model.pools), group=model.group,
                                   removes=model.removed_pollutants())
    # a fresh EngineInputs per call: nothing memoised on the inputs carries over between repetitions
    kernel = min(_timed(lambda: [kernel_mod.totals(dataclasses.replace(i), plan) for i in inputs]) for _ in range(args.repeat))
    kernel_bytes = sum(sum(getattr(i, f).nbytes for f in ("activity0", "growth", "ef", "qty", "share", "conv", "cut", "removal", "implemented")) for i in inputs)
    kernel_bytes += 2 * n * len(model.pollutants) * len(model.years) * 8
    bw = read_bandwidth()
    roofline = kernel_bytes / bw

    naive = naive_per_sample(model, model.inputs()) * n
    print(f"end to end (draw + evaluate + summarise): {e2e * 1e3:.0f} ms")
    print(f"naive pandas loop, scaled from 3 samples: {naive:.0f} s  -> speed-up {naive / e2e:,.0f}x")
    print(f"kernel alone: {kernel * 1e3:.0f} ms; bytes read+written {kernel_bytes / 2**20:.0f} MiB at {bw / 1e9:.1f} GB/s "
          f"read stream = roofline {roofline * 1e3:.0f} ms -> kernel at {kernel / roofline:.1f}x the roofline")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
