"""The bad-input corpus (tests/data/bad/cases.yaml): every broken input fails well.

Each case runs through the CLI in an empty work folder with outputs/ in a temporary folder and
must: exit with code 2; print no traceback; name the file (and the line, where one exists), the
key and the valid near-miss; report every problem at once; write nothing anywhere.

Also here: inventories as planners export them from Excel (UTF-8 with BOM and CRLF, GBK,
GB18030, xlsx, Chinese headers) load, and give the same numbers as plain UTF-8.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from sim.cli.main import main

BAD = Path(__file__).resolve().parent / "data" / "bad"
CASES: list[dict[str, Any]] = yaml.safe_load((BAD / "cases.yaml").read_text(encoding="utf-8"))
BASE = (BAD / "_base" / "scenario.yaml").read_text(encoding="utf-8")
BASE_CSV = (BAD / "_base" / "scenario-csv.yaml").read_text(encoding="utf-8")
INVENTORY = (BAD / "_base" / "inventory.csv").read_text(encoding="utf-8")
MiB = 2**20

# Chinese headers as a planner's Excel sheet has them (HEADER_ALIASES in sim/inventory.py)
ZH_HEADER = {"id": "源类编号", "name": "名称", "sector": "行业", "activity": "活动水平", "unit": "单位",
             "growth": "年增长率", "growth_low": "增长率下限", "growth_high": "增长率上限", "source": "来源",
             "ef:NOx": "排放系数:NOx", "ef:SO2": "排放系数:SO2", "ef:COD": "排放系数:COD"}


# ---- files made at test time ------------------------------------------------------------------

def _big(path: Path, head: bytes, line: bytes, size: int) -> None:
    """A file of *size* bytes: *head*, then *line* repeated (written in large blocks)."""
    block = line * max(1, (4 * MiB) // len(line))
    with path.open("wb") as fh:
        fh.write(head)
        written = len(head)
        while written < size:
            chunk = block[: size - written]
            fh.write(chunk)
            written += len(chunk)


def _inventory_rows() -> tuple[list[str], list[list[Any]]]:
    """The base inventory as cells, Chinese headers, numbers as numbers (as Excel holds them)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(INVENTORY)))
    header = [ZH_HEADER.get(h, h) for h in rows[0]]
    body: list[list[Any]] = []
    for row in rows[1:]:
        cells: list[Any] = []
        for h, v in zip(rows[0], row, strict=True):
            if h == "activity":
                cells.append(float(v))
            elif h.startswith("growth") and v.endswith("%"):
                cells.append(float(v[:-1]) / 100)  # Excel stores 1% as 0.01
            else:
                cells.append(v or None)
        body.append(cells)
    return header, body


def _workbook(path: Path, edit: dict[tuple[int, int], Any] | None = None) -> None:
    import openpyxl

    header, body = _inventory_rows()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "清单"
    ws.append(header)
    for row in body:
        ws.append(row)
    for (r, c), v in (edit or {}).items():
        ws.cell(row=r, column=c, value=v)
    wb.save(path)


def _xlsx_scenario(work: Path) -> None:
    (work / "scenario.yaml").write_text(BASE_CSV.replace("inventory: inventory.csv", "inventory: inventory.xlsx"), encoding="utf-8")


def gen_huge_scenario(work: Path) -> None:
    _big(work / "huge.yaml", BASE.encode("utf-8"), "# 填充 padding padding padding padding padding\n".encode(), 50 * MiB)


def gen_huge_inventory(work: Path) -> None:
    (work / "scenario.yaml").write_text(BASE_CSV, encoding="utf-8")
    row = "pool.x,燃煤锅炉,工业,1000,蒸吨,0%,,,示意值,16.905 t/(蒸吨*a),,\n".encode()
    _big(work / "inventory.csv", INVENTORY.encode("utf-8"), row, 50 * MiB + 4096)


def gen_huge_table(work: Path) -> None:
    (work / "coef").mkdir()
    head = b"key,description_zh,description_en,pollutant,value,unit,low,high,distribution,basis,source,note\n"
    _big(work / "coef" / "huge.csv", head, "k,燃煤,coal,NOx,3.5,kg/t,2,5,triangular,V,GB 13271,\n".encode(), 50 * MiB)


def gen_xlsx_bad_cell(work: Path) -> None:
    _xlsx_scenario(work)
    _workbook(work / "inventory.xlsx", {(3, 4): "12O0"})  # boiler.gas, 活动水平: a letter O for a zero


