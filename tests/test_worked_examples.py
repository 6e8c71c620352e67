"""Worked examples computed by hand (arithmetic in each test) against the engine.

Numbers come from ../shared/reference/coefficients.md sections 1.3-1.8; inline values here
keep each example self-contained (tests/test_reference_examples.py redoes the reference's
examples from the shipped coefficient tables).
"""

from __future__ import annotations

import pytest

from sim.evaluation.evaluate import run
from sim.model.coefficients import Library
from sim.model.load import scenario_from_dict

EMPTY = Library()


def scen(pools, measures, targets=(), years=(2025,), base_year=2024, **settings):
    return scenario_from_dict({
        "name": "worked example", "region": "test", "base_year": base_year, "years": list(years),
        "inventory": pools, "measures": measures, "targets": list(targets),
        "settings": settings or {},
    })


def red(result, measure, pollutant, year):
    return float(result.dataset["reduction"].sel(measure=measure, pollutant=pollutant, year=year))


def total(result, var, pollutant, year):
    return float(result.dataset[var].sel(pollutant=pollutant, year=year))


def test_sewage_plant_upgrade_1b_to_1a():
    # 10,000 m3/d upgraded from 一级B to 一级A, 365 d/a:
    # dCOD   = 1e4 m3/d x 365 d x (60 - 50) mg/L x 1e-6 t/g... = 1e4 x 365 x 10 x 1e-6 = 36.5 t/a
    # dNH3-N = 1e4 x 365 x (8 - 5) x 1e-6 = 10.95 t/a
    s = scen(
        [{"id": "wwtp", "activity": "10000 立方米/日", "ef": {"COD": "60 mg/L", "NH3N": "8 mg/L"}}],
        [{"id": "upgrade", "type": "treat", "pool": "wwtp", "quantity": "1 万立方米/日",
          "c_in": {"COD": "60 mg/L", "NH3-N": "8 mg/L"}, "c_out": {"COD": "50 mg/L", "NH3-N": "5 mg/L"}}],
    )
    r = run(s, EMPTY)
    assert red(r, "upgrade", "COD", 2025) == pytest.approx(36.5, rel=1e-12)
    assert red(r, "upgrade", "NH3N", 2025) == pytest.approx(10.95, rel=1e-12)
    # the plant emitted 1e4 x 365 x 60 x 1e-6 = 219 t COD before the upgrade
    assert total(r, "baseline_total", "COD", 2025) == pytest.approx(219.0, rel=1e-12)


def test_coal_boiler_retirement():
    # 10 t/h industrial coal boiler, 3,500 full-load hours, 0.161 t coal per t/h per hour:
    # coal = 10 x 0.161 x 3500 = 5,635 t/a
    # SO2 = 5,635 t x 16 kg/t (S = 1%) x (1 - 0.6 desulfurisation) = 36,064 kg = 36.064 t
    # NOx = 5,635 t x 3 kg/t (300 mg/m3 x 0.01) = 16.905 t
    # PM  = 5,635 t x 5 kg/t = 28.175 t ; CO2 = 5,635 x 1.9003 = 10,708.2 t
    s = scen(
        [{"id": "boiler.coal", "activity": "40 蒸吨",
          "ef": {"SO2": ["563.5 t/(蒸吨*a)", "16 kg/t", 0.4], "NOx": ["563.5 t/(蒸吨*a)", "3 kg/t"],
                 "PM": ["563.5 t/(蒸吨*a)", "5 kg/t"], "CO2": ["563.5 t/(蒸吨*a)", "1.9003 t/t"]}}],
        [{"id": "retire", "type": "retire", "pool": "boiler.coal", "quantity": "10 蒸吨"}],
    )
    r = run(s, EMPTY)
    assert red(r, "retire", "SO2", 2025) == pytest.approx(36.064, rel=1e-9)
    assert red(r, "retire", "NOx", 2025) == pytest.approx(16.905, rel=1e-9)
    assert red(r, "retire", "PM", 2025) == pytest.approx(28.175, rel=1e-9)
    assert red(r, "retire", "CO2", 2025) == pytest.approx(10708.19, rel=1e-6)
    # the other 30 t/h stay: emissions = 3 x each reduction
    assert total(r, "emissions_total", "NOx", 2025) == pytest.approx(3 * 16.905, rel=1e-9)


