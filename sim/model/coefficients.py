"""The coefficient library: cited numbers with units and ranges, looked up by key.

Tables live in ``coefficients/*.csv`` (one per domain); ``derived.csv`` holds coefficients
computed from others by a formula (``steam_ton_coal_per_h * boiler_flh_industrial``), with
units carried through by pint. :func:`load_library` validates every rule and raises one
InputError listing every problem; :meth:`Library.check` returns them instead.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import hashlib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pint

from sim.core.errors import InputError, Problem, UnitError, did_you_mean
from sim.core.pollutants import POLLUTANTS, canonical_pollutant
from sim.core.uncertainty import lognormal_problem
from sim.core.units import Q_, parse_unit
from sim.model.textio import csv_records, decode, read_source, table_rows

__all__ = [
    "COLUMNS",
    "DERIVED_COLUMNS",
    "Coefficient",
    "Library",
    "default_coefficients_dir",
    "eval_formula",
    "load_library",
]

COLUMNS = (
    "key",
    "description_zh",
    "description_en",
    "pollutant",
    "value",
    "unit",
    "low",
    "high",
    "distribution",
    "basis",
    "source",
    "note",
)
DERIVED_COLUMNS = (
    "key",
    "description_zh",
    "description_en",
    "pollutant",
    "formula",
    "unit",
    "basis",
    "source",
    "note",
)
BASES = {"V": "verified", "S": "standard", "D": "derived", "E": "engineering estimate", "U": "unverified"}
DISTRIBUTIONS = ("triangular", "uniform", "lognormal", "fixed")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_TABLE_BYTES = 5 * 2**20  # a table of cited coefficients is a few hundred kB at most


@dataclass(frozen=True)
class Coefficient:
    """One cited number. ``value``/``low``/``high`` are in ``unit``; derived rows carry a formula."""

    key: str
    value: float
    unit: str
    source: str
    basis: str = "E"
    pollutant: str = "-"
    low: float | None = None
    high: float | None = None
    distribution: str = "fixed"
    description_zh: str = ""
    description_en: str = ""
    note: str = ""
    domain: str = ""
    file: str = ""
    row: int = 0
    formula: str | None = None
    overridden: bool = False

    @property
    def quantity(self) -> pint.Quantity:
        return Q_(self.value, parse_unit(self.unit))

    @property
    def uncertain(self) -> bool:
        return (
            self.formula is None
            and self.distribution != "fixed"
            and self.low is not None
            and self.high is not None
            and self.high > self.low
        )

    @property
    def description(self) -> str:
        return self.description_zh or self.description_en


@dataclass
class Library:
    """All coefficients by key, plus the SHA-256 of every table read."""

    coefficients: dict[str, Coefficient] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    directory: str = ""

    def __contains__(self, key: object) -> bool:
        return key in self.coefficients

    def __getitem__(self, key: str) -> Coefficient:
        try:
            return self.coefficients[key]
        except KeyError:
            raise KeyError(key) from None

    def keys(self) -> list[str]:
        return list(self.coefficients)

    def quantity(self, key: str) -> pint.Quantity:
        """The central value of *key* as a pint Quantity in its table unit."""
        return self[key].quantity

    def dependencies(self, key: str) -> list[str]:
        """Base (non-derived) keys that *key* rests on, itself included if it is a base key."""
        seen: list[str] = []

        def visit(k: str) -> None:
            c = self.coefficients[k]
            if c.formula is None:
                if k not in seen:
                    seen.append(k)
                return
            for name in formula_names(c.formula):
                visit(name)

        visit(key)
        return seen

    def evaluate(
        self, key: str, values: Mapping[str, np.ndarray | float] | None = None
    ) -> np.ndarray | float:
        """Value of *key* in its table unit; *values* may supply sampled base keys (arrays)."""
        c = self.coefficients[key]
        if c.formula is None:
            if values is not None and key in values:
                return values[key]
            return c.value
        q = eval_formula(
            c.formula, lambda name: Q_(self.evaluate(name, values), parse_unit(self[name].unit))
        )
        return _magnitude_in(q, c.unit)

    def with_overrides(self, overrides: Mapping[str, Coefficient]) -> Library:
        """A copy where *overrides* replace or add coefficients (marked ``overridden``)."""
        coeffs = dict(self.coefficients)
        for key, c in overrides.items():
            coeffs[key] = replace(c, overridden=True)
        return Library(coeffs, dict(self.hashes), self.directory)

    def check(self) -> list[Problem]:
        """Every rule the tables must keep, as a list of problems (empty when clean)."""
        problems: list[Problem] = []
        for c in self.coefficients.values():
            if c.formula is None:
                continue
            for name in formula_names(c.formula):
                if name not in self.coefficients:
                    problems.append(
                        Problem(
                            f"formula uses unknown key {name!r}{did_you_mean(name, self.coefficients)}",
                            c.file,
                            c.row,
                            f"{c.key}.formula",
                        )
                    )
        if problems:
            return problems
        for c in self.coefficients.values():
            if c.formula is None:
                continue
            try:
                _detect_cycle(self, c.key, ())
                self.evaluate(c.key)
            except _Cycle as cyc:
                problems.append(Problem(f"formula cycle: {' -> '.join(cyc.args[0])}", c.file, c.row, c.key))
            except UnitError as exc:
                problems.append(Problem(f"formula result does not convert to unit {c.unit!r}: {exc}", c.file, c.row, f"{c.key}.unit"))
            except (ValueError, ZeroDivisionError, pint.DimensionalityError) as exc:
                problems.append(Problem(f"formula cannot be evaluated: {exc}", c.file, c.row, f"{c.key}.formula"))
        return problems


class _Cycle(Exception):
    pass


def _detect_cycle(lib: Library, key: str, stack: tuple[str, ...]) -> None:
    if key in stack:
        raise _Cycle((*stack, key))
    c = lib.coefficients[key]
    if c.formula is None:
        return
    for name in formula_names(c.formula):
        _detect_cycle(lib, name, (*stack, key))


def formula_names(formula: str) -> list[str]:
    """Coefficient keys a formula refers to, in order of appearance."""
    tree = _parse_formula(formula)
    found = sorted((n.col_offset, n.id) for n in ast.walk(tree) if isinstance(n, ast.Name))
    names: list[str] = []
    for _, name in found:
        if name not in names:
            names.append(name)
    return names


@lru_cache(maxsize=1024)
def _parse_formula(formula: str) -> ast.Expression:
    """The checked syntax tree of *formula* (cached: formulas are evaluated once per chunk of rows)."""
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError:
        raise ValueError(f"formula {formula!r} is not an arithmetic expression") from None
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load,
               ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise ValueError(f"formula {formula!r}: only keys, numbers and + - * / ( ) are allowed")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise ValueError(f"formula {formula!r}: only numbers may appear as constants")
    return tree


def eval_formula(formula: str, lookup: Callable[[str], Any]) -> Any:
    """*formula* (keys, numbers, + - * / and parentheses) with each key's value from *lookup*."""
    return _compiled_formula(formula)(lookup)


