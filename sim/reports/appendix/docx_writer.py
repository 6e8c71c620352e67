"""Lay the appendix content model out as DOCX (python-docx) on the shipped template."""

from __future__ import annotations

import contextlib
import io
import math
import re
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm

from sim.reports.appendix.model import Appendix, Bullets, Figure, Paragraph, Subheading, Table

__all__ = ["template_path", "write_docx"]

_PARAGRAPH_STYLES = {"body": "Normal", "formula": "Appendix Formula", "note": "Appendix Note"}


def template_path() -> Path:
    """The DOCX template shipped in the package (a bureau may replace the file)."""
    from importlib import resources

    return Path(str(resources.files("sim.reports.appendix") / "templates" / "appendix-template.docx"))


def _style(doc: Any, name: str, fallback: str = "Normal") -> Any:
    try:
        return doc.styles[name]
    except KeyError:
        return doc.styles[fallback]


def _clear_body(doc: Any) -> None:
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)


def _row_flags(row: Any, header: bool = False) -> None:
    """Rows never split across pages; the header row repeats on every page."""
    trpr = row._tr.get_or_add_trPr()
    for tag in ("w:cantSplit", "w:tblHeader") if header else ("w:cantSplit",):
        el = OxmlElement(tag)
        el.set(qn("w:val"), "true")
        trpr.append(el)


_PAD = 2.2  # cell margins in half-width characters


def _display_len(text: str) -> float:
    """Width of *text* in half-width characters (CJK and full-width count two; %, capitals a bit more)."""
    return sum(2.0 if ord(ch) >= 0x2E80 else 1.4 if ch == "%" or ch.isupper() else 1.0 for ch in text)


def _natural_and_floor(t: Table) -> tuple[list[float], list[float]]:
    """Per column: the width it would like, and the least it gets (short cells never wrap)."""
    natural: list[float] = []
    floor: list[float] = []
    for j, col in enumerate(t.columns):
        cells = [_display_len(r[j].text) for r in t.rows] or [0.0]
        longest = max(cells)
        head = _display_len(col.header)
        nat = max(longest, min(head, max(head / 2, 8.0)), 4.0)
        natural.append(min(nat, 80.0))
        # Latin words do not break mid-word: the longest one (up to 14 characters) sets a floor
        # (runs of Latin letters and digits, also inside Chinese text: "PM2.5（吨/年）" holds "PM2.5")
        words = [_display_len(w) for text in (col.header, *(r[j].text for r in t.rows)) for w in re.findall(r"[A-Za-z0-9.,%+\-]+", text)]
        word = min(max(words, default=0.0), 14.0)
        if col.numeric or longest <= 10:
            floor.append(min(nat, max(longest, 6.0, word)))
        else:
            floor.append(min(nat, max(8.0, word)))
    return natural, floor


def _height(t: Table, widths: list[float]) -> float:
    """Estimated lines of text in the table at these column widths (header included)."""
    def lines(text: str, w: float) -> float:
        return max(1.0, math.ceil(_display_len(text) / max(w - _PAD, 1.0)))

    rows = [[c.header for c in t.columns], *([c.text for c in r] for r in t.rows)]
    return sum(max(lines(text, widths[j]) for j, text in enumerate(row)) for row in rows)


def needs_landscape(t: Table, portrait_units: float, landscape_units: float) -> bool:
    """Turn the page for a table that cannot give its columns their minimum widths on a portrait
    page, or that would run about twice as long in portrait as across a landscape page."""
    _, floor = _natural_and_floor(t)
    if sum(floor) + _PAD * len(t.columns) > portrait_units:
        return True
    tall = _height(t, column_widths(t, portrait_units))
    return tall > 8 and tall > 1.9 * _height(t, column_widths(t, landscape_units))


