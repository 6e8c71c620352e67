"""Text that leaves ersim safely: spreadsheet cells that cannot become formulas, console text
without control sequences, and names that may become file or folder names.

Scenario names, measure names and region names are free text a planner (or a received file)
writes; they reach CSV/xlsx cells (where ``=``, ``+``, ``-``, ``@`` start a live formula in
Excel/WPS), the terminal (where ``ESC [`` sequences move the cursor or rewrite lines) and paths.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["cell", "console", "control_in", "frame", "path_part"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # and their full-width forms
_NUMBER = re.compile(r"^[+-]?(\d[\d,]*\.?\d*|\.\d+)([eE][+-]?\d+)?\s*%?$")
# ANSI escape sequences (CSI, OSC, single-character), then any remaining C0/C1 control but \n and \t
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# what input text may not hold: C0/C1 controls but tab, newline and carriage return, and the
# bidirectional overrides that make text display other than it reads
_INPUT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def control_in(text: str) -> str | None:
    """A message naming the first control character in *text* (as ``U+0007``), or None: names and
    labels are refused with one on input, since DOCX/XLSX cannot hold most of them."""
    m = _INPUT_CONTROL.search(text)
    if m is None:
        return None
    return (f"contains the control character U+{ord(m.group()):04X} (at character {m.start() + 1}), pasted or escaped "
            "from another program; remove it")


def cell(value: Any) -> Any:
    """A spreadsheet cell that shows *value* as text: a string that would start a formula gets a
    leading apostrophe (numbers written as text, such as '-5', stay as they are)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def frame(df: Any) -> Any:
    """A copy of a pandas DataFrame whose text cells and column names are safe spreadsheet cells."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or str(out[c].dtype) in ("string", "str"):
            try:  # each distinct value once: long tables repeat their names thousands of times
                changed = {v: cell(v) for v in out[c].unique() if isinstance(v, str) and cell(v) != v}
            except TypeError:  # unhashable cells
                out[c] = out[c].map(cell)
                continue
            if changed:
                out[c] = out[c].map(lambda v, changed=changed: changed.get(v, v) if isinstance(v, str) else v)
    out.columns = [cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def console(text: Any) -> str:
    """*text* without terminal escape sequences and control characters (newlines and tabs kept)."""
    return _CONTROL.sub("", _ANSI.sub("", str(text)))


_UNSAFE_PATH = re.compile(r"[^0-9A-Za-z_.\-\u4e00-\u9fff]+")


def path_part(name: Any, default: str = "item") -> str:
    """One safe file or folder name from *name* (never '..', a separator or hidden)."""
    out = _UNSAFE_PATH.sub("-", console(name)).strip("-.")
    return out[:100] or default
