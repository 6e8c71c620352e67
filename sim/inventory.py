"""Inventory files: CSV or xlsx tables of pools, one row per pool.

Columns (Chinese headers accepted): ``id`` (源类编号), ``name`` (名称), ``sector`` (行业),
``activity`` (活动水平), ``unit`` (单位), ``growth`` (年增长率), ``growth_low``,
``growth_high``, ``source`` (来源), then ``ef:<pollutant>`` (排放系数:污染物: a key, a
product ``key*key``, or a number with unit) and ``emissions:<pollutant>`` (基准年排放量:
污染物, tonnes per year).
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

from sim.errors import InputError, Problem
from sim.yamlio import MAX_INPUT_BYTES, LineMap

__all__ = ["ENCODINGS", "HEADER_ALIASES", "read_inventory"]

HEADER_ALIASES = {
    "源类编号": "id", "源类": "id", "编号": "id", "名称": "name", "行业": "sector", "部门": "sector",
    "活动水平": "activity", "单位": "unit", "年增长率": "growth", "增长率": "growth",
    "增长率下限": "growth_low", "增长率上限": "growth_high", "来源": "source", "数据来源": "source",
}
_PREFIX_ALIASES = {"排放系数": "ef", "基准年排放量": "emissions", "排放量": "emissions"}
ENCODINGS = ("utf-8-sig", "gb18030")
_OPTIONAL = {"name", "sector", "activity", "unit", "growth", "growth_low", "growth_high", "source"}


def _header(h: str) -> str:
    h = (h or "").strip()
    # "活动水平 activity" style bilingual headers: take the ASCII word if one is known
    for part in h.replace("（", " ").replace("(", " ").replace(")", " ").replace("）", " ").split():
        if part in _OPTIONAL or part == "id" or part.startswith(("ef:", "emissions:")):
            return part
    if h in HEADER_ALIASES:
        return HEADER_ALIASES[h]
    for zh, en in _PREFIX_ALIASES.items():
        for sep in (":", "：", "|"):
            if h.startswith(zh + sep):
                return en + ":" + h[len(zh) + 1 :]
    return h


def _rows_csv(raw: bytes, name: str) -> tuple[list[str], list[list[str]], str]:
    for enc in ENCODINGS:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            raise InputError(Problem("inventory is empty: it needs a header row and one row per pool", name))
        return rows[0], rows[1:], enc
    raise InputError(Problem("inventory is neither UTF-8 nor GBK/GB18030 text; save it as 'CSV UTF-8' from Excel", name))


def _rows_xlsx(path: Path) -> tuple[list[str], list[list[str]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(Problem(f"cannot be read as an xlsx workbook: {exc}", str(path))) from None
    ws = wb.worksheets[0]
    rows = [["" if c is None else str(c) for c in r] for r in ws.iter_rows(values_only=True)]
    wb.close()
    if not rows:
        raise InputError(Problem("inventory workbook is empty", str(path)))
    return rows[0], rows[1:]


def read_inventory(path: str | Path) -> tuple[list[dict[str, Any]], LineMap, str]:
    """Read pools from *path* (CSV in UTF-8 or GBK, or xlsx) -> (pool dicts, line map, sha256)."""
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise InputError(Problem("inventory file not found", name))
    if p.stat().st_size > 10 * MAX_INPUT_BYTES:
        raise InputError(Problem(f"inventory is {p.stat().st_size / 2**20:.0f} MiB; at most {10 * MAX_INPUT_BYTES // 2**20} MiB", name))
    raw = p.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        header, body = _rows_xlsx(p)
    elif p.suffix.lower() == ".csv":
        if b"\x00" in raw:
            raise InputError(Problem("is a binary file, not a CSV table", name))
        header, body, _enc = _rows_csv(raw, name)
    else:
        raise InputError(Problem("inventory must be a .csv or .xlsx file", name))
    cols = [_header(h) for h in header]
    problems: list[Problem] = []
    if "id" not in cols:
        problems.append(Problem("inventory needs an 'id' column (源类编号)", name, 1, "id"))
    for c in cols:
        if c and c not in _OPTIONAL and c != "id" and not c.startswith(("ef:", "emissions:")):
            problems.append(Problem(f"unknown column {c!r}; valid: id, name, sector, activity, unit, growth, growth_low, growth_high, source, ef:<pollutant>, emissions:<pollutant>", name, 1, c))
    if problems:
        raise InputError(problems)
    pools: list[dict[str, Any]] = []
    lines: dict[tuple[Any, ...], int] = {}
    for r, row in enumerate(body, start=2):
        if not any((x or "").strip() for x in row):
            continue
        rec = {c: (row[i].strip() if i < len(row) and row[i] is not None else "") for i, c in enumerate(cols) if c}
        i = len(pools)
        pool: dict[str, Any] = {"id": rec.get("id", "")}
        lines[(i,)] = r
        for k in ("name", "sector", "source"):
            if rec.get(k):
                pool[k] = rec[k]
        if rec.get("activity"):
            unit = rec.get("unit", "")
            pool["activity"] = f"{rec['activity']} {unit}".strip()
        g = rec.get("growth", "")
        if g:
            if rec.get("growth_low") and rec.get("growth_high"):
                pool["growth"] = {"value": g, "low": rec["growth_low"], "high": rec["growth_high"]}
            else:
                pool["growth"] = g
        ef: dict[str, Any] = {}
        em: dict[str, Any] = {}
        for c, v in rec.items():
            if not v:
                continue
            if c.startswith("ef:"):
                parts = [x.strip() for x in v.split("*")]
                ef[c[3:]] = parts if len(parts) > 1 else v
            elif c.startswith("emissions:"):
                em[c[10:]] = v if any(ch.isalpha() for ch in v.replace("e", "")) else f"{v} t/a"
        if ef:
            pool["ef"] = ef
        if em:
            pool["emissions"] = em
        for k in pool:
            lines[(i, k)] = r
        pools.append(pool)
    if not pools:
        raise InputError(Problem("inventory has a header but no pools", name, 2))
    return pools, LineMap(name, lines), digest
