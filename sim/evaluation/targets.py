"""The scenario's targets as indices into the model's axes, and the PM2.5 response's parameters.

Shared by the deterministic run (:mod:`sim.evaluation.evaluate`) and the evaluation loop
(:mod:`sim.evaluation.evaluator`).
"""

from __future__ import annotations

import numpy as np

from sim.core.units import parse_quantity
from sim.model.compile import Model
from sim.model.feasibility import TargetSpec

__all__ = ["air_values", "target_specs"]


def target_specs(model: Model) -> list[TargetSpec]:
    """The scenario's targets as indices into the model's pollutant and year axes."""
    specs = []
    air = model.scenario._air
    for t in model.scenario.targets:
        q = parse_quantity(t.value)
        ref = t.base_year if t.base_year is not None else model.scenario.base_year
        precursors: tuple[tuple[str, int, str], ...] = ()
        if t.kind == "reduction_percent":
            value = float(q.to("dimensionless").magnitude)
        elif t.kind == "concentration":
            value = float(q.to("ug/m**3").magnitude)
            precursors = tuple((name, model.pollutants.index(name), row.form) for name, row in air.precursors.items()
                               if name in model.pollutants)
        else:
            value = float(q.to("t").magnitude)
        p = model.pollutants.index(t.pollutant) if t.pollutant in model.pollutants else 0
        specs.append(TargetSpec(t.id, t.kind, p, model.years.index(t.year), model.years.index(ref), value, precursors))
    return specs


def air_values(model: Model, x: np.ndarray) -> dict[str, np.ndarray] | None:
    """Columns air:* of a parameter matrix as {'base': [N], 'SO2': [N], ...}, or None."""
    cols = model.__dict__.get("_air_cols")
    if cols is None or cols[0] != len(model.params):  # once per model: it is asked on every chunk
        cols = (len(model.params), [(n[4:], i) for i, n in enumerate(model.param_names) if n.startswith("air:")])
        model.__dict__["_air_cols"] = cols
    out = {name: x[:, i] for name, i in cols[1]}
    return out or None
