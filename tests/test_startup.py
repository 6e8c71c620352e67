"""Start-up imports only what the command uses (sim/core/startup.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.core.startup import hide_dask

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
    if "dask" in sys.modules and sys.modules["dask"] is not None:
        pytest.skip("dask already imported in this test process")
    installed = importlib.util.find_spec("dask") is not None
    undo = hide_dask()
    try:
        assert importlib.util.find_spec("dask") is None
        with pytest.raises(ImportError):
            import dask  # noqa: F401
    finally:
        undo()
    assert (importlib.util.find_spec("dask") is not None) == installed
