"""End-to-end through click's runner: runs on disk, JSON, schema, and bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner

from sim.cli.main import main

GOOD = """\
name: 测试情景
region: 测试市
base_year: 2020
years: [2022, 2025]
inventory:
  - id: boiler.coal
    name: 燃煤锅炉
    activity: 1000 蒸吨
    ef:
      NOx: 16.905 t/(蒸吨*a)
  - id: boiler.gas
    activity: 0 蒸吨
    ef:
      NOx: 1.386 t/(蒸吨*a)
  - id: wwtp
    activity: 10000 立方米/日
    ef:
      COD: 60 mg/L
measures:
  - id: c2g
    name: 煤改气
    type: switch
    pool: boiler.coal
    to: boiler.gas
    quantity: 100 蒸吨
  - id: upgrade
    name: 污水处理厂提标
    type: treat
    pool: wwtp
    quantity: 10000 立方米/日
    c_in: {COD: 60 mg/L}
    c_out: {COD: 50 mg/L}
targets:
  - {id: nox, pollutant: NOx, kind: reduction_percent, value: 5%, year: 2025}
  - {id: cod, pollutant: COD, kind: reduction_amount, value: 30 吨, year: 2025}
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_run_writes_complete_run_folder(env):
    (env / "s.yaml").write_text(GOOD, encoding="utf-8")
    res = invoke("run", "s.yaml")
    assert res.exit_code == 0, res.output
    assert "氮氧化物" in res.stdout and "可达" in res.stdout
    runs = list((env / "outputs" / "s").iterdir())
    assert len(runs) == 1
    run = runs[0]
    for name in ("manifest.json", "results.nc", "summary.csv", "targets.csv", "measures.csv"):
        assert (run / name).is_file(), name
    man = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert len(man["scenario_sha256"]) == 64
    assert man["settings"]["attribution"] == "sequential"
    ds = xr.open_dataset(run / "results.nc")
    # 100 of 1000 t/h switched: NOx cut 100 x (16.905 - 1.386) = 1,551.9 t/a
    assert float(ds["reduction_total"].sel(pollutant="NOx", year=2025)) == pytest.approx(1551.9)
    assert set(ds["reduction"].dims) == {"measure", "pollutant", "year"}
    assert ds["baseline"].attrs["units"] == "t yr-1"  # UDUNITS: "t/a" would be tonnes per are


def test_run_json(env):
    (env / "s.yaml").write_text(GOOD, encoding="utf-8")
    res = invoke("run", "s.yaml", "--json", "--attribution", "shapley")
    assert res.exit_code == 0
    payload = json.loads(res.stdout)
    t = {r["target"]: r for r in payload["targets"]}
    # COD: 1e4 m3/d x 365 d x 10 mg/L = 36.5 t vs 30 t required -> margin 6.5 t
    assert t["cod"]["margin"] == pytest.approx(6.5)
    assert t["cod"]["status"] == "met"


def test_attribution_takes_the_chinese_words_of_a_scenario(env):
    """--attribution 沙普利 is --attribution shapley (as in a scenario's settings); a typo lists both."""
    (env / "s.yaml").write_text(GOOD, encoding="utf-8")
    zh = invoke("run", "s.yaml", "--json", "--attribution", "沙普利", "--out", "zh")
    en = invoke("run", "s.yaml", "--json", "--attribution", "shapley", "--out", "en")
    assert zh.exit_code == 0, zh.output
    assert json.loads(zh.stdout)["targets"] == json.loads(en.stdout)["targets"]
    assert json.loads((env / "zh" / "manifest.json").read_text(encoding="utf-8"))["settings"]["attribution"] == "shapley"
    bad = CliRunner().invoke(main, ["run", "s.yaml", "--attribution", "沙普"])
    assert bad.exit_code == 2 and "sequential" in bad.output and "shapley" in bad.output


def test_schema_is_json_schema():
    res = invoke("schema")
    schema = json.loads(res.stdout)
    assert "measures" in schema["properties"]
    assert "Measure" in json.dumps(schema)


