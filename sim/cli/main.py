"""The ``ersim`` command: a thin layer over the Python API. Exit 2 = bad input, 3 = infeasible."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sim.cli.errors import handled
from sim.core import safe
from sim.core.errors import InputError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="ersim")
def main(debug: bool) -> None:
    """ersim: emission reduction scenarios and target feasibility (减排情景与目标可达性分析)."""


@main.command("run")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default outputs/<scenario>/<run-id>).")
@click.option("--attribution", type=click.Choice(["sequential", "shapley"]), help="How overlapping measures share credit.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of tables.")
@click.option("--samples", type=click.IntRange(min=0), default=0, show_default=True, help="Monte Carlo samples (Latin hypercube) of the uncertain inputs.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of the draws (default: the scenario's settings.seed).")
@click.option("--keep", type=click.Choice(["samples", "quantiles"]), default="samples", show_default=True, help="Keep every sample, or p5/p50/p95 only.")
@click.option("--figures/--no-figures", default=True, show_default=True, help="Write PNG charts to the run's figures/.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@handled
def run_cmd(scenario: str, out: str | None, attribution: str | None, as_json: bool, samples: int,
            seed: int | None, keep: str, figures: bool, quiet: bool) -> None:
    """Evaluate SCENARIO and write a run to outputs/."""
    from sim.api import load_scenario, run, save_run
    from sim.cli.progress import progress
    from sim.reports.terminal import print_run

    scen = load_scenario(scenario)
    if samples:
        from sim.evaluation.evaluate import run_uncertain

        with progress(samples, "Monte Carlo", quiet) as advance:
            result = run_uncertain(scen, samples=samples, seed=seed, keep=keep, attribution=attribution, progress=advance)
    else:
        result = run(scen, attribution=attribution)
    if figures:
        from sim.reports.charts import figure_writers

        result.extra_writers.update(figure_writers(result))
    for w in result.warnings:
        click.echo(f"warning: {safe.console(w)}", err=True)
    from sim.store.damage import check_writable
    from sim.store.runs import default_outputs

    check_writable(Path(out) if out else default_outputs(), int(1.5 * result.dataset.nbytes) + 16 * 2**20)
    path = save_run(result, out)
    if as_json:
        payload = {
            "run": str(path),
            "scenario": scen.name,
            "summary": json.loads(result.summary_frame().to_json(orient="records", force_ascii=False)),
            "targets": json.loads(result.targets_frame().to_json(orient="records", force_ascii=False)),
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print_run(result)
    click.echo(f"run written to {path}", err=True)


@main.command("compare")
@click.argument("items", nargs=-1, required=True)
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the charts (default outputs/comparisons/<a>_vs_<b>).")
@click.option("--xlsx", type=click.Path(dir_okay=False), help="Write every table as a sheet of this workbook.")
@click.option("--iamc", type=click.Path(dir_okay=False), help="Write IAMC-format CSV (pyam reads it).")
@click.option("--figures/--no-figures", default=True, show_default=True)
@handled
def compare_cmd(items: tuple[str, ...], out: str | None, xlsx: str | None, iamc: str | None, figures: bool) -> None:
    """Compare runs or scenario files (file.yaml#variant) side by side."""
    from sim.analyses.compare import compare, tables, to_iamc, to_xlsx, waterfall_table
    from sim.reports.terminal import print_comparison

    cmp = compare(list(items))
    extra = {}
    labels = [str(s) for s in cmp["scenario"].values]
    if len(labels) == 2 and "target" in cmp.dims:
        for p, y in dict.fromkeys(zip(cmp["target_pollutant"].values, cmp["target_year"].values, strict=True)):
            extra[f"waterfall_{p}_{y}"] = waterfall_table(cmp, labels[0], labels[1], str(p), int(y))
    print_comparison(cmp, tables(cmp), extra)
    if figures:
        from sim.reports.charts import comparison_figures
        from sim.store.runs import default_outputs

        # labels come from the runs' files: re-checked before they become a folder name
        folder = Path(out) if out else default_outputs() / "comparisons" / "_vs_".join(safe.path_part(x, "run") for x in labels)[:150]
        written = comparison_figures(cmp, extra, folder)
        click.echo(f"charts written to {folder} ({len(written)} files)", err=True)
    if xlsx:
        click.echo(f"workbook written to {to_xlsx(cmp, xlsx, extra)}", err=True)
    if iamc:
        click.echo(f"IAMC CSV written to {to_iamc(cmp, iamc)}", err=True)


@main.command("init")
@click.argument("name")
@click.option("--out", type=click.Path(file_okay=False), default=".", show_default=True, help="Folder to write into.")
@click.option("--base-year", type=int, default=2025, show_default=True)
@handled
def init_cmd(name: str, out: str, base_year: int) -> None:
    """Write a commented starter scenario and an inventory template (CSV and xlsx) for NAME."""
    from sim.model.starter import write_starter

    for p in write_starter(name, out, base_year, (base_year + 1, base_year + 5)):
        click.echo(f"wrote {p}")


@main.command("solve")
@click.argument("scenario")
@click.option("--pollutant", help="Pollutant of the MACC chart (default: the first targeted one).")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the mix, tables and charts (default outputs/solve/<scenario>).")
@click.option("--gap", type=click.FloatRange(min=0), default=1e-2, show_default=True, help="Relative MIP gap for whole projects.")
@click.option("--time-limit", type=click.FloatRange(min=0.1), default=60.0, show_default=True, help="Seconds for HiGHS.")
@handled
def solve_cmd(scenario: str, pollutant: str | None, out: str | None, gap: float, time_limit: float) -> None:
    """Least-cost mix of candidate measures meeting every target (exit 3 when infeasible)."""
    from sim.analyses.solve import solve, write_mix
    from sim.api import load_scenario
    from sim.reports.terminal import print_solve
    from sim.store.runs import default_outputs

    scen = load_scenario(scenario)
    res = solve(scen, gap=gap, time_limit=time_limit)
    folder = Path(out) if out else default_outputs() / "solve" / scen.slug
    folder.mkdir(parents=True, exist_ok=True)
    mix = write_mix(res, folder / f"{scen.slug}-least-cost.yaml")
    rerun = None
    if res.feasible or res.level.any():
        from sim.api import run

        rerun = run(load_scenario(mix))
    pol = pollutant or (res.model.scenario.targets[0].pollutant if res.model.scenario.targets else res.model.pollutants[0])
    print_solve(res, rerun, pol)
    from sim.analyses.solve import macc_table

    table = macc_table(res, pol)
    safe.frame(table).to_csv(folder / f"macc_{pol}.csv", index=False, encoding="utf-8-sig")
    safe.frame(res_table(res)).to_csv(folder / "mix.csv", index=False, encoding="utf-8-sig")
    if len(table):
        import matplotlib.pyplot as plt

        from sim.reports.charts import macc

        fig = macc(table, pol)
        fig.savefig(folder / f"macc_{pol}.png")
        plt.close(fig)
    click.echo(f"mix written to {mix}; tables and MACC chart in {folder}", err=True)
    if not res.feasible:
        click.echo("error: the targets cannot all be met; shortfalls above (exit 3)", err=True)
        sys.exit(3)


def res_table(res):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.DataFrame({"measure": res.measures, "level": res.level, "unit": res.unit, "potential": res.potential,
                         "unit_cost_yuan_per_a": res.unit_cost, "cost_yuan_per_a": res.unit_cost * res.level})


@main.command("sweep")
@click.argument("scenario")
@click.option("--set", "sets", multiple=True, required=True, metavar="PATH=SPEC",
              help="measures.<id>.quantity|completion|share, coefficients.<key>, growth.<pool>, targets.<id>.value = a,b,c | start:stop:n | low,mid,high")
@click.option("--samples", type=click.IntRange(min=0), default=0, show_default=True, help="Common random numbers per grid point (P(met) over the grid).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of the draws (default: the scenario's settings.seed).")
@click.option("--out", type=click.Path(file_okay=False), help="Folder (default outputs/<scenario>/sweep-<id>).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@handled
def sweep_cmd(scenario: str, sets: tuple[str, ...], samples: int, seed: int | None, out: str | None, quiet: bool) -> None:
    """Sweep inputs over a grid: margins and P(met) per point, charts, break-even values."""
    import json

    import numpy as np

    from sim.analyses.sweep import break_even, parse_set, sweep
    from sim.api import load_scenario
    from sim.cli.progress import progress
    from sim.model.coefficients import load_library
    from sim.model.compile import compile_model
    from sim.reports.charts import sweep_figures
    from sim.reports.terminal import print_sweep
    from sim.store.runs import MANIFEST, atomic_folder, default_outputs, new_folder_name

    scen = load_scenario(scenario)
    model = compile_model(scen, load_library())
    axes = [parse_set(model, s) for s in sets]
    points = int(np.prod([len(a.values) for a in axes]))
    with progress(points * max(samples, 1), "sweep", quiet) as advance:
        ds = sweep(model, axes, samples, seed, progress=advance)
    be = break_even(ds)
    print_sweep(ds, be)
    for w in model.warnings:
        click.echo(f"warning: {safe.console(w)}", err=True)
    final = Path(out) if out else default_outputs() / scen.slug / new_folder_name("sweep-")
    if final.exists() and any(final.iterdir()) and not (final / MANIFEST).is_file():
        raise InputError(f"refusing to write into {final}: neither empty nor an ersim folder")
    with atomic_folder(final) as tmp:
        enc = ds.copy()
        enc.attrs = {k: str(v) for k, v in enc.attrs.items()}
        enc.to_netcdf(tmp / "results.nc", engine="h5netcdf")
        import pandas as pd

        safe.frame(pd.DataFrame(be)).to_csv(tmp / "breakeven.csv", index=False, encoding="utf-8-sig")
        safe.frame(ds[[v for v in ("margin", "probability") if v in ds]].to_dataframe().reset_index()).to_csv(tmp / "grid.csv", index=False, encoding="utf-8-sig")
        sweep_figures(ds, tmp / "figures")
        (tmp / MANIFEST).write_text(json.dumps({"kind": "sweep", "scenario": scen.name, "scenario_id": scen.slug,
                                                "scenario_file": scen._path, "sets": list(sets), "samples": samples,
                                                "seed": ds.attrs.get("seed"), "points": points, "warnings": model.warnings},
                                               ensure_ascii=False, indent=2),
                                    encoding="utf-8")
    click.echo(f"sweep written to {final}", err=True)


@main.command("sensitivity")
@click.argument("scenario")
@click.option("--method", type=click.Choice(["tornado", "morris", "sobol"]), default="tornado", show_default=True)
@click.option("--target", "target", help="Target id (default: the first).")
@click.option("-n", "--samples", "n", type=click.IntRange(min=2), default=1024, show_default=True,
              help="Sobol: base sample (a power of two); Morris: trajectories.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), help="Folder (default outputs/<scenario>/sensitivity-<id>).")
@handled
def sensitivity_cmd(scenario: str, method: str, target: str | None, n: int, seed: int, out: str | None) -> None:
    """Rank the uncertain inputs by their effect on a target's margin (tornado, Morris, Sobol)."""
    import json

    from sim.analyses.sensitivity import run_method
    from sim.api import load_scenario
    from sim.model.coefficients import load_library
    from sim.model.compile import compile_model
    from sim.reports.charts import sensitivity_figure
    from sim.reports.terminal import print_sensitivity
    from sim.store.runs import MANIFEST, atomic_folder, default_outputs, new_folder_name

    scen = load_scenario(scenario)
    model = compile_model(scen, load_library())
    if not scen.targets:
        raise InputError("the scenario has no targets to analyse")
    tid = target or scen.targets[0].id
    df = run_method(model, method, tid, n, seed)
    print_sensitivity(df, method, tid)
    for w in model.warnings:
        click.echo(f"warning: {safe.console(w)}", err=True)
    final = Path(out) if out else default_outputs() / scen.slug / new_folder_name(f"sensitivity-{method}-")
    with atomic_folder(final) as tmp:
        safe.frame(df).to_csv(tmp / f"{method}.csv", index=False, encoding="utf-8-sig")
        sensitivity_figure(df, method, tid, tmp / f"{method}.png")
        from sim.store.runs import chain_hashes

        (tmp / MANIFEST).write_text(json.dumps({"kind": "sensitivity", "method": method, "target": tid, "n": n, "seed": seed,
                                                "scenario": scen.name, "scenario_id": scen.slug, "scenario_file": scen._path,
                                                "scenario_variant": scen._variant, "scenario_chain_sha256": chain_hashes(scen),
                                                "inventory_sha256": scen._inventory_hash,
                                                "coefficient_tables": model.library.hashes, "warnings": model.warnings},
                                               ensure_ascii=False, indent=2), encoding="utf-8")
    click.echo(f"sensitivity written to {final}", err=True)


@main.command("runs")
@click.option("--scenario", help="Only runs of this scenario id.")
@handled
def runs_cmd(scenario: str | None) -> None:
    """List runs under outputs/ (id, scenario, time, seed, samples, headline margins)."""
    from rich.console import Console
    from rich.table import Table

    from sim.store.damage import check_run_folder, damaged_runs, leftovers
    from sim.store.runs import default_outputs, list_runs

    table = Table("run id", "scenario", "created", "seed", "samples", "targets (margin t)")
    listed = set()
    for r in list_runs():
        if scenario and r.get("scenario_id") != scenario:
            continue
        listed.add(str(Path(r["path"]).resolve()))
        st = r.get("settings", {})
        bad = check_run_folder(r["path"])
        heads = f"DAMAGED 已损坏: {bad.message}" if bad else ", ".join(f"{t['target']} {t['margin']:+,.0f}" for t in r.get("targets", [])[:4])
        table.add_row(*(safe.console(x) for x in (str(r.get("run_id")), str(r.get("scenario_id")), str(r.get("created")),
                                                   str(st.get("seed", "")), str(st.get("samples", 0)), heads)))
    for folder, bad in damaged_runs(default_outputs()):
        if str(folder.resolve()) in listed or (scenario and folder.parent.name != scenario):
            continue
        table.add_row(safe.console(folder.name), safe.console(folder.parent.name), "", "", "", f"DAMAGED 已损坏: {safe.console(bad)}")
    Console(width=200, markup=False, emoji=False, highlight=False).print(table)
    for p in leftovers(default_outputs()):
        click.echo(f"left by an interrupted run (not a run; safe to delete): {safe.console(p)}")


@main.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of a scenario file (for editor completion)."""
    from sim.model.scenario import Scenario

    click.echo(json.dumps(Scenario.model_json_schema(), ensure_ascii=False, indent=2))


@main.group("coefficients")
def coefficients_grp() -> None:
    """The cited coefficient library (coefficients/*.csv)."""


@coefficients_grp.command("list")
@click.option("--domain", help="Only this table, e.g. boilers.")
@click.option("--pollutant", help="Only this pollutant, e.g. NOx.")
@handled
def coef_list(domain: str | None, pollutant: str | None) -> None:
    """List coefficients: key, value, unit, basis."""
    from rich.console import Console
    from rich.table import Table

    from sim.core.pollutants import canonical_pollutant
    from sim.model.coefficients import load_library

    lib = load_library()
    pol = canonical_pollutant(pollutant) if pollutant else None
    if pollutant and pol is None:
        raise InputError(f"unknown pollutant {pollutant!r}")
    domains = sorted({c.domain for c in lib.coefficients.values()})
    if domain and domain not in domains:
        from sim.core.errors import did_you_mean

        raise InputError(f"unknown domain {domain!r}{did_you_mean(domain, domains)}; valid: {', '.join(domains)}")
    table = Table("key", "domain", "pollutant", "value", "unit", "range", "basis", "description")
    for c in lib.coefficients.values():
        if (domain and c.domain != domain) or (pol and c.pollutant != pol):
            continue
        rng = f"{c.low:g}–{c.high:g}" if c.low is not None and c.high is not None else ""
        table.add_row(c.key, c.domain, c.pollutant, f"{c.value:.6g}", c.unit, rng, c.basis, c.description)
    Console(width=200).print(table)


@coefficients_grp.command("show")
@click.argument("key")
@handled
def coef_show(key: str) -> None:
    """Show one coefficient with its source and the example scenarios that use it."""
    from sim.core.errors import did_you_mean
    from sim.model.coefficients import load_library

    lib = load_library()
    if key not in lib:
        raise InputError(f"unknown coefficient {key!r}{did_you_mean(key, lib.keys())}")
    c = lib[key]
    lines = [
        f"key:          {c.key}",
        f"description:  {c.description_zh} / {c.description_en}",
        f"pollutant:    {c.pollutant}",
        f"value:        {c.value:.6g} {c.unit}",
        f"range:        {c.low:g} – {c.high:g} ({c.distribution})" if c.low is not None and c.high is not None else "range:        none (fixed)",
        f"basis:        {c.basis}",
        f"source:       {c.source}",
        f"table:        {c.file}:{c.row}",
    ]
    if c.formula:
        lines.append(f"formula:      {c.formula}")
        lines.append(f"inputs:       {', '.join(lib.dependencies(key))}")
    if c.note:
        lines.append(f"note:         {c.note}")
    users = _scenarios_using(key)
    lines.append(f"used by:      {', '.join(users) if users else '(no example scenario)'}")
    click.echo("\n".join(lines))


def _scenarios_using(key: str) -> list[str]:
    """Example scenarios (scenarios/*.yaml beside the coefficients folder) that use *key*."""
    from sim.model.coefficients import default_coefficients_dir

    folder = default_coefficients_dir().parent / "scenarios"
    out = []
    for f in sorted(folder.glob("*.yaml")):
        text = f.read_text(encoding="utf-8", errors="replace")
        inv = [p for p in folder.glob("**/*.csv")]
        if key in text:
            out.append(f.name)
        else:
            for p in inv:
                if key in p.read_text(encoding="utf-8", errors="replace") and p.stem.split("-")[0] in f.stem:
                    out.append(f.name)
                    break
    return out


@coefficients_grp.command("check")
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="Folder of tables (default coefficients/).")
@handled
def coef_check(directory: str | None) -> None:
    """Check every table; exit 2 listing every problem."""
    from sim.model.coefficients import check_directory, default_coefficients_dir, load_library

    problems = check_directory(directory)
    if problems:
        raise InputError(problems)
    lib = load_library(directory)
    d = Path(directory) if directory else default_coefficients_dir()
    click.echo(f"{len(lib.coefficients)} coefficients in {len(lib.hashes)} tables under {d}: all checks pass")


@main.command("appendix")
@click.argument("run")
@click.option("--compare", "compare", multiple=True, metavar="RUN", help="An alternative run to compare with (repeatable).")
@click.option("--format", "formats", default="docx,html,md", show_default=True, help="Comma-separated: docx, html, md.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of the appendix.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder (default <run>/appendix/, or appendix-en/ for English).")
@handled
def appendix_cmd(run: str, compare: tuple[str, ...], formats: str, lang: str, out: str | None) -> None:
    """Write the feasibility appendix (目标可达性分析) of RUN: a run folder, run id, id prefix or scenario id."""
    from sim.reports.appendix import write_appendix

    for path in write_appendix(run, compare=compare, formats=formats, lang=lang, out=out):
        click.echo(str(path))


def _register_batch() -> None:
    from sim.cli.batch import batch_cmd

    main.add_command(batch_cmd)


_register_batch()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
