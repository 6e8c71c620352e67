"""Monte Carlo: Latin hypercube, a closed-form P(met), reproducibility, charts without tofu."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cli.main import main
from sim.core.uncertainty import latin_hypercube, ppf
from sim.evaluation.evaluate import run_uncertain
from sim.model.coefficients import Library
from sim.model.load import scenario_from_dict

EMPTY = Library()


def one_measure(target_t: float = 1.6) -> dict:
    # Pool: 1,000 t/a of fuel with EF triangular(low 2, mode 3, high 5) kg/t.
    # Control on all of it at 50 %: reduction = 1000 x EF x 0.5 / 1000 = 0.5 x EF  (t/a).
    return {
        "name": "closed form", "region": "r", "base_year": 2020, "years": [2021],
        "coefficients": {"ef_x": {"value": 3, "low": 2, "high": 5, "distribution": "triangular",
                                  "unit": "kg/t", "source": "test: a triangular factor"}},
        "inventory": [{"id": "p", "activity": "1000 t/a", "ef": {"NOx": "ef_x"}}],
        "measures": [{"id": "c", "type": "control", "pool": "p", "share": 1, "efficiency": {"NOx": "50%"}}],
        "targets": [{"id": "t", "pollutant": "NOx", "kind": "reduction_amount", "value": f"{target_t} t", "year": 2021}],
    }


def test_latin_hypercube_fills_every_stratum_once():
    u = latin_hypercube(100, 3, np.random.default_rng(0))
    assert u.shape == (100, 3)
    for j in range(3):
        assert sorted(np.floor(u[:, j] * 100).astype(int)) == list(range(100))


def test_triangular_ppf_matches_cdf():
    # F(x) = (x-a)^2/((b-a)(c-a)) below the mode c, 1 - (b-x)^2/((b-a)(b-c)) above
    a, c, b = 2.0, 3.0, 5.0
    for x in (2.5, 3.0, 4.0):
        f = (x - a) ** 2 / ((b - a) * (c - a)) if x <= c else 1 - (b - x) ** 2 / ((b - a) * (b - c))
        assert ppf(np.array([f]), "triangular", c, a, b)[0] == pytest.approx(x)


def test_probability_of_meeting_target_has_closed_form():
    # Met iff 0.5 x EF >= 1.6 t, i.e. EF >= 3.2 kg/t.
    # P = 1 - F(3.2) = (5 - 3.2)^2 / ((5 - 2)(5 - 3)) = 3.24 / 6 = 0.54
    r = run_uncertain(scenario_from_dict(one_measure()), EMPTY, samples=20000, seed=7)
    p = float(r.dataset["probability"].sel(target="t"))
    se = np.sqrt(0.54 * 0.46 / 20000)  # binomial standard error, an upper bound under LHS
    assert abs(p - 0.54) < 3 * se
    # central margin: 0.5 x 3 - 1.6 = -0.1 t: not met at the mode, at risk with P = 54 %
    assert float(r.dataset["margin"].sel(target="t")) == pytest.approx(-0.1)
    assert str(r.dataset["status"].sel(target="t").values) == "at risk"


def test_same_seed_same_numbers_different_seed_different_samples():
    s = scenario_from_dict(one_measure())
    a = run_uncertain(s, EMPTY, samples=500, seed=1).dataset
    b = run_uncertain(s, EMPTY, samples=500, seed=1).dataset
    c = run_uncertain(s, EMPTY, samples=500, seed=2).dataset
    xr.testing.assert_identical(a, b)
    assert not np.array_equal(a["margin_sample"].values, c["margin_sample"].values)


def test_same_seed_identical_results_file(tmp_path, monkeypatch):
    import yaml

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(one_measure(), allow_unicode=True), encoding="utf-8")
    digests = []
    for out in ("a", "b"):
        res = CliRunner().invoke(main, ["run", "s.yaml", "--samples", "300", "--seed", "5", "--out", out, "--no-figures"])
        assert res.exit_code == 0, res.output
        digests.append(hashlib.sha256((tmp_path / out / "results.nc").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_keep_quantiles():
    r = run_uncertain(scenario_from_dict(one_measure()), EMPTY, samples=1000, seed=3, keep="quantiles")
    ds = r.dataset
    assert "sample" not in ds.dims
    q = ds["reduction_total_q"].sel(pollutant="NOx", year=2021).values
    assert q[0] < q[1] < q[2]
    assert ds["margin_p5"].item() < ds["margin_p50"].item() < ds["margin_p95"].item()


def test_completion_range_and_growth_range_are_sampled():
    data = one_measure()
    data["coefficients"]["ef_x"].update({"low": None, "high": None, "distribution": "fixed"})
    data["measures"][0]["completion"] = [0.5, 1.0]
    data["inventory"][0]["growth"] = {"value": 0.0, "low": -0.1, "high": 0.1}
    r = run_uncertain(scenario_from_dict(data), EMPTY, samples=400, seed=1)
    red = r.dataset["reduction_total_sample"].sel(pollutant="NOx", year=2021).values
    # reduction = 1000 x (1+g) x 3 kg/t x 0.5 x completion / 1000 : between 0.675 and 1.65 t
    assert red.min() >= 0.5 * 3 * 0.5 * 0.9 - 1e-9
    assert red.max() <= 0.5 * 3 * 1.0 * 1.1 + 1e-9
    assert red.std() > 0.1


def test_charts_render_chinese_without_missing_glyphs(tmp_path):
    from sim.reports.charts import figure_writers

    r = run_uncertain(scenario_from_dict(one_measure()), EMPTY, samples=200, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns 'Glyph ... missing from font(s)'
        for name, write in figure_writers(r).items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
            assert path.stat().st_size > 5000


def test_pm25_concentration_target_by_linear_response(tmp_path):
    # Response file: base 40 ug/m3; NOx share 0.2, primary PM2.5 share 0.3 (shares of the mean).
    # Inventory: NOx 10,000 t, PM2.5 2,000 t. Measures cut NOx by 25 % and PM2.5 by 50 %.
    # dC = 40 x (0.2 x 2,500/10,000 + 0.3 x 1,000/2,000) = 40 x (0.05 + 0.15) = 8 ug/m3 -> C = 32
    # target <= 35: required 40 - 35 = 5, achieved 8, margin 3 ug/m3.
    (tmp_path / "resp.csv").write_text(
        "region,precursor,form,value,unit,low,high,year,source,note\n"
        "测试市,base,concentration,40,ug/m3,,,2020,test,\n"
        "测试市,NOx,share,0.2,1,,,2020,test,\n"
        "测试市,PM25,share,30,%,,,2020,test,\n", encoding="utf-8")
    data = {
        "name": "pm", "region": "测试市", "base_year": 2020, "years": [2021],
        "inventory": [{"id": "p", "emissions": {"NOx": "10000 t/a", "PM25": "2000 t/a"}}],
        "measures": [{"id": "c", "type": "control", "pool": "p", "share": 1, "efficiency": {"NOx": "25%", "PM25": "50%"}}],
        "targets": [{"id": "pm", "pollutant": "PM2.5", "kind": "concentration", "value": "35 ug/m3", "year": 2021}],
        "air_quality": {"region": "测试市", "response": "resp.csv"},
    }
    scen = scenario_from_dict(data, base_dir=tmp_path)
    from sim.evaluation.evaluate import run

    result = run(scen, EMPTY)
    tf = result.targets_frame().iloc[0]
    assert tf["required"] == pytest.approx(5.0)
    assert tf["achieved"] == pytest.approx(8.0)
    assert tf["margin"] == pytest.approx(3.0)
    assert tf["unit"] == "ug m-3"  # UDUNITS spelling of µg/m³
    assert tf["status"] == "met"
    # base, projected and target concentration travel with the target (µg/m³)
    assert (tf["concentration_base"], tf["concentration_projected"], tf["concentration_target"]) == pytest.approx((40.0, 32.0, 35.0))
    ds = result.dataset
    assert ds["margin"].attrs["units"] == "ug m-3" and ds["concentration_projected"].attrs["units"] == "ug m-3"
    # each precursor's part: NOx 40 x 0.2 x 25% = -2, primary PM2.5 40 x 0.3 x 50% = -6 µg/m³
    ch = ds["concentration_change"].sel(target="pm")
    assert float(ch.sel(precursor="NOx")) == pytest.approx(-2.0)
    assert float(ch.sel(precursor="PM25")) == pytest.approx(-6.0)


def test_concentration_target_without_air_quality_is_an_input_error():
    from sim.core.errors import InputError

    data = one_measure()
    data["targets"].append({"id": "pm", "pollutant": "PM25", "kind": "concentration", "value": "35 ug/m3", "year": 2021})
    with pytest.raises(InputError, match="air_quality"):
        scenario_from_dict(data)


@pytest.mark.parametrize(("value", "low", "high"), [(2.0, 1.0, 4.0), (2.1, 1.0, 4.0), (3.0, 1.5, 6.0), (0.5, 0.1, 2.5)])
def test_lognormal_value_is_median_low_high_are_5th_95th_percentiles(value, low, high):
    # sigma = ln(high/low) / (2 x 1.645); median = value. Closed form of the percentiles:
    # p5 = value x exp(-1.645 sigma) = value / sqrt(high/low), p95 = value x sqrt(high/low).
    # For (2, 1, 4): sigma = ln 4 / 3.29 = 0.4214, p5 = 2 / 2 = 1, p95 = 2 x 2 = 4 (= low, high).
    # For (2.1, 1, 4) (within 10% of sqrt(1 x 4) = 2): p5 = 1.05, p95 = 4.2.
    from sim.core.uncertainty import draw_matrix, lognormal_problem

    assert lognormal_problem(value, low, high) is None
    x = draw_matrix([("c", "lognormal", value, low, high)], 200_000, 7)[:, 0]
    ratio = np.sqrt(high / low)
    assert np.quantile(x, 0.5) == pytest.approx(value, rel=5e-3)
    assert np.quantile(x, 0.05) == pytest.approx(value / ratio, rel=5e-3)
    assert np.quantile(x, 0.95) == pytest.approx(value * ratio, rel=5e-3)
    # the same closed form from the inverse CDF itself
    assert ppf(np.array([0.05, 0.5, 0.95]), "lognormal", value, low, high) == pytest.approx([value / ratio, value, value * ratio])


def test_lognormal_value_off_the_geometric_mean_is_refused():
    # value 2, low 1, high 8: a lognormal with 5th/95th percentiles 1 and 8 has median sqrt(8) = 2.83;
    # with median 2 its percentiles would be 0.707 and 5.657. Refused, saying what would be valid.
    from sim.core.errors import InputError
    from sim.core.uncertainty import lognormal_problem

    why = lognormal_problem(2.0, 1.0, 8.0)
    assert why is not None and "2.82843" in why and "between 2.5713 and 3.11127" in why
    assert lognormal_problem(2.83, 1.0, 8.0) is None
    assert lognormal_problem(1.0, 0.0, 8.0) == "a lognormal range needs low > 0"
    data = one_measure()
    data["measures"][0]["completion"] = {"value": 0.5, "low": 0.1, "high": 0.9, "distribution": "lognormal"}
    with pytest.raises(InputError, match=r"within 10% of sqrt\(low\*high\) = 0\.3"):
        scenario_from_dict(data)


@settings(max_examples=200, deadline=None)
@given(low=st.floats(1e-6, 1e6), ratio=st.floats(1.001, 1e4), off=st.floats(0.5, 2.0))
def test_lognormal_percentiles_property(low, ratio, off):
    # value = sqrt(low*high): the 5th/95th percentiles are exactly low/high; a value off by more
    # than a factor 1.1 is refused, within it accepted
    from sim.core.uncertainty import lognormal_problem

    high = low * ratio
    gm = np.sqrt(low * high)
    p5, p50, p95 = ppf(np.array([0.05, 0.5, 0.95]), "lognormal", gm, low, high)
    assert p5 == pytest.approx(low, rel=1e-9) and p95 == pytest.approx(high, rel=1e-9) and p50 == pytest.approx(gm, rel=1e-12)
    refused = lognormal_problem(gm * off, low, high) is not None
    assert refused == (abs(np.log(off)) > np.log(1.1) + 1e-12) or abs(abs(np.log(off)) - np.log(1.1)) < 1e-9


@settings(max_examples=200, deadline=None)
@given(c0=st.floats(1, 100), shares=st.lists(st.floats(0, 0.3), min_size=2, max_size=2),
       e_ref=st.lists(st.floats(1, 1e5), min_size=2, max_size=2), cut=st.lists(st.floats(-0.5, 1), min_size=2, max_size=2),
       v=st.floats(1, 100))
def test_concentration_target_invariants(c0, shares, e_ref, cut, v):
    # projected = base + sum of the precursors' changes; margin = target - projected (µg/m³);
    # required = base - target; each share's change = -base x share x (relative emission cut)
    from sim.model.feasibility import TargetSpec, concentration_parts, evaluate_targets

    spec = TargetSpec("pm", "concentration", 0, 1, 0, v, (("NOx", 0, "share"), ("VOCs", 1, "share")))
    emis = np.zeros((1, 2, 2))
    emis[0, :, 0] = e_ref
    emis[0, :, 1] = [e * (1 - c) for e, c in zip(e_ref, cut, strict=True)]
    air = {"base": np.array([c0]), "NOx": np.array([shares[0]]), "VOCs": np.array([shares[1]])}
    req, ach = evaluate_targets([spec], emis, emis, air)
    parts = concentration_parts(spec, emis, air)
    projected = c0 - sum(float(p[0]) for p in parts.values())
    assert float(req[0, 0]) == pytest.approx(c0 - v)
    assert float(ach[0, 0] - req[0, 0]) == pytest.approx(v - projected, abs=1e-9)
    for (name, p, _f), s, c in zip(spec.precursors, shares, cut, strict=True):
        assert float(parts[name][0]) == pytest.approx(c0 * s * c, abs=1e-9), (name, p)


@pytest.mark.parametrize(("target", "status", "zh"), [
    # base 40, NOx share 0.2 cut 25 %, primary PM2.5 share 0.3 cut 50 %: projected 40 - 8 = 32 µg/m³
    (33.0, "met", "余量1.0 µg/m³"),                      # margin 33 - 32 = 1.0 >= 10% of (40 - 33) = 0.7
    (32.5, "at risk", "余量0.5 µg/m³"),                  # margin 0.5 < 10% of (40 - 32.5) = 0.75
    (31.0, "not met", "超出目标1.0 µg/m³"),               # margin 31 - 32 = -1.0
])
def test_concentration_verdict_in_the_appendix(tmp_path, monkeypatch, target, status, zh):
    from sim.evaluation.evaluate import run
    from sim.reports.appendix import write_appendix
    from sim.store.runs import save_run

    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    (tmp_path / "resp.csv").write_text(
        "region,precursor,form,value,unit,low,high,year,source,note\n"
        "测试市,base,concentration,40,ug/m3,,,2020,test,\n"
        "测试市,NOx,share,0.2,1,,,2020,test,\n"
        "测试市,PM25,share,30,%,,,2020,test,\n", encoding="utf-8")
    data = {
        "name": "pm", "region": "测试市", "base_year": 2020, "years": [2021],
        "inventory": [{"id": "p", "emissions": {"NOx": "10000 t/a", "PM25": "2000 t/a"}}],
        "measures": [{"id": "c", "type": "control", "pool": "p", "share": 1, "efficiency": {"NOx": "25%", "PM25": "50%"}}],
        "targets": [{"id": "pm", "pollutant": "PM2.5", "kind": "concentration", "value": f"{target} ug/m3", "year": 2021}],
        "air_quality": {"region": "测试市", "response": "resp.csv"},
    }
    result = run(scenario_from_dict(data, base_dir=tmp_path), EMPTY)
    assert result.targets_frame().iloc[0]["status"] == status
    folder = save_run(result)
    md = write_appendix(str(folder), formats="md")[0].read_text(encoding="utf-8")
    verdict = {"met": "可达", "at risk": "存在风险", "not met": "不可达"}[status]
    assert f"基准年浓度40.0 µg/m³，按线性响应预计2021年浓度32.0 µg/m³，{zh}" in md
    assert f"结论为{verdict}（浓度按线性响应估算" in md
