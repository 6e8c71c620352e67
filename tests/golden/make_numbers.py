"""Write tests/golden/numbers.json: the numbers tests/test_golden_numbers.py pins.

Produced with the code as it stood before the Monte Carlo kernel and the evaluation loop were
rewritten (commit d6b8f20: the examples' data as revised for the plans' periods and the
library's standards, before the kernel), on the data of this commit, by

    .venv/bin/python tests/golden/make_numbers.py

Per example scenario (and a synthetic 40-measure one): the deterministic run's totals (t/a), per-measure reductions (t/a,
sequential attribution) and target required/achieved; and a seeded Monte Carlo of 300
samples (seed 7): the first three samples and the mean of the totals and of
required/achieved. Re-running it after a change that keeps the arithmetic must give the
same file up to rounding in the last digits (the test allows 1e-12 relative).
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "numbers.json"
SCENARIOS = ["ankang-2025.yaml", "ankang-2025-costs.yaml", "hengyang-2019.yaml", "jiaozuo-2022.yaml",
             "jincheng-2020.yaml", "ningbo-2022.yaml"]
SAMPLES, SEED = 300, 7
SYNTHETIC = "synthetic-40"  # benchmarks/synthetic.py: 40 measures (control, retire, standard, treat)


def synthetic():  # type: ignore[no-untyped-def]
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from synthetic import synthetic_scenario

    from sim.model.load import scenario_from_dict

    return scenario_from_dict(synthetic_scenario(40, 6, seed=3))


def numbers() -> dict[str, dict[str, list[float]]]:
    from sim.evaluation.evaluate import monte_carlo, run
    from sim.model.coefficients import load_library
    from sim.model.load import load_scenario

    lib = load_library()
    out: dict[str, dict[str, list[float]]] = {}
    for name in [*SCENARIOS, SYNTHETIC]:
        r = run(synthetic() if name == SYNTHETIC else load_scenario(ROOT / "scenarios" / name), lib)
        ds = r.dataset
        rec = {
            "baseline_total": ds["baseline_total"].values.ravel().tolist(),
            "emissions_total": ds["emissions_total"].values.ravel().tolist(),
            "reduction": ds["reduction"].values.ravel().tolist(),
        }
        if "required" in ds:
            rec["required"] = ds["required"].values.ravel().tolist()
            rec["achieved"] = ds["achieved"].values.ravel().tolist()
        mc = monte_carlo(r.model, SAMPLES, SEED)
        for key in ("baseline_total", "emissions_total", "required", "achieved"):
            rec[f"mc_{key}_first3"] = mc[key][:3].ravel().tolist()
            rec[f"mc_{key}_mean"] = mc[key].mean(axis=0).ravel().tolist()
        out[name] = rec
    return out


if __name__ == "__main__":
    OUT.write_text(json.dumps(numbers(), indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
