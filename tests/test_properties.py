"""Invariants of the engine, for any generated scenario (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.core import engine
from sim.evaluation.evaluate import run
from sim.model.coefficients import Library
from sim.model.compile import compile_model
from sim.model.load import scenario_from_dict

EMPTY = Library()
POLS = ["NOx", "SO2", "COD"]


@st.composite
def scenarios(draw):
    n_pools = draw(st.integers(1, 4))
    pools = []
    for i in range(n_pools):
        act = draw(st.floats(1.0, 1e4))
        pools.append({
            "id": f"p{i}", "activity": f"{act} t/a",
            "growth": draw(st.floats(-0.05, 0.08)),
            "ef": {p: f"{draw(st.floats(0.0, 50.0))} kg/t" for p in POLS},
        })
    measures = []
    # activity edits: per pool at most 90% of the smallest grown activity in total
    for i, pool in enumerate(pools):
        act = float(pool["activity"].split()[0])
        low = act * (1 + min(0.0, pool["growth"])) ** 3
        budget = 0.9 * low
        for j in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["retire", "switch", "control", "standard", "treat"]))
            mid = f"m{i}_{j}"
            m = {"id": mid, "pool": f"p{i}", "type": kind}
            if kind in ("retire", "switch"):
                q = draw(st.floats(0.0, 1.0)) * budget / 4
                m["quantity"] = f"{q} t/a"
                if kind == "switch":
                    m["to"] = f"p{draw(st.integers(0, n_pools - 1))}"
                    if m["to"] == f"p{i}":
                        m["type"] = "retire"
                        del m["to"]
            elif kind == "control":
                m["share"] = draw(st.floats(0.0, 1.0))
                m["efficiency"] = {p: draw(st.floats(0.0, 1.0)) for p in POLS[:2]}
            elif kind == "standard":
                m["share"] = draw(st.floats(0.0, 1.0))
                m["ef"] = {"NOx": f"{draw(st.floats(0.0, 5.0))} kg/t"}
            else:
                m["quantity"] = "1 座"
                # at most a quarter of the pool's smallest COD emissions
                cod = float(pool["ef"]["COD"].split()[0]) * low / 1000 / 4
                m["removal"] = {"COD": f"{draw(st.floats(0.0, 1.0)) * cod * 0.99} t/(座*a)"}
            if draw(st.booleans()):
                m["completion"] = draw(st.floats(0.0, 1.0))
            measures.append(m)
    order = draw(st.permutations(range(len(measures))))
    return {"name": "prop", "region": "r", "base_year": 2020, "years": [2021, 2023],
            "inventory": pools, "measures": [measures[k] for k in order]}


def _run(data, attribution="sequential"):
    return run(scenario_from_dict(data), EMPTY, attribution=attribution)


SET = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SET
@given(scenarios())
def test_no_pool_goes_negative(data):
    ds = _run(data).dataset
    assert (ds["emissions"].values >= -1e-9).all()


@SET
@given(scenarios())
def test_no_measure_removes_more_than_its_pool_holds(data):
    scen = scenario_from_dict(data)
    model = compile_model(scen, EMPTY)
    inp = model.inputs()
    base = engine.baseline(inp)[0]
    for j in range(len(model.measures)):
        mask = np.zeros((1, len(model.measures)))
        mask[0, j] = 1.0
        alone = engine.emissions(inp, mask)[0]
        k = model.src[j]
        cut = base[k] - alone[k]
        assert (cut <= base[k] + 1e-9).all()
    # and all together never remove more than the whole inventory
    ds = run(scen, EMPTY).dataset
    # (switches add activity to other pools; nothing ends below zero, so the cut is bounded)
    assert (ds["reduction_total"].values <= ds["baseline_total"].values * (1 + 1e-9) + 1e-9).all()


@SET
@given(scenarios())
def test_totals_identical_under_sequential_and_shapley(data):
    a = _run(data, "sequential").dataset
    b = _run(data, "shapley").dataset
    np.testing.assert_allclose(a["reduction"].sum("measure"), b["reduction"].sum("measure"), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(a["reduction"].sum("measure"), a["reduction_total"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(a["emissions_total"], b["emissions_total"], rtol=0, atol=0)


@SET
@given(scenarios(), st.randoms(use_true_random=False))
def test_reordering_measures_changes_no_total(data, rnd):
    a = _run(data).dataset
    shuffled = dict(data)
    ms = list(data["measures"])
    rnd.shuffle(ms)
    shuffled["measures"] = ms
    b = _run(shuffled).dataset
    np.testing.assert_allclose(a["emissions_total"], b["emissions_total"], rtol=1e-12, atol=1e-9)
    # exact Shapley credit per measure does not depend on order either (groups of more than 12
    # linked measures use a seeded permutation estimate, which may)
    model = compile_model(scenario_from_dict(data), EMPTY)
    if any(len(ms) > 12 for ms, _ in engine.components(model.inputs())):
        return
    sa = _run(data, "shapley").dataset["reduction"]
    sb = _run(shuffled, "shapley").dataset["reduction"].sel(measure=sa["measure"])
    np.testing.assert_allclose(sa, sb, rtol=1e-9, atol=1e-6)


@SET
@given(scenarios(), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_fast_totals_equal_dense_engine_under_sampling(data, n, seed):
    # the Monte Carlo kernel (separable expansion + matmuls) gives the dense engine's totals
    from sim.core.uncertainty import draw_matrix

    model = compile_model(scenario_from_dict(data), EMPTY)
    names = model.param_names
    rng = np.random.default_rng(seed)
    x = np.repeat(model.param_matrix(n=1), n, axis=0)
    # perturb growth, completion and shares within their ranges
    for j, name in enumerate(names):
        if name.startswith(("completion:", "share:")):
            x[:, j] = rng.uniform(0, 1, n)
        elif name.startswith("growth:"):
            x[:, j] = x[:, j] + rng.uniform(-0.02, 0.02, n)
    _ = draw_matrix
    inp = model.inputs_from_matrix(x)
    dense = engine.emissions(inp).sum(axis=1)
    for max_expand in (0, 4):
        fast = engine.emission_totals(inp, max_expand=max_expand)
        np.testing.assert_allclose(fast, dense, rtol=1e-9, atol=1e-7)
    base, emis = engine.totals(inp)
    np.testing.assert_allclose(base, engine.baseline(inp).sum(axis=1), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(emis, dense, rtol=1e-9, atol=1e-7)


@SET
@given(scenarios())
def test_alone_reductions_equal_the_engine_with_one_measure_on(data):
    model = compile_model(scenario_from_dict(data), EMPTY)
    inp = model.inputs()
    m = len(model.measures)
    if m == 0:
        return
    closed = engine.alone_reductions(inp)
    base = engine.baseline(inp)[0].sum(axis=0)
    masked = base[None] - engine.emissions(inp, np.eye(m)).sum(axis=1)
    np.testing.assert_allclose(closed, masked, rtol=1e-9, atol=1e-7)
