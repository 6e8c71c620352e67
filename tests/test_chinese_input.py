"""Chinese input methods and plan wording: full-width forms, Chinese aliases, 万/亿, water in 吨/日."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import sim
from sim.cli.main import main
from sim.core.errors import InputError
from sim.core.units import parse_quantity
from sim.model.scenario import ALIASES

HERE = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize(("text", "value", "unit"), [
    ("５％", 0.05, "dimensionless"),
    ("2万户", 20000, "户"),
    ("1.5亿立方米", 1.5e8, "m**3"),
    ("3 万辆", 30000, "辆"),
    ("１２ 蒸吨", 12, "蒸吨"),
    ("40万吨/日", 400000, "t/d"),
])
def test_fullwidth_and_wan_yi(text: str, value: float, unit: str) -> None:
    assert parse_quantity(text).to(unit).magnitude == pytest.approx(value)


def test_a_scenario_typed_with_a_chinese_input_method_runs(tmp_path: Path) -> None:
    scen = sim.load_scenario(HERE / "zh-input.yaml")
    assert [m.type for m in scen.measures] == ["retire", "control", "treat"]  # 淘汰, 治理, 处理
    assert [t.kind for t in scen.targets] == ["reduction_percent", "reduction_amount"]  # 削减比例, 削减量
    assert scen.pools[0].id == "boiler.coal"  # `id：` with a full-width colon
    assert scen.pools[0].growth.value == pytest.approx(0.01)  # １％
    result = sim.run(scen)
    # sewage upgrade 10万吨/日 = 100,000 m³/d; COD removed = 100,000 m³/d x (60 - 50) mg/L x 365 d x 1e-6 t/kg... :
    # 100,000 x 10 g/m³ x 365 = 365,000,000 g = 365 t/a
    red = result.dataset["reduction"].sel(measure="w", pollutant="COD", year=2025).item()
    assert red == pytest.approx(365.0)
    said = [w for w in result.warnings if "read as" in w]
    assert any("inventory[2].activity" in w and "400,000 立方米/日" in w for w in said), said
    assert any("measures[2].quantity" in w and "100,000 立方米/日" in w for w in said), said
    # 2万户 x 0.05 t/(户·a) = 1,000 t SO2 in the base year
    assert result.dataset["baseline"].sel(pool="households", pollutant="SO2", year=2020).item() == pytest.approx(1000.0)


def test_fullwidth_indentation_is_named_on_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (HERE / "zh-input.yaml").read_text(encoding="utf-8").replace("    activity: 2万户", "\u3000\u3000activity: 2万户")
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "out"))
    res = CliRunner().invoke(main, ["run", str(tmp_path / "s.yaml")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "s.yaml:12:" in res.stderr and "full-width space (U+3000" in res.stderr


def test_unknown_chinese_word_lists_the_aliases(tmp_path: Path) -> None:
    text = (HERE / "zh-input.yaml").read_text(encoding="utf-8").replace("type: 淘汰", "type: 淘汰了")
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        sim.load_scenario(tmp_path / "s.yaml")
    msg = str(exc.value)
    assert "s.yaml:18: measures[0].type:" in msg and "did you mean '淘汰'" in msg and "'retire' (淘汰, 退出" in msg


def test_aliases_are_unique_and_in_the_schema() -> None:
    from sim.model.scenario import Scenario

    schema = str(Scenario.model_json_schema())
    for field, table in ALIASES.items():
        words = [w for ws in table.values() for w in ws]
        assert len(words) == len(set(words)), field
        if field in ("type", "kind", "attribution"):
            assert all(w in schema for w in words), field


def _ankang_with(tmp_path: Path, old: str, new: str) -> Path:
    import shutil

    root = Path(__file__).resolve().parents[1]
    if not (tmp_path / "inventories").exists():
        shutil.copytree(root / "scenarios" / "inventories", tmp_path / "inventories")
    text = (root / "scenarios" / "ankang-2025.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"s{abs(hash(new)) % 10**8}.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new"), [
    ("base_year: 2020", "base_year: ２０２０"), ("base_year: 2020", "base_year: 2020年"),
    ("years: [2023, 2025]", "years: [２０２３, 2025年]"),
    ("schedule: {2023: 60%, 2025: 100%}      #", "schedule: {２０２３: 60%, 2025年: 100%}      #"),
])
def test_years_typed_with_a_chinese_input_method(tmp_path: Path, old: str, new: str) -> None:
    """Years with full-width digits or 年 read as the year: the same numbers as the ASCII file."""
    root = Path(__file__).resolve().parents[1]
    ref = sim.run(str(root / "scenarios" / "ankang-2025.yaml")).dataset
    got = sim.run(str(_ankang_with(tmp_path, old, new))).dataset
    assert (got["reduction"] == ref["reduction"]).all() and (got["margin"] == ref["margin"]).all()


@pytest.mark.parametrize(("old", "new", "expect"), [
    ("years: [2023, 2025]", "years: [2023，2025]", "write [2023, 2025]"),
    ("years: [2023, 2025]", "years: [2023、2025]", "write [2023, 2025]"),
    ("    year: 2025\n", "    year: 二〇二五\n", "write it as a number, e.g. 2025"),
])
def test_a_year_that_is_not_one_says_how_to_write_it(tmp_path: Path, old: str, new: str, expect: str) -> None:
    res = CliRunner().invoke(main, ["run", str(_ankang_with(tmp_path, old, new)), "--no-figures"])
    assert res.exit_code == 2 and expect in res.stderr and "Input should be" not in res.stderr


@pytest.mark.parametrize("text", ["kg/万:立方米", "万:立方米", "亿!吨", "kg/万{立方米", "万=m", "万dimensionless", "万",
                                  "万吨,", "吨，", "t;", "万m3、"])
def test_wan_yi_before_a_name_pint_cannot_define_is_an_unknown_unit(text: str) -> None:
    """万 or 亿 before text that is no unit name ('万:立方米', found by the mutated-inventory
    property) is an unknown unit, not pint's DefinitionSyntaxError (an internal error)."""
    from sim.core.errors import UnitError
    from sim.core.units import parse_unit

    with pytest.raises(UnitError, match="unknown unit"):
        parse_unit(text)


