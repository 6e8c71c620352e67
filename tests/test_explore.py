"""The what-if explorer (``ersim explore``): one HTML file whose numbers are the engine's.

The page is driven in headless Chromium (Debian's ``chromium``, installed by ``.ci/run``)
through ``window.ersimExplorer``; every number it gives is compared with the Python engine:
the run's margins, ``sim.sweep`` at one point, and random settings on every example scenario.
Margins agree to 1e-9 of max(|required|, |achieved|); reductions by measure to 1e-9 of the
pollutant's baseline total (sequential attribution subtracts totals of that size).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.analyses.sweep import evaluate_rows
from sim.cli.main import main
from sim.core import engine
from sim.evaluation.evaluate import target_specs
from sim.reports.explore import GENERATOR, eval_tree, explore_data, formula_tree, render_html

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
browser = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs Debian's chromium)")
REL = 1e-9
EXAMPLES = [*sorted(p.name for p in (REPO / "scenarios").glob("*.yaml")), "ankang-2025-variants.yaml#strong",
            "ankang-2025-variants.yaml#slow"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the example scenarios in a scratch folder, outputs beside them."""
    root = tmp_path_factory.mktemp("explore")
    shutil.copytree(REPO / "scenarios", root / "scenarios")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("ERSIM_OUTPUTS", str(root / "outputs"))
    yield root
    mp.undo()


_runs: dict[str, Any] = {}


def saved_run(ref: str) -> Any:
    """The example *ref* run and saved (once per module)."""
    if ref not in _runs:
        res = sim.run(f"scenarios/{ref}")
        sim.save_run(res)
        _runs[ref] = res
    return _runs[ref]


def page_of(res: Any, folder: Path, name: str, embed_font: bool = False) -> Path:
    path = folder / f"{name}.html"
    path.write_text(render_html(res, embed_font=embed_font), encoding="utf-8")
    return path


HARNESS = """<script>
(function () {
  var E = window.ersimExplorer, steps = %s, out = [], slowest = 0;
  try {
    steps.forEach(function (s) {
      if (s.reset) E.reset();
      if (s.bad) { try { E.set(s.bad, 0.5); out.push({refused: null}); } catch (e) { out.push({refused: String(e.message)}); } return; }
      (s.set || []).forEach(function (kv) { var t = performance.now(); E.set(kv[0], kv[1]); slowest = Math.max(slowest, performance.now() - t); });
      out.push({targets: E.targets(), reductions: E.reductions(), totals: E.totals(), yaml: s.yaml ? E.yaml() : null});
    });
    out = {steps: out, ready_ms: E.readyMs, slowest_set_ms: slowest};
  } catch (e) { out = {error: String(e) + "\\n" + e.stack}; }
  var pre = document.createElement("pre"); pre.id = "ersim-test-out"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def drive(page: Path, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Load *page* in headless Chromium, run *steps* through window.ersimExplorer, return what it answered."""
    text = page.read_text(encoding="utf-8")
    harness = page.with_name(page.stem + "-harness.html")
    harness.write_text(text.replace("</body>", HARNESS % json.dumps(steps) + "</body>"), encoding="utf-8")
    profile = page.with_name(page.stem + "-profile")
    assert CHROMIUM is not None
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={profile}", "--dump-dom", harness.as_uri()],
                          capture_output=True, text=True, timeout=180, check=False)
    m = re.search(r'<pre id="ersim-test-out">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"no answer from the page (exit {proc.returncode}): {proc.stderr[-2000:]}"
    out = json.loads(html.unescape(m.group(1)))
    assert "error" not in out, out.get("error")
    return out


def assert_margins(page_targets: list[dict[str, Any]], req: np.ndarray, ach: np.ndarray, ids: list[str]) -> None:
    assert [t["id"] for t in page_targets] == ids
    for t, r, a in zip(page_targets, req, ach, strict=True):
        scale = max(abs(r), abs(a), 1e-12)
        assert abs(t["required"] - r) <= REL * scale, (t, r)
        assert abs(t["achieved"] - a) <= REL * scale, (t, a)
        assert abs(t["margin"] - (a - r)) <= REL * scale, (t, a - r)


def assert_reductions(page: dict[str, list[list[float]]], red: np.ndarray, base_total: np.ndarray, measures: list[str]) -> None:
    got = np.array([page[m] for m in measures]) if measures else np.zeros_like(red)
    tol = REL * np.maximum(np.abs(base_total), 1e-12)[None]  # [1,P,Y]
    assert np.all(np.abs(got - red) <= tol), float(np.max(np.abs(got - red) / tol))


# ---- the formula trees (no browser) ---------------------------------------------------------------

_models: list[Any] = []


def _example_models() -> list[Any]:
    if not _models:
        from sim.model.compile import compile_model

        lib = sim.load_library()
        _models.extend(compile_model(sim.load_scenario(REPO / "scenarios" / ref), lib)
                       for ref in ("ankang-2025.yaml", "jiaozuo-2022.yaml", "ningbo-2022.yaml"))
    return _models


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.3, 3.0), min_size=64, max_size=64))
def test_derived_coefficients_as_trees_equal_the_library(factors):
    """Every derived coefficient an example uses, as the page evaluates it, equals Library.evaluate
    (pint's unit conversions included) at random values of its base keys."""
    for m in _example_models():
        names = m.param_names
        base = {n[5:]: i for i, n in enumerate(names) if n.startswith("coef:")}
        x = m.param_matrix(n=1)[0] * np.resize(np.array(factors), len(names))
        values = {k: np.array([x[i]]) for k, i in base.items()}
        for key in m.keys_used:
            if not m.library[key].formula:
                continue
            want = float(np.asarray(m.library.evaluate(key, values)).ravel()[0])
            assert eval_tree(formula_tree(m.library, key, base), x) == pytest.approx(want, rel=1e-12, abs=0)


