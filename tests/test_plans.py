"""The example scenarios read like their plans (issue 17): periods, targets, assumptions, standards.

Each test states the plan fact or the standard it checks, with its arithmetic where there is one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.main import main
from sim.evaluation.evaluate import run
from sim.model.coefficients import load_library
from sim.model.compile import compile_model
from sim.model.load import load_scenario, scenario_from_dict
from sim.model.standards import GB13271_2014, check_standards, implied_concentration

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
LIB = load_library()


def _scenario(name: str):
    return load_scenario(str(ROOT / "scenarios" / name))


# ---- GB 13271-2014 -----------------------------------------------------------------------------

def test_gb13271_table_cells():
    # 表1 in-use coal: PM 80, SO2 400, NOx 400; 表2 new coal 50/300/300; 表3 special coal 30/200/200;
    # gas in use PM 30, SO2 100; gas special NOx 150 (mg/m3)
    assert GB13271_2014[("coal", "in_use", "PM")].mg_m3 == 80
    assert GB13271_2014[("coal", "in_use", "SO2")].mg_m3 == 400
    assert GB13271_2014[("coal", "new", "SO2")].mg_m3 == 300
    assert GB13271_2014[("coal", "special", "PM")].mg_m3 == 30
    assert GB13271_2014[("gas", "in_use", "SO2")].mg_m3 == 100
    assert GB13271_2014[("gas", "special", "NOx")].mg_m3 == 150


def test_boiler_defaults_sit_within_the_in_use_limits():
    # per 蒸吨-year: SO2 563.5 t coal x 4 kg/t -> 4 kg/t / 0.01 = 400 mg/m3 (limit 400);
    # PM 0.8 kg/t -> 80 mg/m3 (limit 80); NOx 3 kg/t -> 300 mg/m3 (limit 400)
    for kind in ("industrial", "heating"):
        assert implied_concentration(LIB, f"boiler_coal_{kind}_so2_per_steam_ton", "coal") == pytest.approx(400)
        assert implied_concentration(LIB, f"boiler_coal_{kind}_pm_per_steam_ton", "coal") == pytest.approx(80)
        assert implied_concentration(LIB, f"boiler_coal_{kind}_nox_per_steam_ton", "coal") == pytest.approx(300)
    # the old default (S 1 %, desulfurisation 60 %): 16 x 1 x 0.4 = 6.4 kg/t -> 640 mg/m3
    assert implied_concentration(LIB, "boiler_coal_so2_ef_small", "coal") == pytest.approx(640)
    # gas: 5.5 kg/10^4 m3 / 0.11 = 50 mg/m3 (gas boiler low-NOx factor)
    assert implied_concentration(LIB, "boiler_gas_industrial_nox_per_steam_ton", "gas") == pytest.approx(50)


def _boiler_scenario(so2: str | list[str], standard: str | None = None):
    pool = {"id": "boiler.coal.x", "activity": "100 蒸吨", "ef": {"SO2": so2, "PM": "boiler_coal_industrial_pm_per_steam_ton"}}
    if standard:
        pool["standard"] = standard
    return scenario_from_dict({"name": "t", "region": "t", "base_year": 2020, "years": [2021], "inventory": [pool]})


def test_factor_above_the_limit_is_named_with_the_standard_in_the_run():
    # 563.5 t/(蒸吨·a) x 6.4 kg/t: 640 mg/m3 > 400 (表1)
    s = _boiler_scenario(["steam_ton_coal_industrial_annual", "boiler_coal_so2_ef_small"])
    warnings = compile_model(s, LIB).warnings
    hit = [w for w in warnings if "boiler.coal.x" in w and "SO2" in w]
    assert len(hit) == 1
    assert "GB 13271-2014" in hit[0] and "表1" in hit[0] and "≈640 mg/m³" in hit[0] and "400 mg/m³" in hit[0]
    assert hit[0] in run(s, LIB).warnings


def test_special_limit_applies_where_the_pool_says_so():
    # the in-use default 400 mg/m3 is above the 表3 special limit 200; PM 80 above 30
    s = _boiler_scenario("boiler_coal_industrial_so2_per_steam_ton", standard="special")
    text = " ".join(check_standards(s, LIB))
    assert "表3" in text and "200 mg/m³" in text and "30 mg/m³" in text
    s = _boiler_scenario(["steam_ton_coal_industrial_annual", "boiler_coal_so2_ef_special"], standard="special")
    assert not [w for w in check_standards(s, LIB) if "SO2" in w]
    assert not check_standards(_boiler_scenario("boiler_coal_industrial_so2_per_steam_ton", standard="none"), LIB)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_boiler_pool_within_gb13271_or_warned(name):
    scen = _scenario(name)
    warnings = compile_model(scen, LIB).warnings
    for pool in scen.pools:
        if not str(pool.id).startswith("boiler.coal") or pool.standard == "none":
            continue
        for pol, spec in pool.ef.items():
            if pol not in ("SO2", "PM", "NOx"):
                continue
            conc = implied_concentration(LIB, spec, "coal")
            assert conc is not None, (name, pool.id, pol)
            limit = GB13271_2014[("coal", pool.standard or "in_use", pol)].mg_m3
            assert conc <= limit * 1.005 or any(pool.id in w and "GB 13271-2014" in w for w in warnings), (name, pool.id, pol, conc)


# ---- the plans' targets and what the examples say about them ------------------------------------

def test_ankang_carries_its_pm25_target():
    # 安康市实施方案: 细颗粒物(PM2.5)年平均浓度不高于29微克/立方米 (2025)
    scen = _scenario("ankang-2025.yaml")
    t = next(t for t in scen.targets if t.kind == "concentration")
    assert (t.pollutant, t.value, t.year) == ("PM25", "29 ug/m3", 2025)
    assert scen.air_quality is not None and scen.air_quality.region == "安康市"
    items = " ".join(o.item for o in scen.out_of_scope)
    for plan_target in ("优良天数", "重金属", "二氧化碳"):
        assert plan_target in items
    assert any("国三及以下排放标准汽车" in a.text for a in scen.assumptions)


@pytest.mark.parametrize("name", EXAMPLES)
def test_no_example_calls_a_supported_feature_unsupported(name):
    text = (ROOT / "scenarios" / name).read_text(encoding="utf-8")
    for word in ("unsupported", "not supported", "不支持", "does not model"):
        assert word not in text, (name, word)


@pytest.mark.parametrize("name,target", [("hengyang-2019.yaml", "43 ug/m3"), ("ningbo-2022.yaml", "26 ug/m3")])
def test_plans_with_a_pm25_ceiling_evaluate_it(name, target):
    scen = _scenario(name)
    assert [t.value for t in scen.targets if t.kind == "concentration"] == [target]


def test_dropped_measures_are_listed():
    jc = " ".join(o.item for o in _scenario("jincheng-2020.yaml").out_of_scope)
    assert "钢铁、焦化、水泥" in jc
    hy = " ".join(o.item for o in _scenario("hengyang-2019.yaml").out_of_scope)
    assert "钢铁行业烟气治理" in hy


def test_jiaozuo_credits_only_its_period():
    scen = _scenario("jiaozuo-2022.yaml")
    ids = {m.id for m in scen.measures}
    # 4918.3 蒸吨 boilers and 37.85万户 双替代 predate 2021: in the base inventory, not measures
    assert not ids & {"coal-boilers", "double-substitution-gas", "double-substitution-elec"}
    trucks = next(m for m in scen.measures if m.id == "china3-trucks")
    assert trucks.quantity == "3773 辆"  # scrapped, not the 12,996 deregistered
    assert scen.period and "2022-05-20" in scen.period
    pools = {p.id: p for p in scen.pools}
    assert pools["boiler.gas.industrial"].activity == "4918.3 蒸吨"
    assert pools["household.gas.heating"].activity == "189250 户"  # 378,500 x 50 %


def test_jiaozuo_run_and_appendix_state_the_period(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    res = CliRunner().invoke(main, ["run", str(ROOT / "scenarios" / "jiaozuo-2022.yaml"), "--no-figures"])
    assert res.exit_code == 0, res.output
    assert "评估时段与计入范围" in res.output and "决定结论的假设" in res.output and "未评估的规划目标和措施" in res.output
    folder = next((tmp_path / "outputs" / "jiaozuo-2022").iterdir())
    man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert "2022-05-20" in man["period"]
    assert any("nox-2025" in a.get("decides", []) for a in man["assumptions"])
    assert any("4918.3" in o["item"] for o in man["out_of_scope"])
    # without the pre-2021 cumulative totals the illustrative NOx target is not met
    assert next(t for t in man["targets"] if t["target"] == "nox-2025")["status"] == "not met"
    res = CliRunner().invoke(main, ["appendix", "jiaozuo-2022", "--format", "md", "--out", str(tmp_path / "app")])
    assert res.exit_code == 0, res.output
    md = next((tmp_path / "app").glob("*.md")).read_text(encoding="utf-8")
    assert "评估时段与计入范围" in md and "2022-05-20" in md
    assert "决定结论的主要假设" in md and "规划中未纳入本评估的目标和措施" in md


def test_assumption_naming_an_unknown_target_warns():
    s = scenario_from_dict({"name": "t", "region": "t", "base_year": 2020, "years": [2021],
                            "inventory": [{"id": "p", "emissions": {"COD": "100 t/a"}}],
                            "assumptions": [{"text": "x", "decides": ["nope"]}]})
    assert any("'nope'" in w for w in compile_model(s, LIB).warnings)


# ---- library -----------------------------------------------------------------------------------

def test_truck_factor_in_line_with_in_use_evidence():
    # 10 g/km x 50,000 km = 0.50 t NOx per China III truck-year, inside 0.3-0.6 t
    assert LIB.evaluate("veh_hdt_cn3_nox_annual") == pytest.approx(500.0)  # kg/(辆·a)
    c = LIB["veh_hdt_vkt_cn3_inuse"]
    assert c.low < c.value < c.high  # two-sided


def test_one_sided_ranges_say_so():
    for key in ("pig_feeding_period_adj", "boiler_coal_so2_conc_inuse", "boiler_coal_pm_conc_inuse"):
        assert "one-sided" in LIB[key].note.lower(), key


def test_coefficients_show_lists_examples_through_derived_rows():
    res = CliRunner().invoke(main, ["coefficients", "show", "steam_ton_coal_per_h"])
    assert res.exit_code == 0, res.output
    used = res.output.split("used by:")[1]
    assert "(no example scenario)" not in used
    for name in ("ankang-2025.yaml", "hengyang-2019.yaml", "jiaozuo-2022.yaml", "jincheng-2020.yaml"):
        assert name in used
    assert "via boiler_coal_" in used


def test_key_region_after_2018_takes_the_special_limits():
    # 焦作 is a 2+26 city; with a 2021 base the in-use default (400 mg/m3 SO2) is above 表3's 200
    def scen(region, base_year):
        return scenario_from_dict({"name": "t", "region": region, "base_year": base_year, "years": [base_year + 1],
                                   "inventory": [{"id": "boiler.coal.x", "activity": "100 蒸吨",
                                                  "ef": {"SO2": "boiler_coal_industrial_so2_per_steam_ton"}}]})
    hit = check_standards(scen("焦作市", 2021), LIB)
    assert len(hit) == 1 and "表3" in hit[0] and "2+26" in hit[0]
    assert not check_standards(scen("焦作市", 2015), LIB)   # before the special limits: in-use 400 applies
    assert not check_standards(scen("安康市", 2021), LIB)   # not a key-region city
