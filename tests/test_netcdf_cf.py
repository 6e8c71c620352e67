"""results.nc follows CF: a Conventions attribute, long_name on every variable, UDUNITS units.

Units are parsed with cf_units (UDUNITS-2, a test dependency): "t/a" would read as tonnes per
*are* (an area), so tonnes per year are "t yr-1"; concentrations "ug m-3"; shares and
probabilities "1". Variables that hold each target in its own unit carry no single ``units``
and say so in a comment pointing at the coordinate ``target_unit``, whose values parse too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from sim.cli.main import main

REPO = Path(__file__).resolve().parents[1]
cf_units = pytest.importorskip("cf_units")


def check_cf(ds: xr.Dataset) -> None:
    assert ds.attrs.get("Conventions") == "CF-1.8"
    for name, var in ds.variables.items():
        assert var.attrs.get("long_name"), f"{name} has no long_name"
        units = var.attrs.get("units")
        if units is not None:
            cf_units.Unit(units)  # raises ValueError when UDUNITS cannot parse it
        elif np.issubdtype(var.dtype, np.number) and name not in ds.dims and "year" not in name and "seed" not in name \
                and name not in ("sample", "activity"):
            assert "target_unit" in var.attrs.get("comment", ""), f"{name}: numbers without units"
    if "target_unit" in ds.coords:
        for u in np.unique(ds["target_unit"].values):
            cf_units.Unit(str(u))
    for name in ("baseline", "emissions_total", "reduction_total"):
        if name in ds:
            # tonnes per year convert to kg s-1: a rate, not a mass per area
            assert cf_units.Unit(ds[name].attrs["units"]).is_convertible(cf_units.Unit("kg s-1")), name


@pytest.mark.parametrize(("scenario", "extra"), [("ningbo-2022.yaml", []), ("ankang-2025.yaml", ["--samples", "50"]),
                                                 ("ankang-2025.yaml", ["--samples", "50", "--keep", "quantiles"])])
def test_results_nc_is_cf(tmp_path, monkeypatch, scenario, extra):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path))
    res = CliRunner().invoke(main, ["run", f"scenarios/{scenario}", "--no-figures", "--quiet", *extra])
    assert res.exit_code == 0, res.output
    (nc,) = tmp_path.glob("*/*/results.nc")
    ds = xr.load_dataset(nc, engine="h5netcdf")
    check_cf(ds)
    units = set(ds["target_unit"].values)
    if len(units) > 1:
        # mixed targets (both examples carry a PM2.5 target): tonnes and µg/m³ are never one column
        # without the unit beside it
        assert "units" not in ds["margin"].attrs and units == {"t", "ug m-3"}
        assert ds["concentration_projected"].attrs["units"] == "ug m-3"
    else:
        assert ds["margin"].attrs["units"] == units.pop()


def test_sweep_results_nc_is_cf(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "sweep"
    res = CliRunner().invoke(main, ["sweep", "scenarios/ningbo-2022.yaml", "--set", "measures.china3-trucks.completion=0.5,1",
                                    "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    ds = xr.load_dataset(out / "results.nc", engine="h5netcdf")
    assert ds.attrs.get("Conventions") == "CF-1.8"
    for name in ("margin", "emissions_total", "reduction_total"):
        assert ds[name].attrs.get("long_name"), name
    cf_units.Unit(ds["emissions_total"].attrs["units"])
    assert set(ds["target_unit"].values) == {"t", "ug m-3"}


def test_batch_results_nc_is_cf(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "batch"
    res = CliRunner().invoke(main, ["batch", "scenarios/ningbo-2022.yaml", "scenarios/ankang-2025.yaml", "--samples", "20",
                                    "--workers", "1", "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    ds = xr.load_dataset(out / "results.nc", engine="h5netcdf")
    check_cf(ds)
    assert set(np.unique(ds["target_unit"].values)) >= {"t", "ug m-3"}
