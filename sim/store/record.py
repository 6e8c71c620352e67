"""The run record: the inputs a run was computed from, held in the run folder beside its results.

``inputs/scenario.json``
    the scenario as evaluated: ``extends`` and variants resolved, the inventory inline, the
    PM2.5 response rows it read, and where it came from (file, variant, SHA-256).
``inputs/coefficients.json``
    every coefficient of the library the run used (value, range, unit, basis, source, formula),
    overrides included, with the SHA-256 of each table.
``inputs/inputs.nc``
    the labelled inputs (pools, measures, targets, parameters, coefficients), a view of the
    compiled model (:func:`sim.model.labels.inputs_dataset`).
``inputs/source/``
    the scenario file(s) and the inventory file exactly as they were read.

From the first two the model is compiled again without any other file: a run folder that was
copied elsewhere, or whose scenario was edited or deleted, still opens whole.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from sim.core.errors import InputError, Problem
from sim.model.air import AirResponse, ResponseRow
from sim.model.coefficients import Coefficient, Library
from sim.model.scenario import Scenario

__all__ = ["RECORD", "library_document", "library_from_document", "read_record", "scenario_document",
           "scenario_from_document", "write_record"]

RECORD = "inputs"
_RESOLVED_AWAY = {"extends", "variants", "remove_measures", "remove_targets"}


def scenario_document(scen: Scenario) -> dict[str, Any]:
    """The scenario as evaluated, as JSON-ready data (see the module docstring)."""
    doc = scen.model_dump(mode="json", exclude_none=True, exclude=_RESOLVED_AWAY)
    doc["id"] = scen.slug
    doc["inventory"] = [p.model_dump(mode="json", exclude_none=True) for p in scen.pools]
    air = scen._air
    return {
        "scenario": doc,
        "air_response": None if air is None else {
            "region": air.region, "file": air.file,
            "base": None if air.base is None else dataclasses.asdict(air.base),
            "precursors": {k: dataclasses.asdict(v) for k, v in air.precursors.items()},
        },
        "origin": {"file": scen._path, "variant": scen._variant, "inventory_file": scen._inventory_path,
                   "inventory_sha256": scen._inventory_hash},
    }


def scenario_from_document(data: dict[str, Any], where: str = "<run record>") -> Scenario:
    """The Scenario of a record (validated again; InputError naming the record when damaged)."""
    from pydantic import ValidationError

    from sim.model.yamlio import LineMap

    try:
        scen = Scenario.model_validate(data["scenario"])
    except (ValidationError, KeyError, TypeError) as exc:
        raise InputError(Problem(f"the run record's scenario cannot be read ({type(exc).__name__}); the run folder is damaged", where)) from None
    air = data.get("air_response")
    if air:
        scen._air = AirResponse(air["region"], None if air["base"] is None else ResponseRow(**air["base"]),
                                {k: ResponseRow(**v) for k, v in air["precursors"].items()}, air["file"])
    origin = data.get("origin") or {}
    scen._path = origin.get("file")
    scen._variant = origin.get("variant")
    scen._inventory_path = origin.get("inventory_file")
    scen._inventory_hash = origin.get("inventory_sha256")
    lines = LineMap(where)
    scen._lines = lines
    scen._inventory_lines = LineMap(where, lines.lines, prefix=("inventory",))
    return scen


def library_document(lib: Library) -> dict[str, Any]:
    """Every coefficient of *lib* with the hashes of the tables it was read from."""
    return {"directory": lib.directory, "hashes": dict(lib.hashes),
            "coefficients": [dataclasses.asdict(c) for c in lib.coefficients.values()]}


def library_from_document(data: dict[str, Any], where: str = "<run record>") -> Library:
    """The Library of a record."""
    try:
        coeffs = {c["key"]: Coefficient(**c) for c in data["coefficients"]}
        return Library(coeffs, dict(data["hashes"]), str(data.get("directory", "")))
    except (KeyError, TypeError) as exc:
        raise InputError(Problem(f"the run record's coefficients cannot be read ({type(exc).__name__}); the run folder is damaged", where)) from None


def _source_files(scen: Scenario) -> list[Path]:
    files: list[str] = []
    if scen._path:
        files.append(str(scen._path))
    lines = getattr(scen._lines, "lines", {}) if scen._lines is not None else {}
    for v in lines.values():
        if isinstance(v, tuple) and str(v[0]) not in files:
            files.append(str(v[0]))
    if scen._inventory_path:
        files.append(str(scen._inventory_path))
    return [Path(f) for f in files if f and Path(f).is_file()]


def write_record(result: Any, folder: Path) -> None:
    """Write the record of *result* (a :class:`sim.evaluation.evaluate.Result`) into *folder*/inputs."""
    from sim.model.labels import inputs_dataset
    from sim.store.netcdf import write_netcdf

    rec = folder / RECORD
    rec.mkdir(parents=True, exist_ok=True)
    model = result.model
    (rec / "scenario.json").write_text(json.dumps(scenario_document(model.scenario), ensure_ascii=False, indent=1),
                                       encoding="utf-8")
    (rec / "coefficients.json").write_text(json.dumps(library_document(model.library), ensure_ascii=False),
                                           encoding="utf-8")
    write_netcdf(inputs_dataset(model), rec / "inputs.nc")
    src = rec / "source"
    for i, f in enumerate(_source_files(model.scenario)):
        src.mkdir(exist_ok=True)
        name = f.name if not (src / f.name).exists() else f"{i}-{f.name}"
        shutil.copyfile(f, src / name)


def read_record(folder: Path) -> tuple[Scenario, Library]:
    """(Scenario, Library) of the run in *folder*; InputError naming the file when missing or damaged."""
    rec = folder / RECORD
    out: list[Any] = []
    for name in ("scenario.json", "coefficients.json"):
        path = rec / name
        if not path.is_file():
            raise InputError(Problem("this run holds no record of its inputs (written by an earlier ersim, or damaged); "
                                     "run its scenario again", str(path)))
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            raise InputError(Problem("the run record cannot be read (cut off or damaged); run its scenario again", str(path))) from None
    return scenario_from_document(out[0], str(rec / "scenario.json")), library_from_document(out[1], str(rec / "coefficients.json"))
