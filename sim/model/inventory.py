"""Inventory files: CSV or xlsx tables of pools, one row per pool.

Columns (Chinese headers accepted): ``id`` (源类编号), ``name`` (名称), ``sector`` (行业),
``activity`` (活动水平), ``unit`` (单位), ``growth`` (年增长率), ``growth_low``,
``growth_high``, ``source`` (来源), then ``ef:<pollutant>`` (排放系数:污染物: a key, a
product ``key*key``, or a number with unit) and ``emissions:<pollutant>`` (基准年排放量:
污染物, tonnes per year).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from sim.core.errors import InputError, Problem
from sim.core.pollutants import POLLUTANTS, canonical_pollutant
from sim.core.safe import control_in
from sim.model.textio import csv_records, decode, overlong_rows, read_source
from sim.model.yamlio import MAX_INPUT_BYTES, LineMap

__all__ = ["ENCODINGS", "HEADER_ALIASES", "read_inventory"]

HEADER_ALIASES = {
    "源类编号": "id", "源类": "id", "编号": "id", "名称": "name", "行业": "sector", "部门": "sector",
    "活动水平": "activity", "单位": "unit", "年增长率": "growth", "增长率": "growth",
    "增长率下限": "growth_low", "增长率上限": "growth_high", "来源": "source", "数据来源": "source",
}
_PREFIX_ALIASES = {"排放系数": "ef", "基准年排放量": "emissions", "排放量": "emissions"}
ENCODINGS = ("utf-8-sig", "gb18030")
MAX_ROWS = 100_000
MAX_COLUMNS = 1_000
_OPTIONAL = {"name", "sector", "activity", "unit", "growth", "growth_low", "growth_high", "source", "standard"}


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


_KEYLIKE = re.compile(r"^([a-z][a-z0-9_]*|[0-9.]+(e-?[0-9]+)?)$")


def _factor_cell(v: str) -> str | list[str]:
    """``key_a*key_b`` -> a product of keys; ``16.9 t/(蒸吨*a)`` stays one quantity with its unit."""
    parts, depth, cur = [], 0, ""
    for ch in v:
        depth += {"(": 1, "（": 1, ")": -1, "）": -1}.get(ch, 0)
        if ch == "*" and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    if len(parts) > 1 and all(_KEYLIKE.match(x) for x in parts):
        return parts
    return v


def _rows_csv(raw: bytes, name: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    text = decode(raw, name, "inventory", ENCODINGS, "save it from Excel as 'CSV UTF-8' (or CSV in GBK)")
    records = csv_records(text, name)
    if not records:
        raise InputError(Problem("inventory is empty: it needs a header row and one row per pool", name))
    return _header_rows(records, name, None)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


MAX_UNPACKED = 64 * 2**20  # bytes a workbook may unpack to (a city's inventory is well under 1 MiB)
_HEADER_SEARCH = 20  # rows above the header (titles, notes) that are skipped


def _check_zip(path: Path) -> None:
    """Refuse a workbook that unpacks to more than :data:`MAX_UNPACKED` (a zip bomb) before reading it."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: openpyxl says so below
    if total > MAX_UNPACKED:
        raise InputError(Problem(f"the workbook unpacks to {total / 2**20:,.0f} MiB, more than the {MAX_UNPACKED // 2**20} MiB an "
                                 "inventory may take; save the sheet again in Excel/WPS (or as CSV)", str(path)))


def _sheet_rows(ws: Any) -> Any:
    """Every row of a read-only sheet, whatever its declared dimension says (trailing blanks cut)."""
    ws.reset_dimensions()  # the <dimension> a program wrote may stop short of the data
    for i, r in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
        cells = list(r[:MAX_COLUMNS])
        while cells and cells[-1] is None:
            cells.pop()
        yield i, cells


