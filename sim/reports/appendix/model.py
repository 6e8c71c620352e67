"""The appendix content model: sections of paragraphs, tables and figures, all text final.

Writers (DOCX, HTML, Markdown) only lay out what is here; they never compute or word
anything themselves, so the three formats cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Appendix", "Block", "Bullets", "Cell", "Column", "Figure", "Paragraph", "Section", "Subheading", "Table"]


@dataclass
class Cell:
    """One table cell: its text, and the number behind it (tonnes, share) when it has one."""

    text: str
    value: float | None = None


@dataclass
class Column:
    """A column header (with its unit, e.g. ``化学需氧量（吨/年）``); numeric columns align right."""

    header: str
    numeric: bool = False


@dataclass
class Table:
    key: str
    label: str  # 表1 / Table 1
    caption: str
    columns: list[Column]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        sep = " " if self.label.startswith("表") else ". "
        return f"{self.label}{sep}{self.caption}"


@dataclass
class Figure:
    key: str
    label: str  # 图1 / Figure 1
    caption: str
    filename: str  # figures/<name>.png (Markdown links it; HTML and DOCX embed it)
    png: bytes = field(repr=False)
    note: str | None = None

    @property
    def title(self) -> str:
        sep = " " if self.label.startswith("图") else ". "
        return f"{self.label}{sep}{self.caption}"


@dataclass
class Paragraph:
    text: str
    kind: str = "body"  # body | formula | note


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Subheading:
    text: str


Block = Paragraph | Bullets | Subheading | Table | Figure


@dataclass
class Section:
    key: str  # basics, growth, measures, reductions, targets, uncertainty, comparison, conclusions, annex
    heading: str  # 一、基本情况 / 1. Overview
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Appendix:
    lang: str
    title: str
    subtitle: str
    sections: list[Section]
    meta: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content (figures by file name, without their bytes)."""

        def block(b: Block) -> dict[str, Any]:
            if isinstance(b, Table):
                return {"type": "table", "key": b.key, "label": b.label, "caption": b.caption,
                        "columns": [c.header for c in b.columns],
                        "rows": [[{"text": c.text, "value": c.value} for c in r] for r in b.rows],
                        "notes": b.notes}
            if isinstance(b, Figure):
                return {"type": "figure", "key": b.key, "label": b.label, "caption": b.caption,
                        "file": b.filename, "note": b.note}
            if isinstance(b, Paragraph):
                return {"type": "paragraph", "kind": b.kind, "text": b.text}
            if isinstance(b, Bullets):
                return {"type": "bullets", "items": b.items}
            return {"type": "subheading", "text": b.text}

        return {"lang": self.lang, "title": self.title, "subtitle": self.subtitle, "meta": self.meta,
                "sections": [{"key": s.key, "heading": s.heading, "blocks": [block(b) for b in s.blocks]}
                             for s in self.sections]}
