"""Scenario inheritance: ``extends:`` another file (or ``file.yaml#variant``), and named
``variants:`` in one file. Resolved on the raw YAML, before validation.

Merging rules (a child over its parent):

* ``measures`` and ``targets`` merge by ``id``: a child entry with a known id updates only the
  fields it gives (quantity, schedule, completion ...); a new id is appended;
* ``remove_measures`` / ``remove_targets`` drop entries by id;
* ``coefficients`` and ``settings`` merge key by key; every other key replaces the parent's;
* a relative ``inventory`` (or ``air_quality.response``) path stays relative to the file that declared it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sim.core.errors import InputError, Problem
from sim.model.yamlio import LineMap, read_yaml

__all__ = ["extend_mapping", "resolve", "split_ref"]

_MERGED_BY_ID = ("measures", "targets")
_MERGED_BY_KEY = ("coefficients", "settings")
_CONTROL = ("extends", "remove_measures", "remove_targets", "variants")


def split_ref(ref: str | Path) -> tuple[Path, str | None]:
    """``'a.yaml#strong'`` -> (Path('a.yaml'), 'strong')."""
    text = str(ref)
    if "#" in text and not Path(text).exists():  # a '#' in a real file or folder name is part of the name
        file, _, variant = text.rpartition("#")
        return Path(file), variant or None
    return Path(text), None


def _absolute_lines(lines: LineMap) -> dict[tuple[Any, ...], Any]:
    return {k: (v if isinstance(v, tuple) else (lines.file, v)) for k, v in lines.lines.items()}


def _rekey(lines: dict[tuple[Any, ...], Any], old: tuple[Any, ...], new: tuple[Any, ...]) -> dict[tuple[Any, ...], Any]:
    n = len(old)
    return {(*new, *k[n:]): v for k, v in lines.items() if k[:n] == old}


def _merge(parent: dict[str, Any], plines: dict[tuple[Any, ...], Any], child: dict[str, Any],
           clines: dict[tuple[Any, ...], Any], where: LineMap) -> tuple[dict[str, Any], dict[tuple[Any, ...], Any]]:
    out = {k: v for k, v in parent.items() if k not in _CONTROL}
    lines = {k: v for k, v in plines.items() if not k or k[0] not in _CONTROL}
    problems: list[Problem] = []
    for key, value in child.items():
        if key in _CONTROL:
            continue
        if key in _MERGED_BY_ID and isinstance(value, list) and isinstance(out.get(key), list):
            merged = [dict(x) if isinstance(x, dict) else x for x in out[key]]
            mlines = {k: v for k, v in lines.items() if k[:1] == (key,)}
            lines = {k: v for k, v in lines.items() if k[:1] != (key,)}
            ids = {x["id"]: i for i, x in enumerate(merged) if isinstance(x, dict) and isinstance(x.get("id"), str)}
            for j, entry in enumerate(value):
                eid = entry["id"] if isinstance(entry, dict) and isinstance(entry.get("id"), str) else None
                if eid in ids:
                    i = ids[eid]
                    merged[i].update(entry)
                    mlines.update(_rekey(clines, (key, j), (key, i)))
                else:
                    merged.append(entry)
                    mlines.update(_rekey(clines, (key, j), (key, len(merged) - 1)))
                    if eid is not None:
                        ids[eid] = len(merged) - 1
            out[key] = merged
            lines.update(mlines)
        elif key in _MERGED_BY_KEY and isinstance(value, dict) and isinstance(out.get(key), dict):
            if key == "coefficients":
                problems.extend(_unit_changes(out[key], lines, value, clines))
            out[key] = {**out[key], **value}
            lines.update(_rekey(clines, (key,), (key,)))
        else:
            out[key] = value
            lines = {k: v for k, v in lines.items() if k[:1] != (key,)}
            lines.update(_rekey(clines, (key,), (key,)))
    for key, what in (("remove_measures", "measures"), ("remove_targets", "targets")):
        drop = child.get(key)
        if drop is None:
            continue
        if not isinstance(drop, list):
            problems.append(where.problem((key,), f"{key} is a list of {what[:-1]} ids"))
            continue
        if not isinstance(out.get(what, []), list):
            continue  # not a list of entries: validation says so
        have = [x.get("id") for x in out.get(what, []) if isinstance(x, dict)]
        for j, d in enumerate(drop):
            if d not in have:
                from sim.core.errors import did_you_mean

                problems.append(where.problem((key, j), f"no {what[:-1]} {d!r} to remove{did_you_mean(str(d), [str(h) for h in have])}"))
        keep = [i for i, x in enumerate(out.get(what, [])) if not (isinstance(x, dict) and x.get("id") in drop)]
        old = out.get(what, [])
        out[what] = [old[i] for i in keep]
        moved: dict[tuple[Any, ...], Any] = {k: v for k, v in lines.items() if k[:1] != (what,)}
        for new_i, old_i in enumerate(keep):
            moved.update(_rekey(lines, (what, old_i), (what, new_i)))
        lines = moved
        if what == "targets" and isinstance(out.get("assumptions"), list):
            # an inherited assumption no longer decides a target the child removed
            out["assumptions"] = [{**a, "decides": [t for t in a["decides"] if t not in drop]}
                                  if isinstance(a, dict) and isinstance(a.get("decides"), list) else a for a in out["assumptions"]]
    if problems:
        raise InputError(problems)
    return out, lines


def _unit_changes(parent: dict[str, Any], plines: dict[tuple[Any, ...], Any], child: dict[str, Any],
                  clines: dict[tuple[Any, ...], Any]) -> list[Problem]:
    """A child's redefinition of a coefficient its parent defines, in a unit of another dimension:
    refused at the child's unit (not where the key is used, perhaps in another file)."""
    from sim.core.units import parse_unit, split_quantity
    from sim.model.consistency import RULES

    def unit_of(c: Any) -> tuple[str, Any, str] | None:
        """(unit text, parsed unit, the key that gives it): 'unit', or the unit written in 'value' ('60%')."""
        if not isinstance(c, dict):
            return None
        try:
            if isinstance(c.get("unit"), str):
                return c["unit"], parse_unit(c["unit"]), "unit"
            if isinstance(c.get("value"), str):
                written = split_quantity(c["value"])[1]  # '60 mg/L' -> 'mg/L', as the value is read
                return written or "1", parse_unit(written), "value"
        except Exception:  # an unknown unit is reported by the coefficient's own check
            return None
        return None

    out = []
    for key, c in child.items():
        mine, theirs = unit_of(c), unit_of(parent.get(key))
        if mine is None or theirs is None or mine[1].dimensionality == theirs[1].dimensionality:
            continue
        pfile, pline = plines.get(("coefficients", key, theirs[2]), plines.get(("coefficients", key), ("", None)))
        file, line = clines.get(("coefficients", key, mine[2]), clines.get(("coefficients", key), ("", None)))
        at = f"{Path(pfile).name}:{pline}" if pline else Path(pfile).name
        msg = RULES["override-parent-unit"].text(unit=mine[0], parent_unit=theirs[0], key=key, at=at)
        out.append(Problem(msg, file or None, line, f"coefficients.{key}.{mine[2]}"))
    return out


