"""The feasibility appendix: DOCX, HTML and Markdown from one content model, checked against results.nc.

The Markdown golden file (tests/golden/appendix-golden-city.zh.md) is the appendix of a frozen
scenario (tests/golden/golden-city.yaml), so that edits to the example scenarios do not move it.
After an intended change to the appendix, refresh it with
``ERSIM_UPDATE_GOLDEN=1 python -m pytest tests/test_appendix.py -k golden`` and review the diff.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import docx
import numpy as np
import pytest
from click.testing import CliRunner
from docx.oxml.ns import qn
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from sim.cli.main import main
from sim.core.pollutants import NAMES_EN, NAMES_ZH
from sim.reports.appendix import write_appendix
from sim.reports.appendix.numbers import (
    fmt_amount,
    fmt_pct,
    fmt_probability,
    mass_unit,
    parse_number,
)
from sim.store.runs import open_run

REPO = Path(__file__).resolve().parents[1]
GOLDEN_DIR = Path(__file__).parent / "golden"
GOLDEN = GOLDEN_DIR / "appendix-golden-city.zh.md"
HEADINGS_ZH = ["一、基本情况", "二、新增量预测", "三、减排措施清单", "四、减排量测算", "五、目标可达性分析",
               "六、不确定性与敏感性", "七、结论", "八、附表"]
HEADINGS_EN = ["1. Overview", "2. Growth and new emissions", "3. Measures", "4. Reductions", "5. Target feasibility",
               "6. Uncertainty and sensitivity", "7. Conclusions", "8. Annex tables"]

HOSTILE = """\
name: 测试<script>alert("x")</script>情景
region: 测试市&<b>区</b>
base_year: 2020
years: [2025]
inventory:
  - id: boiler.coal
    name: 燃煤锅炉<img src=x onerror=alert(1)>
    activity: 1000 蒸吨
    ef:
      NOx: 16.905 t/(蒸吨*a)
  - id: boiler.gas
    activity: 0 蒸吨
    ef:
      NOx: 1.386 t/(蒸吨*a)
measures:
  - id: c2g
    name: 煤改气</td></tr><script>evil()</script>
    type: switch
    pool: boiler.coal
    to: boiler.gas
    quantity: 100 蒸吨
    source: "a | pipe & <tag> in a source"
targets:
  - {id: nox, name: "NOx <目标>", pollutant: NOx, kind: reduction_percent, value: 5%, year: 2025}
