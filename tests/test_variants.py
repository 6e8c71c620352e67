"""Scenario inheritance: extends, named variants, removal by id, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.core.errors import InputError
from sim.model.load import load_scenario

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
name: 基准
id: base
region: r
base_year: 2020
years: [2021]
inventory: inv/pools.csv
measures:
  - {id: a, type: retire, pool: p, quantity: 10 t/a}
  - {id: b, type: retire, pool: p, quantity: 20 t/a, completion: 0.5}
targets:
  - {id: t1, pollutant: NOx, kind: cap, value: 100 t, year: 2021}
"""


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "pools.csv").write_text("id,activity,unit,ef:NOx\np,100,t/a,1 t/t\n", encoding="utf-8")
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    return tmp_path


def test_child_overrides_adds_and_removes_by_id(tree):
    (tree / "sub" / "child.yaml").write_text(
        "extends: ../base.yaml\nname: 子情景\n"
        "measures:\n  - {id: b, quantity: 30 t/a}\n  - {id: c, type: retire, pool: p, quantity: 5 t/a}\n"
        "remove_measures: [a]\n", encoding="utf-8")
    s = load_scenario(tree / "sub" / "child.yaml")
    assert [m.id for m in s.measures] == ["b", "c"]
    b = s.measures[0]
    assert b.quantity == "30 t/a" and b.completion.value == 0.5  # other fields inherited
    assert s.slug == "child"  # its own outputs folder, not the parent's id
    assert [p.id for p in s.pools] == ["p"]  # the parent's inventory path still resolves


def test_named_variants_in_one_file(tree):
    (tree / "alts.yaml").write_text(
        "extends: base.yaml\nid: alts\nvariants:\n"
        "  more:\n    measures: [{id: a, quantity: 40 t/a}]\n"
        "  fewer:\n    remove_measures: [a, b]\n", encoding="utf-8")
    more = load_scenario(f"{tree / 'alts.yaml'}#more")
    assert more.measures[0].quantity == "40 t/a"
    assert more.slug == "alts-more"
    assert load_scenario(tree / "alts.yaml", variant="fewer").measures == []
    with pytest.raises(InputError, match="no variant 'mroe' \\(did you mean 'more'\\?\\)"):
        load_scenario(f"{tree / 'alts.yaml'}#mroe")


def test_circular_extends_names_the_cycle(tree):
    (tree / "x.yaml").write_text("extends: y.yaml\n", encoding="utf-8")
    (tree / "y.yaml").write_text("extends: x.yaml\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_scenario(tree / "x.yaml")
    assert "circular extends: x.yaml -> y.yaml -> x.yaml" in str(err.value)


def test_removing_unknown_id_is_reported_with_line(tree):
    (tree / "c.yaml").write_text("extends: base.yaml\nremove_measures: [aa]\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_scenario(tree / "c.yaml")
    msg = str(err.value)
    assert "c.yaml:2" in msg and "no measure 'aa' to remove (did you mean 'a'?)" in msg


def test_problem_in_inherited_part_points_at_the_parent_file(tree):
    (tree / "base.yaml").write_text(BASE.replace("quantity: 10 t/a", "quantity: 10 辆"), encoding="utf-8")
    (tree / "c.yaml").write_text("extends: base.yaml\nname: c\n", encoding="utf-8")
    from sim.evaluation.evaluate import run
    from sim.model.coefficients import Library

    with pytest.raises(InputError) as err:
        run(load_scenario(tree / "c.yaml"), Library())
    assert "base.yaml:8" in str(err.value)


def test_shipped_ankang_variants_load():
    for v in ("", "#strong", "#slow"):
        s = load_scenario(f"{ROOT / 'scenarios' / 'ankang-2025-variants.yaml'}{v}")
        assert s.region == "安康市"
        assert len(s.targets) == 5  # COD, NH3-N, NOx, VOCs tonnages and PM2.5 <= 29 µg/m3 (安康市实施方案, 一)


def test_a_removed_target_is_no_longer_decided_by_an_inherited_assumption(tmp_path):
    """ankang-2025-costs removes pm25-2025, whose verdict an inherited assumption decides: the
    assumption stays, without that target, and the run has no warning about it."""
    import sim

    r = sim.run(str(Path(__file__).resolve().parents[1] / "scenarios" / "ankang-2025-costs.yaml"))
    assert not any("pm25-2025" in w for w in r.warnings)
    assert all("pm25-2025" not in a.decides for a in r.model.scenario.assumptions)
    parent = sim.run(str(Path(__file__).resolve().parents[1] / "scenarios" / "ankang-2025.yaml"))
    assert any("pm25-2025" in a.decides for a in parent.model.scenario.assumptions)
