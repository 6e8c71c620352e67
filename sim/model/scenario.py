"""The scenario schema (pydantic v2): what a planner writes in scenarios/*.yaml.

Field descriptions double as the JSON Schema that ``ersim schema`` prints for editors.
Quantities are strings with units (``'4918.3 蒸吨'``, ``'3895 吨'``, ``'10%'``); coefficient
references are keys of the library, optionally multiplied (``[key_a, key_b]``).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.core.errors import UnitError
from sim.core.pollutants import POLLUTANTS, canonical_pollutant
from sim.core.seeds import SEED_MAX
from sim.core.uncertainty import lognormal_problem
from sim.core.units import halfwidth, parse_quantity, quantity_parts
from sim.model.measure_types import MEASURE_TYPES

__all__ = [
    "MEASURE_TYPE_IDS",
    "TARGET_KINDS",
    "Assumption",
    "CoefficientOverride",
    "Measure",
    "OutOfScope",
    "PoolSpec",
    "Scenario",
    "Settings",
    "Target",
    "Uncertain",
]

MEASURE_TYPE_IDS = tuple(MEASURE_TYPES)
TARGET_KINDS = ("reduction_percent", "reduction_amount", "cap", "concentration")

# Chinese words a plan uses for each enumerated value (accepted in scenarios, listed by `ersim schema`)
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "type": {t.id: t.aliases for t in MEASURE_TYPES.values()},  # one home: sim/model/measure_types.py
    "kind": {"reduction_percent": ("削减比例", "下降比例", "减排比例"), "reduction_amount": ("削减量", "减排量"),
             "cap": ("总量", "总量控制", "上限"), "concentration": ("浓度", "浓度目标")},
    "distribution": {"triangular": ("三角", "三角分布"), "uniform": ("均匀", "均匀分布"),
                     "lognormal": ("对数正态", "对数正态分布"), "fixed": ("固定",)},
    "attribution": {"sequential": ("顺序", "依次"), "shapley": ("沙普利", "夏普利")},
}


def _aliases_text(field: str) -> str:
    return "; ".join(f"'{k}' ({', '.join(v)})" for k, v in ALIASES[field].items())


def _enum(field: str, v: Any) -> Any:
    """A Chinese alias -> its value; an unknown word -> a message listing both spellings."""
    if not isinstance(v, str):
        return v
    text = v.strip().translate({0x3000: 0x20}).strip()
    table = ALIASES[field]
    if text in table:
        return text
    for value, words in table.items():
        if text in words:
            return value
    import difflib

    every = [*table, *(w for ws in table.values() for w in ws)]
    close = difflib.get_close_matches(text, every, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"{text!r} is not allowed{hint}; valid {field}s: {_aliases_text(field)}")
def _year(v: Any) -> Any:
    """A year as planners type it: 2025, '2025', '２０２５' (full-width digits) or '2025年'."""
    if not isinstance(v, str):
        return v
    text = halfwidth(v).strip().removesuffix("年").strip()
    if text.isascii() and text.isdigit():
        return int(text)
    if "," in text or "、" in text:
        raise ValueError(f"{v!r} is not one year: a comma typed with a Chinese input method (， or 、) does not separate "
                         "the items of [ ]; write [2023, 2025]")
    raise ValueError(f"{v!r} is not a year; write it as a number, e.g. 2025")


#: a year: an int, or text read by :func:`_year`
Year = Annotated[int, BeforeValidator(_year)]


MAX_ID_LENGTH = 64
_ID = re.compile(r"^[^\s/\\:*?\"<>|]+$")

FactorSpec = Annotated[
    str | float | list[str | float],
    Field(description="A coefficient key, a number with unit ('3 kg/t'), or a list of them multiplied"),
]


def _check_id(v: str) -> str:
    if not v or v in (".", "..") or ".." in v or not _ID.match(v):
        raise ValueError("an id must be non-empty with no spaces, path separators or '..'")
    if len(v) > MAX_ID_LENGTH:  # ids become folder and file names (at most 255 bytes each)
        raise ValueError(f"an id has at most {MAX_ID_LENGTH} characters, got {len(v)}")
    return v


def _finite(x: float, what: str) -> float:
    if not math.isfinite(x):
        raise ValueError(f"{what} must be a finite number, got {x}")
    return x


def _fraction(v: Any) -> float:
    """A share: 0.8, '80%', '0.8'."""
    if isinstance(v, bool):
        raise ValueError("expected a number or a percentage")
    if isinstance(v, (int, float)):
        return _finite(float(v), "value")
    try:
        q = parse_quantity(str(v))
        return _finite(float(q.to("dimensionless").magnitude), "value")
    except (UnitError, Exception) as exc:  # pint DimensionalityError too
        raise ValueError(f"expected a share such as 0.8 or '80%', got {v!r}") from exc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Uncertain(_Strict):
    """A number with an optional range: ``0.9``, ``'90%'``, ``[0.8, 1.0]`` or a mapping."""

    value: float = Field(description="central value")
    low: float | None = Field(None, description="low end of the range")
    high: float | None = Field(None, description="high end of the range")
    distribution: Literal["triangular", "uniform", "lognormal", "fixed"] = Field(
        "triangular", description="shape of the range (triangular by default)"
    )

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            if len(v) != 2:
                raise ValueError("a range is [low, high]")
            lo, hi = _fraction(v[0]), _fraction(v[1])
            return {"value": (lo + hi) / 2, "low": lo, "high": hi, "distribution": "uniform"}
        if isinstance(v, dict):
            return {k: (_fraction(x) if k in ("value", "low", "high") else _enum("distribution", x) if k == "distribution" else x)
                    for k, x in v.items()}
        return {"value": _fraction(v)}

    @model_validator(mode="after")
    def _range(self) -> Uncertain:
        if (self.low is None) != (self.high is None):
            raise ValueError("give both low and high, or neither")
        if self.low is not None and self.high is not None and not self.low <= self.value <= self.high:
            raise ValueError(f"need low <= value <= high, got {self.low} <= {self.value} <= {self.high}")
        if self.distribution == "lognormal" and (why := lognormal_problem(self.value, self.low, self.high)):
            raise ValueError(why)
        return self

    @property
    def uncertain(self) -> bool:
        return self.low is not None and self.high is not None and self.high > self.low and self.distribution != "fixed"


def _quantity_text(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        raise ValueError("expected a number with a unit, e.g. '4918.3 蒸吨'")
    if isinstance(v, (int, float)):
        v = _finite(float(v), "quantity")
        return repr(float(v))
    try:
        magnitude, _ = quantity_parts(str(v))
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    _finite(float(magnitude), "quantity")
    return str(v).strip()


def _pollutant_keys(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    out: dict[str, Any] = {}
    for k, x in v.items():
        canon = canonical_pollutant(str(k))
        if canon is None:
            import difflib

            close = difflib.get_close_matches(str(k), POLLUTANTS, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown pollutant {k!r}{hint}; valid: {', '.join(POLLUTANTS)}")
        out[canon] = x
    return out


class PoolSpec(_Strict):
    """One slice of the inventory (源类) with one activity."""

    id: str = Field(description="pool id, e.g. boiler.coal.industrial")
    name: str | None = Field(None, description="display name (中文)")
    sector: str | None = Field(None, description="sector for summaries: 工业, 交通, 生活, 农业, 扬尘, 污水 ...")
    activity: str | None = Field(
        None, description="base-year activity with unit, e.g. '12000 蒸吨' or '5.2 万吨/a'; omit for emission-only pools"
    )
    growth: Uncertain = Field(default_factory=lambda: Uncertain(value=0.0), description="annual growth rate of activity, e.g. '2%' or [0%, 4%]")
    ef: dict[str, FactorSpec] = Field(default_factory=dict, description="emission factor per pollutant (after existing controls)")
    emissions: dict[str, str] = Field(default_factory=dict, description="base-year emissions per pollutant (top-down), e.g. '1234 吨/a'")
    source: str | None = Field(None, description="where the activity and emissions come from")
    standard: Literal["in_use", "new", "special", "none"] | None = Field(
        None,
        description="emission standard the pool's combustion factors must keep (GB 13271-2014 for boilers): "
        "in_use (表1), new (表2), special (表3 特别排放限值), none (not subject; say why in source). "
        "Default for pools whose id starts with 'boiler.': in_use",
    )

    _id = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))
    _act = field_validator("activity")(classmethod(lambda cls, v: None if v is None else _quantity_text(v)))

    @field_validator("ef", "emissions", mode="before")
    @classmethod
    def _pols(cls, v: Any) -> Any:
        return _pollutant_keys(v)

    @field_validator("emissions")
    @classmethod
    def _em(cls, v: dict[str, Any]) -> dict[str, str]:
        return {k: _quantity_text(x) for k, x in v.items()}

    @model_validator(mode="after")
    def _something(self) -> PoolSpec:
        if not self.ef and not self.emissions:
            raise ValueError("a pool needs 'ef' (emission factors) or 'emissions' (base-year tonnes)")
        if self.ef and self.activity is None:
            raise ValueError("a pool with emission factors needs an 'activity'")
        return self


class MeasureCost(_Strict):
    """Costs of a measure, per unit (e.g. 元/蒸吨) or in total (元) at its written level.

    One meaning for quantity and share measures: a per-unit cost is per unit of the measure's
    quantity, or of the pool's base-year activity for a measure given by ``share``; a total is the
    cost of the measure at the level it is written with (its quantity or share) and scales
    linearly. Annualised cost = capital x capital recovery factor(discount rate, lifetime) + om +
    fuel, or a given annualised unit_cost. Each entry is a coefficient key, a number with unit, or
    a list multiplied (like emission factors).
    """

    capital: FactorSpec | None = Field(None, description="investment: 元 per unit of the quantity (per unit of the pool's base-year activity for a share measure), or 元 in total for the measure as written")
    om: FactorSpec | None = Field(None, description="operation and maintenance: 元/a per unit, or 元/a in total for the measure as written")
    fuel: FactorSpec | None = Field(None, description="fuel cost difference: 元/a per unit, or 元/a in total for the measure as written; negative for savings")
    unit_cost: FactorSpec | None = Field(None, description="annualised cost instead of the above: 元/a per unit (e.g. 元/(蒸吨*a)), or 元/a in total for the measure as written (1000000 元/a on 500 蒸吨 = 2000 元/a per 蒸吨; on share 0.5 = 2000000 元/a at full coverage)")
    per_tonne: dict[str, FactorSpec] = Field(default_factory=dict, description="cost per tonne abated (元/t) of a pollutant, e.g. {VOCs: cost_vocs_eop_uac_low_conc}")
    lifetime: str | None = Field(None, description="economic lifetime, e.g. '15 a'")
    source: str | None = Field(None, description="where the costs come from; say when estimated")

    @field_validator("per_tonne", mode="before")
    @classmethod
    def _pols(cls, v: Any) -> Any:
        return _pollutant_keys(v)

    @model_validator(mode="after")
    def _some(self) -> MeasureCost:
        if self.unit_cost is None and self.capital is None and self.om is None and self.fuel is None and not self.per_tonne:
            raise ValueError("give capital (with lifetime), om, fuel, unit_cost or per_tonne")
        if self.capital is not None and self.lifetime is None:
            raise ValueError("a capital cost needs a 'lifetime' (e.g. '15 a') to be annualised")
        return self


_FIELD_HINT = {
    "quantity": "how much, with a unit (e.g. '4918.3 蒸吨', '10000 立方米/日')",
    "to": "the pool that receives the activity",
    "share": "the covered share of the pool",
    "efficiency": "removal efficiency per pollutant",
    "ef": "the new emission factor per pollutant",
    "removal": "load removed per unit of quantity per pollutant, or 'c_in' and 'c_out'",
    "c_in": "influent and effluent concentrations",
}


class Measure(_Strict):
    """An action on a pool (措施). See DESIGN.md section 3 for what each type edits."""

    id: str = Field(description="measure id, unique in the scenario")
    name: str | None = Field(None, description="display name (中文)")
    type: Literal["retire", "switch", "control", "standard", "treat"] = Field(
        description="retire | switch | control | standard | treat; Chinese aliases: " + _aliases_text("type"))
    pool: str = Field(description="id of the pool the measure acts on")
    category: str | None = Field(None, description="能源结构 / 产业结构 / 工业治理 / 交通 / 面源 / 水 ...")
    quantity: str | None = Field(None, description="how much, with unit: activity retired/switched/covered, or plant capacity for treat")
    share: Uncertain | None = Field(None, description="control/standard: covered share of the pool instead of a quantity")
    to: str | None = Field(None, description="switch: pool that receives the activity")
    replaced_by: str | None = Field(None, description="retire: optional pool that receives the replacement")
    conversion: FactorSpec | None = Field(None, description="switch/replacement: target units per unit moved (default 1 when units match)")
    efficiency: dict[str, FactorSpec] = Field(default_factory=dict, description="control: removal efficiency per pollutant on the covered share")
    ef: dict[str, FactorSpec] = Field(default_factory=dict, description="standard: new emission factor per pollutant on the covered share")
    removal: dict[str, FactorSpec] = Field(default_factory=dict, description="treat: load removed per unit of quantity, per pollutant")
    c_in: dict[str, FactorSpec] = Field(default_factory=dict, description="treat: influent (or old effluent) concentration per pollutant")
    c_out: dict[str, FactorSpec] = Field(default_factory=dict, description="treat: effluent (new) concentration per pollutant")
    load_factor: FactorSpec | None = Field(None, description="treat: actual/design flow (default 1)")
    completion: Uncertain = Field(default_factory=lambda: Uncertain(value=1.0), description="completion rate, e.g. 0.9 or [0.8, 1.0]")
    commissioned: str | None = Field(None, description="YYYY-MM of stable operation; part-year credit in that year")
    year: Year | None = Field(None, description="first year of full effect (when no commissioned month is given)")
    schedule: dict[Year, Uncertain] | None = Field(None, description="cumulative share of the quantity done by each year, e.g. {2023: 40%, 2025: 100%}; a year between two listed years keeps the earlier one's share, a year before the first has none")
    disjoint_group: str | None = Field(
        None,
        description="互斥分组 / disjoint group: measures on one pool that name the same group act on separate parts of it "
        "(SCR on these 500 蒸吨, SNCR on those; GAINS application rates): their covered shares, and the share of the "
        "pool their retire/switch members take, sum to at most 100% in every year, and the group cuts the pool's "
        "emission by sum(share x efficiency) instead of multiplying. Without it, measures on one pool act on the same "
        "share and controls multiply. retire, switch, control and standard measures only",
    )
    cost: MeasureCost | None = Field(None, description="costs: makes the measure a candidate for `ersim solve`")
    potential: str | None = Field(None, description="solve: the most this measure can do, in its quantity unit (default: its quantity)")
    integer: bool = Field(False, description="solve: whole projects only (multiples of unit_size)")
    unit_size: str | None = Field(None, description="solve: size of one project (default: the potential, i.e. all or nothing)")
    source: str | None = Field(None, description="where the quantity comes from (plan, page)")
    description: str | None = None

    _id = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))
    _type = field_validator("type", mode="before")(classmethod(lambda cls, v: _enum("type", v)))

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_years(cls, v: Any) -> Any:
        """Two keys that are one year once read (2023 and 2023年) would keep only the last, silently."""
        if isinstance(v, dict):
            seen: dict[Any, Any] = {}
            for k in v:
                try:
                    y = _year(k)
                except ValueError:
                    continue  # said by the key's own check
                if y in seen:
                    raise ValueError(f"year {y} is given twice ({seen[y]!r} and {k!r}); keep one")
                seen[y] = k
        return v
    _qty = field_validator("quantity", "potential", "unit_size", mode="before")(classmethod(lambda cls, v: None if v is None else _quantity_text(v)))

    @field_validator("efficiency", "ef", "removal", "c_in", "c_out", mode="before")
    @classmethod
    def _pols(cls, v: Any) -> Any:
        return _pollutant_keys(v)

    @field_validator("commissioned", mode="before")
    @classmethod
    def _month(cls, v: Any) -> Any:
        if v is None:
            return v
        text = str(v).strip()
        m = re.match(r"^(\d{4})[-/.年](\d{1,2})月?$", text)
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"commissioned must be a month YYYY-MM, e.g. 2022-06; got {text!r}")
        return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"

    @model_validator(mode="after")
    def _shape(self) -> Measure:
        t = self.type
        for need in MEASURE_TYPES[t].required:
            names = need if isinstance(need, tuple) else (need,)
            if not any(getattr(self, n) not in (None, {}, "") for n in names):
                raise ValueError(f"a {t} measure needs {' or '.join(repr(n) for n in names)}: {_FIELD_HINT[names[0]]}")
        if t == "treat" and set(self.c_in) != set(self.c_out):
            raise ValueError("c_in and c_out must name the same pollutants")
        if self.quantity is not None and quantity_parts(self.quantity)[0] < 0:
            raise ValueError("quantity must not be negative")
        if self.completion.value < 0 or (self.completion.high or self.completion.value) > 1:
            raise ValueError("completion must lie between 0 and 1 (0% to 100%)")
        if self.share is not None and not all(0 <= v <= 1 for v in (self.share.value, self.share.low, self.share.high) if v is not None):
            raise ValueError("share (and its range) must lie between 0 and 1")
        if self.commissioned and (self.year is not None or self.schedule):
            raise ValueError("give one of 'commissioned', 'year' or 'schedule'")
        if self.disjoint_group is not None and not self.disjoint_group:
            raise ValueError("disjoint_group needs a name, e.g. denox")
        if self.disjoint_group is not None and t == "treat":
            raise ValueError("disjoint_group applies to retire, switch, control and standard measures, not treat")
        return self


class Target(_Strict):
    """What a plan promises for one pollutant and year (DESIGN.md section 4)."""

    id: str = Field(description="target id")
    name: str | None = None
    pollutant: str = Field(description="pollutant id: COD, NH3N, SO2, NOx, VOCs, PM25, ...")
    kind: Literal["reduction_percent", "reduction_amount", "cap", "concentration"] = Field(
        description="reduction_percent (较基准年下降x%), reduction_amount (重点工程减排量>=x吨), cap (<=x吨), concentration (PM2.5年均浓度<=x µg/m3); "
                    "Chinese aliases: " + _aliases_text("kind")
    )
    value: str = Field(description="'2%' for reduction_percent; '3895 吨' for reduction_amount and cap; '29 ug/m3' for concentration")
    year: Year = Field(description="target year")
    base_year: Year | None = Field(None, description="reference year for reduction_percent (default: scenario base_year)")
    source: str | None = None

    _id = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))
    _kind = field_validator("kind", mode="before")(classmethod(lambda cls, v: _enum("kind", v)))

    @field_validator("pollutant", mode="before")
    @classmethod
    def _pol(cls, v: Any) -> Any:
        canon = canonical_pollutant(str(v))
        if canon is None:
            import difflib

            close = difflib.get_close_matches(str(v), POLLUTANTS, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown pollutant {v!r}{hint}; valid: {', '.join(POLLUTANTS)}")
        return canon

    @field_validator("value", mode="before")
    @classmethod
    def _val(cls, v: Any) -> Any:
        return _quantity_text(v)

    @field_validator("kind")
    @classmethod
    def _kind_pollutant(cls, v: str, info: ValidationInfo) -> str:
        if v == "concentration" and info.data.get("pollutant") not in (None, "PM25"):
            raise ValueError("concentration targets are for PM25 (PM2.5 annual mean)")
        return v

    @field_validator("value")
    @classmethod
    def _value_unit(cls, v: str, info: ValidationInfo) -> str:
        """The value in the unit its kind takes (reported at the value's own line)."""
        kind = info.data.get("kind")
        if kind is None:
            return v  # the kind is wrong: said there
        q = parse_quantity(v)
        if kind == "concentration":
            try:
                q.to("ug/m**3")
            except Exception:
                raise ValueError(f"a concentration target takes µg/m3, e.g. '29 ug/m3', got {v!r}") from None
        elif kind == "reduction_percent":
            if not q.dimensionless:
                raise ValueError(f"a reduction_percent target takes a percentage such as '2%', got {v!r}")
            if not -1 < q.to("dimensionless").magnitude < 1:
                raise ValueError(f"a reduction_percent target lies between -100% and 100%, got {v!r}")
        else:
            try:
                q.to("t")
            except Exception:
                raise ValueError(f"a {kind} target takes tonnes, e.g. '3895 吨', got {v!r}") from None
            if q.magnitude < 0:
                raise ValueError(f"target tonnage must not be negative, got {v!r}")
        return v


class CoefficientOverride(_Strict):
    """A scenario's own value for a library coefficient (recorded in the manifest)."""

    value: float
    unit: str
    source: str = Field(min_length=1, description="where this value comes from")
    low: float | None = None
    high: float | None = None
    distribution: Literal["triangular", "uniform", "lognormal", "fixed"] | None = None

    _dist = field_validator("distribution", mode="before")(classmethod(lambda cls, v: None if v is None else _enum("distribution", v)))
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _value_with_unit(cls, v: Any) -> Any:
        # value: '15%' or '40 mg/L' -> value 15, unit '%'
        if isinstance(v, dict) and isinstance(v.get("value"), str) and "unit" not in v:
            try:
                q = parse_quantity(v["value"])
            except UnitError as exc:
                raise ValueError(str(exc)) from None
            v = {**v, "value": float(q.magnitude), "unit": f"{q.units:~}" if not q.dimensionless or str(q.units) != "dimensionless" else "1"}
        return v

    @model_validator(mode="after")
    def _check(self) -> CoefficientOverride:
        from sim.core.units import parse_unit

        _finite(self.value, "value")
        try:
            parse_unit(self.unit)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
        if (self.low is None) != (self.high is None):
            raise ValueError("give both low and high, or neither")
        if self.low is not None and self.high is not None and not self.low <= self.value <= self.high:
            raise ValueError("need low <= value <= high")
        # low <= 0 is the consistency stage's rule 'override-lognormal' (it names coefficients.<key>.low)
        if self.distribution == "lognormal" and (self.low is None or self.low > 0) and (
                why := lognormal_problem(self.value, self.low, self.high)):
            raise ValueError(why)
        return self


class AirQuality(_Strict):
    """How PM2.5 concentration targets are evaluated (linear response; see sim/air.py)."""

    region: str = Field(description="region whose rows to use in the response file, e.g. 宁波市")
    response: str | None = Field(None, description="response CSV (default coefficients/response/pm25_response.csv), relative to this file")
    base_concentration: str | None = Field(None, description="base-year annual mean PM2.5, e.g. '21 ug/m3' (default: the file's base row)")
    source: str | None = Field(None, description="source of base_concentration when given here")

    @model_validator(mode="after")
    def _base(self) -> AirQuality:
        if self.base_concentration is not None:
            try:
                parse_quantity(self.base_concentration).to("ug/m**3")
            except Exception:
                raise ValueError(f"base_concentration takes µg/m3, got {self.base_concentration!r}") from None
            if not self.source:
                raise ValueError("give the 'source' of base_concentration")
        return self


class Assumption(_Strict):
    """An assumption the result rests on, shown in the run's output and the appendix."""

    text: str = Field(min_length=1, description="the assumption, in the plan's terms (中文 welcome)")
    decides: list[str] = Field(default_factory=list, description="ids of the targets whose verdict this assumption decides")
    source: str | None = Field(None, description="what the assumption rests on")


class OutOfScope(_Strict):
    """A target or measure of the plan that the scenario does not evaluate, and why."""

    item: str = Field(min_length=1, description="the plan's target or measure, quoted (e.g. 空气质量优良天数比率不低于95%)")
    kind: Literal["target", "measure"] = Field("target", description="target | measure")
    reason: str = Field(min_length=1, description="why it is not evaluated (not an emission quantity, no quantity in the plan, no cited factor ...)")
    source: str | None = Field(None, description="where the plan states it")


class Settings(_Strict):
    """Run settings a scenario may fix (the CLI may override some)."""

    attribution: Literal["sequential", "shapley"] = Field("sequential", description="how overlapping measures share a joint reduction; "
                                                           "Chinese aliases: " + _aliases_text("attribution"))
    credit_rule: Literal["next_month", "same_month", "full_year"] = Field(
        "next_month", description="first-year credit: from the month after stable operation (总量减排核算 rule), the same month, or the whole year"
    )
    shapley_exact_max: int = Field(12, ge=1, le=16, description="exact Shapley up to this many measures on linked pools")
    shapley_permutations: int = Field(500, ge=10, description="permutations for the Shapley estimate beyond the exact limit")
    seed: int = Field(20240601, ge=0, le=SEED_MAX, description="seed for every random draw (a whole number from 0 to 2**63 - 1)")
    at_risk_margin: float = Field(0.1, ge=0, description="met but with margin below this share of the requirement -> at risk")
    met_probability: float = Field(0.9, ge=0, le=1, description="P(met) at or above this -> met")
    at_risk_probability: float = Field(0.5, ge=0, le=1, description="P(met) at or above this (but below met_probability) -> at risk")

    _attr = field_validator("attribution", mode="before")(classmethod(lambda cls, v: _enum("attribution", v)))


class Scenario(_Strict):
    """A scenario (情景): region, years, inventory, measures, targets."""

    name: str = Field(description="scenario name (中文 welcome)")
    id: str | None = Field(None, description="short ASCII id used for the outputs folder (default: file name)")
    region: str = Field(description="region, e.g. 安康市")
    base_year: Year = Field(ge=1990, le=2100, description="base year of the inventory")
    years: list[Year] = Field(min_length=1, description="years to report, e.g. [2023, 2025]; results hold every year from base_year to the last")
    description: str | None = None
    provenance: str | dict[str, Any] | None = Field(None, description="where the inventory numbers come from; say when illustrative")
    grid_region: str | None = Field(None, description="grid for electricity CO2 factors")
    inventory: str | list[PoolSpec] = Field(description="inline pools, or a CSV/xlsx path relative to this file")
    measures: list[Measure] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    coefficients: dict[str, CoefficientOverride] = Field(default_factory=dict, description="overrides of library coefficients, each with its source")
    air_quality: AirQuality | None = Field(None, description="PM2.5 response for concentration targets")
    period: str | None = Field(None, description="the plan's period and what the scenario credits in it (what was done before the base year belongs to the base inventory)")
    assumptions: list[Assumption] = Field(default_factory=list, description="assumptions that decide a verdict: shown in the run and the appendix")
    out_of_scope: list[OutOfScope] = Field(default_factory=list, description="targets and measures of the plan that are not evaluated, each with the reason")
    discount_rate: Uncertain | None = Field(None, description="for annualising capital costs in `ersim solve`, e.g. 8%")
    extends: str | None = Field(None, description="parent scenario: 'file.yaml', 'file.yaml#variant' or '#variant' (resolved on load)")
    remove_measures: list[str] = Field(default_factory=list, description="measure ids of the parent to drop")
    remove_targets: list[str] = Field(default_factory=list, description="target ids of the parent to drop")
    variants: dict[str, dict[str, Any]] | None = Field(None, description="named variants: overrides of this file's scenario, as with extends")
    settings: Settings = Field(default_factory=Settings)  # type: ignore[arg-type]

    _path: str | None = PrivateAttr(None)
    _lines: Any = PrivateAttr(None)
    _pools: list[PoolSpec] | None = PrivateAttr(None)
    _inventory_lines: Any = PrivateAttr(None)
    _inventory_hash: str | None = PrivateAttr(None)
    _inventory_path: str | None = PrivateAttr(None)
    _air: Any = PrivateAttr(None)
    _variant: str | None = PrivateAttr(None)

    @field_validator("id")
    @classmethod
    def _sid(cls, v: str | None) -> str | None:
        return None if v is None else _check_id(v)

    @field_validator("years")
    @classmethod
    def _years(cls, v: list[int]) -> list[int]:
        for y in v:
            if not 1990 <= y <= 2100:
                raise ValueError(f"year {y} is out of range 1990-2100")
        return sorted(set(v))

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if min(self.years) < self.base_year:
            raise ValueError(f"years must not precede base_year {self.base_year}")
        if max(self.years) - self.base_year > 60:
            raise ValueError("a scenario spans at most 60 years after its base year")
        return self

    @property
    def pools(self) -> list[PoolSpec]:
        """The inventory's pools (inline, or read from the inventory file by load_scenario)."""
        if isinstance(self.inventory, list):
            return self.inventory
        if self._pools is None:
            raise RuntimeError("inventory file not loaded; use sim.load_scenario")
        return self._pools

    @property
    def year_range(self) -> list[int]:
        """Every year from base_year to the last report year."""
        return list(range(self.base_year, max(self.years) + 1))

    @property
    def slug(self) -> str:
        """Folder-safe id for outputs/."""
        if self.id:
            return self.id
        if self._path:
            from pathlib import Path

            return Path(self._path).stem + (f"-{self._variant}" if self._variant else "")
        return re.sub(r"[^0-9A-Za-z_-]+", "-", self.name).strip("-") or "scenario"
