"""Runs on disk: ``outputs/<scenario>/<run-id>/``, written by the one writer, opened whole again.

A run folder holds its results (``results.nc`` and the CSV tables), its manifest and the record
of its inputs (``inputs/``, see :mod:`sim.store.record`). :func:`open_run` gives back the same
:class:`~sim.evaluation.evaluate.Result` that :func:`sim.run` returned, inputs included, from the
folder alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sim.core.errors import InputError, Problem, did_you_mean
from sim.evaluation.evaluate import Result
from sim.model.plan_scope import scope_manifest
from sim.store.beside import beside
from sim.store.folders import (
    KINDS,
    MANIFEST,
    TMP_PREFIX,
    OutputFolder,
    atomic_folder,
    default_outputs,
    new_id,
    read_manifest,
    write_output,
)
from sim.store.netcdf import decode_legacy, read_netcdf, write_netcdf
from sim.store.record import RECORD, read_record, write_record
from sim.store.tables import write_csv

__all__ = ["MANIFEST", "Run", "atomic_folder", "chain_hashes", "default_outputs", "list_outputs", "list_runs", "manifest",
           "new_folder_name", "open_run", "resolve_output", "resolve_run", "save_run"]


def _sha256(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def new_folder_name(prefix: str = "") -> str:
    """A time-stamped, unique folder name."""
    return f"{prefix}{new_id()}"


def chain_hashes(scen: Any) -> dict[str, str | None]:
    """SHA-256 of every scenario file the scenario was built from (itself and what it extends)."""
    files: set[str] = set()
    if scen._path:
        files.add(str(scen._path))
    lines = getattr(scen._lines, "lines", {}) if scen._lines is not None else {}
    for v in lines.values():
        if isinstance(v, tuple):
            files.add(str(v[0]))
    return {f: _sha256(f) for f in sorted(files)}


def scenario_provenance(scen: Any) -> dict[str, Any]:
    """Where a scenario came from: file, variant, SHA-256 of it, its extends chain and its inventory."""
    return {
        "scenario": scen.name,
        "scenario_id": scen.slug,
        "region": scen.region,
        "scenario_file": scen._path,
        "scenario_variant": scen._variant,
        "scenario_ref": f"{scen._path}#{scen._variant}" if scen._variant and scen._path else scen._path,
        "scenario_sha256": _sha256(scen._path),
        "scenario_chain_sha256": chain_hashes(scen),
        "inventory_file": scen._inventory_path,
        "inventory_sha256": scen._inventory_hash,
    }


def manifest(result: Result, run_id: str = "") -> dict[str, Any]:
    """Everything needed to reproduce the run: hashes, version, settings, overrides, warnings, time."""
    from sim.core.version import __version__

    scen = result.scenario
    lib = result.model.library
    used_tables = sorted({lib[k].file and Path(lib[k].file).name for k in result.model.base_keys() + result.model.keys_used} - {""})
    overrides = {k: {"value": o.value, "unit": o.unit, "source": o.source} for k, o in scen.coefficients.items()}
    tf = result.targets_frame()
    return {
        "run_id": run_id,
        **scenario_provenance(scen),
        "created": result.created,
        "ersim_version": __version__,
        "coefficient_tables": {name: h for name, h in sorted(lib.hashes.items())},
        "coefficient_tables_used": [t for t in used_tables if t.endswith(".csv")],
        "coefficients_used": {k: {"value": lib[k].value, "unit": lib[k].unit, "basis": lib[k].basis, "source": lib[k].source}
                              for k in result.model.keys_used},
        "coefficient_overrides": overrides,
        "settings": result.settings,
        "warnings": result.warnings,
        **scope_manifest(scen),
        "record": f"{RECORD}/",
        "targets": [{"target": str(t), "margin": float(m), "unit": str(u), "status": str(s)}
                    for t, m, u, s in zip(tf["target"], tf["margin"], tf.get("unit", ["t"] * len(tf)), tf["status"], strict=True)],
    }


def write_files(result: Result, folder: OutputFolder) -> None:
    """results.nc, the CSV tables, the input record and any extra writers (charts).

    The charts (or, without charts, the record) are written beside the rest by a child process
    (:mod:`sim.store.beside`): the two halves take about as long as each other.
    """
    charts = [partial(writer, folder / name) for name, writer in result.extra_writers.items()]
    record = partial(write_record, result, folder.path)
    aside, here = (charts, [record]) if charts else ([record], [])
    with beside(aside):
        write_netcdf(result.dataset, folder / "results.nc")
        for name, frame in (("summary", result.summary_frame()), ("targets", result.targets_frame()), ("measures", result.measures_frame())):
            write_csv(frame, folder / f"{name}.csv")  # no live formulas from names
        for job in here:
            job()


def save_run(result: Result, out: str | Path | None = None) -> Path:
    """Write *result* as a run folder and return its path.

    Without *out*: ``outputs/<scenario-id>/<run-id>/``. With *out*: that folder, which must not
    exist, be empty, or hold an earlier ersim output (replaced only once the new run is complete).
    """
    from sim.store.damage import check_writable

    # a full disk would otherwise fail mid-write: refuse before anything is written
    check_writable(Path(out) if out else default_outputs(), int(1.5 * result.dataset.nbytes) + 16 * 2**20)
    man = manifest(result)

    def write(folder: OutputFolder) -> None:
        folder.manifest["run_id"] = folder.manifest["id"]
        write_files(result, folder)

    man.pop("run_id")
    final = write_output("run", result.scenario.slug, write, man, out)
    result.folder = final
    result.run_id = (read_manifest(final) or {}).get("id", final.name)
    return final


class Run(Result):
    """A Result that saves itself: what :func:`sim.run` and :func:`sim.open_run` return."""

    @classmethod
    def of(cls, result: Result) -> Run:
        if isinstance(result, Run):
            return result
        return cls(**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)})

    def save(self, out: str | Path | None = None) -> Path:
        """Write the run (``outputs/<scenario>/<run-id>/`` or *out*) and return its folder."""
        return save_run(self, out)


def _damage(folder: Path, man: dict[str, Any] | None) -> str | None:
    """Why an output folder cannot be used (its manifest cut off, its results damaged), or None."""
    from sim.store.damage import check_run_folder

    problem = check_run_folder(folder)
    if problem is not None:
        return problem.message
    return None if man is not None else f"{MANIFEST} cannot be read"


def list_outputs(root: str | Path | None = None, kinds: tuple[str, ...] = KINDS) -> list[dict[str, Any]]:
    """Manifests of every output under *root* (temporary folders never), oldest first.

    A folder whose manifest or results cannot be read is listed with ``damaged`` set to why.
    """
    base = Path(root) if root else default_outputs()
    out = []
    for m in sorted(base.glob(f"*/*/{MANIFEST}")):
        if any(part.startswith(TMP_PREFIX) for part in m.parts):
            continue
        folder = m.parent
        data = read_manifest(folder)
        why = _damage(folder, data)
        entry: dict[str, Any] = dict(data or {})
        entry.setdefault("kind", "run")
        entry.setdefault("id", entry.get("run_id") or folder.name)
        if entry["kind"] == "run":
            entry.setdefault("run_id", entry["id"])
        entry.setdefault("scenario_id", folder.parent.name)
        entry["path"] = str(folder)
        if why:
            entry["damaged"] = why
        if entry["kind"] in kinds:
            out.append(entry)
    return sorted(out, key=lambda d: str(d.get("created", "")))


def list_runs(root: str | Path | None = None) -> list[dict[str, Any]]:
    """Manifests of complete, readable runs under *root*."""
    return [r for r in list_outputs(root, ("run",)) if not r.get("damaged")]


def resolve_output(name: str | Path, root: str | Path | None = None, kinds: tuple[str, ...] = ("run",)) -> Path:
    """An output folder from a path, an id, a unique id prefix, or a scenario id (its latest output)."""
    p = Path(name)
    if (p / MANIFEST).is_file():
        return p
    if p.is_dir():
        raise InputError(Problem(f"not an ersim output folder (no {MANIFEST})", str(p)))
    outs = [o for o in list_outputs(root, kinds)]
    what = " or ".join(kinds)
    exact = [r for r in outs if r.get("id") == str(name)]
    if exact:
        return Path(exact[-1]["path"])
    by_prefix = [r for r in outs if str(r.get("id", "")).startswith(str(name))]
    if len(by_prefix) == 1:
        return Path(by_prefix[0]["path"])
    if len(by_prefix) > 1:
        ids = ", ".join(str(r["id"]) for r in by_prefix[:5])
        raise InputError(Problem(f"{what} id prefix {str(name)!r} is ambiguous: {ids}"))
    by_scenario = [r for r in outs if r.get("scenario_id") == str(name) and not r.get("damaged")]
    if by_scenario:
        return Path(by_scenario[-1]["path"])
    known = sorted({str(r.get("scenario_id")) for r in outs} | {str(r.get("id")) for r in outs})
    raise InputError(Problem(f"no {what} {str(name)!r} under {Path(root) if root else default_outputs()}{did_you_mean(str(name), known)}; "
                             f"give a {what} folder, an id (or a unique prefix) or a scenario id"))


def resolve_run(name: str | Path, root: str | Path | None = None) -> Path:
    """A run folder from a path, a run id, a unique run-id prefix, or a scenario id (its latest run)."""
    return resolve_output(name, root, ("run",))


def open_run(name: str | Path, root: str | Path | None = None) -> Run:
    """The run named as :func:`resolve_run` accepts, as the Result :func:`sim.run` returned.

    Only the run folder is read: the model is compiled again from the record of its inputs.
    InputError (naming the file) when the folder is damaged or holds no record.
    """
    from sim.model.compile import compile_model
    from sim.store.damage import check_run_folder

    folder = resolve_run(name, root)
    damaged = check_run_folder(folder)  # names the damaged file
    if damaged is not None:
        raise InputError(damaged)
    man = read_manifest(folder)
    if man is None:
        raise InputError(Problem(f"the run cannot be opened: {MANIFEST} cannot be read", str(folder)))
    ds = decode_legacy(read_netcdf(folder / "results.nc"))
    scen, lib = read_record(folder)
    model = compile_model(scen, lib)
    result = Run(model, ds, dict(man.get("settings") or {}), list(man.get("warnings") or []))
    result.created = str(man.get("created", result.created))
    result.folder = folder
    result.run_id = str(man.get("id") or man.get("run_id") or folder.name)
    result.manifest = man
    return result


def open_output(name: str | Path, kinds: tuple[str, ...], reader: Callable[[Path, dict[str, Any]], Any],
                root: str | Path | None = None) -> Any:
    """Any output: its folder resolved as :func:`resolve_output` does, then *reader(folder, manifest)*."""
    folder = resolve_output(name, root, kinds)
    man = read_manifest(folder)
    why = _damage(folder, man)
    if why or man is None:
        raise InputError(Problem(f"the output cannot be opened: {why}", str(folder)))
    return reader(folder, man)