@pytest.mark.parametrize(("text", "base"), [
    ("1 万m3", 1e4), ("1 万m³", 1e4), ("1.5 万m3", 1.5e4), ("1 亿m3", 1e8), ("1 万Nm3", 1e4), ("2 万立方米", 2e4),
    ("1 万m^3", 1e4), ("1 万m**3", 1e4), ("1 亿m^3", 1e8), ("1 万 m3", 1e4), ("2 万 立方米", 2e4), ("1 亿 m³", 1e8),
])
def test_wan_yi_before_a_power_scales_the_whole_unit(text: str, base: float) -> None:
    """万m3 is 10^4 m³ (as 万立方米), not (10^4 m)³ = 10^12 m³: the power belongs to the unit 万 scales."""
    q = parse_quantity(text).to("m**3")
    assert q.magnitude == pytest.approx(base, rel=1e-12)
    assert parse_quantity("1 kg/万m3").to("kg/m**3").magnitude == pytest.approx(1e-4, rel=1e-12)


def test_a_sewage_capacity_in_wan_m3_per_day_is_the_same_as_in_cubic_metres(tmp_path: Path) -> None:
    """Ankang's urban-sewage quantity written as 1.5 万m3/d gives exactly the numbers of 15000 立方米/日."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "scenarios" / "ankang-2025.yaml").read_text(encoding="utf-8")
    ref = sim.run(str(root / "scenarios" / "ankang-2025.yaml")).dataset
    import re as _re

    m = _re.search(r"(  - id: urban-sewage\n(?:    .*\n)*?    quantity: )([^\n#]+)", text)
    assert m is not None
    q = parse_quantity(m.group(2).strip()).to("m**3/d").magnitude
    path = _ankang_with(tmp_path, m.group(0), m.group(1) + f"{q / 1e4:.12g} 万m3/d")
    got = sim.run(str(path)).dataset
    np_red = got["reduction"].sel(measure="urban-sewage") - ref["reduction"].sel(measure="urban-sewage")
    assert float(abs(np_red).max()) <= 1e-9 * float(abs(ref["reduction"].sel(measure="urban-sewage")).max())


def test_one_year_twice_in_a_schedule_is_refused(tmp_path: Path) -> None:
    """{2023: 40%, 2023年: 90%} is one year twice once read: refused (YAML's own duplicate rule), not merged silently."""
    path = _ankang_with(tmp_path, "schedule: {2023: 60%, 2025: 100%}      #", "schedule: {2023: 40%, 2023年: 90%, 2025: 100%}      #")
    res = CliRunner().invoke(main, ["run", str(path), "--no-figures"])
    assert res.exit_code == 2 and "year 2023 is given twice" in res.stderr and "schedule" in res.stderr


@pytest.mark.parametrize(("text", "unit", "value"), [
    ("1 t/(万t·a)", "1/a", 1e-4), ("1 万辆·a", "辆*a", 1e4), ("1 g/(万kWh·a)", "g/(kWh*a)", 1e-4), ("1 万km^2", "km**2", 1e4),
])
def test_wan_yi_in_a_compound_unit_on_first_use(text: str, unit: str, value: float) -> None:
    """万X inside a compound unit, in a fresh process (万X is defined on first use): the same
    value whatever was parsed before (万t·a was once defined whole and never usable)."""
    import subprocess
    import sys

    code = f"from sim.core.units import parse_quantity; print(parse_quantity({text!r}).to({unit!r}).magnitude)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert float(out) == pytest.approx(value, rel=1e-12)
