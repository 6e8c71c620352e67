"""Safe YAML reading that remembers where every key stands (file:line for error messages)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sim.core.errors import InputError, Problem
from sim.core.safe import control_in
from sim.model.textio import decode, read_source

__all__ = ["MAX_INPUT_BYTES", "LineMap", "control_problems", "read_yaml"]

MAX_INPUT_BYTES = 5 * 1024 * 1024  # a scenario is text a planner writes; 5 MiB is generous


class LineMap:
    """Maps a key path (``('measures', 2, 'quantity')``) to its line in the source file."""

    def __init__(self, file: str, lines: dict[tuple[Any, ...], Any] | None = None, prefix: tuple[Any, ...] = (),
                 label: Callable[[tuple[Any, ...]], str] | None = None):
        self.file = file
        # how a key path reads in messages (a table names a column and a row, not a path)
        self.label = label
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
        full = (*self.prefix, *path)
        return Problem(message, file, line, (self.label(full) if self.label else "") or dotted(full))


def dotted(path: tuple[Any, ...] | list[Any]) -> str:
    """``('measures', 2, 'quantity')`` -> ``measures[2].quantity``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


MAX_VALUES = 200_000  # values after expanding anchors and aliases (a scenario has a few thousand)
MAX_DEPTH = 64  # nesting levels (a scenario needs about six)


# libyaml's parser when PyYAML was built with it (about 10x faster on large scenarios)
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_STR = "tag:yaml.org,2002:str"
#: the tag a scalar's text resolves to (keys, units and words repeat across a scenario and across files)
_TAGS: dict[tuple[str, Any], str] = {}


class _Loader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader whose value errors (a date such as 2022-06-31, a 5000-digit integer) carry a line."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _TAGS.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_TAGS) < 65536 and len(value) <= 200:  # short texts only: a bounded cache
                _TAGS[key] = tag
        return tag

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node.__class__ is yaml.ScalarNode and node.tag == _STR:
            return node.value  # what SafeConstructor makes of a string, without its bookkeeping
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            text = str(getattr(node, "value", ""))
            text = text if len(text) <= 40 else text[:37] + "..."
            why = str(exc).split(";")[0]
            raise yaml.constructor.ConstructorError(None, None, f"cannot read {text!r}: {why}", node.start_mark) from None


_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
#: key tags a mapping is built with directly; others ("<<" merge, "=" value, ...) PyYAML's constructor handles
_PLAIN_KEYS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp"))


def _build(loader: _Loader, node: yaml.Node) -> Any:
    """The Python value of *node* in a document without anchors: what ``construct_document`` gives.

    Plain sequences and mappings whose keys are plain scalars (strings, numbers, booleans, null,
    dates) are built here; scalars that are not strings, and anything else, by the loader itself.
    A tree has no alias, so no object is shared that the loader would have built once."""
    cls = node.__class__
    if cls is yaml.ScalarNode:
        return node.value if node.tag == _STR else loader.construct_object(node, deep=True)
    if cls is yaml.SequenceNode and node.tag == _SEQ:
        return [_build(loader, v) for v in node.value]
    if cls is yaml.MappingNode and node.tag == _MAP and all(
            k.__class__ is yaml.ScalarNode and k.tag in _PLAIN_KEYS for k, _ in node.value):
        return {_build(loader, k): _build(loader, v) for k, v in node.value}
    return loader.construct_object(node, deep=True)