@lru_cache(maxsize=1024)
def _compiled_formula(formula: str) -> Callable[[Callable[[str], Any]], Any]:
    """*formula* as nested closures, built once (it is evaluated once per chunk of rows)."""

    def build(node: ast.AST) -> Callable[[Callable[[str], Any]], Any]:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant):
            value = node.value
            return lambda look: value
        if isinstance(node, ast.Name):
            name = node.id
            return lambda look: look(name)
        if isinstance(node, ast.UnaryOp):
            inner = build(node.operand)
            return (lambda look: -inner(look)) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            a, b = build(node.left), build(node.right)
            if isinstance(node.op, ast.Add):
                return lambda look: a(look) + b(look)
            if isinstance(node.op, ast.Sub):
                return lambda look: a(look) - b(look)
            if isinstance(node.op, ast.Mult):
                return lambda look: a(look) * b(look)
            return lambda look: a(look) / b(look)
        raise ValueError(f"unsupported formula element in {formula!r}")

    return build(_parse_formula(formula))


def _magnitude_in(q: Any, unit: str) -> Any:
    if not isinstance(q, pint.Quantity):
        q = Q_(q, "dimensionless")
    try:
        return q.to(parse_unit(unit)).magnitude
    except pint.DimensionalityError:
        raise UnitError(f"result is in '{q.units:~}', which does not convert to '{unit}'") from None


