"""Every documented command on every example scenario, with default options, through click's runner.

What a new user does first: `ersim run` each example (figures on), with samples, then the appendix
in every format and both languages, compare the Ankang variants, solve the costed scenario, sweep
one measure's completion, the three sensitivity methods, and a batch over the example folder.
Each exits 0 (solve: 0, or 3 when the targets cannot all be met, as documented) and writes its
files. Samples and sensitivity sizes are small to keep the suite fast; nothing is skipped.
The README's Python code blocks are executed too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner

from sim.cli.main import main

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p.name for p in (REPO / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return tmp_path_factory.mktemp("outputs")


@pytest.fixture
def env(outputs, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(outputs))
    monkeypatch.setenv("COLUMNS", "80")
    return outputs


def invoke(*args: str, codes: tuple[int, ...] = (0,)):
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code in codes, f"ersim {' '.join(args)} exited {res.exit_code}:\n{res.output}"
    assert "Traceback" not in res.output and "internal error" not in res.output
    return res


def run_folder(res) -> Path:
    m = re.search(r"run written to (.+)", res.stderr)
    assert m, res.stderr
    return Path(m.group(1).strip())


def test_the_examples_are_all_here():
    # one per source plan, plus the Ankang variants and costs
    assert {"ankang-2025.yaml", "ankang-2025-costs.yaml", "ankang-2025-variants.yaml", "hengyang-2019.yaml",
            "jiaozuo-2022.yaml", "jincheng-2020.yaml", "ningbo-2022.yaml"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_run_samples_and_appendix(env, scenario):
    path = f"scenarios/{scenario}"
    # run, figures on (the default)
    run = run_folder(invoke("run", path))
    for name in ("manifest.json", "results.nc", "summary.csv", "targets.csv", "measures.csv"):
        assert (run / name).is_file(), name
    figures = sorted(p.name for p in (run / "figures").glob("*.png"))
    assert figures, "no figures written"
    ds = xr.load_dataset(run / "results.nc", engine="h5netcdf")
    if "target" in ds.dims:
        # every target has a figure: a waterfall of its pollutant, or its concentration chart
        for t, p, y, k in zip(ds["target"].values, ds["target_pollutant"].values, ds["target_year"].values,
                              ds["target_kind"].values, strict=True):
            want = f"concentration_{t}.png" if k == "concentration" else f"waterfall_{p}_{y}.png"
            assert want in figures, (want, figures)
    # run with samples: P(met) and the margin's range per target
    res = invoke("run", path, "--samples", "200", "--quiet")
    mc = run_folder(res)
    ds = xr.load_dataset(mc / "results.nc", engine="h5netcdf")
    assert ds.attrs["samples"] == 200
    if "target" in ds.dims:
        assert "probability" in ds and "P达标" in res.stdout and "余量 (p5~p95)" in res.stdout
        assert len(list((mc / "figures").glob("margin_*.png"))) == ds.sizes["target"]
    # the appendix of the sampled run, every format, both languages
    for lang in ("zh", "en"):
        out = env / f"appendix-{scenario}-{lang}"
        res = invoke("appendix", str(mc), "--lang", lang, "--out", str(out))
        for ext in ("docx", "html", "md"):
            assert (out / f"appendix.{ext}").stat().st_size > 1000, ext


def test_ningbo_concentration_target_reads_in_ug_m3(env):
    # Ningbo's PM2.5 target (26 µg/m³; base 21 µg/m³, only NOx responds): the run exits 0 and every
    # output gives the concentration in µg/m³, with the missing precursors named.
    res = invoke("run", "scenarios/ningbo-2022.yaml")
    run = run_folder(res)
    ds0 = xr.load_dataset(run / "results.nc", engine="h5netcdf").sel(target="pm25-2022")
    projected = float(ds0["concentration_projected"])
    assert "目标 26.0" in res.stdout and f"预计 {projected:.1f}" in res.stdout and "µg/m³" in res.stdout
    assert "要求 −5" not in res.stdout and "-5.0" not in res.stdout
    assert "清单中没有二氧化硫" in res.stderr and "清单中没有二氧化硫、氨、一次PM2.5排放" in res.stdout
    man = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert any("清单中没有氨" in w for w in man["warnings"])
    ds = xr.load_dataset(run / "results.nc", engine="h5netcdf")
    pm = ds.sel(target="pm25-2022")
    assert str(pm["target_unit"].values) == "ug m-3"
    assert float(pm["concentration_base"]) == pytest.approx(21.0)
    assert float(pm["concentration_target"]) == pytest.approx(26.0)
    assert float(pm["concentration_projected"]) == pytest.approx(21.0 + float(pm["concentration_change"].sum()))
    assert float(pm["margin"]) == pytest.approx(26.0 - float(pm["concentration_projected"]))
    import pandas as pd

    tf = pd.read_csv(run / "targets.csv")
    row = tf[tf["target"] == "pm25-2022"].iloc[0]
    assert row["unit"] == "ug m-3" and row["concentration_target"] == pytest.approx(26.0)
    sf = pd.read_csv(run / "summary.csv")
    assert set(sf.loc[sf["target"] == "pm25-2022", "target_unit"]) == {"ug m-3"}
    assert set(sf.loc[sf["target"] == "cod-2022", "target_unit"]) == {"t"}
    out = env / "ningbo-appendix"
    invoke("appendix", str(run), "--format", "md", "--out", str(out))
    md = (out / "appendix.md").read_text(encoding="utf-8")
    assert "基准年浓度21.0 µg/m³" in md and "目标值（µg/m³）" in md
    assert "仅计本地排放变化" in md and "清单中没有二氧化硫、氨、一次PM2.5排放" in md
    assert "要求减排-5" not in md and "PM2.52021" not in md


def test_terminal_fits_80_columns_and_cuts_no_name(env):
    # COLUMNS=80 (the env fixture): every line fits, target names wrap inside their column, none is cut
    from sim.model.load import load_scenario

    res = invoke("run", "scenarios/ankang-2025.yaml", "--no-figures")
    lines = res.stdout.splitlines()
    from rich.cells import cell_len

    assert max(cell_len(line) for line in lines) <= 80 and "…" not in res.stdout
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("目标 "))
    names: list[str] = []
    for line in lines[head + 2:]:
        if not line.strip():
            break
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) > 1:
            names.append(parts[0])
        else:
            names[-1] += parts[0]
    scen = load_scenario(REPO / "scenarios" / "ankang-2025.yaml")
    want = [f"{t.name or t.id} ({t.year}年)" for t in scen.targets]
    assert [re.sub(r"\s", "", n) for n in names] == [re.sub(r"\s", "", n) for n in want]


def test_compare_the_ankang_variants(env, tmp_path):
    xlsx, iamc = tmp_path / "cmp.xlsx", tmp_path / "cmp.csv"
    res = invoke("compare", "scenarios/ankang-2025.yaml", "scenarios/ankang-2025-variants.yaml#strong",
                 "scenarios/ankang-2025-variants.yaml#slow", "--out", str(tmp_path / "charts"),
                 "--xlsx", str(xlsx), "--iamc", str(iamc))
    assert "目标余量比较" in res.stdout
    assert xlsx.stat().st_size > 0 and iamc.stat().st_size > 0
    assert list((tmp_path / "charts" / "figures").glob("*.png"))


def test_solve_the_costed_scenario(env, tmp_path):
    res = invoke("solve", "scenarios/ankang-2025-costs.yaml", "--out", str(tmp_path), codes=(0, 3))
    assert (tmp_path / "mix.csv").is_file()
    assert list(tmp_path.glob("*-least-cost.yaml"))
    if res.exit_code == 3:
        assert "cannot all be met" in res.output


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sweep_and_sensitivity(env, scenario, tmp_path):
    from sim.model.load import load_scenario

    scen = load_scenario(REPO / "scenarios" / scenario)
    mid = scen.measures[0].id
    invoke("sweep", f"scenarios/{scenario}", "--set", f"measures.{mid}.completion=0.5,0.75,1", "--quiet",
           "--out", str(tmp_path / "sweep"))
    assert (tmp_path / "sweep" / "results.nc").is_file()
    if not scen.targets:  # Jincheng: no targets, so no margins to chart or rank
        return
    assert len(list((tmp_path / "sweep" / "figures").glob("*.png"))) == len(scen.targets)
    for method, n in (("tornado", "2"), ("morris", "4"), ("sobol", "8")):
        out = tmp_path / method
        invoke("sensitivity", f"scenarios/{scenario}", "--method", method, "-n", n, "--out", str(out))
        assert (out / f"{method}.csv").is_file() and (out / f"{method}.png").is_file()


def test_batch_over_the_example_folder(env, tmp_path):
    invoke("batch", "scenarios", "--samples", "20", "--workers", "1", "--quiet", "--out", str(tmp_path / "batch"))
    assert (tmp_path / "batch" / "results.nc").is_file() and (tmp_path / "batch" / "summary.csv").is_file()


def test_readme_python_blocks_run(env, tmp_path, monkeypatch):
    """Every ```python block of README.md runs as written, from the repository root."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no Python example"
    import contextlib
    import io

    for code in blocks:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_readme_monte_carlo_lines_on_every_example(env, scenario):
    """The README's Monte Carlo lines work on every example, targets or none: targets_frame has the
    same columns whether the scenario has targets or not (jincheng-2020 has none)."""
    import sim

    mc = sim.run(f"scenarios/{scenario}", samples=20, seed=1)
    frame = mc.targets_frame()[["target", "margin_p5", "margin_p95", "probability"]]
    assert len(frame) == len(mc.model.scenario.targets)
    central = sim.run(f"scenarios/{scenario}").targets_frame()
    assert {"target", "name", "required", "achieved", "margin", "unit", "status"} <= set(central.columns)


def test_a_reduced_precursor_without_a_response_row_is_named(env):
    """Ankang reduces VOCs, which have no PM2.5 response row: the run says that VOC reductions
    count as no change of PM2.5 (they once disappeared from the response without a word)."""
    res = invoke("run", "scenarios/ankang-2025.yaml", "--no-figures")
    assert "响应表中没有挥发性有机物的份额或系数" in res.stderr
    man = json.loads((run_folder(res) / "manifest.json").read_text(encoding="utf-8"))
    assert any("no share or coefficient for VOCs" in w for w in man["warnings"])
    ds = xr.load_dataset(run_folder(res) / "results.nc", engine="h5netcdf")
    assert "VOCs" not in set(ds["concentration_change"]["precursor"].values)


def test_readme_scenario_runs_as_it_stands(env, tmp_path):
    """The README's scenario ('A scenario, in short') is a whole scenario: it runs, and with samples."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("name:")]
    assert blocks, "README has no scenario"
    for i, block in enumerate(blocks):
        path = tmp_path / f"readme-{i}.yaml"
        path.write_text(block, encoding="utf-8")
        invoke("run", str(path), "--no-figures")
        invoke("run", str(path), "--samples", "50", "--no-figures")
