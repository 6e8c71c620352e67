"""One writer for every output folder (run, sweep, sensitivity, solve, compare, batch, appendix).

Each output is written into a temporary sibling folder and renamed into place only when it is
complete, with ``manifest.json`` written last. An output has its own id and records its kind;
``ersim runs`` lists them all. A folder the user names with ``--out`` is used only when it does
not exist, is empty or holds an earlier ersim output (which is then replaced: the user named it);
anything else is refused before a byte is written. Without ``--out`` every output gets a new
folder, so nothing overwrites an earlier one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sim.core.errors import InputError, Problem

__all__ = ["KINDS", "MANIFEST", "OutputFolder", "atomic_folder", "default_outputs", "is_ersim_folder", "new_id",
           "output_folder", "read_manifest", "write_output"]

MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
#: what ersim writes; the manifest's ``kind``
KINDS = ("run", "sweep", "sensitivity", "solve", "compare", "batch", "appendix", "explore")
_LEGACY_APPENDIX_MARKER = "appendix.json"


def default_outputs() -> Path:
    """``$ERSIM_OUTPUTS`` or ``outputs/`` in the current folder."""
    return Path(os.environ.get("ERSIM_OUTPUTS", "outputs"))


def new_id(kind: str = "run") -> str:
    """A time-stamped unique id: ``20261202T003455-1a2b3c`` (runs) or ``<kind>-…`` (other outputs)."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
    token = f"{stamp}-{secrets.token_hex(3)}"
    return token if kind == "run" else f"{kind}-{token}"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest as a mapping, or None when it has none or it cannot be read."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_ersim_folder(folder: Path) -> bool:
    """True when *folder* holds an output that ersim wrote (a manifest, or an older appendix marker)."""
    return (folder / MANIFEST).is_file() or (folder / _LEGACY_APPENDIX_MARKER).is_file()


def _safe_name(part: str, root: Path) -> str:
    """*part* when it names a folder right under *root*; InputError when it would leave it or hide.

    Names come from scenario ids, which may also come from a run received from elsewhere: they
    are checked again here, whatever the loader let through.
    """
    if (not part or part.startswith(".") or any(c in part for c in "/\\\0:") or len(part) > 150
            or any(ord(c) < 32 or ord(c) == 127 for c in part)):
        raise InputError(Problem(f"output name {part!r} would leave {root} or hide there; give the scenario an 'id:' "
                                 "of letters, digits, '-', '_' and '.'"))
    return part


def output_folder(kind: str, label: str, out: str | Path | None = None) -> Path:
    """Where an output of *kind* goes: *out* (checked) or ``outputs/<label>/<id>``.

    Raises InputError (nothing touched) when *out* exists and is not a folder ersim wrote.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    if out is not None:
        final = Path(out)
        if final.exists() and (not final.is_dir() or (any(final.iterdir()) and not is_ersim_folder(final))):
            raise InputError(Problem(f"refusing to write the {kind} into a folder that is neither empty nor an earlier "
                                     "ersim output; name a new folder (--out on the command line, out= in Python)", str(final)))
        return final
    root = default_outputs()
    final = root / _safe_name(label, root) / new_id(kind)
    if root.resolve() not in final.resolve().parents:
        raise InputError(Problem(f"output name {label!r} would leave {root}"))
    return final


@contextlib.contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; rename it to *final* only if the block completes."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        _tidy(final)
        tmp = final.parent / f"{TMP_PREFIX}{final.name}-{secrets.token_hex(4)}"
        tmp.mkdir()
    except OSError as exc:
        raise InputError(Problem(f"cannot write here: {exc.strerror or exc}", str(final.parent))) from None
    try:
        yield tmp
        if final.exists():
            old = final.parent / f"{TMP_PREFIX}old-{final.name}-{secrets.token_hex(4)}"
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


def _tidy(final: Path) -> None:
    """Undo what a killed writer left beside *final*.

    Replacing an earlier output is two renames (old aside, new in place); a writer killed
    between them left the earlier one as ``.tmp-old-<name>-*`` and nothing at *final*: put it
    back. Under outputs/ (never in a folder a planner chose with ``--out``), temporary folders
    of writers killed more than a day ago are removed: they were never visible as outputs.
    """
    if not final.exists():
        olds = [p for p in final.parent.glob(f"{TMP_PREFIX}old-{final.name}-*") if is_ersim_folder(p)]
        if olds:
            max(olds, key=lambda p: p.stat().st_mtime).rename(final)
    with contextlib.suppress(OSError):
        root = default_outputs().resolve()
        if root not in final.parent.resolve().parents:
            return
        ours = re.compile(rf"^{re.escape(TMP_PREFIX)}.+-[0-9a-f]{{8}}$")
        cutoff = time.time() - 86400
        for p in final.parent.iterdir():
            if ours.match(p.name) and p.is_dir() and p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)


class OutputFolder:
    """The folder being written (temporary until complete) and the manifest that will close it."""

    def __init__(self, tmp: Path, final: Path, manifest: dict[str, Any]):
        self.path = tmp
        self.final = final
        self.manifest = manifest

    def __truediv__(self, name: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target


def write_output(kind: str, label: str, write: Callable[[OutputFolder], None], manifest: dict[str, Any],
                 out: str | Path | None = None) -> Path:
    """Write an output of *kind* atomically and return its final folder.

    *write* fills the folder; the manifest (``kind``, ``id``, ``created``, ``ersim_version``
    plus *manifest*, which *write* may extend) is written last, so a folder without one was
    never completed.
    """
    from sim.core.version import __version__

    final = output_folder(kind, label, out)
    out_id = final.name if out is None else new_id(kind)
    head = {"kind": kind, "id": out_id, **({"run_id": out_id} if kind == "run" else {}),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "ersim_version": __version__}
    man = {**head, **manifest}
    try:
        with atomic_folder(final) as tmp:
            folder = OutputFolder(tmp, final, man)
            write(folder)
            with (tmp / MANIFEST).open("w", encoding="utf-8") as fh:
                json.dump(folder.manifest, fh, ensure_ascii=False, indent=2, default=str)
                fh.flush()
                with contextlib.suppress(OSError):
                    os.fsync(fh.fileno())
    except OSError as exc:
        from sim.store.damage import write_error

        raise InputError(write_error(exc) or Problem(f"could not write the {kind}: {exc.strerror or exc}; nothing was written",
                                                     str(getattr(exc, "filename", None) or final))) from None
    return final
