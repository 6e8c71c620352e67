"""Disjoint groups: measures on separate parts of one pool (DESIGN.md section 3, GAINS application rates)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli.main import main
from sim.core import engine
from sim.core.errors import InputError
from sim.evaluation.evaluate import run
from sim.model.coefficients import Library
from sim.model.compile import compile_model
from sim.model.load import scenario_from_dict

EMPTY = Library()
POLS = ["NOx", "SO2"]
SET = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def boiler(measures, years=(2021,)):
    """One pool of 1,000 蒸吨 at 1 t NOx per 蒸吨 and year."""
    return {"name": "t", "region": "r", "base_year": 2020, "years": list(years),
            "inventory": [{"id": "b", "activity": "1000 蒸吨", "ef": {"NOx": "1 t/(蒸吨*a)"}}],
            "measures": measures}


def nox(data) -> float:
    return float(run(scenario_from_dict(data), EMPTY).dataset["emissions"].sel(pollutant="NOx").sum("pool").values[-1])


def test_worked_example_sncr_and_scr_on_separate_halves():
    # 1,000 蒸吨 x 1 t/蒸吨 = 1,000 t. SNCR (50%) on 500 蒸吨 and SCR (90%) on 500 蒸吨:
    #   same share (default): 1,000 x (1 - 0.5 x 0.5) x (1 - 0.5 x 0.9) = 1,000 x 0.75 x 0.55 = 412.5 t
    #   disjoint halves:      500 x (1 - 0.5) + 500 x (1 - 0.9) = 250 + 50 = 300 t  (a reduction of 700 t)
    ms = [{"id": "sncr", "type": "control", "pool": "b", "quantity": "500 蒸吨", "efficiency": {"NOx": 0.5}},
          {"id": "scr", "type": "control", "pool": "b", "quantity": "500 蒸吨", "efficiency": {"NOx": 0.9}}]
    assert nox(boiler(ms)) == pytest.approx(412.5, rel=1e-12)
    for m in ms:
        m["disjoint_group"] = "denox"
    assert nox(boiler(ms)) == pytest.approx(300.0, rel=1e-12)


def test_worked_example_retirement_takes_the_uncovered_part():
    # retire 300 蒸吨 and SCR (90%) on 500 蒸吨 of the 1,000:
    #   default (retirement in proportion): 700 x (1 - 0.5 x 0.9) = 385 t
    #   disjoint: uncovered 1,000 - 300 - 500 = 200 t, plus 500 x 0.1 = 50 t -> 250 t
    ms = [{"id": "ret", "type": "retire", "pool": "b", "quantity": "300 蒸吨"},
          {"id": "scr", "type": "control", "pool": "b", "quantity": "500 蒸吨", "efficiency": {"NOx": 0.9}}]
    assert nox(boiler(ms)) == pytest.approx(385.0, rel=1e-12)
    for m in ms:
        m["disjoint_group"] = "g"
    assert nox(boiler(ms)) == pytest.approx(250.0, rel=1e-12)


def test_a_group_taking_more_than_the_pool_is_an_input_error(tmp_path, monkeypatch):
    # 600 + 300 蒸吨 retired/covered and a 30% share: 0.6 + 0.3 + 0.3 = 1.2 of the pool in 2021
    ms = [{"id": "a", "type": "control", "pool": "b", "quantity": "600 蒸吨", "efficiency": {"NOx": 0.5}, "disjoint_group": "g"},
          {"id": "r", "type": "retire", "pool": "b", "quantity": "300 蒸吨", "disjoint_group": "g"},
          {"id": "c", "type": "control", "pool": "b", "share": 0.3, "efficiency": {"NOx": 0.9}, "disjoint_group": "g"}]
    with pytest.raises(InputError) as exc:
        run(scenario_from_dict(boiler(ms)), EMPTY)
    msg = str(exc.value)
    assert "'g'" in msg and "'b'" in msg and "2021" in msg and "1.2" in msg
    assert "a 0.6" in msg and "r 0.3" in msg and "c 0.3" in msg
    # through the CLI: exit 2, file:line of the group, nothing written
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(boiler(ms), allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = CliRunner().invoke(main, ["run", "s.yaml"])
    assert out.exit_code == 2
    assert "s.yaml:" in out.output and "disjoint_group" in out.output and "Traceback" not in out.output
    assert not (tmp_path / "outputs").exists()


def test_treatment_measures_cannot_join_a_group():
    data = boiler([{"id": "t", "type": "treat", "pool": "b", "quantity": "1 座", "removal": {"NOx": "1 t/(座*a)"},
                    "disjoint_group": "g"}])
    with pytest.raises(InputError, match="disjoint_group"):
        scenario_from_dict(data)


def test_schema_describes_the_field():
    out = CliRunner().invoke(main, ["schema"])
    assert out.exit_code == 0
    assert "disjoint_group" in out.stdout and "separate parts" in out.stdout


# ---- properties ------------------------------------------------------------------------------

@st.composite
def grouped_scenarios(draw, switches: bool = True):
    """Pools with retire/switch/control/standard measures, some in disjoint groups whose shares
    (by share, or quantity over the smallest grown activity) sum to at most 95%."""
    n_pools = draw(st.integers(1, 3))
    pools = []
    for i in range(n_pools):
        pools.append({"id": f"p{i}", "activity": f"{draw(st.floats(10.0, 1e4))} t/a", "growth": draw(st.floats(-0.05, 0.08)),
                      "ef": {p: f"{draw(st.floats(0.0, 50.0))} kg/t" for p in POLS}})
    measures = []
    for i, pool in enumerate(pools):
        act = float(pool["activity"].split()[0])
        low = act * (1 + min(0.0, pool["growth"])) ** 3
        budget = {"g": 0.95, "h": 0.95, None: 0.9}
        for j in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["retire", "switch", "control", "standard"] if switches else ["retire", "control", "standard"]))
            group = draw(st.sampled_from(["g", "g", "h", None]))
            moves = kind in ("retire", "switch")
            room = budget[group] if group else 0.9 / 4
            frac = draw(st.floats(0.0, 1.0)) * (min(room, budget[None]) if moves else room)
            if group:
                budget[group] -= frac
            if moves:  # everything retired or switched, grouped or not, stays within 90% of the pool
                budget[None] -= frac
            m = {"id": f"m{i}_{j}", "pool": f"p{i}", "type": kind}
            if group:
                m["disjoint_group"] = group
            if kind in ("retire", "switch"):
                m["quantity"] = f"{frac * low} t/a"
                to = draw(st.integers(0, n_pools - 1))
                if kind == "switch" and to != i:
                    m["to"] = f"p{to}"
                else:
                    m["type"] = "retire"
            elif draw(st.booleans()):
                m["share"] = frac
            else:
                m["quantity"] = f"{frac * low} t/a"
            if kind == "control":
                m["efficiency"] = {p: draw(st.floats(0.0, 1.0)) for p in POLS}
            elif kind == "standard":
                m["ef"] = {"NOx": f"{draw(st.floats(0.0, 5.0))} kg/t"}
            if draw(st.booleans()):
                m["completion"] = draw(st.floats(0.0, 1.0))
            measures.append(m)
    order = draw(st.permutations(range(len(measures))))
    return {"name": "prop", "region": "r", "base_year": 2020, "years": [2021, 2023],
            "inventory": pools, "measures": [measures[k] for k in order]}


def reference_emissions(model) -> np.ndarray:
    """[K,P,Y] by hand, one pool, pollutant and year at a time (the documented arithmetic):
    E = A_eff EF prod_(ungrouped) (1 - c d) prod_groups max(0, 1 - A sum_g c d / B_g),
    B_g = A - moved out by g's members + moved in; c = share, or quantity / A."""
    inp = model.inputs()
    a = engine.grown_activity(inp)[0]
    f = inp.implemented[0]
    k_n, p_n, y_n = a.shape[0], inp.ef.shape[2], a.shape[1]
    group = model.group
    out = np.zeros((k_n, p_n, y_n))
    for k in range(k_n):
        for y in range(y_n):
            moved_out = {}
            gained = 0.0
            out_all = 0.0
            for m in range(len(model.measures)):
                if model.kind[m] in (engine.RETIRE, engine.SWITCH):
                    q = inp.qty[0, m] * f[m, y]
                    if model.src[m] == k:
                        out_all += q
                        moved_out[group[m]] = moved_out.get(group[m], 0.0) + q
                    if model.tgt[m] == k:
                        gained += q * inp.conv[0, m]
            a_eff = max(a[k, y] - out_all + gained, 0.0)
            for p in range(p_n):
                factor = 1.0
                sums = {}
                for m in range(len(model.measures)):
                    if model.kind[m] not in (engine.CONTROL, engine.STANDARD) or model.src[m] != k:
                        continue
                    c = inp.share[0, m] if np.isnan(inp.qty[0, m]) else inp.qty[0, m] / a[k, y]
                    cd = min(max(c, 0.0), 1.0) * f[m, y] * min(inp.cut[0, m, p], 1.0)
                    if group[m] < 0:
                        factor *= 1.0 - cd
                    else:
                        sums[group[m]] = sums.get(group[m], 0.0) + cd
                for g, s in sums.items():
                    room = a[k, y] - moved_out.get(g, 0.0) + gained
                    factor *= min(max(1.0 - (a[k, y] * s / room if s > 0 else 0.0), 0.0), 1.0)
                out[k, p, y] = a_eff * inp.ef[0, k, p] * factor
    return out


