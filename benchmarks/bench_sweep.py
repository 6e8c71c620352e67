"""Sweep benchmark on the Ankang example: 1,000 deterministic points, and 1,000 points x 1,000
samples with common random numbers. Each figure is printed with its ratio against a naive
reference measured in the same run: one engine call per grid point (and per sample).

Run: python benchmarks/bench_sweep.py [--points 1000] [--samples 1000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sim.analyses.sweep import parse_set, sweep
from sim.core import engine
from sim.evaluation.evaluate import air_values, target_specs
from sim.model.coefficients import load_library
from sim.model.compile import compile_model
from sim.model.feasibility import evaluate_targets
from sim.model.load import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def naive(model, axis, draws: np.ndarray) -> float:
    """One engine call per row: the loop a script would write."""
    col = model.param_names.index(axis.param)
    specs = target_specs(model)
    t = time.perf_counter()
    for v in axis.values:
        for row in draws:
            x = row[None].copy()
            x[0, col] = v * axis.scale
            inp = model.inputs_from_matrix(x)
            b = engine.baseline(inp).sum(axis=1)
            e = engine.emissions(inp).sum(axis=1)
            evaluate_targets(specs, b, e, air_values(model, x))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args()
    model = compile_model(load_scenario(ROOT / "scenarios" / "ankang-2025.yaml"), load_library())
    axis = parse_set(model, f"measures.coal-to-gas.quantity=0:200:{args.points}")
    central = model.param_matrix(n=1)

    sweep(model, [parse_set(model, "measures.coal-to-gas.quantity=0:200:10")], samples=10)  # warm-up: caches, first calls
    t = time.perf_counter()
    sweep(model, [axis])
    det = time.perf_counter() - t
    sub = max(1, args.points // 20)
    ref = naive(model, type(axis)(axis.path, axis.values[:sub], axis.unit, axis.param, axis.scale), central) * args.points / sub
    print(f"{args.points:,}-point deterministic sweep: {det * 1e3:.0f} ms; naive loop (scaled from {sub} points) "
          f"{ref * 1e3:.0f} ms -> {ref / det:.0f}x")

    t = time.perf_counter()
    sweep(model, [axis], samples=args.samples, seed=1)
    crn = time.perf_counter() - t
    pts, smp = max(1, args.points // 100), max(1, args.samples // 100)
    draws = np.repeat(central, smp, axis=0)
    ref2 = naive(model, type(axis)(axis.path, axis.values[:pts], axis.unit, axis.param, axis.scale), draws) * (args.points * args.samples) / (pts * smp)
    print(f"{args.points:,} points x {args.samples:,} samples (common random numbers): {crn:.2f} s; naive loop "
          f"(scaled from {pts} x {smp}) {ref2:.0f} s -> {ref2 / crn:.0f}x")


if __name__ == "__main__":
    main()
