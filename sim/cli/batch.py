"""``ersim batch``: many scenarios at once, stacked along a ``region`` dim (sim/batch.py).

Registered in sim/cli.py with ``main.add_command(batch_cmd)``.
"""

from __future__ import annotations

import click

from sim.cli.errors import handled
from sim.core import safe
from sim.core.seeds import SEED_MAX

__all__ = ["batch_cmd"]


@click.command("batch")
@click.argument("items", nargs=-1, required=True, metavar="DIR|FILES...")
@click.option("--samples", type=click.IntRange(min=0), default=0, show_default=True,
              help="Monte Carlo samples per city (Latin hypercube): margins p5/p50/p95 and P(met).")
@click.option("--seed", type=click.IntRange(min=0, max=SEED_MAX), help="Base seed; each city's seed derives from it and the region (default: each scenario's settings.seed).")
@click.option("--scheduler", metavar="ADDRESS", help="Run on this dask.distributed scheduler (tcp://host:8786); default: a process pool here.")
@click.option("--block", type=click.IntRange(min=1), help="Cities per task (default: about eight tasks per worker, at most 8 cities).")
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes without --scheduler (default: one per core; 1 = serial in this process).")
@click.option("--out", type=click.Path(file_okay=False), help="Folder (default outputs/batch/batch-<time>-<id>).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@handled
def batch_cmd(items: tuple[str, ...], samples: int, seed: int | None, scheduler: str | None, block: int | None,
              workers: int | None, out: str | None, quiet: bool) -> None:
    """Evaluate every scenario in DIR (or the FILES) and stack the results by region.

    Writes results.nc, summary.csv (one row per region and target) and manifest.json. Any broken
    scenario: exit 2 listing every problem by file, and nothing is written.

    \b
    Example:
      ersim batch scenarios/ --samples 1000 --seed 1
    """
    from sim.core.startup import hide_dask

    if scheduler is None:  # a process pool here: no dask in this process (sim/core/startup.py)
        click.get_current_context().call_on_close(hide_dask())
    from sim.analyses.batch import batch_label, evaluate_batch, expand_inputs, save_batch
    from sim.cli.progress import progress

    found = expand_inputs(list(items))
    with progress(len(found), "batch", quiet) as advance:
        batch = evaluate_batch(found, samples=samples, seed=seed, scheduler=scheduler, block=block,
                               progress=advance, workers=workers)
    for w in batch.warnings:
        click.echo(f"warning: {safe.console(w)}", err=True)
    _print(batch.dataset)
    path = save_batch(batch, out, batch_label(list(items)))
    t = batch.timing
    click.echo(f"{batch.dataset.sizes['region']} regions in {t['wall']:.1f} s ({batch.settings['execution']}, "
               f"{batch.settings['block']} per task); batch written to {path}", err=True)


def _print(ds: object) -> None:
    """One line per region: how many targets are met, at risk, not met; the tightest target."""
    import numpy as np
    import xarray as xr

    assert isinstance(ds, xr.Dataset)
    status = ds["status"].values
    margin = ds["margin"].values
    req = np.abs(ds["required"].values)
    rel = np.divide(margin, req, out=np.array(margin, dtype=float), where=req > 0)  # a share of the requirement
    prob = ds["probability"].values if "probability" in ds else None
    from rich.console import Console

    from sim.core import safe
    from sim.core.units import shown
    from sim.reports.terminal import Table

    table = Table("地区 region", "达标 met", "有风险 at risk", "未达标 not met", "最紧的目标 tightest target (margin)")
    for i, reg in enumerate(ds["region"].values):
        have = status[i] != ""
        counts = [int(((status[i] == s) & have).sum()) for s in ("met", "at risk", "not met")]
        tight = "（无目标 no targets）"
        if have.any():
            j = int(np.nanargmin(np.where(have, rel[i], np.inf)))
            tight = f"{ds['target'].values[j]} 余量 {margin[i, j]:+,.1f} {shown(str(ds['target_unit'].values[i, j]))}"
            if prob is not None:
                tight += f"，达标概率 P(met) {prob[i, j]:.2f}"
        table.add_row(safe.console(str(reg)), *(str(c) for c in counts), safe.console(tight))
    Console(markup=False, emoji=False, highlight=False).print(table)