def resolve(path: str | Path, variant: str | None = None, _stack: tuple[tuple[str, str | None], ...] = ()) -> tuple[Any, LineMap]:
    """The raw scenario data of *path* (or its *variant*), with every ``extends`` applied."""
    data, lines = read_yaml(path)
    me = (str(Path(path).resolve()), variant)
    if me in _stack:
        chain = " -> ".join(f"{Path(f).name}{'#' + v if v else ''}" for f, v in (*_stack, me))
        raise InputError(Problem(f"circular extends: {chain}", str(path), lines.line(("extends",))))
    stack = (*_stack, me)
    if not isinstance(data, dict):
        return data, lines
    variants = data.get("variants")
    if variant is not None:
        if not isinstance(variants, dict) or variant not in variants:
            from sim.core.errors import did_you_mean

            names = list(variants) if isinstance(variants, dict) else []
            raise InputError(Problem(f"no variant {variant!r}{did_you_mean(variant, names)}; variants here: {', '.join(names) or 'none'}",
                                     str(path), lines.line(("variants",))))
        body = variants[variant]
        if not isinstance(body, dict):
            raise InputError(lines.problem(("variants", variant), "a variant is a mapping of overrides"))
        blines = _rekey(_absolute_lines(lines), ("variants", variant), ())
        if "extends" in body:
            parent, plines = _load_parent(path, body["extends"], lines, ("variants", variant, "extends"), stack)
        else:  # a variant of this file's own scenario (itself perhaps extending another)
            base, base_map = resolve(path, None, stack)
            parent, plines = base, _absolute_lines(base_map)
        merged, mlines = _merge(parent, plines, body, blines, lines)
        if "id" not in body:  # runs of a variant get their own folder
            merged["id"] = f"{parent.get('id') or Path(path).stem}-{variant}"
        return merged, LineMap(str(path), mlines)
    if "extends" in data:
        parent, plines = _load_parent(path, data["extends"], lines, ("extends",), stack)
        merged, mlines = _merge(parent, plines, data, _absolute_lines(lines), lines)
        if "id" not in data:  # the child is its own scenario: its file name, not the parent's id
            merged.pop("id", None)
        return merged, LineMap(str(path), mlines)
    return {k: v for k, v in data.items() if k not in ("variants",)}, lines


