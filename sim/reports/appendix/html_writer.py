"""Lay the appendix content model out as one self-contained HTML file (jinja2, autoescaped)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import jinja2
import markupsafe

from sim.reports.appendix.model import (
    Appendix,
    Block,
    Bullets,
    Figure,
    Paragraph,
    Subheading,
    Table,
)

__all__ = ["render_html", "write_html"]


def _kind(b: Block) -> str:
    if isinstance(b, Paragraph):
        return "paragraph"
    if isinstance(b, Subheading):
        return "subheading"
    if isinstance(b, Bullets):
        return "bullets"
    if isinstance(b, Table):
        return "table"
    return "figure"


def _data_uri(f: Figure) -> str:
    """The chart embedded as a data URI: the HTML needs no other file."""
    return "data:image/png;base64," + base64.b64encode(f.png).decode("ascii")


def nobreak(text: str) -> markupsafe.Markup:
    """Escaped *text* with each Latin token and its unit bracket kept on one line
    (``PM2.5（吨/年）`` never splits as ``PM2.`` / ``5``)."""
    out = []
    for part in re.split(r"([A-Za-z0-9.+\-]*[A-Za-z0-9][A-Za-z0-9.+\-]*(?:（[^）]*）)?)", text):
        if part and re.search(r"[A-Za-z0-9]", part):
            out.append(markupsafe.Markup('<span class="nw">{}</span>').format(part))
        else:
            out.append(markupsafe.escape(part))
    return markupsafe.Markup("").join(out)


def _environment() -> jinja2.Environment:
    # autoescape every template: scenario text (names, sources) is input, never markup
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sim.reports.appendix", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["nobreak"] = nobreak
    return env


def render_html(app: Appendix) -> str:
    """The HTML text of *app*."""
    template = _environment().get_template("appendix.html.j2")
    return template.render(app=app, kind_of=_kind, data_uri=_data_uri)


def write_html(app: Appendix, path: Path) -> Path:
    path.write_text(render_html(app), encoding="utf-8")
    return path
