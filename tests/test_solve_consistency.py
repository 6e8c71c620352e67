"""Least cost consistent with the engine by construction (DESIGN.md sections 3 and 6): the mix that
`solve` writes, re-run through the engine, achieves what the solver said."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analyses.solve import solve, tables, write_mix
from sim.cli.main import main
from sim.evaluation.evaluate import run
from sim.model.coefficients import Library
from sim.model.load import load_scenario, scenario_from_dict

EMPTY = Library()
RTOL = 1e-6


def boiler(measures, target="700 t"):
    """The issue's pool: 1,000 蒸吨 at 1 t NOx per 蒸吨 and year."""
    return {"name": "t", "region": "r", "base_year": 2020, "years": [2021],
            "inventory": [{"id": "b", "activity": "1000 蒸吨", "ef": {"NOx": "1 t/(蒸吨*a)"}}],
            "measures": measures,
            "targets": [{"id": "nox", "pollutant": "NOx", "kind": "reduction_amount", "value": target, "year": 2021}]}


def sncr_scr(sncr_potential="500 蒸吨"):
    return boiler([
        {"id": "sncr", "type": "control", "pool": "b", "quantity": "500 蒸吨", "potential": sncr_potential,
         "efficiency": {"NOx": 0.5}, "cost": {"unit_cost": "1000 元/(蒸吨*a)"}},
        {"id": "scr", "type": "control", "pool": "b", "quantity": "1000 蒸吨", "potential": "1000 蒸吨",
         "efficiency": {"NOx": 0.9}, "cost": {"unit_cost": "3000 元/(蒸吨*a)"}},
    ])


def solve_cli(tmp_path, monkeypatch, data):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = CliRunner().invoke(main, ["solve", "s.yaml"])
    found = sorted((tmp_path / "outputs" / "s").glob("solve-*"))
    return out, found[-1] if found else tmp_path / "outputs" / "s" / "(no solve folder)"


def rerun(folder: Path) -> dict[str, float]:
    out = CliRunner().invoke(main, ["run", str(folder / "s-least-cost.yaml"), "--json", "--no-figures"])
    assert out.exit_code == 0, out.output
    return {t["target"]: t["achieved"] for t in json.loads(out.stdout)["targets"]}


def test_sncr_and_scr_on_one_pool_rerun_equals_the_solver(tmp_path, monkeypatch):
    # SNCR 50% (potential 500 蒸吨, 2,000 元/t) and SCR 90% (potential 1,000, 3,333 元/t); need 700 t.
    # SNCR on its 500 蒸吨 gives 250 t; SCR on the other 500 gives 450 t: 700 t at
    # 500 x 1,000 + 500 x 3,000 = 2,000,000 元/a. Multiplying on the same share, the engine gave
    # 1,000 - 1,000 x (1 - 0.5 x 0.5)(1 - 0.5 x 0.9) = 587.5 t; on separate parts it gives 700 t.
    out, folder = solve_cli(tmp_path, monkeypatch, sncr_scr())
    assert out.exit_code == 0, out.output
    mix = yaml.safe_load((folder / "s-least-cost.yaml").read_text(encoding="utf-8"))
    assert {m["id"]: m.get("disjoint_group") for m in mix["measures"]} == {"sncr": "least-cost", "scr": "least-cost"}
    assert rerun(folder)["nox"] == pytest.approx(700.0, rel=RTOL)
    levels = pd.read_csv(folder / "mix.csv").set_index("measure")["level"]
    assert levels["sncr"] == pytest.approx(500.0, rel=RTOL) and levels["scr"] == pytest.approx(500.0, rel=RTOL)
    costs = pd.read_csv(folder / "costs.csv").set_index("measure")["cost_yuan_per_a"]
    assert costs["total"] == pytest.approx(2_000_000.0, rel=RTOL)
    targets = pd.read_csv(folder / "targets.csv").set_index("target")
    assert targets.loc["nox", "achieved_rerun"] == pytest.approx(targets.loc["nox", "achieved_lp"], rel=RTOL)
    assert (folder / "prices.csv").is_file()