def _rows_xlsx(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    import openpyxl
    from openpyxl.utils import get_column_letter

    name = str(path)
    _check_zip(path)
    problems: list[Problem] = []
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        wf = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            ws, fs = wb.worksheets[0], wf.worksheets[0]
            sheet = ws.title
            rows: list[tuple[int, list[str]]] = []
            for (i, vals), (_, forms) in zip(_sheet_rows(ws), _sheet_rows(fs), strict=False):
                for c, f in enumerate(forms):
                    if isinstance(f, str) and f.startswith("=") and (c >= len(vals) or vals[c] is None):
                        problems.append(Problem(f"formula {f[:40]!r} has no saved value (the workbook was written by a program and "
                                                "never calculated); open and save it in Excel/WPS, or type the value",
                                                name, i, f"{sheet}!{get_column_letter(c + 1)}{i}"))
                cells = [_cell(c) for c in vals]
                if any(cells):
                    if i > MAX_ROWS:
                        raise InputError(Problem(f"inventory has data beyond row {MAX_ROWS:,}; a city's pools fit in far fewer", name, i))
                    rows.append((i, cells))
        finally:
            wb.close()
            wf.close()
    except InputError:
        raise
    except Exception as exc:  # openpyxl and zipfile raise many unrelated types
        raise InputError(Problem(f"cannot be read as an xlsx workbook: {type(exc).__name__}", name)) from None
    if problems:
        raise InputError(problems)
    if not rows:
        raise InputError(Problem(f"inventory workbook's first sheet {sheet!r} is empty (only the first sheet is read)", name))
    return (*_header_rows(rows, name, sheet), sheet)


def _is_prefix(h: str) -> bool:
    return h.strip() in _PREFIX_ALIASES or h.strip() in ("ef", "emissions")


def _header_rows(rows: list[tuple[int, list[str]]], name: str, sheet: str | None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, body) of a sheet as planners lay it out: title rows above the header are skipped;
    a two-level header (排放系数 merged over NOx, SO2 ...) becomes 排放系数:NOx, 排放系数:SO2 ..."""
    from sim.core.pollutants import canonical_pollutant

    h = next((n for n, (_, cells) in enumerate(rows[:_HEADER_SEARCH]) if "id" in [_header(c) for c in cells]), 0)
    header = list(rows[h][1])
    body = rows[h + 1 :]
    two_level = False
    if any(_is_prefix(c) for c in header) and body:
        sub = body[0][1]
        under = [sub[c].strip() for c in range(len(header)) if _is_prefix(header[c]) and c < len(sub)]
        two_level = bool(under) and all(x and canonical_pollutant(x) is not None for x in under)
    if two_level:
        sub = body[0][1]
        width = max(len(header), len(sub))
        header += [""] * (width - len(header))
        group = ""
        combined: list[str] = []
        for c in range(width):
            top = header[c].strip()
            below = sub[c].strip() if c < len(sub) else ""
            if top:
                group = top if _is_prefix(top) else ""
            if group and below:
                combined.append(f"{_PREFIX_ALIASES.get(group, group)}:{below}")
            elif not top and below and not group:
                combined.append(below)  # a header cell merged over two rows holds its text in the lower one
            else:
                combined.append(top)
        header, body = combined, body[1:]
    # cells past the header's last column are reported row by row (overlong rows); within it, a blank header over data:
    blank = [c for c in range(len(header)) if not (header[c] or "").strip() and any(c < len(r) and str(r[c] or "").strip() for _, r in body)]
    if blank:  # a header cell merged over two columns keeps its text in the first one only
        c = blank[0]
        left = next((header[i].strip() for i in range(min(c, len(header)) - 1, -1, -1) if header[i] and header[i].strip()), "")
        hint = f" (is it merged with {left!r} to its left?)" if left else ""
        where = f"{sheet}!{_column_letter(c + 1)}{rows[h][0]}" if sheet else f"column {c + 1}"
        raise InputError(Problem(f"column {_column_letter(c + 1)} holds data but has no header{hint}; give it its own header, "
                                 "e.g. 单位 (unit) beside 活动水平 (activity)", name, rows[h][0], where))
    bare = [n for n, x in enumerate(header) if _is_prefix(x)]
    if bare:

        c = bare[0]
        raise InputError(Problem(f"column {header[c]!r} names no pollutant: write one column per pollutant "
                                 f"({header[c]}:NOx, {header[c]}:SO2 ...), or the pollutants in the row below it",
                                 name, rows[h][0], f"{sheet}!{_column_letter(c + 1)}{rows[h][0]}" if sheet else header[c]))
    return header, body


def _column_letter(n: int) -> str:
    """Spreadsheet column name of 1-based column *n* (1 -> A, 27 -> AA), as openpyxl's, without importing
    openpyxl (0.2 s) to read a CSV inventory."""
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _column_choices() -> list[str]:
    from sim.core.pollutants import POLLUTANTS

    out = ["id", *sorted(_OPTIONAL), *HEADER_ALIASES]
    for pol in POLLUTANTS:
        out += [f"ef:{pol}", f"emissions:{pol}", f"排放系数:{pol}", f"基准年排放量:{pol}"]
    return out


def read_inventory(path: str | Path) -> tuple[list[dict[str, Any]], LineMap, str]:
    """Read pools from *path* (CSV in UTF-8 or GBK, or xlsx) -> (pool dicts, line map, sha256).

    Lines in messages are the file's lines for CSV (where a record starts), rows for xlsx;
    key paths name the column and the pool (``ef:NOx (boiler.coal)``).
    """
    from sim.core.errors import did_you_mean

    p = Path(path)
    name = str(path)
    raw = read_source(p, "inventory file", 10 * MAX_INPUT_BYTES)
    digest = hashlib.sha256(raw).hexdigest()
    sheet: str | None = None
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        header, body, sheet = _rows_xlsx(p)
    elif p.suffix.lower() == ".csv":
        header, body = _rows_csv(raw, name)
    else:
        raise InputError(Problem("inventory must be a .csv or .xlsx file", name))
    cols = [_header(h) for h in header]
    shown = {c: (h or "").strip() for c, h in zip(cols, header, strict=True)}
    problems: list[Problem] = []

    def at(c: str, r: int | None) -> str:
        """'清单!D5 ' for the cell of column *c* in row *r* of a workbook ('' for a CSV, whose lines say it)."""
        return f"{sheet}!{_column_letter(cols.index(c) + 1)}{r} " if sheet is not None and r is not None and c in cols else ""

    def known(c: str) -> bool:
        return c in _OPTIONAL or c == "id" or c.startswith(("ef:", "emissions:"))

    if not any(known(c) for c in cols):  # not an inventory at all: say so without echoing the file's content
        where = f" of sheet {sheet!r} (only the first sheet of a workbook is read)" if sheet is not None else ""
        raise InputError(Problem(f"the first row{where} is not an inventory header: none of its {sum(1 for c in cols if c)} cells is a "
                                 "known column (id/源类编号, name, activity, unit, growth, ef:<pollutant> ...)", name, 1))
    if "id" not in cols:
        problems.append(Problem("inventory needs an 'id' column (源类编号)", name, 1, "id"))
    first: dict[str, int] = {}
    for n, c in enumerate(cols, start=1):
        if not c:
            continue
        if c in first:
            problems.append(Problem(f"column {shown[c]!r} appears twice (columns {first[c]} and {n}); keep one", name, 1, shown[c]))
        first.setdefault(c, n)
        if c not in _OPTIONAL and c != "id" and not c.startswith(("ef:", "emissions:")):
            problems.append(Problem(f"unknown column {c!r}{did_you_mean(c, _column_choices())}; valid: id, name, sector, activity, unit, growth, "
                                    "growth_low, growth_high, source, standard, ef:<pollutant>, emissions:<pollutant>", name, 1, c))
        elif c.startswith(("ef:", "emissions:")) and canonical_pollutant(c.partition(":")[2]) is None:
            pol = c.partition(":")[2]  # said once, for the column, not once per pool
            problems.append(Problem(f"unknown pollutant {pol!r}{did_you_mean(pol, list(POLLUTANTS))}; valid: {', '.join(POLLUTANTS)}",
                                    name, 1, f"{at(c, 1)}{shown[c]}"))
    if problems:
        raise InputError(problems)
    pools: list[dict[str, Any]] = []
    lines: dict[tuple[Any, ...], int] = {}
    overlong = overlong_rows(body, len(cols), name)
    for r, row in body:
        if not any((x or "").strip() for x in row):
            continue
        if r in overlong:
            problems.append(overlong[r])
            continue
        rec = {c: (row[i].strip() if i < len(row) and row[i] is not None else "") for i, c in enumerate(cols) if c}
        for c, v in rec.items():
            why = control_in(v)
            if why:
                problems.append(Problem(why, name, r, f"{at(c, r)}{shown.get(c) or c} ({rec.get('id', '')})"))
        i = len(pools)
        pool: dict[str, Any] = {"id": rec.get("id", "")}
        lines[(i,)] = r
        for k in ("name", "sector", "source", "standard"):
            if rec.get(k):
                pool[k] = rec[k]
        if rec.get("activity"):
            unit = rec.get("unit", "")
            pool["activity"] = f"{rec['activity']} {unit}".strip()
        g = rec.get("growth", "")
        lo_hi = [k for k in ("growth_low", "growth_high") if rec.get(k)]
        if lo_hi and not g:  # a range without its central value would silently become 0%
            problems.append(Problem(f"growth is empty but {' and '.join(lo_hi)} {'are' if len(lo_hi) > 1 else 'is'} given; "
                                    "write the central growth rate (e.g. 1%) in growth, or clear the range",
                                    name, r, f"{at('growth', r)}{shown.get('growth') or 'growth'} ({rec.get('id', '')})"))
        elif len(lo_hi) == 1:
            problems.append(Problem(f"only {lo_hi[0]} is given; give both growth_low and growth_high, or neither",
                                    name, r, f"{at(lo_hi[0], r)}{shown.get(lo_hi[0]) or lo_hi[0]} ({rec.get('id', '')})"))
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
                ef[c[3:]] = _factor_cell(v)
            elif c.startswith("emissions:"):
                em[c[10:]] = v if any(ch.isalpha() for ch in v.replace("e", "")) else f"{v} t/a"
        if ef:
            pool["ef"] = ef
        if em:
            pool["emissions"] = em
        for k in pool:
            lines[(i, k)] = r
        pools.append(pool)
    if problems:
        raise InputError(problems)
    if not pools:
        raise InputError(Problem("inventory has a header but no pools", name, 2))
    ids = [str(pl.get("id", "")) for pl in pools]

    def label(path: tuple[Any, ...]) -> str:
        if not path or not isinstance(path[0], int) or path[0] >= len(ids):
            return ""
        key = ":".join(str(x) for x in path[1:3])
        col = shown.get(key, key)
        cell = at(key, lines.get((path[0],)))
        return f"{cell}{col} ({ids[path[0]]})" if col else f"{cell}{ids[path[0]]}"

    return pools, LineMap(name, lines, label=label), digest
