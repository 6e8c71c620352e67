"""Runs killed while writing, and where runs may be written.

A real ``ersim run`` subprocess is killed with SIGKILL at several moments of
writing its run (as soon as its temporary folder appears, once results.nc is in it, once its
figures are, and after a random delay). After every kill, ``ersim runs`` lists no partial run
and the earlier runs are byte for byte what they were.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.main import main
from sim.store.runs import MANIFEST, list_runs

BASE = (Path(__file__).resolve().parent / "data" / "bad" / "_base" / "scenario.yaml").read_text(encoding="utf-8")
RUN_FILES = ("manifest.json", "results.nc", "summary.csv", "targets.csv", "measures.csv")


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERSIM_OUTPUTS", str(tmp_path / "outputs"))
    (tmp_path / "s.yaml").write_text(BASE.replace("id: bad-case", "id: kill"), encoding="utf-8")
    return tmp_path


def _complete(run: dict[str, object]) -> bool:
    folder = Path(str(run["path"]))
    return all((folder / name).is_file() for name in RUN_FILES) and not folder.name.startswith(".")


def _start(env: Path, sid: str) -> subprocess.Popen[bytes]:
    (env / f"{sid}.yaml").write_text(BASE.replace("id: bad-case", f"id: {sid}"), encoding="utf-8")
    # what the `ersim` script runs (python -m sim.cli.main would import sim.cli.main twice, as __main__ too)
    return subprocess.Popen([sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())",
                             "run", f"{sid}.yaml", "--quiet", "--samples", "200"],
                            cwd=env, env={**os.environ, "ERSIM_OUTPUTS": str(env / "outputs")},
                            stdout=subprocess.DEVNULL, stderr=(env / f"{sid}.err").open("wb"))


def _due(folder: Path, when: str, age: float, delay: float) -> bool:
    """Has the run writing into *folder* (outputs/<id>/) reached the moment *when*?"""
    tmps = list(folder.glob(".tmp-*")) if folder.is_dir() else []
    if when == "tmp folder":
        return bool(tmps)
    if when == "results.nc":
        return any((t / "results.nc").exists() for t in tmps)
    if when == "figures":
        return any((t / "figures").is_dir() and any((t / "figures").iterdir()) for t in tmps)
    return age >= delay


def test_sigkill_while_writing_leaves_no_partial_run(env: Path) -> None:
    for args in (["run", "s.yaml", "--no-figures"], ["run", "s.yaml", "--samples", "50"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
    earlier = list_runs(env / "outputs")
    assert len(earlier) == 2
    before = {r["path"]: _hashes(Path(str(r["path"]))) for r in earlier}
    seed = random.randrange(2**32)  # random short delays, reproducible from the seed in a failure
    rng = random.Random(seed)
    moments = [("tmp folder", 0.0), ("results.nc", 0.0), ("figures", 0.0),
               ("delay", rng.uniform(0.3, 3.0)), ("delay", rng.uniform(0.3, 3.0))]
    # five runs at once, each of its own scenario, each killed at its own moment; the checks run
    # after every kill, while the others are still writing
    procs = {f"k{i}": _start(env, f"k{i}") for i in range(len(moments))}
    start = time.monotonic()
    outcomes: dict[str, str] = {}
    try:
        while len(outcomes) < len(procs) and time.monotonic() - start < 120:
            for i, (sid, proc) in enumerate(procs.items()):
                if sid in outcomes:
                    continue
                when, delay = moments[i]
                if proc.poll() is not None:
                    outcomes[sid] = "finished"
                elif _due(env / "outputs" / sid, when, time.monotonic() - start, delay):
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    outcomes[sid] = "killed"
                else:
                    continue
                where = f"{sid} {outcomes[sid]} at {when} {delay:.2f}s (seed {seed})"
                runs = list_runs(env / "outputs")
                assert all(_complete(r) for r in runs), (where, runs)
                assert {r["path"] for r in earlier} <= {r["path"] for r in runs}, where
                for path, hashes in before.items():
                    assert _hashes(Path(path)) == hashes, f"earlier run {path} changed: {where}"
            time.sleep(0.002)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    res = CliRunner().invoke(main, ["runs"])
    # never listed as runs; named (once each) as leftovers that are safe to delete
    assert res.exit_code == 0
    assert all(ln.startswith("left by an interrupted run") for ln in res.output.splitlines() if ".tmp-" in ln), res.output
    # the targeted kills hit their runs while they were writing: temporary folders left, never listed
    for i, (when, _) in enumerate(moments[:3]):
        assert outcomes[f"k{i}"] == "killed", (when, outcomes, (env / f"k{i}.err").read_text(errors="replace")[-2000:])
        assert list((env / "outputs" / f"k{i}").glob(".tmp-*")), when
    listed = {r["scenario_id"] for r in list_runs(env / "outputs")}
    assert listed == {"kill"} | {sid for sid, o in outcomes.items() if o == "finished"}, (outcomes, seed)
    # and the next run is written as usual
    res = CliRunner().invoke(main, ["run", "k0.yaml", "--no-figures"])
    assert res.exit_code == 0, res.output
    assert [r["scenario_id"] for r in list_runs(env / "outputs")].count("k0") == 1


def test_replacing_a_run_killed_between_renames_is_undone(env: Path) -> None:
    """``--out`` over an earlier run moves it aside, then moves the new run in: a kill between
    the two renames leaves the earlier run aside; the next write puts it back first."""
    out = env / "runs" / "r1"
    assert CliRunner().invoke(main, ["run", "s.yaml", "--no-figures", "--out", str(out)]).exit_code == 0
    hashes = _hashes(out)
    aside = out.parent / f".tmp-old-{out.name}-deadbeef"
    out.rename(aside)  # where a SIGKILL between the renames leaves things
    res = CliRunner().invoke(main, ["run", "s.yaml", "--no-figures", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / MANIFEST).is_file() and not aside.exists()
    assert [p.name for p in out.parent.iterdir()] == ["r1"]
    assert _hashes(out) != hashes  # replaced by the new run, not merged with the old


def test_run_ids_cannot_leave_outputs(env: Path) -> None:
    for i, sid in enumerate(["../../x", "..", "/tmp/x", "a/../../b", ".hidden"]):
        (env / f"e{i}.yaml").write_text(BASE.replace("id: bad-case", f"id: '{sid}'"), encoding="utf-8")
        before = sorted(str(p) for p in env.parent.rglob("*"))
        res = CliRunner().invoke(main, ["run", f"e{i}.yaml", "--no-figures"])
        assert res.exit_code == 2, (sid, res.output)
        assert f"e{i}.yaml:" in res.stderr and " id: " in res.stderr
        assert sorted(str(p) for p in env.parent.rglob("*")) == before
    # a file whose name would make the folder: '..yaml' -> '.', '...yaml' -> '..'
    for name in ("...yaml", ".x.yaml"):
        (env / name).write_text(BASE.replace("id: bad-case\n", ""), encoding="utf-8")
        res = CliRunner().invoke(main, ["run", name, "--no-figures"])
        assert res.exit_code == 2, res.output
        assert "cannot name a run folder" in res.stderr
    assert not (env / "outputs").exists()


def test_save_run_refuses_a_slug_that_escapes(env: Path) -> None:
    """The store checks again, whatever the loader let through."""
    from sim.api import load_scenario, run
    from sim.core.errors import InputError
    from sim.store.runs import save_run

    scen = load_scenario(env / "s.yaml")
    result = run(scen)
    scen.id = "../../escaped"
    with pytest.raises(InputError, match="would leave"):
        save_run(result)
    assert not (env.parent / "escaped").exists() and not (env / "escaped").exists()


def test_out_refuses_a_folder_that_is_not_a_run(env: Path) -> None:
    mine = env / "docs"
    mine.mkdir()
    (mine / "notes.txt").write_text("规划文本", encoding="utf-8")
    (mine / "sub").mkdir()
    (mine / "sub" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    before = _hashes(mine)
    afile = env / "report.docx"
    afile.write_bytes(b"PK\x03\x04 not really")
    for target in (mine, afile, env):
        res = CliRunner().invoke(main, ["run", "s.yaml", "--no-figures", "--out", str(target)])
        assert res.exit_code == 2, res.output
        assert "neither empty nor an earlier ersim output" in res.stderr or "is a file" in res.stderr, res.stderr
    assert _hashes(mine) == before
    assert afile.read_bytes() == b"PK\x03\x04 not really"
    assert not [p for p in env.rglob(".tmp-*")]
    assert not (env / "outputs").exists()
    # an empty folder and an earlier run are fine
    (env / "empty").mkdir()
    assert CliRunner().invoke(main, ["run", "s.yaml", "--no-figures", "--out", str(env / "empty")]).exit_code == 0
    assert CliRunner().invoke(main, ["run", "s.yaml", "--no-figures", "--out", str(env / "empty")]).exit_code == 0


def test_stale_temporary_folders_are_removed_only_under_outputs(env: Path) -> None:
    """What runs killed long ago left under outputs/ goes; nothing is removed beside --out."""
    stale = env / "outputs" / "kill" / ".tmp-20200101T000000-abcdef-0123abcd"
    stale.mkdir(parents=True)
    (stale / "results.nc").write_bytes(b"half")
    fresh = env / "outputs" / "kill" / ".tmp-20990101T000000-abcdef-4567abcd"  # perhaps a run writing now
    fresh.mkdir()
    theirs = env / "mine" / ".tmp-notes-0123abcd"
    theirs.mkdir(parents=True)
    day_old = time.time() - 3 * 86400
    for p in (stale, theirs):
        os.utime(p, (day_old, day_old))
    assert CliRunner().invoke(main, ["run", "s.yaml", "--no-figures"]).exit_code == 0
    assert CliRunner().invoke(main, ["run", "s.yaml", "--no-figures", "--out", str(env / "mine" / "r")]).exit_code == 0
    assert not stale.exists()
    assert fresh.exists() and theirs.exists()