def test_prices_are_written_at_full_precision(tmp_path, monkeypatch):
    # SNCR potential 1,000 (not binding): the mix is x_sncr + x_scr = 1,000 and 0.5 x_sncr + 0.9 x_scr = 700,
    # so x = 500 + 500. One more tonne moves 2.5 蒸吨 from SNCR to SCR (0.4 t each) at 3,000 - 1,000 元:
    # 2.5 x 2,000 = 5,000 元/t (the dual: 0.9 λ - μ = 3,000 and 0.5 λ - μ = 1,000 -> λ = 5,000).
    out, folder = solve_cli(tmp_path, monkeypatch, sncr_scr("1000 蒸吨"))
    assert out.exit_code == 0, out.output
    prices = pd.read_csv(folder / "prices.csv")
    assert list(prices["target"]) == ["nox"]
    assert prices.loc[0, "price"] == pytest.approx(5000.0, rel=1e-9)
    assert prices.loc[0, "price_unit"] == "元/t"
    assert "5,000" in out.stdout


def test_terminal_prices_keep_significant_digits():
    from sim.reports.terminal import fmt_sig

    assert fmt_sig(2.14) == "2.140"
    assert fmt_sig(0.0123456) == "0.01235"
    assert fmt_sig(5000.0) == "5,000"
    assert fmt_sig(14882.947) == "14,880"
    assert fmt_sig(0.0) == "0"


def test_retirement_and_control_on_one_pool(tmp_path, monkeypatch):
    # retire (3,000 元/蒸吨, 1 t each) and SCR 90% (1,000 元/蒸吨, 0.9 t each); need 950 t.
    # SCR everywhere gives only 900 t, so x_ret + x_scr = 1,000 and x_ret + 0.9 x_scr = 950:
    # x_scr = 500, x_ret = 500, cost 2,000,000 元/a; price: λ - μ = 3,000, 0.9 λ - μ = 1,000 -> λ = 20,000 元/t.
    # Retirement in proportion would give 1,000 - 500 x (1 - 0.5 x 0.9) = 725 t; on separate parts 950 t.
    data = boiler([
        {"id": "ret", "type": "retire", "pool": "b", "quantity": "500 蒸吨", "potential": "1000 蒸吨",
         "cost": {"unit_cost": "3000 元/(蒸吨*a)"}},
        {"id": "scr", "type": "control", "pool": "b", "quantity": "1000 蒸吨", "potential": "1000 蒸吨",
         "efficiency": {"NOx": 0.9}, "cost": {"unit_cost": "1000 元/(蒸吨*a)"}},
    ], target="950 t")
    out, folder = solve_cli(tmp_path, monkeypatch, data)
    assert out.exit_code == 0, out.output
    assert rerun(folder)["nox"] == pytest.approx(950.0, rel=RTOL)
    assert pd.read_csv(folder / "prices.csv").loc[0, "price"] == pytest.approx(20_000.0, rel=1e-9)


def test_fixed_measures_on_a_candidate_pool_join_its_group():
    # a fixed SNCR on 200 蒸吨 stays; SCR candidates fill the rest: 200 x 0.5 = 100 t fixed,
    # then 600 t from SCR needs 666.7 蒸吨 (<= the 800 left)
    data = boiler([
        {"id": "fixed", "type": "control", "pool": "b", "quantity": "200 蒸吨", "efficiency": {"NOx": 0.5}},
        {"id": "scr", "type": "control", "pool": "b", "quantity": "1000 蒸吨", "potential": "1000 蒸吨",
         "efficiency": {"NOx": 0.9}, "cost": {"unit_cost": "3000 元/(蒸吨*a)"}},
    ])
    res = solve(scenario_from_dict(data), EMPTY)
    assert res.feasible and res.consistent
    assert res.groups == {"fixed": "least-cost", "scr": "least-cost"}
    assert res.level[0] == pytest.approx(600 / 0.9, rel=1e-9)
    assert any("fixed" in n and "disjoint_group" in n for n in res.notes)


