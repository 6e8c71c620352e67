"""What an appendix is built from: a run folder alone (results, manifest and the record of its inputs) and its charts."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """The run's scenario, compiled model and deterministic result, from the record of its inputs.

    A run folder always holds its inputs (``inputs/scenario.json``, ``inputs/coefficients.json``),
    so the appendix can quote the scenario (quantities, schedules, sources) and re-compute
    from it (tornado ranking, break-even quantities) without looking for the scenario file.
    """

    scenario: Scenario
    model: Model
    path: Path
    settings: Any
    result: Result  # the run as opened from its folder (samples included when it has them)


def scenario_info(run: RunData) -> ScenarioInfo:
    """The run's scenario and compiled model, from the record of its inputs in the run folder."""
    if run.result is None:
        from sim.core.errors import InputError, Problem

        raise InputError(Problem(f"run {run.run_id}: the folder holds no record of its inputs (inputs/scenario.json)"))
    res = run.result
    return ScenarioInfo(res.scenario, res.model, run.folder, res.scenario.settings, res)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
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
        """The result to draw from: the run itself when it holds what the chart needs, else a
        re-run of its recorded inputs (same scenario, coefficients, samples and seed)."""
        if samples in self._results:
            return self._results[samples]
        res = self.info.result
        has_samples = "sample" in res.dataset.dims
        result: Result | None = res
        if samples and not has_samples:
            from sim.evaluation.evaluate import run_uncertain

            attribution = str(self.run.ds.attrs.get("attribution") or "") or None
            seed = int(self.run.ds.attrs.get("seed", 0))
            result = run_uncertain(self.info.scenario, self.info.model.library, samples=self.run.samples, seed=seed,
                                   keep="samples", attribution=attribution)
        self._results[samples] = result
        return result

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
