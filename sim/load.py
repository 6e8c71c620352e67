"""Reading a scenario file: YAML -> validated Scenario, every problem with file:line."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.errors import InputError, Problem
from sim.inventory import read_inventory
from sim.scenario import PoolSpec, Scenario
from sim.yamlio import LineMap

__all__ = ["load_scenario", "scenario_from_dict", "validation_problems"]


def _model_fields(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Field names valid at *loc* inside *model* (for 'did you mean')."""
    from pydantic import BaseModel

    cur: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(cur, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        nxt = None
        for cand in _candidates(ann):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                nxt = cand
                break
        if nxt is None:
            return []
        cur = nxt
    return list(getattr(cur, "model_fields", {}))


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


def validation_problems(exc: ValidationError, lines: LineMap, model: Any, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    """One Problem per pydantic error, located through the YAML line map."""
    problems: list[Problem] = []
    errors = exc.errors()
    tagged = [e for e in errors if any(_is_tag(x) for x in e["loc"])]
    for err in errors:
        raw = tuple(err["loc"])
        tags = [i for i, x in enumerate(raw) if _is_tag(x)]
        if tags and err["type"] in _UNION_NOISE:
            # a union branch that did not match (e.g. inventory: str | list): report it only
            # when no other branch had a more specific complaint at the same place
            head = raw[: tags[0]]
            if any(o is not err and tuple(o["loc"])[: len(head)] == head and o["type"] not in _UNION_NOISE for o in errors):
                continue
        loc = tuple(x for x in raw if not _is_tag(x))
        _ = tagged
        typ = err["type"]
        msg = err["msg"].removeprefix("Value error, ")
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
        problems.append(lines.problem((*prefix, *loc), msg))
    return problems


def _reference_problems(data: dict[str, Any], pools: list[Any] | None, lines: LineMap) -> list[Problem]:
    """Measures naming pools that do not exist, checked on the raw data so that they are
    reported together with schema problems (compile_model checks them on valid scenarios)."""
    if pools is None:
        return []
    ids = [p.get("id") for p in pools if isinstance(p, dict)]
    out: list[Problem] = []
    for i, m in enumerate(data.get("measures") or []):
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
    from sim.air import default_response_file, read_response

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
    from sim.variants import resolve, split_ref

    file, ref_variant = split_ref(path)
    data, lines = resolve(file, variant or ref_variant)
    scen = _validate(data, lines, file)
    if variant or ref_variant:
        scen._variant = variant or ref_variant
    return scen


def scenario_from_dict(data: dict[str, Any], base_dir: str | Path = ".") -> Scenario:
    """Validate a scenario given as a Python mapping (for scripts and tests)."""
    return _validate(data, LineMap("<dict>"), Path(base_dir) / "<dict>")


def _validate(data: Any, lines: LineMap, path: str | Path) -> Scenario:
    if not isinstance(data, dict):
        raise InputError(Problem("a scenario is a mapping of keys (name, region, base_year, years, inventory, measures, targets)", str(path), 1))
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