@SET
@given(grouped_scenarios())
def test_emissions_equal_the_hand_written_reference(data):
    model = compile_model(scenario_from_dict(data), EMPTY)
    np.testing.assert_allclose(engine.emissions(model.inputs())[0], reference_emissions(model), rtol=1e-9, atol=1e-9)


@SET
@given(grouped_scenarios(switches=False))
def test_one_group_per_pool_is_its_separate_parts(data):
    # every measure of a pool in one group: uncovered + sum of covered parts, each at its own factor
    for m in data["measures"]:
        m["disjoint_group"] = "all"
    try:
        model = compile_model(scenario_from_dict(data), EMPTY)
    except InputError:
        return  # the group now takes more than the pool holds
    inp = model.inputs()
    a = engine.grown_activity(inp)[0]
    f = inp.implemented[0]
    want = np.zeros((a.shape[0], inp.ef.shape[2], a.shape[1]))
    for k in range(a.shape[0]):
        ms = np.nonzero(model.src == k)[0]
        for y in range(a.shape[1]):
            retired = sum(inp.qty[0, m] * f[m, y] for m in ms if model.kind[m] == engine.RETIRE)
            parts = [((inp.share[0, m] * a[k, y] if np.isnan(inp.qty[0, m]) else inp.qty[0, m]) * f[m, y], inp.cut[0, m])
                     for m in ms if model.kind[m] in (engine.CONTROL, engine.STANDARD)]
            uncovered = a[k, y] - retired - sum(act for act, _ in parts)
            want[k, :, y] = inp.ef[0, k] * (uncovered + sum(act * (1 - cut) for act, cut in parts))
    np.testing.assert_allclose(engine.emissions(inp)[0], want, rtol=1e-9, atol=1e-7)