@pytest.mark.parametrize("control_is_candidate", [True, False])
def test_a_switch_into_a_controlled_pool(control_is_candidate):
    # coal 1,000 蒸吨 at 1 t, gas 1,000 蒸吨 at 0.5 t; coal-to-gas saves 0.5 t per 蒸吨 moved; a low-NOx
    # burner (50%) on half the gas pool. Switched-in boilers join the gas pool's uncovered part, so
    # the burner always saves 0.5 x 1,000 x 0.5 x 0.5 = 125 t, whatever is switched in (a candidate
    # at 100 元/a it is chosen in full). Need 450 t: 125 + 0.5 x_c2g = 450 -> x_c2g = 650 蒸吨.
    # (In proportion, switched-in boilers would share the burner: 125 + 650 x (0.5 - 0.5 x 0.25) = 368.75 t.)
    lnb = {"id": "lnb", "type": "control", "pool": "gas", "share": 0.5, "efficiency": {"NOx": 0.5}}
    if control_is_candidate:
        lnb.update(potential="0.5", cost={"unit_cost": "100 元/a"})
    data = {"name": "t", "region": "r", "base_year": 2020, "years": [2021],
            "inventory": [{"id": "coal", "activity": "1000 蒸吨", "ef": {"NOx": "1 t/(蒸吨*a)"}},
                          {"id": "gas", "activity": "1000 蒸吨", "ef": {"NOx": "0.5 t/(蒸吨*a)"}}],
            "measures": [{"id": "c2g", "type": "switch", "pool": "coal", "to": "gas", "quantity": "500 蒸吨",
                          "potential": "1000 蒸吨", "cost": {"unit_cost": "1000 元/(蒸吨*a)"}}, lnb],
            "targets": [{"id": "n", "pollutant": "NOx", "kind": "reduction_amount", "value": "450 t", "year": 2021}]}
    res = solve(scenario_from_dict(data), EMPTY)
    assert res.feasible and res.consistent
    assert res.groups["lnb"] == "least-cost"
    assert res.level[res.measures.index("c2g")] == pytest.approx(650.0, rel=1e-9)
    assert res.achieved_engine[0] == pytest.approx(450.0, rel=1e-9)


def test_candidates_act_on_what_fixed_treatments_and_controls_leave():
    # 1,000 t COD, need 500 t.
    # (a) fixed control 40% on the whole pool (400 t); a plant removes R before the control:
    #     1,000 - (1,000 - R) x 0.6 = 500 -> R = 166.7 t -> 1.667 plants of 100 t.
    # (b) fixed plant 200 t; a control 50% on share c of what is left: 200 + c x 0.5 x 800 = 500 -> c = 0.75.
    base = {"name": "t", "region": "r", "base_year": 2020, "years": [2021], "inventory": [{"id": "w", "emissions": {"COD": "1000 t/a"}}],
            "targets": [{"id": "cod", "pollutant": "COD", "kind": "reduction_amount", "value": "500 t", "year": 2021}]}
    a = {**base, "measures": [
        {"id": "ctl", "type": "control", "pool": "w", "share": 1.0, "efficiency": {"COD": 0.4}},
        {"id": "plant", "type": "treat", "pool": "w", "quantity": "1 座", "potential": "3 座", "removal": {"COD": "100 t/(座*a)"},
         "cost": {"unit_cost": "1 元/(座*a)"}}]}
    res = solve(scenario_from_dict(a), EMPTY)
    assert res.consistent and res.level[0] == pytest.approx(500 / 3 / 100, rel=1e-9)
    b = {**base, "measures": [
        {"id": "plant", "type": "treat", "pool": "w", "quantity": "1 座", "removal": {"COD": "200 t/(座*a)"}},
        {"id": "ctl", "type": "control", "pool": "w", "share": 0.5, "potential": "1", "efficiency": {"COD": 0.5},
         "cost": {"unit_cost": "1 元/a"}}]}
    res = solve(scenario_from_dict(b), EMPTY)
    assert res.consistent and res.level[0] == pytest.approx(0.75, rel=1e-9)
    assert res.achieved_engine[0] == pytest.approx(500.0, rel=1e-9)


def test_a_rerun_that_misses_a_target_exits_3(tmp_path, monkeypatch):
    # a treatment and a control on one pool are not linear in the levels: the control acts on
    # what the treatment leaves. 1,000 t COD; a plant removes up to 600 t (100 元/t), a control 50%
    # on a share (cheap); need 700 t. The LP adds 600 + 0.2 x 500 = 700, the engine gives
    # 600 + 0.2 x 0.5 x 400 = 640: exit 3 with the shortfall named.
    data = {"name": "t", "region": "r", "base_year": 2020, "years": [2021],
            "inventory": [{"id": "w", "emissions": {"COD": "1000 t/a"}}],
            "measures": [
                {"id": "plant", "type": "treat", "pool": "w", "quantity": "1 座", "removal": {"COD": "600 t/(座*a)"},
                 "cost": {"unit_cost": "60000 元/(座*a)"}},
                {"id": "ctl", "type": "control", "pool": "w", "share": 1.0, "efficiency": {"COD": 0.5},
                 "cost": {"unit_cost": "1000000 元/a"}}],
            "targets": [{"id": "cod", "pollutant": "COD", "kind": "reduction_amount", "value": "700 t", "year": 2021}]}
    out, folder = solve_cli(tmp_path, monkeypatch, data)
    assert out.exit_code == 3
    assert "misses cod" in out.stderr and "differs" in out.stderr
    assert (folder / "targets.csv").is_file()


