"""Issue 16's table, measured in one run: each figure next to a reference timed in the same run.

References (timed here, interleaved with the figures, medians of --reps):

* the import floor: ``python -c "import numpy, xarray"`` (wall and peak RSS);
* a numpy read stream of the 1.6e8 float64 values a dense Monte Carlo kernel would touch
  (10^4 samples x 200 measures x 8 pollutants x 10 years);
* the kernel's roofline: the bytes of its inputs and outputs over a numpy read bandwidth.

Run: python benchmarks/bench_table.py [--reps 3] [--cities 337] [--skip batch,sweep,huge]
The machine is shared and noisy: read the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from synthetic import synthetic_scenario  # noqa: E402

PY = sys.executable
ERSIM = [PY, "-m", "sim.cli"]
FLOOR = [PY, "-c", "import numpy, xarray"]


def child(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(argv)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def against_floor(make_argv: Callable[[int], list[str]], reps: int, cwd: Path) -> tuple[float, float, float, float]:
    """Medians (wall, RSS) of a command and of the import floor, runs interleaved."""
    runs, floors = [], []
    for i in range(reps):
        floors.append(child(FLOOR, cwd))
        runs.append(child(make_argv(i), cwd))
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            statistics.median(f[0] for f in floors), statistics.median(f[1] for f in floors))


def timed(fn: Callable[[], Any], reps: int) -> float:
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def write_yaml(data: dict[str, Any], path: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def row(what: str, now: str, ref: str, ratio: float, goal: float, extra: str = "") -> None:
    ok = "met" if ratio <= goal else "not met"
    print(f"| {what} | {now} | {ref} | {ratio:.1f}x{extra} | <= {goal:g}x: {ok} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cities", type=int, default=337)
    ap.add_argument("--skip", default="", help="comma-separated: cli, mc, kernel, batch, sweep, huge")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    tmp = Path(tempfile.mkdtemp(prefix="ersim-bench-"))
    print(f"{os.cpu_count()} cores; medians of {args.reps}; ratios against references timed in this run\n")
    print("| what | now | reference in the same run | ratio | goal |")
    print("|---|---|---|---|---|")

    if "cli" not in skip:
        scen200 = write_yaml(synthetic_scenario(200, 10), tmp / "synthetic-200.yaml")
        w, r, fw, fr = against_floor(lambda i: [*ERSIM, "run", str(scen200), "--samples", "10000", "--keep", "quantiles",
                                                "--no-figures", "--quiet", "--out", str(tmp / f"mc{i}")], args.reps, tmp)
        row("`ersim run <200 measures> --samples 10000 --keep quantiles --no-figures`", f"{w:.2f} s, {r:.0f} MiB",
            f"import floor {fw:.2f} s, {fr:.0f} MiB", w / fw, 2, f", RSS {r / fr:.1f}x")
        ankang = ROOT / "scenarios" / "ankang-2025.yaml"
        w, r, fw, fr = against_floor(lambda i: [*ERSIM, "run", str(ankang), "--quiet", "--out", str(tmp / f"ak{i}")], args.reps, tmp)
        row("`ersim run scenarios/ankang-2025.yaml` (figures)", f"{w:.2f} s, {r:.0f} MiB", f"import floor {fw:.2f} s", w / fw, 2)
        w, r, fw, fr = against_floor(lambda i: [*ERSIM, "run", str(ankang), "--no-figures", "--quiet", "--out", str(tmp / f"akn{i}")],
                                     args.reps, tmp)
        row("`ersim run scenarios/ankang-2025.yaml --no-figures` (start-up, evaluation, writing)", f"{w:.2f} s, {r:.0f} MiB",
            f"import floor {fw:.2f} s", w / fw, 2)

    if "batch" not in skip:
        from bench_batch import province

        folder = tmp / "province"
        folder.mkdir()
        for d in province(args.cities, 200, 10):
            write_yaml(d, folder / f"{d['id']}.yaml")
        w, r, fw, fr = against_floor(lambda i: [*ERSIM, "batch", str(folder), "--samples", "1000", "--quiet",
                                                "--out", str(tmp / f"batch{i}")], max(1, args.reps // 3), tmp)
        row(f"`ersim batch`: {args.cities} cities x 1,000 samples x 200 measures", f"{w:.1f} s, {r:.0f} MiB",
            f"import floor {fw:.2f} s", w / fw, 8)

    if "huge" not in skip:
        code = (f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
                "from synthetic import synthetic_scenario\n"
                "from sim.model.load import scenario_from_dict\n"
                "from sim.model.coefficients import Library\n"
                "from sim.evaluation.evaluate import run_uncertain\n"
                "run_uncertain(scenario_from_dict(synthetic_scenario(10000, 10)), Library(), samples=200, keep='quantiles')\n")
        w, r = child([PY, "-c", code], tmp)
        print(f"| 10,000 measures: run + 200 samples | {w:.1f} s, {r:.0f} MiB peak RSS | - | - | < 2048 MiB: "
              f"{'met' if r < 2048 else 'not met'} |")

    # in-process rows last: a child's peak RSS counts its parent's memory at fork time
    if not {"mc", "kernel"} <= skip:
        from sim.core import kernel
        from sim.evaluation.evaluate import monte_carlo
        from sim.evaluation.evaluator import Sampler
        from sim.model.coefficients import Library
        from sim.model.compile import compile_model
        from sim.model.load import scenario_from_dict

        model = compile_model(scenario_from_dict(synthetic_scenario(200, 10)), Library())
        n = 10_000
        cells = n * len(model.measures) * len(model.pollutants) * len(model.years)
        if "mc" not in skip:
            monte_carlo(model, 500, 1)  # warm-up
            mc = timed(lambda: monte_carlo(model, n, seed=1), args.reps)
            dense = np.ones(cells)
            stream = timed(dense.sum, args.reps)
            del dense
            row(f"in process, {n:,} samples x {len(model.measures)} measures x {len(model.pollutants)} pollutants x "
                f"{len(model.years)} years", f"{mc:.2f} s", f"numpy read of {cells:.2g} float64: {stream * 1e3:.0f} ms",
                mc / stream, 2)
        if "kernel" not in skip:
            s = Sampler(model, n, 1)
            inputs = [model.inputs_from_matrix(s.rows(b)) for b in range(len(s.seeds))]
            plan = kernel.make_plan(model.kind, model.src, model.tgt, len(model.pools), group=model.group,
                                    removes=model.removed_pollutants())
            from sim.core import allocator

            allocator.tune()  # as the evaluation loop runs (set once per process; the mc row may not run)
            # a fresh EngineInputs per call (dataclasses.replace): nothing memoised on the inputs
            # (grown activity, treated load) carries over from one repetition to the next
            kt = timed(lambda: [kernel.totals(dataclasses.replace(i), plan) for i in inputs], args.reps)
            nbytes = sum(sum(getattr(i, f).nbytes for f in ("activity0", "growth", "ef", "qty", "share", "conv", "cut",
                                                            "removal", "implemented")) for i in inputs)
            nbytes += 2 * n * len(model.pollutants) * len(model.years) * 8
            x = np.ones(64 * 2**20 // 8 * 8)
            bw = x.nbytes / timed(x.sum, 5)
            roof = nbytes / bw
            row("kernel alone (one thread, prepared inputs)", f"{kt * 1e3:.0f} ms",
                f"roofline {roof * 1e3:.0f} ms ({nbytes / 2**20:.0f} MiB at {bw / 1e9:.1f} GB/s)", kt / roof, 3)

    if "sweep" not in skip:
        from sim.analyses.sweep import parse_set, sweep
        from sim.model.coefficients import load_library
        from sim.model.compile import compile_model as compile_
        from sim.model.load import load_scenario

        m = compile_(load_scenario(ROOT / "scenarios" / "ankang-2025.yaml"), load_library())
        axis = parse_set(m, "measures.coal-to-gas.quantity=0:200:1000")
        sw = timed(lambda: sweep(m, [axis], samples=1000, seed=1), 1)
        print(f"| 1,000-point sweep x 1,000 samples (Ankang) | {sw:.1f} s | - | - | <= 5 s: {'met' if sw <= 5 else 'not met'} |")

if __name__ == "__main__":
    main()