"""


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Runs of the Ankang and Jiaozuo examples (Jiaozuo with samples), made from the repository root."""
    root = tmp_path_factory.mktemp("appendix")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        mp.setenv("ERSIM_OUTPUTS", str(root / "outputs"))
        # The Ankang example carries a PM2.5 concentration target; these tests check the emission
        # targets' tables against results.nc, so they run the example without that one target, under
        # the same id (the concentration target's appendix is tested in tests/test_examples.py).
        ankang = root / "ankang-2025.yaml"
        ankang.write_text(f"extends: {REPO / 'scenarios' / 'ankang-2025.yaml'}\nid: ankang-2025\nremove_targets: [pm25-2025]\n",
                          encoding="utf-8")
        for args in ([str(ankang)], ["scenarios/jiaozuo-2022.yaml", "--samples", "200"]):
            res = CliRunner().invoke(main, ["run", *args, "--quiet"], catch_exceptions=False)
            assert res.exit_code == 0, res.output
        hostile = root / "hostile.yaml"
        hostile.write_text(HOSTILE, encoding="utf-8")
        res = CliRunner().invoke(main, ["run", str(hostile), "--quiet"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        written = {
            "ankang": write_appendix("ankang-2025"),
            "jiaozuo": write_appendix("jiaozuo-2022"),
            "hostile": write_appendix("hostile"),
        }
        yield {"root": root, "written": written, "mp": mp}


def _folder(env, key: str) -> Path:
    return env["written"][key][0].parent


def _json(folder: Path) -> dict:
    return json.loads((folder / "appendix.json").read_text(encoding="utf-8"))


def _tables(content: dict) -> list[dict]:
    return [b for s in content["sections"] for b in s["blocks"] if b["type"] == "table"]


def _figures(content: dict) -> list[dict]:
    return [b for s in content["sections"] for b in s["blocks"] if b["type"] == "figure"]


def _check(text: str, want: float, factor: float = 1.0) -> None:
    """A formatted number agrees with *want* (in t) to the digits it shows."""
    got = parse_number(text)
    assert got is not None, text
    value, tol = got
    if text.startswith(">"):
        assert want > value * factor
    elif text.startswith("<"):
        assert want < value * factor
    else:
        assert abs(value * factor - want) <= tol * factor + 1e-9 * abs(want), (text, want)


def _factor(header: str) -> float:
    return 1e4 if "万吨" in header else 1.0


def _docx_tables(doc) -> list[tuple[str, list[list[str]]]]:
    """(caption, rows of cell text, header first) of every table, in order."""
    captions = [p.text for p in doc.paragraphs if p.style.name == "Caption" and re.match(r"^(表|Table )\d+", p.text)]
    assert len(captions) == len(doc.tables)
    return [(c, [[cell.text for cell in row.cells] for row in t.rows]) for c, t in zip(captions, doc.tables, strict=True)]


def _east_asia(doc, paragraph) -> str | None:
    """The East Asian font a paragraph's text is set in: run, then style chain, then defaults."""
    for run in paragraph.runs:
        rpr = run._r.rPr
        if rpr is not None and rpr.rFonts is not None and rpr.rFonts.get(qn("w:eastAsia")):
            return rpr.rFonts.get(qn("w:eastAsia"))
    style = paragraph.style
    while style is not None:
        rpr = style.element.rPr
        if rpr is not None and rpr.rFonts is not None:
            # a theme font attribute would override w:eastAsia
            assert rpr.rFonts.get(qn("w:eastAsiaTheme")) is None, style.name
            if rpr.rFonts.get(qn("w:eastAsia")):
                return rpr.rFonts.get(qn("w:eastAsia"))
        style = style.base_style
    return None


# ---- numbers -------------------------------------------------------------------------------

def test_numbers_as_planners_write_them():
    assert fmt_amount(3895) == "3,895吨"
    assert fmt_amount(80.46) == "80.5吨"
    assert fmt_amount(114391) == "11.44万吨"
    assert fmt_amount(3895, "en") == "3,895 t"
    assert fmt_pct(0.1) == "10%" and fmt_pct(0.085) == "8.5%"
    assert fmt_probability(0.3) == "30%" and fmt_probability(0.999) == ">99%" and fmt_probability(0.004) == "<1%"
    assert mass_unit([5, 14_221_831], "zh", per_year=True).label == "万吨/年"
    assert mass_unit([5, 9_000], "zh").label == "吨"
    assert parse_number("1,226") == (1226.0, 0.5) and parse_number("—") is None


# ---- all three formats, one content -------------------------------------------------------

@pytest.mark.parametrize("key", ["ankang", "jiaozuo"])
def test_three_formats_written_and_agree(env, key):
    files = env["written"][key]
    assert [p.name for p in files] == ["appendix.docx", "appendix.html", "appendix.md"]
    folder = files[0].parent
    assert folder.name.startswith("appendix-") and json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["kind"] == "appendix"
    content = _json(folder)
    assert [s["heading"] for s in content["sections"]] == HEADINGS_ZH
    md = (folder / "appendix.md").read_text(encoding="utf-8")
    html = (folder / "appendix.html").read_text(encoding="utf-8")
    doc = docx.Document(str(folder / "appendix.docx"))
    tables = _tables(content)
    # numbered 表1.. and 图1.. in order, the same in every format
    assert [t["label"] for t in tables] == [f"表{i + 1}" for i in range(len(tables))]
    assert [f["label"] for f in _figures(content)] == [f"图{i + 1}" for i in range(len(_figures(content)))]
    docx_tables = _docx_tables(doc)
    assert len(docx_tables) == len(tables)
    for t, (caption, rows) in zip(tables, docx_tables, strict=True):
        assert caption == f"{t['label']} {t['caption']}"
        assert rows[0] == t["columns"]
        assert rows[1:] == [[c["text"] for c in r] for r in t["rows"]]
        assert f"**{t['label']} " in md
        assert str(escape(f"{t['label']} {t['caption']}")) in html
        for r in t["rows"]:
            for c in r:
                assert str(escape(c["text"])) in html
    captions = [p.text for p in doc.paragraphs if p.style.name == "Caption" and p.text.startswith("图")]
    assert captions == [f"{f['label']} {f['caption']}" for f in _figures(content)]
    assert len(doc.inline_shapes) == len(_figures(content))


# ---- DOCX: headings, numbers against results.nc, East Asian fonts ----------------------------

@pytest.mark.parametrize("key,scenario", [("ankang", "ankang-2025"), ("jiaozuo", "jiaozuo-2022")])
def test_docx_headings_numbers_and_fonts(env, key, scenario):
    ds = open_run(scenario, env["root"] / "outputs").dataset
    doc = docx.Document(str(_folder(env, key) / "appendix.docx"))
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings == HEADINGS_ZH
    tables = dict(_docx_tables(doc))

    # targets: required, achieved, margin (and P(met)) against results.nc
    rows = tables[next(c for c in tables if c.endswith(" 目标可达性分析"))]
    head = rows[0]
    col = {h.split("（")[0]: j for j, h in enumerate(head)}
    assert len(rows) - 1 == ds.sizes["target"]
    for i, row in enumerate(rows[1:]):
        for name, var in (("要求减排量", "required"), ("实现减排量", "achieved"), ("余量", "margin")):
            _check(row[col[name]], float(ds[var].values[i]), _factor(head[col[name]]))
        if "probability" in ds:
            _check(row[col["达标概率"]], float(ds["probability"].values[i]))
        assert row[col["结论"]] == {"met": "可达", "at risk": "存在风险", "not met": "不可达"}[str(ds["status"].values[i])]

    # reductions by measure and pollutant in the last report year
    last = int(ds.attrs["report_years"][-1])
    rows = tables[next(c for c in tables if c.endswith(f"{last}年各措施减排量"))]
    by_name = {v: k for k, v in NAMES_ZH.items()}
    pols = [by_name[h.split("（")[0]] for h in rows[0][1:]]
    assert [r[0] for r in rows[1:-1]] == [str(x) for x in ds["measure_name"].values]
    for i, row in enumerate(rows[1:-1]):
        for j, p in enumerate(pols):
            want = float(ds["reduction"].sel(pollutant=p, year=last).values[i])
            if row[j + 1] == "—":
                assert abs(want) < 1e-9
            else:
                _check(row[j + 1], want, _factor(rows[0][j + 1]))
    for j, p in enumerate(pols):
        _check(rows[-1][j + 1], float(ds["reduction_total"].sel(pollutant=p, year=last)), _factor(rows[0][j + 1]))

    # base-year inventory: the total row
    base = int(ds.attrs["base_year"])
    rows = tables[next(c for c in tables if c.endswith("分行业排放量"))]
    pols = [by_name[h.split("（")[0]] for h in rows[0][1:]]
    assert rows[-1][0] == "合计"
    for j, p in enumerate(pols):
        _check(rows[-1][j + 1], float(ds["emissions_total"].sel(pollutant=p, year=base)), _factor(rows[0][j + 1]))

    # East Asian fonts: headings 黑体, body 仿宋, set through w:eastAsia
    body = next(p for p in doc.paragraphs if p.style.name == "Normal" and p.text)
    heading = next(p for p in doc.paragraphs if p.style.name == "Heading 1")
    caption = next(p for p in doc.paragraphs if p.style.name == "Caption" and p.text)
    assert _east_asia(doc, body) == "仿宋"
    assert _east_asia(doc, heading) == "黑体"
    assert _east_asia(doc, caption) == "黑体"
    cell_p = doc.tables[0].rows[1].cells[0].paragraphs[0]
    assert _east_asia(doc, cell_p) == "仿宋"


def test_sections_from_what_the_run_has(env):
    ankang = (_folder(env, "ankang") / "appendix.md").read_text(encoding="utf-8")
    jiaozuo = (_folder(env, "jiaozuo") / "appendix.md").read_text(encoding="utf-8")
    # deterministic run: no ranges, says so; sampled run: ranges and P(met); no Sobol anywhere, said
    assert "未进行不确定性抽样" in ankang and "P5" not in ankang.split("## 六")[1].split("## 七")[0]
    assert "目标余量的不确定性区间与达标概率" in jiaozuo and "P5" in jiaozuo
    # tornado ranking computed from the verified scenario; Sobol/Morris are not in a run, and the text says so
    for md in (ankang, jiaozuo):
        assert "龙卷风排序）**" in md and "全局敏感性指数（Sobol、Morris）不属于运行结果" in md
    tornado = next(t for t in _tables(_json(_folder(env, "ankang"))) if t["key"] == "tornado")
    swings = [c["value"] for r in tornado["rows"] for c in r[6:] if c["value"] is not None]
    assert swings and all(v > 0 for v in swings)
    # conclusions: one generated sentence per target, verdict from the numbers
    ds = open_run("ankang-2025", env["root"] / "outputs").dataset
    concl = ankang.split("## 七、结论")[1].split("## 八")[0]
    bullets = [line for line in concl.splitlines() if line.startswith("- ")]
    assert len(bullets) == ds.sizes["target"]
    verdict = {"met": "可达", "at risk": "存在风险", "not met": "不可达"}
    for line, status in zip(bullets, ds["status"].values, strict=True):
        assert line.endswith(f"结论为{verdict[str(status)]}。")


# ---- HTML: escaped, self-contained ----------------------------------------------------------

def test_html_escapes_input_and_embeds_every_figure(env):
    folder = _folder(env, "hostile")
    html = (folder / "appendix.html").read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "</td></tr><script>" not in html
    content = _json(folder)
    figures = _figures(content)
    run_folder = Path(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["run_folder"])
    run_pngs = sorted((run_folder / "figures").glob("*.png"))
    assert figures and len(figures) == len(run_pngs)
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == len(figures) == html.count("<img ")
    for u in uris:
        assert base64.b64decode(u).startswith(b"\x89PNG\r\n\x1a\n")
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(?!data:)', html)
    md = (folder / "appendix.md").read_text(encoding="utf-8")
    assert "<script" not in md and "\\|" in md


# ---- golden Markdown --------------------------------------------------------------------------

def _normalise(md: str) -> str:
    """Drop what differs between runs of the same inputs: run id, time, hashes, the table list."""
    md = re.sub(r"\d{8}T\d{6}-[0-9a-f]{6}", "<run-id>", md)
    md = re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\+00:00|Z)?", "<created>", md)
    md = re.sub(r"\b[0-9a-f]{64}\b", "<sha256>", md)
    return "".join(line for line in md.splitlines(keepends=True) if not line.startswith(("| 系数表 ", "| Coefficient table ")))


def test_markdown_golden(env, tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(GOLDEN_DIR)
        mp.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
        res = CliRunner().invoke(main, ["run", "golden-city.yaml", "--samples", "100", "--seed", "7", "--quiet"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        files = write_appendix("golden-city", formats=("md",))
    md = _normalise(files[0].read_text(encoding="utf-8"))
    if os.environ.get("ERSIM_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(md, encoding="utf-8")
    assert GOLDEN.exists(), f"no golden file {GOLDEN}; create it with ERSIM_UPDATE_GOLDEN=1 and review it"
    want = GOLDEN.read_text(encoding="utf-8")
    assert md == want, "appendix Markdown changed; if intended, run with ERSIM_UPDATE_GOLDEN=1 and review the diff"
    # the golden covers every target kind and every verdict
    for phrase in ("较2020年下降25%", "重点工程减排量不少于300吨", "排放总量控制在26万吨以内", "结论为可达", "结论为存在风险", "结论为不可达"):
        assert phrase in md


# ---- English ----------------------------------------------------------------------------------

def test_english_appendix(env):
    files = write_appendix("ankang-2025", lang="en", formats=("md", "docx"))
    folder = files[0].parent
    assert folder.name.startswith("appendix-")
    content = _json(folder)
    assert content["lang"] == "en"
    assert [s["heading"] for s in content["sections"]] == HEADINGS_EN
    md = files[0].read_text(encoding="utf-8")
    assert "Target feasibility analysis" in md and "Verdict: achievable" in md and "Verdict: not achievable" in md
    # the text ersim writes is English; Chinese remains only in names quoted from the scenario
    for s in content["sections"]:
        for b in s["blocks"]:
            if b["type"] == "table":
                assert all(not re.search(r"[\u4e00-\u9fff]", h) for h in b["columns"]), b["columns"]
    bullets = [x for x in md.split("## 7. Conclusions")[1].split("## 8")[0].splitlines() if x.startswith("- ")]
    assert bullets and all(re.search(r"required [\d,.]+ t, achieved [\d,.]+ t, a (margin|shortfall) of [\d,.]+ t", b) for b in bullets)
    # charts re-drawn in English from the verified re-run, not the run's Chinese ones
    assert not any(f["note"] for f in _figures(content))
    doc = docx.Document(str(folder / "appendix.docx"))
    assert [p.text for p in doc.paragraphs if p.style.name == "Heading 1"] == HEADINGS_EN
    english = set(NAMES_EN.values())
    assert any(h.split(" (")[0] in english for h in _tables(content)[0]["columns"])


# ---- CLI ----------------------------------------------------------------------------------------

def test_cli_appendix(env, tmp_path):
    res = _invoke("appendix", "no-such-run")
    assert res.exit_code == 2 and "no run 'no-such-run'" in res.output
    res = _invoke("appendix", "ankang-2025", "--format", "pdf")
    assert res.exit_code == 2 and "unknown format" in res.output
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine", encoding="utf-8")
    res = _invoke("appendix", "ankang-2025", "--out", str(busy))
    assert res.exit_code == 2 and "refusing" in res.output
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    out = tmp_path / "appx"
    res = _invoke("appendix", "ankang-2025", "--format", "md", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert res.output.split() == [str(out / "appendix.md")]
    # an earlier appendix is replaced whole, and nothing temporary is left behind
    res = _invoke("appendix", "ankang-2025", "--format", "html", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["appendix.html", "appendix.json", "manifest.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_compare_adds_section_with_side_by_side_margins(env, tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        # as in the fixture: the variant without the PM2.5 concentration target, under its own id
        slow_file = tmp_path / "slow.yaml"
        slow_file.write_text(f"extends: '{REPO / 'scenarios' / 'ankang-2025-variants.yaml'}#slow'\nid: ankang-2025-variants-slow\n"
                             "remove_targets: [pm25-2025]\n", encoding="utf-8")
        res = CliRunner().invoke(main, ["run", str(slow_file), "--quiet", "--no-figures"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
    out = tmp_path / "cmp"
    res = _invoke("appendix", "ankang-2025", "--compare", "ankang-2025-variants-slow", "--format", "md", "--out", str(out))
    assert res.exit_code == 0, res.output
    content = _json(out)
    headings = [s["heading"] for s in content["sections"]]
    assert headings[6] == "七、情景比较" and len(headings) == 9
    (margins,) = [t for t in _tables(content) if t["key"] == "comparison_margins"]
    base = open_run("ankang-2025", env["root"] / "outputs").dataset
    slow = open_run("ankang-2025-variants-slow", env["root"] / "outputs").dataset
    for i, row in enumerate(margins["rows"]):
        _check(row[1]["text"], float(base["margin"].values[i]), _factor(margins["columns"][1]))
        _check(row[3]["text"], float(slow["margin"].values[i]), _factor(margins["columns"][3]))


def test_a_moved_run_writes_the_same_appendix_from_its_record(env, tmp_path):
    """A run folder copied elsewhere, its scenario gone and a chart deleted: the same tables, every chart."""
    first = _folder(env, "ankang")
    src = Path(json.loads((first / "manifest.json").read_text(encoding="utf-8"))["run_folder"])
    copy = tmp_path / "moved-run"
    shutil.copytree(src, copy)
    man = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    man["scenario_file"] = "no/such/scenario.yaml"
    (copy / "manifest.json").write_text(json.dumps(man, ensure_ascii=False), encoding="utf-8")
    (copy / "figures" / "waterfall_COD_2025.png").unlink()
    files = write_appendix(str(copy), formats=("md",))
    moved = _json(files[0].parent)
    def same(content: dict) -> list[dict]:  # the manifest table names where the scenario file was
        return [t for t in _tables(content) if t["key"] != "manifest"]

    assert same(moved) == same(_json(first))
    assert not [f for f in _figures(moved) if f["note"]]
    md = files[0].read_text(encoding="utf-8")
    assert "情景文件不可用" not in md and "本次未能生成" not in md
    ds = open_run(str(copy)).dataset
    assert f"{np.round(float(ds['margin'].values[0])):,.0f}" in md


# ---- a Chinese appendix that is Chinese, compact, with conclusions a reviewer needs ---------------

# Latin words allowed in the Chinese body: pollutant symbols, units, method and tool names
_ALLOWED_LATIN = {
    "ersim", "VOCs", "COD", "SO2", "NOx", "NH3", "PM2", "PM10", "CO2", "TN", "TP", "PM", "Shapley", "Sobol", "Morris",
    "SHA", "GB", "HJ", "kWh", "eff", "max", "kg", "mg", "km", "GJ", "MJ", "OBD", "HC", "LDAR", "SNCR", "CEMS", "BOD5", "KN",
}
_SOURCE_COLUMNS = {"来源", "依据"}


def _body_texts(content: dict) -> list[tuple[str, str]]:
    """(where, text) of everything a planner reads as body: paragraphs, bullets and table cells,
    leaving out source/citation cells and the run manifest (file names, hashes, ids)."""
    out = []
    for s in content["sections"]:
        for b in s["blocks"]:
            if b["type"] == "paragraph" and b["kind"] != "formula":
                out.append((s["heading"], b["text"]))
            elif b["type"] == "bullets":
                out.extend((s["heading"], x) for x in b["items"])
            elif b["type"] == "subheading":
                out.append((s["heading"], b["text"]))
            elif b["type"] == "table" and b["key"] != "manifest":
                keep = [j for j, h in enumerate(b["columns"]) if h not in _SOURCE_COLUMNS]
                out.extend((b["label"], b["columns"][j]) for j in keep)
                out.extend((b["label"], r[j]["text"]) for r in b["rows"] for j in keep)
            elif b["type"] == "figure":
                out.append((b["label"], b["caption"]))
    return out


def _english_words(text: str) -> list[str]:
    """Latin words of three letters or more (one lowercase at least) that are not symbols or units."""
    text = re.sub(r"\d{8}T\d{6}-[0-9a-f]{6}", "", text)  # run ids
    words = re.findall(r"[A-Za-z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*|[a-z]{3,}", text)
    return [w for w in words if len(w) >= 3 and w not in _ALLOWED_LATIN and not re.fullmatch(r"[a-z]{1,2}\d*", w)]


@pytest.mark.parametrize("key", ["ankang", "jiaozuo"])
def test_chinese_body_has_no_english_or_internal_text(env, key):
    content = _json(_folder(env, key))
    bad = [(where, w, text[:80]) for where, text in _body_texts(content) for w in _english_words(text)]
    assert not bad, bad[:10]
    md = (_folder(env, key) / "appendix.md").read_text(encoding="utf-8")
    for phrase in ("computed from", "engineering estimate", "recalled", "seed 0", "see comment", "在下方 coefficients",
                   "Latin hypercube", "SeedSequence", "ersim run", "ersim sensitivity", "--samples", "sequential", "next_month",
                   "research notes", "情景文件不可用"):
        assert phrase not in md, phrase
    # coefficients by their Chinese names, never by key
    run = open_run({"ankang": "ankang-2025", "jiaozuo": "jiaozuo-2022"}[key], env["root"] / "outputs")
    keys = list(run.model.keys_used)
    assert keys
    for k in keys:
        assert k not in md, k


@pytest.mark.parametrize("key", ["ankang", "jiaozuo"])
def test_no_table_printed_twice(env, key):
    content = _json(_folder(env, key))
    tables = _tables(content)
    captions = [t["caption"] for t in tables]
    assert len(captions) == len(set(captions)), captions
    bodies = [json.dumps([[c["text"] for c in r] for r in t["rows"]], ensure_ascii=False) for t in tables]
    assert len(bodies) == len(set(bodies))
    # the coefficients with their values and sources: one table, in the annex
    coef = [t for t in tables if "来源" in t["columns"] and "取值" in t["columns"]]
    assert [t["key"] for t in coef] == ["coefficients"]
    assert content["sections"][-1]["key"] == "annex" and any(b.get("key") == "coefficients" for b in content["sections"][-1]["blocks"])
    # each coefficient once in it
    names = [r[1]["text"] for r in coef[0]["rows"]]
    run = open_run({"ankang": "ankang-2025", "jiaozuo": "jiaozuo-2022"}[key], env["root"] / "outputs")
    assert len(coef[0]["rows"]) == len(dict.fromkeys(run.model.keys_used + run.model.base_keys()))
    assert len(names) == len(coef[0]["rows"])
    # adjacent columns of a table never mix 吨 and 万吨
    for t in tables:
        units = {m.group(1) for h in t["columns"] if (m := re.search(r"（(万?吨)(?:/年)?）$", h))}
        assert len(units) <= 1, (t["label"], t["columns"])


def test_conclusions_say_what_would_close_each_gap(env, tmp_path):
    """Ankang's NH3-N target (190 t of key-project reductions, 109 t achieved: 80.5 t short).
    The conclusion names the measure that carries it (urban sewage, 100% of the 109 t) and the
    break-even: 15,000 m³/d of new treatment gives 109 t, so about 15,000 × 80.5 / 109 ≈ 11,000 m³/d
    more closes the gap; re-running with that quantity gives a margin of about zero."""
    import sim

    for key, scenario in (("ankang", "ankang-2025"), ("jiaozuo", "jiaozuo-2022")):
        content = _json(_folder(env, key))
        concl = content["sections"][[s["key"] for s in content["sections"]].index("conclusions")]
        paragraphs = [b["text"] for b in concl["blocks"] if b["type"] == "paragraph"]
        ds = open_run(scenario, env["root"] / "outputs").dataset
        weak = [str(n) for n, v in zip(ds["target_name"].values, ds["status"].values, strict=True) if str(v) != "met"]
        assert weak, scenario
        for name in weak:
            (text,) = [p for p in paragraphs if p.startswith(f"{name}：")]
            assert "弥补途径" in text and re.search(r"新增|提高到|需增加新的", text), text
            assert "主要来自" in text
    content = _json(_folder(env, "ankang"))
    concl = content["sections"][[s["key"] for s in content["sections"]].index("conclusions")]
    (text,) = [b["text"] for b in concl["blocks"] if b["type"] == "paragraph" and b["text"].startswith("氨氮")]
    assert "缺口80.5吨" in text and "109吨（100%）" in text
    assert "氨氮排放系数" in text  # the caveat: rural sewage and manure NH3-N not counted
    m = re.search(r"城镇污水处理设施建设与提质增效\S*新增工程量约([\d,]+)立方米/日（由15,000立方米/日增至约([\d,]+)立方米/日）", text)
    assert m, text
    extra, total = (float(x.replace(",", "")) for x in m.groups())
    assert abs(extra - 15000 * 80.5 / 109) < 0.1 * extra  # linear in the quantity, to 10%
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        mp.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
        sw = sim.sweep("scenarios/ankang-2025.yaml", [f"measures.urban-sewage.quantity={total}"])
    margin = float(sw.dataset["margin"].sel(target="nh3n-2025").values.ravel()[0])
    assert abs(margin) < 0.5, margin  # three significant figures of the quantity: within half a tonne


def test_conclusion_names_the_compared_alternative(env, tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        res = CliRunner().invoke(main, ["run", "scenarios/ankang-2025-variants.yaml#slow", "--quiet", "--no-figures"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
    files = write_appendix("ankang-2025", compare=["ankang-2025-variants-slow"], formats=("md",), out=tmp_path / "cmp")
    md = files[0].read_text(encoding="utf-8")
    concl = md.split("## 八、结论")[1].split("## 九")[0]
    slow = open_run("ankang-2025-variants-slow", env["root"] / "outputs").dataset
    i = [str(t) for t in slow["target"].values].index("nh3n-2025")
    status = {"met": "可达", "at risk": "存在风险", "not met": "不可达"}[str(slow["status"].values[i])]
    assert f"比较方案B（{slow.attrs['scenario']}）下该目标" in concl and f"结论为{status}" in concl


def test_docx_properties_are_ersim_and_now(env):
    import datetime as dt
    import zipfile

    path = _folder(env, "ankang") / "appendix.docx"
    core = docx.Document(str(path)).core_properties
    assert core.author == "ersim" and core.last_modified_by == "ersim"
    assert core.title.startswith("目标可达性分析 — ")
    created = core.created if core.created.tzinfo else core.created.replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 24 * 3600
    app = zipfile.ZipFile(path).read("docProps/app.xml").decode("utf-8")
    assert "Macintosh" not in app and "<Application>ersim</Application>" in app


def _png_dpi(data: bytes) -> float:
    """Dots per inch from a PNG's pHYs chunk (0 when it has none)."""
    pos = 8
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"pHYs":
            ppm = int.from_bytes(data[pos + 8:pos + 12], "big")
            return ppm * 0.0254 if data[pos + 16] == 1 else 0.0
        if kind == b"IDAT":
            return 0.0
        pos += 12 + length
    return 0.0


def test_every_figure_at_200_dpi(env):
    for key in ("ankang", "jiaozuo"):
        folder = _folder(env, key)
        run_folder = Path(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["run_folder"])
        pngs = sorted((run_folder / "figures").glob("*.png"))
        assert pngs
        for png in pngs:
            assert _png_dpi(png.read_bytes()) >= 199.5, png.name
        doc = docx.Document(str(folder / "appendix.docx"))
        for rel in doc.part.rels.values():
            if "image" in rel.reltype:
                assert _png_dpi(rel.target_part.blob) >= 199.5


# ---- the DOCX through LibreOffice ----------------------------------------------------------------

_OFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(not _OFFICE and not os.environ.get("CI"), reason="LibreOffice not installed (.ci/run installs it)")
def test_docx_converts_to_pdf_with_chinese_text(env, tmp_path):
    """Ankang's appendix as LibreOffice lays it out: at most 25 pages, every heading in the text
    layer, the CJK fonts embedded (no missing glyph)."""
    assert _OFFICE, "CI must have LibreOffice: .ci/run installs libreoffice-writer-nogui"
    assert shutil.which("pdfinfo") and shutil.which("pdffonts") and shutil.which("pdftotext"), "poppler-utils missing"
    src = _folder(env, "ankang") / "appendix.docx"
    subprocess.run([str(_OFFICE), f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(src)],
                   check=True, capture_output=True, timeout=300)
    pdf = tmp_path / "appendix.pdf"
    assert pdf.is_file() and pdf.stat().st_size > 10_000
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, timeout=60).stdout.decode("utf-8", "replace")
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert 5 <= pages <= 25, pages
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=60).stdout.decode("utf-8")
    for heading in ("目标可达性分析", *HEADINGS_ZH, "分行业排放量", "弥补途径"):
        assert heading in text, heading
    assert "\ufffd" not in text
    fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, timeout=60).stdout.decode("utf-8", "replace")
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert any(re.search(r"CJK|Hei|Song|Fang|Kai|WenQuanYi|Droid", r[0]) for r in rows), fonts
    # every font embedded: a glyph LibreOffice could not find would come from an unembedded stand-in
    emb = fonts.splitlines()[0].index("emb")
    assert all(line[emb:emb + 3].strip() == "yes" for line in fonts.splitlines()[2:] if line.strip()), fonts


def test_least_cost_mix_in_the_conclusion_when_measures_carry_costs(env, tmp_path):
    """ankang-2025-costs: the same 80.5 t NH3-N shortfall; the least-cost solve (sim.solve) meets
    every target, and the conclusion quotes its mix: urban sewage from 15,000 m³/d to the solve's level."""
    import sim

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        res = CliRunner().invoke(main, ["run", "scenarios/ankang-2025-costs.yaml", "--quiet", "--no-figures"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        solved = sim.solve("scenarios/ankang-2025-costs.yaml")
    md = write_appendix("ankang-2025-costs", formats=("md",), out=tmp_path / "costs")[0].read_text(encoding="utf-8")
    (text,) = [line for line in md.splitlines() if line.startswith("氨氮") and "弥补途径" in line]
    level = dict(zip(solved.solution.measures, solved.solution.level, strict=True))["urban-sewage"]
    assert solved.solution.feasible and "按最低成本组合" in text
    assert f"15,000→{level:,.0f}立方米/日" in text or f"15,000→{float(f'{level:.3g}'):,.0f}立方米/日" in text, (text, level)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([
    "computed from steam_ton_coal_per_h, boiler_flh_industrial", "engineering estimate; rests on GB 17691 and veh_hdt_engine_work",
    "安康市实施方案 (seed 003), (三十二): 持续推进", "; flow arithmetic assumed (see comment)", " (project research notes section 1.3)",
    "GB 18918-2002 城镇污水处理厂污染物排放标准 表1", " — recalled, not verified here", "assumed (示意值): kiln NOx",
]), min_size=1, max_size=4))
def test_sources_read_as_citations(parts):
    """Whatever the library's boilerplate is combined with, a Chinese citation keeps none of it."""
    from sim.reports.appendix.content import clean_source

    names = {"steam_ton_coal_per_h": "1蒸吨燃煤锅炉满负荷耗煤"}
    out = clean_source("; ".join(parts), lambda k: names.get(k, k), "zh")
    for phrase in ("computed from", "engineering estimate", "seed 0", "see comment", "research notes", "recalled", "assumed"):
        assert phrase not in out, (parts, out)
    assert len(out) <= 92


def test_html_tables_scroll_and_keep_numbers_and_symbols_whole(env):
    """Jiaozuo's 11 pollutant columns: the table scrolls sideways inside its box instead of squeezing
    each column to a character per line; numbers never wrap; "PM2.5（吨/年）" never splits as "PM2." / "5"."""
    html = (_folder(env, "jiaozuo") / "appendix.html").read_text(encoding="utf-8")
    assert re.search(r"\.table-wrap\s*\{[^}]*overflow-x:\s*auto", html)
    assert re.search(r"td\.num\s*\{[^}]*white-space:\s*nowrap", html)
    assert html.count('<div class="table-wrap">') == html.count("<table>")
    assert '<span class="nw">PM2.5（吨/年）</span>' in html


def test_a_concentration_gap_beyond_what_is_left_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ankang's PM2.5 gap (9.1 µg/m³) is more than cutting all that is left of SO2 and NOx would give
    by the linear response (sum of -Δc/ΔE x what is left in 2025), so the appendix says so, instead
    of asking for more SO2 cuts than Ankang emits; NH3, VOCs and primary PM2.5 are not counted (not
    in the inventory or the response table), so it does not claim local cuts cannot close the gap."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(REPO / "scenarios" / "ankang-2025.yaml"), "--no-figures", "--out", "run"]).exit_code == 0
    assert runner.invoke(main, ["appendix", "run", "--format", "md", "--out", "app"]).exit_code == 0
    md = next((tmp_path / "app").glob("*.md")).read_text(encoding="utf-8")
    ds = open_run(str(tmp_path / "run")).dataset
    change = ds["concentration_change"].sel(target="pm25-2025")
    most = 0.0
    for pol in (str(p) for p in change["precursor"].values):
        dc = float(change.sel(precursor=pol))
        if pol not in ds["pollutant"].values or not np.isfinite(dc):
            continue
        e = ds["emissions_total"].sel(pollutant=pol)
        de = float(e.sel(year=2020) - e.sel(year=2025))  # the run's reduction of the precursor, t/a
        if de > 0 and dc < 0:
            most += -dc / de * float(e.sel(year=2025))  # µg/m³ if all that is left were cut
    gap = -float(ds["margin"].sel(target="pm25-2025"))
    assert 0 < most < gap
    assert f"仅削减二氧化硫、氮氧化物不够：即使其2025年的剩余排放全部削减，按线性响应浓度也只能再降约{most:.1f} µg/m³，小于{gap:.1f} µg/m³的缺口" in md
    assert "其余前体物（氨、挥发性有机物、PM2.5）的作用本情景无法估算" in md and "本地减排无法单独弥补" not in md
    assert "需在现有措施之外再削减二氧化硫" not in md