def test_ankang_costs_still_solves_and_its_rerun_meets_every_target(tmp_path, monkeypatch):
    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    out = CliRunner().invoke(main, ["solve", str(root / "scenarios" / "ankang-2025-costs.yaml")])
    assert out.exit_code == 0, out.output
    folder = sorted((tmp_path / "outputs" / "ankang-2025-costs").glob("solve-*"))[-1]
    t = pd.read_csv(folder / "targets.csv")
    assert (t["margin_rerun"] >= -1e-9 * t["required"].abs().clip(lower=1)).all()
    np.testing.assert_allclose(t["achieved_rerun"], t["achieved_lp"], rtol=RTOL)
    assert {"mix.csv", "costs.csv", "prices.csv", "targets.csv"} <= {p.name for p in folder.iterdir()}


# ---- random least-cost problems ----------------------------------------------------------------

@st.composite
def problems(draw):
    """1-3 pools, each with 1-3 candidates (retire, control, standard, and switches into another
    pool; by quantity or share; continuous or whole projects) and sometimes a fixed measure;
    reduction_amount targets in one or two years."""
    n_pools = draw(st.integers(1, 3))
    pools, measures = [], []
    acts = [draw(st.floats(100.0, 5000.0)) for _ in range(n_pools)]
    for k, act in enumerate(acts):
        pools.append({"id": f"p{k}", "activity": f"{act} t/a", "growth": draw(st.floats(-0.03, 0.05)),
                      "ef": {"NOx": f"{draw(st.floats(1.0, 20.0))} kg/t", "SO2": f"{draw(st.floats(1.0, 20.0))} kg/t"}})
    for k, act in enumerate(acts):
        if draw(st.booleans()):
            measures.append({"id": f"fix{k}", "type": "control", "pool": f"p{k}", "share": draw(st.floats(0.0, 0.3)),
                             "efficiency": {"NOx": draw(st.floats(0.0, 0.9))}})
        for j in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["retire", "control", "standard", "switch"] if n_pools > 1 else ["retire", "control", "standard"]))
            m = {"id": f"c{k}_{j}", "type": kind, "pool": f"p{k}",
                 "cost": {"unit_cost": f"{draw(st.floats(1.0, 100.0))} 元/(t)"}}
            if kind == "switch":
                m["to"] = f"p{(k + 1 + draw(st.integers(0, n_pools - 2))) % n_pools}"
                m["conversion"] = draw(st.floats(0.1, 1.0))
            by_share = kind in ("control", "standard") and draw(st.booleans())
            if by_share:
                m["share"] = 0.25
                m["potential"] = str(draw(st.floats(0.1, 1.0)))
                m["cost"] = {"unit_cost": f"{draw(st.floats(1e3, 1e5))} 元/a"}
            else:
                m["quantity"] = f"{0.2 * act} t/a"  # the scenario's own levels must fit the pool
                pot = draw(st.floats(0.1, 0.9)) * act
                m["potential"] = f"{pot} t/a"
                if kind == "retire" and draw(st.booleans()):  # whole projects of a third of the potential
                    m["integer"] = True
                    m["unit_size"] = f"{pot / 3} t/a"
            if kind == "control":
                m["efficiency"] = {"NOx": draw(st.floats(0.1, 0.95)), "SO2": draw(st.floats(0.0, 0.95))}
            elif kind == "standard":
                m["ef"] = {"NOx": f"{draw(st.floats(0.0, 1.0))} kg/t"}
            if draw(st.booleans()):
                m["year"] = 2023
            measures.append(m)
    targets = [{"id": "nox", "pollutant": "NOx", "kind": "reduction_amount", "value": f"{draw(st.floats(1.0, 30.0))} t",
                "year": draw(st.sampled_from([2022, 2024]))}]
    if draw(st.booleans()):
        targets.append({"id": "so2", "pollutant": "SO2", "kind": "reduction_amount", "value": f"{draw(st.floats(0.5, 10.0))} t",
                        "year": 2024})
    return {"name": "rand", "region": "r", "base_year": 2020, "years": [2022, 2024],
            "inventory": pools, "measures": measures, "targets": targets}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(problems())