def test_coal_to_gas_switch_energy_equivalent():
    # The same 10 t/h boiler switched to gas. Gas per t/h-hour = 0.7 MW / 0.90 / 38.931 MJ/m3
    # = 2.52 GJ/h... the reference rounds to 72 m3/h: gas = 10 x 72 x 3500 = 2.52e6 m3/a.
    # Energy-equivalent conversion per t/h: same capacity, so 1 蒸吨 coal -> 1 蒸吨 gas.
    # Per t/h: coal 563.5 t/a, gas 252,000 m3/a.
    # Gas boiler: NOx 50 mg/m3 x 0.11 = 5.5 kg/万m3 -> 252 万m3 x 5.5 = 1,386 kg = 1.386 t
    #             CO2 2.52e6 m3 x 2.1622 kg/m3 = 5,448.7 t
    # Net: NOx 16.905 - 1.386 = 15.519 t ; CO2 10,708.2 - 5,448.7 = 5,259.4 t
    s = scen(
        [{"id": "boiler.coal", "activity": "10 蒸吨",
          "ef": {"NOx": ["563.5 t/(蒸吨*a)", "3 kg/t"], "CO2": ["563.5 t/(蒸吨*a)", "1.9003 t/t"]}},
         {"id": "boiler.gas", "activity": "0 蒸吨",
          "ef": {"NOx": ["252000 m3/(蒸吨*a)", "5.5 kg/万立方米"], "CO2": ["252000 m3/(蒸吨*a)", "2.1622 kg/m3"]}}],
        [{"id": "c2g", "type": "switch", "pool": "boiler.coal", "to": "boiler.gas", "quantity": "10 蒸吨"}],
    )
    r = run(s, EMPTY)
    assert red(r, "c2g", "NOx", 2025) == pytest.approx(16.905 - 1.386, rel=1e-9)
    assert red(r, "c2g", "CO2", 2025) == pytest.approx(10708.1905 - 5448.744, rel=1e-9)
    assert total(r, "emissions_total", "NOx", 2025) == pytest.approx(1.386, rel=1e-9)


def test_coal_to_gas_switch_with_conversion_factor():
    # Activity in tonnes of coal, switched to m3 of gas with an energy-equivalent conversion:
    # m3 per t = 20.908 GJ/t x 0.75 (coal boiler) / (38.931 MJ/m3 x 0.90) = 447.55 m3/t
    # 5,635 t coal -> 5,635 x 447.546 = 2,521,922 m3 gas; CO2 = 2,521,922 x 2.1622 / 1000 = 5,452.87 t
    conv = 20.908e3 * 0.75 / (38.931 * 0.90)
    s = scen(
        [{"id": "coal", "activity": "5635 t/a", "ef": {"CO2": "1.9003 t/t"}},
         {"id": "gas", "activity": "0 m3/a", "ef": {"CO2": "2.1622 kg/m3"}}],
        [{"id": "c2g", "type": "switch", "pool": "coal", "to": "gas", "quantity": "5635 t/a",
          "conversion": f"{conv} m3/t"}],
    )
    r = run(s, EMPTY)
    gas_co2 = 5635 * conv * 2.1622 / 1000
    assert gas_co2 == pytest.approx(5452.87, abs=0.01)
    assert red(r, "c2g", "CO2", 2025) == pytest.approx(5635 * 1.9003 - gas_co2, rel=1e-9)


def test_china3_to_china6_truck_replacement():
    # China III HDT: 10 g/km NOx x 80,000 km/a = 800 kg/(辆·a); China VI: 1.42 g/km -> 113.6 kg
    # retiring 100 trucks replaced one for one: dNOx = 100 x (800 - 113.6) kg = 68.64 t/a
    s = scen(
        [{"id": "hdt.cn3", "activity": "500 辆", "ef": {"NOx": ["10 g/km", "80000 km/(辆*a)"]}},
         {"id": "hdt.cn6", "activity": "0 辆", "ef": {"NOx": ["1.42 g/km", "80000 km/(辆*a)"]}}],
        [{"id": "scrap", "type": "retire", "pool": "hdt.cn3", "replaced_by": "hdt.cn6", "quantity": "100 辆"}],
    )
    r = run(s, EMPTY)
    assert red(r, "scrap", "NOx", 2025) == pytest.approx(68.64, rel=1e-9)


def test_two_add_on_controls_multiply():
    # Pool 1,000 t NOx. SCR 80% on 50% of it, low-NOx burners 30% on all of it:
    # E = 1000 x (1 - 0.5 x 0.8) x (1 - 1.0 x 0.3) = 1000 x 0.6 x 0.7 = 420 t ; total cut 580 t
    # sequential (SCR first): SCR 1000 - 600 = 400 t ; burners 600 - 420 = 180 t
    # Shapley: SCR alone 400, after burners 700 - 420 = 280 -> (400 + 280)/2 = 340;
    #          burners alone 300, after SCR 180 -> (300 + 180)/2 = 240 ; 340 + 240 = 580
    pools = [{"id": "kiln", "emissions": {"NOx": "1000 t/a"}}]
    measures = [
        {"id": "scr", "type": "control", "pool": "kiln", "share": "50%", "efficiency": {"NOx": "80%"}},
        {"id": "lnb", "type": "control", "pool": "kiln", "share": 1.0, "efficiency": {"NOx": 0.3}},
    ]
    seq = run(scen(pools, measures), EMPTY)
    assert total(seq, "emissions_total", "NOx", 2025) == pytest.approx(420)
    assert red(seq, "scr", "NOx", 2025) == pytest.approx(400)
    assert red(seq, "lnb", "NOx", 2025) == pytest.approx(180)
    sh = run(scen(pools, measures), EMPTY, attribution="shapley")
    assert red(sh, "scr", "NOx", 2025) == pytest.approx(340)
    assert red(sh, "lnb", "NOx", 2025) == pytest.approx(240)


