"""Outputs as an attack surface: formula cells, terminal control sequences, console markup, paths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sim.cli.main import main
from sim.core import safe

BAD = Path(__file__).resolve().parent / "data" / "bad"


@pytest.mark.parametrize(("text", "want"), [
    ("=HYPERLINK(\"http://x\",\"点击\")", "'=HYPERLINK(\"http://x\",\"点击\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("＝1+1", "'＝1+1"),
    ("-5", "-5"),
    ("-5%", "-5%"),
    ("燃煤锅炉", "燃煤锅炉"),
])
def test_cells_cannot_become_formulas(text: str, want: str) -> None:
    assert safe.cell(text) == want
    df = safe.frame(pd.DataFrame({"name": [text], "t": [1.0]}))
    assert df["name"][0] == want and df["t"][0] == 1.0


def test_console_text_loses_escape_sequences() -> None:
    assert safe.console("煤改气\x1b[2J\x1b[31m红\x1b]0;title\x07\x07") == "煤改气红"
    assert safe.console("a\tb\nc\u202ed") == "a\tb\ncd"


@pytest.mark.parametrize(("name", "want"), [("../../etc", "etc"), ("a/b\\c", "a-b-c"), (".hidden", "hidden"), ("", "item"), ("煤改气-1", "煤改气-1")])
def test_names_become_safe_path_parts(name: str, want: str) -> None:
    assert safe.path_part(name) == want


def test_run_with_hostile_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((BAD / "_base" / "scenario.yaml").read_text(encoding="utf-8"))
    data["measures"][0]["name"] = "=HYPERLINK(\"http://evil\",\"煤改气\")"
    data["measures"][1]["name"] = "淘汰锅炉 :x: [bold]粗[/bold]"
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "out"))
    res = CliRunner().invoke(main, ["run", str(tmp_path / "s.yaml"), "--no-figures"])
    assert res.exit_code == 0, res.output
    measures = next((tmp_path / "out").rglob("measures.csv")).read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in measures and "\n=HYPERLINK" not in measures and ",=HYPERLINK" not in measures
    assert "[bold]粗[/bold]" in measures  # rich markup is text, not markup


def test_a_name_with_an_escape_sequence_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ESC [2J (clear the screen), escaped into a YAML name: refused on input with exit 2, the
    message naming the character, never printing it; nothing written."""
    data = yaml.safe_load((BAD / "_base" / "scenario.yaml").read_text(encoding="utf-8"))
    data["measures"][1]["name"] = "淘汰\x1b[2J锅炉"
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert "\\e[2J" in (tmp_path / "s.yaml").read_text(encoding="utf-8")  # PyYAML writes it as an escape
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "out"))
    res = CliRunner().invoke(main, ["run", str(tmp_path / "s.yaml"), "--no-figures"])
    assert res.exit_code == 2 and "U+001B" in res.output and "measures[1].name" in res.output
    assert "\x1b" not in res.output and not (tmp_path / "out").exists()


def test_messages_are_not_markup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (BAD / "_base" / "scenario.yaml").read_text(encoding="utf-8").replace("pool: boiler.coal\n    to:", "pool: boiler:x:[red]\n    to:", 1)
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "out"))
    res = CliRunner().invoke(main, ["run", str(tmp_path / "s.yaml")])
    assert res.exit_code == 2
    assert "boiler:x:[red]" in res.stderr and "❌" not in res.stderr


def test_every_csv_of_every_analysis_keeps_formula_names_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Names that start like a formula (=, -, +, @) reach the CSVs of sweep, sensitivity and solve
    as text, as they reach a run's: no cell of any CSV written starts a live formula."""
    import csv
    import shutil

    root = Path(__file__).resolve().parents[1]
    work = tmp_path / "scen"
    shutil.copytree(root / "scenarios" / "inventories", work / "inventories")
    text = (root / "scenarios" / "ankang-2025.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    names = {"urban-sewage": '=HYPERLINK("http://evil","污水")', "livestock-utilisation": "-畜禽粪污", "cement-ule": "@水泥", "coal-to-gas": "+煤改气"}
    for m in data["measures"]:
        if m["id"] in names:
            m["name"] = names[m["id"]]
    data["targets"][0]["name"] = "=1+1 化学需氧量"
    (work / "ankang-2025.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    shutil.copy(root / "scenarios" / "ankang-2025-costs.yaml", work)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "out"))
    scen = str(work / "ankang-2025.yaml")
    for args in (["run", scen, "--no-figures"], ["sweep", scen, "--set", "measures.urban-sewage.completion=0.5,1"],
                 ["sensitivity", scen], ["solve", str(work / "ankang-2025-costs.yaml")]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, (args, res.output)
    files = list((tmp_path / "out").rglob("*.csv"))
    assert {f.name for f in files} >= {"grid.csv", "breakeven.csv", "tornado.csv", "mix.csv", "costs.csv", "measures.csv"}
    seen = set()
    for f in files:
        with f.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.reader(fh):
                for v in row:
                    if v.startswith(("=", "+", "-", "@")) and not safe._NUMBER.match(v):
                        raise AssertionError(f"{f.name}: live formula {v!r}")
                    seen.add(v)
    assert any(v.startswith("'=HYPERLINK") for v in seen) and "'-畜禽粪污" in seen
