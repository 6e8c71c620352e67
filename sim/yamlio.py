"""Safe YAML reading that remembers where every key stands (file:line for error messages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.errors import InputError, Problem

__all__ = ["MAX_INPUT_BYTES", "LineMap", "read_yaml"]

MAX_INPUT_BYTES = 5 * 1024 * 1024  # a scenario is text a planner writes; 5 MiB is generous


class LineMap:
    """Maps a key path (``('measures', 2, 'quantity')``) to its line in the source file."""

    def __init__(self, file: str, lines: dict[tuple[Any, ...], Any] | None = None, prefix: tuple[Any, ...] = ()):
        self.file = file
        # a value is a line in *file*, or (other file, line) for keys inherited through `extends`
        self.lines: dict[tuple[Any, ...], Any] = lines or {}
        self.prefix = prefix

    def where(self, path: tuple[Any, ...] | list[Any]) -> tuple[str, int | None]:
        """(file, line) of *path*, or of its nearest enclosing key that has one."""
        p = (*self.prefix, *path)
        while True:
            if p in self.lines:
                v = self.lines[p]
                return (v[0], v[1]) if isinstance(v, tuple) else (self.file, v)
            if not p:
                return self.file, None
            p = p[:-1]

    def line(self, path: tuple[Any, ...] | list[Any]) -> int | None:
        """Line of *path*, or of its nearest enclosing key that has one."""
        return self.where(path)[1]

    def problem(self, path: tuple[Any, ...] | list[Any], message: str) -> Problem:
        file, line = self.where(path)
        return Problem(message, file, line, dotted((*self.prefix, *path)))


def dotted(path: tuple[Any, ...] | list[Any]) -> str:
    """``('measures', 2, 'quantity')`` -> ``measures[2].quantity``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            lines[(*path, key)] = k.start_mark.line + 1
            _walk(v, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            lines[(*path, i)] = v.start_mark.line + 1
            _walk(v, (*path, i), lines)


def read_yaml(path: str | Path) -> tuple[Any, LineMap]:
    """Read *path* with ``yaml.safe_load``; InputError (with line) on anything but clean YAML."""
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise InputError(Problem("file not found", name))
    size = p.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise InputError(Problem(f"file is {size / 2**20:.0f} MiB; a scenario must be under {MAX_INPUT_BYTES // 2**20} MiB", name))
    raw = p.read_bytes()
    if b"\x00" in raw:
        raise InputError(Problem("is a binary file, not YAML text", name))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(Problem("is not UTF-8 text (save the scenario as UTF-8)", name)) from None
    if not text.strip():
        raise InputError(Problem("is empty: a scenario needs at least name, region, base_year, years, inventory", name))
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = (exc.problem or str(exc)).strip()
        if "\t" in msg or "tab" in msg.lower():
            msg += " (YAML indents with spaces, not tabs)"
        if exc.problem and "constructor" in type(exc).__name__.lower():
            msg = f"{msg}: YAML tags such as !!python/object are not allowed in a scenario"
        raise InputError(Problem(f"invalid YAML: {msg}", name, line)) from None
    except yaml.YAMLError as exc:
        raise InputError(Problem(f"invalid YAML: {exc}", name)) from None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, LineMap(name, lines)
