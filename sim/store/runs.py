"""Runs on disk: ``outputs/<scenario>/<run-id>/`` written atomically (temp folder + rename)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from sim import __version__
from sim.core.errors import InputError, Problem
from sim.evaluation.evaluate import Result

__all__ = ["MANIFEST", "default_outputs", "list_runs", "save_run"]

MANIFEST = "manifest.json"
_TMP_PREFIX = ".tmp-"


def default_outputs() -> Path:
    """``$ERSIM_OUTPUTS`` or ``outputs/`` in the current folder."""
    return Path(os.environ.get("ERSIM_OUTPUTS", "outputs"))


def _sha256(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest(result: Result, run_id: str) -> dict[str, Any]:
    """Everything needed to reproduce the run: hashes, version, settings, overrides, time."""
    scen = result.scenario
    lib = result.model.library
    used_tables = sorted({lib[k].file and Path(lib[k].file).name for k in result.model.base_keys() + result.model.keys_used} - {""})
    overrides = {k: {"value": o.value, "unit": o.unit, "source": o.source} for k, o in scen.coefficients.items()}
    return {
        "run_id": run_id,
        "scenario": scen.name,
        "scenario_id": scen.slug,
        "region": scen.region,
        "created": result.created,
        "ersim_version": __version__,
        "scenario_file": scen._path,
        "scenario_variant": scen._variant,
        "scenario_ref": f"{scen._path}#{scen._variant}" if scen._variant and scen._path else scen._path,
        "scenario_sha256": _sha256(scen._path),
        "scenario_chain_sha256": chain_hashes(scen),
        "inventory_file": scen._inventory_path,
        "inventory_sha256": scen._inventory_hash,
        "coefficient_tables": {name: h for name, h in sorted(lib.hashes.items())},
        "coefficient_tables_used": [t for t in used_tables if t.endswith(".csv")],
        "coefficients_used": {k: {"value": lib[k].value, "unit": lib[k].unit, "basis": lib[k].basis, "source": lib[k].source} for k in result.model.keys_used},
        "coefficient_overrides": overrides,
        "settings": result.settings,
        "warnings": result.warnings,
        "targets": [{"target": str(t), "margin": float(m), "status": str(s)} for t, m, s in
                    zip(result.targets_frame()["target"], result.targets_frame()["margin"], result.targets_frame()["status"], strict=True)],
    }


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


def _new_run_id(result: Result) -> str:
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def _safe_child(root: Path, *parts: str) -> Path:
    target = root.joinpath(*parts).resolve()
    if root.resolve() not in target.parents and target != root.resolve():
        raise InputError(Problem(f"output path {'/'.join(parts)!r} would leave {root}"))
    return target


@contextlib.contextmanager
def atomic_folder(final: Path) -> Any:
    """Yield a temporary sibling folder; rename it to *final* only if the block completes."""
    final.parent.mkdir(parents=True, exist_ok=True)
    _tidy(final)
    tmp = final.parent / f"{_TMP_PREFIX}{final.name}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            old = final.parent / f"{_TMP_PREFIX}old-{final.name}-{secrets.token_hex(4)}"
            final.rename(old)
            try:
                tmp.rename(final)
            except BaseException:
                with contextlib.suppress(OSError):
                    old.rename(final)  # put the earlier folder back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def new_folder_name(prefix: str = "") -> str:
    """A time-stamped, unique folder name."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{prefix}{stamp}-{secrets.token_hex(3)}"


def save_run(result: Result, out: str | Path | None = None) -> Path:
    """Write *result* as a run folder and return its path.

    Without *out*: ``outputs/<scenario-id>/<run-id>/``. With *out*: that folder, which must not
    exist, be empty, or hold an earlier run (it is then replaced only after the new run is complete).
    """
    run_id = _new_run_id(result)
    if out is None:
        root = default_outputs()
        final = _safe_child(root, result.scenario.slug, run_id)
    else:
        final = Path(out)
        if final.exists() and (not final.is_dir() or (any(final.iterdir()) and not (final / MANIFEST).is_file())):
            raise InputError(Problem("refusing to write into a folder that is neither empty nor an ersim run", str(final)))
    with atomic_folder(final) as tmp:
        write_files(result, tmp, run_id)
    return final


