"""NetCDF reading and writing for every output: strings as strings, lists and mappings in attrs as JSON."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Final

import xarray as xr

from sim.core.errors import InputError, Problem

__all__ = ["ENGINE", "read_netcdf", "write_netcdf"]

_JSON_ATTRS = "ersim_json_attrs"
# h5netcdf (h5py). The netCDF4 library writes a run's ~40 small variables about 3x faster, but it
# encodes file names strictly as UTF-8 (a folder unpacked from a GBK archive on Linux cannot be
# written; netCDF-C fails on non-ASCII paths on Windows, Unidata/netcdf4-python#1482) and
# NFC-normalises or refuses variable and dimension names (a sweep over a measure whose id has a
# decomposed accent or a CJK compatibility ideograph fails). tests/test_netcdf_cf.py keeps both.
ENGINE: Final = "h5netcdf"


def write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """Write *ds* as netCDF-4: object arrays as strings, list/dict attrs JSON-encoded (and named)."""
    # one assign: a per-variable update re-aligns the whole Dataset each time (0.1 s for a run's 90 variables)
    enc = ds.assign({name: var.astype(str) for name, var in ds.variables.items() if var.dtype == object})
    encoded = [k for k, v in enc.attrs.items() if isinstance(v, (list, tuple, dict, bool)) or v is None]
    enc.attrs = {k: (json.dumps(v, ensure_ascii=False) if k in encoded else v) for k, v in enc.attrs.items()}
    if encoded:
        enc.attrs[_JSON_ATTRS] = json.dumps(encoded)
    enc.to_netcdf(path, engine=ENGINE)


def read_netcdf(path: Path) -> xr.Dataset:
    """Read a file written by :func:`write_netcdf` into memory; InputError naming it when damaged."""
    try:
        ds = xr.load_dataset(path, engine=ENGINE)
    except FileNotFoundError:
        raise InputError(Problem("file missing from the output folder", str(path))) from None
    except Exception as exc:  # h5py/h5netcdf raise many kinds for a damaged file
        raise InputError(Problem(f"cannot be read ({type(exc).__name__}): the file is damaged or cut off; "
                                 "write the output again", str(path))) from None
    names = ds.attrs.pop(_JSON_ATTRS, None)
    try:
        for k in json.loads(names) if names else ():
            if isinstance(ds.attrs.get(k), str):
                ds.attrs[k] = json.loads(ds.attrs[k])
    except ValueError:  # bytes of the file changed inside an attribute: HDF5 read it, JSON cannot
        raise InputError(Problem("cannot be read: an attribute is not the JSON it was written as; the file is damaged, "
                                 "write the output again", str(path))) from None
    return ds


def decode_legacy(ds: xr.Dataset, keys: tuple[str, ...] = ("report_years", "uncertain_inputs")) -> Any:
    """Runs written before attrs were named: decode the known JSON attrs."""
    for key in keys:
        if isinstance(ds.attrs.get(key), str):
            with contextlib.suppress(ValueError):
                ds.attrs[key] = json.loads(ds.attrs[key])
    return ds
