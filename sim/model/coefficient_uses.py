"""Which example scenarios use a coefficient, directly or through the derived rows that rest on it.

``ersim coefficients show KEY`` lists them. A scenario uses a key when its file, a file it
extends, or its inventory names the key, or names a derived row whose formula reaches the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["scenario_uses"]

_TOKEN = re.compile(r"[a-z][a-z0-9_]*")
_REF = re.compile(r"^(inventory|extends):\s*['\"]?([^'\"#\s]+)", re.M)


def _texts(path: Path, seen: set[Path]) -> list[str]:
    """The scenario's text, plus the texts of its inventory file and the scenarios it extends."""
    path = path.resolve()
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    out = [text]
    for kind, ref in _REF.findall(text):
        target = (path.parent / ref).resolve()
        if kind == "extends" and target.suffix in (".yaml", ".yml"):
            out += _texts(target, seen)
        elif kind == "inventory" and target.is_file():
            out.append(target.read_text(encoding="utf-8", errors="replace"))
    return out


def _reaches(lib: Any, name: str, key: str, memo: dict[str, bool]) -> bool:
    if name == key:
        return True
    if name in memo:
        return memo[name]
    memo[name] = False
    from sim.model.coefficients import formula_names

    f = lib[name].formula
    memo[name] = bool(f) and any(n in lib and _reaches(lib, n, key, memo) for n in formula_names(f))
    return memo[name]


def scenario_uses(key: str, folder: Path, lib: Any) -> list[str]:
    """``['a.yaml', 'b.yaml (via derived_row)']`` for the example scenarios in *folder*."""
    out: list[str] = []
    memo: dict[str, bool] = {}
    for f in sorted(Path(folder).glob("*.yaml")):
        names = {t for text in _texts(f, set()) for t in _TOKEN.findall(text) if t in lib}
        if key in names:
            out.append(f.name)
            continue
        via = sorted(n for n in names if _reaches(lib, n, key, memo))
        if via:
            shown = ", ".join(via[:3]) + (" …" if len(via) > 3 else "")
            out.append(f"{f.name} (via {shown})")
    return out