BAD_CASES = {
    "unknown key": (("  - id: wwtp\n", "  - id: wwtp\n    colour: red\n"), "unknown key 'colour'"),
    "unknown measure type": (("type: treat", "type: treet"), "did you mean 'treat'"),
    "unknown pool": (("pool: wwtp", "pool: wwpt"), "unknown pool 'wwpt' (did you mean 'wwtp'?)"),
    "unit that does not convert": (("quantity: 100 蒸吨", "quantity: 100 辆"), "does not convert"),
    "negative quantity": (("quantity: 100 蒸吨", "quantity: -100 蒸吨"), "must not be negative"),
    "over 100% retirement": (("quantity: 100 蒸吨", "quantity: 1500 蒸吨"), "150% of the 1000"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_exit_2_with_file_line_and_no_output(env, case):
    (old, new), expected = BAD_CASES[case]
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    (env / "bad.yaml").write_text(text, encoding="utf-8")
    res = CliRunner().invoke(main, ["run", "bad.yaml"])
    assert res.exit_code == 2, res.output
    assert expected in res.stderr
    assert "bad.yaml:" in res.stderr
    assert "Traceback" not in res.output
    assert not (env / "outputs").exists()


def test_all_problems_at_once(env):
    text = GOOD.replace("type: treat", "type: treet").replace("pool: boiler.coal", "pool: boilr.coal")
    text = text.replace("value: 5%", "value: 5 furlongs")
    (env / "bad.yaml").write_text(text, encoding="utf-8")
    res = CliRunner().invoke(main, ["run", "bad.yaml"])
    assert res.exit_code == 2
    err = res.stderr
    assert "3 problems" in err
    assert "treet" in err and "boilr.coal" in err and "reduction_percent target takes a percentage" in err
    lines = [ln for ln in err.splitlines() if "bad.yaml:" in ln]
    assert [int(ln.split("bad.yaml:")[1].split(":")[0]) for ln in lines] == sorted(int(ln.split("bad.yaml:")[1].split(":")[0]) for ln in lines)


def test_debug_shows_traceback(env):
    (env / "bad.yaml").write_text(GOOD.replace("type: treat", "type: treet"), encoding="utf-8")
    res = CliRunner().invoke(main, ["--debug", "run", "bad.yaml"])
    assert res.exit_code == 2
    assert "Traceback" in res.output


def test_out_refuses_foreign_folder(env):
    (env / "s.yaml").write_text(GOOD, encoding="utf-8")
    foreign = env / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    res = CliRunner().invoke(main, ["run", "s.yaml", "--out", str(foreign)])
    assert res.exit_code == 2
    assert "neither empty nor an earlier ersim output" in res.stderr
    assert (foreign / "notes.txt").read_text() == "mine"
    # an earlier run folder may be replaced, atomically
    res = CliRunner().invoke(main, ["run", "s.yaml", "--out", str(env / "r1")])
    assert res.exit_code == 0
    res = CliRunner().invoke(main, ["run", "s.yaml", "--out", str(env / "r1")])
    assert res.exit_code == 0
    assert not [p for p in env.iterdir() if p.name.startswith(".tmp-")]


def test_missing_file(env):
    res = CliRunner().invoke(main, ["run", "nope.yaml"])
    assert res.exit_code == 2
    assert "nope.yaml" in res.stderr and "not found" in res.stderr


def test_example_scenarios_listed_in_readme_run(env):
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "ersim run scenarios/" in readme


def _commands(group, prefix=()):
    import click

    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        yield (*prefix, name)


@pytest.mark.parametrize("cmd", sorted(_commands(main)))
def test_every_command_help_has_an_example(cmd):
    res = CliRunner().invoke(main, [*cmd, "--help"])
    assert res.exit_code == 0, res.output
    assert "Example" in res.output and "ersim " in res.output.split("Example", 1)[1]


def test_debug_after_the_command_says_where_it_goes(env):
    res = CliRunner().invoke(main, ["run", "x.yaml", "--debug"])
    assert res.exit_code == 2
    assert "--debug goes before the command: ersim --debug run" in res.output
    assert "Traceback" not in res.output


def test_init_gives_a_pinyin_id_to_a_chinese_name(env):
    res = CliRunner().invoke(main, ["init", "某县", "--out", "a"])
    assert res.exit_code == 0, res.output
    assert (env / "a" / "mouxian.yaml").is_file() and (env / "a" / "inventories" / "mouxian-2025.csv").is_file()
    import sim

    assert sim.load_scenario(str(env / "a" / "mouxian.yaml")).id == "mouxian"
    # a second Chinese-named county in the same folder gets its own id
    res = CliRunner().invoke(main, ["init", "另一县", "--out", "a"])
    assert res.exit_code == 0, res.output
    assert (env / "a" / "lingyixian.yaml").is_file()
    res = CliRunner().invoke(main, ["run", "a/mouxian.yaml", "--no-figures"])
    assert res.exit_code == 0, res.output
    # --id chooses it; a bad one is refused with exit 2
    res = CliRunner().invoke(main, ["init", "某县", "--out", "b", "--id", "mx-2"])
    assert res.exit_code == 0 and (env / "b" / "mx-2.yaml").is_file()
    res = CliRunner().invoke(main, ["init", "某县", "--out", "c", "--id", "Bad Id"])
    assert res.exit_code == 2 and "--id" in res.stderr and not (env / "c").exists()


@pytest.mark.parametrize("name", ["A县: 试点", "某县 #2", "'引号'县", "县\"名\""])
def test_init_writes_any_name_as_the_name(env, name):
    """A name with ': ', '#' or quotes is written quoted: the starter runs and keeps the whole name
    (': ' once made YAML the starter could not read; '#' cut the name short as a comment)."""
    res = CliRunner().invoke(main, ["init", name, "--id", "x", "--out", "s"])
    assert res.exit_code == 0, res.output
    import sim

    scen = sim.load_scenario(str(env / "s" / "x.yaml"))
    assert scen.region == name and scen.name == f"{name}减排措施可达性评估"
    res = CliRunner().invoke(main, ["run", "s/x.yaml", "--no-figures"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("sid", ["610900", "2025", "yes"])
def test_init_writes_an_id_yaml_would_read_as_a_number_as_text(env, sid):
    """--id 610900 (a region code) is written quoted: the starter runs (it once read as a number)."""
    res = CliRunner().invoke(main, ["init", "安康市", "--id", sid, "--out", "n"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["run", f"n/{sid}.yaml", "--no-figures"])
    assert res.exit_code == 0, res.output
