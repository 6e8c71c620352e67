"""Start-up imports only what the command uses (sim/core/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("extra", [["--no-figures"], ["--samples", "50", "--keep", "quantiles", "--no-figures"]])
def test_ersim_run_imports_neither_dask_nor_matplotlib(tmp_path, extra):
    code = (
        "import sys, json\n"
        "from sim.cli.main import main\n"
        f"try: main(['run', {str(ROOT / 'scenarios' / 'ankang-2025.yaml')!r}, '--out', {str(tmp_path / 'run')!r}, '--quiet', *{extra!r}])\n"
        "except SystemExit as e: assert not e.code, e.code\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules if sys.modules[m] is not None} & {'dask', 'distributed', 'matplotlib'})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert (tmp_path / "run" / "results.nc").is_file()


def test_hide_and_undo():
    """In a fresh process (nothing imported): hidden, then visible again after the undo."""
    code = (
        "import importlib.util\n"
        "from sim.core.startup import hide_dask\n"
        "installed = importlib.util.find_spec('dask') is not None\n"
        "undo = hide_dask()\n"
        "assert importlib.util.find_spec('dask') is None\n"
        "try:\n"
        "    import dask\n"
        "    raise SystemExit('dask imported while hidden')\n"
        "except ImportError:\n"
        "    pass\n"
        "undo()\n"
        "assert (importlib.util.find_spec('dask') is not None) == installed\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_a_process_that_imported_xarray_first_runs_in_process(tmp_path):
    """xarray notes at import that dask is installed; hiding dask afterwards broke every Dataset
    ("'dask' is not a package"). hide_dask now leaves dask visible once xarray is imported."""
    code = (
        "import xarray\n"
        "from click.testing import CliRunner\n"
        "from sim.cli.main import main\n"
        f"r = CliRunner().invoke(main, ['run', {str(ROOT / 'scenarios' / 'ankang-2025.yaml')!r}, '--no-figures', '--quiet', "
        f"'--out', {str(tmp_path / 'run')!r}])\n"
        "assert r.exit_code == 0, r.output\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    assert (tmp_path / "run" / "results.nc").is_file()


# ---- writing beside: the charts (or the record) in a forked child ---------------------------------

def test_ersim_run_draws_its_charts_beside_and_not_in_the_parent(tmp_path):
    """With figures, a worker forked before the slow imports draws the charts: the parent never
    imports matplotlib and never runs a chart writer (its fallback would)."""
    from sim.store.beside import FORK

    if not FORK:  # the child process below has one thread: it forks wherever the platform does
        pytest.skip("no fork here: the charts are drawn in the process")
    code = (
        "import os, sys, json\n"
        "import sim.store.beside as b\n"
        "parent, real = os.getpid(), b._run\n"
        "def guarded(jobs):\n"
        "    assert os.getpid() != parent, 'a chart was drawn in the parent'\n"
        "    real(jobs)\n"
        "b._run = guarded\n"
        "from sim.cli.main import main\n"
        f"try: main(['run', {str(ROOT / 'scenarios' / 'ankang-2025.yaml')!r}, '--out', {str(tmp_path / 'run')!r}, '--quiet'])\n"
        "except SystemExit as e: assert not e.code, e.code\n"
        "print(json.dumps('matplotlib' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert json.loads(out.stdout.strip().splitlines()[-1]) is False
    pngs = sorted(p.name for p in (tmp_path / "run" / "figures").glob("*.png"))
    assert pngs and all(p.startswith(("waterfall_", "concentration_")) for p in pngs)
    assert (tmp_path / "run" / "inputs" / "inputs.nc").is_file() and (tmp_path / "run" / "manifest.json").is_file()


@pytest.fixture
def forking(monkeypatch):
    """Whether this platform forks; where it does, fork even if an earlier test left an idle thread
    in this process (the children here only write small files)."""
    from sim.store import beside

    monkeypatch.setattr(beside, "_can_fork", lambda: beside.FORK)
    return beside.FORK


def _write_pid(path):
    import os

    path.write_text(str(os.getpid()))


def test_beside_runs_the_jobs_in_a_child_while_the_block_runs(tmp_path, forking):
    import os
    from functools import partial

    from sim.store.beside import beside

    forks = forking
    with beside([partial(_write_pid, tmp_path / "a"), partial(_write_pid, tmp_path / "b")]):
        (tmp_path / "main").write_text(str(os.getpid()))
    pids = {(tmp_path / n).read_text() for n in ("a", "b")}
    assert len(pids) == 1
    assert (pids != {str(os.getpid())}) == forks  # a child wrote them, where the process may fork


def test_beside_does_not_fork_a_process_with_threads(tmp_path):
    """A caller's thread (a notebook kernel's) may hold a lock the child would wait for: no fork then."""
    import os
    import threading
    from functools import partial

    from sim.store.beside import beside

    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        with beside([partial(_write_pid, tmp_path / "a")]):
            pass
    finally:
        stop.set()
        t.join()
    assert (tmp_path / "a").read_text() == str(os.getpid())


def test_beside_a_failing_job_raises_in_the_parent(tmp_path, forking):
    """The child's failure is not lost: the parent runs the jobs again and the error surfaces there."""
    from sim.store.beside import beside

    calls = tmp_path / "calls"

    def fail():
        with calls.open("a") as fh:
            fh.write("x")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"), beside([fail]):
        pass
    assert len(calls.read_text()) in (1, 2)  # the child's attempt (where it forks) and the parent's


def test_beside_stops_the_child_when_the_block_fails(tmp_path, forking):
    import time

    from sim.store.beside import beside

    def slow():
        time.sleep(30)
        (tmp_path / "late").write_text("written")

    t = time.perf_counter()
    with pytest.raises(RuntimeError, match="block"), beside([slow]):
        raise RuntimeError("block failed")
    assert time.perf_counter() - t < 10
    assert not (tmp_path / "late").exists()