@SET
@given(grouped_scenarios(switches=False))
def test_a_group_of_one_measure_equals_no_group(data):
    # one member per group: the same numbers as the default (pools fed by no switch here)
    seen = set()
    for m in data["measures"]:
        key = (m["pool"], m.get("disjoint_group"))
        if "disjoint_group" in m and key in seen:
            del m["disjoint_group"]
        seen.add(key)
    plain = [{k: v for k, v in m.items() if k != "disjoint_group"} for m in data["measures"]]
    a = compile_model(scenario_from_dict(data), EMPTY)
    b = compile_model(scenario_from_dict({**data, "measures": plain}), EMPTY)
    np.testing.assert_allclose(engine.emissions(a.inputs()), engine.emissions(b.inputs()), rtol=1e-12, atol=1e-9)


@SET
@given(grouped_scenarios(), st.integers(1, 20), st.integers(0, 2**31 - 1))
def test_fast_totals_and_attributions_equal_the_dense_totals(data, n, seed):
    model = compile_model(scenario_from_dict(data), EMPTY)
    rng = np.random.default_rng(seed)
    x = np.repeat(model.param_matrix(n=1), n, axis=0)
    for j, name in enumerate(model.param_names):
        if name.startswith("completion:"):
            x[:, j] = rng.uniform(0, 1, n)
    inp = model.inputs_from_matrix(x)
    dense = engine.emissions(inp).sum(axis=1)
    _, fast = engine.totals(inp)
    np.testing.assert_allclose(fast, dense, rtol=1e-9, atol=1e-7)
    one = model.inputs()
    joint = engine.baseline(one)[0].sum(axis=0) - engine.emissions(one)[0].sum(axis=0)
    np.testing.assert_allclose(engine.attribute_sequential(one).sum(axis=0), joint, rtol=1e-9, atol=1e-7)
    shap, _ = engine.attribute_shapley(one)
    np.testing.assert_allclose(shap.sum(axis=0), joint, rtol=1e-9, atol=1e-7)


def test_a_sweep_that_overfills_a_group_is_refused(tmp_path, monkeypatch):
    # SNCR on 400 蒸吨 (0.4) + SCR by share: up to 0.6 fits, 0.7 makes 1.1 of the pool
    ms = [{"id": "sncr", "type": "control", "pool": "b", "quantity": "400 蒸吨", "efficiency": {"NOx": 0.5}, "disjoint_group": "g"},
          {"id": "scr", "type": "control", "pool": "b", "share": 0.3, "efficiency": {"NOx": 0.9}, "disjoint_group": "g"}]
    data = {**boiler(ms), "targets": [{"id": "nox", "pollutant": "NOx", "kind": "reduction_amount", "value": "300 t", "year": 2021}]}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    ok = CliRunner().invoke(main, ["sweep", "s.yaml", "--set", "measures.scr.share=0.1,0.6"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, ["sweep", "s.yaml", "--set", "measures.scr.share=0.1,0.7"])
    assert bad.exit_code == 2
    assert "disjoint group 'g'" in bad.output and "1.1" in bad.output


@SET
@given(grouped_scenarios())
def test_alone_reductions_hold_with_groups(data):
    # the least-cost model's per-unit reductions: each measure alone, closed form = the engine
    model = compile_model(scenario_from_dict(data), EMPTY)
    inp = model.inputs()
    m = len(model.measures)
    if m == 0:
        return
    base = engine.baseline(inp)[0].sum(axis=0)
    masked = base[None] - engine.emissions(inp, np.eye(m)).sum(axis=1)
    np.testing.assert_allclose(engine.alone_reductions(inp), masked, rtol=1e-9, atol=1e-7)
