"""Reading a scenario file: YAML -> validated Scenario, every problem with file:line."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.core.errors import InputError, Problem
from sim.model.inventory import read_inventory
from sim.model.scenario import PoolSpec, Scenario
from sim.model.textio import is_file, near_file
from sim.model.yamlio import LineMap

__all__ = ["load_scenario", "scenario_from_dict", "validation_problems"]


def _walk_model(model: Any, loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """(model class at *loc* or None, FieldInfo of the last key of *loc* or None)."""
    from pydantic import BaseModel

    cur: Any = model
    info: Any = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(cur, "model_fields", None) if cur is not None else None
        if not fields or part not in fields:
            return None, None
        info = fields[part]
        cur = next((c for c in _candidates(info.annotation) if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return cur, info


def _model_fields(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Field names valid at *loc* inside *model* (for 'did you mean')."""
    cur, _ = _walk_model(model, loc)
    return list(getattr(cur, "model_fields", {})) if cur is not None else []


def _candidates(ann: Any) -> list[Any]:
    import typing

    out = [ann]
    for a in typing.get_args(ann):
        out.extend(_candidates(a))
    return out


_UNION_NOISE = {"string_type", "list_type", "float_type", "int_type", "dict_type", "float_parsing", "model_type", "bool_type"}


def _is_tag(x: Any) -> bool:
    """pydantic's union-branch and validator tags in an error location (not field names)."""
    return isinstance(x, str) and (x in ("str", "float", "int") or x.startswith(("function-", "list[", "dict[", "constrained-")) or x[:1].isupper())


_TYPE_ERRORS = {"string_type", "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing",
                "bool_type", "bool_parsing", "list_type", "dict_type", "model_type", "model_attributes_type"}
_WORD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\b|'([A-Za-z_][A-Za-z0-9_]*)'")


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _named_field(model: Any, loc: tuple[Any, ...], msg: str) -> tuple[Any, ...]:
    """A model-level error ("quantity must not be negative") located at the field it names.

    Model validators cannot say which field they mean; the message can. Its first word, or
    else the first quoted word, when that is a field of the model at *loc*.
    """
    fields = _model_fields(model, loc)
    if not fields:
        return loc
    for m in _WORD.finditer(msg):
        word = m.group(1) or m.group(2)
        if word in fields:
            return (*loc, word)
        if m.group(1):
            continue
    return loc


