"""Tables written as CSV: one way for every output, safe to open in Excel or WPS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.core import safe

__all__ = ["write_csv"]


def write_csv(df: Any, path: str | Path) -> Path:
    """Write the pandas DataFrame *df* as CSV at *path*: UTF-8 with a BOM (Excel on Chinese Windows
    reads the names), no index, and text that would start a formula written as text (safe.frame)."""
    safe.frame(df).to_csv(path, index=False, encoding="utf-8-sig")
    return Path(path)