def default_coefficients_dir() -> Path:
    """``$ERSIM_COEFFICIENTS``, else ``coefficients/`` beside the package, else in the cwd."""
    env = os.environ.get("ERSIM_COEFFICIENTS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2] / "coefficients"
    if here.is_dir():
        return here
    return Path.cwd() / "coefficients"


def _number(text: str, what: str, problems: list[Problem], file: str, row: int, key: str) -> float | None:
    text = (text or "").strip()
    if text == "":
        return None
    try:
        v = float(text.replace(",", ""))
    except ValueError:
        problems.append(Problem(f"{what} {text!r} is not a number", file, row, f"{key}.{what}"))
        return None
    if not math.isfinite(v):
        problems.append(Problem(f"{what} {text!r} must be a finite number", file, row, f"{key}.{what}"))
        return None
    return v


def read_table(path: Path, problems: list[Problem]) -> tuple[list[Coefficient], str]:
    """Read one coefficient CSV into rows, appending every problem found; returns (rows, sha256)."""
    name = str(path)
    try:
        raw = read_source(path, "coefficient table", MAX_TABLE_BYTES)
        digest = hashlib.sha256(raw).hexdigest()
        records = csv_records(decode(raw, name, "coefficient table", ("utf-8-sig",), "save the table as UTF-8 CSV"), name)
    except InputError as exc:
        problems.extend(exc.problems)
        return [], ""
    derived = path.stem == "derived"
    expected = DERIVED_COLUMNS if derived else COLUMNS
    header = tuple(h.strip() for h in (records[0][1] if records else ()))
    if header != expected:
        missing = [c for c in expected if c not in header]
        extra = [c for c in header if c not in expected]
        hints = [f"{c!r}: did you mean {m[0]!r}?" for c in extra if (m := difflib.get_close_matches(c, missing, n=1, cutoff=0.6))]
        problems.append(
            Problem(
                f"columns must be {', '.join(expected)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {extra}" if extra else "")
                + (f" ({'; '.join(hints)})" if hints else "")
                + ("; same columns, other order" if not missing and not extra else ""),
                name,
                1,
                None,
            )
        )
        return [], digest
    rows: list[Coefficient] = []
    for i, rec in table_rows(records, header, name, problems):
        key = rec["key"]
        n0 = len(problems)
        if not _KEY.match(key):
            problems.append(Problem(f"key {key!r} must be lowercase letters, digits and _ , starting with a letter", name, i, "key"))
        pol = rec["pollutant"] or "-"
        if pol != "-":
            canon = canonical_pollutant(pol)
            if canon is None:
                problems.append(Problem(f"unknown pollutant {pol!r}; valid: {', '.join(POLLUTANTS)} or '-'{did_you_mean(pol, POLLUTANTS)}", name, i, f"{key}.pollutant"))
            else:
                pol = canon
        unit = rec["unit"]
        try:
            parse_unit(unit)
        except UnitError as exc:
            problems.append(Problem(str(exc), name, i, f"{key}.unit"))
        basis = rec["basis"].upper()
        if basis not in BASES:
            problems.append(Problem(f"basis {rec['basis']!r} must be one of {', '.join(BASES)}", name, i, f"{key}.basis"))
        if not rec["source"]:
            problems.append(Problem("source is empty: name the document, table and page, or mark an engineering estimate with its arithmetic", name, i, f"{key}.source"))
        if derived:
            try:
                _parse_formula(rec["formula"])
            except ValueError as exc:
                problems.append(Problem(str(exc), name, i, f"{key}.formula"))
            if len(problems) == n0:
                rows.append(Coefficient(key=key, value=float("nan"), unit=unit, source=rec["source"], basis=basis,
                                        pollutant=pol, description_zh=rec["description_zh"],
                                        description_en=rec["description_en"], note=rec["note"],
                                        domain=path.stem, file=name, row=i, formula=rec["formula"]))
            continue
        value = _number(rec["value"], "value", problems, name, i, key)
        if value is None and rec["value"].strip() == "":
            problems.append(Problem("value is empty", name, i, f"{key}.value"))
        low = _number(rec["low"], "low", problems, name, i, key)
        high = _number(rec["high"], "high", problems, name, i, key)
        dist = rec["distribution"].lower() or ("triangular" if low is not None and high is not None else "fixed")
        if dist not in DISTRIBUTIONS:
            problems.append(Problem(f"distribution {rec['distribution']!r} must be one of {', '.join(DISTRIBUTIONS)}", name, i, f"{key}.distribution"))
        if (low is None) != (high is None):
            problems.append(Problem("give both low and high, or neither", name, i, f"{key}.low"))
        if value is not None and low is not None and high is not None and not low <= value <= high:
            problems.append(Problem(f"range must satisfy low <= value <= high, got {low} <= {value} <= {high}", name, i, f"{key}.low"))
        if dist == "lognormal" and value is not None and (why := lognormal_problem(value, low, high)):
            problems.append(Problem(why, name, i, f"{key}.low" if "low > 0" in why else f"{key}.value"))
        if dist in ("triangular", "uniform", "lognormal") and low is None and value is not None:
            dist = "fixed"
        if len(problems) == n0 and value is not None:
            rows.append(Coefficient(key=key, value=value, unit=unit, source=rec["source"], basis=basis,
                                    pollutant=pol, low=low, high=high, distribution=dist,
                                    description_zh=rec["description_zh"], description_en=rec["description_en"],
                                    note=rec["note"], domain=path.stem, file=name, row=i))
    return rows, digest


