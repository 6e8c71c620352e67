"""The run record: a run folder holds its inputs, opens whole, and everything that reads a run reads only it.

Also the one output writer (foreign folders refused, nothing overwritten), the Python API and
the layering of the package (imports point down, no cycle, nothing imports the CLI).
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import sim
from sim.cli.main import main

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A copy of the example scenarios in a scratch folder, outputs beside them."""
    shutil.copytree(REPO / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    return tmp_path


def _assert_same_dataset(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        va, vb = a[name].values, b[name].values
        assert va.shape == vb.shape, name
        if va.dtype.kind in "fc":
            np.testing.assert_array_equal(va, vb, err_msg=name)
        else:
            assert [str(x) for x in va.ravel()] == [str(x) for x in vb.ravel()], name
    assert set(a.attrs) == set(b.attrs)
    def norm(v: object) -> object:
        if isinstance(v, (list, tuple, np.ndarray)):
            return [norm(x) for x in v]
        return v.item() if isinstance(v, np.generic) else v

    for k in a.attrs:
        assert norm(a.attrs[k]) == norm(b.attrs[k]), k


def _same_result(opened: sim.Result, res: sim.Result) -> None:
    _assert_same_dataset(opened.inputs, res.inputs)
    _assert_same_dataset(opened.dataset, res.dataset)
    assert opened.model.param_names == res.model.param_names
    np.testing.assert_array_equal(opened.model.param_matrix(n=1), res.model.param_matrix(n=1))
    assert opened.scenario.measures == res.scenario.measures
    assert opened.scenario.targets == res.scenario.targets
    assert opened.settings == res.settings and opened.warnings == res.warnings


@pytest.mark.parametrize("samples", [0, 50])
def test_open_run_equals_the_run_also_after_copying(project, samples):
    res = sim.run("scenarios/ankang-2025.yaml", samples=samples, seed=3)
    folder = res.save()
    _same_result(sim.open_run(folder), res)
    _same_result(sim.open_run(res.run_id), res)
    moved = project / "elsewhere" / "the-run"
    shutil.copytree(folder, moved)
    shutil.rmtree(project / "scenarios")
    _same_result(sim.open_run(moved), res)
    # and the opened model evaluates to the same numbers (it is the model, not a copy of its outputs)
    again = sim.run(sim.open_run(moved).scenario, sim.open_run(moved).model.library)
    np.testing.assert_array_equal(again.dataset["emissions_total"].values, res.dataset["emissions_total"].values)


def _measure_table(md_json: dict) -> dict:
    (t,) = [b for s in md_json["sections"] for b in s["blocks"] if b["type"] == "table" and b["key"] == "measures"]
    return t


def test_appendix_after_the_scenario_is_edited_and_moved(project):
    """Run Ankang, append a comment to its YAML, move the scenarios folder: the same appendix tables."""
    assert _cli("run", "scenarios/ankang-2025.yaml", "--quiet").exit_code == 0
    before = sim.write_appendix("ankang-2025", formats="md")
    with (project / "scenarios" / "ankang-2025.yaml").open("a", encoding="utf-8") as fh:
        fh.write("\n# a planner's note added after the run\n")
    (project / "scenarios").rename(project / "moved-scenarios")
    res = _cli("appendix", "ankang-2025", "--format", "md")
    assert res.exit_code == 0, res.output
    after = Path(res.output.split()[-1])

    def tables(path: Path) -> list[dict]:
        content = json.loads((path.parent / "appendix.json").read_text(encoding="utf-8"))
        return [b for s in content["sections"] for b in s["blocks"] if b["type"] == "table" and b["key"] != "manifest"]

    assert tables(after) == tables(before[0])
    measures = _measure_table(json.loads((after.parent / "appendix.json").read_text(encoding="utf-8")))
    cols = measures["columns"]
    for name in ("工程量", "进度", "依据"):
        j = next(i for i, c in enumerate(cols) if name in c)
        assert all(r[j]["text"] not in ("", "—") for r in measures["rows"]), (name, [r[j]["text"] for r in measures["rows"]])
    assert "情景文件不可用" not in after.read_text(encoding="utf-8")


def test_api_names_are_callables_not_modules():
    for name in ("run", "open_run", "compare", "solve", "sweep", "sensitivity", "batch", "write_appendix",
                 "load_scenario", "list_runs", "save_run"):
        assert callable(getattr(sim, name)) and not isinstance(getattr(sim, name), type(sim)), name


def test_api_objects_give_datasets_and_save_themselves(project):
    sw = sim.sweep("scenarios/ankang-2025.yaml", {"measures.urban-sewage.completion": "0.5,1"})
    assert isinstance(sw.to_dataset(), xr.Dataset) and len(sw.grid_frame())
    se = sim.sensitivity("scenarios/ankang-2025.yaml", "tornado")
    assert len(se.table) and isinstance(se.dataset, xr.Dataset)
    so = sim.solve("scenarios/ankang-2025-costs.yaml")
    assert isinstance(so.dataset, xr.Dataset) and len(so.prices_frame()) == len(so.solution.targets)
    cmp = sim.compare(["scenarios/ankang-2025.yaml", "scenarios/ankang-2025-variants.yaml#slow"])
    assert list(cmp.dataset["scenario"].values) == ["ankang-2025", "ankang-2025-variants-slow"]
    folders = [sw.save(), se.save(), so.save(), so.save(), cmp.save(figures=False), cmp.save(figures=False)]
    assert len(set(folders)) == len(folders) and all((f / "manifest.json").is_file() for f in folders)
    kinds = sorted(o["kind"] for o in sim.list_outputs())
    assert kinds == ["compare", "compare", "sensitivity", "solve", "solve", "sweep"]
    # started from a run: the run folder is all it reads
    run = sim.run("scenarios/ankang-2025.yaml")
    run.save()
    shutil.rmtree(project / "scenarios")
    from_run = sim.sweep(run.run_id, ["measures.urban-sewage.completion=0.5,1"])
    np.testing.assert_array_equal(from_run.dataset["margin"].values, sw.dataset["margin"].values)
    assert from_run.started_from == run.run_id


COMMANDS_WITH_OUT = [
    ["run", "scenarios/ankang-2025.yaml", "--quiet", "--no-figures"],
    ["sweep", "scenarios/ankang-2025.yaml", "--set", "measures.urban-sewage.completion=0.5,1", "--quiet"],
    ["sensitivity", "scenarios/ankang-2025.yaml"],
    ["solve", "scenarios/ankang-2025-costs.yaml"],
    ["compare", "scenarios/ankang-2025.yaml", "scenarios/ankang-2025-variants.yaml#slow", "--no-figures"],
    ["batch", "scenarios/ankang-2025.yaml"],
    ["appendix", "ankang-2025", "--format", "md"],
]


@pytest.mark.parametrize("args", COMMANDS_WITH_OUT, ids=lambda a: a[0])
def test_out_on_a_foreign_folder_is_refused_untouched(project, args):
    if args[0] == "appendix":
        assert _cli("run", "scenarios/ankang-2025.yaml", "--quiet", "--no-figures").exit_code == 0
    foreign = project / "my-documents"
    foreign.mkdir()
    (foreign / "plan.docx").write_bytes(b"not ersim's")
    res = _cli(*args, "--out", str(foreign))
    assert res.exit_code == 2, res.output
    assert "refusing" in res.output and "Traceback" not in res.output
    assert [p.name for p in foreign.iterdir()] == ["plan.docx"]
    assert (foreign / "plan.docx").read_bytes() == b"not ersim's"


@pytest.mark.parametrize("args", [COMMANDS_WITH_OUT[3], COMMANDS_WITH_OUT[4]], ids=["solve", "compare"])
def test_two_outputs_of_the_same_input_are_both_kept(project, args):
    for _ in range(2):
        assert _cli(*args).exit_code in (0, 3)
    kind = args[0]
    outs = [o for o in sim.list_outputs() if o["kind"] == kind]
    assert len(outs) == 2 and outs[0]["path"] != outs[1]["path"]
    assert all(Path(o["path"]).is_dir() for o in outs)


def test_runs_lists_every_kind_and_flags_a_damaged_run(project):
    assert _cli("run", "scenarios/ankang-2025.yaml", "--quiet", "--no-figures").exit_code == 0
    assert _cli("run", "scenarios/ningbo-2022.yaml", "--quiet", "--no-figures").exit_code == 0
    assert _cli("sensitivity", "scenarios/ankang-2025.yaml").exit_code == 0
    runs = sim.list_runs()
    damaged = Path(runs[-1]["path"]) / "results.nc"
    damaged.write_bytes(damaged.read_bytes()[:100])
    res = CliRunner().invoke(main, ["runs"], catch_exceptions=False, terminal_width=200)
    assert res.exit_code == 0
    assert "sensitivity" in res.output and "DAMAGED" in res.output, res.output
    res = _cli("appendix", runs[-1]["id"])
    assert res.exit_code == 2 and "results.nc" in res.output and "Traceback" not in res.output


# ---- the structure ---------------------------------------------------------------------------------

LAYERS = ["core", "model", "evaluation", "store", "analyses", "reports", "cli"]


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sim"):
            out.add(node.module)
            if node.module == "sim":
                out.update(f"sim.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("sim"))
    return out


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_imports_point_down_and_nothing_imports_the_cli():
    bad = []
    for path in sorted((REPO / "sim").rglob("*.py")):
        mod = ".".join(path.relative_to(REPO).with_suffix("").parts)
        here = _layer(mod)
        for imp in _imports(path):
            there = _layer(imp)
            if there == "cli" and here != "cli":
                bad.append(f"{mod} imports the CLI ({imp})")
            if here and there and LAYERS.index(there) > LAYERS.index(here):
                bad.append(f"{mod} ({here}) imports {imp} ({there}), a layer above it")
    assert not bad, "\n".join(bad)


def test_the_engine_imports_nothing_but_errors_and_units():
    imps = _imports(REPO / "sim" / "core" / "engine.py")
    assert imps <= {"sim.core.errors", "sim.core.units"}, imps


def test_no_import_cycle_between_modules():
    graph: dict[str, set[str]] = {}
    for path in sorted((REPO / "sim").rglob("*.py")):
        mod = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        graph[mod] = {i for i in _imports(path) if i in {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                                                           for p in (REPO / "sim").rglob("*.py")}}
    # the package root and the API are the top; everything may reach them only lazily through sim.__getattr__
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, stack: list[str]) -> bool:
        state[m] = 1
        for n in graph.get(m, ()):
            if n in ("sim", "sim.api"):
                continue
            if state.get(n) == 1:
                cycle.extend([*stack[stack.index(n):], n] if n in stack else [m, n])
                return True
            if state.get(n) is None and visit(n, [*stack, n]):
                return True
        state[m] = 2
        return False

    for m in graph:
        if state.get(m) is None and visit(m, [m]):
            break
    assert not cycle, " -> ".join(cycle)


def test_measures_csv_carries_per_measure_quantiles_under_samples(project):
    """DESIGN.md section 7: measures.csv gives each measure's reduction with its p5, p50 and p95."""
    import pandas as pd

    res = sim.run("scenarios/ankang-2025.yaml", samples=300, seed=5)
    folder = res.save()
    df = pd.read_csv(folder / "measures.csv")
    assert set(df["reduction_unit"]) == {"t/a"}  # the unit travels with the numbers
    assert {"reduction", "reduction_p5", "reduction_p50", "reduction_p95"} <= set(df.columns)
    assert (df["reduction_p5"] <= df["reduction_p50"] + 1e-9).all() and (df["reduction_p50"] <= df["reduction_p95"] + 1e-9).all()
    # a measure whose inputs carry no range has p5 = p50 = p95 = its central reduction
    ds = res.dataset
    row = df[(df["measure"] == str(ds["measure"].values[0]))]
    assert len(row) == ds.sizes["pollutant"] * ds.sizes["year"]
    np.testing.assert_allclose(df["reduction_p50"].to_numpy(),
                               ds["reduction_p50"].transpose("measure", "pollutant", "year").values.reshape(-1))


@pytest.mark.parametrize("name", ["安康/运行", b"gbk_\xb0\xb2\xbf\xb5/run"], ids=["chinese", "gbk-bytes"])
def test_a_run_writes_and_reopens_in_a_folder_of_any_name(project, name):
    """A Chinese folder, and one whose name is GBK bytes (an archive unpacked on Linux): the run is
    written there and reopened whole (a netCDF library that encodes paths strictly as UTF-8 fails)."""
    import os

    folder = project / (os.fsdecode(name) if isinstance(name, bytes) else name)
    try:
        folder.parent.mkdir(parents=True)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses the name")
    res = sim.run("scenarios/ankang-2025.yaml", samples=20, seed=1)
    res.save(folder)
    _same_result(sim.open_run(folder), res)


def test_a_sweep_keeps_measure_ids_in_any_unicode_form(project):
    """Sweep dims are named after the swept input: an id with a decomposed accent (NFD) or a CJK
    compatibility ideograph is written and read back as it is (not normalised, not refused)."""
    import unicodedata

    nfd = unicodedata.normalize("NFD", "chaudière-électrique")
    compat = "\uf900燃煤"
    text = (project / "scenarios" / "ankang-2025.yaml").read_text(encoding="utf-8")
    text = text.replace("id: boiler-electrification", f"id: {nfd}").replace("id: coal-to-gas", f"id: {compat}")
    path = project / "scenarios" / "ids.yaml"
    path.write_text(text, encoding="utf-8")
    out = sim.sweep(str(path), [f"measures.{nfd}.completion=0.5,1", f"measures.{compat}.quantity=0,100"])
    folder = out.save(project / "sweep")
    from sim.store.netcdf import read_netcdf

    ds = read_netcdf(folder / "results.nc")
    assert f"measures.{nfd}.completion" in ds.dims and f"measures.{compat}.quantity" in ds.dims


def test_shapley_run_with_samples_has_no_sequential_quantiles(tmp_path, monkeypatch):
    """Per-measure quantiles come from sequential attribution: a Shapley run with samples does not
    show them beside its Shapley central values (the central value once lay outside its own p5-p95)."""
    import sim

    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    sh = sim.run(str(REPO / "scenarios" / "ankang-2025.yaml"), samples=50, seed=1, attribution="shapley")
    assert "reduction_p5" not in sh.dataset and "sequential attribution only" in sh.dataset.attrs["reduction_quantile_note"]
    assert not {"reduction_p5", "reduction_p50", "reduction_p95"} & set(sh.measures_frame().columns)
    seq = sim.run(str(REPO / "scenarios" / "ankang-2025.yaml"), samples=50, seed=1)
    assert "reduction_p5" in seq.dataset and {"reduction_p5", "reduction_p95"} <= set(seq.measures_frame().columns)
    assert (sh.dataset["margin_sample"] == seq.dataset["margin_sample"]).all()  # totals do not depend on attribution