def test_a_worked_formula_tree_carries_the_unit_conversion():
    # boiler_coal_so2_ef_small = boiler_coal_so2_gen_per_s * coal_sulfur_content_default * (1 - boiler_coal_desulf_eff_small)
    # = 16 kg/(t·%) x 1 % x (1 - 60 %) = 6.4 kg/t: the 60 % enters as 0.6 (a factor 0.01 in the tree)
    lib = sim.load_library()
    keys = ["boiler_coal_so2_gen_per_s", "coal_sulfur_content_default", "boiler_coal_desulf_eff_small"]
    base = {k: i for i, k in enumerate(keys)}
    tree = formula_tree(lib, "boiler_coal_so2_ef_small", base)
    assert eval_tree(tree, np.array([16.0, 1.0, 60.0])) == pytest.approx(6.4, rel=1e-12)
    assert eval_tree(tree, np.array([16.0, 1.0, 30.0])) == pytest.approx(16 * 1 * 0.7, rel=1e-12)
    assert "0.01" in json.dumps(tree)


# ---- the page against the engine (headless Chromium) ---------------------------------------------

@browser
@pytest.mark.parametrize("ref", ["ankang-2025.yaml", "jiaozuo-2022.yaml"])
def test_page_margins_equal_the_run_and_the_sweep(project, ref):
    """At load the page's margins are the run's; after set(completion, 0.5) they are sim.sweep's at that point."""
    res = saved_run(ref)
    run = sim.open_run(res.run_id)
    model = run.model
    page = page_of(run, project, ref.replace(".yaml", ""))
    steps: list[dict[str, Any]] = [{}]
    steps += [{"reset": True, "set": [[f"measures.{m}.completion", 0.5]]} for m in model.measures]
    out = drive(page, steps)["steps"]
    ds = run.dataset
    ids = [str(t) for t in ds["target"].values]
    assert_margins(out[0]["targets"], ds["required"].values, ds["achieved"].values, ids)
    assert [t["status"] for t in out[0]["targets"]] == [str(s) for s in ds["status"].values]
    assert_reductions(out[0]["reductions"], ds["reduction"].values, ds["baseline_total"].values, model.measures)
    for m, step in zip(model.measures, out[1:], strict=True):
        sw = sim.sweep(run.run_id, {f"measures.{m}.completion": "0.5"}).dataset
        margin = sw["margin"].values[0]
        got = np.array([t["margin"] for t in step["targets"]])
        scale = np.maximum(np.abs([t["required"] for t in step["targets"]]), np.abs([t["achieved"] for t in step["targets"]]))
        assert np.all(np.abs(got - margin) <= REL * np.maximum(scale, 1e-12)), (m, got, margin)


