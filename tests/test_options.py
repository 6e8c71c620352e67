"""Options given in Python are checked as the CLI checks them: one InputError naming each bad
option and what is valid, before any work, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import sim
from sim.cli.main import main
from sim.core.errors import InputError
from sim.core.seeds import SEED_MAX
from sim.model.options import checked

ROOT = Path(__file__).resolve().parents[1]
ANKANG = str(ROOT / "scenarios" / "ankang-2025.yaml")
COSTS = str(ROOT / "scenarios" / "ankang-2025-costs.yaml")


@pytest.fixture(autouse=True)
def _outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))


@pytest.mark.parametrize("kw, name", [
    ({"samples": -5}, "samples"), ({"samples": 2.5}, "samples"), ({"samples": "100"}, "samples"), ({"samples": True}, "samples"),
    ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"seed": SEED_MAX + 1}, "seed"), ({"seed": 2**64}, "seed"),
    ({"samples": 10, "keep": "bogus"}, "keep"), ({"attribution": "Shapley"}, "attribution"),
    ({"attribution": "SHAPLEY"}, "attribution"), ({"attribution": "沙普"}, "attribution"),
])
def test_run_refuses_bad_options(kw, name, tmp_path):
    with pytest.raises(InputError) as err:
        sim.run(ANKANG, **kw)
    (problem,) = err.value.problems
    assert problem.path == name and "must be" in problem.message and repr(kw[name]) in problem.message
    assert not (tmp_path / "outputs").exists()


def test_every_bad_option_at_once():
    with pytest.raises(InputError) as err:
        sim.run(ANKANG, samples=-1, seed=-1, keep="x", attribution="y")
    assert [p.path for p in err.value.problems] == ["samples", "seed", "keep", "attribution"]


def test_chinese_attribution_alias_is_the_method_it_names():
    """沙普利 is shapley: the run records the method it used, not the word typed."""
    zh = sim.run(ANKANG, attribution="沙普利")
    en = sim.run(ANKANG, attribution="shapley")
    assert zh.dataset.attrs["attribution"] == "shapley"
    assert (zh.dataset["reduction"] == en.dataset["reduction"]).all()


def test_largest_seed_is_stored_and_reopened(tmp_path):
    r = sim.run(ANKANG, samples=4, seed=SEED_MAX)
    back = sim.open_run(r.save(tmp_path / "run"))
    assert back.settings["seed"] == SEED_MAX


@pytest.mark.parametrize("call", [
    lambda: sim.sweep(ANKANG, {"measures.urban-sewage.completion": "0:1:3"}, samples=-1),
    lambda: sim.sweep(ANKANG, {"measures.urban-sewage.completion": "0:1:3"}, samples=5, seed=2**64),
    lambda: sim.solve(COSTS, gap=-1),
    lambda: sim.solve(COSTS, gap="abc"),
    lambda: sim.solve(COSTS, time_limit=-5),
    lambda: sim.solve(COSTS, gap=float("nan")),
    lambda: sim.sensitivity(ANKANG, n=1),
    lambda: sim.batch([ANKANG], samples=-3),
])
def test_other_analyses_refuse_bad_options(call):
    with pytest.raises(InputError):
        call()


def test_checked_normalises():
    assert checked(samples=10, seed=None, keep="quantiles", attribution=" shapley ", gap=0, time_limit=None) == {
        "samples": 10, "seed": None, "keep": "quantiles", "attribution": "shapley", "gap": 0.0, "time_limit": None}


@pytest.mark.parametrize("args", [["run", ANKANG, "--samples", "5", "--seed", str(SEED_MAX + 1)],
                                  ["sweep", ANKANG, "--set", "measures.urban-sewage.completion=0:1:3", "--seed", str(2**64)]])
def test_cli_refuses_a_seed_beyond_the_largest(args):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "9223372036854775807" in res.output and "Traceback" not in res.output


def test_a_scenario_mapping_works_wherever_a_file_does(monkeypatch):
    """sim.run, load_scenario, sweep and compare take a mapping of a scenario file's keys
    (relative inventory paths resolve against the current folder); a bad value is an InputError."""
    import yaml

    monkeypatch.chdir(ROOT / "scenarios")
    d = yaml.safe_load((ROOT / "scenarios" / "ankang-2025.yaml").read_text(encoding="utf-8"))
    from_file = sim.run(ANKANG).targets_frame()["margin"].to_numpy()
    assert (sim.run(d).targets_frame()["margin"].to_numpy() == from_file).all()
    assert sim.load_scenario(d).id == "ankang-2025"
    assert sim.sweep(d, {"measures.urban-sewage.completion": "0:1:3"}).dataset["margin"].shape[0] == 3
    assert len(sim.compare([d, ANKANG]).dataset["scenario"]) == 2
    with pytest.raises(InputError) as err:
        sim.run({**d, "base_year": "x"})
    assert any(p.path == "base_year" for p in err.value.problems)


def test_a_mapping_with_extends_is_the_file_it_copies(monkeypatch):
    """A mapping with `extends:` resolves its parent as the same keys in a file would (it was
    validated as a whole scenario: 'region is missing'); control characters are refused."""
    import yaml

    monkeypatch.chdir(ROOT / "scenarios")
    costs = yaml.safe_load((ROOT / "scenarios" / "ankang-2025-costs.yaml").read_text(encoding="utf-8"))
    assert sim.solve(costs).solution.cost == sim.solve(COSTS).solution.cost
    d = yaml.safe_load((ROOT / "scenarios" / "ankang-2025.yaml").read_text(encoding="utf-8"))
    with pytest.raises(InputError) as err:
        sim.run({**d, "name": "水泥\x07超低"})
    assert err.value.problems[0].path == "name" and "U+0007" in err.value.problems[0].message


def test_sensitivity_without_a_seed_uses_the_scenarios():
    """seed=None means the scenario's settings.seed (as the option's message says): two calls agree."""
    a = sim.sensitivity(ANKANG, "morris", n=6, seed=None)
    b = sim.sensitivity(ANKANG, "morris", n=6, seed=None)
    assert a.table.equals(b.table) and a.seed == sim.load_scenario(ANKANG).settings.seed


@pytest.mark.parametrize("workers", ["2", 0, -1, 1.5])
def test_batch_refuses_bad_workers(workers):
    with pytest.raises(InputError) as err:
        sim.batch([ANKANG], workers=workers)
    assert err.value.problems[0].path == "workers"


def test_a_mapping_with_extends_is_told_its_own_mistakes_without_a_parents_line(monkeypatch):
    """A mistake in the mapping itself is not reported at a line of the parent file it extends."""
    import yaml

    monkeypatch.chdir(ROOT / "scenarios")
    costs = yaml.safe_load((ROOT / "scenarios" / "ankang-2025-costs.yaml").read_text(encoding="utf-8"))
    with pytest.raises(InputError) as err:
        sim.run({**costs, "name": 5})
    (p,) = [p for p in err.value.problems if p.path == "name"]
    assert "ankang-2025.yaml" not in str(p.file) and p.line is None
