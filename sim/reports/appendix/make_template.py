"""Make ``templates/appendix-template.docx``: the layout of the DOCX appendix.

Chinese government document style (after GB/T 9704): A4, margins 37/35/28/26 mm, body 仿宋
三号 with a two-character first-line indent and a fixed 28 pt line pitch, headings 黑体,
captions 黑体 centred, table text 仿宋 五号, page numbers in the footer. East Asian fonts
are set through ``w:eastAsia`` (theme font attributes, which would override it, are removed).

A bureau may replace the template with its own: the writer uses the styles by name
(Normal, Title, Subtitle, Heading 1-2, Caption, List Bullet, Table Grid, and the
``Appendix Formula``, ``Appendix Note``, ``Appendix Table Text`` paragraph styles, falling
back to Normal when one is missing) and keeps the template's page setup, headers and
footers; its body text is dropped.

Run ``python -m sim.reports.appendix.make_template`` to re-create the file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

__all__ = ["BODY_FONT", "HEADING_FONT", "TEMPLATE", "make_template"]

TEMPLATE = Path(__file__).parent / "templates" / "appendix-template.docx"
BODY_FONT = "仿宋"
HEADING_FONT = "黑体"
LATIN_FONT = "Times New Roman"


def set_fonts(rpr_owner: Any, east_asia: str, latin: str) -> None:
    """Set w:rFonts (ascii, hAnsi, eastAsia, cs) on a style or run, dropping theme fonts."""
    rpr = rpr_owner.get_or_add_rPr()
    old = rpr.find(qn("w:rFonts"))
    if old is not None:
        rpr.remove(old)
    fonts = OxmlElement("w:rFonts")
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:cs"), latin)
    fonts.set(qn("w:hint"), "eastAsia")
    rpr.insert(0, fonts)


def _style(doc: Any, name: str, base: str | None = "Normal") -> Any:
    styles = doc.styles
    try:
        st = styles[name]
    except KeyError:
        st = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        if base:
            st.base_style = styles[base]
    return st


def _font(st: Any, east_asia: str, size: float, bold: bool = False, latin: str = LATIN_FONT) -> None:
    set_fonts(st.element, east_asia, latin)
    st.font.size = Pt(size)
    st.font.bold = bold
    st.font.italic = False
    st.font.color.rgb = RGBColor(0, 0, 0)
    rpr = st.element.get_or_add_rPr()
    color = rpr.find(qn("w:color"))
    if color is not None:  # no theme colour: black as set
        for attr in ("w:themeColor", "w:themeShade", "w:themeTint"):
            color.attrib.pop(qn(attr), None)


def _para(st: Any, *, before: float = 0, after: float = 0, line: float | None = 28, indent_chars: float = 0,
          size: float = 16, align: Any = None, keep_next: bool = False) -> None:
    pf = st.paragraph_format
    pf.space_before = Pt(before)
    pf.space_after = Pt(after)
    if line is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(line)
    pf.first_line_indent = Pt(indent_chars * size) if indent_chars else Pt(0)
    if align is not None:
        pf.alignment = align
    pf.keep_with_next = keep_next


def _doc_defaults(doc: Any) -> None:
    """Document defaults: 仿宋 for East Asian text, zh-CN language."""
    styles_el = doc.styles.element
    defaults = styles_el.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault"))
    rpr = rpr_default.find(qn("w:rPr"))
    old = rpr.find(qn("w:rFonts"))
    if old is not None:
        rpr.remove(old)
    fonts = OxmlElement("w:rFonts")
    for attr, val in (("w:ascii", LATIN_FONT), ("w:hAnsi", LATIN_FONT), ("w:eastAsia", BODY_FONT), ("w:cs", LATIN_FONT)):
        fonts.set(qn(attr), val)
    rpr.insert(0, fonts)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")


def _footer_page_number(section: Any) -> None:
    footer = section.footer
    p = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run("— ")
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), "PAGE")
    r = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = "1"
    r.append(t)
    fld.append(r)
    p._p.append(fld)
    run = OxmlElement("w:r")
    t2 = OxmlElement("w:t")
    t2.set(qn("xml:space"), "preserve")
    t2.text = " —"
    run.append(t2)
    p._p.append(run)
    for r_el in p._p.iter(qn("w:r")):
        rpr = r_el.get_or_add_rPr()
        fonts = OxmlElement("w:rFonts")
        for attr, val in (("w:ascii", "宋体"), ("w:hAnsi", "宋体"), ("w:eastAsia", "宋体")):
            fonts.set(qn(attr), val)
        rpr.insert(0, fonts)
        sz = OxmlElement("w:sz")
        sz.set(qn("w:val"), "28")
        rpr.append(sz)


def make_template(path: str | Path = TEMPLATE) -> Path:
    """Write the DOCX template to *path* and return it."""
    doc = Document()
    _doc_defaults(doc)
    sec = doc.sections[0]
    sec.start_type = WD_SECTION.NEW_PAGE
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
    sec.left_margin, sec.right_margin = Mm(28), Mm(26)
    sec.footer_distance = Mm(28) - Mm(7)
    _footer_page_number(sec)

    normal = doc.styles["Normal"]
    _font(normal, BODY_FONT, 16)
    _para(normal, line=28, indent_chars=2, size=16, align=WD_ALIGN_PARAGRAPH.JUSTIFY)

    title = _style(doc, "Title")
    _font(title, HEADING_FONT, 22, latin=HEADING_FONT)
    _para(title, before=0, after=12, line=None, align=WD_ALIGN_PARAGRAPH.CENTER)
    ppr = title.element.get_or_add_pPr()
    for border in ppr.findall(qn("w:pBdr")):  # the default Title has a rule under it
        ppr.remove(border)

    subtitle = _style(doc, "Subtitle")
    _font(subtitle, BODY_FONT, 16)
    _para(subtitle, before=0, after=18, line=None, align=WD_ALIGN_PARAGRAPH.CENTER)

    for name, size in (("Heading 1", 16), ("Heading 2", 16), ("Heading 3", 16)):
        h = _style(doc, name)
        _font(h, HEADING_FONT, size, latin=HEADING_FONT)
        _para(h, before=12 if name == "Heading 1" else 6, after=6, line=28, indent_chars=0 if name == "Heading 1" else 2,
              size=size, align=WD_ALIGN_PARAGRAPH.LEFT, keep_next=True)

    caption = _style(doc, "Caption")
    _font(caption, HEADING_FONT, 12, latin=HEADING_FONT)
    _para(caption, before=6, after=6, line=None, align=WD_ALIGN_PARAGRAPH.CENTER)

    table_text = _style(doc, "Appendix Table Text")
    _font(table_text, BODY_FONT, 9)  # 小五: tables dense enough that the appendix stays within about 25 pages
    _para(table_text, line=None, align=WD_ALIGN_PARAGRAPH.LEFT)

    formula = _style(doc, "Appendix Formula")
    _font(formula, BODY_FONT, 14)
    _para(formula, before=3, after=3, line=24, indent_chars=2, size=14, align=WD_ALIGN_PARAGRAPH.LEFT)

    note = _style(doc, "Appendix Note")
    _font(note, BODY_FONT, 12)
    _para(note, before=3, after=3, line=None, indent_chars=2, size=12, align=WD_ALIGN_PARAGRAPH.JUSTIFY)

    bullet = _style(doc, "List Bullet")
    _font(bullet, BODY_FONT, 16)
    bullet.paragraph_format.first_line_indent = None

    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    from sim.reports.appendix.docx_writer import set_properties

    set_properties(doc, "目标可达性分析（模板）")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out


if __name__ == "__main__":  # pragma: no cover
    target = make_template(sys.argv[1] if len(sys.argv) > 1 else TEMPLATE)
    print(f"template written to {target}")
