"""The one evaluation loop (sim/evaluation/evaluator.py) and per-measure reductions under samples."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.core import engine
from sim.evaluation.evaluate import monte_carlo, run_uncertain
from sim.evaluation.evaluator import Sampler, evaluate, sequential_reductions
from sim.model.coefficients import Library, load_library
from sim.model.compile import compile_model
from sim.model.load import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic import synthetic_scenario  # noqa: E402

EMPTY = Library()


def one_pool(measures, completion=(0.6, 1.0)):
    return scenario_from_dict({
        "name": "例", "region": "r", "base_year": 2024, "years": [2025],
        "inventory": [{"id": "kiln", "activity": "1000 t/a", "ef": {"NOx": "3 kg/t"}}],
        "measures": [dict(m, completion=list(completion)) for m in measures],
    })


def test_reduction_quantiles_worked_example():
    # one control on 50% of a 1000 t/a kiln, NOx 3 kg/t, efficiency 80%, completion U(0.6, 1.0):
    # reduction = 1000 t x 3 kg/t / 1000 x 0.5 x 0.8 x completion = 1.2 t/a x completion
    # completion quantiles 5/50/95 %: 0.62, 0.80, 0.98 -> 0.744, 0.96, 1.176 t/a
    scen = one_pool([{"id": "scr", "type": "control", "pool": "kiln", "share": "50%", "efficiency": {"NOx": "80%"}}])
    r = run_uncertain(scen, EMPTY, samples=2000, seed=5, keep="quantiles")
    ds = r.dataset
    got = [float(ds[f"reduction_{q}"].sel(measure="scr", pollutant="NOx", year=2025)) for q in ("p5", "p50", "p95")]
    # Latin hypercube: each of the 2000 strata of completion holds one sample, so the
    # empirical quantiles sit within one stratum (0.4 / 2000) of the exact ones
    assert got == pytest.approx([0.744, 0.96, 1.176], abs=1.2 * 0.4 / 2000 * 2)
    assert ds["reduction_p5"].attrs["units"] == "t yr-1"
    assert ds.attrs["reduction_quantile_samples"] == 2000


def test_reduction_quantiles_two_controls_in_series():
    # SCR (50%, 80%) then LNB (100%, 30%), both completion 1 (no range); runs keep per-measure
    # reductions in float32 for their quantiles (relative error ~1e-7):
    # SCR: 3 t x 0.5 x 0.8 = 1.2 t ; LNB on what remains: (3 - 1.2) x 0.3 = 0.54 t
    scen = one_pool([{"id": "scr", "type": "control", "pool": "kiln", "share": "50%", "efficiency": {"NOx": "80%"}},
                     {"id": "lnb", "type": "control", "pool": "kiln", "share": 1.0, "efficiency": {"NOx": "30%"}}],
                    completion=(1.0, 1.0))
    r = run_uncertain(scen, EMPTY, samples=10, seed=1, keep="quantiles")
    for q in ("p5", "p50", "p95"):
        assert float(r.dataset[f"reduction_{q}"].sel(measure="scr", pollutant="NOx", year=2025)) == pytest.approx(1.2, rel=1e-6)
        assert float(r.dataset[f"reduction_{q}"].sel(measure="lnb", pollutant="NOx", year=2025)) == pytest.approx(0.54, rel=1e-6)


@pytest.mark.parametrize("name", ["ankang-2025.yaml", "jiaozuo-2022.yaml", "hengyang-2019.yaml", "ningbo-2022.yaml"])
def test_sequential_reductions_equal_the_engine_per_sample(name):
    model = compile_model(load_scenario(ROOT / "scenarios" / name), load_library())
    x = Sampler(model, 40, 11).rows(0)[:6]
    got = sequential_reductions(model.inputs_from_matrix(x))
    for i in range(len(x)):
        want = engine.attribute_sequential(model.inputs_from_matrix(x[i:i + 1]))
        np.testing.assert_allclose(got[i], want, rtol=1e-12, atol=1e-9 * max(1.0, np.abs(want).max()))


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 30), st.integers(0, 2**31 - 1))
def test_reductions_telescope_to_the_totals(m, seed):
    # sequential attribution credits add up to baseline - emissions in every sample
    model = compile_model(scenario_from_dict(synthetic_scenario(m, 4, seed=seed % 1000)), EMPTY)
    mc = monte_carlo(model, 12, seed, reductions=12)
    total = mc["reduction"].sum(axis=1)
    want = mc["baseline_total"] - mc["emissions_total"]
    np.testing.assert_allclose(total, want, rtol=1e-9, atol=1e-9 * np.abs(mc["baseline_total"]).max())


def test_matrix_and_sampler_give_the_same_rows_and_numbers(monkeypatch):
    model = compile_model(scenario_from_dict(synthetic_scenario(30, 5, seed=2)), EMPTY)
    s = Sampler(model, 100, 9, block=16)
    x = np.concatenate([s.rows(b) for b in range(-(-100 // 16))])
    a = evaluate(model, s)
    b = evaluate(model, x, chunk=33)
    monkeypatch.setenv("ERSIM_THREADS", "1")
    c = evaluate(model, s)
    for key in ("baseline_total", "emissions_total", "required", "achieved"):
        np.testing.assert_allclose(getattr(b, key), getattr(a, key), rtol=1e-12)
        np.testing.assert_array_equal(getattr(c, key), getattr(a, key))


def test_progress_counts_every_row():
    model = compile_model(scenario_from_dict(synthetic_scenario(10, 3)), EMPTY)
    done: list[int] = []
    evaluate(model, Sampler(model, 50, 1, block=16), progress=done.append)
    assert sum(done) == 50 and len(done) == 4


def test_memory_linear_in_measures_for_one_crowded_pool():
    # 400 controls on one pool form one group: no [measures x measures] mask is built
    measures = [{"id": f"c{i}", "type": "control", "pool": "kiln", "share": 0.5, "efficiency": {"NOx": "1%"}} for i in range(400)]
    model = compile_model(one_pool(measures, (1.0, 1.0)), EMPTY)
    inp = model.inputs()
    tracemalloc.start()
    red = sequential_reductions(inp)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # measure i removes 3 t x 0.5 x 1% x (1 - 0.005)^i ; the mask alone would be 400 x 400 x 8 B = 1.3 MB
    i = np.arange(400)
    np.testing.assert_allclose(red[0, :, 0, model.years.index(2025)], 3.0 * 0.005 * 0.995**i, rtol=1e-9)
    assert peak < 400 * 400 * 8 / 2


def test_grid_rows_are_the_materialised_product():
    from sim.evaluation.evaluator import GridRows

    draws = np.arange(12.0).reshape(3, 4)  # 3 samples x 4 parameters
    grid = np.array([[10.0, 20.0], [30.0, 40.0]])  # 2 points of 2 swept columns (1 and 3)
    want = np.repeat(draws[None], 2, axis=0).reshape(6, 4)
    want[:, [1, 3]] = np.repeat(grid, 3, axis=0)
    src = GridRows(draws, [1, 3], grid, block=4)
    got = np.concatenate([src.rows(b) for b in range(2)])
    np.testing.assert_array_equal(got, want)
    assert src.n == 6


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), st.integers(1, 40), st.integers(1, 7), st.integers(0, 2**31 - 1))
def test_quantiles_equal_numpys(n, cells, block, seed):
    from sim.evaluation.evaluator import quantiles

    a = np.random.default_rng(seed).normal(size=(n, cells, 2))
    q = (0.05, 0.5, 0.95)
    np.testing.assert_allclose(quantiles(a, q, block=block), np.quantile(a, q, axis=0), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("every", [1, 7, 50])
def test_means_over_blocks_equal_the_means_of_the_rows(every):
    # a sweep keeps each grid point's totals as a mean over its samples; blocks straddle chunks
    model = compile_model(scenario_from_dict(synthetic_scenario(12, 4, seed=5)), EMPTY)
    rows = np.concatenate([Sampler(model, 350, 2, block=64).rows(b) for b in range(6)])[:350]
    full = evaluate(model, rows, chunk=33)
    means = evaluate(model, rows, chunk=33, mean_every=every)
    want_b = full.baseline_total.reshape(-1, every, *full.baseline_total.shape[1:]).mean(axis=1)
    want_e = full.emissions_total.reshape(-1, every, *full.emissions_total.shape[1:]).mean(axis=1)
    np.testing.assert_allclose(means.baseline_total, want_b, rtol=1e-12)
    np.testing.assert_allclose(means.emissions_total, want_e, rtol=1e-12)
    np.testing.assert_array_equal(means.achieved, full.achieved)
    with pytest.raises(ValueError, match="does not divide"):
        evaluate(model, rows[:349], mean_every=every if every > 1 else 2)


def test_allocator_tuned_once_and_numbers_unchanged(monkeypatch):
    import platform

    from sim.core import allocator

    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    model = compile_model(scenario_from_dict(synthetic_scenario(8, 3, seed=1)), EMPTY)
    before = monte_carlo(model, 64, 3)
    took = allocator.tune()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert took
    assert allocator.tune()  # once per process
    after = monte_carlo(model, 64, 3)
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1000000")
    assert not allocator.tune()  # the environment's own settings stand


@pytest.mark.parametrize("every", [1, 25])
def test_forked_processes_give_the_numbers_of_one_thread(every, monkeypatch):
    # large evaluations run their chunks in two forked processes: the same numbers, breaches,
    # reductions and progress as the single-threaded loop, bit for bit
    from sim.evaluation import evaluator

    if not evaluator._can_fork():
        pytest.skip("no fork start method on this platform")
    model = compile_model(scenario_from_dict(synthetic_scenario(15, 4, seed=9)), EMPTY)
    rows = np.concatenate([Sampler(model, 1000, 4, block=64).rows(b) for b in range(16)])[:1000]

    def run(env: str, process_rows: int) -> tuple[evaluator.Evaluation, dict[str, int], list[int]]:
        monkeypatch.setenv("ERSIM_THREADS", env)
        monkeypatch.setattr(evaluator, "PROCESS_WORK", process_rows)
        counts: dict[str, int] = {}
        done: list[int] = []
        ev = evaluate(model, rows, chunk=37, reductions=90, breaches=counts, progress=done.append, mean_every=every)
        return ev, counts, done

    one, c1, d1 = run("1", 10**9)
    used: list[int] = []
    real = evaluator._in_processes
    monkeypatch.setattr(evaluator, "_in_processes", lambda job, workers: (used.append(workers), real(job, workers))[1])
    forked, c2, d2 = run("2", 1)
    assert used == [2]  # the forked path ran
    for name in ("baseline_total", "emissions_total", "required", "achieved", "reduction"):
        np.testing.assert_array_equal(getattr(forked, name), getattr(one, name))
    assert c1 == c2 and sum(d1) == sum(d2) == 1000


def _sweep_in_a_pool_worker(_: int) -> float:
    from sim.evaluation import evaluator

    evaluator.PROCESS_WORK = 1
    model = compile_model(scenario_from_dict(synthetic_scenario(6, 3, seed=2)), EMPTY)
    return float(evaluate(model, Sampler(model, 300, 1, block=50)).emissions_total.sum())


def test_a_daemonic_worker_evaluates_with_threads():
    # a multiprocessing pool's workers may not have children: evaluate keeps its threads there
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        got = pool.map(_sweep_in_a_pool_worker, [0])[0]
    model = compile_model(scenario_from_dict(synthetic_scenario(6, 3, seed=2)), EMPTY)
    assert got == float(evaluate(model, Sampler(model, 300, 1, block=50)).emissions_total.sum())


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 6), st.integers(0, 2**31 - 1), st.booleans())
def test_quantiles_equal_numpys_with_ties_and_non_finite(n, cells, seed, ties):
    from sim.evaluation.evaluator import quantiles

    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, cells)) * 10.0 ** rng.integers(-3, 6)
    if ties:
        a = np.round(a, 1)
    q = np.array([0.05, 0.5, 0.95])
    np.testing.assert_array_equal(quantiles(a, q), np.quantile(a, q, axis=0))
    a[0, 0] = np.nan  # not finite: numpy's own
    np.testing.assert_array_equal(quantiles(a, q), np.quantile(a, q, axis=0))


def _two_measures(ef, removal, conv=1.0, kinds=(engine.TREAT, engine.CONTROL), tgt=(-1, -1)):
    k, p, y = 2, 1, 1
    return engine.EngineInputs(
        activity0=np.array([[10.0, 5.0]]), growth=np.zeros((1, k)), ef=np.array(ef, float).reshape(1, k, p),
        offset=np.array([1.0]), kind=np.array(kinds), src=np.array([0, 0]), tgt=np.array(tgt),
        qty=np.array([[np.nan, 2.0]]), share=np.array([[np.nan, np.nan]]), conv=np.full((1, 2), conv),
        cut=np.full((1, 2, p), 0.5), removal=np.array(removal, float).reshape(1, 2, p), implemented=np.ones((1, 2, y)))


@pytest.mark.parametrize("inp", [_two_measures([-1.0, 1.0], [3.0, 0.0]),  # a negative factor on a treated pool
                                 _two_measures([1.0, 1.0], [np.inf, 0.0]),  # 0 x inf
                                 _two_measures([1.0, 1.0], [0.0, 0.0], np.inf, (engine.SWITCH, engine.CONTROL), (1, -1)),
                                 _two_measures([1.0, 1.0], [3.0, 0.0])], ids=["negative-ef", "inf-removal", "inf-conv", "plain"])
def test_sequential_reductions_equal_the_engine_where_the_baseline_is_not_all_off(inp):
    # the all-off step is the baseline A EF only where the engine gives exactly that
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(sequential_reductions(inp)[0], engine.attribute_sequential(inp))