def gen_xlsx_notes_first(work: Path) -> None:
    import openpyxl

    _xlsx_scenario(work)
    _workbook(work / "inventory.xlsx")
    wb = openpyxl.load_workbook(work / "inventory.xlsx")
    notes = wb.create_sheet("说明", 0)  # a notes sheet before the inventory, as bureaus often send
    notes.append(["本表为2020年排放清单, 单位见各列"])
    wb.save(work / "inventory.xlsx")


def gen_xlsx_error_cell(work: Path) -> None:
    _xlsx_scenario(work)
    _workbook(work / "inventory.xlsx", {(2, 10): "#DIV/0!"})  # boiler.coal, 排放系数:NOx: what Excel exports for 1/0


def gen_xlsx_formula(work: Path) -> None:
    _xlsx_scenario(work)
    _workbook(work / "inventory.xlsx", {(2, 10): "=16.905*1"})  # a script writes formulas without saved values


def gen_xlsx_formulas(work: Path) -> None:
    _xlsx_scenario(work)
    _workbook(work / "inventory.xlsx", {(2, 4): "=500*2", (3, 10): "=1.386"})


def gen_xlsx_zip_bomb(work: Path) -> None:
    import zipfile

    _xlsx_scenario(work)
    _workbook(work / "inventory.xlsx")
    with zipfile.ZipFile(work / "inventory.xlsx", "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/media/padding.bin", b"\0" * (80 * MiB))


def gen_xlsx_bare_prefix(work: Path) -> None:
    _xlsx_scenario(work)
    _workbook(work / "inventory.xlsx", {(1, 10): "排放系数"})


def gen_xlsx_merged_header(work: Path) -> None:
    _xlsx_scenario(work)
    _workbook(work / "inventory.xlsx", {(1, 5): ""})  # 单位 cleared: 活动水平 merged over D:E, as a planner formats it


GENERATORS = {name[4:]: fn for name, fn in globals().items() if name.startswith("gen_")}


# ---- the corpus -------------------------------------------------------------------------------

def _prepare(case: dict[str, Any], work: Path) -> list[str]:
    """Copy (or generate) the case's files into *work*; its command line."""
    if "generate" in case:
        GENERATORS[case["generate"]](work)
    default: list[str] = []
    if "path" in case:
        src = BAD / case["path"]
        if src.is_file():
            shutil.copyfile(src, work / src.name)
            default = ["run", src.name]
        elif case["path"].startswith("coefficients/"):
            shutil.copytree(src, work / "coef")
            default = ["coefficients", "check", "--dir", "coef"]
        else:
            shutil.copytree(src, work, dirs_exist_ok=True)
            default = ["run", "scenario.yaml"]
    args = [str(a) for a in case.get("args", default)]
    return [*args, "--no-figures"] if args[0] == "run" else args  # a case that wrongly runs, runs faster


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def _params() -> list[Any]:
    out = []
    for c in CASES:
        marks = [pytest.mark.xfail(reason=c["xfail"], strict=True)] if "xfail" in c else []
        out.append(pytest.param(c, id=c["case"], marks=marks))
    return out


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    return folder


@pytest.mark.parametrize("case", _params())
def test_bad_input(case: dict[str, Any], work: Path) -> None:
    args = _prepare(case, work)
    before = _snapshot(work)
    res = CliRunner().invoke(main, args)
    out, err = res.output, res.stderr
    assert "Traceback" not in out
    assert res.exit_code == 2, f"exit {res.exit_code}: {out[-2000:]}"
    # nothing written: no outputs/, no file beside the inputs, no file an injected command made
    outputs = Path(os.environ["ERSIM_OUTPUTS"])
    assert not outputs.exists() or not any(outputs.rglob("*")), list(outputs.rglob("*"))
    assert _snapshot(work) == before
    assert not (work / "pwned").exists()
    # every problem at once, one line each
    head = re.search(r"error: (\d+) problems? in the input", err)
    assert head, err
    assert int(head.group(1)) == case.get("problems", 1), err
    listed = [ln for ln in err.splitlines() if ln.startswith("  ")]
    assert len(listed) == int(head.group(1)), err
    # the file, and its line where one exists
    file = re.escape(case["file"])
    if "line" in case:
        assert re.search(rf"(^|[\s/\\]){file}:{case['line']}:", err, re.M), f"expected {case['file']}:{case['line']} in\n{err}"
    else:
        assert re.search(rf"(^|[\s/\\]){file}:", err, re.M), f"expected {case['file']} in\n{err}"
    if "key" in case:
        assert f" {case['key']}: " in err, f"expected key {case['key']!r} in\n{err}"
    if "near" in case:
        assert f"did you mean {case['near']!r}" in err, err
    for text in case.get("expect", []):
        assert text in err, f"expected {text!r} in\n{err}"
    for text in case.get("absent", []):  # content of a file that is not the planner's input is never echoed
        assert text not in err, f"{text!r} echoed in\n{err}"