def test_random_problems_rerun_equals_the_solver_and_meets_every_target(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("rand")
    src = folder / "s.yaml"
    src.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    res = solve(load_scenario(src), EMPTY)
    if not res.feasible:
        return
    # in-process re-run with the solver's groups
    np.testing.assert_allclose(res.achieved_engine, res.achieved_lp, rtol=RTOL, atol=1e-9)
    # the written mix, loaded and run like any scenario
    mix = write_mix(res, folder / "mix.yaml")
    frame = run(load_scenario(mix), EMPTY).targets_frame().set_index("target")
    achieved = frame.loc[res.targets, "achieved"].to_numpy(dtype=float)
    np.testing.assert_allclose(achieved, res.achieved_lp, rtol=RTOL, atol=1e-9)
    assert (achieved - res.required >= -1e-9 * np.maximum(1.0, np.abs(res.required))).all()
    assert (frame.loc[res.targets, "status"] != "not met").all()
    # the prices file holds the duals at full precision
    tables(res)["prices"].to_csv(folder / "prices.csv", index=False, encoding="utf-8-sig")
    import csv

    with open(folder / "prices.csv", encoding="utf-8-sig", newline="") as fh:
        back = list(csv.DictReader(fh))
    assert [r["target"] for r in back] == res.targets
    np.testing.assert_array_equal([float(r["price"]) for r in back], res.prices)


def test_a_concentration_target_is_priced_per_microgram(tmp_path, monkeypatch):
    # Base 40 µg/m³, NOx share 0.2 of 10,000 t: α = 40 x 0.2 / 10,000 = 0.0008 µg/m³ per t.
    # Target ≤ 35.6: required 40 - 35.6 = 4.4 µg/m³ = 5,500 t of NOx. SNCR (2,000 元/t) on its full
    # 5,000 蒸吨 gives 2,500 t; SCR (3,000 元/蒸吨 / 0.9 t = 3,333.3 元/t) on 3,333.3 of the other
    # 5,000 蒸吨 gives 3,000 t. Price: 3,333.3 元/t / 0.0008 = 4,166,666.7 元 per µg/m³.
    (tmp_path / "resp.csv").write_text(
        "region,precursor,form,value,unit,low,high,year,source,note\n"
        "测试市,base,concentration,40,ug/m3,,,2020,test,\n"
        "测试市,NOx,share,0.2,1,,,2020,test,\n", encoding="utf-8")
    data = {"name": "pm", "region": "测试市", "base_year": 2020, "years": [2021],
            "inventory": [{"id": "b", "activity": "10000 蒸吨", "ef": {"NOx": "1 t/(蒸吨*a)"}}],
            "measures": [
                {"id": "sncr", "type": "control", "pool": "b", "quantity": "5000 蒸吨", "potential": "5000 蒸吨",
                 "efficiency": {"NOx": 0.5}, "cost": {"unit_cost": "1000 元/(蒸吨*a)"}},
                {"id": "scr", "type": "control", "pool": "b", "quantity": "5000 蒸吨", "potential": "10000 蒸吨",
                 "efficiency": {"NOx": 0.9}, "cost": {"unit_cost": "3000 元/(蒸吨*a)"}}],
            "targets": [{"id": "pm", "pollutant": "PM25", "kind": "concentration", "value": "35.6 ug/m3", "year": 2021}],
            "air_quality": {"region": "测试市", "response": "resp.csv"}}
    out, folder = solve_cli(tmp_path, monkeypatch, data)
    assert out.exit_code == 0, out.output
    prices = pd.read_csv(folder / "prices.csv")
    assert prices.loc[0, "price_unit"] == "元/(µg/m³)"
    assert prices.loc[0, "price"] == pytest.approx(3000 / 0.9 / 0.0008, rel=1e-9)
    t = pd.read_csv(folder / "targets.csv").iloc[0]
    assert t["unit"] == "µg/m³"
    assert t["achieved_rerun"] == pytest.approx(4.4, rel=RTOL) and t["achieved_lp"] == pytest.approx(4.4, rel=1e-9)
