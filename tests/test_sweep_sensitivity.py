"""Sweeps (grid dims, break-even by hand, common random numbers) and sensitivity (SALib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from sim.analyses.sensitivity import sobol_indices, tornado, validate
from sim.analyses.sweep import break_even, parse_set, sweep
from sim.cli.main import main
from sim.model.coefficients import Library
from sim.model.compile import compile_model
from sim.model.load import scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
EMPTY = Library()


def toy(ef_range: bool = True) -> dict:
    # Pool 1,000 t/a of fuel, NOx factor 3 kg/t (2-5): 3 t/a NOx. A retirement of q t/a removes
    # q x 3 kg/t. Target: 1.2 t reduction -> break-even q = 1.2 / 0.003 = 400 t/a.
    return {
        "name": "toy", "region": "r", "base_year": 2020, "years": [2021],
        "coefficients": {"ef_x": {"value": 3, "unit": "kg/t", "source": "test",
                                  **({"low": 2, "high": 5} if ef_range else {})}},
        "inventory": [{"id": "p", "activity": "1000 t/a", "ef": {"NOx": "ef_x"}}],
        "measures": [{"id": "r", "type": "retire", "pool": "p", "quantity": "500 t/a", "completion": [0.8, 1.0]}],
        "targets": [{"id": "t", "pollutant": "NOx", "kind": "reduction_amount", "value": "1.2 t", "year": 2021}],
    }


def model_of(data):
    return compile_model(scenario_from_dict(data), EMPTY)


def test_quantity_sweep_and_hand_computed_break_even():
    m = model_of(toy())
    m.params["completion:r"] = m.params["completion:r"].__class__("completion:r", 1.0, None, None, "fixed")
    ds = sweep(m, [parse_set(m, "measures.r.quantity=0:1000:11")])
    assert ds["margin"].dims == ("measures.r.quantity", "target")
    # margin(q) = q x 0.003 - 1.2 : at 300 t -> -0.3, at 500 t -> +0.3
    assert float(ds["margin"].sel({"measures.r.quantity": 300.0}).item()) == pytest.approx(-0.3)
    assert float(ds["margin"].sel({"measures.r.quantity": 500.0}).item()) == pytest.approx(0.3)
    be = break_even(ds)[0]
    assert be["break_even"] == pytest.approx(400.0)
    assert be["note"] == "高于此值可达 (met above)" and be["unit"] == "t/a"


def test_break_even_under_samples_is_where_the_median_margin_is_zero():
    """Hengyang's PM2.5 target swept 40, 43, 45 µg/m³: median margin -2.67 at 40 and +0.33 at 43,
    P(met) 0 then 1. P(met) = 50% where the median is 0: 40 + 3 x 2.67 / (2.67 + 0.33) = 42.67,
    not the 41.5 that interpolating P(met) gives."""
    x = "targets.pm25.value"
    ds = xr.Dataset({"margin": ((x, "target"), [[-2.67], [0.33], [2.33]]),
                     "probability": ((x, "target"), [[0.0], [1.0], [1.0]])},
                    coords={x: (x, [40.0, 43.0, 45.0], {"units": "ug/m**3", "central": 43.0}), "target": ["pm25"]})
    be = break_even(ds)[0]
    assert be["break_even"] == pytest.approx(40 + 3 * 2.67 / 3.0)
    assert be["note"] == "高于此值可达 (met above)" and "median margin = 0" in be["criterion"]


def test_two_inputs_make_two_dims_and_units_are_read():
    m = model_of(toy())
    ds = sweep(m, [parse_set(m, "measures.r.quantity=100,300 t/a,0.05 万吨/a"),
                   parse_set(m, "coefficients.ef_x=low,mid,high")])
    assert ds["margin"].shape == (3, 3, 1)
    assert list(ds["measures.r.quantity"].values) == [100.0, 300.0, 500.0]
    assert list(ds["coefficients.ef_x"].values) == [2.0, 3.0, 5.0]
    # completion central 0.9: 500 t x 0.9 x 5 kg/t = 2.25 t -> margin 1.05
    assert float(ds["margin"].sel({"measures.r.quantity": 500.0, "coefficients.ef_x": 5.0}).item()) == pytest.approx(1.05)


def test_target_value_sweep():
    m = model_of(toy())
    ds = sweep(m, [parse_set(m, "targets.t.value=0.5:2.5:5")])
    # achieved = 500 x 0.9 x 3 / 1000 = 1.35 t
    np.testing.assert_allclose(ds["margin"].values[:, 0], 1.35 - np.linspace(0.5, 2.5, 5))
    assert break_even(ds)[0]["break_even"] == pytest.approx(1.35)


def test_common_random_numbers_make_probability_monotone():
    m = model_of(toy())
    ds = sweep(m, [parse_set(m, "measures.r.quantity=200:900:15")], samples=400, seed=3)
    p = ds["probability"].values[:, 0]
    assert np.all(np.diff(p) >= 0)  # same draws at every point: no sampling noise between points
    assert p[0] == 0.0 and p[-1] == 1.0


@pytest.mark.parametrize(("spec", "message"), [
    ("measures.rr.quantity=1,2", "unknown measure 'rr' (did you mean 'r'?)"),
    ("measures.r.quantity=0:10", "start:stop:n"),
    ("measures.r.quantity=10 辆", "does not convert"),
    ("measures.r.completion=0.5,1.5", "between 0 and 1"),
    ("coefficients.ef_y=1,2", "did you mean 'ef_x'"),
    ("growth.pp=1%", "unknown pool 'pp' (did you mean 'p'?)"),
    ("weather.x=1", "a path starts with"),
    ("measures.r.quantity", "PATH=SPEC"),
])
def test_bad_sweep_specs(spec, message):
    from sim.core.errors import InputError

    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse_set(model_of(toy()), spec)


def test_cli_sweep_on_ankang_coal_to_gas_and_nox_factor(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    res = CliRunner().invoke(main, [
        "sweep", str(ROOT / "scenarios" / "ankang-2025.yaml"),
        "--set", "measures.coal-to-gas.quantity=0:200:9",
        "--set", "coefficients.boiler_coal_conc_to_ef=low,mid,high",
        "--set", "targets.nox-2025.value=1000:3000:5", "--out", "sw"])
    assert res.exit_code == 0, res.output
    assert "break-even" in res.stdout
    ds = xr.open_dataset(tmp_path / "sw" / "results.nc")
    assert ds["margin"].dims == ("measures.coal-to-gas.quantity", "coefficients.boiler_coal_conc_to_ef", "targets.nox-2025.value", "target")
    # more coal-to-gas never lowers the NOx margin
    assert (ds["margin"].sel(target="nox-2025").diff("measures.coal-to-gas.quantity") >= -1e-9).all()
    assert (tmp_path / "sw" / "figures" / "sweep_nox-2025.png").is_file()
    assert "targets.nox-2025.value" in (tmp_path / "sw" / "breakeven.csv").read_text(encoding="utf-8-sig")


def ishigami(u: np.ndarray) -> np.ndarray:
    x = -np.pi + 2 * np.pi * u
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_of_ishigami_matches_analytic_indices_within_ci():
    # a = 7, b = 0.1: V = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2
    a, b = 7.0, 0.1
    v = a**2 / 8 + b * np.pi**4 / 5 + b**2 * np.pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    s1 = np.array([v1, v2, 0.0]) / v
    st = np.array([v1 + v13, v2, v13]) / v
    df = sobol_indices(ishigami, ["x1", "x2", "x3"], 2**13, seed=1).set_index("input").loc[["x1", "x2", "x3"]]
    assert np.all(np.abs(df["S1"].to_numpy() - s1) <= df["S1_conf"].to_numpy())
    assert np.all(np.abs(df["ST"].to_numpy() - st) <= df["ST_conf"].to_numpy())


def test_salib_inputs_are_validated_first():
    from sim.core.errors import InputError

    with pytest.raises(InputError, match="power-of-two"):
        validate(["a"], 1000, "sobol")
    with pytest.raises(InputError, match="no uncertain inputs"):
        validate([], 1024, "sobol")


def test_tornado_by_hand():
    # completion fixed at 1: reduction = 500 x EF. EF low 2 -> 1.0 t (margin -0.2); high 5 -> 2.5 t (+1.3)
    data = toy()
    data["measures"][0]["completion"] = 1.0
    df = tornado(model_of(data), "t")
    row = df.set_index("input").loc["coef:ef_x"]
    assert row["margin_at_low"] == pytest.approx(-0.2)
    assert row["margin_at_high"] == pytest.approx(1.3)
    assert row["swing"] == pytest.approx(1.5)


def test_cli_sensitivity_methods(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    import yaml

    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(toy(), allow_unicode=True), encoding="utf-8")
    for method, n in (("tornado", "2"), ("morris", "16"), ("sobol", "256")):
        res = CliRunner().invoke(main, ["sensitivity", "toy.yaml", "--method", method, "-n", n, "--out", method])
        assert res.exit_code == 0, res.output
        assert (tmp_path / method / f"{method}.png").is_file()
    res = CliRunner().invoke(main, ["sensitivity", "toy.yaml", "--method", "sobol", "-n", "1000"])
    assert res.exit_code == 2 and "power-of-two" in res.stderr


@pytest.mark.parametrize("spec", ["measures.coal-to-gas.quantity=0:200:7", "measures.urban-sewage.quantity=0.5:1.5:5",
                                  "measures.coal-to-gas.completion=0.5:1:4", "growth.boiler.coal.industrial=-0.05:0.05:3",
                                  "coefficients.boiler_coal_so2_conc_inuse=100:400:3"])
def test_sweep_points_share_their_draws_inputs_bit_for_bit(spec, monkeypatch):
    # grid points reuse the draws' coefficient grids and grown activity (GridRows.shared) unless a
    # coefficient (or a growth rate) is swept: the numbers are those of building every row anew
    from sim.evaluation import evaluator
    from sim.model.coefficients import load_library
    from sim.model.load import load_scenario

    model = compile_model(load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "ankang-2025.yaml"), load_library())
    axis = parse_set(model, spec)
    made = []
    real = evaluator.GridRows.shared
    monkeypatch.setattr(evaluator.GridRows, "shared", lambda self, model: made.append(real(self, model)) or made[-1])
    shared = sweep(model, [axis], samples=40, seed=3)
    assert (made[0] is None) == spec.startswith("coefficients.")  # the shared path was taken
    assert (made[0] is not None and made[0].grown is None) == spec.startswith("growth.")
    monkeypatch.setattr(evaluator.GridRows, "shared", lambda self, model: None)
    anew = sweep(model, [axis], samples=40, seed=3)
    for v in anew.data_vars:
        np.testing.assert_array_equal(shared[v].values, anew[v].values, err_msg=v)


def test_sensitivity_table_shows_rounding_noise_as_zero():
    """μ* of 6.3e-13 t beside 5,202 t (an input with no effect, by finite differences) reads 0."""
    import io

    import pandas as pd
    from rich.console import Console

    from sim.reports.terminal import print_sensitivity

    df = pd.DataFrame({"input": ["a", "b"], "label": ["a", "b"], "mu_star": [5202.0, 6.262e-13], "mu_star_conf": [44.8, 9.6e-14],
                       "sigma": [799.6, 1.7e-12], "margin_unit": ["t", "t"]})
    buf = io.StringIO()
    print_sensitivity(df, "morris", "cod", console=Console(file=buf, width=200))
    text = buf.getvalue()
    assert "e-13" not in text and "e-12" not in text and "5,202" in text
    row = next(line for line in text.splitlines() if "│  2 │" in line or "│ 2 │" in line)
    assert [c.strip() for c in row.split("│")[3:6]] == ["0", "0", "0"]
