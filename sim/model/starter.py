"""``ersim init``: a commented starter scenario and an inventory template for a new city."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from sim.core.errors import InputError, Problem

__all__ = ["INVENTORY_HEADER", "scenario_id", "write_starter"]

# bilingual headers: the inventory reader takes the ASCII word of each
INVENTORY_HEADER = [
    "源类编号 id", "名称 name", "行业 sector", "活动水平 activity", "单位 unit", "年增长率 growth",
    "增长率下限 growth_low", "增长率上限 growth_high", "数据来源 source",
    "排放系数 ef:SO2", "排放系数 ef:NOx", "排放系数 ef:PM", "排放系数 ef:CO2",
    "基准年排放量(吨/年) emissions:COD", "基准年排放量(吨/年) emissions:NH3N",
]
_ROWS = [
    ["boiler.coal.industrial", "工业燃煤锅炉", "工业", "500", "蒸吨", "0", "-0.02", "0.01",
     "示例：请填本市锅炉台账合计蒸吨数及来源",
     "boiler_coal_industrial_so2_per_steam_ton", "boiler_coal_industrial_nox_per_steam_ton",
     "boiler_coal_industrial_pm_per_steam_ton", "boiler_coal_industrial_co2_per_steam_ton", "", ""],
    ["boiler.gas.industrial", "工业燃气锅炉", "工业", "0", "蒸吨", "0", "", "",
     "示例：现有燃气锅炉蒸吨数", "boiler_gas_industrial_so2_per_steam_ton", "boiler_gas_industrial_nox_per_steam_ton",
     "", "boiler_gas_industrial_co2_per_steam_ton", "", ""],
    ["sewage.urban", "城镇生活污水", "污水", "", "", "0.01", "", "",
     "示例：请填环境统计或排污许可执行报告中的排放量", "", "", "", "", "5000", "500"],
]

_SCENARIO = """\
# {name_line} — 减排措施可达性评估 (starter scenario written by `ersim init`)
#
# 1. Fill inventories/{slug}-{base}.csv (or .xlsx): one row per pool (源类), with the base-year
#    activity and either emission-factor keys from the coefficient library
#    (`ersim coefficients list --domain boilers`) or base-year emissions in t/a.
#    The example rows are placeholders: replace them and name each number's source.
# 2. List the plan's measures and targets below, each with the plan's wording in `source`.
# 3. `ersim run {file}` prints the reductions and target margins.
name: {title_yaml}
id: {slug_yaml}
region: {name_yaml}
base_year: {base}
years: [{y1}, {y2}]
provenance:
  status: draft   # say 'illustrative' if any number is assumed, and where every number comes from
inventory: inventories/{slug}-{base}.csv

measures:
  # 淘汰燃煤锅炉 / 煤改气: coal boiler capacity switched to gas (same steam capacity)
  - id: coal-to-gas
    name: 燃煤锅炉煤改气
    category: 能源结构
    type: switch
    pool: boiler.coal.industrial
    to: boiler.gas.industrial
    quantity: 100 蒸吨
    commissioned: {y1}-06          # credit from the month after stable operation
    completion: [0.8, 1.0]         # uncertain completion rate
    source: 示例：方案第X条

  # 污水处理厂提标 (一级B -> 一级A) on part of the treated flow
  - id: wwtp-upgrade
    name: 污水处理厂提标改造
    category: 水
    type: treat
    pool: sewage.urban
    quantity: 50000 立方米/日
    c_in: {{COD: gb18918_1b_cod, NH3N: gb18918_1b_nh3n}}
    c_out: {{COD: gb18918_1a_cod, NH3N: gb18918_1a_nh3n}}
    source: 示例：方案第Y条

targets:
  - {{id: nox-{y2}, pollutant: NOx, kind: reduction_percent, value: 10%, year: {y2}, source: 示例}}
  - {{id: cod-{y2}, pollutant: COD, kind: reduction_amount, value: 100 吨, year: {y2}, source: 示例}}
"""


_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def scenario_id(name: str, given: str | None = None) -> str:
    """The scenario id (and file name) for NAME: *given* if any, else NAME in pinyin, lowercase ASCII.

    ``某县`` -> ``mouxian``, ``安康市 2025`` -> ``ankangshi-2025``, ``Weinan`` -> ``weinan``.
    """
    if given is not None:
        if not _ID.match(given):
            raise InputError(Problem(f"id {given!r} must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit, e.g. 'mouxian'", "--id"))
        return given
    from pypinyin import lazy_pinyin

    text = "".join(lazy_pinyin(name))
    slug = re.sub(r"[^0-9A-Za-z_-]+", "-", text).strip("-_").lower()[:64].strip("-_")
    if not slug:
        raise InputError(Problem(f"cannot make an id from the name {name!r}; give one with --id, e.g. --id mouxian", "NAME"))
    return slug


def write_starter(name: str, out: str | Path = ".", base_year: int = 2025, years: tuple[int, int] = (2026, 2030),
                  sid: str | None = None) -> list[Path]:
    """Write ``<out>/<id>.yaml`` and ``<out>/inventories/<id>-<base>.csv`` and ``.xlsx``; id from :func:`scenario_id`."""
    slug = scenario_id(name, sid)
    folder = Path(out)
    scen = folder / f"{slug}.yaml"
    inv_dir = folder / "inventories"
    inv_csv = inv_dir / f"{slug}-{base_year}.csv"
    inv_xlsx = inv_dir / f"{slug}-{base_year}.xlsx"
    existing = [p for p in (scen, inv_csv, inv_xlsx) if p.exists()]
    if existing:
        raise InputError([Problem("already exists; refusing to overwrite (choose another NAME or --out)", str(p)) for p in existing])
    inv_dir.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(INVENTORY_HEADER)
    w.writerows(_ROWS)
    inv_csv.write_text(buf.getvalue(), encoding="utf-8-sig")
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "清单 inventory"
    ws.append(INVENTORY_HEADER)
    for row in _ROWS:
        ws.append([float(x) if re.fullmatch(r"-?\d+(\.\d+)?", x) else (x or None) for x in row])
    wb.save(inv_xlsx)
    import json

    # quoted YAML scalars (JSON strings are): a name with ': ', '#' or a quote stays the name
    scen.write_text(_SCENARIO.format(name_yaml=json.dumps(name, ensure_ascii=False),
                                     title_yaml=json.dumps(f"{name}减排措施可达性评估", ensure_ascii=False),
                                     name_line=" ".join(name.split()), slug=slug, slug_yaml=json.dumps(slug), base=base_year, y1=years[0], y2=years[1], file=scen.as_posix()), encoding="utf-8")
    return [scen, inv_csv, inv_xlsx]