def validation_problems(exc: ValidationError, lines: LineMap, model: Any, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    """One Problem per pydantic error, located through the YAML line map.

    A union (``inventory: str | list``) yields one error per branch: a branch that failed at
    the union itself is dropped when another branch got further, and branches that all failed
    at the same place are merged into one problem ("a valid string or a valid list").
    """
    problems: list[Problem] = []
    errors = exc.errors()
    stripped = [tuple(x for x in e["loc"] if not _is_tag(x)) for e in errors]
    merged: dict[tuple[Any, ...], int] = {}
    for n, err in enumerate(errors):
        raw = tuple(err["loc"])
        loc = stripped[n]
        typ = err["type"]
        msg = err["msg"].removeprefix("Value error, ")
        tags = [i for i, x in enumerate(raw) if _is_tag(x)]
        if tags and typ in _UNION_NOISE:
            head = raw[: tags[0]]
            others = [o for o in range(len(errors)) if o != n and tuple(errors[o]["loc"])[: len(head)] == head]
            if any(errors[o]["type"] not in _UNION_NOISE or len(stripped[o]) > len(loc) for o in others):
                continue
            if loc in merged:  # the same place, another branch: one problem naming both
                i = merged[loc]
                p = problems[i]
                problems[i] = Problem(p.message.replace(", got ", f" or {msg.removeprefix('Input should be ')}, got ", 1), p.file, p.line, p.path)
                continue
        if typ == "extra_forbidden":
            key = str(loc[-1]) if loc else ""
            valid = _model_fields(model, loc[:-1])
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"unknown key {key!r}{hint}; valid keys here: {', '.join(valid)}" if valid else f"unknown key {key!r}"
        elif typ == "literal_error":
            ctx = err.get("ctx", {})
            expected = str(ctx.get("expected", ""))
            got = err.get("input")
            opts = [o.strip(" '") for o in expected.replace(" or ", ",").split(",")]
            close = difflib.get_close_matches(str(got), opts, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"{got!r} is not allowed{hint}; valid: {expected}"
        elif typ == "missing":
            msg = f"required key {loc[-1]!r} is missing" if loc else msg
        elif typ in _TYPE_ERRORS:
            _, info = _walk_model(model, loc)
            about = f"; {loc[-1]}: {info.description}" if info is not None and info.description and loc else ""
            got = _shown(err.get("input"))
            msg = f"{msg}: {got}{about}" if ", got " in msg else f"{msg}, got {got}{about}"
        elif typ in ("value_error", "assertion_error"):
            loc = _named_field(model, loc, msg)
        if tags and typ in _UNION_NOISE:
            merged[loc] = len(problems)
        problems.append(lines.problem((*prefix, *loc), msg))
    return problems


def _reference_problems(data: dict[str, Any], pools: list[Any] | None, lines: LineMap) -> list[Problem]:
    """Measures naming pools that do not exist, checked on the raw data so that they are
    reported together with schema problems (compile_model checks them on valid scenarios)."""
    if pools is None:
        return []
    ids = [p.get("id") for p in pools if isinstance(p, dict)]
    out: list[Problem] = []
    measures = data.get("measures")
    for i, m in enumerate(measures if isinstance(measures, list) else []):
        if not isinstance(m, dict):
            continue
        for key in ("pool", "to", "replaced_by"):
            ref = m.get(key)
            if isinstance(ref, str) and ref not in ids:
                close = difflib.get_close_matches(ref, [x for x in ids if isinstance(x, str)], n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                out.append(lines.problem(("measures", i, key), f"unknown pool {ref!r}{hint}"))
    return out


def _air_problems(scen: Scenario, path: str | Path, lines: LineMap) -> list[Problem]:
    """Read the PM2.5 response a concentration target needs (into scen._air)."""
    from sim.model.air import default_response_file, read_response

    conc = [i for i, t in enumerate(scen.targets) if t.kind == "concentration"]
    if not conc:
        return []
    if scen.air_quality is None:
        return [lines.problem(("targets", conc[0], "kind"),
                              "a concentration target needs an 'air_quality' section (region, and the response file or defaults)")]
    aq = scen.air_quality
    file = Path(aq.response) if aq.response else default_response_file()
    if aq.response and not file.is_absolute():
        file = Path(path).parent / file
    if aq.response and not is_file(file):
        return [lines.problem(("air_quality", "response"), f"PM2.5 response file {aq.response!r} not found (relative to the scenario's "
                                                            f"folder {str(Path(path).parent)!r}){near_file(file)}")]
    try:
        scen._air = read_response(file, aq.region)
    except InputError as exc:
        return [Problem(p.message, p.file, p.line, p.path or "air_quality") for p in exc.problems]
    if scen._air.base is None and aq.base_concentration is None:
        return [lines.problem(("air_quality",), f"no base concentration for {aq.region} in {file}; give air_quality.base_concentration with its source")]
    return []


def load_scenario(path: str | Path, variant: str | None = None) -> Scenario:
    """Load and validate a scenario (and its inventory file); InputError lists every problem.

    *path* may name a variant as ``file.yaml#variant``; ``extends:`` chains are resolved.
    """
    from sim.model.variants import resolve, split_ref

    file, ref_variant = split_ref(path)
    data, lines = resolve(file, variant or ref_variant)
    scen = _validate(data, lines, file)
    if variant or ref_variant:
        scen._variant = variant or ref_variant
    return scen


def scenario_from_dict(data: dict[str, Any], base_dir: str | Path = ".") -> Scenario:
    """Validate a scenario given as a Python mapping (for scripts and tests), as a file of the same
    keys in *base_dir* would be: ``extends`` resolved (against *base_dir*), text with control
    characters refused."""
    from sim.model.variants import extend_mapping
    from sim.model.yamlio import control_problems

    where = Path(base_dir) / "<dict>"
    found = control_problems(data, "<dict>")
    if found:
        raise InputError(found)
    if isinstance(data, dict) and "extends" in data:
        merged, lines = extend_mapping(data, where)
        return _validate(merged, lines, where)
    return _validate(data, LineMap("<dict>"), where)


def _validate(data: Any, lines: LineMap, path: str | Path) -> Scenario:
    if not isinstance(data, dict):
        raise InputError(Problem("a scenario is a mapping of keys (name, region, base_year, years, inventory, measures, targets)",
                                 str(path), lines.line(()) or 1))
    problems: list[Problem] = []
    inv_pools: list[dict[str, Any]] | None = None
    inv_lines: LineMap | None = None
    inv_hash: str | None = None
    inv_path: str | None = None
    inv = data.get("inventory")
    if isinstance(inv, str):
        p = Path(inv)
        if not p.is_absolute():
            p = Path(path).parent / p
        inv_path = str(p)
        if not inv.strip() or not is_file(p):  # said where the scenario names it, not as a bare path
            problems.append(lines.problem(("inventory",), f"inventory file {inv!r} not found (relative to the scenario's folder "
                                                          f"{str(Path(path).parent)!r}){near_file(p)}"))
        else:
            try:
                inv_pools, inv_lines, inv_hash = read_inventory(p)
            except InputError as exc:
                problems.extend(exc.problems)
    scen: Scenario | None = None
    try:
        scen = Scenario.model_validate(data)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, lines, Scenario))
        pool_list = inv_pools if inv_pools is not None else (inv if isinstance(inv, list) else None)
        problems.extend(_reference_problems(data, pool_list, lines))
    pools: list[PoolSpec] = []
    if inv_pools is not None and inv_lines is not None:
        for i, raw in enumerate(inv_pools):
            try:
                pools.append(PoolSpec.model_validate(raw))
            except ValidationError as exc:
                problems.extend(validation_problems(exc, inv_lines, PoolSpec, (i,)))
    if scen is not None:
        problems.extend(_air_problems(scen, path, lines))
    if scen is not None and lines.file != "<dict>":
        # runs go to outputs/<id or file name>/: a name that is hidden or leaves the folder is refused here,
        # before anything is computed (ids are checked by the schema; file names are not)
        slug = scen.id or Path(path).stem
        if slug.startswith(".") or any(c in slug for c in "/\\\0"):
            what = "id" if scen.id else "file name"
            problems.append(lines.problem(("id",), f"the {what} {slug!r} cannot name a run folder under outputs/ (hidden, or a path); "
                                                   "give the scenario an 'id:' of letters, digits, '-', '_' and '.'"))
    if problems or scen is None:
        raise InputError(problems)
    scen._path = str(path) if lines.file != "<dict>" else None
    scen._lines = lines
    if inv_pools is not None:
        scen._pools = pools
        scen._inventory_lines = inv_lines
        scen._inventory_hash = inv_hash
        scen._inventory_path = inv_path
    else:
        scen._inventory_lines = LineMap(lines.file, lines.lines, prefix=("inventory",))
    return scen
