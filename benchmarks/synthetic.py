"""Synthetic scenarios for benchmarks: many pools, measures, pollutants and years."""

from __future__ import annotations

from typing import Any

import numpy as np

POLLUTANTS = ["COD", "NH3N", "SO2", "NOx", "VOCs", "PM10", "PM25", "CO2"]


def synthetic_scenario(n_measures: int = 200, n_years: int = 10, seed: int = 0, region: str = "合成市") -> dict[str, Any]:
    """A scenario dict with n_measures/2 pools (2 measures each), 8 pollutants, n_years years.

    Every pool's factors rest on one of 20 coefficient overrides with triangular ranges; every
    measure has an uncertain completion rate; every pool an uncertain growth rate.
    """
    rng = np.random.default_rng(seed)
    n_pools = max(1, n_measures // 2)
    coeffs = {f"ef_{i}": {"value": float(v), "low": float(v * 0.7), "high": float(v * 1.4), "unit": "kg/t",
                          "distribution": "triangular", "source": "synthetic benchmark value"}
              for i, v in enumerate(rng.uniform(0.5, 5.0, 20))}
    pools, measures = [], []
    kinds = ["control", "retire", "control", "standard", "treat"]
    for k in range(n_pools):
        key = f"ef_{k % 20}"
        pools.append({"id": f"pool{k}", "activity": f"{rng.uniform(1e3, 1e5):.1f} t/a",
                      "growth": {"value": 0.02, "low": -0.01, "high": 0.05},
                      "ef": {p: [key, f"{rng.uniform(0.2, 3):.3f}"] for p in POLLUTANTS}})
    for m in range(n_measures):
        k = m % n_pools
        kind = kinds[m % len(kinds)]
        meas: dict[str, Any] = {"id": f"m{m}", "type": kind, "pool": f"pool{k}",
                                "completion": {"value": 0.9, "low": 0.6, "high": 1.0}}
        if kind == "control":
            meas.update(share=float(rng.uniform(0.2, 1.0)), efficiency={p: f"{rng.uniform(10, 90):.0f}%" for p in POLLUTANTS})
        elif kind == "standard":
            meas.update(share=float(rng.uniform(0.2, 1.0)), ef={p: [f"ef_{k % 20}", f"{rng.uniform(0.05, 0.2):.3f}"] for p in POLLUTANTS})
        elif kind == "retire":
            act = float(pools[k]["activity"].split()[0])
            meas.update(quantity=f"{act * 0.2:.1f} t/a")
        else:
            # at most a fifth of the pool's base-year COD, so that no seed removes more than the pool emits
            act = float(pools[k]["activity"].split()[0])
            cod = act * 0.5 * float(pools[k]["ef"]["COD"][1]) / 1000 * float(coeffs[f"ef_{k % 20}"]["value"]) * 0.7
            meas.update(quantity="1 座", removal={"COD": f"{rng.uniform(0.05, 0.2) * cod:.4f} t/(座*a)"})
        meas["year"] = 2021 + (m % max(1, n_years - 1))
        measures.append(meas)
    last = 2020 + n_years - 1
    targets = [{"id": f"t_{p}", "pollutant": p, "kind": "reduction_percent", "value": "10%", "year": last} for p in POLLUTANTS]
    used = {f"ef_{k % 20}" for k in range(n_pools)}  # an override the scenario does not use is refused
    return {"name": f"{region}基准情景", "id": f"synthetic-{n_measures}", "region": region, "base_year": 2020,
            "years": [last], "inventory": pools, "measures": measures, "targets": targets,
            "coefficients": {k: v for k, v in coeffs.items() if k in used}}
