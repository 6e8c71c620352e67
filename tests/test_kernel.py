"""The stacked-matmul kernel (sim/core/kernel.py) gives the engine's totals."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.core import engine, kernel
from sim.evaluation.evaluator import Sampler
from sim.model.coefficients import Library, load_library
from sim.model.compile import compile_model
from sim.model.load import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic import synthetic_scenario  # noqa: E402


def same(inp, plan=None):
    b0, e0 = engine.totals(inp)
    b1, e1 = kernel.totals(inp, plan)
    scale = max(1.0, float(np.abs(b0).max()))
    np.testing.assert_allclose(b1, b0, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(e1, e0, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("name", ["ankang-2025.yaml", "ankang-2025-costs.yaml", "hengyang-2019.yaml", "jiaozuo-2022.yaml",
                                  "jincheng-2020.yaml", "ningbo-2022.yaml"])
def test_examples(name):
    model = compile_model(load_scenario(ROOT / "scenarios" / name), load_library())
    same(model.inputs_from_matrix(Sampler(model, 64, 3).rows(0)))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 60), st.integers(1, 8), st.integers(0, 10_000), st.booleans())
def test_synthetic(m, years, seed, force_dense):
    model = compile_model(scenario_from_dict(synthetic_scenario(m, years, seed=seed)), Library())
    inp = model.inputs_from_matrix(Sampler(model, 20, seed).rows(0))
    dense = None
    if force_dense:  # a slot for pools whose multiplier is not the product (e.g. disjoint shares)
        dense = np.zeros(inp.n_pools, dtype=bool)
        dense[::2] = True
    same(inp, kernel.make_plan(inp.kind, inp.src, inp.tgt, inp.n_pools, dense=dense))


def test_crowded_pool_goes_dense_and_switches_move_activity():
    # 6 controls on one pool (more than max_expand = 4) and a switch into a second pool
    measures = [{"id": f"c{i}", "type": "control", "pool": "a", "share": 0.3 + 0.1 * i, "efficiency": {"NOx": f"{10 * i + 5}%"}}
                for i in range(6)]
    measures.append({"id": "sw", "type": "switch", "pool": "a", "to": "b", "quantity": "200 t/a", "conversion": 0.5})
    measures.append({"id": "cb", "type": "control", "pool": "b", "share": 1.0, "efficiency": {"NOx": "50%"}})
    scen = scenario_from_dict({"name": "例", "region": "r", "base_year": 2024, "years": [2026],
                               "inventory": [{"id": "a", "activity": "1000 t/a", "ef": {"NOx": "3 kg/t"}},
                                             {"id": "b", "activity": "100 t/a", "ef": {"NOx": "1 kg/t"}}],
                               "measures": measures})
    model = compile_model(scen, Library())
    inp = model.inputs()
    plan = kernel.make_plan(inp.kind, inp.src, inp.tgt, inp.n_pools)
    assert plan.dense_pools.tolist() == [0]
    same(inp, plan)


def test_clipped_treatment_falls_back_to_the_engine():
    # a plant removing 5 t COD from a pool that emits 1000 t x 4 g/t = 4 t: emission clipped at 0
    scen = scenario_from_dict({"name": "例", "region": "r", "base_year": 2024, "years": [2025],
                               "inventory": [{"id": "w", "activity": "1000 t/a", "ef": {"COD": "4 kg/t"}}],
                               "measures": [{"id": "t", "type": "treat", "pool": "w", "quantity": "1 座",
                                             "removal": {"COD": "3 t/(座*a)"}}]})
    model = compile_model(scen, Library())
    inp = model.inputs()
    big = dataclasses.replace(inp, removal=inp.removal * 5)  # 15 t > 4 t: the clip bites
    _, e = kernel.totals(big)
    assert e[0, 0, -1] == pytest.approx(0.0, abs=1e-12)
    same(big)
    same(inp)


@pytest.mark.parametrize("name", ["ankang-2025.yaml", "hengyang-2019.yaml", "jiaozuo-2022.yaml", "jincheng-2020.yaml",
                                  "ningbo-2022.yaml", "synthetic"])
def test_kernel_takes_its_own_path(name, monkeypatch):
    # the kernel must not quietly hand every call to the engine (a field added to EngineInputs once did)
    scen = (scenario_from_dict(synthetic_scenario(40, 6)) if name == "synthetic"
            else load_scenario(ROOT / "scenarios" / name))
    model = compile_model(scen, load_library())
    inp = model.inputs_from_matrix(Sampler(model, 16, 1).rows(0))
    plan = kernel.make_plan(model.kind, model.src, model.tgt, len(model.pools), group=model.group)
    expected = engine.totals(inp)

    def refuse(*a, **k):
        raise AssertionError("fell back to the engine")

    monkeypatch.setattr(engine, "totals", refuse)
    monkeypatch.setattr(engine, "emission_totals", refuse)
    b, e = kernel.totals(inp, plan)
    np.testing.assert_allclose(e, expected[1], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(b, expected[0], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("name", ["ankang-2025.yaml", "hengyang-2019.yaml", "jiaozuo-2022.yaml", "jincheng-2020.yaml",
                                  "ningbo-2022.yaml"])
def test_grids_read_as_the_slots_say(name):
    # inputs_from_matrix reads one-term cells straight from the key values (Model.cells) and the
    # rest from slot_values: every cell must equal the slot's value, bit for bit
    model = compile_model(load_scenario(ROOT / "scenarios" / name), load_library())
    x = Sampler(model, 40, 5).rows(0)
    inp = model.inputs_from_matrix(x)
    sv = model.slot_values(x)
    for prefix, grid in (("ef", inp.ef), ("removal", inp.removal), ("conv", inp.conv[:, :, None])):
        idx, i, j = model._layout(prefix)
        np.testing.assert_array_equal(grid[:, i, j], sv[:, idx])
    eff_idx, i, j = model._layout("eff")
    ctl = model.kind[i] == engine.CONTROL  # a standard's cut is computed from its new factor
    np.testing.assert_array_equal(inp.cut[:, i[ctl], j[ctl]], sv[:, eff_idx[ctl]])
    sums = sum(len(model.cells(p, len(model.measures), len(model.pollutants)).sum_cells) for p in ("eff", "removal"))
    assert sums + len(model.cells("ef", len(model.pools), len(model.pollutants)).sum_cells) > 0  # the examples use both paths


def test_products_of_keys_are_multiplied():
    # a factor of two keys (e.g. g/m3 x m3/t) is coef * k1 * k2 left to right (the unit factor
    # first), not exp(log k1 + log k2)
    scen = scenario_from_dict({"name": "例", "region": "r", "base_year": 2024, "years": [2025],
                               "coefficients": {"conc": {"value": 3.0, "unit": "g/m3", "source": "test"},
                                                "vol": {"value": 7.0, "unit": "m3/t", "source": "test"}},
                               "inventory": [{"id": "a", "activity": "1000 t/a", "ef": {"COD": ["conc", "vol"]}}],
                               "measures": [], "targets": []})
    model = compile_model(scen, Library())
    assert model.inputs().ef[0, 0, 0] == 1e-6 * 3.0 * 7.0  # g/t -> t/t
    assert model.slot_values(model.param_matrix(n=1))[0, model.slot("ef[0,0]")] == 1e-6 * 3.0 * 7.0


def test_grids_of_constants_and_longer_sums_read_as_the_slots_say():
    # a numeric conversion (a constant cell of a grid whose default is 1: conv is read sparsely)
    # and a removal of three terms (removal plus c_in - c_out for one pollutant)
    scen = scenario_from_dict({
        "name": "例", "region": "r", "base_year": 2024, "years": [2025], "targets": [],
        "inventory": [{"id": "coal", "activity": "1000 t/a", "ef": {"SO2": "0.01 t/t"}},
                      {"id": "gas", "activity": "0 m3/a", "ef": {"SO2": "0.000001 t/m3"}},
                      {"id": "ww", "activity": "1000 m3/a", "ef": {"COD": "0.0003 t/m3"}}],
        "measures": [{"id": "c2g", "type": "switch", "pool": "coal", "to": "gas", "quantity": "500 t/a",
                      "conversion": "700 m3/t", "year": 2025},
                     {"id": "r1", "type": "retire", "pool": "coal", "quantity": "10 t/a", "year": 2025},
                     {"id": "r2", "type": "retire", "pool": "coal", "quantity": "10 t/a", "year": 2025},
                     {"id": "wwtp", "type": "treat", "pool": "ww", "quantity": "100 m3/a", "year": 2025,
                      "c_in": {"COD": "250 mg/L"}, "c_out": {"COD": "50 mg/L"}, "removal": {"COD": "10 mg/L"}}]})
    model = compile_model(scen, Library())
    x = model.param_matrix(n=1)
    inp = model.inputs_from_matrix(x)
    assert inp.conv[0, 0] == 700.0  # not the grid's default 1
    sv = model.slot_values(x)
    for prefix, grid in (("conv", inp.conv[:, :, None]), ("removal", inp.removal)):
        idx, i, j = model._layout(prefix)
        np.testing.assert_array_equal(grid[:, i, j], sv[:, idx])


def test_a_standards_cut_by_hand():
    # pool ef (kg/t): NOx 2, SO2 4, COD 0; the standard sets NOx 1.5 (cut 1 - 1.5/2 = 0.25), SO2 6
    # (looser than today: no cut) and COD 1 (the pool emits none: no cut); PM25 has no new factor
    scen = scenario_from_dict({"name": "例", "region": "r", "base_year": 2024, "years": [2025],
                               "inventory": [{"id": "a", "activity": "1000 t/a",
                                              "ef": {"NOx": "2 kg/t", "SO2": "4 kg/t", "COD": "0 kg/t", "PM25": "1 kg/t"}}],
                               "measures": [{"id": "std", "type": "standard", "pool": "a", "share": "100%", "year": 2025,
                                             "ef": {"NOx": "1.5 kg/t", "SO2": "6 kg/t", "COD": "1 kg/t"}}],
                               "targets": []})
    model = compile_model(scen, Library())
    cut = model.inputs().cut[0, 0]
    expect = {"NOx": 1 - 1.5 / 2, "SO2": 0.0, "COD": 0.0, "PM25": 0.0}
    assert {p: cut[model.pollutants.index(p)] for p in expect} == expect
