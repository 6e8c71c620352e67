"""Lay the appendix content model out as Markdown (charts as files under figures/)."""

from __future__ import annotations

import re
from pathlib import Path

from sim.reports.appendix.model import Appendix, Bullets, Figure, Paragraph, Subheading, Table

__all__ = ["render_markdown", "write_markdown"]


def _text(s: str) -> str:
    """Input text made inert: no raw HTML, no stray emphasis from backticks."""
    return re.sub(r"&(?=#?\w+;)", "&amp;", s).replace("<", "&lt;").replace(">", "&gt;").replace("`", "\\`").replace("\n", " ")


def _cell(s: str) -> str:
    return _text(s).replace("|", "\\|")


def _table(t: Table) -> list[str]:
    out = [f"**{_text(t.title)}**", ""]
    out.append("| " + " | ".join(_cell(c.header) for c in t.columns) + " |")
    out.append("|" + "|".join("---:" if c.numeric else "---" for c in t.columns) + "|")
    for row in t.rows:
        out.append("| " + " | ".join(_cell(c.text) for c in row) + " |")
    out.append("")
    for note in t.notes:
        out += [_text(note), ""]
    return out


def _figure(f: Figure) -> list[str]:
    out = [f"![{_cell(f.title)}]({f.filename})", "", f"*{_text(f.title)}*", ""]
    if f.note:
        out += [_text(f.note), ""]
    return out


def render_markdown(app: Appendix) -> str:
    """The Markdown text of *app* (figures referenced by their relative file names)."""
    lines = [f"# {_text(app.title)}", "", f"**{_text(app.subtitle)}**", ""]
    for section in app.sections:
        lines += [f"## {_text(section.heading)}", ""]
        for b in section.blocks:
            if isinstance(b, Paragraph):
                lines += [_text(b.text), ""]
            elif isinstance(b, Subheading):
                lines += [f"### {_text(b.text)}", ""]
            elif isinstance(b, Bullets):
                lines += [f"- {_text(item)}" for item in b.items] + [""]
            elif isinstance(b, Table):
                lines += _table(b)
            elif isinstance(b, Figure):
                lines += _figure(b)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_markdown(app: Appendix, path: Path) -> Path:
    """Write the Markdown and its figures (``figures/*.png`` beside it)."""
    path.write_text(render_markdown(app), encoding="utf-8")
    for f in app.figures():
        target = path.parent / f.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.png)
    return path