def _check_size(root: yaml.Node, name: str) -> None:
    """Refuse alias bombs, self-referencing anchors and absurd nesting before constructing."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        line = node.start_mark.line + 1
        if key in active:
            raise InputError(Problem("an anchor refers to itself (a recursive alias); write the values out", name, line))
        if depth > MAX_DEPTH:
            raise InputError(Problem(f"nested more than {MAX_DEPTH} levels deep", name, line))
        total = 1
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            active.add(key)
            children = [c for kv in node.value for c in kv] if isinstance(node, yaml.MappingNode) else node.value
            for child in children:
                total += size(child, depth + 1)
                if total > MAX_VALUES:
                    raise InputError(Problem(f"expands to more than {MAX_VALUES:,} values (anchors and aliases repeated "
                                             "inside each other?); a scenario is far smaller", name, line))
            active.discard(key)
        sizes[key] = total
        return total

    size(root, 0)


class _Budget:
    """The size limits of :func:`_check_size`, kept by :func:`_walk` itself on a document without
    anchors (a tree: no alias to expand, none to recurse through), which then needs no pass of its own."""

    def __init__(self, name: str):
        self.name, self.left = name, MAX_VALUES

    def spend(self, node: yaml.Node, depth: int, n: int = 1) -> None:
        if depth > MAX_DEPTH:
            raise InputError(Problem(f"nested more than {MAX_DEPTH} levels deep", self.name, node.start_mark.line + 1))
        self.left -= n
        if self.left < 0:
            raise InputError(Problem(f"expands to more than {MAX_VALUES:,} values; a scenario is far smaller", self.name,
                                     node.start_mark.line + 1))


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int], dupes: list[Problem],
          budget: _Budget | None = None) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if budget is not None:
        budget.spend(node, len(path), 1 + (len(node.value) if isinstance(node, yaml.MappingNode) else 0))  # keys too
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for k, v in node.value:
            line = k.start_mark.line + 1
            if isinstance(k, yaml.ScalarNode):
                key: Any = k.value
                if k.value != "<<" and (k.tag, k.value) in seen:
                    first = seen[(k.tag, k.value)]
                    dupes.append(Problem(f"duplicate key {k.value!r} (first at line {first}); YAML would keep only the last, silently",
                                         "", line, dotted((*path, key))))
                seen.setdefault((k.tag, k.value), line)
                if k.tag.endswith(":int") and k.value.isdigit():
                    lines[(*path, int(k.value))] = line  # pydantic reports {2025: ...} keys as ints
            else:
                if budget is not None:
                    _check_size(k, budget.name)  # a complex key is not walked: sized on its own
                key = str(k)
            lines[(*path, key)] = line
            _walk(v, (*path, key), lines, dupes, budget)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            lines[(*path, i)] = v.start_mark.line + 1
            _walk(v, (*path, i), lines, dupes, budget)


def control_problems(data: Any, name: str) -> list[Problem]:
    """A problem for every key or text of *data* (a scenario mapping given in Python) holding a control character."""
    return _control_characters(data, (), {}, name)


def _control_characters(value: Any, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int], name: str) -> list[Problem]:
    """A problem for every key or text holding a control character (``"\\u0007"`` in a quoted scalar)."""
    out: list[Problem] = []
    if isinstance(value, str):
        why = control_in(value)
        if why:
            out.append(Problem(why, name, lines.get(path), dotted(path)))
    elif isinstance(value, dict):
        for k, v in value.items():
            why = control_in(k) if isinstance(k, str) else None
            if why:
                out.append(Problem(f"key {why}", name, lines.get((*path, k)), dotted(path)))
            out += _control_characters(v, (*path, k), lines, name)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _control_characters(v, (*path, i), lines, name)
    return out


# a key typed with a Chinese input method: `name：` (full-width colon) after an ASCII key, at the
# start of a line (block mapping) or after '{' or ',' on a line that opens a flow mapping
_FULLWIDTH_KEY = re.compile(r"^([ ]*(?:-[ ]+)?)([A-Za-z_][A-Za-z0-9_.]*)[ ]*：[ \u3000]*")
_FULLWIDTH_FLOW_KEY = re.compile(r"([{,][ ]*)([A-Za-z_][A-Za-z0-9_.]*)[ ]*：[ \u3000]*")


def _key_colons(line: str) -> str:
    if "：" not in line:
        return line
    line = _FULLWIDTH_KEY.sub(lambda m: f"{m.group(1)}{m.group(2)}: ", line)
    brace = line.find("{")
    if brace >= 0 and "#" not in line[:brace]:
        line = line[:brace] + _FULLWIDTH_FLOW_KEY.sub(lambda m: f"{m.group(1)}{m.group(2)}: ", line[brace:])
    return line
_FULLWIDTH_INDENT = re.compile(r"^[ ]*\u3000[ \u3000]*", re.M)


def _input_method(text: str, name: str) -> str:
    """Full-width colons after keys become ASCII (unambiguous); an indentation with full-width
    spaces (U+3000) is refused on its line, since its width is not defined."""
    problems = []
    for m in _FULLWIDTH_INDENT.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        problems.append(Problem("indentation uses a full-width space (U+3000, typed with a Chinese input method); "
                                "indent with ASCII spaces", name, line))
    if problems:
        raise InputError(problems)
    return "".join(_key_colons(line) for line in text.splitlines(keepends=True))


def read_yaml(path: str | Path) -> tuple[Any, LineMap]:
    """Read *path* as safe YAML; InputError (with line) on anything but clean YAML.

    Beyond ``yaml.safe_load``: duplicate keys are errors (YAML keeps the last silently), and
    alias bombs, recursive anchors and deep nesting are refused before they are expanded.
    """
    name = str(path)
    raw = read_source(path, "scenario file", MAX_INPUT_BYTES)
    text = decode(raw, name, "scenario file", ("utf-8-sig",), "save the scenario as UTF-8")
    if not text.strip():
        raise InputError(Problem("is empty: a scenario needs at least name, region, base_year, years, inventory", name))
    text = _input_method(text, name)
    lines: dict[tuple[Any, ...], int] = {}
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        data = None
        if node is not None:
            budget = None
            if "&" in text:  # anchors (and so aliases) possible: size the expansion before walking it
                _check_size(node, name)
            else:
                budget = _Budget(name)
            dupes: list[Problem] = []
            _walk(node, (), lines, dupes, budget)
            if dupes:  # an anchored mapping walked twice reports its duplicate once
                raise InputError(list({(p.line, p.message): Problem(p.message, name, p.line, p.path) for p in dupes}.values()))
            data = loader.construct_document(node) if budget is None else _build(loader, node)
            # control characters reach a value only through an escape ("\u0007") or as C1/bidi
            # characters YAML itself allows: the walk is skipped when the text has neither
            found = _control_characters(data, (), lines, name) if "\\" in text or control_in(text) else []
            if found:
                raise InputError(found)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = (exc.problem or str(exc)).strip()
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            msg += f" ({exc.context} at line {exc.context_mark.line + 1})"  # where the unclosed [ { or quote began
        src = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
        if "\t" in src or "\\t" in msg:
            msg += " (YAML indents with spaces, not tabs)"
        if "could not determine a constructor" in msg:
            msg = f"{msg}: YAML tags such as !!python/object are not allowed in a scenario"
        raise InputError(Problem(f"invalid YAML: {msg}", name, line)) from None
    except yaml.reader.ReaderError as exc:  # a control character, e.g. pasted from a PDF
        # libyaml's position counts UTF-8 bytes, PyYAML's own reader characters
        before = text.encode("utf-8")[: exc.position].decode("utf-8", "ignore") if _BaseLoader is not yaml.SafeLoader else text[: exc.position]
        line = before.count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise InputError(Problem(f"invalid YAML: control character #x{code:04x} is not allowed in YAML text", name, line)) from None
    except yaml.YAMLError as exc:
        raise InputError(Problem(f"invalid YAML: {exc}", name)) from None
    except RecursionError:
        raise InputError(Problem("invalid YAML: nested too deeply", name)) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, LineMap(name, lines)
