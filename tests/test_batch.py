"""ersim batch: many scenarios stacked by region; identical results serially, on a process
pool, on dask, and with any block size; bad input exits 2 and writes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from sim.analyses.batch import evaluate_batch, expand_inputs, local_cluster, region_seed, run_batch
from sim.cli.batch import batch_cmd
from sim.cli.main import main
from sim.core.errors import InputError

if "batch" not in main.commands:  # sim/cli.py registers it; keep the tests independent of that
    main.add_command(batch_cmd)

CITY = """\
name: {name}减排情景
region: {name}
base_year: 2020
years: [2023, 2025]
inventory:
  - id: boiler.coal
    activity: {coal} 蒸吨
    growth: {{value: 0.02, low: 0.0, high: 0.04}}
    ef:
      NOx: ef_nox
      SO2: 4.5 t/(蒸吨*a)
  - id: boiler.gas
    activity: 0 蒸吨
    ef:
      NOx: 1.386 t/(蒸吨*a)
  - id: wwtp
    activity: {flow} 立方米/日
    growth: {{value: 0.01, low: -0.01, high: 0.03}}
    ef:
      COD: 60 mg/L
measures:
  - id: c2g
    name: 煤改气
    type: switch
    pool: boiler.coal
    to: boiler.gas
    quantity: {switch} 蒸吨
    completion: [0.7, 1.0]
  - id: upgrade
    name: 污水处理厂提标
    type: treat
    pool: wwtp
    quantity: {flow} 立方米/日
    c_in: {{COD: 60 mg/L}}
    c_out: {{COD: 50 mg/L}}
    completion: {{value: 0.9, low: 0.6, high: 1.0}}
targets:
  - {{id: nox-2025, pollutant: NOx, kind: reduction_percent, value: {nox_pct}%, year: 2025}}
  - {{id: cod-2025, pollutant: COD, kind: reduction_amount, value: {cod_t} 吨, year: 2025}}
{extra}coefficients:
  ef_nox: {{value: 16.9, low: 14.0, high: 20.0, unit: t/(蒸吨*a), source: test value}}
"""

CITIES = [
    dict(name="甲市", coal=1000, flow=10000, switch=100, nox_pct=5, cod_t=30, extra=""),
    dict(name="乙市", coal=2500, flow=30000, switch=400, nox_pct=12, cod_t=80, extra=""),
    dict(name="丙市", coal=600, flow=5000, switch=20, nox_pct=2, cod_t=10,
         extra="  - {id: so2-cap, pollutant: SO2, kind: cap, value: 3000 吨, year: 2025}\n"),
    dict(name="丁市", coal=1800, flow=20000, switch=250, nox_pct=8, cod_t=60, extra=""),
    dict(name="戊市", coal=900, flow=8000, switch=90, nox_pct=6, cod_t=20, extra=""),
]


def write_cities(folder: Path, cities: list[dict[str, object]] = CITIES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, c in enumerate(cities):
        p = folder / f"city{i}.yaml"
        p.write_text(CITY.format(**c), encoding="utf-8")
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cities")
    write_cities(folder)
    return folder


@pytest.fixture(scope="module")
def serial(cities: Path) -> xr.Dataset:
    return run_batch(cities, samples=64, seed=7, workers=1)


def test_stacked_by_region(serial: xr.Dataset) -> None:
    ds = serial
    assert list(ds["region"].values) == ["甲市", "乙市", "丙市", "丁市", "戊市"]
    assert ds["emissions_total"].dims == ("region", "pollutant", "year")
    assert set(ds["pollutant"].values) == {"COD", "SO2", "NOx"}
    # targets joined on their ids; 丙市 alone has the SO2 cap
    assert list(ds["target"].values) == ["nox-2025", "cod-2025", "so2-cap"]
    cap = ds["margin"].sel(target="so2-cap")
    assert np.isfinite(cap.sel(region="丙市")) and int(np.isnan(cap).sum()) == 4
    assert ds["status"].sel(region="甲市", target="so2-cap").item() == ""
    for v in ("margin_p5", "margin_p50", "margin_p95", "probability"):
        assert ds[v].dims == ("region", "target")
    p = ds["probability"].values
    assert np.all((p[np.isfinite(p)] >= 0) & (p[np.isfinite(p)] <= 1))
    lo, mid, hi = (ds[f"margin_p{q}"].values for q in (5, 50, 95))
    ok = np.isfinite(lo)
    assert np.all(lo[ok] <= mid[ok]) and np.all(mid[ok] <= hi[ok])
    np.testing.assert_allclose(ds["reduction_total"], ds["baseline_total"] - ds["emissions_total"])


def test_each_city_as_ersim_run(cities: Path, serial: xr.Dataset) -> None:
    """Central values as `run`; samples as `run_uncertain` with the region's derived seed."""
    from sim.evaluation.evaluate import run_uncertain
    from sim.model.load import load_scenario

    scen = load_scenario(cities / "city1.yaml")
    seed = region_seed(7, "乙市")
    assert int(serial["region_seed"].sel(region="乙市")) == seed
    one = run_uncertain(scen, samples=64, seed=seed).dataset
    row = serial.sel(region="乙市")
    for v in ("required", "achieved", "margin", "margin_p5", "margin_p50", "margin_p95", "probability"):
        np.testing.assert_array_equal(row[v].sel(target=one["target"].values).values, one[v].values, err_msg=v)
    assert list(row["status"].sel(target=one["target"].values).values) == list(one["status"].values)
    np.testing.assert_array_equal(row["emissions_total"].sel(pollutant=one["pollutant"].values, year=one["year"].values).values,
                                  one["emissions_total"].values)


