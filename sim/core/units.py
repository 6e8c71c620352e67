"""Units: one pint registry with Chinese planning units (see units.txt).

Every quantity in ersim passes through :func:`parse_quantity` or :func:`parse_unit`,
which accept the spellings planners type (``10000 立方米/日``, ``t/(蒸吨·a)``, ``50%``,
``kg/10^4 m3``) and normalise them for pint.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import pint

from sim.core.errors import UnitError

__all__ = ["DIMENSIONLESS", "Q_", "halfwidth", "normalise_unit_text", "parse_quantity", "parse_unit", "quantity_parts", "shown",
           "split_quantity", "to_magnitude", "ureg"]


def _make_registry() -> Any:
    reg: Any
    try:  # pint caches the parsed definitions: 0.4 s -> 0.03 s at start-up
        reg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, on_redefinition="ignore", cache_folder=":auto:")
    except OSError:
        reg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True, on_redefinition="ignore")
    with resources.as_file(resources.files("sim.core") / "units.txt") as path:
        reg.load_definitions(str(path))
    reg.formatter.default_format = "~"
    return reg


ureg: Any = _make_registry()
Q_ = ureg.Quantity
#: the unit of a pure number (pint parses ``ureg.dimensionless`` again on every attribute access)
DIMENSIONLESS = ureg.dimensionless

_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("·", "*"),
    ("⋅", "*"),
    ("×", "*"),
    ("（", "("),
    ("）", ")"),
    ("／", "/"),
    ("²", "**2"),
    ("³", "**3"),
    ("µ", "u"),
    ("μ", "u"),
    ("%", " percent"),
    ("‰", " permille"),
    ("^", "**"),
)
_POWER_SUFFIX = re.compile(r"(?<![A-Za-z_])(m|km|cm|mm|Nm|hm)([23])(?![0-9A-Za-z_])")
_NM3 = re.compile(r"Nm\*\*3|Nm3")


# full-width forms typed with a Chinese input method (５％, ／, ＊) and the ideographic space
_FULLWIDTH = {**{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}, 0x3000: 0x20}
# 万X / 亿X: the unit X that follows, with its power (万m3 is 10^4 m³, never (10^4 m)³)
# the unit is a word (letters or CJK, no digits, operators or separators), perhaps after a space
# (万 m3 is 万m3), and an optional power written 3, ^3, **3 or ³
_WAN_YI = re.compile(r"([万亿])[ \t]*([^\W\d²³¹⁰-⁹]+)(?:(?:\^|\*\*)?([23])|([²³]))?(?![0-9])")
_POWER_DIGIT = {"²": "2", "³": "3"}


def _wan_yi_name(m: re.Match[str]) -> str:
    """The unit name of a 万/亿 match: ``万m³``, ``万m^3`` -> ``万m3`` (the name it is defined under)."""
    power = m.group(3) or _POWER_DIGIT.get(m.group(4) or "", "")
    return m.group(1) + m.group(2) + power


def halfwidth(text: str) -> str:
    """``５％`` -> ``5%``: full-width ASCII forms and U+3000 spaces as ASCII."""
    return text.translate(_FULLWIDTH)


def _define_wan_yi(text: str) -> None:
    """Define 万X and 亿X (10^4 and 10^8 of any known unit X) the first time they appear."""
    for m in _WAN_YI.finditer(text):
        name = _wan_yi_name(m)
        base = normalise_unit_text(name[1:])  # the unit and its power: 'm3' -> 'm**3'
        factor = "10000" if m.group(1) == "万" else "100000000"
        if not name.isidentifier():
            continue
        try:  # pint raises many types on text that is no unit ('万{立方米', '万:立方米'): the parse then says so
            if name in ureg:
                continue
            if ureg.Unit(base).dimensionless:  # 万 of a pure number is no unit
                continue
            ureg.define(f"{name} = {factor} * ({base})")
        except Exception:
            continue


_SUPERSCRIPT = {"2": "²", "3": "³", "-1": "⁻¹", "-2": "⁻²", "-3": "⁻³"}


#: the UDUNITS spellings of results.nc (CF) as a planner reads them
_UDUNITS = {"ug m-3": "µg/m³", "t yr-1": "t/a", "t a-1": "t/a"}


def shown(unit: str) -> str:
    """A pint-formatted unit as a planner writes it: ``立方米 / 日`` -> ``立方米/日``, ``ug/m**3`` and
    ``ug/m3`` -> ``µg/m³``, ``t / (蒸吨 * a)`` -> ``t/(蒸吨·a)``; a pure number (``1``) -> ''."""
    text = _UDUNITS.get(str(unit or "").strip(), str(unit or "").strip())
    if text in ("1", "dimensionless"):
        return ""
    text = re.sub(r"(?<![A-Za-z])ug(?![A-Za-z])", "µg", text)
    text = re.sub(r"(?<![A-Za-z])m3(?![0-9])", "m³", text)
    text = re.sub(r"\s*\*\*\s*(-?\d+)", lambda m: _SUPERSCRIPT.get(m.group(1), "^" + m.group(1)), text)
    return re.sub(r"\s*([/*])\s*", r"\1", text).replace("*", "·")


def normalise_unit_text(text: str) -> str:
    """Rewrite a planner's unit spelling into pint syntax (``m3`` -> ``m**3``, ``·`` -> ``*``)."""
    out = halfwidth(text).strip()
    kept: list[str] = []  # 万X / 亿X tokens stay whole: they are units of their own (see _define_wan_yi)

    def keep(m: re.Match[str]) -> str:
        kept.append(_wan_yi_name(m))
        return f"\x00{len(kept) - 1}\x00"

    out = _WAN_YI.sub(keep, out)
    for old, new in _REPLACEMENTS:
        out = out.replace(old, new)
    out = _NM3.sub("m**3", out)  # normal cubic metres: the reference state is in the note
    out = _POWER_SUFFIX.sub(lambda m: f"{m.group(1)}**{m.group(2)}", out)
    out = re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], out)
    return out.strip()


