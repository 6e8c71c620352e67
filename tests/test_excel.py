"""Excel as it really arrives: formulas without saved values, rows past the declared dimension,
zip bombs, title rows and two-level or merged headers (sim/model/inventory.py)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import sim
from sim.cli.main import main
from sim.core.errors import InputError

BAD = Path(__file__).resolve().parent / "data" / "bad"
INVENTORY = (BAD / "_base" / "inventory.csv").read_text(encoding="utf-8")
SCENARIO = (BAD / "_base" / "scenario-csv.yaml").read_text(encoding="utf-8")


def _rows() -> tuple[list[str], list[list[Any]]]:
    rows = list(csv.reader(io.StringIO(INVENTORY)))
    body: list[list[Any]] = []
    for row in rows[1:]:
        body.append([float(v) if h == "activity" else (v or None) for h, v in zip(rows[0], row, strict=True)])
    return rows[0], body


def _save(tmp: Path, ws_edit: Any = None, header_rows: list[list[Any]] | None = None, merges: list[str] = ()) -> Path:
    import openpyxl

    header, body = _rows()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "清单"
    for r in header_rows or [header]:
        ws.append(r)
    for row in body:
        ws.append(row)
    for m in merges:
        ws.merge_cells(m)
    if ws_edit:
        ws_edit(ws)
    wb.save(tmp / "inventory.xlsx")
    (tmp / "s.yaml").write_text(SCENARIO.replace("inventory: inventory.csv", "inventory: inventory.xlsx"), encoding="utf-8")
    return tmp / "s.yaml"


def _emissions(path: Path) -> np.ndarray:
    return sim.run(sim.load_scenario(path)).dataset["emissions"].values


@pytest.fixture
def want(tmp_path: Path) -> np.ndarray:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "inventory.csv").write_text(INVENTORY, encoding="utf-8")
    (tmp_path / "plain" / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    return _emissions(tmp_path / "plain" / "s.yaml")


def test_formula_without_saved_value_is_named_by_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # openpyxl writes formulas without a cached value, as any script does: J2 (排放系数:NOx of boiler.coal)
    path = _save(tmp_path, lambda ws: ws.cell(row=2, column=10, value="=16.905*1"))
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "out"))
    res = CliRunner().invoke(main, ["run", str(path), "--no-figures"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert re.search(r"inventory\.xlsx:2: 清单!J2: formula '=16\.905\*1' has no saved value", res.stderr), res.stderr
    assert not (tmp_path / "out").exists()


def test_rows_past_the_declared_dimension_are_read(tmp_path: Path, want: np.ndarray) -> None:
    path = _save(tmp_path)
    # a program that wrote <dimension ref="A1:L2"/> although the data runs to row 4
    xlsx = tmp_path / "inventory.xlsx"
    with zipfile.ZipFile(xlsx) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:C2"', parts[sheet])
    assert b'<dimension ref="A1:C2"' in parts[sheet]
    with zipfile.ZipFile(xlsx, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in parts.items():
            zf.writestr(n, data)
    np.testing.assert_allclose(_emissions(path), want, rtol=1e-12)


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = _save(tmp_path)
    with zipfile.ZipFile(tmp_path / "inventory.xlsx", "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/media/padding.bin", b"\0" * (80 * 2**20))  # 80 MiB of zeros: about 80 kB packed
    assert (tmp_path / "inventory.xlsx").stat().st_size < 2**20
    with pytest.raises(InputError, match=r"unpacks to 80 MiB, more than the 64 MiB"):
        sim.load_scenario(path)


def test_title_row_and_two_level_merged_header_are_read(tmp_path: Path, want: np.ndarray) -> None:
    header, _ = _rows()
    n = len(header)
    title = ["测试市2020年排放清单"] + [None] * (n - 1)
    top = ["源类编号", "名称", "行业", "活动水平", "单位", "年增长率", "增长率下限", "增长率上限", "来源", "排放系数", None, None]
    sub = [None] * 9 + ["NOx", "SO2", "COD"]
    path = _save(tmp_path, header_rows=[title, top, sub], merges=["A1:L1", "J2:L2", "A2:A3", "B2:B3"])
    np.testing.assert_allclose(_emissions(path), want, rtol=1e-12)


def test_prefix_header_without_pollutants_says_what_to_change(tmp_path: Path) -> None:
    top = ["源类编号", "名称", "行业", "活动水平", "单位", "年增长率", "增长率下限", "增长率上限", "来源", "排放系数", "排放系数:SO2", "排放系数:COD"]
    path = _save(tmp_path, header_rows=[top])
    with pytest.raises(InputError) as exc:
        sim.load_scenario(path)
    msg = str(exc.value)
    assert "inventory.xlsx:1: 清单!J1: column '排放系数' names no pollutant" in msg, msg
    assert "排放系数:NOx" in msg


def test_merged_header_over_data_columns_names_the_header_to_add(tmp_path: Path) -> None:
    # 活动水平 merged over D:E: the unit column E has no header of its own
    top = ["源类编号", "名称", "行业", "活动水平", None, "年增长率", "增长率下限", "增长率上限", "来源", "排放系数:NOx", "排放系数:SO2", "排放系数:COD"]
    path = _save(tmp_path, header_rows=[top], merges=["D1:E1"])
    with pytest.raises(InputError) as exc:
        sim.load_scenario(path)
    assert len(exc.value.problems) == 1
    msg = str(exc.value)
    assert "inventory.xlsx:1: 清单!E1: column E holds data but has no header (is it merged with '活动水平' to its left?)" in msg, msg