def _random_steps(data: dict[str, Any], rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    """*n* random settings of every control of the page (each from the run's values)."""
    steps = []
    for _ in range(n):
        sets = []
        for c in data["controls"]:
            if c["group"] == "targets":
                v = c["value"] * rng.uniform(0.5, 1.5)
            else:
                lo, hi = c["min"], c["max"]
                v = rng.uniform(lo, hi)
            sets.append([c["path"], float(v)])
        steps.append({"reset": True, "set": sets})
    return steps


def _reference(model: Any, data: dict[str, Any], sets: list[list[Any]]) -> tuple[np.ndarray, ...]:
    """(required, achieved, reductions [M,P,Y], baseline totals [P,Y]) from the Python engine."""
    names = model.param_names
    col = {n: i for i, n in enumerate(names)}
    x = model.param_matrix(n=1)
    specs = target_specs(model)
    values = np.array([[t.value for t in specs]])
    by_path = {c["path"]: c for c in data["controls"]}
    for path, v in sets:
        c = by_path[path]
        if c["group"] == "targets":
            values[0, c["target"]] = v
        elif c.get("field") == "quantity":
            x[0, col[f"qty:{c['measure']}"]] = v * c["scale"]
        elif c["group"] == "measures":
            x[0, col[f"{c['field']}:{c['measure']}"]] = v
        elif c["group"] == "coefficients":
            x[0, col[f"coef:{c['key']}"]] = v
        else:
            x[0, col[f"growth:{model.pools[c['pool']]}"]] = v
    base, _emis, req, ach = evaluate_rows(model, x, values if specs else None)
    red = engine.attribute_sequential(model.inputs_from_matrix(x))
    return req[0], ach[0], red, base[0]


@browser
@pytest.mark.parametrize("ref", EXAMPLES)
def test_random_settings_equal_the_engine_on_every_example(project, ref):
    res = saved_run(ref)
    model = res.model
    data = explore_data(res)
    steps = _random_steps(data, np.random.default_rng(zlib.crc32(ref.encode())), 4)
    out = drive(page_of(res, project, ref.replace(".yaml", "").replace("#", "-")), steps)["steps"]
    ids = [t.id for t in model.scenario.targets]
    for step, got in zip(steps, out, strict=True):
        req, ach, red, base = _reference(model, data, step["set"])
        assert_margins(got["targets"], req, ach, ids)
        assert_reductions(got["reductions"], red, base, model.measures)
        # in the page too, sequential credits add up to baseline - emissions (they telescope)
        page_red = np.array([got["reductions"][m] for m in model.measures]).sum(axis=0) if model.measures else 0.0
        page_tot = np.array(got["totals"]["baseline"]) - np.array(got["totals"]["emissions"])
        assert np.all(np.abs(page_red - page_tot) <= REL * np.maximum(np.abs(base), 1e-12))


@browser
def test_saved_scenario_runs_to_the_page_numbers(project):
    """'Save as scenario' gives the run's whole scenario with the page's changes, which ersim
    runs to the margins the page shows wherever the file is saved: it names no path of the
    machine that wrote the page, and runs with the run's scenario file gone."""
    res = saved_run("ankang-2025.yaml")
    run = sim.open_run(res.run_id)
    sets = [["measures.rural-sewage.completion", 0.7], ["measures.china3-trucks.quantity", 1234.5],
            ["coefficients.veh_nox_hdt_cn3", 12.5], ["growth.vocs.industry.solvent", 0.045],
            ["targets.nox-2025.value", 900.0], ["measures.cement-ule.share", 0.8]]
    out = drive(page_of(run, project, "ankang-save"), [{"set": sets, "yaml": True}])["steps"][0]
    text = out["yaml"]
    assert "extends:" not in text and str(project) not in text
    assert "#   measures.rural-sewage.completion: " in text and " -> 70%" in text  # the changes, listed
    assert "#   targets.nox-2025.value: " in text and " -> 900 t" in text
    f = project / "elsewhere" / "whatif.yaml"
    f.parent.mkdir()
    f.write_text(text, encoding="utf-8")
    rerun = sim.run(f)
    ds = rerun.dataset
    assert_margins(out["targets"], ds["required"].values, ds["achieved"].values, [str(t) for t in ds["target"].values])

    # a run whose scenario file is gone: the saved file holds the whole scenario
    src = project / "scenarios" / "moved-ningbo.yaml"
    shutil.copy(project / "scenarios" / "ningbo-2022.yaml", src)
    gone = sim.run(src)
    sim.save_run(gone)
    src.unlink()
    opened = sim.open_run(gone.run_id)
    data = explore_data(opened)
    sets2 = _random_steps(data, np.random.default_rng(7), 1)[0]["set"]
    sets2 = [s for s in sets2 if ".quantity" not in s[0]]  # quantities within their pools (ersim run checks them)
    out2 = drive(page_of(opened, project, "ningbo-save"), [{"set": sets2, "yaml": True}])["steps"][0]
    assert "extends:" not in out2["yaml"]
    f2 = project / "whatif-ningbo.yaml"
    f2.write_text(out2["yaml"], encoding="utf-8")
    ds2 = sim.run(f2).dataset
    assert_margins(out2["targets"], ds2["required"].values, ds2["achieved"].values, [str(t) for t in ds2["target"].values])


@browser
def test_ankang_page_is_small_quick_and_has_no_network(project):
    res = saved_run("ankang-2025.yaml")
    page = page_of(res, project, "ankang-font", embed_font=True)
    size = page.stat().st_size
    assert size < 1_000_000, size
    out = drive(page, [{"set": [["measures.china3-trucks.completion", 0.5]]}, {"bad": "measures.china3-truck.completion"},
                       {"bad": "measure.china3-trucks.completion"}])
    assert out["ready_ms"] < 1000, out["ready_ms"]
    assert out["slowest_set_ms"] < 500, out["slowest_set_ms"]  # a slider move answered well within a second
    # unknown paths are refused with the path named (and nothing changes)
    assert out["steps"][1]["refused"] == ("unknown path measures.china3-truck.completion "
                                          "(did you mean measures.china3-trucks.completion?)")
    assert "a path starts with measures., coefficients., growth. or targets." in out["steps"][2]["refused"]
    _assert_offline(page.read_text(encoding="utf-8"))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k in ("src", "href", "srcset", "action", "poster", "data") and v is not None:
                self.refs.append((tag, k, v))


def _assert_offline(text: str) -> None:
    p = _Links()
    p.feed(text)
    assert p.refs == [], p.refs  # no src or href at all: scripts, styles, font and data are inline
    for pattern in (r"fetch\(", r"XMLHttpRequest", r"WebSocket", r"@import", r"import\(", r"navigator\.sendBeacon"):
        assert not re.search(pattern, text), pattern
    for url in re.findall(r"url\(([^)]*)\)", text):
        assert url.strip("'\"").startswith("data:"), url


# ---- the command ----------------------------------------------------------------------------------

def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_writes_through_the_one_writer_and_refuses_foreign_files(project):
    res = saved_run("ankang-2025.yaml")
    r = _cli("explore", res.run_id)
    assert r.exit_code == 0, r.output
    path = Path(r.output.strip().splitlines()[-1])
    assert path.name == "explore.html" and path.parent.name.startswith("explore-")
    man = json.loads((path.parent / "manifest.json").read_text(encoding="utf-8"))
    assert man["kind"] == "explore" and man["run_id"] == res.run_id
    assert any(o["kind"] == "explore" for o in sim.list_outputs())
    text = path.read_text(encoding="utf-8")
    assert f'<meta name="generator" content="{GENERATOR}">' in text and "恢复原运行设置" in text
    _assert_offline(text)

    mine = project / "ankang-en.html"
    r = _cli("explore", res.run_id, "--out", str(mine), "--lang", "en")
    assert r.exit_code == 0 and mine.is_file()
    assert "Reset to the run" in mine.read_text(encoding="utf-8")
    assert _cli("explore", res.run_id, "--out", str(mine)).exit_code == 0  # ersim's own page: replaced

    foreign = project / "notes.html"
    foreign.write_text("<p>the planner's notes</p>", encoding="utf-8")
    r = _cli("explore", res.run_id, "--out", str(foreign))
    assert r.exit_code == 2 and "refusing" in r.output and "Traceback" not in r.output
    assert foreign.read_text(encoding="utf-8") == "<p>the planner's notes</p>"

    r = _cli("explore", "no-such-run")
    assert r.exit_code == 2 and "no run" in r.output and "Traceback" not in r.output


def test_the_page_offers_every_control_the_issue_names(project):
    res = saved_run("ankang-2025.yaml")
    data = explore_data(res)
    paths = {c["path"] for c in data["controls"]}
    model = res.model
    for j, m in enumerate(model.scenario.measures):
        assert f"measures.{m.id}.completion" in paths
        assert (f"measures.{m.id}.quantity" in paths) == (m.quantity is not None)
        if m.quantity is None:
            assert f"measures.{m.id}.share" in paths
        del j
    unc = [n for n, p in model.params.items() if p.uncertain and n.startswith("coef:")]
    assert {f"coefficients.{n[5:]}" for n in unc} <= paths
    assert {f"growth.{pid}" for pid in model.pools if model.params[f"growth:{pid}"].uncertain} <= paths
    # quantity slider: 0 to twice the planned quantity (no potential given): china3-trucks 1800 辆 -> 3600
    trucks = next(c for c in data["controls"] if c["path"] == "measures.china3-trucks.quantity")
    assert (trucks["min"], trucks["max"], trucks["unit"]) == (0.0, 3600.0, "辆")


PERCENT_HARNESS = """<script>
(function () {
  var path = "coefficients.gas_station_vapour_recovery_eff", out;
  try {
    var box = document.querySelector('input.num[data-path="' + path + '"]');
    var run = box.parentNode.querySelector(".runval").textContent;
    box.value = "95"; box.dispatchEvent(new Event("change"));
    var typed = window.ersimExplorer.yaml();
    window.ersimExplorer.reset().set(path, "93%");
    out = {run: run, typed: typed, set: window.ersimExplorer.yaml()};
  } catch (e) { out = {error: String(e) + "\\n" + e.stack}; }
  var pre = document.createElement("pre"); pre.id = "ersim-test-out"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


@browser
def test_a_coefficient_in_percent_reads_and_saves_as_percent(project):
    """Ankang's vapour recovery is 90 (%) in its table: the page shows 90 %, not 9,000 %; 95 typed in
    its box, or set as '93%', is 95 % (93 %), saved as value 95 (93) in unit %, and runs to the page's
    margins (it was read as 0.95 %)."""
    res = saved_run("ankang-2025.yaml")
    page = page_of(res, project, "ankang-percent")
    harness = page.with_name("ankang-percent-harness.html")
    harness.write_text(page.read_text(encoding="utf-8").replace("</body>", PERCENT_HARNESS + "</body>"), encoding="utf-8")
    assert CHROMIUM is not None
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={project / 'percent-profile'}", "--dump-dom", harness.as_uri()],
                          capture_output=True, text=True, timeout=180, check=False)
    m = re.search(r'<pre id="ersim-test-out">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stderr[-2000:]
    out = json.loads(html.unescape(m.group(1)))
    assert "error" not in out, out.get("error")
    assert "90.00 %" in out["run"] or "90 %" in out["run"], out["run"]
    assert "9,000" not in out["run"]
    assert "coefficients.gas_station_vapour_recovery_eff: 90 % -> 95 %" in out["typed"], out["typed"][:400]
    saved = json.loads("\n".join(line for line in out["typed"].splitlines() if not line.startswith("#")))
    assert saved["coefficients"]["gas_station_vapour_recovery_eff"]["value"] == 95
    assert saved["coefficients"]["gas_station_vapour_recovery_eff"]["unit"] == "%"
    assert "-> 93 %" in out["set"]
    f = project / "percent.yaml"
    f.write_text(out["typed"], encoding="utf-8")
    more = sim.run(f).dataset["reduction_total"].sel(pollutant="VOCs").values
    assert (more > res.dataset["reduction_total"].sel(pollutant="VOCs").values - 1e-9).all()  # 95 % recovers more than 90 %
    assert more[-1] > res.dataset["reduction_total"].sel(pollutant="VOCs").values[-1]


def test_a_saved_scenario_names_its_own_response_table_bare(tmp_path: Path) -> None:
    """A scenario with a PM2.5 response table of its own (data/resp.csv): the page's saved scenario
    names it bare (resp.csv, to sit beside the saved file) and says so, not by a path of this machine."""
    src = REPO / "tests" / "data" / "bad" / "scenario" / "air-response-gbk"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "resp.csv").write_text((src / "response.csv").read_bytes().decode("gbk"), encoding="utf-8")
    text = (src / "s.yaml").read_text(encoding="utf-8").replace("response: response.csv", "response: data/resp.csv")
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    data = explore_data(sim.run(tmp_path / "s.yaml"))
    assert data["scenario"]["doc"]["air_quality"]["response"] == "resp.csv"
    assert data["scenario"]["needs"] == ["resp.csv"]
    assert str(tmp_path) not in json.dumps(data, ensure_ascii=False)
