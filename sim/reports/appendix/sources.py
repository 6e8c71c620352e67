"""What an appendix is built from: a run folder alone (results, manifest and the record of its inputs) and its charts."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sim.evaluation.evaluate import Result
from sim.model.compile import Model
from sim.model.scenario import Scenario

__all__ = ["FigureSource", "RunData", "ScenarioInfo", "load_run", "scenario_info"]


@dataclass
class RunData:
    """One run as stored: results.nc, manifest.json and the folder they sit in."""

    ds: xr.Dataset
    manifest: dict[str, Any]
    folder: Path
    result: Result | None = None

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.folder.name)

    @property
    def scenario_id(self) -> str:
        return str(self.manifest.get("scenario_id") or self.ds.attrs.get("scenario_id", ""))

    @property
    def scenario_name(self) -> str:
        return str(self.ds.attrs.get("scenario") or self.manifest.get("scenario", ""))

    @property
    def samples(self) -> int:
        return int(self.ds.attrs.get("samples", 0) or 0)

    @property
    def targets(self) -> list[str]:
        if "target" not in self.ds.dims:
            return []
        return [str(t) for t in self.ds["target"].values]

    @property
    def base_year(self) -> int:
        return int(self.ds.attrs.get("base_year", int(self.ds["year"].values[0])))

    @property
    def report_years(self) -> list[int]:
        years = self.ds.attrs.get("report_years")
        if isinstance(years, (list, tuple)) and years:
            return [int(y) for y in years]
        return [int(self.ds["year"].values[-1])]


def load_run(name: str | Path) -> RunData:
    """A run by folder, run id, id prefix or scenario id (InputError when there is none)."""
    from sim.store.runs import open_run

    result = open_run(name)
    return RunData(result.dataset, dict(result.manifest or {}), Path(result.folder), result)


@dataclass
class ScenarioInfo:
    """The run's scenario, when its file is found unchanged; otherwise why not.

    ``state``: ``ok`` (file found, same SHA-256 for scenario and inventory), ``changed``,
    ``missing`` or ``invalid``. Only with ``ok`` does the appendix use the scenario's text
    (quantities, schedules, sources); the run's numbers are used in every case.
    """

    state: str = "missing"
    scenario: Scenario | None = None
    model: Model | None = None
    path: Path | None = None
    library_same: bool = False
    detail: str = ""
    settings: Any = None
    result: Result | None = None  # the verified deterministic re-run, when there is one

    @property
    def usable(self) -> bool:
        return self.state == "ok" and self.scenario is not None

    @property
    def reproducible(self) -> bool:
        """Scenario, inventory and coefficient tables unchanged: a re-run gives the run's numbers."""
        return self.usable and self.library_same


def _same_numbers(a: xr.Dataset, b: xr.Dataset, names: tuple[str, ...]) -> bool:
    for name in names:
        if (name in a) != (name in b):
            return False
        if name in a and (a[name].shape != b[name].shape or not np.allclose(a[name].values, b[name].values, rtol=1e-9, atol=1e-9)):
            return False
    return True


def scenario_info(run: RunData) -> ScenarioInfo:
    """The run's scenario and compiled model, from the record of its inputs in the run folder."""
    if run.result is None:
        return ScenarioInfo("missing", detail="the run holds no record of its inputs")
    res = run.result
    return ScenarioInfo("ok", res.scenario, res.model, run.folder, True, "", res.scenario.settings, res)


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


@dataclass
class FigureSource:
    """PNG charts of a run: its figures/ when they fit, else re-drawn from a verified re-run."""

    run: RunData
    info: ScenarioInfo
    lang: str
    _results: dict[bool, Result | None] = field(default_factory=dict)
    reason: str = ""

    def _rerun(self, samples: bool) -> Result | None:
        if samples in self._results:
            return self._results[samples]
        if True in self._results and self._results[True] is not None:
            return self._results[True]
        result: Result | None = None
        if not samples and self.info.result is not None and "sample" not in self.info.result.dataset.dims:
            result = self.info.result
        elif not self.info.reproducible or self.info.scenario is None:
            self.reason = self.info.detail or f"scenario {self.info.state}"
        else:
            from sim.evaluation.evaluate import run, run_uncertain

            attribution = str(self.run.ds.attrs.get("attribution") or "") or None
            lib = self.info.model.library if self.info.model is not None else None
            if samples:
                seed = int(self.run.ds.attrs.get("seed", 0))
                result = run_uncertain(self.info.scenario, lib, samples=self.run.samples, seed=seed,
                                       keep="samples", attribution=attribution)
            else:
                result = run(self.info.scenario, lib, attribution=attribution)
            if not self._matches(result, samples):
                self.reason = "a re-run of the scenario does not reproduce the run's numbers"
                result = None
        self._results[samples] = result
        return result

    def _matches(self, result: Result, samples: bool) -> bool:
        names = ("emissions_total", "baseline_total", "reduction") + (("probability",) if samples else ())
        return _same_numbers(result.dataset, self.run.ds, names)

    def get(self, name: str, draw: Callable[[Result], Any], samples: bool = False) -> tuple[bytes | None, str | None]:
        """(PNG bytes or None, a note): *name* under figures/, or drawn by *draw* from a re-run.

        The run's own charts are labelled in Chinese; for another language the chart is
        re-drawn when the scenario reproduces the run, and otherwise used as it is (noted).
        """
        path = self.run.folder / "figures" / name
        if self.lang == "zh" and path.is_file():
            return path.read_bytes(), None
        result = self._rerun(samples)
        if result is not None:
            return _png(draw(result)), None
        if path.is_file():
            return path.read_bytes(), "labels-zh"
        return None, self.reason or "not available"
