"""The feasibility appendix (目标可达性分析) a planner submits, written from a run.

One content model (:func:`build_content`) is laid out as DOCX, HTML and Markdown, so the
three formats never disagree; every verdict is generated from the run's numbers.

    from sim.reports.appendix import write_appendix
    write_appendix("ankang-2025")                       # outputs/ankang-2025/appendix-<id>/
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
MARKER = "appendix.json"  # the content model as JSON


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

    *out* defaults to a new folder ``outputs/<scenario>/appendix-<id>/``. A folder that is
    neither empty nor an earlier ersim output is refused (InputError, nothing touched); the
    appendix is written to a temporary folder and renamed into place.
    """
    fmts = _formats(formats)
    if lang not in LANGS:
        raise InputError(Problem(f"unknown language {lang!r}; valid: {', '.join(LANGS)}"))
    from sim.store.folders import output_folder

    rd = load_run(run)
    if out is not None:
        output_folder("appendix", rd.scenario_id, out)  # refuse a foreign folder before any work
    comps = [load_run(c) for c in compare]
    info: ScenarioInfo = scenario_info(rd)
    app = build_content(rd, info, lang, comps, FigureSource(rd, info, lang))
    return _write(app, fmts, rd, comps, lang, out)


def _write(app: Appendix, fmts: list[str], rd: RunData, comps: list[RunData], lang: str, out: str | Path | None) -> list[Path]:
    from sim.reports.appendix.docx_writer import write_docx
    from sim.reports.appendix.html_writer import write_html
    from sim.reports.appendix.markdown_writer import write_markdown
    from sim.store.folders import OutputFolder, write_output

    names = {"docx": "appendix.docx", "html": "appendix.html", "md": "appendix.md"}
    written = [names[f] for f in fmts]

    def write(folder: OutputFolder) -> None:
        for f in fmts:
            {"docx": write_docx, "html": write_html, "md": write_markdown}[f](app, folder / names[f])
        payload = {"formats": fmts, "files": written, **app.to_dict()}
        (folder / MARKER).write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")

    man = {"run_id": rd.run_id, "run_folder": str(rd.folder), "compare": [c.run_id for c in comps],
           "scenario": rd.scenario_name, "scenario_id": rd.scenario_id, "lang": lang, "formats": fmts, "files": written}
    final = write_output("appendix", rd.scenario_id, write, man, out)
    return [final / n for n in written]