def column_widths(t: Table, total: float) -> list[float]:
    """Column widths (in half-width characters, like *total*) from the content: numbers never
    wrap, long text columns (sources, descriptions) take what is left above their floor."""
    n = len(t.columns)
    natural, floor = _natural_and_floor(t)
    avail = total - _PAD * n  # cell margins, about 0.19 cm each side
    if sum(natural) <= avail:
        scale = avail / sum(natural)
        return [w * scale + _PAD for w in natural]
    spare = avail - sum(floor)
    if spare <= 0:
        scale = avail / sum(floor)
        return [w * scale + _PAD for w in floor]
    extra = [natural[j] - floor[j] for j in range(n)]
    return [floor[j] + spare * extra[j] / sum(extra) + _PAD for j in range(n)]


_EMU_PER_UNIT = 66675  # half of a 10.5 pt (五号) character: 5.25 pt


def _text_width(doc: Any) -> int:
    sec = doc.sections[-1]
    return int(sec.page_width - sec.left_margin - sec.right_margin)


def _set_orientation(doc: Any, landscape: bool) -> None:
    """Start a new section (new page) in *landscape* or portrait, as a planner turns a page
    for a wide table (横排表格); headers and footers stay linked, page numbers continue."""
    last = doc.sections[-1]
    if (last.orientation == WD_ORIENT.LANDSCAPE) == landscape:
        return
    sec = doc.add_section(WD_SECTION.NEW_PAGE)
    w, h = sec.page_width, sec.page_height
    top, bottom, left, right = sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin
    sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = h, w
    # the binding edge follows the page: rotate the margins with it
    if landscape:
        sec.top_margin, sec.right_margin, sec.bottom_margin, sec.left_margin = left, top, right, bottom
    else:
        sec.left_margin, sec.top_margin, sec.right_margin, sec.bottom_margin = top, right, bottom, left


def _table(doc: Any, t: Table) -> None:
    cap = doc.add_paragraph(t.title, style=_style(doc, "Caption"))
    cap.paragraph_format.keep_with_next = True
    ncols = len(t.columns)
    table = doc.add_table(rows=1 + len(t.rows), cols=ncols)
    with contextlib.suppress(KeyError):
        table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = [int(w * _EMU_PER_UNIT) for w in column_widths(t, _text_width(doc) / _EMU_PER_UNIT)]
    for j, emu in enumerate(widths):
        table.columns[j].width = emu
    cells = table._cells  # one pass over the grid (row/column accessors recompute it each time)
    style_id = _style(doc, "Appendix Table Text").style_id
    texts = [[(c.header, True, WD_ALIGN_PARAGRAPH.CENTER) for c in t.columns]]
    aligns = [WD_ALIGN_PARAGRAPH.RIGHT if c.numeric else WD_ALIGN_PARAGRAPH.LEFT for c in t.columns]
    texts += [[(c.text, False, aligns[j]) for j, c in enumerate(row)] for row in t.rows]
    for i, row_texts in enumerate(texts):
        for j, (text, bold, align) in enumerate(row_texts):
            cell = cells[i * ncols + j]
            cell.width = widths[j]
            p = cell.paragraphs[0]
            p._p.get_or_add_pPr().get_or_add_pStyle().val = style_id
            p.alignment = align
            run = p.add_run(text)
            if bold:
                run.bold = True
    for i, row in enumerate(table.rows):
        _row_flags(row, header=i == 0)
    for note in t.notes:
        doc.add_paragraph(note, style=_style(doc, "Appendix Note"))


_FIG_WIDTH_CM = 15.0
_FIG_HEIGHT_CM = 9.0  # two charts with their captions fit on an upright page


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from the PNG header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        return 4, 3
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _figure(doc: Any, f: Figure) -> None:
    p = doc.add_paragraph(style=_style(doc, "Caption"))
    p.paragraph_format.keep_with_next = True
    w, h = _png_size(f.png)
    width = min(_FIG_WIDTH_CM, _FIG_HEIGHT_CM * w / max(h, 1))
    p.add_run().add_picture(io.BytesIO(f.png), width=Cm(width))
    doc.add_paragraph(f.title, style=_style(doc, "Caption"))
    if f.note:
        doc.add_paragraph(f.note, style=_style(doc, "Appendix Note"))


