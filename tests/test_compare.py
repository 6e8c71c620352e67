"""Comparing scenarios: the scenario dim, exports, and the A->B waterfall's exact sum."""

from __future__ import annotations

import math
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from sim.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
BASE = str(ROOT / "scenarios" / "ankang-2025.yaml")
STRONG = f"{ROOT / 'scenarios' / 'ankang-2025-variants.yaml'}#strong"
SLOW = f"{ROOT / 'scenarios' / 'ankang-2025-variants.yaml'}#slow"


@pytest.fixture(scope="module")
def cmp():
    import sim

    return sim.compare([BASE, STRONG, SLOW]).dataset


def test_compare_has_a_scenario_dim(cmp):
    assert list(cmp["scenario"].values) == ["ankang-2025", "ankang-2025-variants-strong", "ankang-2025-variants-slow"]
    assert set(cmp["margin"].dims) == {"scenario", "target"}
    # the slow variant delivers 80 % by 2025: every measure's 2025 reduction is <= the base plan's
    red = cmp["reduction"].sel(year=2025)
    assert (red.sel(scenario="ankang-2025-variants-slow") <= red.sel(scenario="ankang-2025") + 1e-9).all()


def test_waterfall_sums_exactly_to_difference_of_totals(cmp):
    from sim.analyses.compare import waterfall_table

    for p in ("COD", "NH3N", "NOx", "VOCs"):
        wf = waterfall_table(cmp, "ankang-2025", "ankang-2025-variants-strong", p, 2025)
        e_a = float(cmp["emissions_total"].sel(scenario="ankang-2025", pollutant=p, year=2025))
        e_b = float(cmp["emissions_total"].sel(scenario="ankang-2025-variants-strong", pollutant=p, year=2025))
        steps = math.fsum(wf["delta"].dropna())
        assert e_a + steps == pytest.approx(e_b, rel=1e-12, abs=1e-9)
        assert wf["level"].iloc[-2] == pytest.approx(e_b, rel=1e-12, abs=1e-9)


