"""The reference's worked examples (../shared/reference/coefficients.md), from the shipped tables.

Each test runs a scenario whose factors are library keys only, and checks the engine
against the arithmetic written out in the test.
"""

from __future__ import annotations

import pytest

from sim.evaluation.evaluate import run
from sim.model.coefficients import load_library
from sim.model.load import scenario_from_dict

LIB = load_library()


def scen(pools, measures, years=(2021,)):
    return scenario_from_dict({"name": "ref", "region": "r", "base_year": 2020, "years": list(years),
                               "inventory": pools, "measures": measures})


def red(r, m, p, y=2021):
    return float(r.dataset["reduction"].sel(measure=m, pollutant=p, year=y))


def test_library_inputs_are_the_reference_numbers():
    assert LIB["steam_ton_coal_per_h"].value == 0.161
    assert LIB["boiler_flh_industrial"].value == 3500
    assert LIB["co2_raw_coal"].value == 1.9003
    assert LIB["co2_natural_gas"].value == 2.1622
    assert LIB["pig_cod_gen"].value == 0.357
    assert LIB["pig_feeding_period_adj"].value == 122


def test_boiler_retirement_replaced_by_gas():
    # Reference 1.3: 10 t/h industrial coal boiler, 3,500 full-load hours.
    # coal = 10 x 0.161 x 3,500 = 5,635 t
    # NOx = 5,635 x 3 kg/t = 16.9 t ; CO2 = 5,635 x 1.9003 = 10,708 t
    # (the reference's SO2 36.06 t (16 kg/t x 1 % S x 0.4) and PM 28.2 t (5 kg/t) imply 640 and 500 mg/m3,
    # above GB 13271-2014; the library now takes the in-use limits, below)
    # gas  = 10 x 72 x 3,500 = 2.52e6 m3: NOx 252 x 5.5 kg = 1.386 t ; CO2 2.52e6 x 2.1622 = 5,449 t
    # net: SO2 -22.5 (gas SO2 is small but not zero: no gas SO2 row in this pool), NOx -15.5, PM -4.5, CO2 -5,260
    pools = [
        {"id": "coal", "activity": "10 蒸吨", "ef": {
            "SO2": "boiler_coal_industrial_so2_per_steam_ton", "NOx": "boiler_coal_industrial_nox_per_steam_ton",
            "PM": "boiler_coal_industrial_pm_per_steam_ton", "CO2": "boiler_coal_industrial_co2_per_steam_ton"}},
        {"id": "gas", "activity": "0 蒸吨", "ef": {
            "NOx": "boiler_gas_industrial_nox_per_steam_ton", "CO2": "boiler_gas_industrial_co2_per_steam_ton"}},
    ]
    r = run(scen(pools, [{"id": "retire", "type": "retire", "pool": "coal", "replaced_by": "gas", "quantity": "10 蒸吨"}]), LIB)
    coal = 10 * 0.161 * 3500
    gas = 10 * 72 * 3500
    assert coal == pytest.approx(5635)
    # SO2 and PM at the GB 13271-2014 in-use limits (400 and 80 mg/m3 x 0.01 (kg/t)/(mg/m3) = 4 and 0.8 kg/t):
    # SO2 = 5,635 x 4 / 1000 = 22.54 t ; PM = 5,635 x 0.8 / 1000 = 4.508 t
    assert red(r, "retire", "SO2") == pytest.approx(coal * 4 / 1000, rel=1e-9)  # 22.54 t
    assert red(r, "retire", "NOx") == pytest.approx(coal * 3 / 1000 - gas / 1e4 * 5.5 / 1000, rel=1e-9)  # 15.519 t
    assert red(r, "retire", "PM") == pytest.approx(coal * 0.8 / 1000, rel=1e-9)  # 4.508 t
    assert red(r, "retire", "CO2") == pytest.approx(coal * 1.9003 - gas * 2.1622 / 1000, rel=1e-9)  # 5,259.4 t
    assert red(r, "retire", "CO2") == pytest.approx(5260, abs=1)