def test_save_png_keeps_the_pixels_of_savefig(tmp_path):
    """Charts are written as RGB PNG at 200 dpi: the same pixels as matplotlib's savefig, fewer bytes to encode."""
    import numpy as np
    from PIL import Image

    from sim.reports import charts

    charts.setup_fonts()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=charts.DPI)
    ax.bar([0, 1, 2], [3.0, -1.0, 2.0], color=["#7f7f7f", "#2ca02c", "#1f77b4"])
    ax.set_title("化学需氧量：2020—2025年排放变化")
    fig.tight_layout()
    fig.savefig(tmp_path / "a.png", dpi=charts.DPI)
    charts.save_png(fig, tmp_path / "b.png")
    plt.close(fig)
    a, b = Image.open(tmp_path / "a.png"), Image.open(tmp_path / "b.png")
    assert b.mode == "RGB" and round(b.info["dpi"][0]) == charts.DPI
    assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b))


def test_save_png_keeps_transparent_pixels(tmp_path):
    """A figure with transparent pixels is not flattened to RGB: savefig writes it as RGBA."""
    from PIL import Image

    from sim.reports import charts

    charts.setup_fonts()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2), dpi=charts.DPI)
    fig.patch.set_alpha(0.0)
    ax.plot([0, 1], [0, 1])
    charts.save_png(fig, tmp_path / "t.png")
    plt.close(fig)
    img = Image.open(tmp_path / "t.png")
    assert img.mode == "RGBA" and img.getchannel("A").getextrema()[0] < 255


def _handed_worker(tmp_path, monkeypatch, forking):
    """A Worker (preparing: writes its pid to tmp_path/prepared) handed to the next beside(); pickled
    jobs go to tmp_path/tmp."""
    import tempfile
    from functools import partial

    from sim.store.beside import Worker, hand_over

    if not forking:
        pytest.skip("no fork here")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    worker = Worker(partial(_write_pid, tmp_path / "prepared"))
    hand_over(worker)
    return worker


def test_worker_prepares_early_then_runs_what_beside_hands_it(tmp_path, monkeypatch, forking):
    import os
    from functools import partial

    from sim.store.beside import beside

    worker = _handed_worker(tmp_path, monkeypatch, forking)
    with beside([partial(_write_pid, tmp_path / "job")]):
        pass
    assert (tmp_path / "prepared").read_text() == (tmp_path / "job").read_text() != str(os.getpid())
    assert worker.pid == 0  # waited for
    assert not list((tmp_path / "tmp").iterdir())  # the pickled jobs are gone


def test_worker_draws_half_the_jobs_in_a_helper_it_forks(tmp_path, monkeypatch, forking):
    """Handed its jobs, the worker forks a helper (which starts with what was prepared) and each
    runs half: two processes, neither the parent, the worker one of them."""
    import os
    from functools import partial

    from sim.store.beside import beside

    _handed_worker(tmp_path, monkeypatch, forking)
    with beside([partial(_write_pid, tmp_path / f"job{i}") for i in range(4)]):
        pass
    pids = [(tmp_path / f"job{i}").read_text() for i in range(4)]
    assert len(set(pids)) == 2 and str(os.getpid()) not in pids
    assert pids[0] == pids[2] == (tmp_path / "prepared").read_text() != pids[1] == pids[3]


def _slow_write(path, seconds):
    import time

    time.sleep(seconds)
    path.write_text("late")


def test_a_failing_block_stops_the_worker_and_its_helper(tmp_path, monkeypatch, forking):
    """The parent fails while the charts are drawn: the worker and the helper it forked both stop
    (nothing is written afterwards into an output that is being removed)."""
    import time
    from functools import partial

    from sim.store.beside import beside

    _handed_worker(tmp_path, monkeypatch, forking)
    with pytest.raises(OSError, match="disk full"), beside([partial(_slow_write, tmp_path / f"job{i}", 1.0) for i in range(4)]):
        time.sleep(0.4)  # the worker has forked its helper by now
        raise OSError(28, "disk full")
    time.sleep(1.5)
    assert not list(tmp_path.glob("job*"))


def _only_in(pid_file, out):
    import os

    if str(os.getpid()) != pid_file.read_text():
        raise OSError(28, "No space left on device")
    out.write_text(str(os.getpid()))


def test_worker_runs_the_helpers_half_itself_when_the_helper_fails(tmp_path, monkeypatch, forking):
    from functools import partial

    from sim.store.beside import beside

    prepared = tmp_path / "prepared"
    worker = _handed_worker(tmp_path, monkeypatch, forking)
    with beside([partial(_only_in, prepared, tmp_path / f"job{i}") for i in range(3)]):
        pass
    assert worker.pid == 0
    assert {(tmp_path / f"job{i}").read_text() for i in range(3)} == {prepared.read_text()}


def test_worker_not_used_leaves_and_unpicklable_jobs_are_written_anyway(tmp_path, forking):
    import os

    from sim.store.beside import Worker, beside, hand_over

    if not forking:
        pytest.skip("no fork here")
    idle = Worker(lambda: None)
    pid = idle.pid
    idle.close()  # nothing handed over: the child reads no path and leaves, and is reaped
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)
    worker = Worker(lambda: None)
    hand_over(worker)
    unpicklable = lambda: _write_pid(tmp_path / "local")  # noqa: E731
    with beside([unpicklable]):
        pass
    assert (tmp_path / "local").is_file()  # a forked child (or this process) wrote it
    assert worker.pid == 0
