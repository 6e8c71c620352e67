"""Build the ONE content model of the feasibility appendix (目标可达性分析) from a run.

Every sentence that states a result is generated here from the run's numbers (results.nc and
manifest.json); text taken from the scenario (names, descriptions, sources) is quoted as
input, never as a conclusion. The writers lay this model out as DOCX, HTML and Markdown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.core.errors import InputError
from sim.core.pollutants import display
from sim.core.units import shown
from sim.model.air import PRECURSORS
from sim.model.measure_types import MEASURE_TYPES, type_label
from sim.reports.appendix.model import (
    Appendix,
    Block,
    Bullets,
    Cell,
    Column,
    Figure,
    Paragraph,
    Section,
    Subheading,
    Table,
)
from sim.reports.appendix.numbers import (
    DASH,
    MassUnit,
    fmt_amount,
    fmt_in,
    fmt_number,
    fmt_pct,
    fmt_probability,
    fmt_sig,
    mass_unit,
)
from sim.reports.appendix.sources import FigureSource, RunData, ScenarioInfo

__all__ = ["LANGS", "STATUS_TEXT", "build_content"]

LANGS = ("zh", "en")
STATUS_TEXT = {
    "zh": {"met": "可达", "at risk": "存在风险", "not met": "不可达"},
    "en": {"met": "achievable", "at risk": "at risk", "not met": "not achievable"},
}
_ZH_NUM = "一二三四五六七八九十"
_BASIS_TEXT = {
    "zh": {"V": "已核实", "S": "标准", "D": "推导", "E": "工程估算", "U": "未核实", "scenario": "情景设定"},
    "en": {"V": "verified", "S": "standard", "D": "derived", "E": "engineering estimate", "U": "unverified", "scenario": "scenario value"},
}


_INTERNAL = [
    re.compile(r"\s*\((?:seed \d+|see comment|see inventory|see note|see the note)\)(?:\s+(?=[\u4e00-\u9fff]))?"),
    re.compile(r"\s*\([^()]*(?:coefficients\.md|research notes|reference notes)[^()]*\)"),
    re.compile(r",?\s*(?:in|of|used in) the project research notes(?: \(section [\d.]+\)| section [\d.]+)?"),
    re.compile(r"\s*\(?project research notes section [\d.]+\)?"),
]
_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_STANDARD = re.compile(r"\b(?:GB(?:/T)?|HJ(?:/T)?|TSG)\s?[A-Z]?\d+(?:\.\d+)?(?:-\d{4})?(?:\s?附录[A-Z])?")
_CJK = re.compile(r"[\u4e00-\u9fff]")


_WEB = re.compile(r",?\s*(?:(?:the )?texts? (?:and worked example )?reproduced on|as quoted (?:by|on)|abstract at|retrieved from|full text)\b[^;；]*?(?=[;；)]|$)")
_MAX_SOURCE = 48  # characters of a source in a table cell (the full citation is in the run record)
_MAX_MEASURE_SOURCE = 36  # the measures table cites the plan's clause only; the full text is in the run record


def _drop_english_asides(t: str) -> str:
    """Remove bracketed English remarks of three words or more from a citation that has a Chinese title."""
    if not _CJK.search(t):
        return t
    prev = None
    while prev != t:
        prev = t
        t = re.sub(r"\s*\(([^()]*)\)", lambda m: "" if not _CJK.search(m.group(1)) and len(m.group(1).split()) >= 3 else m.group(0), t)
    return t


def _shorten(t: str, limit: int = _MAX_SOURCE) -> str:
    """At most *limit* characters, cut after a separator, with 等 (Chinese) or … to show the cut."""
    if len(t) <= limit:
        return t
    cut = max(t.rfind(sep, 0, limit) for sep in ("；", ";", "，", ", ", "。", " "))
    cut = cut if cut > limit // 2 else limit
    return t[:cut].rstrip(" ,;，；:：") + "……"


def clean_source(text: str, name: Any = None, lang: str = "zh", limit: int | None = _MAX_SOURCE) -> str:
    """A coefficient's or measure's source as a citation in *lang*.

    Drops working references of the authors (“(seed 003)”, “(see comment)”, “project research
    notes section 1.3”) and web addresses where a text was read, writes “computed from a, b” as
    由<a的名称>、<b的名称>计算, an engineering estimate or an assumption as 工程估算 / 测算假设
    with the coefficients, standards and titles it rests on, “recalled, not verified” as 未经核实.
    In Chinese, English asides in brackets are dropped; cited titles (English or Chinese) are
    kept as they are. Long citations are cut at *limit* characters.
    """
    named = name or (lambda k: k)
    t = str(text or "").strip()
    for pat in _INTERNAL:
        t = pat.sub("", t)
    zh = lang == "zh"
    unverified = bool(re.search(r"recalled\b|not verified|not checked", t))
    m = re.match(r"^computed from\s+(.+?)\.?$", t, re.S)
    if m:
        keys = [k for k in _KEY.findall(m.group(1))]
        names = list(dict.fromkeys(named(k) for k in keys))
        return f"由{'、'.join(names)}计算" if zh else f"computed from {', '.join(names)}"
    t = re.sub(r"\s*[—-]+\s*recalled, not verified(?: here)?", "（未经核实）" if zh else " (not verified)", t)
    t = re.sub(r"\brecalled from (\S+(?: \d+)?), not checked", r"\1，未经核实" if zh else r"\1, not checked", t)
    if not zh:
        return _shorten(t.strip(" ;,"), limit) if limit else t.strip(" ;,")
    m = re.match(r"^(engineering estimate|assumed|assumption)\b(.*)$", t, re.S)
    if m:
        rest = m.group(2)
        refs: list[str] = []
        for k in _KEY.findall(rest):
            n = named(k)
            if n != k and n not in refs:
                refs.append(n)
        for std in _STANDARD.findall(rest):
            if std.strip() not in refs:
                refs.append(std.strip())
        for title in re.findall(r"《[^》]+》", rest):
            if title not in refs:
                refs.append(title)
        head = "工程估算" if m.group(1) == "engineering estimate" else "测算假设"
        return head + (f"，依据{'、'.join(refs)}" if refs else "") + ("（所引数值未经核实）" if unverified else "")
    t = _WEB.sub("", t)
    t = _drop_english_asides(t)
    # a Chinese citation followed by an English explanation: keep the citation
    m = re.match(r"^(.*?[\u4e00-\u9fff][^:]*?):\s+(?=[A-Za-z0-9(])", t)
    if m and not _CJK.search(t[m.end():m.end() + 30]):
        t = m.group(1)
    t = re.sub(r"\s*\(\s*\)", "", t)
    parts = [x.strip() for x in re.split(r";\s+", t) if x.strip()]
    out: list[str] = []
    for part in parts:
        if re.search(r"\bassum(?:ed|ption)\b", part):
            part = "部分数量与比例为测算假设"
        if part not in out:
            out.append(part)
    t = "；".join(out).replace("effluent at ", "出水执行")
    # the same boilerplate inside a longer text
    t = re.sub(r"computed from\s+([a-z][a-z0-9_]*(?:(?:,\s*|\s+and\s+)[a-z][a-z0-9_]*)*)",
               lambda m: f"由{'、'.join(dict.fromkeys(named(k) for k in _KEY.findall(m.group(1)) or [m.group(1)]))}计算", t)
    t = re.sub(r"(?<![A-Za-z])engineering estimate(?![A-Za-z])", "工程估算", t)
    t = re.sub(r"\s*[—-]*\s*(?<![A-Za-z])recalled(?![A-Za-z])[^；;)）]*", "（未经核实）", t)
    t = re.sub(r"(?<![A-Za-z])assum(?:ed|ption)(?![A-Za-z])[^；;。]*", "部分数量与比例为测算假设", t)
    return _shorten(t, limit) if limit else t


def _grouped(text: str) -> str:
    """A quantity as written, its leading number with thousands separators: 4918.3 蒸吨 -> 4,918.3 蒸吨."""
    m = re.match(r"^(-?)(\d+)(\.\d+)?(.*)$", text.strip())
    if not m:
        return text
    return f"{m.group(1)}{int(m.group(2)):,}{m.group(3) or ''}{m.group(4)}"


def _f(x: Any) -> float:
    return float(np.asarray(x).item())


class _Builder:
    """Numbers tables and figures in order and keeps the language in one place."""

    def __init__(self, run: RunData, info: ScenarioInfo, lang: str, compare: Sequence[RunData], figures: FigureSource | None):
        self.run, self.info, self.lang, self.compare = run, info, lang, list(compare)
        self.ds = run.ds
        self.figsrc = figures
        self.n_tables = 0
        self.n_figures = 0
        self.zh = lang == "zh"
        self.scen = info.scenario
        self.model = info.model
        self.labels: dict[str, str] = {}  # table key -> 表N
        self.settings = info.settings

    # ---- language helpers ------------------------------------------------------------------
    def t(self, zh: str, en: str) -> str:
        return zh if self.zh else en

    def head(self, label: str, unit: str | None = None) -> str:
        if not unit:
            return label
        return f"{label}（{unit}）" if self.zh else f"{label} ({unit})"

    def pol(self, p: str) -> str:
        return display(p, self.lang)

    def status(self, s: str) -> str:
        return STATUS_TEXT[self.lang].get(s, s)

    def year(self, y: int) -> str:
        return f"{y}年" if self.zh else str(y)

    def join(self, items: Sequence[str]) -> str:
        return ("、" if self.zh else ", ").join(items)

    def table(self, key: str, caption: str, columns: list[Column], rows: list[list[Cell]], notes: list[str] | None = None) -> Table:
        self.n_tables += 1
        label = f"表{self.n_tables}" if self.zh else f"Table {self.n_tables}"
        prefix = self.t("注：", "Note: ")
        self.labels[key] = label
        return Table(key, label, caption, columns, rows, [prefix + n for n in notes or []])

    def figure(self, key: str, caption: str, name: str, draw: Any, samples: bool = False) -> Block:
        png, note = (None, "no figures") if self.figsrc is None else self.figsrc.get(name, draw, samples)
        if png is None:
            return Paragraph(self.t(f"（{caption}：本次未能生成，原因：{note}。）", f"({caption}: not available: {note}.)"), "note")
        self.n_figures += 1
        label = f"图{self.n_figures}" if self.zh else f"Figure {self.n_figures}"
        text = None
        if note == "labels-zh":
            text = self.t("", "Chart labels are in Chinese: the run's own chart is used because the scenario could not be re-run to draw it in English.")
        return Figure(key, label, caption, f"figures/{name}", png, text)

    # ---- run facts -------------------------------------------------------------------------
    @property
    def pollutants(self) -> list[str]:
        return [str(p) for p in self.ds["pollutant"].values]

    @property
    def measures(self) -> list[str]:
        return [str(m) for m in self.ds["measure"].values]

    def coord(self, name: str, key: str, dim: str) -> str:
        return str(self.ds[name].sel({dim: key}).values)

    def target_rows(self, run: RunData | None = None) -> list[dict[str, Any]]:
        r = run or self.run
        ds = r.ds
        out = []
        for i, tid in enumerate(r.targets):
            row: dict[str, Any] = {
                "id": tid,
                "name": str(ds["target_name"].values[i]),
                "pollutant": str(ds["target_pollutant"].values[i]),
                "year": int(ds["target_year"].values[i]),
                "kind": str(ds["target_kind"].values[i]),
                "value": str(ds["target_value"].values[i]),
                "required": _f(ds["required"].values[i]),
                "achieved": _f(ds["achieved"].values[i]),
                "margin": _f(ds["margin"].values[i]),
                "status": str(ds["status"].values[i]),
            }
            for q in ("probability", "margin_p5", "margin_p50", "margin_p95"):
                if q in ds:
                    row[q] = _f(ds[q].values[i])
            row["unit"] = str(ds["target_unit"].values[i]) if "target_unit" in ds.coords else "t"
            for q in ("concentration_base", "concentration_projected", "concentration_target"):
                if q in ds and row["kind"] == "concentration":
                    row[q] = _f(ds[q].values[i])
            out.append(row)
        return out

    def conc_text(self, x: float) -> str:
        """A concentration in running text or a cell: ``20.9 µg/m³``."""
        return DASH if x is None or not math.isfinite(x) else f"{x:,.1f} µg/m³"

    def precursor_warnings(self) -> list[str]:
        """The run's warnings about PM2.5 precursors its inventory lacks, in the appendix language."""
        zh, en = [], []
        for w in self.run.manifest.get("warnings") or []:
            w = str(w)
            if w.startswith("PM2.5响应：清单中没有"):
                zh.append(w.removeprefix("PM2.5响应：清单中没有").split("排放")[0])
                en.append(w.partition("the inventory has no ")[2].split(",")[0])
        if not zh:
            return []
        return [self.t(f"清单中没有{'、'.join(zh)}排放，这些前体物对PM2.5的贡献按不变计，浓度变化只计入了部分前体物的响应，预计浓度的下降可能被低估。",
                       f"The inventory has no {', '.join(en)} emissions: their part of PM2.5 is held constant, so only part of the response is counted and the fall of the concentration may be underestimated.")]

    def _language_of(self, w: str) -> str:
        """A bilingual run warning ('中文 (English)') in the appendix language."""
        zh, sep, en = w.partition(" (")
        if sep and re.search(r"[\u4e00-\u9fff]", zh) and en.endswith(")") and not re.search(r"[\u4e00-\u9fff]", en):
            return zh if self.zh else en[:-1]
        return w

    def concentration_caveat(self) -> str:
        from sim.model.air import ASSUMPTION_EN, ASSUMPTION_ZH

        return self.t(ASSUMPTION_ZH, ASSUMPTION_EN)

    def target_ref_year(self, tid: str) -> int:
        for t in self.scen.targets:
            if t.id == tid and t.base_year is not None:
                return int(t.base_year)
        return self.run.base_year

    def target_wording(self, row: dict[str, Any]) -> str:
        """The target as the plan states it: 较2020年下降2%, 重点工程减排量不少于3,895吨, 总量控制在…以内."""
        from sim.core.units import parse_quantity

        try:
            q = parse_quantity(row["value"])
            if row["kind"] == "concentration":
                v = float(q.to("ug/m**3").magnitude)
            else:
                v = float(q.to("dimensionless").magnitude) if row["kind"] == "reduction_percent" else float(q.to("t").magnitude)
        except Exception:  # a value the run stored as text we cannot read: show it as written
            return row["value"]
        if row["kind"] == "concentration":
            return self.t(f"年均浓度不高于{v:g} µg/m³", f"annual mean at most {v:g} µg/m³")
        if row["kind"] == "reduction_percent":
            ref = self.target_ref_year(row["id"])
            return self.t(f"较{ref}年下降{fmt_pct(v)}", f"{fmt_pct(v)} below {ref}")
        if row["kind"] == "reduction_amount":
            return self.t(f"重点工程减排量不少于{fmt_amount(v, 'zh')}", f"key-project reductions of at least {fmt_amount(v, 'en')}")
        return self.t(f"排放总量控制在{fmt_amount(v, 'zh')}以内", f"emissions at most {fmt_amount(v, 'en')}")

    def pollutant_columns(self, values: dict[str, list[float]], per_year: bool = True) -> tuple[list[Column], dict[str, MassUnit]]:
        """One column per pollutant, all in one unit (吨, or 万吨 when every column reaches 10,000 t):
        adjacent columns never mix 吨 and 万吨."""
        peaks = [max((abs(x) for x in v if math.isfinite(x)), default=0.0) for v in values.values()]
        wan = self.zh and bool(peaks) and min(peaks) >= 1e4 and max(peaks) >= 1e5
        unit = mass_unit([1e5 if wan else 0.0], self.lang, per_year)
        units = {p: unit for p in values}
        return [Column(self.head(self.pol(p), unit.label), True) for p in values], units

    # ---- sections ----------------------------------------------------------------------------
    def basics(self) -> list[Block]:
        ds, run, man = self.ds, self.run, self.run.manifest
        years = self.join([self.year(y) for y in run.report_years])
        n_pools, n_measures, n_targets = ds.sizes.get("pool", 0), ds.sizes.get("measure", 0), len(run.targets)
        region = str(ds.attrs.get("region") or man.get("region", ""))
        has_conc = "target" in ds.dims and any(str(k) == "concentration" for k in ds["target_kind"].values)
        blocks: list[Block] = [Paragraph(self.t(
            f"本附录由 ersim 根据“{run.scenario_name}”的运行结果生成。"
            f"评估区域为{region}，基准年为{run.base_year}年，评估年份为{years}；"
            f"清单共{n_pools}类排放源，情景共{n_measures}项减排措施、{n_targets}项目标。"
            "表中排放量与减排量单位为吨/年，目标的要求、实现减排量与余量单位为吨（单位见各表表头）"
            + ("；PM2.5浓度目标以微克/立方米（µg/m³）计。" if has_conc else "。")
            + f"运行编号：{run.run_id}。",
            f"This appendix was generated by ersim from run {run.run_id} of the scenario “{run.scenario_name}”. "
            f"Region: {region}; base year {run.base_year}; assessed years {years}. "
            f"The inventory has {n_pools} source pools; the scenario has {n_measures} measures and {n_targets} targets. "
            "Emissions and reductions are in tonnes per year (t/a); target requirements, achievements and margins in tonnes (t)"
            + ("; PM2.5 concentration targets in µg/m³." if has_conc else "."),
        ))]
        scen = self.scen
        prov = scen.provenance
        status = prov.get("status") if isinstance(prov, dict) else None
        basis = prov.get("basis") if isinstance(prov, dict) else prov
        if status:
            blocks.append(Paragraph(self.t(
                f"清单性质（情景文件所述）：{'示意清单' if str(status) == 'illustrative' else status}"
                + ("，测算结果只表示该清单假设下的量级，不是对实际排放的核定。" if str(status) == "illustrative" else "。"),
                f"Inventory status (as the scenario states): {status}"
                + (": the results show what these assumptions give, not verified emissions." if str(status) == "illustrative" else "."),
            ), "note"))
        if basis:
            blocks.append(Paragraph(self.t(f"清单来源（情景文件原文）：{self.quote(str(basis))}", f"Inventory basis (scenario text): {self.quote(str(basis))}")))
        if scen.description:
            blocks.append(Paragraph(self.t(f"情景说明（情景文件原文）：{self.quote(scen.description, 240)}", f"Scenario description (scenario text): {self.quote(scen.description, 240)}")))
        # inventory by sector, base year
        base = ds["baseline"].sel(year=run.base_year)
        sectors: list[str] = []
        for s in ds["pool_sector"].values:
            s = str(s) or self.t("未分类", "unassigned")
            if s not in sectors:
                sectors.append(s)
        sector_of = [str(s) or self.t("未分类", "unassigned") for s in ds["pool_sector"].values]
        vals: dict[str, list[float]] = {p: [] for p in self.pollutants}
        grid: list[tuple[str, dict[str, float]]] = []
        for s in sectors:
            idx = [i for i, x in enumerate(sector_of) if x == s]
            row = {p: float(base.isel(pool=idx).sel(pollutant=p).sum()) for p in self.pollutants}
            grid.append((s, row))
        total = {p: float(ds["emissions_total"].sel(pollutant=p, year=run.base_year)) for p in self.pollutants}
        grid.append((self.t("合计", "Total"), total))
        for _, row in grid:
            for p in self.pollutants:
                vals[p].append(row[p])
        cols, units = self.pollutant_columns(vals)
        rows = [[Cell(name)] + [Cell(fmt_in(row[p], units[p]) if abs(row[p]) > 1e-9 else DASH, row[p]) for p in self.pollutants]
                for name, row in grid]
        blocks.append(self.table(
            "inventory_by_sector",
            self.t(f"{run.base_year}年（基准年）分行业排放量", f"Base-year ({run.base_year}) emissions by sector"),
            [Column(self.t("行业", "Sector")), *cols], rows,
            [self.t("“—”表示清单中该行业没有该污染物的排放量（不排放，或清单未给出该污染物的排放系数）。",
                    "“—”: the inventory has no emissions of that pollutant for the sector (none, or no emission factor given).")],
        ))
        blocks += self.scope_blocks()
        return blocks

    def scope_blocks(self) -> list[Block]:
        """Period, verdict-deciding assumptions and out-of-scope items, from the run's manifest."""
        from sim.model.plan_scope import scope_lines

        lines = {k: [self.quote(x, None if k == "period" else 160) for x in v] for k, v in scope_lines(self.run.manifest, self.lang).items()}
        blocks: list[Block] = []
        if lines["period"]:
            blocks.append(Paragraph(self.t(f"评估时段与计入范围（情景文件所述）：{lines['period'][0]}",
                                           f"Period and what is credited (scenario text): {lines['period'][0]}")))
        if lines["assumptions"]:
            blocks.append(Paragraph(self.t("决定结论的主要假设：", "Assumptions that decide a verdict:")))
            blocks.append(Bullets(lines["assumptions"]))
        items = self.run.manifest.get("out_of_scope") or []
        if items:  # a compact table: what the plan says, and why it is not evaluated (sources stay in the run's manifest)
            rows = [[Cell(self.t("目标", "target") if o.get("kind", "target") == "target" else self.t("措施", "measure")),
                     Cell(self.quote(str(o.get("item", "")))), Cell(self.quote(str(o.get("reason", ""))))] for o in items]
            blocks.append(self.table("out_of_scope", self.t("规划中未纳入本评估的目标和措施", "Targets and measures of the plan not evaluated here"),
                                     [Column(self.t("类别", "Kind")), Column(self.t("规划内容", "In the plan")),
                                      Column(self.t("未纳入原因", "Why not evaluated"))], rows,
                                     [self.t("各项在规划中的出处见运行清单（manifest.json）。", "Where each item stands in the plan: the run's manifest.")]))
        return blocks

    def growth(self) -> list[Block]:
        ds, run = self.ds, self.run
        last = run.report_years[-1]
        n = last - run.base_year
        pools_spec = {p.id: p for p in self.scen.pools}
        blocks: list[Block] = [Paragraph(self.t(
            "活动水平自基准年按年增长率外推：A[y] = A[基准年] × (1 + g)^(y − 基准年)。新增量是同年基准排放（含增长、不含措施）"
            "与基准年排放之差；减排量均相对同年含新增量的基准排放计算，新增量因此计入目标考核。",
            "Activity is projected from the base year with an annual growth rate: A[y] = A[base] × (1 + g)^(y − base). "
            "New emissions (growth) are the same year's baseline (with growth, without measures) minus base-year emissions; "
            "reductions are counted against the same year's baseline, so growth counts against the targets.",
        ), "formula")]
        rows: list[list[Cell]] = []
        for k, pid in enumerate(str(x) for x in ds["pool"].values):
            unit = shown(str(ds["pool_unit"].values[k]))
            a0 = _f(ds["activity"].sel(pool=pid, year=run.base_year))
            a1 = _f(ds["activity"].sel(pool=pid, year=last))
            spec = pools_spec.get(pid)
            if spec is not None:
                g = spec.growth
                gtext = fmt_pct(g.value, 1 if abs(g.value * 100 - round(g.value * 100)) > 1e-9 else 0)
                if g.uncertain and g.low is not None and g.high is not None:
                    gtext += f"（{fmt_pct(g.low)}～{fmt_pct(g.high)}）" if self.zh else f" ({fmt_pct(g.low)} to {fmt_pct(g.high)})"
                gval: float | None = g.value
            elif a0 > 0 and n > 0:
                gval = (a1 / a0) ** (1 / n) - 1
                gtext = fmt_pct(gval, 1)
            else:
                gval, gtext = None, DASH
            emission_only = (spec is not None and spec.activity is None) or (spec is None and not unit and a0 == 1.0)
            rows.append([
                Cell(str(ds["pool_name"].values[k])), Cell(str(ds["pool_sector"].values[k]) or DASH),
                Cell(unit if not emission_only else self.t("按排放量给定", "given as emissions")),
                Cell(DASH if emission_only else fmt_number(a0), None if emission_only else a0),
                Cell(gtext, gval),
                Cell(DASH if emission_only else fmt_number(a1), None if emission_only else a1),
            ])
        blocks.append(self.table(
            "pools_growth", self.t("排放源类、活动水平与增长假设", "Source pools, activity and growth assumptions"),
            [Column(self.t("源类", "Pool")), Column(self.t("行业", "Sector")), Column(self.t("单位", "Unit")),
             Column(self.t(f"{run.base_year}年活动水平", f"Activity {run.base_year}"), True),
             Column(self.t("年增长率", "Growth per year"), True),
             Column(self.t(f"{last}年活动水平", f"Activity {last}"), True)],
            rows,
            [self.t("增长率取自情景设定；括号内为不确定性区间。", "Growth rates from the scenario; ranges in brackets.")],
        ))
        # new emissions by pollutant
        labels: list[tuple[str, dict[str, float]]] = []
        e0 = {p: _f(ds["emissions_total"].sel(pollutant=p, year=run.base_year)) for p in self.pollutants}
        labels.append((self.t(f"{run.base_year}年排放", f"Emissions {run.base_year}"), e0))
        for y in run.report_years:
            b = {p: _f(ds["baseline_total"].sel(pollutant=p, year=y)) for p in self.pollutants}
            labels.append((self.t(f"{y}年基准排放（含新增量）", f"Baseline {y} (with growth)"), b))
            labels.append((self.t(f"{y}年新增量", f"New emissions {y}"), {p: b[p] - e0[p] for p in self.pollutants}))
        vals = {p: [row[p] for _, row in labels] for p in self.pollutants}
        cols, units = self.pollutant_columns(vals)
        rows = [[Cell(name)] + [Cell(fmt_in(row[p], units[p]), row[p]) for p in self.pollutants] for name, row in labels]
        blocks.append(self.table("new_emissions", self.t("新增量预测", "New emissions from growth"),
                                 [Column(self.t("项目", "Item")), *cols], rows))
        grown = labels[-1][1]
        pos = sorted(((p, grown[p]) for p in self.pollutants if grown[p] > 1e-9), key=lambda x: -x[1] / max(e0[x[0]], 1e-12))
        if pos:
            parts = [self.t(f"{self.pol(p)}{fmt_amount(v, 'zh')}（为基准年的{fmt_pct(v / e0[p], 1)}）" if e0[p] > 0 else f"{self.pol(p)}{fmt_amount(v, 'zh')}",
                            f"{self.pol(p)} {fmt_amount(v, 'en')}" + (f" ({fmt_pct(v / e0[p], 1)} of the base year)" if e0[p] > 0 else ""))
                     for p, v in pos]
            blocks.append(Paragraph(self.t(f"至{last}年，新增量为正的污染物：{self.join(parts)}。",
                                           f"By {last}, growth adds: {self.join(parts)}.")))
        else:
            blocks.append(Paragraph(self.t(f"至{last}年，各污染物新增量均不为正。", f"By {last}, growth adds no emissions.")))
        return blocks

    def _schedule_text(self, m: Any) -> str:
        if m.schedule:
            parts = [self.t(f"{y}年{fmt_pct(u.value)}", f"{y}: {fmt_pct(u.value)}") for y, u in sorted(m.schedule.items())]
            return ("，" if self.zh else "; ").join(parts)
        if m.commissioned:
            y, mo = m.commissioned.split("-")
            return self.t(f"{y}年{int(mo)}月稳定运行", f"stable operation {m.commissioned}")
        if m.year is not None:
            return self.t(f"{m.year}年起全面实施", f"in full from {m.year}")
        first = self.run.base_year + 1
        return self.t(f"{first}年起全面实施", f"in full from {first}")

    def _quantity_text(self, m: Any) -> str:
        parts = []
        if m.quantity is not None:
            parts.append(_grouped(m.quantity))
        if m.share is not None:
            s = m.share
            txt = self.t(f"覆盖{fmt_pct(s.value)}", f"covers {fmt_pct(s.value)}")
            if s.uncertain:
                txt += f"（{fmt_pct(s.low)}～{fmt_pct(s.high)}）" if self.zh else f" ({fmt_pct(s.low)} to {fmt_pct(s.high)})"
            parts.append(txt)
        c = m.completion
        if c.value != 1 or c.uncertain:
            txt = self.t(f"完成率{fmt_pct(c.value)}", f"completion {fmt_pct(c.value)}")
            if c.uncertain:
                txt += f"（{fmt_pct(c.low)}～{fmt_pct(c.high)}）" if self.zh else f" ({fmt_pct(c.low)} to {fmt_pct(c.high)})"
            parts.append(txt)
        return ("；" if self.zh else "; ").join(parts) or DASH

    def _coef_value(self, key: str) -> tuple[str, str, str, str, str]:
        """(value, unit, basis, source, description) of a coefficient as the run used it."""
        used = self.run.manifest.get("coefficients_used", {}) or {}
        over = self.run.manifest.get("coefficient_overrides", {}) or {}
        lib = self.model.library
        desc = self.coef_name(key)
        if key in over:
            o = over[key]
            basis = _BASIS_TEXT[self.lang]["scenario"]
            return fmt_sig(float(o["value"])), shown(str(o.get("unit", ""))), basis, self.cite(str(o.get("source", ""))), desc
        if key in used:
            u = used[key]
            return (fmt_sig(float(u["value"])), shown(str(u.get("unit", ""))), _BASIS_TEXT[self.lang].get(str(u.get("basis")), str(u.get("basis"))),
                    self.cite(str(u.get("source", ""))), desc)
        if key in lib:
            c = lib[key]
            return fmt_sig(c.value), shown(c.unit), _BASIS_TEXT[self.lang].get(c.basis, c.basis), self.cite(c.source), desc
        return DASH, "", "", self.t("运行清单未记录", "not recorded in the run's manifest"), desc

    def coef_name(self, key: str) -> str:
        """A coefficient by its name in the appendix's language (the library's description), the key only when it has none."""
        lib = self.model.library
        if key in lib:
            c = lib[key]
            name = (c.description_zh or c.description_en) if self.zh else (c.description_en or c.description_zh)
            if name:
                return str(name)
        over = (self.run.manifest.get("coefficient_overrides") or {}).get(key)
        if over is not None:
            if isinstance(over, dict) and over.get("description"):
                return str(over["description"])
            from sim.core.pollutants import canonical_pollutant

            users = self._users(key)
            pol = next((p for tok in key.split("_") if (p := canonical_pollutant(tok)) is not None), None)
            what = self.t(f"{self.pol(pol)}排放系数", f"{self.pol(pol)} factor") if pol else self.t("参数", "parameter")
            return self.t(f"{users}{what}（情景设定）", f"{users}: {what} (scenario value)") if users != DASH else key
        return key

    def cite(self, text: str) -> str:
        """A source as a citation: the library's English boilerplate in the appendix's language,
        base coefficients by name, working notes of the scenario's authors left out."""
        return clean_source(text, self.coef_name, self.lang)

    def quote(self, text: str, limit: int | None = None) -> str:
        """Scenario text as quoted in the appendix (working references such as “(seed 003)” dropped),
        in full unless *limit* (characters) is given."""
        if not text:
            return text
        t = clean_source(text, self.coef_name, self.lang, limit)
        if self.zh:
            t = re.sub(r"在下方\s*coefficients\s*中", "在情景中", t)
            t = re.sub(r"见\s*\S+\.(?:csv|xlsx)\s*的\s*source\s*列", "见清单文件的来源列", t)
            t = re.sub(r"(?<=[\u4e00-\u9fff])\s*source(?![A-Za-z])", "依据", t)  # 见各措施 source -> 见各措施依据
            t = re.sub(r"\s*out_of_scope\s*", "“未纳入评估的目标和措施”", t)
            t = re.sub(r"(?<=[\u4e00-\u9fff])\s*[（(][a-z][a-z \-]*[)）]", "", t)  # 示意目标(illustrative) -> 示意目标
        return t

    def measures_section(self) -> list[Block]:
        ds = self.ds
        specs = {m.id: m for m in self.scen.measures}
        pool_names = dict(zip((str(x) for x in ds["pool"].values), (str(x) for x in ds["pool_name"].values), strict=True))
        blocks: list[Block] = []
        if not self.measures:
            return [Paragraph(self.t("情景未列减排措施。", "The scenario lists no measures."))]
        rows = []
        for i, mid in enumerate(self.measures):
            m = specs.get(mid)
            pool = self.coord("measure_pool", mid, "measure")
            mtype = self.coord("measure_type", mid, "measure")
            where = pool_names.get(pool, pool)
            if m is not None:
                dest = m.to or m.replaced_by
                if dest:
                    where += self.t(f" → {pool_names.get(dest, dest)}", f" → {pool_names.get(dest, dest)}")
            rows.append([
                Cell(str(i + 1)), Cell(self.coord("measure_name", mid, "measure")),
                Cell(self.coord("measure_category", mid, "measure") or DASH),
                Cell(type_label(mtype, self.lang)), Cell(where),
                Cell(self._quantity_text(m) if m is not None else DASH),
                Cell(self._schedule_text(m) if m is not None else DASH),
                Cell((self.quote(m.source or "", _MAX_MEASURE_SOURCE) or DASH) if m is not None else DASH),
            ])
        notes = [self.t("各措施所用系数的取值与来源见附表，附表“用于”一栏列出使用该系数的措施。",
                        "The coefficients each measure uses, with values and sources, are in the annex (column “Used by”).")]
        blocks.append(self.table(
            "measures", self.t("减排措施清单", "Measures"),
            [Column(self.t("序号", "No.")), Column(self.t("措施", "Measure")), Column(self.t("类别", "Category")),
             Column(self.t("类型", "Type")), Column(self.t("作用源类", "Pool")), Column(self.t("工程量", "Quantity")),
             Column(self.t("实施进度（累计完成比例）", "Schedule (cumulative share done)")), Column(self.t("依据", "Source"))],
            rows, notes,
        ))
        return blocks

    def _formulas(self) -> list[str]:
        types = [str(t) for t in self.ds["measure_type"].values]
        out = [self.t(
            "排放量：E[k,p,y] = max(0, A_eff[k,y] × EF[k,p] − R[k,p,y]) × Π_m (1 − c[m,y] × d[m,p])，其中 A_eff 为淘汰、替代后的活动水平，"
            "R 为污水治理削减负荷，c 为治理措施覆盖比例，d 为去除效率（或排放系数降幅）。",
            "Emissions: E[k,p,y] = max(0, A_eff[k,y] × EF[k,p] − R[k,p,y]) × Π_m (1 − c[m,y] × d[m,p]), where A_eff is activity after "
            "retirements and switches, R the load removed by treatment, c the share a control covers and d its removal efficiency (or cut in emission factor).",
        )]
        for mt in MEASURE_TYPES.values():
            if mt.id in types:
                out.append(self.t(mt.method_zh, mt.method_en))
        attribution = str(self.ds.attrs.get("attribution") or self.run.manifest.get("settings", {}).get("attribution", "sequential"))
        attr = self.attribution_text(attribution)
        out.append(self.t(
            f"措施减排量 = 同年基准排放（含新增量、无措施）− 实施措施后排放。同一源类上多项措施的联合减排按{attr}分摊，各措施减排量之和等于总减排量，与归因方法无关。",
            f"A measure's reduction = the same year's baseline (with growth, without measures) − emissions with measures. The joint reduction of measures on one pool is shared by {attr}; "
            "the measures' reductions add up to the total whatever the attribution.",
        ))
        rule = str(self.run.manifest.get("settings", {}).get("credit_rule", ""))
        if rule:
            out.append(self.t(f"首年计入规则：{self.credit_rule_text(rule)}。", f"First-year credit: {self.credit_rule_text(rule)}."))
        return out

    def reductions(self) -> list[Block]:
        ds = self.ds
        blocks: list[Block] = [Subheading(self.t("（一）测算公式", "Formulas"))]
        blocks.extend(Paragraph(f, "formula") for f in self._formulas())
        blocks.append(Subheading(self.t("（二）减排量", "Reductions")))
        if not self.measures:
            return [*blocks, Paragraph(self.t("情景未列减排措施，减排量为零。", "No measures: no reductions."))]
        for y in self.run.report_years:
            red = ds["reduction"].sel(year=y)
            pols = [p for p in self.pollutants if np.any(np.abs(ds["reduction"].sel(pollutant=p).values) > 1e-9)]
            if not pols:
                continue
            grid = [(self.coord("measure_name", m, "measure"), {p: _f(red.sel(measure=m, pollutant=p)) for p in pols}) for m in self.measures]
            grid.append((self.t("合计", "Total"), {p: _f(ds["reduction_total"].sel(pollutant=p, year=y)) for p in pols}))
            vals = {p: [row[p] for _, row in grid] for p in pols}
            cols, units = self.pollutant_columns(vals)
            rows = [[Cell(name)] + [Cell(fmt_in(row[p], units[p]) if abs(row[p]) > 1e-9 else DASH, row[p]) for p in pols] for name, row in grid]
            blocks.append(self.table(
                f"reductions_{y}", self.t(f"{y}年各措施减排量", f"Reductions by measure, {y}"),
                [Column(self.t("措施", "Measure")), *cols], rows,
                [self.t("“—”表示该措施对该污染物无减排；负值表示排放增加（如替代源类的新增排放）。",
                        "“—”: no effect on that pollutant; a negative value is an increase (e.g. the receiving pool of a switch).")],
            ))
        return blocks

    def targets_section(self) -> list[Block]:
        rows_t = self.target_rows()
        if not rows_t:
            return [Paragraph(self.t("情景未设目标，本节从略。", "The scenario sets no targets."))]
        kinds = {r["kind"] for r in rows_t}
        defs = []
        if "reduction_percent" in kinds:
            defs.append(self.t("较基准年下降 v：要求减排量 = v × E[基准年]，实现减排量 = E[基准年] − E[目标年]",
                               "reduction by v against a base year: required = v × E[base]; achieved = E[base] − E[target year]"))
        if "reduction_amount" in kinds:
            defs.append(self.t("重点工程减排量 v：要求减排量 = v，实现减排量 = 同年基准排放 − 实施措施后排放",
                               "key-project reductions v: required = v; achieved = same-year baseline − emissions with measures"))
        if "cap" in kinds:
            defs.append(self.t("总量控制 v：要求减排量 = 同年基准排放 − v，实现减排量 = 同年基准排放 − 实施措施后排放",
                               "cap v: required = same-year baseline − v; achieved = same-year baseline − emissions with measures"))
        blocks: list[Block] = []
        if defs:
            blocks.append(Paragraph(self.t(
                ("排放类" if "concentration" in kinds else "") + "目标按以下方式折算为吨：" + "；".join(defs) + "。余量 = 实现减排量 − 要求减排量，余量不小于零即达到目标。",
                ("Emission targets" if "concentration" in kinds else "Targets") + " are expressed in tonnes: " + "; ".join(defs) + ". Margin = achieved − required; a margin of zero or more meets the target.",
            ), "formula"))
        if "concentration" in kinds:
            blocks.append(Paragraph(self.t(
                "PM2.5浓度目标 v（µg/m³）：预计浓度 = 基准年浓度 − Σ α_p·ΔE_p，余量 = 目标浓度 − 预计浓度（µg/m³），余量不小于零即达到目标。",
                "PM2.5 concentration target v (µg/m³): projected = base-year concentration − Σ α_p·ΔE_p; margin = target − projected (µg/m³); a margin of zero or more meets the target.",
            ), "formula"))
        st = self.info.settings
        if st is not None:
            if self.run.samples:
                blocks.append(Paragraph(self.t(
                    f"结论判定：达标概率不低于{fmt_pct(st.met_probability)}且中心值余量不小于零为“可达”；达标概率不低于{fmt_pct(st.at_risk_probability)}为“存在风险”；否则为“不可达”。",
                    f"Verdict: P(met) ≥ {fmt_pct(st.met_probability)} with a central margin ≥ 0 is achievable; P(met) ≥ {fmt_pct(st.at_risk_probability)} is at risk; otherwise not achievable.",
                ), "note"))
            else:
                blocks.append(Paragraph(self.t(
                    f"结论判定：余量小于零为“不可达”；余量不小于零但小于要求减排量的{fmt_pct(st.at_risk_margin)}为“存在风险”；其余为“可达”。",
                    f"Verdict: a negative margin is not achievable; a margin below {fmt_pct(st.at_risk_margin)} of the requirement is at risk; otherwise achievable.",
                ), "note"))
        rows_all = rows_t
        rows_c = [r for r in rows_all if r["kind"] == "concentration"]
        rows_t = [r for r in rows_all if r["kind"] != "concentration"]
        has_p = "probability" in rows_all[0]
        if rows_t:
            blocks.append(self._emission_targets_table(rows_t, has_p))
        if rows_c:
            blocks.extend(self._concentration_targets(rows_c, has_p))
        blocks.extend(self.waterfalls(rows_all))
        return blocks

    def _concentration_targets(self, rows_c: list[dict[str, Any]], has_p: bool) -> list[Block]:
        """Base, projected and target concentration (µg/m³), the linear-response caveat, missing precursors."""
        cols = [Column(self.t("目标", "Target")), Column(self.t("年份", "Year")),
                Column(self.head(self.t("基准年", "Base year"), "µg/m³"), True),
                Column(self.head(self.t("预计", "Projected"), "µg/m³"), True),
                Column(self.head(self.t("目标值", "Target"), "µg/m³"), True),
                Column(self.head(self.t("余量", "Margin"), "µg/m³"), True)]
        if has_p:
            cols.append(Column(self.t("达标概率", "P(met)"), True))
        cols.append(Column(self.t("结论", "Verdict")))
        rows = []
        for r in rows_c:
            c0, cp, ct = (r.get(k, math.nan) for k in ("concentration_base", "concentration_projected", "concentration_target"))
            row = [Cell(r["name"]), Cell(str(r["year"])), Cell(fmt_number(c0) if math.isfinite(c0) else DASH, c0),
                   Cell(fmt_number(cp) if math.isfinite(cp) else DASH, cp), Cell(fmt_number(ct) if math.isfinite(ct) else DASH, ct),
                   Cell(fmt_number(r["margin"]), r["margin"])]
            if has_p:
                row.append(Cell(fmt_probability(r["probability"]), r["probability"]))
            row.append(Cell(self.status(r["status"])))
            rows.append(row)
        notes = [self.concentration_caveat(), *self.precursor_warnings()]
        return [self.table("concentration_targets", self.t("PM2.5浓度目标可达性分析", "PM2.5 concentration targets"), cols, rows, notes)]

    def _emission_targets_table(self, rows_t: list[dict[str, Any]], has_p: bool) -> Block:
        unit = mass_unit([v for r in rows_t for v in (r["required"], r["achieved"], r["margin"])], self.lang)
        cols = [Column(self.t("目标", "Target")), Column(self.t("污染物", "Pollutant")), Column(self.t("年份", "Year")),
                Column(self.t("目标要求", "Requirement")),
                Column(self.head(self.t("要求减排量", "Required"), unit.label), True),
                Column(self.head(self.t("实现减排量", "Achieved"), unit.label), True),
                Column(self.head(self.t("余量", "Margin"), unit.label), True)]
        if has_p:
            cols.append(Column(self.t("达标概率", "P(met)"), True))
        cols.append(Column(self.t("结论", "Verdict")))
        rows = []
        for r in rows_t:
            row = [Cell(r["name"]), Cell(self.pol(r["pollutant"])), Cell(str(r["year"])), Cell(self.target_wording(r)),
                   Cell(fmt_in(r["required"], unit), r["required"]), Cell(fmt_in(r["achieved"], unit), r["achieved"]),
                   Cell(fmt_in(r["margin"], unit), r["margin"])]
            if has_p:
                row.append(Cell(fmt_probability(r["probability"]), r["probability"]))
            row.append(Cell(self.status(r["status"])))
            rows.append(row)
        notes = [self.t("中心值为各输入取中心值的确定性计算结果；达标概率为不确定性抽样中余量不小于零的样本比例。",
                        "Central values are the deterministic result at central inputs; P(met) is the share of samples with a margin of zero or more.")] if has_p else []
        notes.extend(self.growth_notes(rows_t))
        return self.table("targets", self.t("目标可达性分析", "Target feasibility"), cols, rows, notes)

    def growth_notes(self, rows_t: list[dict[str, Any]]) -> list[str]:
        """Why a 较基准年下降 target's achieved reduction differs from the measures' total: the growth."""
        out: list[str] = []
        pct = [r for r in rows_t if r["kind"] == "reduction_percent"]
        if not pct:
            return out
        new_label = self.labels.get("new_emissions", "")
        parts = []
        labels = []
        for r in pct:
            p, y = r["pollutant"], r["year"]
            ref = self.target_ref_year(r["id"])
            if ref != self.run.base_year or y not in self.run.report_years:
                continue
            total = _f(self.ds["reduction_total"].sel(pollutant=p, year=y))
            grown = _f(self.ds["baseline_total"].sel(pollutant=p, year=y)) - _f(self.ds["emissions_total"].sel(pollutant=p, year=ref))
            if abs(grown) < 1e-9:
                continue
            if self.labels.get(f"reductions_{y}") and self.labels[f"reductions_{y}"] not in labels:
                labels.append(self.labels[f"reductions_{y}"])
            sign = "−" if grown >= 0 else "+"
            parts.append(self.t(f"{self.pol(p)}{fmt_amount(r['achieved'], 'zh')} = {fmt_amount(total, 'zh')} {sign} {fmt_amount(abs(grown), 'zh')}",
                                f"{self.pol(p)}: {fmt_amount(r['achieved'], 'en')} = {fmt_amount(total, 'en')} {sign} {fmt_amount(abs(grown), 'en')}"))
        if parts:
            out.append(self.t(
                f"“较基准年下降”类目标的实现减排量 = 基准年排放 − 目标年排放 = 各措施减排量合计（{self.join(labels)}）− 新增量（{new_label}），"
                f"因此小于各措施减排量合计：{'；'.join(parts)}。",
                f"For a target against the base year, achieved = base-year − target-year emissions = the measures' total ({self.join(labels)}) − growth ({new_label}), "
                f"so it is less than the measures' total: {'; '.join(parts)}."))
        return out

    def waterfalls(self, rows_t: list[dict[str, Any]]) -> list[Block]:
        from sim.reports.charts import concentration_chart, waterfall

        pairs: list[tuple[str, int]] = []
        out: list[Block] = []
        for r in rows_t:
            if r["kind"] == "concentration":
                if "concentration_base" in r:
                    cap = self.t(f"{r['name']}：PM2.5年均浓度（基准年浓度 → 各前体物减排响应 → {r['year']}年预计浓度，虚线为目标浓度，µg/m³）",
                                 f"{r['name']}: PM2.5 annual mean (base year → each precursor's response → {r['year']} projected; dashed: target, µg/m³)")
                    out.append(self.figure(f"concentration_{r['id']}", cap, f"concentration_{r['id']}.png",
                                           lambda res, t=r["id"]: concentration_chart(res, t, self.lang)))
            elif (r["pollutant"], r["year"]) not in pairs:
                pairs.append((r["pollutant"], r["year"]))
        for p, y in pairs:
            cap = self.t(f"{self.pol(p)}{self.run.base_year}—{y}年排放变化（基准年排放 → 新增量 → 各措施减排 → 目标年排放，虚线为目标）",
                         f"{self.pol(p)}: emissions {self.run.base_year}–{y} (base year → growth → each measure → target year; dashed: target)")
            out.append(self.figure(f"waterfall_{p}_{y}", cap, f"waterfall_{p}_{y}.png",
                                   lambda res, p=p, y=y: waterfall(res, p, y, self.lang)))
        return out

    def uncertainty(self) -> list[Block]:
        ds, run = self.ds, self.run
        blocks: list[Block] = []
        if not run.samples:
            n_ranges = sum(1 for p in self.model.params.values() if p.uncertain)
            blocks.append(Paragraph(self.t(
                "本次运行为确定性计算（各输入取中心值），未进行不确定性抽样，因此不给出余量区间与达标概率。"
                + (f"情景中有{n_ranges}项输入给出了取值区间（系数区间、措施完成率、增长率区间），" if n_ranges else "")
                + "如需余量区间与达标概率，须进行不确定性抽样后重新生成本附录。",
                "This run is deterministic (central values): no uncertainty samples, hence no ranges and no P(met). "
                + (f"The scenario gives ranges for {n_ranges} inputs (coefficient ranges, completion rates, growth ranges). " if n_ranges else "")
                + "Ranges and P(met) need a run with uncertainty samples.",
            )))
            return [*blocks, *self.sensitivity()]
        seed = str(ds.attrs.get("seed", ""))
        unc_inputs = ds.attrs.get("uncertain_inputs")
        n_unc = len(unc_inputs) if isinstance(unc_inputs, (list, tuple)) else None
        sampling = str(run.manifest.get("settings", {}).get("sampling", ""))
        blocks.append(Paragraph(self.t(
            f"不确定性分析采用拉丁超立方抽样，样本数{run.samples:,}，随机种子{seed}"
            + (f"，共{n_unc}项不确定输入（系数区间默认三角分布，措施完成率与增长率按情景给出的区间）" if n_unc is not None else "")
            + "。同一种子给出相同结果。",
            f"Uncertainty: Latin hypercube sampling, {run.samples:,} samples, seed {seed}"
            + (f", {n_unc} uncertain inputs (coefficient ranges triangular by default; completion and growth ranges as the scenario gives them)" if n_unc is not None else "")
            + ". The same seed gives the same numbers.",
        )))
        if sampling:
            blocks.append(Paragraph(self.t("抽样按块进行，各块的随机数序列由同一随机种子派生，分块方式不影响结果。",
                                           f"Sampling: {sampling}."), "note"))
        rows_t = self.target_rows()
        if rows_t and "margin_p5" in rows_t[0]:
            unit = mass_unit([v for r in rows_t if r["kind"] != "concentration" for v in (r["margin"], r["margin_p5"], r["margin_p95"])], self.lang)
            mixed = any(r["kind"] == "concentration" for r in rows_t)  # then a unit column, else the unit in the headers
            rows = []
            for r in rows_t:
                conc = r["kind"] == "concentration"
                fmt = fmt_number if conc else (lambda x, u=unit: fmt_in(x, u))
                rows.append([Cell(r["name"]), *([Cell("µg/m³" if conc else unit.label)] if mixed else []), Cell(fmt(r["margin"]), r["margin"]),
                             Cell(fmt(r["margin_p5"]), r["margin_p5"]), Cell(fmt(r["margin_p50"]), r["margin_p50"]),
                             Cell(fmt(r["margin_p95"]), r["margin_p95"]), Cell(fmt_probability(r["probability"]), r["probability"]),
                             Cell(self.status(r["status"]))])
            hu = "" if mixed else unit.label
            blocks.append(self.table(
                "margin_ranges", self.t("目标余量的不确定性区间与达标概率", "Margin ranges and probability of meeting each target"),
                [Column(self.t("目标", "Target")), *([Column(self.t("单位", "Unit"))] if mixed else []),
                 Column(self.head(self.t("余量中心值", "Central margin"), hu) if hu else self.t("余量中心值", "Central margin"), True),
                 *[Column(self.head(q, hu) if hu else q, True) for q in ("P5", "P50", "P95")],
                 Column(self.t("达标概率", "P(met)"), True), Column(self.t("结论", "Verdict"))],
                rows, [self.t("P5、P50、P95 为样本的第5、50、95百分位数。", "P5, P50, P95: 5th, 50th and 95th percentiles over the samples.")],
            ))
        # reduction ranges for the targeted pollutants and years
        pairs = sorted({(r["pollutant"], r["year"]) for r in rows_t if r["pollutant"] in self.pollutants}, key=lambda x: (self.pollutants.index(x[0]), x[1])) if rows_t else \
            [(p, run.report_years[-1]) for p in self.pollutants]
        q = self._reduction_quantiles(pairs)
        if q:
            rows = []
            for (p, y), (central, p5, p50, p95) in q.items():
                unit_p = mass_unit([central, p5, p95], self.lang, per_year=True)
                rows.append([Cell(self.pol(p)), Cell(str(y)), Cell(unit_p.label), Cell(fmt_in(central, unit_p), central),
                             Cell(fmt_in(p5, unit_p), p5), Cell(fmt_in(p50, unit_p), p50), Cell(fmt_in(p95, unit_p), p95)])
            blocks.append(self.table(
                "reduction_ranges", self.t("总减排量的不确定性区间", "Ranges of the total reductions"),
                [Column(self.t("污染物", "Pollutant")), Column(self.t("年份", "Year")), Column(self.t("单位", "Unit")),
                 Column(self.t("中心值", "Central"), True), Column("P5", True), Column("P50", True), Column("P95", True)], rows,
            ))
        blocks.append(self._uncertain_inputs_table())
        if "margin_sample" in ds:
            from sim.reports.charts import margin_distribution

            for r in rows_t:
                cap = self.t(f"{r['name']}：余量的样本分布（达标概率 {fmt_probability(r['probability'])}）",
                             f"{r['name']}: distribution of the margin over the samples (P(met) {fmt_probability(r['probability'])})")
                blocks.append(self.figure(f"margin_{r['id']}", cap, f"margin_{r['id']}.png",
                                          lambda res, t=r["id"]: margin_distribution(res, t, self.lang), samples=True))
        return [*blocks, *self.sensitivity()]

    def sensitivity(self) -> list[Block]:
        """A tornado ranking per target, computed from the scenario when it reproduces the run;
        Sobol and Morris indices are not part of a run, and the text says so."""
        global_absent = self.t(
            "全局敏感性指数（Sobol、Morris）不属于运行结果，本附录未包含，需要时另行计算。",
            "Global sensitivity indices (Sobol, Morris) are not part of a run and are not included.",
        )
        rows_t = self.target_rows()
        model = self.model
        if not rows_t:
            return []
        from sim.analyses.sensitivity import tornado
        from sim.core.errors import ErsimError

        top = 5
        rows: list[list[Cell]] = []
        frames = []
        try:
            for r in rows_t:
                df = tornado(model, r["id"])
                if not math.isclose(float(df["margin_central"].iloc[0]), r["margin"], rel_tol=1e-6, abs_tol=1e-6):
                    raise ValueError("central margin differs from the run")
                frames.append((r, df))
        except (ErsimError, ValueError) as exc:
            return [Paragraph(self.t(f"龙卷风排序未能计算（{exc}）。", f"The tornado ranking could not be computed ({exc})."), "note"),
                    Paragraph(global_absent, "note")]
        unit = mass_unit([float(v) for r, df in frames if r["kind"] != "concentration"
                          for v in (*df["margin_at_low"][:top], *df["margin_at_high"][:top])], self.lang)
        mixed = any(r["kind"] == "concentration" for r, _ in frames)  # then a unit column, else the unit in the headers
        for r, df in frames:
            conc = r["kind"] == "concentration"
            fm: Any = fmt_number if conc else (lambda x, u=unit: fmt_in(x, u))
            ucell = [Cell("µg/m³" if conc else unit.label)] if mixed else []
            recs: list[Any] = [rec for rec in df.to_dict("records") if float(rec["swing"]) > 1e-9][:top]
            if not recs:
                rows.append([Cell(r["name"]), *ucell, Cell(DASH), Cell(self.t("各不确定输入对该目标余量均无影响", "no uncertain input moves this margin")),
                             Cell(DASH), Cell(DASH), Cell(DASH), Cell(DASH)])
            for k, rec in enumerate(recs):
                name = str(rec["input"])
                fmt: Any = fmt_pct if name.split(":")[0] in ("growth", "completion", "share") else fmt_sig
                unit_in = "" if fmt is fmt_pct else shown(model.params[name].unit)
                lo, hi, m_lo, m_hi, swing = (float(rec[c]) for c in ("low", "high", "margin_at_low", "margin_at_high", "swing"))
                rows.append([Cell(r["name"] if k == 0 else ""), *(ucell if k == 0 else [Cell("")] * len(ucell)), Cell(str(k + 1)),
                             Cell(self.input_label(name, str(rec["label"]))),
                             Cell(f"{fmt(lo)}～{fmt(hi)}" + (f" {unit_in}" if unit_in else "")),
                             Cell(fm(m_lo), m_lo), Cell(fm(m_hi), m_hi), Cell(fm(swing), swing)])
        return [
            Paragraph(self.t(
                "龙卷风排序：每次只把一个不确定输入取其下限或上限、其余输入取中心值，计算目标余量的变幅，按变幅排序（每项目标列前"
                f"{top}位，变幅为零的输入不列）。排序由本次运行记录的情景与系数补算，中心值余量与运行结果相同。",
                "Tornado ranking: one uncertain input at a time at its low or high end, the others central; inputs ranked by the swing of the target's margin "
                f"(top {top} per target; inputs with no swing left out). It is computed from the run's recorded inputs; the central margins equal the run's.",
            )),
            self.table("tornado", self.t("目标余量对不确定输入的敏感性（龙卷风排序）", "Sensitivity of the margins to the uncertain inputs (tornado ranking)"),
                       [Column(self.t("目标", "Target")), *([Column(self.t("单位", "Unit"))] if mixed else []),
                        Column(self.t("排序", "Rank")), Column(self.t("输入", "Input")),
                        Column(self.t("取值区间", "Range")),
                        *[Column(self.head(h, unit.label) if not mixed else h, True) for h in
                          (self.t("余量（取下限）", "Margin at low"), self.t("余量（取上限）", "Margin at high"), self.t("变幅", "Swing"))]], rows),
            Paragraph(global_absent, "note"),
        ]

    def input_label(self, param: str, label: str) -> str:
        """An uncertain input by name: a coefficient by its description, others as labelled."""
        kind, _, key = param.partition(":")
        return self.coef_name(key) if kind == "coef" else label

    def _reduction_quantiles(self, pairs: list[tuple[str, int]]) -> dict[tuple[str, int], tuple[float, float, float, float]]:
        ds = self.ds
        out: dict[tuple[str, int], tuple[float, float, float, float]] = {}
        for p, y in pairs:
            central = _f(ds["reduction_total"].sel(pollutant=p, year=y))
            if "reduction_total_sample" in ds:
                v = ds["reduction_total_sample"].sel(pollutant=p, year=y).values
                p5, p50, p95 = (float(x) for x in np.quantile(v, (0.05, 0.5, 0.95)))
            elif "reduction_total_q" in ds:
                v = ds["reduction_total_q"].sel(pollutant=p, year=y).values
                p5, p50, p95 = (float(x) for x in v)
            else:
                continue
            out[(p, y)] = (central, p5, p50, p95)
        return out

    def _uncertain_inputs_table(self) -> Table:
        model = self.model
        rows = []
        for p in model.params.values():
            if not p.uncertain or p.low is None or p.high is None:
                continue
            kind, _, key = p.name.partition(":")
            if kind == "coef":
                what = self.t("系数", "coefficient")
                label = self.coef_name(key)
                fmt: Any = fmt_sig
                unit = shown(p.unit)
            else:
                what = {"growth": self.t("增长率", "growth"), "completion": self.t("完成率", "completion"),
                        "share": self.t("覆盖比例", "covered share")}.get(kind, kind)
                label = p.label
                fmt, unit = fmt_pct, ""
            dist = {"triangular": self.t("三角分布", "triangular"), "uniform": self.t("均匀分布", "uniform"),
                    "lognormal": self.t("对数正态分布", "lognormal")}.get(p.distribution, p.distribution)
            rows.append([Cell(label), Cell(what), Cell(fmt(p.value)), Cell(fmt(p.low)), Cell(fmt(p.high)), Cell(unit or DASH), Cell(dist)])
        return self.table(
            "uncertain_inputs", self.t("不确定输入及其取值区间", "Uncertain inputs and their ranges"),
            [Column(self.t("输入", "Input")), Column(self.t("类别", "Kind")), Column(self.t("中心值", "Central"), True),
             Column(self.t("下限", "Low"), True), Column(self.t("上限", "High"), True), Column(self.t("单位", "Unit")),
             Column(self.t("分布", "Distribution"))],
            rows,
        )

    def comparison(self) -> list[Block]:
        runs = [self.run, *self.compare]
        letters = [chr(ord("A") + i) for i in range(len(runs))]
        blocks: list[Block] = []
        legend = []
        for letter, r in zip(letters, runs, strict=True):
            legend.append([Cell(letter + (self.t("（本方案）", " (this run)") if r is self.run else "")), Cell(r.scenario_name),
                           Cell(r.run_id), Cell(f"{r.samples:,}" if r.samples else self.t("确定性", "deterministic"))])
        blocks.append(self.table("compared_runs", self.t("参与比较的方案", "Runs compared"),
                                 [Column(self.t("方案", "Run")), Column(self.t("情景", "Scenario")), Column(self.t("运行编号", "Run id")),
                                  Column(self.t("样本数", "Samples"))], legend))
        ids: list[str] = []
        names: dict[str, str] = {}
        by_run: list[dict[str, dict[str, Any]]] = []
        for r in runs:
            tr = {row["id"]: row for row in self.target_rows(r)}
            by_run.append(tr)
            for tid, trow in tr.items():
                if tid not in ids:
                    ids.append(tid)
                    names[tid] = trow["name"]
        if not ids:
            blocks.append(Paragraph(self.t("各方案均未设目标。", "No run has targets.")))
            return blocks
        unit = mass_unit([trow["margin"] for tr in by_run for trow in tr.values() if trow["kind"] != "concentration"], self.lang)
        conc_ids = {tid for tr in by_run for tid, trow in tr.items() if trow["kind"] == "concentration"}
        mixed = bool(conc_ids)  # then a unit column, else the unit in the headers
        cols = [Column(self.t("目标", "Target")), *([Column(self.t("单位", "Unit"))] if mixed else [])]
        for letter in letters:
            head = self.t(f"方案{letter}余量", f"Margin {letter}")
            cols.append(Column(head if mixed else self.head(head, unit.label), True))
            cols.append(Column(self.t(f"方案{letter}结论", f"Verdict {letter}")))
        rows = []
        for tid in ids:
            row = [Cell(names[tid]), *([Cell("µg/m³" if tid in conc_ids else unit.label)] if mixed else [])]
            for tr in by_run:
                t = tr.get(tid)
                if t is None:
                    row += [Cell(DASH), Cell(self.t("未设此目标", "no such target"))]
                    continue
                verdict = self.status(t["status"])
                if "probability" in t:
                    verdict += f"（P = {fmt_probability(t['probability'])}）" if self.zh else f" (P = {fmt_probability(t['probability'])})"
                row += [Cell(fmt_number(t["margin"]) if tid in conc_ids else fmt_in(t["margin"], unit), t["margin"]), Cell(verdict)]
            rows.append(row)
        notes = [self.t("按目标编号对应；余量 = 实现减排量 − 要求减排量。", "Targets matched by id; margin = achieved − required.")]
        differ = [names[tid] for tid in ids
                  if len({(tr[tid]["pollutant"], tr[tid]["year"], tr[tid]["kind"], tr[tid]["value"]) for tr in by_run if tid in tr}) > 1]
        if differ:
            notes.append(self.t(f"以下目标在各方案中的定义（污染物、年份、类型或目标值）不同，余量不可直接比较：{self.join(differ)}。",
                                f"These targets are defined differently (pollutant, year, kind or value) across the runs, so their margins do not compare directly: {self.join(differ)}."))
        blocks.append(self.table("comparison_margins", self.t("各方案目标余量比较", "Target margins side by side"), cols, rows, notes))
        # total reductions of the targeted pollutant-years
        pairs: list[tuple[str, int]] = []
        for tr in by_run:
            for t in tr.values():
                if (t["pollutant"], t["year"]) not in pairs:
                    pairs.append((t["pollutant"], t["year"]))
        rrows = []
        for p, y in pairs:
            vals = []
            for r in runs:
                ok = p in [str(x) for x in r.ds["pollutant"].values] and y in [int(x) for x in r.ds["year"].values]
                vals.append(_f(r.ds["reduction_total"].sel(pollutant=p, year=y)) if ok else math.nan)
            u = mass_unit(vals, self.lang, per_year=True)
            rrows.append([Cell(self.pol(p)), Cell(str(y)), Cell(u.label)] + [Cell(fmt_in(v, u), None if math.isnan(v) else v) for v in vals])
        blocks.append(self.table("comparison_reductions", self.t("各方案总减排量比较", "Total reductions side by side"),
                                 [Column(self.t("污染物", "Pollutant")), Column(self.t("年份", "Year")), Column(self.t("单位", "Unit"))]
                                 + [Column(self.t(f"方案{x}", f"Run {x}"), True) for x in letters], rrows))
        return blocks

    def conclusion_sentence(self, r: dict[str, Any]) -> str:
        req, ach, m = r["required"], r["achieved"], r["margin"]
        verdict = self.status(r["status"])
        p = r.get("probability")
        why = self._at_risk_reason(r) if r["status"] == "at risk" else ""
        if r["kind"] == "concentration":
            c0, cp = r.get("concentration_base", math.nan), r.get("concentration_projected", math.nan)
            if self.zh:
                gap = f"余量{self.conc_text(m)}" if m >= 0 else f"超出目标{self.conc_text(-m)}"
                ptxt = f"，达标概率{fmt_probability(p)}" if p is not None else ""
                return (f"{r['name']}（{r['year']}年，{self.target_wording(r)}）：基准年浓度{self.conc_text(c0)}，"
                        f"按线性响应预计{r['year']}年浓度{self.conc_text(cp)}，{gap}{ptxt}{why}，结论为{verdict}"
                        f"（浓度按线性响应估算，仅计本地排放变化{'；清单缺少部分前体物，浓度下降可能被低估' if self.precursor_warnings() else ''}）。")
            gap = f"a margin of {self.conc_text(m)}" if m >= 0 else f"{self.conc_text(-m)} above the target"
            ptxt = f", P(met) {fmt_probability(p)}" if p is not None else ""
            return (f"{r['name']} ({r['year']}, {self.target_wording(r)}): base year {self.conc_text(c0)}, projected {self.conc_text(cp)} "
                    f"for {r['year']} by linear response, {gap}{ptxt}{why}. Verdict: {verdict} (linear response, local emissions only"
                    f"{'; precursors missing from the inventory, so the fall may be underestimated' if self.precursor_warnings() else ''}).")
        if self.zh:
            gap = f"余量{fmt_amount(m, 'zh')}" if m >= 0 else f"缺口{fmt_amount(-m, 'zh')}"
            ptxt = f"，达标概率{fmt_probability(p)}" if p is not None else ""
            return (f"{r['name']}（{self.pol(r['pollutant'])}，{r['year']}年，{self.target_wording(r)}）：要求减排{fmt_amount(req, 'zh')}，"
                    f"测算实现减排{fmt_amount(ach, 'zh')}，{gap}{ptxt}{why}，结论为{verdict}。")
        gap = f"a margin of {fmt_amount(m, 'en')}" if m >= 0 else f"a shortfall of {fmt_amount(-m, 'en')}"
        ptxt = f", P(met) {fmt_probability(p)}" if p is not None else ""
        return (f"{r['name']} ({self.pol(r['pollutant'])}, {r['year']}, {self.target_wording(r)}): required {fmt_amount(req, 'en')}, "
                f"achieved {fmt_amount(ach, 'en')}, {gap}{ptxt}{why}. Verdict: {verdict}.")

    def _at_risk_reason(self, r: dict[str, Any]) -> str:
        """Why a target is at risk, from the thresholds the scenario sets (empty when unknown)."""
        st = self.info.settings
        if st is None:
            return ""
        p = r.get("probability")
        if p is not None:
            if p >= st.met_probability:
                return self.t("（但中心值余量为负）", " (but the central margin is negative)")
            return self.t(f"（低于可达所需的{fmt_pct(st.met_probability)}）", f" (below the {fmt_pct(st.met_probability)} needed to be achievable)")
        if r["kind"] == "concentration":
            lim = self.conc_text(st.at_risk_margin * abs(r["required"]))
            return self.t(f"（余量小于{lim}，即基准年浓度与目标浓度之差的{fmt_pct(st.at_risk_margin)}）",
                          f" (a margin under {lim}, {fmt_pct(st.at_risk_margin)} of the gap between base-year and target concentration)")
        return self.t(f"（余量不足要求减排量的{fmt_pct(st.at_risk_margin)}）", f" (a margin under {fmt_pct(st.at_risk_margin)} of the requirement)")

    def conclusions(self) -> list[Block]:
        rows_t = self.target_rows()
        if not rows_t:
            return [Paragraph(self.t("情景未设目标，无可达性结论。", "No targets, hence no verdicts."))]
        counts = {s: sum(1 for r in rows_t if r["status"] == s) for s in ("met", "at risk", "not met")}
        blocks: list[Block] = [Paragraph(self.t(
            f"{len(rows_t)}项目标中，{counts['met']}项可达，{counts['at risk']}项存在风险，{counts['not met']}项不可达。",
            f"Of {len(rows_t)} targets, {counts['met']} achievable, {counts['at risk']} at risk, {counts['not met']} not achievable.",
        ))]
        blocks.append(Bullets([self.conclusion_sentence(r) for r in rows_t]))
        if any(r["kind"] == "concentration" for r in rows_t):
            blocks.append(Paragraph(self.t("注：", "Note: ") + self.concentration_caveat(), "note"))
            for w in self.precursor_warnings():
                blocks.append(Paragraph(self.t("注意：", "Warning: ") + w, "note"))
        weak = [r for r in rows_t if r["status"] != "met"]
        if weak:
            blocks.append(Subheading(self.t("未达标与存在风险目标的原因与对策", "Targets not met or at risk: why, and what would close them")))
            for r in weak:
                blocks.append(Paragraph(self.reviewer_paragraph(r)))
        prov = self.scen.provenance
        if isinstance(prov, dict) and str(prov.get("status")) == "illustrative":
            blocks.append(Paragraph(self.t("注：基准清单为示意清单（情景文件所述），以上结论只表示该清单假设下的测算结果。",
                                           "Note: the inventory is illustrative (as the scenario states); the verdicts hold for its assumptions only."), "note"))
        return blocks

    # ---- what a reviewer needs for a target that is not met -----------------------------------
    def reviewer_paragraph(self, r: dict[str, Any]) -> str:
        """For an unmet or at-risk target: the gap, the measures that carry it, what would close it,
        the compared alternatives and the caveats that bear on it."""
        if r["kind"] == "concentration":
            parts = [self.t(f"{r['name']}：", f"{r['name']}: ") + self.concentration_gap(r), *self.concentration_closing(r)]
        else:
            parts = [self.t(f"{r['name']}：", f"{r['name']}: ") + self.gap_text(r)]
            carried = self.carriers(r)
            if carried:
                parts.append(carried)
            parts.append(self.closing_text(r))
        parts.extend(self.compare_effect(r))
        parts.extend(self.caveats(r))
        if not self.zh:  # each part a sentence
            parts = [p[:1].upper() + p[1:] for p in parts]
        sep = "" if self.zh else " "
        return sep.join(p if p.endswith(("。", ".")) else p + self.t("。", ".") for p in parts)

    def concentration_gap(self, r: dict[str, Any]) -> str:
        """A concentration target's gap in µg/m³, with base, projected and target concentration."""
        p = r.get("probability")
        ptxt = self.t(f"，达标概率{fmt_probability(p)}", f", P(met) {fmt_probability(p)}") if p is not None else ""
        c0, cp, ct = (r.get(k, math.nan) for k in ("concentration_base", "concentration_projected", "concentration_target"))
        m = r["margin"]
        what = self.t(f"缺口{-m:.1f} µg/m³" if m < 0 else f"余量{m:.1f} µg/m³", f"shortfall {-m:.1f} µg/m³" if m < 0 else f"margin {m:.1f} µg/m³")
        return what + self.t(f"（基准年{c0:.1f}、预计{cp:.1f}、目标{ct:.1f} µg/m³）{ptxt}",
                             f" (base {c0:.1f}, projected {cp:.1f}, target {ct:.1f} µg/m³){ptxt}")

    def concentration_closing(self, r: dict[str, Any]) -> list[str]:
        """Which precursors move the concentration, and how much more of the most effective one
        (by the stated linear response) would close the gap."""
        ds, tid, year = self.ds, r["id"], int(r["year"])
        if "concentration_change" not in ds:
            return []
        change = ds["concentration_change"].sel(target=tid)
        moves, alphas = [], []
        for pol, dc in zip((str(x) for x in change["precursor"].values), (float(v) for v in change.values), strict=True):
            if not math.isfinite(dc) or pol not in self.pollutants:
                continue
            de = _f(self.ds["emissions_total"].sel(pollutant=pol, year=self.run.base_year)) - _f(self.ds["emissions_total"].sel(pollutant=pol, year=year))
            if abs(dc) > 1e-12:
                moves.append(self.t(f"{self.pol(pol)}{dc:+.2f} µg/m³", f"{self.pol(pol)} {dc:+.2f} µg/m³"))
            if de > 0 and dc < 0:
                alphas.append((-dc / de, pol, de))
        out = []
        if moves:
            out.append(self.t(f"按线性响应，浓度变化来自{self.join(moves)}", f"by the linear response the change comes from {self.join(moves)}"))
        level, meaning = self._need(r)
        need_c = level - r["margin"]  # µg/m³ of further fall needed
        head = self.t(f"弥补途径（使{meaning}）：", f"What would close it ({meaning}): ")
        if need_c <= 0:
            return out
        left = {p: _f(self.ds["emissions_total"].sel(pollutant=p, year=year)) for _a, p, _d in alphas}  # t/a still emitted
        alpha, pol, de = max(alphas) if alphas else (0.0, "", 0.0)  # the most effective precursor
        if alphas and need_c / alpha > left[pol]:
            # more than the most effective precursor still emits: what cutting all that is left would do
            most = sum(a * left[p] for a, p, _d in alphas)  # µg/m³, every counted precursor cut to zero
            names = self.join([self.pol(p) for _a, p, _d in alphas])
            # precursors whose effect per tonne this run cannot give (not in the inventory, not in the
            # response table, or not cut by any measure): local cuts of those may still close the gap
            others = [p for p in PRECURSORS if p not in {q for _a, q, _d in alphas}]
            if most < need_c and others:
                other_names = self.join([self.pol(p) for p in others])
                out.append(head + self.t(
                    f"仅削减{names}不够：即使其{year}年的剩余排放全部削减，按线性响应浓度也只能再降约{most:.1f} µg/m³，"
                    f"小于{need_c:.1f} µg/m³的缺口；其余前体物（{other_names}）的作用本情景无法估算（清单未计入、响应表未给出或现有措施未削减），"
                    "需补充其排放与响应后再评估，并考虑区域联防联控，以空气质量模型复核",
                    f"cutting {names} is not enough: even cutting all that is left of them in {year}, the linear response gives "
                    f"about {most:.1f} µg/m³ more fall, less than the {need_c:.1f} µg/m³ gap; the effect of the other precursors "
                    f"({other_names}) cannot be estimated here (not in the inventory or the response table, or not cut by any measure): "
                    "add their emissions and response and assess again, with regional joint control, checked with an air-quality model"))
            elif most < need_c:
                out.append(head + self.t(
                    f"本地减排无法单独弥补：即使把{names}在{year}年的剩余排放全部削减，按线性响应浓度也只能再降约{most:.1f} µg/m³，"
                    f"小于{need_c:.1f} µg/m³的缺口；需区域联防联控，并以空气质量模型复核",
                    f"local cuts cannot close it alone: even cutting all of {names} still emitted in {year}, the linear response gives "
                    f"about {most:.1f} µg/m³ more fall, less than the {need_c:.1f} µg/m³ gap; regional joint control is needed, "
                    "checked with an air-quality model"))
            else:
                out.append(head + self.t(
                    f"单削减{self.pol(pol)}不够（其{year}年剩余排放仅{_grouped(fmt_sig(left[pol], 3))}吨/年）；需同时削减多种前体物："
                    f"按线性响应，{names}的剩余排放全部削减可再降约{most:.1f} µg/m³，超出线性响应的适用范围时应以空气质量模型复核",
                    f"cutting {self.pol(pol)} alone is not enough (only {fmt_sig(left[pol], 3)} t/a is left in {year}); several precursors "
                    f"must be cut: by the linear response, cutting all that is left of {names} gives about {most:.1f} µg/m³ more fall; "
                    "an air-quality model where the change exceeds the linear response's range"))
        elif alphas:
            extra = need_c / alpha
            out.append(head + self.t(
                f"按同一线性响应，需在现有措施之外再削减{self.pol(pol)}约{_grouped(fmt_sig(extra, 3))}吨/年"
                f"（为现有{self.pol(pol)}减排量{_grouped(fmt_sig(de, 3))}吨/年的{extra / de:.1f}倍），或等效削减其他前体物；"
                "本地减排不足部分需区域联防联控，超出线性响应的适用范围时应以空气质量模型复核",
                f"by the same linear response, about {fmt_sig(extra, 3)} t/a more {self.pol(pol)} reduction beyond the measures "
                f"({extra / de:.1f} times the present {fmt_sig(de, 3)} t/a), or the equivalent from other precursors; beyond local cuts, "
                "regional joint control, and an air-quality model where the change exceeds the linear response's range"))
        else:
            out.append(head + self.t("情景中的措施不削减任何已计入的前体物，需增加削减二氧化硫、氮氧化物、氨、挥发性有机物或一次PM2.5的措施",
                                     "no measure reduces a precursor that is counted; measures on SO2, NOx, NH3, VOCs or primary PM2.5 are needed"))
        return out

    def gap_text(self, r: dict[str, Any]) -> str:
        p = r.get("probability")
        ptxt = self.t(f"，达标概率{fmt_probability(p)}", f", P(met) {fmt_probability(p)}") if p is not None else ""
        if r["margin"] < 0:
            return self.t(f"缺口{fmt_amount(-r['margin'], 'zh')}{ptxt}", f"shortfall {fmt_amount(-r['margin'], 'en')}{ptxt}")
        return self.t(f"中心值余量{fmt_amount(r['margin'], 'zh')}{ptxt}", f"central margin {fmt_amount(r['margin'], 'en')}{ptxt}")

    def _acting(self, pollutant: str, year: int) -> list[tuple[str, float]]:
        """(measure, reduction in t/a) of the measures that reduce *pollutant* in *year*, largest first."""
        red = self.ds["reduction"].sel(pollutant=pollutant, year=year)
        pairs = [(m, _f(red.sel(measure=m))) for m in self.measures]
        return sorted([(m, v) for m, v in pairs if v > 1e-9], key=lambda x: -x[1])

    def carriers(self, r: dict[str, Any]) -> str:
        acting = self._acting(r["pollutant"], r["year"])
        if not acting:
            return self.t(f"情景中没有削减{self.pol(r['pollutant'])}的措施", f"no measure in the scenario reduces {self.pol(r['pollutant'])}")
        total = sum(v for _, v in acting)
        items = [self.t(f"{self.coord('measure_name', m, 'measure')}{fmt_amount(v, 'zh')}（{fmt_pct(v / total, 0)}）",
                        f"{self.coord('measure_name', m, 'measure')} {fmt_amount(v, 'en')} ({fmt_pct(v / total, 0)})")
                 for m, v in acting[:3]]
        more = self.t(f"等{len(acting)}项措施", f" and {len(acting) - 3} more") if len(acting) > 3 else ""
        return self.t(f"{r['year']}年减排主要来自{self.join(items)}{more}",
                      f"its {r['year']} reductions come mainly from {self.join(items)}{more}")

    def _need(self, r: dict[str, Any]) -> tuple[float, str]:
        """(central margin to reach, in t; what reaching it means) for a target not met.

        Under samples the spread of the margin is taken as unchanged: the central margin has to
        rise by as much as the (1 − met probability) quantile lies below zero.
        """
        st = self.settings
        if r.get("probability") is not None:
            if "margin_sample" in self.ds:
                lo = float(np.quantile(self.ds["margin_sample"].sel(target=r["id"]).values, 1 - float(st.met_probability)))
                return max(r["margin"] - lo, 0.0), self.t(f"达标概率约达到{fmt_pct(st.met_probability)}", f"a P(met) of about {fmt_pct(st.met_probability)}")
            if "margin_p5" in r:
                return max(r["margin"] - r["margin_p5"], 0.0), self.t("第5百分位余量不小于零", "a 5th-percentile margin of zero")
        if r["margin"] < 0:
            return 0.0, self.t("余量达到零", "a margin of zero")
        return float(st.at_risk_margin) * r["required"], self.t(f"余量达到要求减排量的{fmt_pct(st.at_risk_margin)}",
                                                                f"a margin of {fmt_pct(st.at_risk_margin)} of the requirement")

    def _levers(self, mid: str) -> list[tuple[str, float, float, str, str]]:
        """What of measure *mid* can grow: (sweep path, current, upper bound, unit, label)."""
        m = {x.id: x for x in self.scen.measures}.get(mid)
        if m is None:
            return []
        out: list[tuple[str, float, float, str, str]] = []
        if m.quantity is not None:
            from sim.core.units import parse_quantity

            q = parse_quantity(m.quantity)
            q0 = float(q.magnitude)
            if q0 > 0:
                out.append((f"measures.{mid}.quantity", q0, 0.0, shown(f"{q.units:~}"), self.t("工程量", "quantity")))
        for field, label in (("share", self.t("覆盖比例", "covered share")), ("completion", self.t("完成率", "completion"))):
            p = self.model.params.get(f"{field}:{mid}")
            if p is not None and p.value < 1 - 1e-9:
                out.append((f"measures.{mid}.{field}", float(p.value), 1.0, "", label))
        return out

    def _sweep_line(self, path: str, x0: float, hi: float, target: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(values, central margins) of *target* with the input at *path* from *x0* to *hi*; None
        when *hi* is beyond what the input can take (a quantity larger than its source pool)."""
        from sim.analyses.sweep import parse_set, sweep
        from sim.core.errors import ErsimError

        try:
            ds = sweep(self.model, [parse_set(self.model, f"{path}={x0!r}:{hi!r}:81")])
        except ErsimError:
            return None
        return ds[path].values.astype(float), ds["margin"].sel(target=target).values.astype(float)

    def _break_even(self, path: str, x0: float, top: float, target: str, level: float) -> tuple[float | None, float, float]:
        """(value of the input at which the target's central margin reaches *level*, or None; the
        largest value tried; the margin there). Quantities are tried up to 4× the plan, or up to
        the most their source pool can take (found by bisection)."""
        hi = top if top > 0 else 4.0 * x0
        line = self._sweep_line(path, x0, hi, target)
        if line is None and top <= 0:
            ok, bad = x0, hi
            for _ in range(8):
                mid = (ok + bad) / 2
                if self._sweep_line(path, x0, mid, target) is None:
                    bad = mid
                else:
                    ok = mid
            hi = ok
            line = self._sweep_line(path, x0, hi, target) if hi > x0 * (1 + 1e-6) else None
        if line is None:
            return None, x0, math.nan
        xs, ms = line
        reached = np.nonzero(ms >= level - 1e-9)[0]
        if not len(reached):
            return None, float(xs[-1]), float(ms[-1])
        i = int(reached[0])
        if i == 0:
            return x0, float(xs[-1]), float(ms[-1])
        y0, y1 = ms[i - 1] - level, ms[i] - level
        return float(xs[i - 1] + (xs[i] - xs[i - 1]) * (-y0 / (y1 - y0))), float(xs[-1]), float(ms[-1])

    def closing_text(self, r: dict[str, Any]) -> str:
        """What would close the gap: how much more of the measures that already act on it
        (break-even of each measure's quantity, covered share or completion, the others as planned)."""
        level, meaning = self._need(r)
        head = self.t(f"弥补途径（使{meaning}）：", f"What would close it ({meaning}): ")
        if r["kind"] not in ("reduction_percent", "reduction_amount", "cap"):
            return head + self.t("需增加对该指标有效的减排措施", "measures that act on this indicator")
        options: list[str] = []
        best: tuple[float, str] | None = None
        for mid, _ in self._acting(r["pollutant"], r["year"]):
            name = self.coord("measure_name", mid, "measure")
            for path, x0, top, unit, label in self._levers(mid):
                xb, x_hi, m_hi = self._break_even(path, x0, top, r["id"], level)
                qty = path.endswith(".quantity")
                if xb is None:
                    if math.isfinite(m_hi) and x_hi > x0 and (best is None or m_hi > best[0]):
                        reach = (self.t(f"{name}{label}增至{_grouped(fmt_sig(x_hi, 3))}{unit}", f"{name} at {fmt_sig(x_hi, 3)} {unit}") if qty else
                                 self.t(f"{name}{label}提高到{fmt_pct(x_hi, 0)}", f"{name} {label} at {fmt_pct(x_hi, 0)}"))
                        best = (m_hi, reach)
                    continue
                if qty:
                    dq = xb - x0
                    options.append(self.t(f"{name}新增{label}约{_grouped(fmt_sig(dq, 3))}{unit}（由{_grouped(fmt_sig(x0, 4))}{unit}增至约{_grouped(fmt_sig(xb, 3))}{unit}）",
                                          f"{name}: about {fmt_sig(dq, 3)} {unit} more (from {fmt_sig(x0, 4)} to about {fmt_sig(xb, 3)} {unit})"))
                else:
                    options.append(self.t(f"{name}{label}由{fmt_pct(x0)}提高到约{fmt_pct(xb, 0)}",
                                          f"{name}: {label} from {fmt_pct(x0)} to about {fmt_pct(xb, 0)}"))
                break
            if len(options) >= 2:
                break
        least = self.least_cost_text(r)
        if options:
            return head + self.t(f"以下任一项（其余措施按计划）：{'；'.join(options)}",
                                 f"any one of (the other measures as planned): {'; '.join(options)}") + least
        text = self.t(
            f"现有措施单独加码（工程量至多增至4倍且不超过源类规模，完成率与覆盖比例至多100%）均不足以弥补，需增加新的{self.pol(r['pollutant'])}减排措施或调整目标",
            f"no single existing measure closes it (up to 4× its quantity within its source pool, completion and share up to 100%); "
            f"new {self.pol(r['pollutant'])} measures or a revised target are needed")
        if best is not None:
            m_hi, reach = best
            gap = self.t(f"余量{fmt_amount(m_hi, 'zh')}" if m_hi >= 0 else f"缺口仍有{fmt_amount(-m_hi, 'zh')}",
                         f"margin {fmt_amount(m_hi, 'en')}" if m_hi >= 0 else f"still {fmt_amount(-m_hi, 'en')} short")
            text += self.t(f"（效果最大的一项：{reach}时中心值{gap}）", f" (the most any one does: {reach}, central {gap})")
        return head + text + least

    def _least_cost(self) -> Any:
        """The least-cost solve of the run's scenario (once), when its measures carry costs."""
        if not hasattr(self, "_solved"):
            self._solved: Any = None
            if self.model.unit_cost:
                from sim.analyses.solve import solve
                from sim.core.errors import ErsimError

                try:
                    self._solved = solve(self.scen, self.model.library, time_limit=30.0)
                except ErsimError:
                    self._solved = None
        return self._solved

    def least_cost_text(self, r: dict[str, Any]) -> str:
        """The least-cost mix that meets every target, where the scenario's measures carry costs."""
        res = self._least_cost()
        if res is None:
            return ""
        sep = self.t("；", "; ")
        if not res.feasible:
            i = res.targets.index(r["id"]) if r["id"] in res.targets else None
            short = float(res.shortfall[i]) if i is not None else 0.0
            return sep + self.t(f"按最低成本求解，全部带成本的候选措施用足潜力仍不能同时满足各项目标（本目标仍缺约{fmt_amount(short, 'zh')}）",
                                f"the least-cost solve finds the costed candidates cannot meet every target even at full potential (this one still {fmt_amount(short, 'en')} short)")
        names = dict(zip(self.model.measures, self.model.measure_names, strict=True))
        level0 = {self.model.measures[j]: v for j, v in self.model.decision_level.items()}
        moves = []
        for mid, lv, unit in zip(res.measures, res.level, res.unit, strict=True):
            x0 = float(level0.get(mid, 0.0))
            if abs(float(lv) - x0) > 1e-6 * max(1.0, abs(x0)):
                u = shown(unit)
                if u in ("", "1", "dimensionless"):  # a covered share
                    a, b = fmt_pct(x0, 0), fmt_pct(float(lv), 0)
                else:
                    a, b = _grouped(fmt_sig(x0, 3)), _grouped(fmt_sig(float(lv), 3)) + (u if self.zh else f" {u}")
                moves.append(self.t(f"{names.get(mid, mid)}{a}→{b}", f"{names.get(mid, mid)} {a} → {b}"))
        if not moves:
            return ""
        cost = float(res.cost)
        return sep + self.t(f"按最低成本组合（年化成本约{fmt_sig(cost / 1e4, 3)}万元/年，同时满足全部目标）：{self.join(moves)}",
                            f"least-cost mix meeting every target (about {fmt_sig(cost / 1e4, 3)} 10k CNY/a): {self.join(moves)}")

    def compare_effect(self, r: dict[str, Any]) -> list[str]:
        out = []
        for i, other in enumerate(self.compare):
            rows = {x["id"]: x for x in self.target_rows(other)}
            o = rows.get(r["id"])
            letter = chr(ord("B") + i)
            if o is None:
                out.append(self.t(f"比较方案{letter}（{other.scenario_name}）未设此目标", f"alternative {letter} ({other.scenario_name}) has no such target"))
                continue
            p = o.get("probability")
            ptxt = self.t(f"，达标概率{fmt_probability(p)}", f", P(met) {fmt_probability(p)}") if p is not None else ""
            m = o["margin"]
            mt = self.t(f"余量{fmt_amount(m, 'zh')}" if m >= 0 else f"缺口{fmt_amount(-m, 'zh')}",
                        f"margin {fmt_amount(m, 'en')}" if m >= 0 else f"shortfall {fmt_amount(-m, 'en')}")
            out.append(self.t(f"比较方案{letter}（{other.scenario_name}）下该目标{mt}{ptxt}，结论为{self.status(o['status'])}",
                              f"under alternative {letter} ({other.scenario_name}): {mt}{ptxt}, {self.status(o['status'])}"))
        return out

    def caveats(self, r: dict[str, Any]) -> list[str]:
        """Caveats that bear on this target: pollutants some measures cannot count, unverified
        coefficients behind its measures, growth in a reduction_percent target, the PM2.5 response."""
        out: list[str] = []
        p = r["pollutant"]
        missing = [m for m in self.measures if self._lacks_factor(m, p)]
        if missing:
            names = self.join([self.coord("measure_name", m, "measure") for m in missing])
            out.append(self.t(f"提示：{names}作用的源类缺少{self.pol(p)}排放系数，其{self.pol(p)}减排未计入，实际减排量可能被低估",
                              f"caveat: the pools {names} acts on have no {self.pol(p)} factor, so its {self.pol(p)} reductions are not counted (an underestimate)"))
        if r["kind"] == "reduction_percent":
            grown = _f(self.ds["baseline_total"].sel(pollutant=p, year=r["year"])) - _f(self.ds["emissions_total"].sel(pollutant=p, year=self.run.base_year))
            if grown > 0:
                out.append(self.t(f"提示：该目标较基准年考核，{r['year']}年新增量{fmt_amount(grown, 'zh')}抵消了同等减排量",
                                  f"caveat: measured against the base year, {r['year']} growth of {fmt_amount(grown, 'en')} offsets as much reduction"))
        if p.upper().startswith("PM25") or r["kind"] == "concentration":
            out.append(self.t("提示：PM2.5浓度按前体物排放的线性响应估算，大幅减排时误差增大",
                              "caveat: PM2.5 concentrations follow a linear response to precursor emissions, less accurate for large cuts"))
        return out

    def _lacks_factor(self, mid: str, pollutant: str) -> bool:
        """A measure on a wastewater pool that has factors for other water pollutants but none for
        *pollutant*: its effect on *pollutant* is not counted (the library lacks the factor)."""
        water = {"COD", "NH3N", "TN", "TP"}
        if pollutant not in water or pollutant not in self.pollutants:
            return False
        pool = self.coord("measure_pool", mid, "measure")
        base = self.ds["baseline"].sel(pool=pool, year=self.run.base_year)
        has = {p for p in self.pollutants if _f(base.sel(pollutant=p)) > 0}
        return pollutant not in has and bool(has & water)

    def _users(self, key: str, short: bool = False) -> str:
        """The measures (or, for an emission factor, the source pools) a coefficient is used by;
        *short*: measures by their number in the measures table (措施3)."""
        if short:
            mnames = {m: self.t(f"措施{i + 1}", f"measure {i + 1}") for i, m in enumerate(self.measures)}
        else:
            mnames = dict(zip(self.measures, (self.coord("measure_name", m, "measure") for m in self.measures), strict=True))
        pnames = dict(zip((str(x) for x in self.ds["pool"].values), (str(x) for x in self.ds["pool_name"].values), strict=True))
        users = self.model.coefficient_uses.get(key, [])
        out: list[str] = []
        for u in users:
            kind, _, ident = u.partition(" ")
            label = mnames.get(ident) if kind == "measure" else pnames.get(ident) if kind == "pool" else None
            if label and label not in out:
                out.append(label)
        if not out:
            lib = self.model.library
            derived = [k for k in self.model.coefficient_uses if key != k and k in lib and key in lib.dependencies(k)]
            if derived:
                return self.t("派生系数的计算依据", "base of derived coefficients")
        return self.join(out) if out else DASH

    def annex(self) -> list[Block]:
        man, run = self.run.manifest, self.run
        blocks: list[Block] = [Subheading(self.t("（一）所用系数及来源", "Coefficients used, with sources"))]
        keys = list((man.get("coefficients_used") or {}).keys())
        extra = [k for k in self.model.base_keys() if k not in keys]
        for k in (man.get("coefficient_overrides") or {}):
            if k not in keys and k not in extra:
                extra.append(k)
        rows = []
        for i, k in enumerate(keys + extra):
            value, unit, basis, source, desc = self._coef_value(k)
            rows.append([Cell(str(i + 1)), Cell(desc or DASH), Cell(value), Cell(unit or DASH), Cell(basis or DASH),
                         Cell(self._users(k, short=True)), Cell(source or DASH)])
        mlabel = self.labels.get("measures", "")
        notes = [self.t(f"“用于”一栏：措施按{mlabel}序号，排放系数列其源类。依据类别：已核实、标准、推导、工程估算、未核实；“情景设定”为情景对系数库取值的覆盖。",
                        f"“Used by”: measures by their number in {mlabel}, emission factors by their source pool. "
                        "Basis: verified, standard, derived, engineering estimate, unverified; a scenario value overrides the library.")]
        if extra and keys:
            notes.append(self.t("前列为运行直接使用的系数，其后为派生系数所依据的基础系数与情景设定值。",
                                "First the coefficients the run used directly, then the base coefficients they are derived from and the scenario's own values."))
        blocks.append(self.table("coefficients", self.t("所用系数及来源", "Coefficients used, with sources"),
                                 [Column(self.t("序号", "No.")), Column(self.t("系数", "Coefficient")), Column(self.t("取值", "Value"), True),
                                  Column(self.t("单位", "Unit")), Column(self.t("依据类别", "Basis")), Column(self.t("用于", "Used by")),
                                  Column(self.t("来源", "Source"))], rows, notes))
        blocks.append(Subheading(self.t("（二）运行清单", "Run manifest")))
        st = man.get("settings") or {}
        attribution = str(st.get("attribution") or "")
        rule = str(st.get("credit_rule") or "")
        items: list[tuple[str, str]] = [
            (self.t("运行编号", "Run id"), run.run_id),
            (self.t("生成时间", "Created"), str(man.get("created", DASH))),
            (self.t("ersim 版本", "ersim version"), str(man.get("ersim_version", DASH))),
            (self.t("情景", "Scenario"), f"{run.scenario_name}（{run.scenario_id}）" if self.zh else f"{run.scenario_name} ({run.scenario_id})"),
            (self.t("情景文件", "Scenario file"), str(man.get("scenario_file") or DASH)),
            (self.t("情景文件 SHA-256", "Scenario SHA-256"), str(man.get("scenario_sha256") or DASH)),
            (self.t("清单文件", "Inventory file"), str(man.get("inventory_file") or self.t("情景内嵌", "inline in the scenario"))),
            (self.t("清单文件 SHA-256", "Inventory SHA-256"), str(man.get("inventory_sha256") or DASH)),
            (self.t("归因方法", "Attribution"), self.attribution_text(attribution) if attribution else DASH),
            (self.t("首年计入规则", "First-year credit rule"), self.credit_rule_text(rule) if rule else DASH),
            (self.t("样本数", "Samples"), str(st.get("samples", run.samples))),
            (self.t("随机种子", "Seed"), str(st.get("seed", run.ds.attrs.get("seed", DASH)))),
        ]
        for name, h in (man.get("coefficient_tables") or {}).items():
            items.append((self.t(f"系数表 {name} SHA-256", f"Coefficient table {name} SHA-256"), str(h)))
        blocks.append(self.table("manifest", self.t("运行清单（复现所需信息）", "Run manifest (what reproduces the run)"),
                                 [Column(self.t("项目", "Item")), Column(self.t("内容", "Value"))], [[Cell(a), Cell(b)] for a, b in items]))
        blocks.append(Paragraph(self.t(
            "以相同的情景、清单、系数表（哈希见上表）与上列设置（样本数、随机种子、归因方法）重新运行，给出与本附录相同的数值。",
            "Re-running with the same scenario, inventory and coefficient tables (hashes above) and the settings listed (samples, seed, attribution) gives the numbers of this appendix."), "note"))
        warnings = man.get("warnings") or []
        if warnings:
            blocks.append(Paragraph(self.t("运行提示：", "Run warnings:")))
            blocks.append(Bullets([self.warning_text(str(w)) for w in warnings]))
        return blocks

    def attribution_text(self, attribution: str) -> str:
        if attribution == "shapley":
            return self.t("Shapley 归因（与措施顺序无关）", "Shapley attribution (independent of the order of measures)")
        return self.t("顺序归因（按措施列出顺序依次计入）", "sequential attribution (in listed order)")

    def credit_rule_text(self, rule: str) -> str:
        rules = {"next_month": self.t("投运当年自稳定运行次月起按月折算", "in the commissioning year, credit from the month after stable operation"),
                 "same_month": self.t("投运当年自稳定运行当月起按月折算", "in the commissioning year, credit from the month of stable operation"),
                 "full_year": self.t("投运当年全年计入", "the whole commissioning year is credited")}
        return rules.get(rule, rule)

    def warning_text(self, text: str) -> str:
        """A run warning as the appendix states it: in its language, coefficient keys by name."""
        text = self._language_of(text)
        if not self.zh:
            return text
        return _KEY.sub(lambda m: self.coef_name(m.group(0)), text)

    # ---- the whole appendix ------------------------------------------------------------------
    def build(self) -> Appendix:
        plan: list[tuple[str, str, str, Any]] = [
            ("basics", "基本情况", "Overview", self.basics),
            ("growth", "新增量预测", "Growth and new emissions", self.growth),
            ("measures", "减排措施清单", "Measures", self.measures_section),
            ("reductions", "减排量测算", "Reductions", self.reductions),
            ("targets", "目标可达性分析", "Target feasibility", self.targets_section),
            ("uncertainty", "不确定性与敏感性", "Uncertainty and sensitivity", self.uncertainty),
            ("comparison", "情景比较", "Scenario comparison", self.comparison),
            ("conclusions", "结论", "Conclusions", self.conclusions),
            ("annex", "附表", "Annex tables", self.annex),
        ]
        if not self.compare:
            plan = [p for p in plan if p[0] != "comparison"]
        sections = []
        for i, (key, zh, en, fn) in enumerate(plan):
            heading = f"{_ZH_NUM[i]}、{zh}" if self.zh else f"{i + 1}. {en}"
            sections.append(Section(key, heading, fn()))
        title = self.t("目标可达性分析", "Target feasibility analysis")
        meta = {
            "run_id": self.run.run_id, "scenario_id": self.run.scenario_id, "scenario": self.run.scenario_name,
            "compare": [r.run_id for r in self.compare], "samples": self.run.samples,
        }
        return Appendix(self.lang, title, self.run.scenario_name, sections, meta)


def build_content(run: RunData, info: ScenarioInfo, lang: str = "zh", compare: Sequence[RunData] = (),
                  figures: FigureSource | None = None) -> Appendix:
    """The appendix of *run* (and its alternatives *compare*) in *lang* (``zh`` or ``en``)."""
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}; valid: {', '.join(LANGS)}")
    return _Builder(run, info, lang, compare, figures).build()