def test_household_heating_switch_coal_to_gas():
    # Reference 1.4: dE = H x c x EF_coal - H x E_sub x EF_sub.
    # c = 3.0 t coal per household-year (northern default), 1,000 households switched.
    # E_sub = 3.0 t x 20.908 GJ/t x 0.45 / (35.588 MJ/m3 x 0.90) = 881.2 m3 per household
    # NOx: coal 3.0 t x 1.6 g/kg = 4.8 kg ; gas 881.2 m3 x 16.5 kg/万m3 = 1.454 kg
    #      -> 1,000 x (4.8 - 1.454) kg = 3.346 t
    # PM2.5: coal 3.0 x 7.0 = 21 kg, gas ~0 -> 21 t ; CO2: 5.7009 t - 881.2 x 2.1622 kg = 3.796 t -> 3,796 t
    pools = [
        {"id": "hh.coal", "activity": "5000 户", "ef": {"NOx": "res_hh_coal_nox", "PM25": "res_hh_coal_pm25", "CO2": "res_hh_coal_co2"}},
        {"id": "hh.gas", "activity": "0 户", "ef": {"NOx": "hh_gas_boiler_nox", "CO2": "hh_gas_co2"}},
    ]
    r = run(scen(pools, [{"id": "c2g", "type": "switch", "pool": "hh.coal", "to": "hh.gas", "quantity": "1000 户"}]), LIB)
    gas_m3 = 3.0 * 20.908e3 * 0.45 / (35.588 * 0.90)
    assert gas_m3 == pytest.approx(881.2, abs=0.1)
    assert red(r, "c2g", "NOx") == pytest.approx(1000 * (3.0 * 1.6 - gas_m3 * 16.5 / 1e4) / 1000, rel=1e-6)
    assert red(r, "c2g", "PM25") == pytest.approx(21.0, rel=1e-9)
    assert red(r, "c2g", "CO2") == pytest.approx(1000 * (3.0 * 1.9003 - gas_m3 * 2.1622 / 1000), rel=1e-6)


def test_livestock_utilisation_rate():
    # Reference 1.9: 10,000 pigs, T = 122 d, COD 0.357 kg/(head·d), removal 93 %,
    # utilisation 75 % -> 90 %: dCOD = 1e4 x 122 x 0.357 x 0.93 x 0.15 / 1000 = 60.8 t/a
    pools = [{"id": "pigs", "activity": "10000 头", "ef": {"COD": ["pig_cod_gen", "pig_feeding_period_adj", "25%"]}}]
    # pool emission: 1e4 x 0.357 x 122 x 25% not utilised = 108.9 t/a
    measures = [{"id": "manure", "type": "treat", "pool": "pigs", "quantity": "10000 头",
                 "removal": {"COD": ["pig_cod_removable_per_head", "15%"]}}]
    r = run(scen(pools, measures), LIB)
    assert red(r, "manure", "COD") == pytest.approx(1e4 * 122 * 0.357 * 0.93 * 0.15 / 1000, rel=1e-9)
    assert red(r, "manure", "COD") == pytest.approx(60.8, abs=0.05)


def test_sewage_upgrade_from_gb18918_keys():
    # 10,000 m3/d from 一级B (60 mg/L COD, 8 NH3-N) to 一级A (50, 5): 36.5 t and 10.95 t a year
    pools = [{"id": "wwtp", "activity": "10000 立方米/日", "ef": {"COD": "gb18918_1b_cod", "NH3N": "gb18918_1b_nh3n"}}]
    measures = [{"id": "up", "type": "treat", "pool": "wwtp", "quantity": "1 万立方米/日",
                 "c_in": {"COD": "gb18918_1b_cod", "NH3N": "gb18918_1b_nh3n"},
                 "c_out": {"COD": "gb18918_1a_cod", "NH3N": "gb18918_1a_nh3n"}}]
    r = run(scen(pools, measures), LIB)
    assert red(r, "up", "COD") == pytest.approx(36.5, rel=1e-12)
    assert red(r, "up", "NH3N") == pytest.approx(10.95, rel=1e-12)


def test_china3_truck_replacement_from_library():
    # in-use China III: 10 g/km x 50,000 km = 0.500 t ; new China VI: 1.42 g/km x 80,000 km = 0.1136 t
    # 100 trucks -> 100 x (0.500 - 0.1136) = 38.64 t
    pools = [{"id": "cn3", "activity": "1000 辆", "ef": {"NOx": "veh_hdt_cn3_nox_annual"}},
             {"id": "cn6", "activity": "0 辆", "ef": {"NOx": "veh_hdt_cn6_nox_annual"}}]
    r = run(scen(pools, [{"id": "scrap", "type": "retire", "pool": "cn3", "replaced_by": "cn6", "quantity": "100 辆"}]), LIB)
    assert red(r, "scrap", "NOx") == pytest.approx(100 * (10 * 50000 - 1.42 * 80000) / 1e6, rel=1e-9)
