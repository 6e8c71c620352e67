"""Properties of the loaders (hypothesis), with a budget that fits CI (a few seconds each).

* any generated valid scenario loads and runs, with finite, non-negative emissions;
* any mutation of a valid scenario (a key deleted, a value of another type, junk text inserted,
  a number made a word, the file truncated, bytes broken; with or without a variant) either
  runs or fails with exit code 2 and a message naming the file, never a traceback;
* so does any mutation of its inventory as a CSV file (a cell, a quote, a column, an encoding).

ERSIM_PROPERTY_SCALE=20 searches twenty times longer.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli.main import main


def budget(n: int) -> settings:
    """*n* examples; ERSIM_PROPERTY_SCALE=20 searches twenty times longer (locally, not in CI)."""
    n *= int(os.environ.get("ERSIM_PROPERTY_SCALE", "1"))
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# activity units, with emission factors per unit that give tonnes a year
UNITS = [("蒸吨", "t/(蒸吨*a)"), ("户", "kg/(户*a)"), ("辆", "kg/(辆*a)"), ("吨", "kg/t"), ("万立方米", "kg/万立方米")]
POLLUTANTS = ["NOx", "SO2", "PM", "VOCs"]
NAMES = ["燃煤锅炉", "散煤采暖", "重型柴油货车", "水泥熟料", "工业涂装", "boiler"]


def _num(x: float) -> str:
    return f"{x:.6g}"


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    """A valid scenario as a planner would write it: pools, measures within what pools hold, targets."""
    base = draw(st.integers(2015, 2024))
    years = sorted(draw(st.sets(st.integers(base + 1, base + 10), min_size=1, max_size=3)))
    pools: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 4))):
        unit, ef_unit = draw(st.sampled_from(UNITS))
        activity = draw(st.floats(0, 1e6, allow_nan=False))
        pols = draw(st.sets(st.sampled_from(POLLUTANTS), min_size=1, max_size=3))
        pool: dict[str, Any] = {
            "id": f"pool.{i}", "name": draw(st.sampled_from(NAMES)), "activity": f"{_num(activity)} {unit}",
            "ef": {p: f"{_num(draw(st.floats(0, 100, allow_nan=False)))} {ef_unit}" for p in sorted(pols)},
        }
        g = draw(st.floats(-0.04, 0.04))
        if draw(st.booleans()):
            pool["growth"] = f"{_num(g * 100)}%"
        else:
            pool["growth"] = [f"{_num(g * 100 - 1)}%", f"{_num(g * 100 + 1)}%"]
        pools.append(pool)
    n_measures = draw(st.integers(0, 4))
    measures: list[dict[str, Any]] = []
    for j in range(n_measures):
        k = draw(st.integers(0, len(pools) - 1))
        pool = pools[k]
        value, unit = pool["activity"].split(" ", 1)
        # at most half of what the pool holds over the measures: within 100% even with 5% a year decline
        qty = float(value) * draw(st.floats(0, 0.5)) / n_measures
        same = [p["id"] for p in pools if p is not pool and p["activity"].split(" ", 1)[1] == unit]
        kind = draw(st.sampled_from(["retire", "switch", "control"] if same else ["retire", "control"]))
        m: dict[str, Any] = {"id": f"m{j}", "name": f"措施{j}", "type": kind, "pool": pool["id"]}
        if kind == "control":
            m["share"] = f"{_num(draw(st.floats(0, 100)))}%"
            m["efficiency"] = {p: f"{_num(draw(st.floats(0, 99)))}%" for p in pool["ef"]}
        else:
            m["quantity"] = f"{_num(qty)} {unit}"
            if kind == "switch":
                m["to"] = draw(st.sampled_from(same))
            elif same and draw(st.booleans()):
                m["replaced_by"] = draw(st.sampled_from(same))
        timing = draw(st.sampled_from(["none", "commissioned", "year", "completion"]))
        if timing == "commissioned":
            m["commissioned"] = f"{draw(st.integers(base, years[-1]))}-{draw(st.integers(1, 12)):02d}"
        elif timing == "year":
            m["year"] = draw(st.integers(base, years[-1]))
        elif timing == "completion":
            lo = draw(st.floats(0, 1))
            m["completion"] = [_num(lo), _num(draw(st.floats(lo, 1)))]
        measures.append(m)
    emitted = sorted({p for pool in pools for p in pool["ef"]})
    targets = []
    for t in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["reduction_percent", "reduction_amount", "cap"]))
        value = f"{_num(draw(st.floats(-50, 50)))}%" if kind == "reduction_percent" else f"{_num(draw(st.floats(0, 1e5)))} 吨"
        targets.append({"id": f"t{t}", "pollutant": draw(st.sampled_from(emitted)), "kind": kind,
                        "value": value, "year": draw(st.sampled_from(years))})
    return {"name": "生成情景", "id": "generated", "region": "测试市", "base_year": base, "years": years,
            "inventory": pools, "measures": measures, "targets": targets}


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@budget(40)
@given(scenarios())
def test_generated_valid_scenarios_load_and_run(data: dict[str, Any]) -> None:
    from sim.api import load_scenario, run

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.yaml"
        path.write_text(_dump(data), encoding="utf-8")
        scen = load_scenario(path)
        result = run(scen)
    ds = result.dataset
    for name in ("baseline", "emissions", "reduction"):
        assert np.isfinite(ds[name].values).all(), name
    assert (ds["emissions"].values >= -1e-9 * max(1.0, float(np.abs(ds["baseline"].values).max()))).all()
    assert len(result.targets_frame()) == len(data["targets"])


# ---- mutations --------------------------------------------------------------------------------

def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


ODD_VALUES = [None, True, False, 0, -1, 1e12, 1e308, -2.5, math.nan, math.inf, -math.inf, "", "junk", "../../x", "1e400 吨",
              "nan 蒸吨", "12O0 蒸吨", [], {}, [1, "a"], {"x": {"y": [None]}}, "2022-13", "100%%", "!!python/object", "煤改气"]
JUNK = st.text(alphabet=list(":-[]{}\t\n!&*%#|>'\",?@`~\\ 0123456789aZ蒸吨万.\u3000\ufeff"), min_size=1, max_size=12)


@st.composite
def mutants(draw: Any) -> tuple[bytes, str]:
    """(file bytes, what to run): a valid scenario, sometimes with a variant, broken once or twice."""
    data = draw(scenarios())
    ref = "m.yaml"
    if draw(st.booleans()):
        body: dict[str, Any] = {"name": "变体", "years": data["years"][-1:]}
        if data["measures"]:
            body["measures"] = [{"id": data["measures"][0]["id"], "completion": "80%"}, dict(data["measures"][0], id="extra")]
        if data["targets"]:
            body["remove_targets"] = [data["targets"][0]["id"]]
            body["targets"] = [dict(data["targets"][0], year=data["years"][-1])]
        data["variants"] = {"strong": body}
        ref = "m.yaml#strong"
    text = _dump(data)
    how = draw(st.sampled_from(["delete", "retype", "junk", "number", "truncate", "bytes", "two"]))
    for step in range(2 if how == "two" else 1):
        kind = draw(st.sampled_from(["delete", "retype", "junk", "number", "truncate"])) if how == "two" else how
        if kind in ("delete", "retype"):
            paths = _paths(data)
            path = draw(st.sampled_from(paths))
            parent = _parent(data, path)
            if kind == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(st.sampled_from(ODD_VALUES))
            text = _dump(data)
        elif kind == "junk":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(JUNK) + text[at:]
        elif kind == "number":
            spots = [m.span() for m in re.finditer(r"-?\d+(\.\d+)?(e[-+]?\d+)?", text)]
            if spots:
                a, b = draw(st.sampled_from(spots))
                text = text[:a] + draw(st.sampled_from(["abc", "二千", "1,0", "--1", ".", "1e", "0x1F", "∞"])) + text[b:]
        elif kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        _ = step
    raw = text.encode("utf-8")
    if how == "bytes":
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at + 1:]
    return raw, ref


@budget(120)
@given(mutants())
def test_mutated_scenarios_run_or_fail_cleanly(mutant: tuple[bytes, str]) -> None:
    raw, ref = mutant
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "m.yaml").write_bytes(raw)
        res = CliRunner().invoke(main, ["run", str(folder / ref), "--no-figures", "--quiet"],
                                 env={"ERSIM_OUTPUTS": str(folder / "outputs")})
    out = res.output
    assert "Traceback" not in out and "internal error" not in out, out[-3000:]
    assert res.exit_code in (0, 2), (res.exit_code, out[-3000:])
    if res.exit_code == 2:
        assert re.search(r"error: \d+ problems? in the input", res.stderr), res.stderr
        assert "m.yaml" in res.stderr, res.stderr


def _inventory_csv(pools: list[dict[str, Any]]) -> str:
    pols = sorted({p for pool in pools for p in pool["ef"]})
    rows = [["id", "name", "activity", "unit", "growth", *(f"ef:{p}" for p in pols)]]
    for pool in pools:
        value, unit = pool["activity"].split(" ", 1)
        growth = pool["growth"] if isinstance(pool["growth"], str) else pool["growth"][0]
        rows.append([pool["id"], pool["name"], value, unit, growth, *(pool["ef"].get(p, "") for p in pols)])
    return "".join(",".join(f'"{c}"' if "," in c else c for c in row) + "\n" for row in rows)


@st.composite
def inventory_mutants(draw: Any) -> tuple[str, bytes]:
    """(scenario text, inventory CSV bytes): the inventory broken the way exports break."""
    data = draw(scenarios())
    csv_text = _inventory_csv(data["inventory"])
    data["inventory"] = "inventory.csv"
    lines = csv_text.splitlines(keepends=True)
    how = draw(st.sampled_from(["junk", "cell", "truncate", "bytes", "gbk", "swap", "column"]))
    if how == "junk":
        at = draw(st.integers(0, len(csv_text)))
        csv_text = csv_text[:at] + draw(JUNK | st.sampled_from([",", '"', '""', "\r", "，", "\ufeff"])) + csv_text[at:]
    elif how == "cell":  # one cell emptied or made odd
        r = draw(st.integers(0, len(lines) - 1))
        cells = lines[r].rstrip("\n").split(",")
        c = draw(st.integers(0, len(cells) - 1))
        cells[c] = draw(st.sampled_from(["", "nan", "inf", "-1", "1e400", "#DIV/0!", "12O0", "ef:NOX", "活动水平", "../x", "1,000"]))
        lines[r] = ",".join(cells) + "\n"
        csv_text = "".join(lines)
    elif how == "truncate":
        csv_text = csv_text[: draw(st.integers(0, len(csv_text)))]
    elif how == "swap":  # two rows exchanged, header included
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
        csv_text = "".join(lines)
    elif how == "column":  # a column dropped from the header only
        cells = lines[0].rstrip("\n").split(",")
        del cells[draw(st.integers(0, len(cells) - 1))]
        lines[0] = ",".join(cells) + "\n"
        csv_text = "".join(lines)
    raw = csv_text.encode("gb18030" if how == "gbk" else "utf-8")
    if how == "bytes":
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at + 1:]
    return _dump(data), raw


@budget(60)
@given(inventory_mutants())
def test_mutated_inventories_run_or_fail_cleanly(mutant: tuple[str, bytes]) -> None:
    text, raw = mutant
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "s.yaml").write_text(text, encoding="utf-8")
        (folder / "inventory.csv").write_bytes(raw)
        res = CliRunner().invoke(main, ["run", str(folder / "s.yaml"), "--no-figures", "--quiet"],
                                 env={"ERSIM_OUTPUTS": str(folder / "outputs")})
    out = res.output
    assert "Traceback" not in out and "internal error" not in out, out[-3000:]
    assert res.exit_code in (0, 2), (res.exit_code, out[-3000:])
    if res.exit_code == 2:
        assert re.search(r"error: \d+ problems? in the input", res.stderr), res.stderr
        assert re.search(r"(s\.yaml|inventory\.csv)", res.stderr), res.stderr


@pytest.mark.parametrize("anchor", ["", "&big "])
def test_too_many_values_are_refused_with_or_without_anchors(tmp_path: Path, anchor: str) -> None:
    """A document without anchors is sized while its lines are mapped (no pass of its own); one
    with anchors is sized first, its aliases expanded: both refuse more than MAX_VALUES values."""
    from sim.core.errors import InputError
    from sim.model.yamlio import MAX_VALUES, read_yaml

    path = tmp_path / "big.yaml"
    path.write_text(f"name: x\nvalues: {anchor}[" + "1," * MAX_VALUES + "1]\n", encoding="utf-8")
    with pytest.raises(InputError, match="expands to more than") as info:
        read_yaml(path)
    assert info.value.problems[0].line == 2
    path.write_text(f"name: x\nvalues: {anchor}[" + "1," * (MAX_VALUES // 2) + "1]\n", encoding="utf-8")
    data, lines = read_yaml(path)
    assert len(data["values"]) == MAX_VALUES // 2 + 1 and lines.line(("values", 7)) == 2


def _construct_both(path: Path) -> tuple[Any, Any]:
    """(read_yaml's value, PyYAML's construct_document of the same text) of an anchor-free file."""
    from sim.model.yamlio import _input_method, _Loader, read_yaml

    data, _ = read_yaml(path)
    loader = _Loader(_input_method(path.read_text(encoding="utf-8-sig"), str(path)))
    try:
        return data, loader.construct_document(loader.get_single_node())
    finally:
        loader.dispose()


@pytest.mark.parametrize("text", ["name: x\n=: 2\n", "name: x\nm:\n  =: x\n  <<: {a: 1}\n", "name: x\n? [1, 2]\n: 3\n",
                                  "name: x\n2025: 3\nnull: 1\ntrue: 2\n1.5: y\n2020-01-01: d\n", "name: !!str 12\nv: !!float 1\n"])
def test_keys_of_every_kind_construct_as_pyyaml_does(tmp_path: Path, text: str) -> None:
    """'=' (a value key) and '<<' (a merge key) go to PyYAML's constructor; a complex key is refused
    as PyYAML refuses it (unhashable); numbers, booleans, null and dates are keys as PyYAML makes them."""
    from sim.core.errors import InputError

    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        want = yaml.safe_load(text)
    except yaml.YAMLError:
        with pytest.raises(InputError):
            _construct_both(path)
        return
    got, _ = _construct_both(path)
    assert got == want and repr(got) == repr(want)


def test_anchor_free_files_construct_as_pyyaml_does() -> None:
    """Without anchors the value is built directly (sim/model/yamlio.py _build): the same as PyYAML's
    constructor gives, for every example scenario and variant file."""
    root = Path(__file__).resolve().parent.parent
    files = [p for p in sorted((root / "scenarios").glob("*.yaml")) if "&" not in p.read_text(encoding="utf-8")]
    assert len(files) >= 5
    for path in files:
        got, want = _construct_both(path)
        assert got == want and repr(got) == repr(want), path


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                     st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="：\u3000\ufeff"), max_size=12),
                     st.dates())


@settings(max_examples=150, deadline=None)
@given(st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.one_of(st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=6),
                                                                                 st.integers(0, 3000)), inner, max_size=4)),
                    max_leaves=25))
def test_documents_construct_as_pyyaml_does(value: Any) -> None:
    doc = {"name": "x", "value": value}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "doc.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        got, want = _construct_both(path)
    assert got == want and repr(got) == repr(want)
    assert got == doc