def _items(app: Appendix) -> list[tuple[str, Any]]:
    """Headings and blocks in reading order, each as (kind, object)."""
    out: list[tuple[str, Any]] = []
    for section in app.sections:
        out.append(("heading", section.heading))
        out.extend(("block", b) for b in section.blocks)
    return out


def write_docx(app: Appendix, path: Path, template: Path | None = None) -> Path:
    """Write *app* to *path* on *template* (default: the shipped one)."""
    doc = Document(str(template or template_path()))
    _clear_body(doc)
    first: Any = doc.sections[0]
    across = first.page_width - first.left_margin - first.right_margin
    down = first.page_height - first.top_margin - first.bottom_margin
    if first.orientation == WD_ORIENT.LANDSCAPE:
        across, down = down, across
    portrait_units, landscape_units = across / _EMU_PER_UNIT, down / _EMU_PER_UNIT
    items = _items(app)
    wide = [isinstance(obj, Table) and needs_landscape(obj, portrait_units, landscape_units) for _, obj in items]
    # a heading or subheading goes with the wide table that follows it
    for i in range(len(items) - 2, -1, -1):
        kind, obj = items[i]
        if (kind == "heading" or isinstance(obj, Subheading)) and wide[i + 1]:
            wide[i] = True
    # a few lines of text between two turned pages stay turned (no half-empty upright page)
    i = 0
    while i < len(items):
        if wide[i]:
            i += 1
            continue
        j = i
        while j < len(items) and not wide[j]:
            j += 1
        gap = items[i:j]
        if i > 0 and j < len(items) and len(gap) <= 3 and not any(isinstance(o, (Table, Figure)) for _, o in gap):
            wide[i:j] = [True] * (j - i)
        i = j
    doc.add_paragraph(app.title, style=_style(doc, "Title"))
    doc.add_paragraph(app.subtitle, style=_style(doc, "Subtitle"))
    bullet = _style(doc, "List Bullet")
    for (kind, b), landscape in zip(items, wide, strict=True):
        _set_orientation(doc, landscape)
        if kind == "heading":
            doc.add_paragraph(b, style=_style(doc, "Heading 1"))
        elif isinstance(b, Paragraph):
            doc.add_paragraph(b.text, style=_style(doc, _PARAGRAPH_STYLES.get(b.kind, "Normal")))
        elif isinstance(b, Subheading):
            doc.add_paragraph(b.text, style=_style(doc, "Heading 2"))
        elif isinstance(b, Bullets):
            for item in b.items:
                doc.add_paragraph(item, style=bullet)
        elif isinstance(b, Table):
            _table(doc, b)
        elif isinstance(b, Figure):
            _figure(doc, b)
    set_properties(doc, f"{app.title} — {app.subtitle}", f"run {app.meta.get('run_id', '')}")
    doc.save(str(path))
    return path


def set_properties(doc: Any, title: str, comments: str = "") -> None:
    """Document properties of the file written now by ersim, whatever the template said
    (a template made by python-docx carries a 2013 date and “Microsoft Macintosh Word”)."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    core = doc.core_properties
    core.title = title
    core.author = "ersim"
    core.last_modified_by = "ersim"
    core.created = now
    core.modified = now
    core.revision = 1
    core.comments = comments
    for part in doc.part.package.iter_parts():
        if str(part.partname) == "/docProps/app.xml":
            blob = part.blob.decode("utf-8")
            blob = re.sub(r"<Application>[^<]*</Application>", "<Application>ersim</Application>", blob)
            blob = re.sub(r"\s*<AppVersion>[^<]*</AppVersion>", "", blob)
            part._blob = blob.encode("utf-8")
