"""Targets: required, achieved, margin and status (DESIGN.md section 4). Arrays in, arrays out.

Every kind is expressed as a reduction in its own unit (tonnes for emission targets, µg/m³ for
concentration targets), so that margin = achieved - required and a positive margin means the
target is met:

* reduction_percent v against year b: required = v * E[b]; achieved = E[b] - E[y]
* reduction_amount v (重点工程减排量): required = v; achieved = baseline[y] - E[y]
* cap v: required = baseline[y] - v; achieved = baseline[y] - E[y] (margin = v - E[y])
* concentration v (µg/m³): required = C_base - v; achieved = sum_p alpha_p dE_p (margin = v - C[y])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TargetSpec", "concentration_parts", "evaluate_targets", "status"]

MET, AT_RISK, NOT_MET = "met", "at risk", "not met"


@dataclass(frozen=True)
class TargetSpec:
    """A target in array terms: pollutant index, year index, reference-year index, value.

    value is in t (amount, cap), a share (percent) or µg/m³ (concentration). Concentration
    targets also carry the precursors' pollutant indices and forms ('share'/'coefficient').
    """

    id: str
    kind: str
    p: int
    y: int
    ref: int
    value: float
    precursors: tuple[tuple[str, int, str], ...] = ()


def evaluate_targets(specs: list[TargetSpec], baseline_total: np.ndarray, emissions_total: np.ndarray,
                     air: dict[str, np.ndarray] | None = None, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(required, achieved) [N,T] from totals [N,P,Y] (t/a): tonnes, or µg/m³ for concentration.

    Concentration (linear response, sim/air.py): C[y] = C_base - sum_p alpha_p (E[p,ref] - E[p,y]),
    alpha_p = C_base * share_p / E[p,ref] for a share; required = C_base - v; achieved = C_base - C[y].
    *air* maps 'base' and each precursor to [N] values (µg/m³; share or µg/m³ per t/a).
    *values* [N,T] replaces the targets' values row by row (sweeps of targets.<id>.value).
    """
    n = baseline_total.shape[0]
    req = np.zeros((n, len(specs)))
    ach = np.zeros((n, len(specs)))
    for i, t in enumerate(specs):
        v = t.value if values is None else values[:, i]
        e_y = emissions_total[:, t.p, t.y]
        b_y = baseline_total[:, t.p, t.y]
        if t.kind == "reduction_percent":
            e_ref = emissions_total[:, t.p, t.ref]
            req[:, i] = v * e_ref
            ach[:, i] = e_ref - e_y
        elif t.kind == "reduction_amount":
            req[:, i] = v
            ach[:, i] = b_y - e_y
        elif t.kind == "cap":
            req[:, i] = b_y - v
            ach[:, i] = b_y - e_y
        else:  # concentration
            assert air is not None
            drop = np.zeros(n)
            for part in concentration_parts(t, emissions_total, air).values():
                drop += part
            req[:, i] = air["base"] - v
            ach[:, i] = drop
    return req, ach


def concentration_parts(t: TargetSpec, emissions_total: np.ndarray, air: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each precursor's drop of the PM2.5 concentration (µg/m³, [N]) for a concentration target.

    alpha_p * (E[p,ref] - E[p,y]), alpha_p = C_base * share_p / E[p,ref] for a share (zero when
    the reference emission is zero) or the response coefficient itself (µg/m³ per t/a).
    """
    c0 = air["base"]
    out: dict[str, np.ndarray] = {}
    for name, p, form in t.precursors:
        e_ref = emissions_total[:, p, t.ref]
        d_e = e_ref - emissions_total[:, p, t.y]
        if form == "share":
            with np.errstate(divide="ignore", invalid="ignore"):
                out[name] = np.where(e_ref > 0, c0 * air[name] * d_e / np.where(e_ref > 0, e_ref, 1.0), 0.0)
        else:
            out[name] = air[name] * d_e
    return out


def status(margin: float, required: float, probability: float | None, at_risk_margin: float,
           met_probability: float, at_risk_probability: float) -> str:
    """met / at risk / not met from the central margin and, under uncertainty, P(margin >= 0)."""
    tol = 1e-9 * max(1.0, abs(required))  # a margin of zero up to rounding is met (solve meets targets exactly)
    if abs(margin) <= tol:
        margin = 0.0
    if probability is not None:
        if probability >= met_probability and margin >= 0:
            return MET
        if probability >= at_risk_probability:
            return AT_RISK
        return NOT_MET
    if margin < 0:
        return NOT_MET
    if margin < at_risk_margin * abs(required):
        return AT_RISK
    return MET