def test_corpus_size() -> None:
    kinds: dict[str, int] = {}
    for c in CASES:
        kind = c["args"][0] if c.get("args", [""])[0] == "sweep" else c["path"].split("/")[0] if "path" in c else "generated"
        kinds[kind] = kinds.get(kind, 0) + 1
    known = sum(1 for c in CASES if "xfail" in c)
    summary = f"bad-input corpus: {len(CASES)} cases ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}; {known} known gaps marked xfail)"
    print(summary)
    assert len(CASES) >= 50, summary
    names = [c["case"] for c in CASES]
    assert len(names) == len(set(names))
    for c in CASES:
        assert not ("path" in c and "generate" in c), c["case"]
        assert "path" in c or "args" in c, c["case"]
        assert "path" not in c or (BAD / c["path"]).exists(), c["case"]
        assert c.get("generate") is None or c["generate"] in GENERATORS, c["case"]


def test_base_inputs_are_valid(work: Path) -> None:
    """The cases break valid inputs: the unbroken ones run."""
    shutil.copytree(BAD / "_base", work, dirs_exist_ok=True)
    for name in ("scenario.yaml", "scenario-csv.yaml"):
        res = CliRunner().invoke(main, ["run", name, "--no-figures"])
        assert res.exit_code == 0, res.output


# ---- inventories as Excel exports them --------------------------------------------------------

def _zh_csv() -> str:
    lines = INVENTORY.splitlines()
    header = ",".join(ZH_HEADER.get(h, h) for h in lines[0].split(","))
    # a name outside GBK (U+4DAE, CJK extension A) that GB18030 still encodes
    return "\r\n".join([header, *lines[1:]]).replace("燃气锅炉", "燃气锅炉䶮") + "\r\n"


def _emissions(folder: Path, inventory: str) -> tuple[np.ndarray, list[str]]:
    from sim.api import load_scenario, run

    (folder / "s.yaml").write_text(BASE_CSV.replace("inventory: inventory.csv", f"inventory: {inventory}"), encoding="utf-8")
    scen = load_scenario(folder / "s.yaml")
    result = run(scen)
    return result.dataset["emissions"].values, [p.name or "" for p in scen.pools]


@pytest.mark.parametrize("form", ["utf-8-bom-crlf", "gbk", "gb18030", "xlsx"])
def test_excel_exports_load(form: str, tmp_path: Path) -> None:
    (tmp_path / "plain.csv").write_text(INVENTORY, encoding="utf-8")
    want, names = _emissions(tmp_path, "plain.csv")
    text = _zh_csv()
    if form == "utf-8-bom-crlf":
        (tmp_path / "inv.csv").write_bytes(text.encode("utf-8-sig"))
        inv = "inv.csv"
    elif form == "gbk":
        (tmp_path / "inv.csv").write_bytes(text.replace("䶮", "").encode("gbk"))
        inv = "inv.csv"
    elif form == "gb18030":
        (tmp_path / "inv.csv").write_bytes(text.encode("gb18030"))
        inv = "inv.csv"
    else:
        _workbook(tmp_path / "inv.xlsx")
        inv = "inv.xlsx"
    got, got_names = _emissions(tmp_path, inv)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got_names[0] == names[0] == "燃煤锅炉"
    if form == "gb18030":
        assert got_names[1] == "燃气锅炉䶮"


def test_gbk_scenario_names_the_encoding(work: Path) -> None:
    (work / "s.yaml").write_bytes(BASE.encode("gbk"))
    res = CliRunner().invoke(main, ["run", "s.yaml"])
    assert res.exit_code == 2
    assert "not UTF-8" in res.stderr and "s.yaml:" in res.stderr