def test_cli_compare_tables_charts_xlsx_iamc(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    # one side as a stored run, the other as a scenario file run on the fly
    res = CliRunner().invoke(main, ["run", BASE, "--no-figures"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["compare", "ankang-2025", STRONG, "--xlsx", "c.xlsx", "--iamc", "c.csv", "--out", "cmp"])
    assert res.exit_code == 0, res.output
    # into folders that do not exist yet: made (it was an internal error after the comparison was written)
    res = CliRunner().invoke(main, ["compare", "ankang-2025", STRONG, "--xlsx", "new/x/c.xlsx", "--iamc", "new/y/c.csv",
                                    "--out", "cmp2", "--no-figures"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "new" / "x" / "c.xlsx").is_file() and (tmp_path / "new" / "y" / "c.csv").is_file()
    assert "目标余量比较" in res.stdout and "ankang-2025-variants-strong" in res.stdout
    assert (tmp_path / "cmp" / "figures" / "margins.png").is_file()
    assert any(p.name.startswith("waterfall_") for p in (tmp_path / "cmp" / "figures").iterdir())
    wb = openpyxl.load_workbook(tmp_path / "c.xlsx")
    # Ankang's PM2.5 target (µg/m³) gets its own sheet, never a column beside tonnes
    assert "浓度目标" in wb.sheetnames
    assert [n for n in wb.sheetnames if n != "浓度目标"][:4] == ["目标余量", "2025年分措施减排量", "2025年分类别减排量", "排放总量"]
    # xlsx numbers equal results.nc; units in the headers, scenarios in the order given
    run_dir = next((tmp_path / "outputs" / "ankang-2025").iterdir())
    ds = xr.open_dataset(run_dir / "results.nc")
    totals = pd.read_excel(tmp_path / "c.xlsx", sheet_name="排放总量")
    row = totals[(totals["情景"] == "ankang-2025") & (totals["污染物编号"] == "NOx") & (totals["年份"] == 2025)]
    assert float(row["排放量（吨/年）"].iloc[0]) == pytest.approx(float(ds["emissions_total"].sel(pollutant="NOx", year=2025)), rel=1e-12)
    targets = pd.read_excel(tmp_path / "c.xlsx", sheet_name="目标余量").set_index("目标编号")
    assert list(targets.columns[:4]) == ["目标名称", "污染物", "年份", "ankang-2025 要求（吨）"]
    assert targets.loc["nh3n-2025", "ankang-2025 余量（吨）"] == pytest.approx(float(ds["margin"].sel(target="nh3n-2025")), rel=1e-12)
    assert targets.loc["nh3n-2025", "ankang-2025 结论"] == "不可达" and targets.loc["nh3n-2025", "目标名称"].startswith("氨氮")
    heads = [c for c in targets.columns if c.endswith("结论")]
    assert heads == ["ankang-2025 结论", "ankang-2025-variants-strong 结论"]  # command-line order
    steps = next(wb[n] for n in wb.sheetnames if n.startswith("变化分解"))  # the waterfall's steps read in Chinese
    labels = [r[0].value for r in steps.iter_rows(min_row=2)]
    assert labels[0] == "ankang-2025 排放" and "新增量差异" in labels and "baseline (growth) difference" not in labels
    ws = wb["目标余量"]
    assert ws["G2"].number_format == "#,##0.0" and ws.column_dimensions["B"].width > 20 and ws.freeze_panes == "A2"
    raw = (tmp_path / "c.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel on Chinese Windows
    iamc = pd.read_csv(tmp_path / "c.csv", encoding="utf-8-sig")
    assert list(iamc.columns[:5]) == ["model", "scenario", "region", "variable", "unit"]
    nox = iamc[(iamc["variable"] == "Emissions|NOx") & iamc["scenario"].str.startswith("ankang-2025 ")]
    assert float(nox["2025"].iloc[0]) == pytest.approx(float(ds["emissions_total"].sel(pollutant="NOx", year=2025)), rel=1e-12)
    # the hierarchy adds up: Emission Reduction|X is the sum of its categories (pyam's check_aggregate)
    for (scen, var), grp in iamc[iamc["variable"].str.startswith("Emission Reduction|")].groupby(
            [iamc["scenario"], iamc["variable"].str.split("|").str[:2].str.join("|")]):
        total = grp[grp["variable"] == var]["2025"].sum()
        parts = grp[grp["variable"] != var]["2025"].sum()
        assert parts == pytest.approx(total, rel=1e-9, abs=1e-9), (scen, var)
    assert not iamc["variable"].str.endswith("|Baseline").any()
    # and Emissions|X is the sum of its sectors
    mine = iamc[iamc["scenario"].str.startswith("ankang-2025 ")]
    sectors = mine[mine["variable"].str.startswith("Emissions|NOx|")]["2025"].sum()
    assert len(mine[mine["variable"].str.startswith("Emissions|NOx|")]) >= 2
    assert sectors == pytest.approx(float(ds["emissions_total"].sel(pollutant="NOx", year=2025)), rel=1e-12)


def test_xlsx_text_is_never_a_formula(tmp_path, cmp):
    from sim.analyses.compare import to_xlsx

    evil = cmp.assign_coords(measure_name=("measure", ["=HYPERLINK(\"http://x\")", *[str(n) for n in cmp["measure_name"].values[1:]]]))
    path = to_xlsx(evil, tmp_path / "e.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["2025年分措施减排量"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert cells and all(c.data_type == "s" for c in cells)


def test_iamc_concentration_variable(tmp_path):
    from sim.analyses.compare import compare, to_iamc

    cmp = compare([str(ROOT / "scenarios" / "ningbo-2022.yaml"), str(ROOT / "scenarios" / "ningbo-2022.yaml")])
    iamc = pd.read_csv(to_iamc(cmp, tmp_path / "n.csv"), encoding="utf-8-sig")
    pm = iamc[iamc["variable"] == "Concentration|PM2.5"]
    assert set(pm["unit"]) == {"ug/m3"}
    # base 21 µg/m³ in 2021; projected in 2022 = 21 + the NOx response
    assert float(pm["2021"].iloc[0]) == pytest.approx(21.0)
    proj = float(cmp["concentration_projected"].isel(scenario=0).sel(target="pm25-2022"))
    assert float(pm["2022"].iloc[0]) == pytest.approx(proj) and proj < 21.0


def test_iamc_round_trips_through_pyam(tmp_path, cmp):
    pyam = pytest.importorskip("pyam")
    from sim.analyses.compare import to_iamc

    path = to_iamc(cmp, tmp_path / "x.csv")
    df = pyam.IamDataFrame(str(path))
    assert set(df.scenario) == set(pd.read_csv(path)["scenario"])
    v = df.filter(variable="Emissions|NOx", year=2025, scenario="ankang-2025*").timeseries()
    assert float(v.iloc[0, 0]) == pytest.approx(float(cmp["emissions_total"].sel(scenario="ankang-2025", pollutant="NOx", year=2025)))
    # every variable with components is their sum (pyam's check_aggregate returns None when it holds)
    parents = [v for v in df.variable if any(w.startswith(v + "|") for w in df.variable)]
    assert {"Emissions|NOx", "Emission Reduction|NOx"} <= set(parents) and not any(v.endswith("|Baseline") for v in df.variable)
    for v in parents:
        assert df.check_aggregate(v) is None, v


def test_compare_needs_two(tmp_path):
    res = CliRunner().invoke(main, ["compare", BASE])
    assert res.exit_code == 2
    assert "at least two" in res.stderr


def test_init_writes_a_starter_that_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    res = CliRunner().invoke(main, ["init", "Weinan", "--out", "new"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "new" / "inventories" / "weinan-2025.xlsx").is_file()
    header = (tmp_path / "new" / "inventories" / "weinan-2025.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert "源类编号 id" in header and "活动水平 activity" in header
    res = CliRunner().invoke(main, ["run", "new/weinan.yaml", "--no-figures"])
    assert res.exit_code == 0, res.output
    # the xlsx template is accepted as well
    scen = tmp_path / "new" / "weinan.yaml"
    scen.write_text(scen.read_text(encoding="utf-8").replace("weinan-2025.csv", "weinan-2025.xlsx"), encoding="utf-8")
    assert CliRunner().invoke(main, ["run", "new/weinan.yaml", "--no-figures"]).exit_code == 0
    # and it refuses to overwrite
    res = CliRunner().invoke(main, ["init", "Weinan", "--out", "new"])
    assert res.exit_code == 2 and "refusing to overwrite" in res.stderr


@pytest.mark.parametrize("order", [(0, 0, 1), (1, 0, 0), (0, 1, 2)])
def test_three_or_more_with_a_scenario_without_targets(order, tmp_path, monkeypatch):
    """A scenario with no targets among three or more (in any place) compares: its target cells
    are empty, the others' are theirs (it once failed unless the targetless one came first)."""
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    files = [BASE, str(ROOT / "scenarios" / "jincheng-2020.yaml"), str(ROOT / "scenarios" / "hengyang-2019.yaml")]
    items = [files[i] for i in order]
    res = CliRunner().invoke(main, ["compare", *items, "--out", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    import sim

    out = sim.compare(items).dataset
    for k, i in enumerate(order):
        row = out["margin"].isel(scenario=k)
        if i == 1:  # jincheng: no targets
            assert row.isnull().all() and (out["status"].isel(scenario=k) == "").all()
        else:
            assert row.notnull().any()


def test_scenarios_of_different_years(tmp_path, monkeypatch):
    """Ankang (2020-2025) against Hengyang (2018-2019): the command exits 0 with its charts; each
    scenario's measures are shown in its own last year, years it lacks are empty (not 0), and no
    waterfall is drawn for a year one of them lacks (it once crashed on NaN axis limits)."""
    import sim

    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    heng = str(ROOT / "scenarios" / "hengyang-2019.yaml")
    res = CliRunner().invoke(main, ["compare", BASE, heng, "--out", str(tmp_path / "cmp"), "--xlsx", str(tmp_path / "c.xlsx")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cmp" / "figures" / "margins.png").is_file() and "各情景的年份不同" in res.output
    c = sim.compare([BASE, heng])
    ds = c.dataset
    assert bool(ds["reduction"].sel(scenario="hengyang-2019", year=2025).isnull().all())
    own = sim.run(heng).dataset["reduction"].sel(year=2019)
    by = c.tables()["by_measure"].set_index(["measure", "pollutant"])["hengyang-2019"]
    for m in own["measure"].values:
        for p in own["pollutant"].values:
            assert by[(m, p)] == float(own.sel(measure=m, pollutant=p))
    assert c.waterfalls() == {}  # the target years (2019, 2025) are never in both
    ws = openpyxl.load_workbook(tmp_path / "c.xlsx")["末年分措施减排量"]
    assert [c.value for c in ws[1]][3:] == ["ankang-2025（2025年，吨/年）", "hengyang-2019（2019年，吨/年）"]


def test_margins_chart_keeps_tonnes_and_concentrations_apart(tmp_path, monkeypatch):
    """A comparison with tonne and µg/m³ targets draws them on separate axes, and a PM2.5 gap
    is labelled in µg/m³ (it once read '缺口 9.1吨')."""
    import sim
    from sim.reports import charts

    drawn = []
    monkeypatch.setattr(charts, "save_png", lambda fig, path: drawn.append(fig))
    cmp = sim.compare([BASE, STRONG])
    charts.comparison_figures(cmp.dataset, {}, tmp_path)
    fig = drawn[0]
    axes = fig.get_axes()
    assert len(axes) == 2
    labels = [ax.get_ylabel() for ax in axes]
    assert "吨" in labels[0] or "比例" in labels[0]
    assert labels[1] == "浓度余量（µg/m³）"
    gaps = [t.get_text() for t in axes[1].texts]
    assert gaps and all(g.endswith("µg/m³") for g in gaps)
    assert not any("µg" in t.get_text() for t in axes[0].texts)


def test_cities_sharing_a_target_id_keep_their_own_targets(tmp_path, monkeypatch):
    """Ankang's cod-2025 (3,895 t of key-project reductions) and Jiaozuo's cod-2025 (8% below
    2021) are two rows, each under its own name and with its own requirement (once one row under
    Ankang's name); a measure a city does not have is empty, not 0; the margins chart divides each
    city's margin by its own requirement (Ankang's NOx: 763 t of 800 t is 95%, not 11%)."""
    import sim
    from sim.reports import charts

    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    jiao = str(ROOT / "scenarios" / "jiaozuo-2022.yaml")
    cmp = sim.compare([BASE, jiao]).dataset
    ak, jz = sim.run(BASE).dataset, sim.run(jiao).dataset
    assert {"cod-2025", "cod-2025@jiaozuo-2022"} <= set(cmp["target"].values)
    assert str(cmp["target_name"].sel(target="cod-2025@jiaozuo-2022").values) == str(jz["target_name"].sel(target="cod-2025").values)
    assert float(cmp["required"].sel(scenario="jiaozuo-2022", target="cod-2025@jiaozuo-2022")) == float(jz["required"].sel(target="cod-2025"))
    assert bool(cmp["margin"].sel(scenario="jiaozuo-2022", target="cod-2025").isnull())
    only_ak = [m for m in ak["measure"].values if m not in set(jz["measure"].values)]
    assert bool(cmp["reduction"].sel(scenario="jiaozuo-2022", measure=only_ak[0]).isnull().all())
    drawn = []
    monkeypatch.setattr(charts, "save_png", lambda fig, path: drawn.append(fig))
    charts.comparison_figures(cmp, {}, tmp_path)
    ax = drawn[0].get_axes()[0]
    targets = [str(t) for t in cmp["target"].values if str(cmp["target_unit"].sel(target=t).values) == "t"]
    bars = [b for b in ax.patches if b.get_width() > 0]
    i = targets.index("nox-2025")
    want = float(ak["margin"].sel(target="nox-2025")) / float(ak["required"].sel(target="nox-2025"))
    assert any(abs(b.get_height() - want) < 1e-9 for b in bars[: len(targets)]) and 0.9 < want < 1.0, i


def test_a_third_city_sharing_the_second_ones_target_joins_its_row(tmp_path):
    """Ankang, Jiaozuo, Jiaozuo again: the second Jiaozuo's cod-2025 is the first one's row
    (cod-2025@jiaozuo-2022), not a third; the IAMC file has no row without a number in it."""
    import csv

    import sim
    from sim.analyses.compare import to_iamc

    jiao = str(ROOT / "scenarios" / "jiaozuo-2022.yaml")
    c = sim.compare([BASE, jiao, jiao]).dataset
    assert [t for t in c["target"].values if str(t).startswith("cod-2025")] == ["cod-2025", "cod-2025@jiaozuo-2022"]
    m = c["margin"].sel(target="cod-2025@jiaozuo-2022").values
    assert m[1] == m[2] and m[1] == m[1]
    path = to_iamc(c, tmp_path / "x.csv")
    with path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    years = [k for k in rows[0] if k.isdigit()]
    for r in rows:
        vals = [float(r[y]) for y in years if r[y] not in ("", "nan")]
        assert vals, r["variable"]
        if "|" in r["variable"].split("|", 1)[1]:  # a component (sector or category): not all zero
            assert any(v != 0 for v in vals), (r["scenario"], r["variable"])
