"""Least cost: against an independent scipy formulation, infeasible targets, whole projects."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from scipy.optimize import linprog

from sim.analyses.solve import solve
from sim.cli.main import main
from sim.model.coefficients import Library
from sim.model.load import scenario_from_dict

EMPTY = Library()


def random_problem(seed: int, n_pools: int = 6, per_pool: int = 2):
    """Pools with NOx and SO2 emissions; on each, `per_pool` alternative controls (shares)."""
    rng = np.random.default_rng(seed)
    pools, measures, e = [], [], {}
    for k in range(n_pools):
        e[k] = (float(rng.uniform(100, 1000)), float(rng.uniform(100, 1000)))
        pools.append({"id": f"p{k}", "emissions": {"NOx": f"{e[k][0]} t/a", "SO2": f"{e[k][1]} t/a"}})
        for j in range(per_pool):
            measures.append({"id": f"m{k}_{j}", "type": "control", "pool": f"p{k}", "share": 1.0,
                             "efficiency": {"NOx": float(rng.uniform(0.1, 0.9)), "SO2": float(rng.uniform(0.1, 0.9))},
                             "cost": {"unit_cost": f"{rng.uniform(1e5, 1e6):.2f} 元/a"}})
    tot_nox = sum(v[0] for v in e.values())
    tot_so2 = sum(v[1] for v in e.values())
    targets = [{"id": "nox", "pollutant": "NOx", "kind": "reduction_amount", "value": f"{0.3 * tot_nox} t", "year": 2021},
               {"id": "so2", "pollutant": "SO2", "kind": "reduction_amount", "value": f"{0.25 * tot_so2} t", "year": 2021}]
    data = {"name": "lp", "region": "r", "base_year": 2020, "years": [2021], "inventory": pools,
            "measures": measures, "targets": targets}
    return data, e


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_an_independent_linprog_formulation(seed):
    data, e = random_problem(seed)
    res = solve(scenario_from_dict(data), EMPTY)
    assert res.feasible
    # independent formulation: x_m = share of pool k under measure m, 0..1
    ms = data["measures"]
    c = np.array([float(m["cost"]["unit_cost"].split()[0]) for m in ms])
    k_of = [int(m["pool"][1:]) for m in ms]
    r_nox = np.array([e[k][0] * m["efficiency"]["NOx"] for k, m in zip(k_of, ms, strict=True)])
    r_so2 = np.array([e[k][1] * m["efficiency"]["SO2"] for k, m in zip(k_of, ms, strict=True)])
    req = [float(t["value"].split()[0]) for t in data["targets"]]
    share_rows = np.array([[1.0 if kk == k else 0.0 for kk in k_of] for k in sorted(set(k_of))])
    a_ub = np.vstack([-r_nox, -r_so2, share_rows])
    b_ub = np.concatenate([[-req[0], -req[1]], np.ones(len(share_rows))])
    ref = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=[(0, 1)] * len(ms), method="highs")
    assert ref.status == 0
    assert res.cost == pytest.approx(ref.fun, rel=1e-6)
    prices_ref = -ref.ineqlin.marginals[:2]
    np.testing.assert_allclose(res.prices, prices_ref, rtol=1e-6, atol=1e-6)


def test_infeasible_targets_report_shortfall_and_exit_3(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    data, e = random_problem(3, n_pools=3, per_pool=1)
    # NOx: ask for more than every control at full share can remove
    most = sum(e[k][0] * m["efficiency"]["NOx"] for k, m in enumerate(data["measures"]))
    data["targets"][0]["value"] = f"{most + 50} t"
    res = solve(scenario_from_dict(data), EMPTY)
    assert not res.feasible
    assert res.shortfall[0] == pytest.approx(50, rel=1e-6)
    assert res.shortfall[1] == 0.0  # met: no shortfall at all (not the solver's 1e-9)
    assert res.achieved_engine[1] >= res.required[1] - 1e-7 * res.required[1]
    assert "nox" in res.binding
    # no price for the target that cannot be met (no money buys more of it); the met one keeps its own
    assert np.isnan(res.prices[0]) and np.isfinite(res.prices[1])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = CliRunner().invoke(main, ["solve", "s.yaml"])
    assert out.exit_code == 3
    assert "缺口" in out.stdout and "最大可达" in out.stdout and "nan" not in out.stdout
    assert "cannot all be met" in out.stderr


def test_cli_solve_writes_a_mix_that_runs_and_meets_the_targets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    data, _ = random_problem(4, n_pools=5, per_pool=1)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = CliRunner().invoke(main, ["solve", "s.yaml", "--pollutant", "NOx"])
    assert out.exit_code == 0, out.output
    folder = next((tmp_path / "outputs" / "s").glob("solve-*"))
    assert (folder / "macc_NOx.png").is_file()
    mix = folder / "s-least-cost.yaml"
    run = CliRunner().invoke(main, ["run", str(mix), "--json", "--no-figures"])
    assert run.exit_code == 0, run.output
    import json

    margins = {t["target"]: t["margin"] for t in json.loads(run.stdout)["targets"]}
    # one measure per pool: the LP is exact, and the binding target is met with ~zero margin
    assert min(margins.values()) == pytest.approx(0.0, abs=1e-6)
    assert all(m >= -1e-6 for m in margins.values())


def test_whole_projects_and_conditional_prices():
    # three plants of 100 t/a COD removal each, costing 1, 2, 3 M元/a; need 150 t -> two cheapest
    data = {"name": "mip", "region": "r", "base_year": 2020, "years": [2021],
            "inventory": [{"id": "p", "emissions": {"COD": "1000 t/a"}}],
            "measures": [{"id": f"plant{i}", "type": "treat", "pool": "p", "quantity": "1 座", "integer": True,
                          "removal": {"COD": "100 t/(座*a)"}, "cost": {"unit_cost": f"{i} 百万元/a" if False else f"{i * 1e6} 元/(座*a)"}}
                         for i in (1, 2, 3)],
            "targets": [{"id": "cod", "pollutant": "COD", "kind": "reduction_amount", "value": "150 t", "year": 2021}]}
    res = solve(scenario_from_dict(data), EMPTY)
    assert res.feasible
    assert list(res.level) == [1.0, 1.0, 0.0]
    assert res.cost == pytest.approx(3e6)
    assert any("conditional" in n for n in res.notes)
    # with the projects fixed the target has slack: no price
    assert res.prices[0] == pytest.approx(0.0, abs=1e-6)


def test_capital_costs_are_annualised_with_the_crf():
    from sim.model.compile import compile_model, crf

    # 10 t/h boiler switch: capital 60,000 元/蒸吨, 15 years at 8 %: CRF = 0.08 x 1.08^15 / (1.08^15 - 1) = 0.116830
    assert crf(0.08, 15) == pytest.approx(0.1168295, rel=1e-6)
    data = {"name": "c", "region": "r", "base_year": 2020, "years": [2021], "discount_rate": "8%",
            "inventory": [{"id": "coal", "activity": "100 蒸吨", "ef": {"NOx": "1.69 t/(蒸吨*a)"}},
                          {"id": "gas", "activity": "0 蒸吨", "ef": {"NOx": "0.139 t/(蒸吨*a)"}}],
            "measures": [{"id": "c2g", "type": "switch", "pool": "coal", "to": "gas", "quantity": "10 蒸吨",
                          "cost": {"capital": "cost_boiler_award_henan_2018", "lifetime": "15 a", "om": "1000 元/(蒸吨*a)"}}]}
    from sim.model.coefficients import load_library

    model = compile_model(scenario_from_dict(data), load_library())
    # per t/h: 60,000 x 0.116830 + 1,000 = 8,009.8 元/a
    assert model.unit_cost[0] == pytest.approx(60000 * crf(0.08, 15) + 1000)


def test_ankang_least_cost_mix_meets_its_four_targets_when_rerun(tmp_path, monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    out = CliRunner().invoke(main, ["solve", str(root / "scenarios" / "ankang-2025-costs.yaml"), "--pollutant", "NH3N"])
    assert out.exit_code == 0, out.output
    folder = next((tmp_path / "outputs" / "ankang-2025-costs").glob("solve-*"))
    assert (folder / "macc_NH3N.png").is_file()
    run = CliRunner().invoke(main, ["run", str(folder / "ankang-2025-costs-least-cost.yaml"), "--json", "--no-figures"])
    assert run.exit_code == 0, run.output
    import json

    targets = json.loads(run.stdout)["targets"]
    assert {t["target"] for t in targets} == {"cod-2025", "nh3n-2025", "nox-2025", "vocs-2025"}
    assert all(t["status"] in ("met", "at risk") and t["margin"] >= -1e-6 for t in targets)


@pytest.mark.parametrize("cost", [{"unit_cost": "1000000 元/a"}, {"unit_cost": "2000 元/(蒸吨*a)"},
                                  {"capital": "10000000 元", "lifetime": "10 a"}])
def test_one_meaning_of_each_cost_form_for_share_and_quantity_measures(cost):
    # SCR on 50% of a 1,000 蒸吨 pool, written as 500 蒸吨 or as share 0.5.
    # A total (元/a, 元) is the cost of the measure at its written level and scales linearly:
    #   1,000,000 元/a for 500 蒸吨 = 2,000 元/a per 蒸吨 = 2,000,000 元/a per unit of share (full coverage).
    # A per-unit cost is per unit of the quantity, or of the pool's base-year activity for a share:
    #   2,000 元/(蒸吨·a) x 1,000 蒸吨 = 2,000,000 元/a per unit of share.
    # Capital 10,000,000 元 over 10 a at 0%: 1,000,000 元/a for the written level, as the first form.
    from sim.model.compile import compile_model

    def model(level):
        m = {"id": "scr", "type": "control", "pool": "b", "efficiency": {"NOx": 0.9}, "cost": cost, **level}
        data = {"name": "c", "region": "r", "base_year": 2020, "years": [2021], "discount_rate": "0%",
                "inventory": [{"id": "b", "activity": "1000 蒸吨", "ef": {"NOx": "1 t/(蒸吨*a)"}}], "measures": [m]}
        return compile_model(scenario_from_dict(data), EMPTY)

    by_qty, by_share = model({"quantity": "500 蒸吨"}), model({"share": 0.5})
    assert by_qty.unit_cost[0] == pytest.approx(2000.0, rel=1e-12)  # 元/a per 蒸吨
    assert by_share.unit_cost[0] == pytest.approx(2_000_000.0, rel=1e-12)  # 元/a per unit of share
    # the same measure costs the same at full coverage (1,000 蒸吨 = share 1) and as written
    assert by_qty.unit_cost[0] * 1000 == pytest.approx(by_share.unit_cost[0] * 1.0, rel=1e-12)
    assert by_qty.unit_cost[0] * 500 == pytest.approx(by_share.unit_cost[0] * 0.5, rel=1e-12) == pytest.approx(1e6)
