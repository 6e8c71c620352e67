"""The compiled model's inputs, labelled once: one xarray.Dataset over pools, measures, targets,
parameters and coefficients. The engine works on the positional arrays underneath; this view
is what a run stores (``inputs/inputs.nc``) and what reports read for quantities, schedules
and sources.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from sim.model.compile import Model
from sim.model.measure_types import type_label

__all__ = ["inputs_dataset", "schedule_text"]


def schedule_text(m: Any) -> str:
    """A measure's timing as a planner writes it: '2022-06 投运', '2023年起', '2023: 40%; 2025: 100%'."""
    if m.schedule:
        return "; ".join(f"{y}: {v.value:.0%}" for y, v in sorted(m.schedule.items()))
    if m.commissioned:
        return f"{m.commissioned} 投运"
    if m.year is not None:
        return f"{m.year}年起"
    return ""


def _s(values: list[Any]) -> np.ndarray:
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def _f(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def inputs_dataset(model: Model) -> xr.Dataset:
    """Pools, measures, targets, parameters and coefficients of *model* with their labels and units."""
    scen = model.scenario
    pools = scen.pools
    measures = scen.measures
    inp = model.inputs()
    ef = inp.ef[0]  # [K,P] t/a per unit of activity
    params = list(model.params.values())
    keys = model.base_keys()
    derived = [k for k in model.keys_used if k not in keys]
    lib = model.library
    coefs = [lib[k] for k in [*keys, *derived]]
    data: dict[str, Any] = {
        # pools
        "activity": (("pool",), model.activity0, {"long_name": "base-year activity", "units": "pool_unit"}),
        "growth": (("pool",), _f([p.growth.value for p in pools]), {"long_name": "annual growth rate", "units": "1"}),
        "growth_low": (("pool",), _f([p.growth.low for p in pools]), {"long_name": "growth rate, low end", "units": "1"}),
        "growth_high": (("pool",), _f([p.growth.high for p in pools]), {"long_name": "growth rate, high end", "units": "1"}),
        "ef": (("pool", "pollutant"), ef, {"long_name": "emission factor (central)", "units": "t yr-1 per unit of activity"}),
        "pool_source": (("pool",), _s([p.source for p in pools]), {"long_name": "source of activity and emissions"}),
        # measures
        "measure_type_label": (("measure",), _s([type_label(m.type) for m in measures]), {"long_name": "措施类型"}),
        "measure_to": (("measure",), _s([m.to or m.replaced_by for m in measures]), {"long_name": "receiving pool"}),
        "quantity_text": (("measure",), _s([m.quantity for m in measures]), {"long_name": "quantity as written (工程量)"}),
        "quantity": (("measure",), np.asarray(model.qty, dtype=float),
                     {"long_name": "quantity in the pool's unit (NaN: given by share, or a treatment capacity)"}),
        "share": (("measure",), _f([m.share.value if m.share is not None else None for m in measures]),
                  {"long_name": "covered share", "units": "1"}),
        "completion": (("measure",), _f([m.completion.value for m in measures]), {"long_name": "completion rate", "units": "1"}),
        "completion_low": (("measure",), _f([m.completion.low for m in measures]), {"long_name": "completion, low end", "units": "1"}),
        "completion_high": (("measure",), _f([m.completion.high for m in measures]), {"long_name": "completion, high end", "units": "1"}),
        "schedule": (("measure",), _s([schedule_text(m) for m in measures]), {"long_name": "timing as written (进度)"}),
        "credit": (("measure", "year"), model.credit, {"long_name": "share of the measure in effect", "units": "1"}),
        "measure_source": (("measure",), _s([m.source for m in measures]), {"long_name": "basis of the quantity (依据)"}),
        "engine_kind": (("measure",), np.asarray(model.kind, dtype=np.int64), {"long_name": "engine edit code",
                                                                                "flag_values": list(range(5)),
                                                                                "flag_meanings": "retire switch control standard treat"}),
        # targets
        "target_value_text": (("target",), _s([t.value for t in scen.targets]), {"long_name": "target as written"}),
        "target_base_year": (("target",), np.array([t.base_year or scen.base_year for t in scen.targets], dtype=np.int64),
                             {"long_name": "reference year"}),
        "target_source": (("target",), _s([t.source for t in scen.targets]), {"long_name": "source of the target"}),
        # parameters (uncertain or sweepable inputs)
        "param_value": (("param",), _f([p.value for p in params]), {"long_name": "central value"}),
        "param_low": (("param",), _f([p.low for p in params]), {"long_name": "low end"}),
        "param_high": (("param",), _f([p.high for p in params]), {"long_name": "high end"}),
        "param_distribution": (("param",), _s([p.distribution for p in params]), {"long_name": "distribution"}),
        "param_unit": (("param",), _s([p.unit for p in params]), {"long_name": "unit"}),
        "param_label": (("param",), _s([p.label for p in params]), {"long_name": "label"}),
        # coefficients the run rests on (base keys first, then the derived ones used)
        "coefficient_value": (("coefficient",), _f([c.value for c in coefs]), {"long_name": "value as used"}),
        "coefficient_unit": (("coefficient",), _s([c.unit for c in coefs]), {"long_name": "unit"}),
        "coefficient_low": (("coefficient",), _f([c.low for c in coefs]), {"long_name": "low end"}),
        "coefficient_high": (("coefficient",), _f([c.high for c in coefs]), {"long_name": "high end"}),
        "coefficient_basis": (("coefficient",), _s([c.basis for c in coefs]), {"long_name": "evidence label V/S/D/E/U"}),
        "coefficient_source": (("coefficient",), _s([c.source for c in coefs]), {"long_name": "source"}),
        "coefficient_name": (("coefficient",), _s([c.description_zh for c in coefs]), {"long_name": "说明"}),
        "coefficient_formula": (("coefficient",), _s([c.formula for c in coefs]), {"long_name": "formula of a derived coefficient"}),
    }
    ds = xr.Dataset(
        data,
        coords={
            "pool": model.pools, "measure": model.measures, "pollutant": model.pollutants, "year": model.years,
            "target": [t.id for t in scen.targets], "param": [p.name for p in params], "coefficient": [c.key for c in coefs],
            "pool_name": ("pool", _s(model.pool_names)), "pool_unit": ("pool", _s(model.pool_units)),
            "pool_sector": ("pool", _s(model.pool_sectors)),
            "measure_name": ("measure", _s(model.measure_names)), "measure_type": ("measure", _s(model.measure_types)),
            "measure_category": ("measure", _s(model.measure_categories)),
            "measure_pool": ("measure", _s([model.pools[k] for k in model.src] if model.measures else [])),
            "target_name": ("target", _s([t.name or t.id for t in scen.targets])),
            "target_pollutant": ("target", _s([t.pollutant for t in scen.targets])),
            "target_kind": ("target", _s([t.kind for t in scen.targets])),
            "target_year": ("target", np.array([t.year for t in scen.targets], dtype=np.int64)),
        },
        attrs={"scenario": scen.name, "scenario_id": scen.slug, "region": scen.region, "base_year": scen.base_year,
               "report_years": list(scen.years), "title": f"{scen.name}: inputs", "Conventions": "CF-1.8"},
    )
    return ds
