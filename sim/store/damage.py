"""Damaged run folders: a cut-off manifest.json, a truncated or corrupted results.nc.

:func:`check_run_folder` says what is wrong with a run folder (a Problem naming the file) or
None; it reads the manifest and the HDF5 superblock of results.nc (its signature and the
end-of-file address the writer recorded, against the file's size), never the whole dataset, so
that ``ersim runs`` can check every run quickly. :func:`damaged_runs` finds run folders whose
manifest cannot be read at all (which a list of manifests would drop silently).

Messages name the file and what is wrong; they never echo the file's content.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from sim.core.errors import Problem

__all__ = ["RESULTS", "check_run_folder", "check_writable", "damaged_runs", "leftovers", "load_results", "write_error"]

MANIFEST = "manifest.json"
RESULTS = "results.nc"
_HDF5 = b"\x89HDF\r\n\x1a\n"
_AGAIN = "the run is damaged (interrupted copy, full disk?); run the scenario again, or restore the folder"


def _hdf5_problem(path: Path) -> str | None:
    """What is wrong with an HDF5 file at *path* (signature, truncation), or None."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(128)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    if size == 0:
        return "is empty"
    if not head.startswith(_HDF5):
        return "is not an HDF5/netCDF file (wrong signature)"
    version = head[8] if len(head) > 8 else -1
    try:
        if version in (0, 1):
            offsets = head[13]
            pos = 24 + (4 if version == 1 else 0)
        elif version in (2, 3):
            offsets = head[9]
            pos = 12
        else:
            return None  # a superblock this check does not know: let the reader decide
        fmt = {4: "<I", 8: "<Q"}.get(offsets)
        if fmt is None:
            return None
        # base address, then (v0/1) free-space address or (v2/3) extension address, then end of file
        base, _, eof = (struct.unpack_from(fmt, head, pos + i * offsets)[0] for i in range(3))
    except (IndexError, struct.error):
        return "is cut off inside its header"
    if base + eof > size:
        return f"is truncated: {size:,} of {base + eof:,} bytes"
    return None


def check_run_folder(path: str | Path) -> Problem | None:
    """A Problem naming the damaged file of the run folder *path*, or None when it looks whole."""
    folder = Path(path)
    man = folder / MANIFEST
    if not man.is_file():
        return Problem(f"{MANIFEST} is missing: {_AGAIN}", str(man))
    try:
        data = json.loads(man.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return Problem(f"{MANIFEST} is cut off or not JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}): {_AGAIN}", str(man), exc.lineno)
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(f"{MANIFEST} cannot be read ({type(exc).__name__}): {_AGAIN}", str(man))
    if not isinstance(data, dict):
        return Problem(f"{MANIFEST} is not a mapping of keys: {_AGAIN}", str(man), 1)
    if data.get("kind") not in (None, "run"):
        return None  # sweeps, sensitivity analyses, batches keep other files
    res = folder / RESULTS
    if not res.is_file():
        return Problem(f"{RESULTS} is missing: {_AGAIN}", str(res))
    what = _hdf5_problem(res)
    if what:
        return Problem(f"{RESULTS} {what}: {_AGAIN}", str(res))
    return None


def damaged_runs(root: str | Path) -> list[tuple[Path, Problem]]:
    """Run folders under *root* (``<scenario>/<run>/``) whose manifest or results are damaged."""
    base = Path(root)
    out: list[tuple[Path, Problem]] = []
    if not base.is_dir():
        return out
    for folder in sorted(p for p in base.glob("*/*") if p.is_dir() and not p.name.startswith(".")):
        if not ((folder / MANIFEST).exists() or (folder / RESULTS).exists()):
            continue
        problem = check_run_folder(folder)
        if problem is not None:
            out.append((folder, problem))
    return out


def load_results(folder: str | Path) -> Any:
    """The results Dataset of a run folder; InputError naming results.nc when it cannot be read."""
    import xarray as xr

    from sim.core.errors import InputError
    from sim.store.netcdf import ENGINE

    path = Path(folder) / RESULTS
    try:
        return xr.load_dataset(path, engine=ENGINE)
    except Exception as exc:  # h5py, h5netcdf and xarray raise many unrelated types
        raise InputError(Problem(f"{RESULTS} cannot be read as netCDF ({type(exc).__name__}): {_AGAIN}", str(path))) from None


def _existing(folder: Path) -> Path:
    p = folder.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_writable(folder: str | Path, need: int) -> None:
    """Refuse before anything is written: *folder* (or its nearest existing parent) must be a
    writable folder with at least *need* bytes free (a full disk would otherwise fail mid-write)."""
    import os
    import shutil

    from sim.core.errors import InputError

    target = Path(folder)
    base = _existing(target)
    if not base.is_dir():
        raise InputError(Problem(f"cannot write outputs under {str(target)!r}: {str(base)!r} is not a folder"))
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(Problem(f"cannot write outputs under {str(target)!r}: the folder {str(base)!r} is read-only for this user; "
                                 "choose another with --out or ERSIM_OUTPUTS"))
    free = shutil.disk_usage(base).free
    if free < need:
        raise InputError(Problem(f"cannot write outputs under {str(target)!r}: {free / 2**20:,.1f} MiB free on its disk, the run needs "
                                 f"about {need / 2**20:,.1f} MiB; free some space or choose another folder (--out, ERSIM_OUTPUTS)"))


_WRITE_ERRORS = {28: "no space left on the disk", 122: "disk quota exceeded", 30: "the file system is read-only",
                 13: "permission denied", 1: "operation not permitted"}


def write_error(exc: OSError) -> Problem | None:
    """A clear Problem for an OSError of writing outputs (full disk, read-only, denied), or None."""
    reason = _WRITE_ERRORS.get(exc.errno or 0)
    if reason is None:
        return None
    where = f" {exc.filename}" if exc.filename else ""
    return Problem(f"cannot write{where}: {reason}; nothing was kept of this output (choose another folder with --out or ERSIM_OUTPUTS)")


def leftovers(root: str | Path) -> list[Path]:
    """Temporary folders (``.tmp-*``) that killed runs left under *root*'s scenario folders."""
    base = Path(root)
    if not base.is_dir():
        return []
    return sorted(p for p in base.glob("*/.tmp-*") if p.is_dir())
