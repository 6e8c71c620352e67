"""The ``ersim`` command: a thin layer over the Python API. Exit 2 = bad input, 3 = infeasible."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sim.cli.errors import handled
from sim.core import safe
from sim.core.errors import InputError
from sim.core.seeds import SEED_MAX
from sim.model.options import TIME_LIMIT_MIN


class _Group(click.Group):
    """The ersim group: ``ersim run --debug`` says that --debug goes before the command."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            if exc.option_name == "--debug":
                sub = ctx.invoked_subcommand or "COMMAND"
                raise click.UsageError(f"--debug goes before the command: ersim --debug {sub} ...", exc.ctx) from None
            raise


class _Aliased(click.Choice):
    """A choice that also takes the Chinese words a scenario may use for it (``沙普利`` -> ``shapley``)."""

    def __init__(self, field: str, choices: list[str]):
        super().__init__(choices)
        self.field = field

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        # imported only when the option is given: pydantic is slow to import
        from sim.model.scenario import ALIASES

        text = str(value).strip()
        for canonical, words in ALIASES[self.field].items():
            if text in words:
                text = canonical
        return super().convert(text, param, ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="ersim")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """ersim: emission reduction scenarios and target feasibility (减排情景与目标可达性分析).

    \b
    Examples:
      ersim run scenarios/ankang-2025.yaml
      ersim --debug run scenarios/ankang-2025.yaml   # --debug goes before the command
    """
    if ctx.invoked_subcommand != "batch":  # only a batch on a cluster needs dask (sim/core/startup.py)
        from sim.core.startup import hide_dask

        ctx.call_on_close(hide_dask())


@main.command("run")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default outputs/<scenario>/<run-id>).")
@click.option("--attribution", type=_Aliased("attribution", ["sequential", "shapley"]),
              help="How overlapping measures share credit: sequential (顺序) or shapley (沙普利).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of tables.")
