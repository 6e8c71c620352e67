"""Today's numbers, pinned: the examples' deterministic runs and a seeded Monte Carlo.

tests/golden/numbers.json was written by tests/golden/make_numbers.py with the code as it
stood before the Monte Carlo kernel and the evaluation loop were rewritten (see that file's
docstring). Any later change that keeps the arithmetic must reproduce it to 1e-12 relative
(absolute 1e-9 t for values that are zero up to rounding).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from make_numbers import OUT, numbers

GOLDEN = json.loads(OUT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def now() -> dict[str, dict[str, list[float]]]:
    return numbers()


@pytest.mark.parametrize("scenario", sorted(GOLDEN))
def test_numbers_unchanged(now, scenario):
    want, got = GOLDEN[scenario], now[scenario]
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(np.array(got[key]), np.array(want[key]), rtol=1e-12, atol=1e-9, err_msg=f"{scenario}: {key}")


def test_golden_monte_carlo_varies():
    # the pinned Monte Carlo is not a constant: the samples differ from one another
    rec = GOLDEN["synthetic-40"]
    first3 = np.array(rec["mc_emissions_total_first3"]).reshape(3, -1)
    assert np.ptp(first3, axis=0).max() > 0