def extend_mapping(data: dict[str, Any], path: Path) -> tuple[dict[str, Any], LineMap]:
    """A scenario mapping with ``extends`` applied, as if written in the file *path* (which need not
    exist: the parent is found relative to its folder)."""
    lines = LineMap(str(path))
    parent, plines = _load_parent(path, data["extends"], lines, ("extends",), ())
    merged, mlines = _merge(parent, plines, data, {}, lines)
    if "id" not in data:
        merged.pop("id", None)
    merged.pop("variants", None)
    # what the mapping sets has no line: its problems are said at the mapping, never at a parent's line
    mlines = {k: v for k, v in mlines.items() if k and k[0] not in data}
    return merged, LineMap(str(path), mlines)


def _load_parent(path: str | Path, ref: Any, lines: LineMap, at: tuple[Any, ...],
                 stack: tuple[tuple[str, str | None], ...]) -> tuple[dict[str, Any], dict[tuple[Any, ...], Any]]:
    if not isinstance(ref, str) or not ref.strip():
        raise InputError(lines.problem(at, "extends names a scenario file, 'file.yaml#variant' or '#variant'"))
    file, variant = split_ref(ref)
    target = Path(path) if str(file) in ("", ".") else (file if file.is_absolute() else Path(path).parent / file)
    if not target.is_file():
        raise InputError(lines.problem(at, f"file {str(file)!r} not found (relative to {Path(path).parent})"))
    pdata, plines = resolve(target, variant, stack)
    if not isinstance(pdata, dict):
        raise InputError(lines.problem(at, f"{ref!r} is not a scenario mapping"))
    inv = pdata.get("inventory")
    if isinstance(inv, str) and not Path(inv).is_absolute():
        # keep the parent's inventory where the parent said it is, seen from the child's folder
        pdata["inventory"] = os.path.relpath(target.parent / inv, Path(path).parent)
    aq = pdata.get("air_quality")
    if isinstance(aq, dict) and isinstance(aq.get("response"), str) and not Path(aq["response"]).is_absolute():
        # the same for the parent's PM2.5 response file
        pdata["air_quality"] = {**aq, "response": os.path.relpath(target.parent / aq["response"], Path(path).parent)}
    return pdata, _absolute_lines(plines)