def _tidy(final: Path) -> None:
    """Undo what a killed run left beside *final*.

    Replacing an earlier run is two renames (old run aside, new run in place); a run killed
    between them left the earlier run as ``.tmp-old-<name>-*`` and nothing at *final*: put it
    back. Under outputs/ (never in a folder a planner chose with ``--out``), temporary folders
    of runs killed more than a day ago are removed: they were never visible as runs.
    """
    import re
    import time

    if not final.exists():
        olds = [p for p in final.parent.glob(f"{_TMP_PREFIX}old-{final.name}-*") if (p / MANIFEST).is_file()]
        if olds:
            max(olds, key=lambda p: p.stat().st_mtime).rename(final)
    with contextlib.suppress(OSError):
        root = default_outputs().resolve()
        if root not in final.parent.resolve().parents:
            return
        ours = re.compile(rf"^{re.escape(_TMP_PREFIX)}.+-[0-9a-f]{{8}}$")
        cutoff = time.time() - 86400
        for p in final.parent.iterdir():
            if ours.match(p.name) and p.is_dir() and p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)


def write_files(result: Result, folder: Path, run_id: str) -> None:
    """results.nc, summary.csv, targets.csv, measures.csv, then manifest.json last."""
    ds = result.dataset.copy()
    for name in list(ds.variables):
        if ds[name].dtype == object:
            ds[name] = ds[name].astype(str)
    ds.attrs = {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v) for k, v in ds.attrs.items()}
    ds.to_netcdf(folder / "results.nc", engine="h5netcdf")
    result.summary_frame().to_csv(folder / "summary.csv", index=False, encoding="utf-8-sig")
    result.targets_frame().to_csv(folder / "targets.csv", index=False, encoding="utf-8-sig")
    result.measures_frame().to_csv(folder / "measures.csv", index=False, encoding="utf-8-sig")
    for name, writer in result.extra_writers.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        writer(target)
    with (folder / MANIFEST).open("w", encoding="utf-8") as fh:
        json.dump(manifest(result, run_id), fh, ensure_ascii=False, indent=2, default=str)
        fh.flush()
        with contextlib.suppress(OSError):
            os.fsync(fh.fileno())


def list_runs(root: str | Path | None = None) -> list[dict[str, Any]]:
    """Manifests of complete runs under *root* (temporary folders are never listed)."""
    base = Path(root) if root else default_outputs()
    out = []
    for m in sorted(base.glob(f"*/*/{MANIFEST}")):
        if any(part.startswith(_TMP_PREFIX) for part in m.parts):
            continue
        try:
            data = json.loads(m.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("kind") not in (None, "run"):  # sweeps, sensitivity analyses, batches
            continue
        data["path"] = str(m.parent)
        out.append(data)
    return sorted(out, key=lambda d: d.get("created", ""))


def resolve_run(name: str | Path, root: str | Path | None = None) -> Path:
    """A run folder from a path, a run id, a unique run-id prefix, or a scenario id (its latest run)."""
    p = Path(name)
    if (p / MANIFEST).is_file():
        return p
    runs = list_runs(root)
    exact = [r for r in runs if r.get("run_id") == str(name)]
    if exact:
        return Path(exact[-1]["path"])
    by_prefix = [r for r in runs if str(r.get("run_id", "")).startswith(str(name))]
    if len(by_prefix) == 1:
        return Path(by_prefix[0]["path"])
    if len(by_prefix) > 1:
        ids = ", ".join(r["run_id"] for r in by_prefix[:5])
        raise InputError(Problem(f"run id prefix {str(name)!r} is ambiguous: {ids}"))
    by_scenario = [r for r in runs if r.get("scenario_id") == str(name)]
    if by_scenario:
        return Path(by_scenario[-1]["path"])
    from sim.core.errors import did_you_mean

    known = sorted({str(r.get("scenario_id")) for r in runs} | {str(r.get("run_id")) for r in runs})
    raise InputError(Problem(f"no run {str(name)!r} under {Path(root) if root else default_outputs()}{did_you_mean(str(name), known)}; "
                             "give a run folder, a run id (or a unique prefix) or a scenario id"))


def open_run(name: str | Path, root: str | Path | None = None) -> tuple[Any, dict[str, Any], Path]:
    """(results Dataset, manifest, folder) of a run named as :func:`resolve_run` accepts."""
    from sim.store.damage import check_run_folder, load_results

    folder = resolve_run(name, root)
    damaged = check_run_folder(folder)
    if damaged is not None:
        raise InputError(damaged)
    man = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    ds = load_results(folder)
    for key in ("report_years", "uncertain_inputs"):
        if isinstance(ds.attrs.get(key), str):
            ds.attrs[key] = json.loads(ds.attrs[key])
    return ds, man, folder
