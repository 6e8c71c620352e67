"""Damaged earlier runs: a truncated or corrupted results.nc, a cut-off manifest.json.

compare and appendix exit 2 naming the file; `ersim runs` lists the run as damaged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.main import main
from sim.store.damage import check_run_folder, damaged_runs

BASE = Path(__file__).resolve().parent / "data" / "bad" / "_base" / "scenario.yaml"


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "out"))
    shutil.copyfile(BASE, tmp_path / "s.yaml")
    for _ in range(2):
        res = CliRunner().invoke(main, ["run", str(tmp_path / "s.yaml"), "--no-figures"])
        assert res.exit_code == 0, res.output
    a, b = sorted((tmp_path / "out" / "bad-case").iterdir())
    return a, b


def test_whole_runs_pass(runs: tuple[Path, Path]) -> None:
    assert check_run_folder(runs[0]) is None and check_run_folder(runs[1]) is None


def test_truncated_results(runs: tuple[Path, Path]) -> None:
    nc = runs[1] / "results.nc"
    size = nc.stat().st_size
    nc.write_bytes(nc.read_bytes()[: size // 2])
    p = check_run_folder(runs[1])
    assert p is not None and p.file == str(nc) and f"is truncated: {size // 2:,} of {size:,} bytes" in p.message
    for args in (["compare", str(runs[0]), str(runs[1]), "--no-figures"], ["appendix", str(runs[1]), "--format", "md"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output and "results.nc is truncated" in res.stderr and str(runs[1].name) in res.stderr
    res = CliRunner().invoke(main, ["runs"])
    assert res.exit_code == 0 and "DAMAGED" in res.output and runs[1].name in res.output


def test_garbage_results(runs: tuple[Path, Path]) -> None:
    (runs[0] / "results.nc").write_bytes(b"not a netcdf file at all")
    res = CliRunner().invoke(main, ["compare", str(runs[0]), str(runs[1]), "--no-figures"])
    assert res.exit_code == 2 and "results.nc is not an HDF5/netCDF file" in res.stderr
    assert "not a netcdf file at all" not in res.stderr  # the file's content is never echoed


def test_cut_off_manifest_is_listed_not_dropped(runs: tuple[Path, Path]) -> None:
    man = runs[0] / "manifest.json"
    man.write_text(man.read_text(encoding="utf-8")[:200], encoding="utf-8")
    res = CliRunner().invoke(main, ["runs"])
    assert res.exit_code == 0
    assert runs[0].name in res.output and "manifest.json is cut off" in res.output
    assert [f for f, _ in damaged_runs(runs[0].parent.parent)] == [runs[0]]
    res = CliRunner().invoke(main, ["appendix", str(runs[0]), "--format", "md"])
    assert res.exit_code == 2 and "manifest.json is cut off or not JSON" in res.stderr and "Traceback" not in res.output


def test_full_disk_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil as sh
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(sh, "disk_usage", lambda p: usage(10 * 2**20, 10 * 2**20 - 4096, 4096))
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "out"))
    sh.copyfile(BASE, tmp_path / "s.yaml")
    res = CliRunner().invoke(main, ["run", str(tmp_path / "s.yaml"), "--no-figures", "--samples", "50"])
    assert res.exit_code == 2, res.output
    assert "0.0 MiB free on its disk" in res.stderr and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("errno", "reason"), [(28, "no space left on the disk"), (30, "the file system is read-only"), (13, "permission denied")])
def test_write_errors_name_the_cause_and_leave_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errno: int, reason: str) -> None:
    import os

    import sim.store.runs as runs_mod

    real = runs_mod.write_files

    def failing(result, folder, *rest):  # type: ignore[no-untyped-def]
        real(result, folder, *rest)
        raise OSError(errno, os.strerror(errno), str(folder / "results.nc"))

    monkeypatch.setattr(runs_mod, "write_files", failing)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "out"))
    shutil.copyfile(BASE, tmp_path / "s.yaml")
    res = CliRunner().invoke(main, ["run", str(tmp_path / "s.yaml"), "--no-figures"])
    assert res.exit_code == 2, res.output
    assert f"cannot write {tmp_path / 'out'}" in res.stderr and reason in res.stderr and "Traceback" not in res.output
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_leftovers_of_killed_runs_are_listed(runs: tuple[Path, Path]) -> None:
    left = runs[0].parent / ".tmp-20260101T000000-abc123-0badf00d"
    left.mkdir()
    (left / "results.nc").write_bytes(b"\x89HDF\r\n\x1a\n")
    res = CliRunner().invoke(main, ["runs"])
    assert res.exit_code == 0 and f"safe to delete): {left}" in res.output
    assert "DAMAGED" not in res.output  # a temporary folder is not a damaged run


def test_an_attribute_damaged_inside_results_is_refused_not_a_traceback(runs: tuple[Path, Path]) -> None:
    """HDF5 reads the file, but an attribute written as JSON no longer parses (bytes changed in place)."""
    import xarray as xr

    nc = runs[1] / "results.nc"
    ds = xr.load_dataset(nc, engine="h5netcdf")
    ds.attrs["report_years"] = '[2025, 20'
    ds.to_netcdf(nc, engine="h5netcdf")
    res = CliRunner().invoke(main, ["appendix", str(runs[1]), "--format", "md"])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "not the JSON it was written as" in res.stderr and "results.nc" in res.stderr