def load_library(directory: str | Path | None = None, *, strict: bool = True) -> Library:
    """Load and validate every ``*.csv`` in *directory*; InputError lists every problem."""
    d = Path(directory) if directory else default_coefficients_dir()
    problems: list[Problem] = []
    if not d.is_dir():
        raise InputError(Problem("coefficient folder not found (set ERSIM_COEFFICIENTS or run from the project root)", str(d)))
    lib = Library(directory=str(d))
    first_seen: dict[str, Coefficient] = {}
    for path in sorted(d.glob("*.csv")):
        rows, digest = read_table(path, problems)
        lib.hashes[path.name] = digest
        for c in rows:
            if c.key in first_seen:
                prev = first_seen[c.key]
                problems.append(Problem(f"duplicate key {c.key!r} (first defined at {prev.file}:{prev.row})", c.file, c.row, "key"))
                continue
            first_seen[c.key] = c
            lib.coefficients[c.key] = c
    problems.extend(lib.check())
    if problems and strict:
        raise InputError(problems)
    # evaluate derived central values once, so that show/list print numbers
    for key, c in list(lib.coefficients.items()):
        if c.formula is not None:
            with contextlib.suppress(UnitError, ValueError, ZeroDivisionError, pint.DimensionalityError, _Cycle, RecursionError):
                lib.coefficients[key] = replace(c, value=float(lib.evaluate(key)))
    return lib


def check_directory(directory: str | Path | None = None) -> list[Problem]:
    """Every problem in the tables of *directory* (empty list when they pass)."""
    try:
        load_library(directory, strict=True)
    except InputError as exc:
        return exc.problems
    return []
