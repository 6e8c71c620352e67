"""What the analyses return to a script: objects that give their Dataset and tables and save themselves.

Each ``save`` goes through the one output writer (:func:`sim.store.folders.write_output`): a new
folder ``outputs/<scenario>/<kind>-<id>/`` by default, or a folder the user names, never one
ersim did not make.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from sim.model.compile import Model

__all__ = ["Comparison", "SensitivityResult", "SolveOutput", "SweepResult"]


def _provenance(model: Model) -> dict[str, Any]:
    from sim.store.runs import scenario_provenance

    return {**scenario_provenance(model.scenario), "coefficient_tables": dict(model.library.hashes)}


@dataclass
class SweepResult:
    """A sweep: margins (and P(met)) per grid point, in :attr:`dataset` (one dim per swept input)."""

    model: Model
    dataset: xr.Dataset
    sets: list[str]
    samples: int = 0
    started_from: str | None = None  # the run a sweep started from, if any
    folder: Path | None = None

    def to_dataset(self) -> xr.Dataset:
        return self.dataset

    def break_even(self) -> list[dict[str, Any]]:
        """Per target and swept input, the value where the margin crosses zero (when it does)."""
        from sim.analyses.sweep import break_even

        return break_even(self.dataset)

    def grid_frame(self) -> pd.DataFrame:
        """One row per grid point and target: margin (and probability)."""
        ds = self.dataset
        return ds[[v for v in ("margin", "probability") if v in ds]].to_dataframe().reset_index()

    def save(self, out: str | Path | None = None) -> Path:
        from sim.reports.charts import input_names, sweep_figures
        from sim.store.folders import OutputFolder, write_output
        from sim.store.netcdf import write_netcdf
        from sim.store.tables import write_csv

        def write(folder: OutputFolder) -> None:
            write_netcdf(self.dataset, folder / "results.nc")
            write_csv(pd.DataFrame(self.break_even()), folder / "breakeven.csv")
            write_csv(self.grid_frame(), folder / "grid.csv")
            sweep_figures(self.dataset, folder.path / "figures", names=input_names(self.model))

        points = 1
        for d in self.dataset["margin"].dims if "margin" in self.dataset else ():
            if d not in ("target", "sample"):
                points *= int(self.dataset.sizes[d])
        man = {**_provenance(self.model), "sets": self.sets, "samples": self.samples, "seed": self.dataset.attrs.get("seed"),
               "points": points, "started_from": self.started_from}
        self.folder = write_output("sweep", self.model.scenario.slug, write, man, out)
        return self.folder


@dataclass
class SensitivityResult:
    """A tornado, Morris or Sobol ranking of the uncertain inputs for one target's margin."""

    model: Model
    method: str
    target: str
    table: pd.DataFrame
    n: int
    seed: int
    started_from: str | None = None
    folder: Path | None = None

    @property
    def dataset(self) -> xr.Dataset:
        """The ranking as a Dataset over ``input``."""
        df = self.table.set_index(self.table.columns[0])
        df.index.name = "input"
        ds = xr.Dataset.from_dataframe(df)
        ds.attrs.update({"method": self.method, "target": self.target})
        return ds

    def to_dataset(self) -> xr.Dataset:
        return self.dataset

    def save(self, out: str | Path | None = None) -> Path:
        from sim.reports.charts import input_names, sensitivity_figure
        from sim.store.folders import OutputFolder, write_output
        from sim.store.tables import write_csv

        def write(folder: OutputFolder) -> None:
            write_csv(self.table, folder / f"{self.method}.csv")
            tname = next((t.name or t.id for t in self.model.scenario.targets if t.id == self.target), self.target)
            sensitivity_figure(self.table, self.method, self.target, folder / f"{self.method}.png",
                               names=input_names(self.model), target_name=tname)

        man = {**_provenance(self.model), "method": self.method, "target": self.target, "n": self.n, "seed": self.seed,
               "started_from": self.started_from}
        self.folder = write_output("sensitivity", self.model.scenario.slug, write, man, out)
        return self.folder