@click.option("--samples", type=click.IntRange(min=0), default=0, show_default=True, help="Monte Carlo samples (Latin hypercube) of the uncertain inputs.")
@click.option("--seed", type=click.IntRange(min=0, max=SEED_MAX), help="Seed of the draws (default: the scenario's settings.seed).")
@click.option("--keep", type=click.Choice(["samples", "quantiles"]), default="samples", show_default=True, help="Keep every sample, or p5/p50/p95 only.")
@click.option("--figures/--no-figures", default=True, show_default=True, help="Write PNG charts to the run's figures/.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@handled
def run_cmd(scenario: str, out: str | None, attribution: str | None, as_json: bool, samples: int,
            seed: int | None, keep: str, figures: bool, quiet: bool) -> None:
    """Evaluate SCENARIO and write a run to outputs/.

    \b
    Example:
      ersim run scenarios/ankang-2025.yaml --samples 10000 --seed 1
    """
    worker = _chart_worker() if figures else None
    try:
        from sim.api import run
        from sim.cli.progress import progress
        from sim.reports.terminal import print_run

        with progress(samples, "Monte Carlo", quiet) as advance:
            result = run(scenario, samples=samples, seed=seed, keep=keep, attribution=attribution, progress=advance)
        scen = result.scenario
        if figures:
            from sim.reports.charts import figure_writers

            result.extra_writers.update(figure_writers(result))
        for w in result.warnings:
            click.echo(f"warning: {safe.console(w)}", err=True)
        from sim.api import save_run
        from sim.store.beside import hand_over

        hand_over(worker)
        path = save_run(result, out)
    finally:
        if worker is not None:
            from sim.store.beside import hand_over

            hand_over(None)
            worker.close()
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


def _prepare_charts() -> None:
    from sim.reports.charts import setup_fonts

    setup_fonts()
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401


def _chart_worker() -> Any:
    """A child that imports matplotlib while this process imports the rest and evaluates, then
    draws the run's charts beside its other files (sim/store/beside.py); None where it cannot fork."""
    from sim.store.beside import FORK, Worker

    if not FORK:
        return None
    import xarray  # noqa: F401  imported once, before the fork, for both processes

    return Worker(_prepare_charts)


@main.command("compare")
@click.argument("items", nargs=-1, required=True)
@click.option("--out", type=click.Path(file_okay=False), help="Folder (default outputs/comparisons/compare-<id>).")
@click.option("--xlsx", type=click.Path(dir_okay=False), help="Write every table as a sheet of this workbook.")
@click.option("--iamc", type=click.Path(dir_okay=False), help="Write IAMC-format CSV (pyam reads it).")
@click.option("--figures/--no-figures", default=True, show_default=True)
@handled
def compare_cmd(items: tuple[str, ...], out: str | None, xlsx: str | None, iamc: str | None, figures: bool) -> None:
    """Compare runs or scenario files (file.yaml#variant) side by side.

    \b
    Example:
      ersim compare scenarios/ankang-2025.yaml scenarios/ankang-2025-variants.yaml#strong --xlsx cmp.xlsx
    """
    from sim.analyses.compare import to_iamc, to_xlsx
    from sim.api import compare
    from sim.reports.terminal import print_comparison

    cmp = compare(list(items))
    extra = cmp.waterfalls()
    print_comparison(cmp.dataset, cmp.tables(), extra)
    folder = cmp.save(out, figures=figures)
    click.echo(f"comparison written to {folder}", err=True)
    if xlsx:
        click.echo(f"workbook written to {to_xlsx(cmp.dataset, xlsx, extra)}", err=True)
    if iamc:
        click.echo(f"IAMC CSV written to {to_iamc(cmp.dataset, iamc)}", err=True)


@main.command("init")
@click.argument("name")
@click.option("--out", type=click.Path(file_okay=False), default=".", show_default=True, help="Folder to write into.")
@click.option("--base-year", type=int, default=2025, show_default=True)
@click.option("--id", "scen_id", help="Scenario id and file name (default: NAME in pinyin, e.g. 某县 -> mouxian).")
@handled
def init_cmd(name: str, out: str, base_year: int, scen_id: str | None) -> None:
    """Write a commented starter scenario and an inventory template (CSV and xlsx) for NAME.

    \b
    Example:
      ersim init 某县 --out mouxian     # writes mouxian/mouxian.yaml and mouxian/inventories/mouxian-2025.csv
    """
    from sim.model.starter import write_starter

    for p in write_starter(name, out, base_year, (base_year + 1, base_year + 5), sid=scen_id):
        click.echo(f"wrote {p}")


@main.command("solve")
@click.argument("scenario")
@click.option("--pollutant", help="Pollutant of the MACC chart (default: the first targeted one).")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the mix, tables and charts (default outputs/<scenario>/solve-<id>).")
@click.option("--gap", type=click.FloatRange(min=0), default=1e-2, show_default=True, help="Relative MIP gap for whole projects.")
@click.option("--time-limit", type=click.FloatRange(min=TIME_LIMIT_MIN), default=60.0, show_default=True, help="Seconds for HiGHS.")
@handled
def solve_cmd(scenario: str, pollutant: str | None, out: str | None, gap: float, time_limit: float) -> None:
    """Least-cost mix of candidate measures meeting every target (exit 3 when infeasible, or when the
    engine's re-run of the mix misses a target).

    SCENARIO is a scenario file or a run (folder, id, prefix or scenario id).

    \b
    Example:
      ersim solve scenarios/ankang-2025-costs.yaml
    """
    from sim.api import solve
    from sim.reports.terminal import print_solve

    out_obj = solve(scenario, gap=gap, time_limit=time_limit, pollutant=pollutant)
    print_solve(out_obj.solution, out_obj.rerun, out_obj.macc_pollutant())
    folder = out_obj.save(out)
    click.echo(f"mix, costs, prices, targets and MACC written to {folder}", err=True)
    if not out_obj.feasible:
        click.echo("error: the targets cannot all be met; shortfalls above (exit 3)", err=True)
        sys.exit(3)
    missed, differ = out_obj.rerun_check()
    for d in differ:
        click.echo(f"warning: the re-run differs from the least-cost model: {d}", err=True)
    if missed:
        click.echo("error: the engine's re-run of the mix misses " + "; ".join(missed) + " (exit 3)", err=True)
        sys.exit(3)


@main.command("sweep")
@click.argument("scenario")
@click.option("--set", "sets", multiple=True, required=True, metavar="PATH=SPEC",
              help="measures.<id>.quantity|completion|share, coefficients.<key>, growth.<pool>, targets.<id>.value = a,b,c | start:stop:n | low,mid,high")
@click.option("--samples", type=click.IntRange(min=0), default=0, show_default=True, help="Common random numbers per grid point (P(met) over the grid).")
@click.option("--seed", type=click.IntRange(min=0, max=SEED_MAX), help="Seed of the draws (default: the scenario's settings.seed).")
@click.option("--out", type=click.Path(file_okay=False), help="Folder (default outputs/<scenario>/sweep-<id>).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@handled
def sweep_cmd(scenario: str, sets: tuple[str, ...], samples: int, seed: int | None, out: str | None, quiet: bool) -> None:
    """Sweep inputs over a grid: margins and P(met) per point, charts, break-even values.

    \b
    Example:
      ersim sweep scenarios/ankang-2025.yaml --set measures.rural-sewage.completion=0.5:1:6

    SCENARIO is a scenario file or a run (folder, id, prefix or scenario id).
    """
    from sim.api import sweep
    from sim.cli.progress import progress
    from sim.reports.terminal import print_sweep

    with progress(None, "sweep", quiet) as advance:
        res = sweep(scenario, list(sets), samples=samples, seed=seed, progress=advance)
    print_sweep(res.dataset, res.break_even())
    for w in res.model.warnings:
        click.echo(f"warning: {safe.console(w)}", err=True)
    click.echo(f"sweep written to {res.save(out)}", err=True)


@main.command("sensitivity")
@click.argument("scenario")
@click.option("--method", type=click.Choice(["tornado", "morris", "sobol"]), default="tornado", show_default=True)
@click.option("--target", "target", help="Target id (default: the first).")
@click.option("-n", "--samples", "n", type=click.IntRange(min=2), default=1024, show_default=True,
              help="Sobol: base sample (a power of two); Morris: trajectories.")
@click.option("--seed", type=click.IntRange(min=0, max=SEED_MAX), default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), help="Folder (default outputs/<scenario>/sensitivity-<id>).")
@handled
def sensitivity_cmd(scenario: str, method: str, target: str | None, n: int, seed: int, out: str | None) -> None:
    """Rank the uncertain inputs by their effect on a target's margin (tornado, Morris, Sobol).

    \b
    Example:
      ersim sensitivity scenarios/ankang-2025.yaml --method sobol --target cod-2025 -n 1024

    SCENARIO is a scenario file or a run (folder, id, prefix or scenario id).
    """
    from sim.api import sensitivity
    from sim.reports.charts import input_names
    from sim.reports.terminal import print_sensitivity

    res = sensitivity(scenario, method, target, n=n, seed=seed)
    print_sensitivity(res.table, method, res.target, names=input_names(res.model))
    for w in res.model.warnings:
        click.echo(f"warning: {safe.console(w)}", err=True)
    click.echo(f"sensitivity written to {res.save(out)}", err=True)


@main.command("runs")
@click.option("--scenario", help="Only outputs of this scenario id.")
@click.option("--kind", type=click.Choice(["all", "run", "sweep", "sensitivity", "solve", "compare", "batch", "appendix", "explore"]),
              default="all", show_default=True, help="Only outputs of this kind.")
@handled
def runs_cmd(scenario: str | None, kind: str) -> None:
    """List outputs under outputs/: id, kind, scenario, time, seed, samples, headline margins; damaged ones flagged.

    \b
    Example:
      ersim runs --scenario ankang-2025
    """
    from rich.console import Console

    from sim.core.units import shown
    from sim.reports.terminal import Table
    from sim.store.damage import leftovers
    from sim.store.folders import default_outputs
    from sim.store.runs import list_outputs

    table = Table("编号 id", "类型 kind", "情景 scenario", "时间 created", "种子 seed", "样本数 samples", "目标余量 targets (margin)")
    for r in list_outputs():
        if (scenario and r.get("scenario_id") != scenario) or (kind != "all" and r.get("kind") != kind):
            continue
        st = r.get("settings", {}) if isinstance(r.get("settings"), dict) else {}
        heads = ", ".join(f"{t['target']} {t['margin']:+,.4g} {shown(str(t.get('unit', 't')))}" for t in r.get("targets", [])
                          if isinstance(t, dict) and isinstance(t.get("margin"), (int, float)))  # every target: none hidden
        if r.get("damaged"):
            heads = f"DAMAGED 已损坏: {r['damaged']}"
        seed = st.get("seed", r.get("seed"))
        table.add_row(*(safe.console(x) for x in (str(r.get("id")), str(r.get("kind")), str(r.get("scenario_id", "")),
                                                   str(r.get("created", "")), "" if seed is None else str(seed),
                                                   str(st.get("samples", r.get("samples", ""))), heads)))
    Console(width=200, markup=False, emoji=False, highlight=False).print(table)
    for p in leftovers(default_outputs()):
        click.echo(f"left by an interrupted run (not a run; safe to delete): {safe.console(p)}")


@main.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of a scenario file (for editor completion).

    \b
    Example:
      ersim schema > scenario.schema.json
    """
    from sim.model.scenario import Scenario

    click.echo(json.dumps(Scenario.model_json_schema(), ensure_ascii=False, indent=2))


@main.group("coefficients")
def coefficients_grp() -> None:
    """The cited coefficient library (coefficients/*.csv).

    \b
    Example:
      ersim coefficients list --domain boilers
    """


@coefficients_grp.command("list")
@click.option("--domain", help="Only this table, e.g. boilers.")
@click.option("--pollutant", help="Only this pollutant, e.g. NOx.")
@handled
def coef_list(domain: str | None, pollutant: str | None) -> None:
    """List coefficients: key, value, unit, basis.

    \b
    Example:
      ersim coefficients list --pollutant NOx
    """
    from rich.console import Console

    from sim.core.pollutants import canonical_pollutant
    from sim.model.coefficients import load_library
    from sim.reports.terminal import Table

    lib = load_library()
    pol = canonical_pollutant(pollutant) if pollutant else None
    if pollutant and pol is None:
        raise InputError(f"unknown pollutant {pollutant!r}")
    domains = sorted({c.domain for c in lib.coefficients.values()})
    if domain and domain not in domains:
        from sim.core.errors import did_you_mean

        raise InputError(f"unknown domain {domain!r}{did_you_mean(domain, domains)}; valid: {', '.join(domains)}")
    table = Table("系数 key", "领域 domain", "污染物 pollutant", "取值 value", "单位 unit", "范围 range", "依据 basis", "说明 description")
    for c in lib.coefficients.values():
        if (domain and c.domain != domain) or (pol and c.pollutant != pol):
            continue
        rng = f"{c.low:g}–{c.high:g}" if c.low is not None and c.high is not None else ""
        table.add_row(c.key, c.domain, c.pollutant, f"{c.value:.6g}", c.unit, rng, c.basis, c.description)
    Console(width=200, markup=False, emoji=False, highlight=False).print(table)


@coefficients_grp.command("show")
@click.argument("key")
@handled
def coef_show(key: str) -> None:
    """Show one coefficient with its source and the example scenarios that use it.

    \b
    Example:
      ersim coefficients show gb18918_1a_cod
    """
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
        f"range:        {c.low:g} – {c.high:g} ({c.distribution})" if c.low is not None and c.high is not None else
        "range:        its own none; it varies with the ranges of its inputs (below)" if c.formula and any(
            lib[d].low is not None and lib[d].high is not None for d in lib.dependencies(key) if d in lib) else
        "range:        none (fixed)",
        f"basis:        {c.basis}",
        f"source:       {c.source}",
        f"table:        {c.file}:{c.row}",
    ]
    if c.formula:
        lines.append(f"formula:      {c.formula}")
        lines.append(f"inputs:       {', '.join(lib.dependencies(key))}")
    if c.note:
        lines.append(f"note:         {c.note}")
    users = _scenarios_using(key, lib)
    lines.append(f"used by:      {', '.join(users) if users else '(no example scenario)'}")
    click.echo("\n".join(lines))


def _scenarios_using(key: str, lib: Any) -> list[str]:
    """Example scenarios (scenarios/*.yaml beside the coefficients folder) that use *key*, directly
    or through a derived row that rests on it (``name (via derived_key)``)."""
    from sim.model.coefficient_uses import scenario_uses
    from sim.model.coefficients import default_coefficients_dir

    return scenario_uses(key, default_coefficients_dir().parent / "scenarios", lib)


@coefficients_grp.command("check")
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="Folder of tables (default coefficients/).")
@handled
def coef_check(directory: str | None) -> None:
    """Check every table; exit 2 listing every problem.

    \b
    Example:
      ersim coefficients check --dir my-coefficients
    """
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
@click.option("--out", type=click.Path(file_okay=False), help="Folder (default outputs/<scenario>/appendix-<id>).")
@handled
def appendix_cmd(run: str, compare: tuple[str, ...], formats: str, lang: str, out: str | None) -> None:
    """Write the feasibility appendix (目标可达性分析) of RUN: a run folder, run id, id prefix or scenario id.

    \b
    Example:
      ersim appendix ankang-2025 --format docx --lang zh
    """
    from sim.reports.appendix import write_appendix

    for path in write_appendix(run, compare=compare, formats=formats, lang=lang, out=out):
        click.echo(str(path))


@main.command("explore")
@click.argument("run")
@click.option("--out", type=click.Path(dir_okay=False), help="The page's file, e.g. ankang.html (default outputs/<scenario>/explore-<id>/explore.html).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of the page.")
@handled
def explore_cmd(run: str, out: str | None, lang: str) -> None:
    """Write a what-if explorer of RUN: one HTML file, no network, live margins as sliders move.

    \b
    Example:
      ersim explore ankang-2025 --out ankang-whatif.html
    """
    from sim.api import explore

    click.echo(str(explore(run, out=out, lang=lang)))


def _register_batch() -> None:
    from sim.cli.batch import batch_cmd

    main.add_command(batch_cmd)


_register_batch()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
