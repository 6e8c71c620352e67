"""Least-cost benchmark: candidates x 8 pollutant targets, LP and whole projects, and 337 cities.

Every figure is printed with a ratio against a naive reference measured in the same run:

* LP: the same problem given to scipy's linprog as dense numpy matrices (the naive formulation);
* whole projects: the MILP at a 1e-2 relative gap against the same MILP solved to a 0 gap;
* 337 cities: one block-diagonal labelled model against 337 separate solves.

Run: python benchmarks/bench_solve.py [--candidates 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from sim.analyses.solve import LinearProblem, solve_lp


def random_problem(n: int, targets: int = 8, pools: int | None = None, seed: int = 0, integer: bool = False) -> LinearProblem:
    """n candidates on n/2 pools (two alternatives each), 8 targets at 40 % of the potential."""
    rng = np.random.default_rng(seed)
    pools = pools or max(1, n // 2)
    red = rng.uniform(0, 10, (targets, n)) * (rng.random((targets, n)) < 0.5)  # t/a per unit
    cost = rng.uniform(1e3, 1e5, n)
    upper = rng.uniform(1, 5, n)
    if integer:
        upper = np.ceil(upper)
    b = 0.4 * (red * upper).sum(axis=1)
    pool_of = rng.integers(0, pools, n)
    share = sp.csr_matrix((1.0 / (upper * 2), (pool_of, np.arange(n))), shape=(pools, n))
    return LinearProblem(cost, sp.csr_matrix(red), b, share, np.ones(pools), upper, np.full(n, integer))


def dense_reference(prob: LinearProblem) -> float:
    a_ub = np.vstack([-prob.a_ge.toarray(), prob.a_le.toarray()])
    b_ub = np.concatenate([-prob.b_ge, prob.b_le])
    t = time.perf_counter()
    res = linprog(prob.c, A_ub=a_ub, b_ub=b_ub, bounds=np.column_stack([np.zeros(len(prob.c)), prob.upper]), method="highs")
    assert res.status == 0
    return time.perf_counter() - t


def block_diagonal(problems: list[LinearProblem]) -> LinearProblem:
    return LinearProblem(
        np.concatenate([p.c for p in problems]), sp.block_diag([p.a_ge for p in problems], format="csr"),
        np.concatenate([p.b_ge for p in problems]), sp.block_diag([p.a_le for p in problems], format="csr"),
        np.concatenate([p.b_le for p in problems]), np.concatenate([p.upper for p in problems]),
        np.concatenate([p.integer for p in problems]),
        ge_names=[f"{c}:{t}" for c in range(len(problems)) for t in range(len(problems[0].b_ge))],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument("--cities", type=int, default=337)
    args = ap.parse_args()

    for n in (args.candidates, args.large):
        prob = random_problem(n)
        t = time.perf_counter()
        sol = solve_lp(prob)
        e2e = time.perf_counter() - t
        ref = dense_reference(prob) if n <= args.candidates else float("nan")
        ratio = f"dense linprog {ref:.2f} s -> {ref / e2e:.1f}x" if ref == ref else "dense reference skipped (memory)"
        print(f"LP {n:>7,} candidates x 8 targets: solver {sol.seconds * 1e3:.0f} ms, end to end {e2e * 1e3:.0f} ms; {ratio}")

    prob = random_problem(args.candidates, integer=True)
    sol = solve_lp(prob, gap=1e-2, time_limit=30)
    exact = solve_lp(prob, gap=0.0, time_limit=30)
    print(f"MILP {args.candidates:,} whole-project candidates: {sol.seconds:.2f} s at gap 1e-2 (cost {sol.cost:,.0f}); "
          f"gap 0: {exact.seconds:.2f} s (cost {exact.cost:,.0f}) -> {exact.seconds / sol.seconds:.1f}x")

    cities = [random_problem(60, seed=c) for c in range(args.cities)]
    t = time.perf_counter()
    one = solve_lp(block_diagonal(cities))
    t_one = time.perf_counter() - t
    t = time.perf_counter()
    sep = sum(solve_lp(p).cost for p in cities)
    t_sep = time.perf_counter() - t
    assert abs(sep - one.cost) <= 1e-6 * abs(sep)
    print(f"{args.cities} city problems (60 candidates x 8 targets each) in one labelled model: {t_one * 1e3:.0f} ms; "
          f"{args.cities} separate solves {t_sep * 1e3:.0f} ms -> {t_sep / t_one:.1f}x")


if __name__ == "__main__":
    main()