_SEPARATORS = re.compile(r"[,;、]")


@lru_cache(maxsize=4096)
def parse_unit(text: str) -> Any:
    """Parse a unit string (``'t/a'``, ``'吨'``, ``'kg/(辆·a)'``); raise UnitError if unknown."""
    if text is None or str(text).strip() in ("", "1", "-"):
        return DIMENSIONLESS
    half = halfwidth(str(text))
    if _SEPARATORS.search(half):  # pint's parser would drop it: '吨,' read as 吨
        raise UnitError(f"unknown unit {text!r}: a unit holds no ',', ';' or '、' (one quantity per field)")
    _define_wan_yi(half)
    try:
        q = ureg.Quantity(1, normalise_unit_text(str(text)))
    except Exception as exc:  # pint raises several unrelated types
        hint = " (write 10^4 m3 as 万立方米, 10^4 t as 万吨)" if "scaling factor" in str(exc) else ""
        raise UnitError(f"unknown unit {text!r}{hint}") from None
    return q.units


def parse_quantity(value: Any, default_unit: str | None = None) -> pint.Quantity:
    """Parse ``'4918.3 蒸吨'``, ``'10%'``, a number (with *default_unit*) into a pint Quantity."""
    if isinstance(value, str):
        magnitude, unit = _parse_text(value, default_unit)
        return Q_(magnitude, unit)
    return _parse_quantity(value, default_unit)


@lru_cache(maxsize=65536)
def _parse_text(value: str, default_unit: str | None) -> tuple[float, Any]:
    """Cached (magnitude, unit) of a quantity string; a fresh Quantity is built per call."""
    number, unit_text = split_quantity(value)
    if not unit_text:
        return number, parse_unit(default_unit) if default_unit else DIMENSIONLESS
    return number, parse_unit(unit_text)


def split_quantity(value: str) -> tuple[float, str]:
    """'4918.3 蒸吨' -> (4918.3, '蒸吨'); UnitError when it does not start with a number."""
    text = halfwidth(str(value)).strip()
    if not text:
        raise UnitError("empty quantity")
    m = re.match(r"^\s*([-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*)$", text)
    if not m:
        raise UnitError(f"cannot read {text!r} as a number with a unit (e.g. '4918.3 蒸吨')")
    return float(m.group(1).replace(",", "")), m.group(2).strip()


def _parse_quantity(value: Any, default_unit: str | None = None) -> pint.Quantity:
    if isinstance(value, pint.Quantity):
        return value
    if isinstance(value, bool):
        raise UnitError(f"expected a quantity, got {value!r}")
    if isinstance(value, (int, float)):
        return Q_(float(value), parse_unit(default_unit) if default_unit else DIMENSIONLESS)
    number, unit_text = split_quantity(str(value))
    if not unit_text:
        unit = parse_unit(default_unit) if default_unit else DIMENSIONLESS
        return Q_(number, unit)
    return Q_(number, parse_unit(unit_text))


def to_magnitude(q: Any, unit: Any) -> float:
    """Magnitude of *q* in *unit*; UnitError names both units when they do not convert."""
    try:
        return float(q.to(unit).magnitude)
    except pint.DimensionalityError:
        raise UnitError(f"'{q.units:~}' does not convert to '{unit}'") from None


def quantity_parts(text: str) -> tuple[float, Any]:
    """(magnitude, unit) of a quantity string, as :func:`parse_quantity` reads it, without building
    a Quantity (cached by the string: compiling many scenarios reads the same texts again)."""
    return _parse_text(text, None)