def test_process_pool_and_block_sizes_identical(cities: Path, serial: xr.Dataset) -> None:
    pooled = run_batch(cities, samples=64, seed=7, workers=2, block=2)
    xr.testing.assert_identical(pooled, serial)
    for block in (1, 3, 5):
        xr.testing.assert_identical(run_batch(cities, samples=64, seed=7, workers=1, block=block), serial)


def test_dask_identical_to_serial(cities: Path, serial: xr.Dataset) -> None:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc:
        for block in (1, 2):
            ds = run_batch(cities, samples=64, seed=7, scheduler=lc.scheduler_address, block=block)
            xr.testing.assert_identical(ds, serial)
    # two worker processes, started with the allocator settings; this process's environment untouched
    before = {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "ERSIM_THREADS")}
    with local_cluster(2) as lc, Client(lc) as client:
        assert {k: os.environ.get(k) for k in before} == before
        env = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("MALLOC_MMAP_THRESHOLD_")))
        assert set(env.values()) == {(str(64 * 2**20), str(32 * 2**20))}
        xr.testing.assert_identical(run_batch(cities, samples=64, seed=7, scheduler=client, block=2), serial)


def test_seed_depends_on_region_not_on_the_batch(cities: Path, serial: xr.Dataset) -> None:
    alone = run_batch([cities / "city3.yaml", cities / "city1.yaml"], samples=64, seed=7, workers=1)
    xr.testing.assert_identical(alone.sel(region="乙市").drop_vars("target"),
                                serial.sel(region="乙市", target=["nox-2025", "cod-2025"]).drop_vars("target"))
    other = run_batch(cities, samples=64, seed=8, workers=1)
    assert not np.array_equal(other["margin_p50"].values, serial["margin_p50"].values)


