"""Charts ready to paste into a report: 200 dpi, names not keys, axes that show the gap, fixed P(met) scale."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.reports import charts
from sim.reports.charts import DPI, wrap_label, zoomed_limits

REPO = Path(__file__).resolve().parents[1]


def _png_dpi(path: Path) -> float:
    data = path.read_bytes()
    i = data.index(b"pHYs")
    return round(int.from_bytes(data[i + 4:i + 8], "big") * 0.0254)


@pytest.fixture
def captured(monkeypatch):
    """The figures the chart functions save, kept for inspection."""
    figs: list = []
    real = charts.save_png

    def keep(fig, path):
        figs.append(fig)
        real(fig, path)

    monkeypatch.setattr(charts, "save_png", keep)
    return figs


# ---- labels ----------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["城镇", "污水", "处理", "PM2.5", "VOCs", "95%", " ", "(", ")", "、", "提标改造", "1,500"]), max_size=20),
       st.integers(6, 30))
def test_wrap_label_keeps_every_character_and_never_cuts_a_word(parts, width):
    text = "".join(parts).strip()
    out = wrap_label(text, width, max_lines=100)
    # nothing lost: the lines put back together give the text (spaces at the breaks aside)
    assert out.replace("\n", "").replace(" ", "") == text.replace(" ", "")
    # a Latin token (PM2.5, 1,500) is never split over two lines
    for token in re.findall(r"[A-Za-z0-9.%]+", text):
        assert any(token in line for line in out.split("\n")) or any(token in t for t in re.findall(r"[A-Za-z0-9.%]+", out))
    for line in out.split("\n"):
        wide = sum(2 if ord(c) >= 0x2E80 else 1 for c in line)
        longest = max((sum(2 if ord(c) >= 0x2E80 else 1 for c in t) for t in re.findall(r"[A-Za-z0-9.%+\-/·²³]+|.", line)), default=0)
        assert wide <= max(width, longest) + longest  # a token longer than the width stands alone


def test_wrap_label_shortens_with_an_ellipsis():
    out = wrap_label("城镇污水处理设施建设与提质增效(城市≥95%、县城≥90%)", 8, 2)
    assert out.count("\n") == 1 and out.endswith("…")


# ---- waterfall: the axis shows the gap ------------------------------------------------------------

def test_zoomed_axis_shows_a_small_gap():
    """Jiaozuo VOCs, 2021→2025 (worked example): 37,555 t in 2021, a 10% target = 33,800 t
    (37,555 × 0.9 = 33,799.5), 2025 emissions 34,690 t: 891 t short. From zero the gap is
    891 / 37,555 = 2.4% of the axis; zoomed it takes at least a tenth of it."""
    levels = [37_555.0, 37_555.0, 36_533.0, 35_511.0, 34_794.0, 34_690.0, 33_799.5]
    bottom, top, zoomed = zoomed_limits(levels)
    assert zoomed and 0 < bottom < 33_799.5 and top > 37_555
    assert 891 / (top - bottom) > 0.1
    # bars that start near zero keep a zero axis
    assert zoomed_limits([100.0, 20.0, 5.0])[2] is False and zoomed_limits([100.0, 20.0, 5.0])[0] == 0.0


def test_waterfall_one_line_per_target_and_the_gap_marked(captured, tmp_path):
    import sim

    result = sim.run(REPO / "scenarios" / "ankang-2025.yaml")
    fig = charts.waterfall(result, "NH3N", 2025)
    ax = fig.axes[0]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1  # one target on NH3-N 2025, one line
    texts = [t.get_text() for t in ax.texts] + [a.get_text() for a in ax.texts]
    assert any("缺口" in t and "80.5" in t for t in texts), texts
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert any(lb.startswith("城镇污水处理") for lb in labels) and all("urban-sewage" not in lb for lb in labels)
    path = tmp_path / "w.png"
    fig.savefig(path)
    assert _png_dpi(path) >= 200 and fig.dpi >= DPI


# ---- heat maps: P(met) on a fixed 0-1 scale ---------------------------------------------------------

def test_heat_map_probability_scale_is_fixed(captured, tmp_path):
    x = xr.Variable("measures.a.quantity", [1.0, 2.0, 3.0], {"units": "立方米/日"})
    y = xr.Variable("measures.b.completion", [0.5, 0.75, 1.0], {"units": ""})
    prob = np.full((3, 3, 1), 0.85)
    prob[0, 0, 0] = 0.8
    ds = xr.Dataset({"margin": (("measures.a.quantity", "measures.b.completion", "target"), np.ones((3, 3, 1))),
                     "probability": (("measures.a.quantity", "measures.b.completion", "target"), prob)},
                    coords={"measures.a.quantity": x, "measures.b.completion": y, "target": ["t1"]})
    ds = ds.assign_coords(target_name=("target", ["氨氮目标"]))
    paths = charts.sweep_figures(ds, tmp_path, names={"measures.a.quantity": "城镇污水处理 工程量", "measures.b.completion": "粪污利用 完成率"})
    assert _png_dpi(paths[0]) >= 200
    (fig,) = captured
    mesh = next(c for c in fig.axes[0].collections if hasattr(c, "norm") and c.get_array() is not None)
    assert (mesh.norm.vmin, mesh.norm.vmax) == (0.0, 1.0)  # 0.8 is not drawn as the darkest green
    assert len(fig.axes) == 2  # the colour bar
    assert "城镇污水处理 工程量" in fig.axes[0].get_xlabel() and "measures." not in fig.axes[0].get_xlabel()


# ---- sensitivity: names, no empty rows ---------------------------------------------------------------

def test_tornado_leaves_out_inputs_without_effect(captured, tmp_path):
    n = 15
    df = pd.DataFrame({"input": [f"coef:key_{i}" for i in range(n)], "label": [f"key_{i}" for i in range(n)],
                       "low": 0.0, "high": 1.0, "margin_central": 10.0,
                       "margin_at_low": [0.0, 5.0] + [10.0] * (n - 2), "margin_at_high": [20.0, 15.0] + [10.0] * (n - 2)})
    df["swing"] = (df["margin_at_high"] - df["margin_at_low"]).abs()
    path = charts.sensitivity_figure(df, "tornado", "nh3n", tmp_path / "t.png", names={"coef:key_0": "城镇污水厂进水氨氮", "coef:key_1": "生猪总氮产污系数"},
                                     target_name="氨氮重点工程减排量190吨")
    assert _png_dpi(path) >= 200
    (fig,) = captured
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == sorted(["生猪总氮产污系数", "城镇污水厂进水氨氮"])  # two inputs move the margin; 13 empty rows gone
    assert "氨氮重点工程减排量190吨" in fig.axes[0].get_title()


# ---- MACC: partial choices drawn as partial ------------------------------------------------------------

def test_macc_draws_a_partly_chosen_measure_in_part(captured):
    table = pd.DataFrame({"measure": ["a", "b"], "name": ["畜禽粪污资源化利用(综合利用率提高至90%)", "城镇污水处理设施建设与提质增效"],
                          "cost_per_t": [200.0, 1600.0], "potential_reduction": [9000.0, 2000.0], "chosen_reduction": [1800.0, 2000.0]})
    fig = charts.macc(table, "COD")
    ax = fig.axes[0]
    widths = sorted(round(p.get_width()) for p in ax.patches)
    assert widths == [1800, 2000, 2000, 9000]  # a: 1,800 of 9,000 t chosen, drawn over its potential
    texts = [t.get_text() for t in ax.texts]
    assert any("选用20%" in t for t in texts)
    assert any(t.replace("\n", "").startswith("畜禽粪污资源化利用(综合利用率提高至90%)") for t in texts)  # not cut at 10 characters
    assert fig.dpi >= DPI