def test_part_year_credit_from_month_after_stable_operation():
    # A plant removing 120 t/a, in stable operation from 2025-03: credited from April,
    # 9 of 12 months -> 120 x 9/12 = 90 t in 2025, 120 t in 2026.
    # With credit_rule same_month: 10/12 -> 100 t; full_year: 120 t.
    pools = [{"id": "p", "emissions": {"COD": "500 t/a"}}]
    measures = [{"id": "plant", "type": "treat", "pool": "p", "quantity": "1 座",
                 "removal": {"COD": "120 t/(座*a)"}, "commissioned": "2025-03"}]
    r = run(scen(pools, measures, years=(2025, 2026)), EMPTY)
    assert red(r, "plant", "COD", 2025) == pytest.approx(90)
    assert red(r, "plant", "COD", 2026) == pytest.approx(120)
    r2 = run(scen(pools, measures, years=(2025, 2026), credit_rule="same_month"), EMPTY)
    assert red(r2, "plant", "COD", 2025) == pytest.approx(100)
    r3 = run(scen(pools, measures, years=(2025, 2026), credit_rule="full_year"), EMPTY)
    assert red(r3, "plant", "COD", 2025) == pytest.approx(120)


def test_growth_counts_against_percent_target_and_reductions_use_same_year_baseline():
    # Pool 1,000 t NOx in 2020, growing 5%/a: 2022 baseline = 1000 x 1.05^2 = 1,102.5 t.
    # A control cutting 20% of it: reduction vs same-year baseline = 220.5 t; emissions 882 t.
    # Target -10% vs 2020: required 100 t; achieved 1000 - 882 = 118 t; margin 18 t.
    s = scen([{"id": "p", "activity": "1000 t/a", "growth": "5%", "ef": {"NOx": "1 t/t"}}],
             [{"id": "c", "type": "control", "pool": "p", "share": 1, "efficiency": {"NOx": "20%"}}],
             targets=[{"id": "t", "pollutant": "NOx", "kind": "reduction_percent", "value": "10%", "year": 2022}],
             years=(2022,), base_year=2020)
    r = run(s, EMPTY)
    assert total(r, "baseline_total", "NOx", 2022) == pytest.approx(1102.5)
    assert red(r, "c", "NOx", 2022) == pytest.approx(220.5)
    tf = r.targets_frame().iloc[0]
    assert tf["required"] == pytest.approx(100)
    assert tf["achieved"] == pytest.approx(118)
    assert tf["margin"] == pytest.approx(18)
    assert tf["status"] == "met"


def test_target_kinds_amount_and_cap():
    # Pool 1,000 t COD; a measure removes 300 t/a.
    # reduction_amount 250 t: achieved 300, margin 50. cap 650 t: emissions 700 -> margin -50.
    s = scen([{"id": "p", "emissions": {"COD": "1000 t/a"}}],
             [{"id": "m", "type": "treat", "pool": "p", "quantity": "1 座", "removal": {"COD": "300 t/(座*a)"}}],
             targets=[{"id": "amt", "pollutant": "COD", "kind": "reduction_amount", "value": "250 吨", "year": 2025},
                      {"id": "cap", "pollutant": "COD", "kind": "cap", "value": "0.065 万吨", "year": 2025}])
    tf = run(s, EMPTY).targets_frame().set_index("target")
    assert tf.loc["amt", "margin"] == pytest.approx(50)
    assert tf.loc["amt", "status"] == "met"
    assert tf.loc["cap", "margin"] == pytest.approx(-50)
    assert tf.loc["cap", "status"] == "not met"


def test_schedule_between_listed_years_keeps_the_earlier_share():
    # 10,000 m3/d upgrade (36.5 t/a COD at full quantity, as in the first example) on the
    # schedule {2023: 60%, 2025: 100%} over 2021-2025: none before 2023 (0 t), 60% in 2023 and
    # 2024 (0.6 x 36.5 = 21.9 t: a year between two points keeps the earlier share), 100% in 2025
    s = scen(
        [{"id": "wwtp", "activity": "10000 立方米/日", "ef": {"COD": "60 mg/L"}}],
        [{"id": "up", "type": "treat", "pool": "wwtp", "quantity": "10000 立方米/日",
          "c_in": {"COD": "60 mg/L"}, "c_out": {"COD": "50 mg/L"}, "schedule": {2023: "60%", 2025: "100%"}}],
        years=(2021, 2022, 2023, 2024, 2025), base_year=2020,
    )
    r = run(s, EMPTY)
    assert [red(r, "up", "COD", y) for y in (2021, 2022)] == [0.0, 0.0]
    assert red(r, "up", "COD", 2023) == pytest.approx(0.6 * 36.5, rel=1e-12)
    assert red(r, "up", "COD", 2024) == pytest.approx(0.6 * 36.5, rel=1e-12)
    assert red(r, "up", "COD", 2025) == pytest.approx(36.5, rel=1e-12)