def test_mappings_and_repeated_regions(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load(CITY.format(**CITIES[0]))
    variant = {**data, "id": "strong", "measures": [{**data["measures"][0], "quantity": "300 蒸吨"}, data["measures"][1]]}
    ds = run_batch([data, variant], samples=16, seed=1, workers=1)
    # one region twice: labelled by scenario id, and drawn from the same seed (common random numbers)
    assert list(ds["region_name"].values) == ["甲市", "甲市"]
    assert len(set(ds["region"].values)) == 2
    assert len(set(ds["region_seed"].values.tolist())) == 1
    assert float(ds["margin"].values[1, 0]) > float(ds["margin"].values[0, 0])


def test_cli_writes_batch(cities: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["batch", str(cities), "--samples", "32", "--seed", "3", "--workers", "1",
                                    "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "甲市" in res.stdout
    ds = xr.load_dataset(out / "results.nc", engine="h5netcdf")
    assert ds.sizes["region"] == 5 and "probability" in ds
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["kind"] == "batch" and len(man["regions"]) == 5
    assert man["regions"][0]["scenario_sha256"] and man["settings"]["samples"] == 32
    import pandas as pd

    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig")
    assert len(summary) == 11  # 5 cities x 2 targets + 丙市's cap
    assert {"region", "target", "margin", "probability", "status"} <= set(summary.columns)
    # default folder: outputs/batch/<folder name>-<time>-<id>/
    res = CliRunner().invoke(main, ["batch", str(cities / "city0.yaml"), str(cities / "city2.yaml"), "--quiet"],
                             env={"ERSIM_OUTPUTS": str(tmp_path / "outputs")})
    assert res.exit_code == 0, res.output
    (made,) = (tmp_path / "outputs" / "batch").iterdir()
    assert made.name.startswith("batch-") and (made / "manifest.json").is_file()


def test_cli_broken_city_fails_whole_batch(cities: Path, tmp_path: Path) -> None:
    folder = tmp_path / "province"
    write_cities(folder, CITIES[:3])
    bad = folder / "city1.yaml"
    bad.write_text(bad.read_text(encoding="utf-8").replace("to: boiler.gas", "to: boiler.gass"), encoding="utf-8")
    worse = folder / "city2.yaml"
    worse.write_text(worse.read_text(encoding="utf-8").replace("base_year: 2020", "base_year: twenty"), encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["batch", str(folder), "--samples", "16", "--workers", "1", "--block", "1",
                                    "--out", str(out), "--quiet"])
    assert res.exit_code == 2, res.output
    assert "city1.yaml" in res.stderr and "boiler.gass" in res.stderr
    assert "city2.yaml" in res.stderr and "base_year" in res.stderr
    assert not out.exists() and not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())


def test_cli_missing_and_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(main, ["batch", str(empty), str(tmp_path / "nope.yaml"), "--quiet"])
    assert res.exit_code == 2
    assert "no scenario files" in res.stderr and "nope.yaml" in res.stderr and "no such file" in res.stderr
    with pytest.raises(InputError):
        expand_inputs([])


def test_bad_city_on_process_pool(cities: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    paths = write_cities(folder, CITIES[:4])
    paths[3].write_text("name: x\nregion: [\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        evaluate_batch(folder, samples=16, workers=2, block=1)
    assert [Path(str(p.file)).name for p in err.value.problems] == ["city3.yaml"]


def test_batch_equals_ersim_run_per_city(tmp_path: Path) -> None:
    """Each city of a batch, bit for bit, as `ersim run CITY.yaml --samples N --seed <region_seed>`:
    two cities of one structure (numbers differ), one with an extra target, one with an extra
    measure (another structure), run together in one block and on a process pool."""
    folder = tmp_path / "mixed"
    paths = write_cities(folder, CITIES[:3])
    control = ("  - id: scr\n    name: 脱硝改造\n    type: control\n    pool: boiler.coal\n    share: {value: 0.4, low: 0.3, high: 0.6}\n"
               "    efficiency: {NOx: 70%}\n    completion: [0.5, 1.0]\n    year: 2024\n")
    other = folder / "city3.yaml"
    other.write_text(CITY.format(**CITIES[3]).replace("targets:\n", control + "targets:\n"), encoding="utf-8")
    paths.append(other)
    samples, base = 48, 11
    one_block = run_batch(folder, samples=samples, seed=base, workers=1, block=len(paths))
    pooled = run_batch(folder, samples=samples, seed=base, workers=2, block=1)
    xr.testing.assert_identical(pooled, one_block)
    for path in paths:
        region = str(expand_inputs(path)[0].label)
        row = one_block.isel(region=[str(f) for f in one_block["scenario_file"].values].index(region))
        out = tmp_path / f"run-{path.stem}"
        res = CliRunner().invoke(main, ["run", str(path), "--samples", str(samples), "--seed", str(int(row["region_seed"])),
                                        "--out", str(out), "--quiet", "--no-figures"])
        assert res.exit_code == 0, res.output
        with xr.open_dataset(out / "results.nc") as run:
            t = run["target"].values
            for v in ("required", "achieved", "margin", "margin_p5", "margin_p50", "margin_p95", "probability"):
                np.testing.assert_array_equal(row[v].sel(target=t).values, run[v].values, err_msg=f"{path.name} {v}")
            assert list(row["status"].sel(target=t).values) == [str(s) for s in run["status"].values]
            for v in ("baseline_total", "emissions_total"):
                np.testing.assert_array_equal(row[v].sel(pollutant=run["pollutant"].values, year=run["year"].values).values,
                                              run[v].values, err_msg=f"{path.name} {v}")
            q = np.quantile(run["reduction_total_sample"].transpose("sample", ...).values, [0.05, 0.5, 0.95], axis=0)
            np.testing.assert_array_equal(row["reduction_total_q"].sel(pollutant=run["pollutant"].values,
                                                                       year=run["year"].values).values, q, err_msg=path.name)
    assert one_block.sizes["region"] == 4


def test_a_city_whose_draws_break_a_limit_says_so_in_the_batch(tmp_path: Path) -> None:
    # 95 蒸吨 retired from a 100 蒸吨 pool whose growth ranges -10%..+2%/a: fits at central values, but
    # draws with growth below about -1% leave less than 95 蒸吨 by 2025; the batch carries the run's warning
    from sim.analyses.batch import evaluate_batch
    from sim.evaluation.evaluate import run_uncertain
    from sim.model.coefficients import load_library
    from sim.model.load import scenario_from_dict

    city = {"name": "一致性", "id": "tight", "region": "丙市", "base_year": 2020, "years": [2021, 2025],
            "inventory": [{"id": "coal", "name": "燃煤锅炉", "activity": "100 蒸吨",
                           "growth": {"value": "0%", "low": "-10%", "high": "2%"}, "ef": {"NOx": "2 t/(蒸吨*a)"}}],
            "measures": [{"id": "r1", "type": "retire", "pool": "coal", "quantity": "95 蒸吨"}],
            "targets": [{"id": "nox", "pollutant": "NOx", "kind": "reduction_percent", "value": "10%", "year": 2025}]}
    b = evaluate_batch([city], samples=64, seed=2, workers=1)
    said = [w for w in b.warnings if "samples" in w and "capped" in w]
    assert len(said) == 1 and said[0].startswith("丙市: ") and "of 64 samples" in said[0]
    alone = run_uncertain(scenario_from_dict(city), load_library(), samples=64,
                          seed=int(b.dataset["region_seed"].values[0]), keep="quantiles")
    assert said[0].removeprefix("丙市: ") in alone.warnings


def test_a_script_without_the_main_guard_is_told_what_to_do(tmp_path):
    """sim.batch from a script without `if __name__ == "__main__":`: every spawned worker imports
    the script again and fails; the caller gets a message saying so, not a bare BrokenProcessPool."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "unguarded.py"
    files = [str(root / "scenarios" / "ankang-2025.yaml"), str(root / "scenarios" / "ningbo-2022.yaml")]
    script.write_text(f"import sim\nsim.batch({files!r}, workers=2)\n")
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "ERSIM_OUTPUTS": str(tmp_path / "outputs")})
    assert res.returncode != 0
    assert 'if __name__ == "__main__":' in res.stderr and "workers=1" in res.stderr and "BrokenProcessPool" not in res.stderr
