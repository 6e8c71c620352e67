"""The feasibility appendix (目标可达性分析) a planner submits, written from a run.

One content model (:func:`build_content`) is laid out as DOCX, HTML and Markdown, so the
three formats never disagree; every verdict is generated from the run's numbers.

    from sim.reports.appendix import write_appendix
    write_appendix("ankang-2025")                       # outputs/ankang-2025/<latest>/appendix/
    write_appendix("ankang-2025", lang="en", formats=("md",))
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from sim.core.errors import InputError, Problem
from sim.reports.appendix.content import LANGS, build_content
from sim.reports.appendix.model import Appendix
from sim.reports.appendix.sources import (
    FigureSource,
    RunData,
    ScenarioInfo,
    load_run,
    scenario_info,
)

__all__ = ["FORMATS", "LANGS", "MARKER", "Appendix", "build_appendix", "build_content", "write_appendix"]

FORMATS = ("docx", "html", "md")
MARKER = "appendix.json"  # the content model as JSON; marks a folder as an ersim appendix
_KIND = "ersim-appendix"


def _formats(formats: str | Iterable[str]) -> list[str]:
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out: list[str] = []
    bad = []
    for f in (x.strip().lower() for x in items):
        f = "md" if f == "markdown" else f
        if not f:
            continue
        if f not in FORMATS:
            bad.append(f)
        elif f not in out:
            out.append(f)
    if bad or not out:
        raise InputError(Problem(f"unknown format {', '.join(repr(b) for b in bad) or '(none given)'}; valid: {', '.join(FORMATS)}"))
    return out


def is_appendix_folder(folder: Path) -> bool:
    """True when *folder* holds an appendix written by ersim (its appendix.json)."""
    marker = folder / MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("kind") == _KIND
    except (OSError, ValueError, AttributeError):
        return False


def default_folder(run: RunData, lang: str) -> Path:
    """``<run>/appendix/`` for Chinese, ``<run>/appendix-<lang>/`` for another language."""
    return run.folder / ("appendix" if lang == "zh" else f"appendix-{lang}")


def build_appendix(run: str | Path, compare: Iterable[str | Path] = (), lang: str = "zh") -> Appendix:
    """The content model of the appendix of *run* (a run folder, id, id prefix or scenario id)."""
    if lang not in LANGS:
        raise InputError(Problem(f"unknown language {lang!r}; valid: {', '.join(LANGS)}"))
    rd = load_run(run)
    comps = [load_run(c) for c in compare]
    info = scenario_info(rd)
    return build_content(rd, info, lang, comps, FigureSource(rd, info, lang))


def write_appendix(run: str | Path, compare: Iterable[str | Path] = (), formats: str | Iterable[str] = FORMATS,
                   lang: str = "zh", out: str | Path | None = None) -> list[Path]:
    """Write the appendix of *run* as DOCX/HTML/Markdown and return the files written.

    *out* defaults to ``<run folder>/appendix/`` (``appendix-en/`` for English). A folder that
    is neither empty nor an earlier appendix is refused (InputError); the appendix is written
    to a temporary folder and renamed into place, so an earlier appendix is replaced whole.
    """
    fmts = _formats(formats)
    if lang not in LANGS:
        raise InputError(Problem(f"unknown language {lang!r}; valid: {', '.join(LANGS)}"))
    rd = load_run(run)
    final = Path(out) if out is not None else default_folder(rd, lang)
    _check_target(final)
    comps = [load_run(c) for c in compare]
    info: ScenarioInfo = scenario_info(rd)
    app = build_content(rd, info, lang, comps, FigureSource(rd, info, lang))
    return _write(app, fmts, final)


def _check_target(final: Path) -> None:
    if final.exists() and (not final.is_dir() or (any(final.iterdir()) and not is_appendix_folder(final))):
        raise InputError(Problem("refusing to write into a folder that is neither empty nor an earlier appendix", str(final)))


def _write(app: Appendix, fmts: list[str], final: Path) -> list[Path]:
    from sim.reports.appendix.docx_writer import write_docx
    from sim.reports.appendix.html_writer import write_html
    from sim.reports.appendix.markdown_writer import write_markdown
    from sim.store.runs import atomic_folder

    names = {"docx": "appendix.docx", "html": "appendix.html", "md": "appendix.md"}
    with atomic_folder(final) as tmp:
        written = []
        for f in fmts:
            target = tmp / names[f]
            {"docx": write_docx, "html": write_html, "md": write_markdown}[f](app, target)
            written.append(names[f])
        payload = {"kind": _KIND, "formats": fmts, "files": written, **app.to_dict()}
        (tmp / MARKER).write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    return [final / n for n in written]