@dataclass
class SolveOutput:
    """The least-cost mix (:attr:`solution`) and the engine's re-run of it (:attr:`rerun`)."""

    solution: Any  # sim.analyses.solve.SolveResult
    rerun: Any = None  # sim.evaluation.evaluate.Result of the written mix
    pollutant: str | None = None
    started_from: str | None = None
    folder: Path | None = None
    files: list[str] = field(default_factory=list)

    @property
    def model(self) -> Model:
        return self.solution.model

    @property
    def feasible(self) -> bool:
        return bool(self.solution.feasible)

    def rerun_achieved(self) -> Any:
        """Per target, what the engine's re-run of the mix achieves (None without a re-run)."""
        if self.rerun is None:
            return None
        frame = self.rerun.targets_frame().set_index("target")
        return frame["achieved"].reindex(self.solution.targets).to_numpy(dtype=float)

    def rerun_check(self) -> tuple[list[str], list[str]]:
        """(targets the re-run misses, targets where it differs from the least-cost model), as text."""
        from sim.analyses.solve import rerun_check

        achieved = self.rerun_achieved()
        return rerun_check(self.solution, achieved if achieved is not None else self.solution.achieved_engine)

    def tables(self) -> dict[str, pd.DataFrame]:
        """``mix``, ``costs``, ``prices`` (元 per unit of each target, full precision) and ``targets``."""
        from sim.analyses.solve import tables

        return tables(self.solution, self.rerun_achieved())

    def mix_frame(self) -> pd.DataFrame:
        """One row per candidate: pool, disjoint group, chosen level and unit, potential."""
        return self.tables()["mix"]

    def prices_frame(self) -> pd.DataFrame:
        """One row per target: shadow price (元/t, or 元 per µg/m³) and whether it binds."""
        return self.tables()["prices"]

    @property
    def dataset(self) -> xr.Dataset:
        t = self.tables()
        mix = t["mix"].set_index("measure").rename(columns={"unit": "level_unit"})
        mix.index.name = "candidate"
        targets = t["targets"].set_index("target").rename(columns={"unit": "target_unit"}).join(t["prices"].set_index("target").drop(columns=["pollutant", "kind", "year"]))
        ds = xr.merge([xr.Dataset.from_dataframe(mix), xr.Dataset.from_dataframe(targets)])
        ds.attrs.update({"cost_yuan_per_a": float(self.solution.cost), "feasible": int(self.feasible),
                         "method": str(self.solution.method)})
        return ds

    def to_dataset(self) -> xr.Dataset:
        return self.dataset

    def macc_pollutant(self) -> str:
        """The MACC's pollutant: as asked, else the first targeted one the inventory has (a PM2.5
        concentration target's precursors are other pollutants)."""
        m = self.model
        targeted = [t.pollutant for t in m.scenario.targets if t.pollutant in self.solution.per_unit]
        return self.pollutant or (targeted[0] if targeted else m.pollutants[0])

    def save(self, out: str | Path | None = None) -> Path:
        from sim.analyses.solve import macc_table, write_mix
        from sim.store.folders import OutputFolder, write_output
        from sim.store.tables import write_csv

        scen = self.model.scenario
        pol = self.macc_pollutant()

        def write(folder: OutputFolder) -> None:
            mix_name = f"{scen.slug}-least-cost.yaml"
            write_mix(self.solution, folder / mix_name)
            self.files = [mix_name]
            for name, df in self.tables().items():
                write_csv(df, folder / f"{name}.csv")
                self.files.append(f"{name}.csv")
            table = macc_table(self.solution, pol)
            write_csv(table, folder / f"macc_{pol}.csv")
            self.files.append(f"macc_{pol}.csv")
            if len(table):
                from sim.reports.charts import macc

                fig = macc(table, pol)
                fig.savefig(folder / f"macc_{pol}.png")
                self.files.append(f"macc_{pol}.png")
            folder.manifest["files"] = self.files

        man = {**_provenance(self.model), "feasible": self.feasible, "cost_yuan_per_a": float(self.solution.cost),
               "method": self.solution.method, "started_from": self.started_from,
               "rerun_targets": None if self.rerun is None else json.loads(
                   self.rerun.targets_frame()[["target", "margin", "status"]].to_json(orient="records", force_ascii=False))}
        self.folder = write_output("solve", scen.slug, write, man, out)
        return self.folder


@dataclass
class Comparison:
    """Runs or scenarios side by side: one Dataset with a ``scenario`` dim, tables, charts, exports."""

    dataset: xr.Dataset
    folder: Path | None = None

    def to_dataset(self) -> xr.Dataset:
        return self.dataset

    @property
    def labels(self) -> list[str]:
        return [str(s) for s in self.dataset["scenario"].values]

    def tables(self) -> dict[str, pd.DataFrame]:
        from sim.analyses.compare import tables

        return tables(self.dataset)

    def waterfalls(self) -> dict[str, pd.DataFrame]:
        """For two scenarios, the A->B waterfall (measure by measure) per targeted pollutant and year."""
        from sim.analyses.compare import waterfall_table

        cmp = self.dataset
        out: dict[str, pd.DataFrame] = {}
        if len(self.labels) == 2 and "target" in cmp.dims:
            a, b = self.labels
            emitted = {str(x) for x in cmp["pollutant"].values}  # a PM2.5 concentration target has no emissions waterfall
            for p, y in dict.fromkeys(zip(cmp["target_pollutant"].values, cmp["target_year"].values, strict=True)):
                both = int(y) in cmp["year"].values and bool(cmp["emissions_total"].sel(pollutant=p, year=y).notnull().all()) \
                    if str(p) in emitted else False  # both scenarios have that year
                if both:
                    out[f"waterfall_{p}_{y}"] = waterfall_table(cmp, a, b, str(p), int(y))
        return out

    def save(self, out: str | Path | None = None, *, figures: bool = True) -> Path:
        from sim.analyses.compare import to_xlsx
        from sim.store.folders import OutputFolder, write_output
        from sim.store.netcdf import write_netcdf

        extra = self.waterfalls()

        def write(folder: OutputFolder) -> None:
            write_netcdf(self.dataset, folder / "comparison.nc")
            to_xlsx(self.dataset, folder / "comparison.xlsx", extra)
            if figures:
                from sim.reports.charts import comparison_figures

                comparison_figures(self.dataset, extra, folder.path / "figures")

        man = {"scenario_id": "comparisons", "scenarios": self.labels,
               "runs": [str(r) for r in self.dataset.attrs.get("runs", [])] if "runs" in self.dataset.attrs else []}
        self.folder = write_output("compare", "comparisons", write, man, out)
        return self.folder
